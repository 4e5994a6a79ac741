//! Query latency at 10M events (issue targets): the queries of
//! `benches/peer/queries.jsonl` (the same ones the DuckDB peer runs) over
//! one collection of generated events, sealed into segments.
//!
//! `cargo bench -p tally-benches --bench query`
//!
//! The data set is built once into `target/tally-bench-data/` and reused;
//! `TALLY_BENCH_EVENTS` changes its size (default 10,000,000).

use criterion::{criterion_group, criterion_main, Criterion};

const QUERIES: &str = include_str!("../peer/queries.jsonl");
const NAMES: &str = include_str!("../peer/query_names.txt");
/// 2024-04-01T00:00:00Z, after every generated event.
const NOW_MS: i64 = 1_711_929_600_000;

fn queries(c: &mut Criterion) {
    let n: usize =
        std::env::var("TALLY_BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let (_engine, p) = tally_benches::query_dataset(n);
    assert_eq!(p.snapshot("events").map(|s| s.rows()), Some(n));
    let mut g = c.benchmark_group(format!("query/events={n}"));
    g.sample_size(30);
    for (name, line) in NAMES.split_whitespace().zip(QUERIES.lines()) {
        let q = tally::parse_query_str(line).expect("valid query");
        // Run once outside the timer (and check it answers).
        p.query_at(&q, NOW_MS).expect("query runs");
        g.bench_function(name, |b| b.iter(|| p.query_at(&q, NOW_MS).expect("query")));
    }
    g.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
