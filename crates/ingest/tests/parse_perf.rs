//! Parser throughput smoke check (ignored). Run optimised with
//! `CARGO_PROFILE_TEST_OPT_LEVEL=3 cargo test -p tally-ingest --test parse_perf -- --ignored --nocapture --test-threads=1`
//! (dependencies are already built at opt-level 2 by the workspace profile).
//! Measured on the shared 2-core dev box (busy): ~1.0 µs per ~400-byte event
//! (~1.0 M events/s per core, was ~1.3 µs), the same as NDJSON lines through
//! `parse_wrapped_at` ~1.0 µs; serde_json alone skipping the same bytes: ~0.3 µs.

use std::time::Instant;

use tally_ingest::{parse_event_at, EventLimits, EventParser, FlatBatch};

/// About 400 bytes, shaped like a typical web event.
fn sample(i: usize) -> String {
    format!(
        r#"{{"keen":{{"timestamp":"2024-06-12T14:35:{:02}.123Z"}},"event":"purchase","item":"golden gadget","price":{}.5,"quantity":{},"user":{{"id":"u{}","name":"Ada Lovelace","address":{{"city":"Oslo","country":"NO","zip":"0150"}},"premium":true}},"tags":["a","b","sale"],"referrer":"https://example.com/landing?utm_source=news","session":{{"id":"s-{}","started":"2024-06-12T14:30:00Z","pages":7}},"note":null}}"#,
        i % 60,
        i % 100,
        i % 7,
        i,
        i * 31
    )
}

#[test]
#[ignore = "timing; run in release"]
fn parse_throughput() {
    let events: Vec<String> = (0..10_000).map(sample).collect();
    let bytes: usize = events.iter().map(String::len).sum();
    let limits = EventLimits::default();
    let mut best = f64::MAX;
    // Reused, as a pipeline would: rolling back to an empty mark keeps capacity.
    let mut batch = FlatBatch::new();
    let empty = batch.mark();
    for _ in 0..20 {
        batch.truncate(empty);
        let t = Instant::now();
        let mut off = 0;
        for e in &events {
            parse_event_at(e.as_bytes(), off, &mut batch, &limits).expect("valid");
            off += e.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(batch.len(), events.len());
    }
    let per = best / events.len() as f64;
    println!(
        "{} events, {:.0} bytes avg: {:.3} µs/event, {:.2} M events/s, {:.0} MB/s",
        events.len(),
        bytes as f64 / events.len() as f64,
        per * 1e6,
        1.0 / per / 1e6,
        bytes as f64 / best / 1e6
    );
}

/// The same events as NDJSON lines `{"<collection>": {event}}`, parsed in
/// one pass by `EventParser::parse_wrapped_at`.
#[test]
#[ignore = "timing; run in release"]
fn wrapped_parse_throughput() {
    let lines: Vec<String> =
        (0..10_000).map(|i| format!(r#"{{"purchases":{}}}"#, sample(i))).collect();
    let limits = EventLimits::default();
    let mut parser = EventParser::new();
    let mut best = f64::MAX;
    let mut batch = FlatBatch::new();
    let empty = batch.mark();
    for _ in 0..20 {
        batch.truncate(empty);
        let t = Instant::now();
        let mut off = 0;
        for l in &lines {
            let name =
                parser.parse_wrapped_at(l.as_bytes(), off, &mut batch, &limits).expect("valid");
            assert_eq!(name, "purchases");
            off += l.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(batch.len(), lines.len());
    }
    let per = best / lines.len() as f64;
    println!("wrapped: {:.3} µs/line, {:.2} M lines/s", per * 1e6, 1.0 / per / 1e6);
}

/// serde_json skipping the same events without building anything: the floor.
#[test]
#[ignore = "timing; run in release"]
fn serde_floor() {
    let events: Vec<String> = (0..10_000).map(sample).collect();
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        for e in &events {
            let _: serde::de::IgnoredAny = serde_json::from_slice(e.as_bytes()).expect("valid");
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("serde IgnoredAny: {:.3} µs/event", best / events.len() as f64 * 1e6);
}
