//! The engine on the simulated storage: what survives each crash model
//! under each durability mode (the documented promise, not a stronger one).

use std::sync::Arc;

use tally::{Durability, Engine, EngineBuilder, FixedClock};
use tally_ingest::{CrashModel, FaultKind, Persistence, SimStorage, Storage};

const NOW: i64 = 1_718_202_920_123;

/// An engine builder over `storage` with the tests' data dir and clock.
fn builder(storage: &SimStorage) -> EngineBuilder {
    let s: Arc<dyn Storage> = Arc::new(storage.clone());
    Engine::builder().with_data_dir("/data").with_storage(s).with_clock(FixedClock::at(NOW))
}

/// The faults every storage call is failed with in turn, one run each.
const FAULTS: [(FaultKind, Persistence); 3] = [
    (FaultKind::Eio, Persistence::Once),
    (FaultKind::ShortWrite, Persistence::Once),
    (FaultKind::Enospc, Persistence::Always),
];

fn open(storage: &SimStorage, d: Durability) -> Engine {
    builder(storage).with_durability(d).open().unwrap()
}

fn rows(e: &Engine) -> usize {
    e.project("p").unwrap().snapshot("c").map(|s| s.rows()).unwrap_or(0)
}

#[test]
fn sync_mode_keeps_every_acknowledged_event_under_every_crash_model() {
    let sim = SimStorage::new();
    {
        let e = open(&sim, Durability::Sync);
        let (p, _) = e.project_or_create("p").unwrap();
        for i in 0..20 {
            p.record("c", format!(r#"{{"i": {i}}}"#).as_bytes()).unwrap();
        }
        p.flush().unwrap();
        for i in 20..30 {
            p.record("c", format!(r#"{{"i": {i}}}"#).as_bytes()).unwrap();
        }
        std::mem::forget(e); // a crash: no clean close
    }
    for model in CrashModel::ALL {
        for seed in 0..4 {
            let image = sim.crash_image(model, seed);
            assert_eq!(rows(&open(&image, Durability::Sync)), 30, "{model:?} seed {seed}");
        }
    }
}

#[test]
fn buffered_mode_loses_at_most_the_unsynced_tail_on_power_loss() {
    let sim = SimStorage::new();
    {
        let e = open(&sim, Durability::Buffered);
        let (p, _) = e.project_or_create("p").unwrap();
        for i in 0..20 {
            p.record("c", format!(r#"{{"i": {i}}}"#).as_bytes()).unwrap();
        }
        p.collection("c").unwrap().sync().unwrap();
        for i in 20..25 {
            p.record("c", format!(r#"{{"i": {i}}}"#).as_bytes()).unwrap();
        }
        std::mem::forget(e);
    }
    // The OS survives a process kill: everything acknowledged is there.
    assert_eq!(rows(&open(&sim.crash_image(CrashModel::ProcessKill, 0), Durability::Sync)), 25);
    // A power loss keeps what was synced, and maybe some of the rest.
    for seed in 0..4 {
        let n = rows(&open(&sim.crash_image(CrashModel::PowerLossClean, seed), Durability::Sync));
        assert_eq!(n, 20, "seed {seed}");
        let n = rows(&open(&sim.crash_image(CrashModel::PowerLossTorn, seed), Durability::Sync));
        assert!((20..=25).contains(&n), "seed {seed}: {n}");
    }
}

/// Regression: a project held an `Arc` of its engine, which owns the
/// project: a cycle, so dropping the engine never closed a collection.
#[test]
fn a_clean_close_makes_a_buffered_log_durable() {
    let sim = SimStorage::new();
    {
        let e = open(&sim, Durability::Buffered);
        let (p, _) = e.project_or_create("p").unwrap();
        for i in 0..7 {
            p.record("c", format!(r#"{{"i": {i}}}"#).as_bytes()).unwrap();
        }
    }
    assert_eq!(rows(&open(&sim.crash_image(CrashModel::PowerLossClean, 1), Durability::Sync)), 7);
}

/// Every storage call of a small workload, failed in turn (EIO once, EIO
/// from then on, ENOSPC, short write): the call that hits the fault gets a
/// typed error (never a panic), a failed sync poisons the collection, and
/// reopening the durable image recovers every acknowledged event.
#[test]
fn io_errors_at_every_call_are_typed_and_lose_nothing_acknowledged() {
    // Probe: how many storage calls does the workload make?
    let probe = SimStorage::new();
    let workload = |sim: &SimStorage| -> Vec<i64> {
        let mut acked = Vec::new();
        let Ok(e) = std::panic::catch_unwind(|| {
            let s: Arc<dyn Storage> = Arc::new(sim.clone());
            Engine::builder()
                .with_data_dir("/data")
                .with_storage(s)
                .with_clock(FixedClock::at(NOW))
                .with_segment_rows(4)
                .open()
        })
        .expect("opening never panics") else {
            return acked;
        };
        let Ok((p, _)) = e.project_or_create("p") else { return acked };
        for i in 0..10i64 {
            if p.record("c", format!(r#"{{"i": {i}}}"#).as_bytes()).is_ok() {
                acked.push(i);
            }
        }
        let _ = p.flush();
        std::mem::forget(e);
        acked
    };
    assert_eq!(workload(&probe).len(), 10);
    let calls = probe.op_count();
    assert!(calls > 50, "the workload makes many storage calls ({calls})");
    let kinds = [
        (FaultKind::Eio, Persistence::Once),
        (FaultKind::Eio, Persistence::Always),
        (FaultKind::Enospc, Persistence::Always),
        (FaultKind::ShortWrite, Persistence::Once),
    ];
    let mut faults_seen = 0;
    for n in 0..calls {
        for (kind, persistence) in kinds {
            let sim = SimStorage::new().fail_at(n, kind, persistence);
            let acked = std::panic::catch_unwind(|| workload(&sim))
                .unwrap_or_else(|_| panic!("panic with {kind:?}/{persistence:?} at call {n}"));
            if acked.len() < 10 {
                faults_seen += 1;
            }
            // Power loss right after: only durable bytes count.
            let image = sim.crash_image(CrashModel::PowerLossClean, n);
            let s: Arc<dyn Storage> = Arc::new(image);
            let reopened = Engine::builder()
                .with_data_dir("/data")
                .with_storage(s)
                .with_clock(FixedClock::at(NOW))
                .open();
            let Ok(e) = reopened else {
                assert!(
                    acked.is_empty(),
                    "{kind:?} at call {n}: acknowledged events but cannot reopen"
                );
                continue;
            };
            let got =
                e.project("p").ok().and_then(|p| p.snapshot("c")).map(|s| s.rows()).unwrap_or(0);
            assert!(
                got >= acked.len() && got <= 10,
                "{kind:?}/{persistence:?} at call {n}: {got} events after reopen, {} acknowledged",
                acked.len()
            );
        }
    }
    assert!(faults_seen > 0);
}

/// NDJSON naming three collections: each block's collections are appended
/// side by side (one WAL record each, resolved ids, payload v3). Every event
/// of a call that returned survives every crash model, and every storage
/// call failed in turn loses nothing acknowledged.
#[test]
fn ndjson_over_parallel_collections_survives_crashes_and_io_errors() {
    use tally::NdjsonOptions;
    const COLLS: [&str; 3] = ["a", "b", "c"];
    let input = |call: usize| {
        let mut s = String::new();
        for i in 0..30 {
            let c = COLLS[(i * 7 + call) % 3];
            s.push_str(&format!(
                "{{\"{c}\": {{\"call\": {call}, \"i\": {i}, \"s\": \"v{}\"}}}}\n",
                i % 4
            ));
        }
        s
    };
    // Returns the events acknowledged per collection.
    let workload = |sim: &SimStorage| -> [usize; 3] {
        let mut acked = [0; 3];
        let Ok(Ok(e)) = std::panic::catch_unwind(|| {
            let s: Arc<dyn Storage> = Arc::new(sim.clone());
            Engine::builder()
                .with_data_dir("/data")
                .with_storage(s)
                .with_clock(FixedClock::at(NOW))
                .with_segment_rows(25)
                .open()
        }) else {
            return acked;
        };
        let Ok((p, _)) = e.project_or_create("p") else { return acked };
        for call in 0..3 {
            let text = input(call);
            let r = p.ingest_ndjson(text.as_bytes(), &NdjsonOptions::default(), &mut |_| {});
            if let Ok(s) = r {
                // Lines of a collection that could not be created are
                // rejected one by one; the rest are acknowledged.
                let rejected: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
                for (i, l) in text.lines().enumerate() {
                    if !rejected.contains(&(i as u64 + 1)) {
                        let k = COLLS
                            .iter()
                            .position(|c| l.starts_with(&format!("{{\"{c}\"")))
                            .unwrap();
                        acked[k] += 1;
                    }
                }
                assert_eq!(s.accepted + s.rejected, 30);
            }
        }
        std::mem::forget(e); // a crash: no clean close
        acked
    };
    let count = |image: SimStorage| -> Option<[usize; 3]> {
        let s: Arc<dyn Storage> = Arc::new(image);
        let e = Engine::builder()
            .with_data_dir("/data")
            .with_storage(s)
            .with_clock(FixedClock::at(NOW))
            .open()
            .ok()?;
        let p = e.project("p").ok();
        Some(COLLS.map(|c| p.as_ref().and_then(|p| p.snapshot(c)).map(|s| s.rows()).unwrap_or(0)))
    };
    let probe = SimStorage::new();
    let all = workload(&probe);
    assert_eq!(all.iter().sum::<usize>(), 90);
    for model in CrashModel::ALL {
        for seed in 0..3 {
            assert_eq!(count(probe.crash_image(model, seed)), Some(all), "{model:?} seed {seed}");
        }
    }
    let calls = probe.op_count();
    for n in 0..calls {
        for (kind, persistence) in FAULTS {
            let sim = SimStorage::new().fail_at(n, kind, persistence);
            let acked = std::panic::catch_unwind(|| workload(&sim))
                .unwrap_or_else(|_| panic!("panic with {kind:?}/{persistence:?} at call {n}"));
            let image = sim.crash_image(CrashModel::PowerLossClean, n);
            match count(image) {
                Some(got) => {
                    for k in 0..3 {
                        assert!(
                            got[k] >= acked[k] && got[k] <= all[k],
                            "{kind:?}/{persistence:?} at call {n}, collection {}: {} rows, {} acknowledged",
                            COLLS[k],
                            got[k],
                            acked[k]
                        );
                    }
                }
                None => assert_eq!(
                    acked, [0; 3],
                    "{kind:?} at call {n}: acknowledged but cannot reopen"
                ),
            }
        }
    }
}

/// A crash while a full head seals on its background thread — before or
/// after its manifest commit, whatever the thread has written — loses no
/// acknowledged event under any crash model: the frozen rows are in the
/// manifest's log, the later ones in the log that took over at the freeze.
#[test]
fn a_crash_during_a_background_seal_keeps_every_acknowledged_event() {
    let first = tally_ingest::BACKGROUND_SEAL_MIN_ROWS + 100;
    let mut lines = String::new();
    for i in 0..first {
        lines.push_str(&format!("{{\"i\": {i}}}\n"));
    }
    for extra in [0usize, 3, 40] {
        let sim = SimStorage::new();
        {
            let e = builder(&sim)
                .with_segment_rows(tally_ingest::BACKGROUND_SEAL_MIN_ROWS)
                .open()
                .unwrap();
            let (p, _) = e.project_or_create("p").unwrap();
            let opts = tally::NdjsonOptions { collection: Some("c".into()), ..Default::default() };
            let s = p.ingest_ndjson(lines.as_bytes(), &opts, &mut |_| {}).unwrap();
            assert_eq!(s.accepted as usize, first);
            for i in 0..extra {
                p.record("c", format!(r#"{{"i": {}}}"#, first + i).as_bytes()).unwrap();
            }
            std::mem::forget(e); // a crash: the seal may be anywhere
        }
        for model in CrashModel::ALL {
            for seed in 0..2 {
                let image = sim.crash_image(model, seed);
                let e = open(&image, Durability::Sync);
                assert_eq!(rows(&e), first + extra, "{model:?} seed {seed}, {extra} after");
            }
        }
    }
}

/// Large appends write their WAL record beside the head append. When any
/// storage call of such an ingest fails, the rows of the failed append are
/// taken out of the head again: the live snapshot shows exactly the
/// acknowledged events, and a reopen after power loss keeps every one.
#[test]
fn a_failed_log_write_beside_the_head_append_leaves_no_unacknowledged_row() {
    use tally::NdjsonOptions;
    const PER_CALL: usize = 5_000; // one block, above the overlap threshold
    let input = |call: usize| {
        let mut s = String::new();
        for i in 0..PER_CALL {
            s.push_str(&format!("{{\"call\": {call}, \"i\": {i}, \"s\": \"v{}\"}}\n", i % 9));
        }
        s
    };
    let inputs = [input(0), input(1)];
    let opts = NdjsonOptions { collection: Some("c".into()), ..Default::default() };
    // Returns (events acknowledged, rows the live engine shows).
    let workload = |sim: &SimStorage| -> (usize, usize) {
        let Ok(e) = builder(sim).open() else { return (0, 0) };
        let Ok((p, _)) = e.project_or_create("p") else { return (0, 0) };
        let mut acked = 0;
        for input in &inputs {
            if let Ok(s) = p.ingest_ndjson(input.as_bytes(), &opts, &mut |_| {}) {
                acked += s.accepted as usize;
            }
        }
        let live = p.snapshot("c").map(|s| s.rows()).unwrap_or(0);
        std::mem::forget(e);
        (acked, live)
    };
    let probe = SimStorage::new();
    assert_eq!(workload(&probe), (2 * PER_CALL, 2 * PER_CALL));
    let calls = probe.op_count();
    let mut failed_runs = 0;
    for n in 0..calls {
        for (kind, persistence) in FAULTS {
            let sim = SimStorage::new().fail_at(n, kind, persistence);
            let (acked, live) = workload(&sim);
            failed_runs += usize::from(acked < 2 * PER_CALL);
            assert_eq!(live, acked, "{kind:?} at call {n}: live rows vs acknowledged");
            let image = sim.crash_image(CrashModel::PowerLossClean, n);
            let Ok(e) = builder(&image).open() else {
                assert_eq!(acked, 0, "{kind:?} at call {n}: acknowledged but cannot reopen");
                continue;
            };
            let got =
                e.project("p").ok().and_then(|p| p.snapshot("c")).map(|s| s.rows()).unwrap_or(0);
            assert!(
                got >= acked && got <= 2 * PER_CALL && got % PER_CALL == 0,
                "{kind:?} at call {n}: {got} rows after reopen, {acked} acknowledged"
            );
        }
    }
    assert!(failed_runs > 0);
}

/// Deletes (keen-semantics §9.6) crashed at every storage call of theirs,
/// under every crash model: each delete that returned `Ok` is whole after
/// reopen, the one in flight is whole or absent (never half: RELIABILITY
/// §4, "a delete is atomic"), later ones are absent, and every
/// acknowledged event no delete removed is there.
#[test]
fn a_crash_at_any_call_of_a_delete_leaves_it_whole_or_absent() {
    const STEPS: [&str; 3] = ["events", "property", "collection"];
    let engine = |sim: &SimStorage| builder(sim).with_segment_rows(4).open();
    let seed = |sim: &SimStorage| {
        let e = engine(sim).unwrap();
        let (p, _) = e.project_or_create("p").unwrap();
        for i in 0..12 {
            let t = if i % 2 == 0 { "A" } else { "B" };
            let ev = format!(r#"{{"i": {i}, "t": "{t}", "o": {{"x": {i}}}}}"#);
            p.record("c", ev.as_bytes()).unwrap();
        }
        p.record("c", br#"{"i": 100, "t": "B"}"#).unwrap(); // in the head
        for i in 0..3 {
            p.record("d", format!(r#"{{"i": {i}}}"#).as_bytes()).unwrap();
        }
        (e, p)
    };
    // The deletes of the workload; returns how many returned Ok.
    let deletes = |p: &tally::Project| -> usize {
        let a = serde_json::json!({"filters": [{"property_name": "t", "operator": "eq", "property_value": "A"}]});
        if p.delete_events("c", &a).is_err() {
            return 0;
        }
        if p.delete_property("c", "o").is_err() {
            return 1;
        }
        if p.delete_collection("d").is_err() {
            return 2;
        }
        3
    };
    // Probe: the storage calls of the seed, and of the deletes after it.
    let probe = SimStorage::new();
    let (e, p) = seed(&probe);
    let from = probe.op_count();
    assert_eq!(deletes(&p), 3);
    let to = probe.op_count();
    drop((p, e));
    assert!(to - from > 10, "the deletes make storage calls ({})", to - from);
    let mut checked = 0;
    for n in from..to {
        let sim = SimStorage::new();
        let (e, p) = seed(&sim);
        assert_eq!(sim.op_count(), from, "the seed is deterministic");
        sim.set_fault_plan(tally_ingest::FaultPlan::new().crash_at(n));
        let done = deletes(&p);
        std::mem::forget((p, e));
        for model in CrashModel::ALL {
            let image = sim.crash_image(model, n);
            let e = engine(&image).unwrap_or_else(|err| panic!("{model:?} at call {n}: {err}"));
            let p = e.project("p").unwrap();
            let live = p.snapshot("c").map(|s| s.live_rows()).unwrap_or(0);
            let events_gone = match live {
                13 => false,
                7 => true,
                other => panic!("{model:?} at call {n}: {other} live events in c"),
            };
            let schema = serde_json::to_string(&p.collection_schema("c").unwrap()).unwrap();
            let property_gone = !schema.contains("o.x");
            let names = p.collection_names();
            let collection_gone = !names.contains(&"d".to_string());
            if !collection_gone {
                assert_eq!(p.snapshot("d").map(|s| s.live_rows()), Some(3), "{model:?} at {n}");
            }
            for (k, gone) in [events_gone, property_gone, collection_gone].into_iter().enumerate() {
                if k < done {
                    assert!(gone, "{model:?} at call {n}: {} returned Ok but is undone", STEPS[k]);
                } else if k > done {
                    assert!(!gone, "{model:?} at call {n}: {} never ran but shows", STEPS[k]);
                }
            }
            // The survivors are B's events (or all), with their values.
            let sum = serde_json::json!({"analysis_type": "sum", "event_collection": "c",
                "target_property": "i", "timeframe": "this_1_days"});
            let got = p.query_json_at(&sum, NOW).unwrap().into_json().unwrap()["result"].clone();
            let want = if events_gone { 1 + 3 + 5 + 7 + 9 + 11 + 100 } else { 66 + 100 };
            assert_eq!(got, serde_json::json!(want), "{model:?} at call {n}");
            checked += 1;
        }
    }
    assert!(checked > 30);
}

/// An NDJSON ingest of several blocks whose storage fails in the middle
/// returns the error (the parsing side stops when the appender does, and
/// nothing hangs), and a reopen finds a prefix of the input: whole WAL
/// records of the blocks before the failure, nothing after it. A failure
/// that only rejects lines (the collection cannot be created) is an `Ok`
/// whose acknowledged events are all stored.
#[test]
fn an_ndjson_ingest_failing_mid_stream_stops_with_the_error() {
    use tally::{NdjsonOptions, NDJSON_BLOCK_BYTES};
    let pad = "x".repeat(300);
    let mut input = String::new();
    let mut n = 0usize;
    while input.len() < 2 * NDJSON_BLOCK_BYTES + NDJSON_BLOCK_BYTES / 2 {
        input.push_str(&format!("{{\"c\": {{\"i\": {n}, \"pad\": \"{pad}\"}}}}\n"));
        n += 1;
    }
    // None when the failure hit before the ingest (opening, the project).
    let run = |sim: &SimStorage| {
        let e = builder(sim).open().ok()?;
        let (p, _) = e.project_or_create("p").ok()?;
        let r = p.ingest_ndjson(input.as_bytes(), &NdjsonOptions::default(), &mut |_| {});
        std::mem::forget(e); // a crash: no clean close
        Some(r)
    };
    // The rows stored after a crash, checked to be a prefix of the input.
    let stored_prefix = |image: SimStorage| -> usize {
        let Ok(e) = builder(&image).open() else { return 0 };
        let Some(s) = e.project("p").ok().and_then(|p| p.snapshot("c")) else { return 0 };
        let mut seen = vec![false; s.rows()];
        let col = s.schema().id("i", tally_ingest::ValueType::Num);
        for seg in s.segments() {
            let Some(tally_ingest::ColumnData::Num(c)) =
                col.and_then(|c| seg.column(c)).map(|c| &c.data)
            else {
                panic!("every stored row has i");
            };
            for r in 0..seg.len() {
                let i = c.f64(r).expect("every row has i") as usize;
                assert!(i < seen.len() && !seen[i], "row i = {i} is not in the stored prefix");
                seen[i] = true;
            }
        }
        s.rows()
    };
    let probe = SimStorage::new();
    assert_eq!(run(&probe).expect("no failure").unwrap().accepted as usize, n);
    let calls = probe.op_count();
    let mut mid_stream = 0;
    for at in (0..calls).step_by((calls as usize / 8).max(1)) {
        let sim = SimStorage::new().fail_at(at, FaultKind::Eio, Persistence::Always);
        let Some(result) = run(&sim) else { continue };
        let stored = stored_prefix(sim.crash_image(CrashModel::PowerLossClean, at));
        match result {
            Ok(s) => {
                assert_eq!(s.accepted + s.rejected, n as u64, "failure at call {at}");
                assert!(stored >= s.accepted as usize, "failure at call {at}: acknowledged lost");
            }
            Err(_) => {
                assert!(stored < n, "failure at call {at}: all {n} rows, yet an error");
                mid_stream += usize::from(stored > 0);
            }
        }
    }
    assert!(mid_stream > 0, "some failure hit after a block was stored");
}
