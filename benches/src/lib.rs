//! Shared helpers for the Tally benchmarks: seeded NDJSON inputs and
//! resident-memory readings.
#![deny(missing_docs)]

use tally_ingest::{Generator, GeneratorConfig};

/// `n` generated NDJSON lines (seeded, deterministic), `{"<collection>": {event}}` each.
pub fn ndjson(n: usize, seed: u64) -> Vec<u8> {
    let mut g = Generator::new(GeneratorConfig { seed, ..Default::default() });
    let mut out = Vec::with_capacity(n * 420);
    g.write_lines(n, &mut out).expect("writing to a Vec cannot fail");
    out
}

/// The process's resident set size in bytes (Linux `/proc/self/status`), if known.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The process's peak resident set size in bytes (`VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Total bytes of all files under `dir`.
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                total += dir_bytes(&p);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

/// Calls `f` with `n` generated events (seeded) as bare JSON objects, the
/// generator's `{"<collection>": ...}` wrapper removed: the query
/// benchmark's single-collection workload.
pub fn for_each_bare_event(
    n: usize,
    seed: u64,
    mut f: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut g = Generator::new(GeneratorConfig { seed, ..Default::default() });
    let mut line = String::new();
    for _ in 0..n {
        line.clear();
        let c = g.next_line(&mut line);
        let trimmed = line.trim_end();
        // `{"<c>":` + event + `}`
        let inner = &trimmed[c.len() + 4..trimmed.len() - 1];
        f(inner)?;
    }
    Ok(())
}

/// The query benchmarks' data set: `n` bare generated events (seed 42) in
/// collection `events` of project `bench`, sealed, built once under
/// `target/tally-bench-data/` and reopened after.
pub fn query_dataset(n: usize) -> (tally::Engine, tally::Project) {
    use tally::{Engine, NdjsonOptions};
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/tally-bench-data/query-{n}-42"));
    let done = dir.join("COMPLETE");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Engine::builder().with_data_dir(&dir).open().expect("open");
        let (p, _) = engine.project_or_create("bench").expect("project");
        let opts = NdjsonOptions { collection: Some("events".into()), ..Default::default() };
        let mut buf = Vec::with_capacity(64 << 20);
        let flush = |buf: &mut Vec<u8>| {
            let s = p.ingest_ndjson(&buf[..], &opts, &mut |_| {}).expect("ingest");
            assert_eq!(s.rejected, 0);
            buf.clear();
        };
        for_each_bare_event(n, 42, |line| {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            if buf.len() > 60 << 20 {
                flush(&mut buf);
            }
            Ok(())
        })
        .expect("generate");
        flush(&mut buf);
        p.flush().expect("flush");
        drop(p);
        drop(engine);
        std::fs::write(&done, b"").expect("mark complete");
    }
    let engine = Engine::builder().with_data_dir(&dir).open().expect("reopen");
    let p = engine.project("bench").expect("project");
    (engine, p)
}
