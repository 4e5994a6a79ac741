//! Times the ingest stages separately: parse only, ingest buffered,
//! ingest synced, flush. `cargo run --release -p tally-benches --example stages -- [N]`

use std::time::Instant;

use rayon::prelude::*;
use tally::{Durability, Engine, NdjsonOptions};
use tally_ingest::{EventLimits, EventParser, FlatBatch};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let input = tally_benches::ndjson(n, 42);
    println!("input: {} events, {} MB", n, input.len() >> 20);
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();

    let t = Instant::now();
    let limits = EventLimits::default();
    let total: usize = lines
        .par_chunks(10_000)
        .map(|chunk| {
            let mut p = EventParser::new();
            let mut b = FlatBatch::new();
            for l in chunk {
                let v: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
                drop(v);
                // lines are {"coll": {event}}: skip to the inner object
                let start = l.iter().position(|&c| c == b':').unwrap() + 1;
                let inner = &l[start..l.len() - 1];
                p.parse_at(inner, 0, &mut b, &limits).unwrap();
            }
            b.len()
        })
        .sum();
    let parse = t.elapsed().as_secs_f64();
    println!("parse only (parallel): {:.2} s = {:.0}/s ({total})", parse, n as f64 / parse);

    for d in [Durability::Buffered, Durability::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::builder().with_data_dir(dir.path()).with_durability(d).open().unwrap();
        let (p, _) = e.project_or_create("b").unwrap();
        let t = Instant::now();
        let s = p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
        let ing = t.elapsed().as_secs_f64();
        let t = Instant::now();
        p.flush().unwrap();
        let fl = t.elapsed().as_secs_f64();
        println!(
            "{d:?}: ingest {:.2} s, flush {:.2} s, total {:.0}/s ({} accepted)",
            ing,
            fl,
            n as f64 / (ing + fl),
            s.accepted
        );
    }
}
