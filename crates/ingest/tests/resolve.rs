//! `Collection::resolve` + `Collection::append_resolved`: ids looked up
//! ahead of the append, off the writer lock, and WAL payload v3 written
//! from parser-encoded WAL parts, store exactly what a plain append stores —
//! also when the resolution races other appends, is stale, or belongs to
//! another collection — and replay to the same rows and ids.

use std::sync::Arc;

use tally_ingest::{
    AppendPart, Collection, CollectionOptions, EventParser, FixedClock, FlatBatch, Generator,
    GeneratorConfig, Segment, Snapshot, StdStorage,
};

const NOW: i64 = 1_718_202_920_123;

fn open(dir: &std::path::Path, name: &str) -> (Collection, tally_ingest::OpenReport) {
    let opts = CollectionOptions { segment_rows: 1_000, ..Default::default() };
    Collection::open(
        Arc::new(StdStorage::new()),
        dir.join(name),
        name,
        Arc::new(FixedClock::at(NOW)),
        opts,
    )
    .unwrap()
}

/// `n` generated events (seeded) as batches of `per`; each batch with its
/// WAL part encoding (as parallel parsers make it) and its raw JSON.
struct Input {
    batches: Vec<(FlatBatch, Vec<u8>, Vec<u8>)>,
}

fn input(seed: u64, n: usize, per: usize) -> Input {
    let mut g = Generator::new(GeneratorConfig { seed, ..Default::default() });
    let mut parser = EventParser::new();
    let mut batches = Vec::new();
    let mut line = String::new();
    for _ in 0..n.div_ceil(per) {
        let (mut b, mut framed, mut plain) = (FlatBatch::new(), Vec::new(), Vec::new());
        for _ in 0..per {
            line.clear();
            g.next_event(&mut line);
            let ev = line.as_bytes();
            parser.parse_at(ev, plain.len(), &mut b, &Default::default()).unwrap();
            plain.extend_from_slice(ev);
        }
        tally_ingest::encode_wal_part(&b, &(0..b.len()).collect::<Vec<_>>(), &mut framed);
        batches.push((b, framed, plain));
    }
    Input { batches }
}

/// Rows, then per segment its timestamps and columns, then every
/// dictionary entry.
type Contents = (usize, Vec<(Vec<i64>, Vec<tally_ingest::SegmentColumn>)>, Vec<String>);

/// Rows, schema, every column and every dictionary of a snapshot, without
/// `keen.id` (whose prefix is random per collection).
fn contents(s: &Snapshot) -> Contents {
    let segs = s
        .segments()
        .iter()
        .map(|seg| (seg.timestamps().to_vec(), seg.columns().cloned().collect()))
        .collect();
    let mut dicts = Vec::new();
    for (cid, d) in s.dicts().iter() {
        let r = d.reader();
        for id in 0..r.len() as u32 {
            dicts.push(format!("{cid}:{id}:{}", r.value(id).unwrap()));
        }
    }
    (s.rows(), segs, dicts)
}

fn ids(segments: &[Arc<Segment>]) -> Vec<tally_ingest::EventId> {
    segments.iter().flat_map(|s| s.ids().iter().collect::<Vec<_>>()).collect()
}

#[test]
fn resolved_framed_appends_store_and_replay_like_plain_appends() {
    let dir = tempfile::tempdir().unwrap();
    let data = input(7, 3_000, 250);
    let (plain, _) = open(dir.path(), "plain");
    let (fast, _) = open(dir.path(), "fast");
    let mut hits = (0, 0);
    for (b, framed, _) in &data.batches {
        // The plain append encodes its WAL part itself.
        let idx: Vec<usize> = (0..b.len()).collect();
        let outs = plain.append_parts(&[(b, &idx)]).unwrap();
        assert_eq!(outs[0].stored, b.len());
        let res = fast.resolve(b);
        let (k, l) = res.hits();
        hits = (hits.0 + k, hits.1 + l);
        let part = AppendPart { batch: b, wal: framed, events: &idx, resolved: Some(&res) };
        let outs = fast.append_resolved(&[part]).unwrap();
        assert_eq!(outs[0].stored, b.len());
    }
    assert!(hits.0 > hits.1 / 2, "most values resolved ahead: {hits:?}");
    let (s1, s2) = (plain.snapshot(), fast.snapshot());
    assert_eq!(s1.rows(), 3_000);
    assert_eq!(contents(&s1), contents(&s2));
    assert_eq!(s1.schema(), s2.schema());
    let before = ids(s2.segments());
    // Seals every 1,000 rows: 3 segments; then drop and replay nothing.
    assert_eq!(fast.sealed_segments(), 3);

    // A head left in the WAL replays to the same rows and ids.
    let (b, framed, _) = &data.batches[0];
    let idx: Vec<usize> = (0..b.len()).collect();
    let res = fast.resolve(b);
    fast.append_resolved(&[AppendPart {
        batch: b,
        wal: framed,
        events: &idx,
        resolved: Some(&res),
    }])
    .unwrap();
    let with_head = fast.snapshot();
    let all_ids = ids(with_head.segments());
    assert_eq!(all_ids.len(), 3_250);
    assert_eq!(&all_ids[..3_000], &before[..]);
    let head_contents = contents(&with_head);
    drop((fast, with_head, s2));
    let (again, report) = open(dir.path(), "fast");
    assert_eq!((report.replayed_records, report.replayed_events), (1, 250));
    let s3 = again.snapshot();
    assert_eq!(contents(&s3), head_contents);
    assert_eq!(ids(s3.segments()), all_ids, "keen.id survives WAL payload v3 replay");
    // Ids are distinct.
    let mut sorted = all_ids.clone();
    sorted.sort_by_key(|i| i.0);
    sorted.dedup();
    assert_eq!(sorted.len(), all_ids.len());
}

#[test]
fn foreign_stale_and_mismatched_resolutions_only_cost_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = input(11, 1_200, 300);
    let (plain, _) = open(dir.path(), "plain");
    let (a, _) = open(dir.path(), "a");
    let (other, _) = open(dir.path(), "other");
    // `other` learns values in a different order, so its ids differ.
    let (b3, f3, _) = &data.batches[3];
    let idx3: Vec<usize> = (0..b3.len()).collect();
    other
        .append_resolved(&[AppendPart { batch: b3, wal: f3, events: &idx3, resolved: None }])
        .unwrap();
    let stale = a.resolve(&data.batches[1].0); // made before anything was stored
    for (k, (b, framed, _)) in data.batches.iter().enumerate() {
        let idx: Vec<usize> = (0..b.len()).collect();
        plain
            .append_resolved(&[AppendPart { batch: b, wal: framed, events: &idx, resolved: None }])
            .unwrap();
        let foreign = other.resolve(b);
        let mismatched = a.resolve(&data.batches[(k + 1) % data.batches.len()].0);
        let res = match k {
            0 => &foreign,    // another collection's ids
            1 => &stale,      // resolved before batch 0 was stored
            2 => &mismatched, // made for another batch
            _ => &foreign,
        };
        a.append_resolved(&[AppendPart {
            batch: b,
            wal: framed,
            events: &idx,
            resolved: Some(res),
        }])
        .unwrap();
    }
    assert_eq!(contents(&plain.snapshot()), contents(&a.snapshot()));
}

#[test]
fn resolving_while_another_thread_appends_stores_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let data = input(3, 4_000, 200);
    let (plain, _) = open(dir.path(), "plain");
    let (c, _) = open(dir.path(), "c");
    for (b, framed, _) in &data.batches {
        let idx: Vec<usize> = (0..b.len()).collect();
        plain
            .append_resolved(&[AppendPart { batch: b, wal: framed, events: &idx, resolved: None }])
            .unwrap();
    }
    // Pipeline: batch k is appended while batch k+1 is resolved, and a
    // reader takes snapshots throughout (seals included: 1,000-row segments).
    let mut pending: Option<tally_ingest::Resolved> = None;
    let mut last_rows = 0;
    for k in 0..=data.batches.len() {
        std::thread::scope(|s| {
            let next = data.batches.get(k).map(|(b, _, _)| {
                let c = c.clone();
                s.spawn(move || c.resolve(b))
            });
            let reader = {
                let c = c.clone();
                s.spawn(move || c.snapshot().rows())
            };
            if let Some(res) = pending.take() {
                let (b, framed, _) = &data.batches[k - 1];
                let idx: Vec<usize> = (0..b.len()).collect();
                let part = AppendPart { batch: b, wal: framed, events: &idx, resolved: Some(&res) };
                c.append_resolved(&[part]).unwrap();
            }
            let rows = reader.join().unwrap();
            assert!(rows >= last_rows && rows % 200 == 0, "whole batches, never fewer: {rows}");
            last_rows = rows;
            pending = next.map(|h| h.join().unwrap());
        });
    }
    assert_eq!(contents(&plain.snapshot()), contents(&c.snapshot()));
}

#[test]
fn columns_of_mostly_new_values_stop_being_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = open(dir.path(), "c");
    let batch = |from: usize, n: usize| {
        let mut b = FlatBatch::new();
        for i in from..from + n {
            let e = format!(r#"{{"u": "v{i}", "k": "same", "l": ["x", {}]}}"#, i % 2);
            tally_ingest::parse_event(e.as_bytes(), &mut b, &Default::default()).unwrap();
        }
        (b, ())
    };
    let (b0, ()) = batch(0, 10);
    let idx: Vec<usize> = (0..10).collect();
    // Before anything is stored nothing is known.
    assert_eq!(c.resolve(&b0).hits(), (0, 0));
    c.append_parts(&[(&b0, &idx)]).unwrap();
    let (b1, _) = batch(10, 2_000);
    // "u": all new, looked up 256 times then no more; "k" and both list
    // elements of "l": all known.
    assert_eq!(c.resolve(&b1).hits(), (2_000 + 4_000, 256 + 2_000 + 4_000));
}
