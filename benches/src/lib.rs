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
