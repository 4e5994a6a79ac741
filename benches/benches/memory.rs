//! Resident memory per event after sealing, peak RSS, and on-disk size
//! relative to the NDJSON input. Prints one line per figure.
//!
//! `cargo bench -p tally-benches --bench memory -- [EVENTS]` (default 10,000,000)

use tally::{Engine, NdjsonOptions};

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::builder().with_data_dir(dir.path()).open().expect("open");
    let (p, _) = engine.project_or_create("bench").expect("project");
    let base = tally_benches::rss_bytes().unwrap_or(0);
    let chunk = 1_000_000;
    let mut ndjson_bytes = 0u64;
    let t = std::time::Instant::now();
    let mut done = 0;
    while done < n {
        let k = chunk.min(n - done);
        let input = tally_benches::ndjson(k, 1000 + done as u64);
        ndjson_bytes += input.len() as u64;
        let s =
            p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).expect("ingest");
        assert_eq!(s.rejected, 0);
        done += k;
    }
    p.flush().expect("flush");
    let secs = t.elapsed().as_secs_f64();
    let rss = tally_benches::rss_bytes().unwrap_or(0);
    let peak = tally_benches::peak_rss_bytes().unwrap_or(0);
    let disk = tally_benches::dir_bytes(dir.path());
    println!("events                {n}");
    println!("ingest+generate       {secs:.1} s");
    println!("rss_after_seal        {} MiB", rss >> 20);
    println!("bytes_per_event       {:.1}", rss.saturating_sub(base) as f64 / n as f64);
    println!("peak_rss              {} MiB", peak >> 20);
    println!("ndjson_bytes          {ndjson_bytes}");
    println!("disk_bytes            {disk}");
    println!("disk_vs_ndjson        {:.1} %", 100.0 * disk as f64 / ndjson_bytes as f64);
    drop(engine);
}
