//! Timings of the executor's hot paths on generated pageviews (ignored:
//! run with `cargo test -p tally-query --release --test exec_perf -- --ignored --nocapture`).

mod exec_util;

use std::sync::Arc;
use std::time::Instant;

use exec_util::*;
use serde_json::json;
use tally_ingest::generator::{Collection as GenCollection, Generator, GeneratorConfig};
use tally_ingest::{parse_event, Collection, CollectionOptions, FixedClock, FlatBatch, SimStorage};
use tally_query::{AnalysisKind as K, CmpOp, Filter, TimeRange};

fn build(n: usize) -> Arc<tally_ingest::Snapshot> {
    let start = DAY0;
    let mut g = Generator::new(GeneratorConfig {
        seed: 7,
        start_ms: start,
        span_ms: 30 * DAY,
        users: 1_000_000,
        ..GeneratorConfig::default()
    });
    let (c, _) = Collection::open(
        Arc::new(SimStorage::new()),
        "/p/c".into(),
        "c",
        Arc::new(FixedClock::at(start + 40 * DAY)),
        CollectionOptions { segment_rows: 1 << 20, ..Default::default() },
    )
    .unwrap();
    let mut line = String::new();
    let mut done = 0;
    while done < n {
        let k = (n - done).min(50_000);
        let mut b = FlatBatch::new();
        let mut raw = Vec::new();
        for _ in 0..k {
            line.clear();
            g.next_event_of(GenCollection::Pageviews, &mut line);
            parse_event(line.as_bytes(), &mut b, &Default::default()).unwrap();
            let s = raw.len();
            raw.extend_from_slice(line.as_bytes());
            b.events.last_mut().unwrap().raw = s..raw.len();
        }
        let idx: Vec<usize> = (0..k).collect();
        c.append(&b, &idx).unwrap();
        done += k;
    }
    c.snapshot()
}

fn time(name: &str, f: impl Fn() -> serde_json::Value) {
    if std::env::var("ONLY").is_ok_and(|o| !name.contains(o.as_str())) {
        return;
    }
    let _ = f();
    let t = Instant::now();
    let runs: usize = std::env::var("RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut v = serde_json::Value::Null;
    for _ in 0..runs {
        v = f();
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    let s = v.to_string();
    println!("{name:40} {ms:8.2} ms  {}", &s[..s.len().min(100)]);
}

#[test]
#[ignore]
fn hot_paths() {
    let n: usize = std::env::var("ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000_000);
    let t = Instant::now();
    let snap = build(n);
    println!("built {} rows in {} segments, {:?}", snap.rows(), snap.segments().len(), t.elapsed());
    let r = TimeRange { start_ms: DAY0, end_ms: DAY0 + 30 * DAY };
    let mut c = common(30);
    let count = an(K::Count, None);
    time("count", || run1(Some(&snap), &count, &c, r, None));
    c.filters = vec![cmp("device.type", CmpOp::Eq, json!("mobile"))];
    time("count eq", || run1(Some(&snap), &count, &c, r, None));
    c.filters = vec![Filter::Exists { property: "referrer.domain".into(), exists: true }];
    time("count exists", || run1(Some(&snap), &count, &c, r, None));
    c.filters = vec![cmp("device.type", CmpOp::Eq, json!("mobile"))];
    time("sum session_ms eq", || run1(Some(&snap), &an(K::Sum, Some("session_ms")), &c, r, None));
    c.filters = Vec::new();
    time("sum session_ms", || run1(Some(&snap), &an(K::Sum, Some("session_ms")), &c, r, None));
    time("median session_ms", || {
        run1(Some(&snap), &an(K::Median, Some("session_ms")), &c, r, None)
    });
    time("count_unique user.id", || {
        run1(Some(&snap), &an(K::CountUnique, Some("user.id")), &c, r, None)
    });
    let half = TimeRange { start_ms: DAY0, end_ms: DAY0 + 15 * DAY };
    time("count_unique user.id half", || {
        run1(Some(&snap), &an(K::CountUnique, Some("user.id")), &c, half, None)
    });
    c.group_by = vec![gb("referrer.domain")];
    time("count group_by referrer", || run1(Some(&snap), &count, &c, r, None));
    time("sum group_by referrer", || {
        run1(Some(&snap), &an(K::Sum, Some("session_ms")), &c, r, None)
    });
    let days = daily(30);
    time("count daily group_by referrer", || run1(Some(&snap), &count, &c, r, Some(&days)));
}
