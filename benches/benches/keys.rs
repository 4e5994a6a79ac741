//! What authorisation and filter injection add to query time (issue
//! target: ≤ 5 %). Each query of `benches/peer/queries.jsonl` runs twice
//! over the same data: as the master key with the access key's filter
//! written out (`written_out`), and as an access key whose definition
//! carries that filter (`access_key`: key digest, lookup, the §8.2 check,
//! query copy and injection, then the same work).
//!
//! `cargo bench -p tally-benches --bench keys`
//! (`TALLY_BENCH_EVENTS`, default 1,000,000 events).

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use tally::ApiKey;

const QUERIES: &str = include_str!("../peer/queries.jsonl");
const NAMES: &str = include_str!("../peer/query_names.txt");
/// 2024-04-01T00:00:00Z, after every generated event.
const NOW_MS: i64 = 1_711_929_600_000;

fn keys(c: &mut Criterion) {
    let n: usize =
        std::env::var("TALLY_BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let (_engine, p) = tally_benches::query_dataset(n);
    let filter = json!({"property_name": "user.plan", "operator": "eq", "property_value": "pro"});
    let key = p
        .create_access_key(&json!({"name": "bench", "permitted": ["queries"],
                                   "options": {"queries": {"filters": [filter.clone()]}}}))
        .expect("key");
    let tenant = p.with_key(&ApiKey::from_text(key["key"].as_str().unwrap())).expect("keyed");
    let master = p.as_operator();
    let mut g = c.benchmark_group(format!("keys/events={n}"));
    g.sample_size(20);
    for (name, line) in NAMES.split_whitespace().zip(QUERIES.lines()) {
        let body: Value = serde_json::from_str(line).expect("json");
        let mut written = body.clone();
        written["filters"].as_array_mut().map(|f| f.push(filter.clone())).unwrap_or_else(|| {
            written["filters"] = json!([filter.clone()]);
        });
        let q = tally::parse_query(&body).expect("valid query");
        let qw = tally::parse_query(&written).expect("valid query");
        // Same answer both ways (checked once, outside the timer).
        assert_eq!(
            tenant.query_at(&q, NOW_MS).expect("keyed"),
            master.query_at(&qw, NOW_MS).expect("written out"),
            "{name}"
        );
        g.bench_function(format!("{name}/written_out"), |b| {
            b.iter(|| master.query_at(&qw, NOW_MS).expect("query"))
        });
        g.bench_function(format!("{name}/access_key"), |b| {
            b.iter(|| tenant.query_at(&q, NOW_MS).expect("query"))
        });
    }
    g.finish();
    p.delete_access_key(key["key"].as_str().unwrap()).expect("clean up");
}

criterion_group!(benches, keys);
criterion_main!(benches);
