//! Times the ingest stages separately: parse only, ingest buffered,
//! ingest synced, flush. `cargo run --release -p tally-benches --example stages -- [N]`
//!
//! `-- N inner|split|wrapped|none` runs only that single-threaded parse (or
//! nothing after generating the input), for `perf stat` comparisons on a
//! busy machine; `-- N append` stops after the append-only timing.

use std::time::Instant;

use rayon::prelude::*;
use serde_json::value::RawValue;
use tally::{Durability, Engine, NdjsonOptions};
use tally_ingest::{EventLimits, EventParser, FlatBatch};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let input = tally_benches::ndjson(n, 42);
    println!("input: {} events, {} MB", n, input.len() >> 20);
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();

    let limits = EventLimits::default();
    let mode = std::env::args().nth(2);
    let only = mode.clone().filter(|a| a != "append" && a != "ingest");
    if let Some(only) = only {
        single_thread(&lines, &limits, Some(&only));
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("append") {
        append_only(&lines);
        return;
    }
    if mode.as_deref() != Some("ingest") {
        stages(&lines, &limits, n);
    }
    ingest_timed(&input, n);
}

/// The parse and append stages, timed separately.
fn stages(lines: &[&[u8]], limits: &EventLimits, n: usize) {
    single_thread(lines, limits, None);

    let t = Instant::now();
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
                p.parse_at(inner, 0, &mut b, limits).unwrap();
            }
            b.len()
        })
        .sum();
    let parse = t.elapsed().as_secs_f64();
    println!("parse only (parallel): {:.2} s = {:.0}/s ({total})", parse, n as f64 / parse);

    append_only(lines);
}

/// Whole ingests (buffered, then synced): wall and CPU time of the ingest
/// and of the flush that seals it.
fn ingest_timed(input: &[u8], n: usize) {
    for d in [Durability::Buffered, Durability::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::builder().with_data_dir(dir.path()).with_durability(d).open().unwrap();
        let (p, _) = e.project_or_create("b").unwrap();
        let (t, c0) = (Instant::now(), cpu_s());
        let s = p.ingest_ndjson(input, &NdjsonOptions::default(), &mut |_| {}).unwrap();
        let (ing, c1) = (t.elapsed().as_secs_f64(), cpu_s());
        let t = Instant::now();
        p.flush().unwrap();
        let (fl, c2) = (t.elapsed().as_secs_f64(), cpu_s());
        println!(
            "{d:?}: ingest {:.2} s ({:.2} cpu-s), flush {:.2} s ({:.2} cpu-s), total {:.0}/s ({} accepted)",
            ing,
            c1 - c0,
            fl,
            c2 - c1,
            n as f64 / (ing + fl),
            s.accepted
        );
    }
}

/// CPU seconds (user + system) used by this process so far, from
/// `/proc/self/stat` (0 where it cannot be read).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime and stime are fields 14 and 15 (11 and 12 after the name), in
    // clock ticks of USER_HZ, which is 100 on Linux.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// Best of several single-threaded runs over (up to) the first 200,000
/// lines: events per second on one core.
fn per_core(lines: &[&[u8]], mut run: impl FnMut(&[u8], &mut FlatBatch)) -> f64 {
    let lines = &lines[..lines.len().min(200_000)];
    let mut best = f64::MAX;
    let mut b = FlatBatch::new();
    for _ in 0..5 {
        let t = Instant::now();
        for chunk in lines.chunks(10_000) {
            b = FlatBatch::new();
            for l in chunk {
                run(l, &mut b);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    assert!(!b.is_empty());
    lines.len() as f64 / best
}

fn single_thread(lines: &[&[u8]], limits: &EventLimits, only: Option<&str>) {
    let run = |stage: &str| only.is_none_or(|o| o == stage);
    let mut p = EventParser::new();
    if run("inner") {
        let inner = per_core(lines, |l, b| {
            let start = l.iter().position(|&c| c == b':').unwrap() + 1;
            p.parse_at(&l[start..l.len() - 1], 0, b, limits).unwrap();
        });
        println!("parse inner only (1 thread): {inner:.0}/s");
    }
    if run("ignored") {
        // The floor of any serde_json pass: validate and skip every token.
        let floor = per_core(lines, |l, b| {
            let _: serde::de::IgnoredAny = serde_json::from_slice(l).unwrap();
            if b.is_empty() {
                p.parse_wrapped_at(l, 0, b, limits).unwrap(); // per_core checks b
            }
        });
        println!("serde_json IgnoredAny (1 thread): {floor:.0}/s");
    }
    if run("split") {
        // What ingest_ndjson did before the one-pass parser: split the
        // wrapper with a RawValue, then parse the inner event.
        let split = per_core(lines, |l, b| {
            let m: std::collections::BTreeMap<&str, &RawValue> = serde_json::from_slice(l).unwrap();
            let (_, raw) = m.into_iter().next().unwrap();
            p.parse_at(raw.get().as_bytes(), 0, b, limits).unwrap();
        });
        println!("parse wrapped via RawValue split (1 thread): {split:.0}/s");
    }
    if run("wrapped") {
        let mut off = 0;
        let wrapped = per_core(lines, |l, b| {
            p.parse_wrapped_at(l, off, b, limits).unwrap();
            off += l.len() + 1;
        });
        println!("parse wrapped one pass (1 thread): {wrapped:.0}/s");
        let mut b = FlatBatch::new();
        for (i, l) in lines.iter().take(10_000).enumerate() {
            p.parse_wrapped_at(l, i, &mut b, limits).unwrap();
        }
        println!("  arena bytes per event: {}", b.arena.len() / b.len().max(1));
    }
}

/// Times `Collection::append` alone on pre-parsed batches (single thread).
#[allow(dead_code)]
pub fn append_only(lines: &[&[u8]]) {
    use std::sync::Arc;
    use tally_ingest::{AppendPart, Collection, CollectionOptions, StdStorage, SystemClock};
    let dir = tempfile::tempdir().unwrap();
    let opts = CollectionOptions {
        durability: Durability::Buffered,
        segment_rows: usize::MAX,
        ..Default::default()
    };
    let (c, _) = Collection::open(
        Arc::new(StdStorage::new()),
        dir.path().join("c"),
        "c",
        Arc::new(SystemClock),
        opts,
    )
    .unwrap();
    let limits = EventLimits::default();
    let mut batches = Vec::new();
    for chunk in lines.chunks(10_000) {
        let mut p = EventParser::new();
        let mut b = FlatBatch::new();
        let mut raw = Vec::new();
        for l in chunk {
            let start = l.iter().position(|&c| c == b':').unwrap() + 1;
            let inner = &l[start..l.len() - 1];
            p.parse_at(inner, raw.len(), &mut b, &limits).unwrap();
            raw.extend_from_slice(inner);
        }
        batches.push((b, raw));
    }
    let t = Instant::now();
    let cpu0 = thread_cpu_secs();
    for (b, _) in &batches {
        let idx: Vec<usize> = (0..b.len()).collect();
        c.append(b, &idx).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = thread_cpu_secs() - cpu0;
    println!(
        "append only (1 thread, one collection): {:.2} s wall, {:.2} s cpu = {:.0}/cpu-s",
        secs,
        cpu,
        lines.len() as f64 / cpu
    );

    // What ingest_ndjson does: ids resolved ahead and the WAL part encoded
    // (here on this thread, timed apart).
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = Collection::open(
        Arc::new(StdStorage::new()),
        dir.path().join("c"),
        "c",
        Arc::new(SystemClock),
        CollectionOptions {
            durability: Durability::Buffered,
            segment_rows: usize::MAX,
            ..Default::default()
        },
    )
    .unwrap();
    let (mut resolve_cpu, mut append_cpu) = (0.0, 0.0);
    let mut hits = (0, 0);
    for (b, _) in &batches {
        let idx: Vec<usize> = (0..b.len()).collect();
        let cpu0 = thread_cpu_secs();
        let res = c.resolve(b);
        let mut wal = Vec::new();
        tally_ingest::encode_wal_part(b, &idx, &mut wal);
        let cpu1 = thread_cpu_secs();
        let part = AppendPart { batch: b, wal: &wal, events: &idx, resolved: Some(&res) };
        c.append_resolved(&[part]).unwrap();
        resolve_cpu += cpu1 - cpu0;
        append_cpu += thread_cpu_secs() - cpu1;
        let (k, l) = res.hits();
        hits = (hits.0 + k, hits.1 + l);
    }
    println!(
        "resolve (parallel phase): {resolve_cpu:.2} s cpu, {} of {} values known; \
         append resolved+encoded (serial): {append_cpu:.2} s cpu = {:.0}/cpu-s",
        hits.0,
        hits.1,
        lines.len() as f64 / append_cpu
    );
}

/// This thread's CPU time (user + system) from /proc, in seconds.
fn thread_cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}
