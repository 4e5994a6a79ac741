//! NDJSON over several blocks and collections (ids resolved while parsing,
//! collections appended side by side, WAL payload v3) stores exactly what
//! Keen batch documents of the same events store, and replays to it.

use std::collections::BTreeMap;
use std::path::Path;

use tally::{Engine, FixedClock, NdjsonOptions, Snapshot, NDJSON_BLOCK_BYTES};
use tally_ingest::{Generator, GeneratorConfig, SegmentColumn};

const NOW: i64 = 1_718_202_920_123;

fn engine(dir: &Path) -> Engine {
    Engine::builder().with_data_dir(dir).with_clock(FixedClock::at(NOW)).open().unwrap()
}

/// Rows, then per segment its timestamps and columns, then every
/// dictionary entry.
type Contents = (usize, Vec<(Vec<i64>, Vec<SegmentColumn>)>, Vec<String>);

/// Everything of a snapshot but `keen.id` (random prefix per collection).
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

#[test]
fn multi_block_multi_collection_ndjson_matches_batch_documents_and_replays() {
    // ~2.5 blocks of generated lines {"<collection>": {event}}, with a few
    // bad lines mixed in.
    let mut g = Generator::new(GeneratorConfig { seed: 5, ..Default::default() });
    let mut input = Vec::new();
    let mut per_collection: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut line = String::new();
    let mut bad_lines = Vec::new();
    let mut n = 0u64;
    while input.len() < NDJSON_BLOCK_BYTES * 5 / 2 {
        n += 1;
        if n.is_multiple_of(5_000) {
            input.extend_from_slice(b"{\"broken\": \n");
            bad_lines.push(n);
            continue;
        }
        line.clear();
        let c = g.next_event(&mut line);
        input.extend_from_slice(format!("{{\"{c}\": {line}}}\n").as_bytes());
        per_collection.entry(c.to_string()).or_default().push(line.clone());
    }
    assert!(per_collection.len() >= 3, "several collections: {:?}", per_collection.keys());

    let dir = tempfile::tempdir().unwrap();
    let nd_dir = dir.path().join("nd");
    let e = engine(&nd_dir);
    let (p, _) = e.project_or_create("p").unwrap();
    let s = p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
    let total: usize = per_collection.values().map(Vec::len).sum();
    assert_eq!(s.accepted as usize, total);
    assert_eq!(s.errors.iter().map(|e| e.line).collect::<Vec<_>>(), bad_lines);

    // The same events as Keen batch documents (5,000 per document).
    let e2 = engine(&dir.path().join("batch"));
    let (p2, _) = e2.project_or_create("p").unwrap();
    for (c, events) in &per_collection {
        for chunk in events.chunks(5_000) {
            let body = format!("{{{}: [{}]}}", serde_json::json!(c), chunk.join(","));
            assert_eq!(p2.record_batch(body.as_bytes()).unwrap().failed(), 0);
        }
    }
    let mut want = BTreeMap::new();
    for c in per_collection.keys() {
        let (a, b) = (p.snapshot(c).unwrap(), p2.snapshot(c).unwrap());
        assert_eq!(a.rows(), per_collection[c].len());
        assert_eq!(contents(&a), contents(&b), "collection {c}");
        let ids: Vec<_> =
            a.segments().iter().flat_map(|s| s.ids().iter().collect::<Vec<_>>()).collect();
        want.insert(c.clone(), (contents(&a), ids));
    }
    drop((p, e));

    // Nothing was sealed: reopening replays every WAL record (payload v3)
    // to the same rows, values and keen.ids.
    let e = engine(&nd_dir);
    let (p, _) = e.project_or_create("p").unwrap();
    for (c, (contents_before, ids_before)) in &want {
        let s = p.snapshot(c).unwrap();
        assert_eq!(&contents(&s), contents_before, "collection {c} after replay");
        let ids: Vec<_> =
            s.segments().iter().flat_map(|s| s.ids().iter().collect::<Vec<_>>()).collect();
        assert_eq!(&ids, ids_before);
    }
}

#[test]
fn a_block_naming_many_collections_appends_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let (p, _) = e.project_or_create("p").unwrap();
    let mut input = String::new();
    for i in 0..600 {
        // 60 collections (more than the append threads), 10 events each,
        // plus one invalid collection name per 100 lines.
        if i % 100 == 99 {
            input.push_str("{\"$bad\": {\"i\": 0}}\n");
        }
        input.push_str(&format!("{{\"c{}\": {{\"i\": {i}}}}}\n", i % 60));
    }
    let s = p.ingest_ndjson(input.as_bytes(), &NdjsonOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((s.accepted, s.rejected), (600, 6));
    let lines: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![100, 201, 302, 403, 504, 605]);
    for c in 0..60 {
        assert_eq!(p.snapshot(&format!("c{c}")).unwrap().rows(), 10, "c{c}");
    }
}
