//! Times the seal's encoders alone on the segments of an ingested sample:
//! `cargo run --release -p tally-benches --example encode -- [N] [REPEATS]`.
//! Prints the best wall time of `encode_parquet` and `encode_sidecar` over
//! all collections, and the bytes they produce.

use std::time::Instant;

use tally::{Durability, Engine, NdjsonOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let input = tally_benches::ndjson(n, 42);
    let dir = tempfile::tempdir().expect("temp dir");
    let e = Engine::builder()
        .with_data_dir(dir.path())
        .with_durability(Durability::Buffered)
        .open()
        .expect("open");
    let (p, _) = e.project_or_create("b").expect("project");
    p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).expect("ingest");
    p.flush().expect("flush");
    let snaps: Vec<_> = p.collection_names().iter().filter_map(|c| p.snapshot(c)).collect();
    let (mut best_pq, mut best_idx) = (f64::MAX, f64::MAX);
    let (mut pq_bytes, mut idx_bytes) = (0, 0);
    for _ in 0..repeats {
        let t = Instant::now();
        pq_bytes = 0;
        for s in &snaps {
            for seg in s.segments() {
                pq_bytes +=
                    tally_ingest::encode_parquet(seg, s.schema(), s.dicts()).expect("encode").len();
            }
        }
        best_pq = best_pq.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        idx_bytes = 0;
        for s in &snaps {
            for seg in s.segments() {
                idx_bytes += tally_ingest::encode_sidecar(seg).len();
            }
        }
        best_idx = best_idx.min(t.elapsed().as_secs_f64());
    }
    println!(
        "input {} MB; parquet {:.3} s, {} bytes ({:.1} %); sidecar {:.3} s, {} bytes ({:.1} %)",
        input.len() >> 20,
        best_pq,
        pq_bytes,
        100.0 * pq_bytes as f64 / input.len() as f64,
        best_idx,
        idx_bytes,
        100.0 * idx_bytes as f64 / input.len() as f64
    );
}
