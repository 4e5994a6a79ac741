//! Resident memory per event after sealing, peak RSS, and on-disk size
//! relative to the NDJSON input. Prints one line per figure.
//!
//! `cargo bench -p tally-benches --bench memory -- [EVENTS]` (default 10,000,000)
//!
//! The binary uses jemalloc and re-runs itself with
//! `_RJEM_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0`, so freed pages go
//! back to the OS at once and "resident after seal" is the engine's live
//! memory rather than allocator caches (glibc malloc keeps far more: about
//! 2× at 10M events).

use tally::{Engine, NdjsonOptions};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    const CONF: &str = "_RJEM_MALLOC_CONF";
    if std::env::var_os(CONF).is_none() {
        let exe = std::env::current_exe().expect("own path");
        let status = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(CONF, "dirty_decay_ms:0,muzzy_decay_ms:0")
            .status()
            .expect("re-run with the allocator settings");
        std::process::exit(status.code().unwrap_or(1));
    }
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
    // Where the resident bytes are: segments (arrays, bitmaps, indexes) and dictionaries.
    let mut seg_bytes = 0usize;
    let mut dict_bytes = 0usize;
    let mut by_type = std::collections::BTreeMap::<String, usize>::new();
    for c in p.collection_names() {
        let snap = p.snapshot(&c).expect("collection exists");
        for seg in snap.segments() {
            seg_bytes += seg.memory_bytes();
            for col in seg.columns() {
                let b = col.data.array().map_or(0, arrow_array::Array::get_array_memory_size)
                    + col.presence.serialized_size()
                    + col.index.as_ref().map_or(0, |i| i.memory_bytes());
                *by_type.entry(format!("{}", col.key.ty)).or_default() += b;
            }
        }
        dict_bytes += snap.dicts().memory_bytes();
    }
    println!("segments_bytes_per_event {:.1}", seg_bytes as f64 / n as f64);
    println!("dicts_bytes_per_event    {:.1}", dict_bytes as f64 / n as f64);
    for (t, b) in by_type {
        println!("  {t:<8} columns       {:.1} bytes/event", b as f64 / n as f64);
    }
    drop(engine);
}
