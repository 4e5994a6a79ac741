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

/// Deletes while writers write (RELIABILITY W5): writers record events
/// tagged `doomed` or `kept`, a deleter deletes the doomed ones and, once,
/// a whole second collection that a writer keeps writing to. Every write
/// is acknowledged; no kept event is ever lost; no doomed event written
/// before the last delete survives it; the second collection holds exactly
/// the events acknowledged after its delete.
#[test]
fn deletes_run_beside_writers_and_touch_only_what_they_select() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(1_718_202_920_123))
        .with_segment_rows(64)
        .open()
        .unwrap();
    let (p, _) = e.project_or_create("p").unwrap();
    p.record("other", br#"{"n": -1}"#).unwrap();
    p.record("c", br#"{"w": -1, "doomed": false}"#).unwrap();
    let doomed = serde_json::json!({"filters": [{"property_name": "doomed", "operator": "eq", "property_value": true}]});
    let cut = std::sync::Mutex::new((0u64, 0u64));
    let other_written = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for w in 0..2 {
            let p = p.clone();
            s.spawn(move || {
                for i in 0..300 {
                    let ev = format!(r#"{{"w": {w}, "i": {i}, "doomed": {}}}"#, i % 3 == 0);
                    p.record("c", ev.as_bytes()).unwrap();
                }
            });
        }
        let p2 = p.clone();
        let written = &other_written;
        s.spawn(move || {
            for n in 0..400 {
                p2.record("other", format!(r#"{{"n": {n}}}"#).as_bytes()).unwrap();
                written.store(n + 1, Ordering::SeqCst);
            }
        });
        for k in 0..10 {
            p.delete_events("c", &doomed).unwrap();
            if k == 5 {
                let before = other_written.load(Ordering::SeqCst) as u64;
                p.delete_collection("other").unwrap();
                let after = other_written.load(Ordering::SeqCst) as u64;
                *cut.lock().unwrap() = (before, after);
            }
            std::thread::yield_now();
        }
    });
    // Writers are done: one last delete takes every doomed event.
    p.delete_events("c", &doomed).unwrap();
    let count = |c: &str, filters: serde_json::Value| {
        let q = serde_json::json!({"analysis_type": "count", "event_collection": c,
            "timeframe": "this_1_days", "filters": filters});
        p.query_json_at(&q, 1_718_202_920_123).unwrap().into_json().unwrap()["result"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count("c", serde_json::json!([])), 2 * 200 + 1, "every kept event, no doomed one");
    let other = count("other", serde_json::json!([]));
    let (before, after) = *cut.lock().unwrap();
    // Events acknowledged before the delete began are gone; those
    // acknowledged after it returned are all there.
    assert!((400 - after..=400 - before).contains(&other), "{other}, cut {before}..{after}");
    drop(p);
    drop(e);
    let e = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(1_718_202_920_123))
        .open()
        .unwrap();
    let p = e.project("p").unwrap();
    let q = serde_json::json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_1_days"});
    assert_eq!(p.query_json_at(&q, 1_718_202_920_123).unwrap().into_json().unwrap()["result"], 401);
}
