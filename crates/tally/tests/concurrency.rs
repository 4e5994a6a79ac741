//! Writers and readers at once: snapshots never go backwards, never show a
//! partial batch, and end with every acknowledged event; no deadlock with
//! seals running while NDJSON ingest parses in parallel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tally::{Engine, FixedClock, NdjsonOptions};

#[test]
fn readers_see_monotonic_whole_batches_while_writers_seal() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(1_718_202_920_123))
        .with_segment_rows(500)
        .open()
        .unwrap();
    let (p, _) = e.project_or_create("p").unwrap();
    p.record("c", br#"{"w": -1}"#).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    const BATCH: usize = 7;
    std::thread::scope(|s| {
        for w in 0..2 {
            let p = p.clone();
            s.spawn(move || {
                for b in 0..60 {
                    let events: Vec<String> = (0..BATCH)
                        .map(|i| format!(r#"{{"w": {w}, "b": {b}, "i": {i}}}"#))
                        .collect();
                    let body = format!(r#"{{"c": [{}]}}"#, events.join(","));
                    assert_eq!(p.record_batch(body.as_bytes()).unwrap().failed(), 0);
                }
            });
        }
        // NDJSON ingest into another collection (parallel parse + seals).
        let p2 = p.clone();
        s.spawn(move || {
            let mut input = Vec::new();
            for i in 0..3_000 {
                input.extend_from_slice(format!("{{\"d\": {{\"i\": {i}}}}}\n").as_bytes());
            }
            let s = p2.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
            assert_eq!(s.accepted, 3_000);
        });
        for _ in 0..2 {
            let p = p.clone();
            let done = done.clone();
            s.spawn(move || {
                let mut last = 0;
                while !done.load(Ordering::Relaxed) {
                    let rows = p.snapshot("c").unwrap().rows();
                    assert!(rows >= last, "snapshots went backwards: {rows} < {last}");
                    assert_eq!((rows - 1) % BATCH, 0, "a partial batch is visible: {rows}");
                    last = rows;
                }
            });
        }
        // Stop the readers once the writers are done.
        let p = p.clone();
        let done = done.clone();
        s.spawn(move || {
            while p.snapshot("c").unwrap().rows() < 1 + 2 * 60 * BATCH
                || p.snapshot("d").map(|s| s.rows()).unwrap_or(0) < 3_000
            {
                std::thread::yield_now();
            }
            done.store(true, Ordering::Relaxed);
        });
    });
    assert_eq!(p.snapshot("c").unwrap().rows(), 1 + 2 * 60 * BATCH);
    assert!(p.collection("c").unwrap().sealed_segments() >= 1);
    drop(p);
    drop(e);
    let e = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    let p = e.project("p").unwrap();
    assert_eq!(p.snapshot("c").unwrap().rows(), 1 + 2 * 60 * BATCH);
    assert_eq!(p.snapshot("d").unwrap().rows(), 3_000);
}
