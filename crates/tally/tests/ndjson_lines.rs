//! NDJSON lines `{"<collection>": {event}}` through the facade: error
//! precedence (bad line, then bad collection name, then bad event) and the
//! raw bytes of each event, which the WAL stores and replays on reopen.

use tally::{Engine, FixedClock, NdjsonOptions};

const NOW: i64 = 1_718_202_920_123;

fn engine(dir: &std::path::Path) -> Engine {
    Engine::builder().with_data_dir(dir).with_clock(FixedClock::at(NOW)).open().unwrap()
}

#[test]
fn a_bad_line_outranks_a_bad_name_which_outranks_a_bad_event() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path());
    let (p, _) = e.project_or_create("P").unwrap();
    let input = concat!(
        "{\"_c\": {\"$bad\": 1}, \"d\": {}}\n",
        "{\"_c\": {\"$bad\": 1}}\n",
        "{\"c\": {\"$bad\": 1}}\n",
        "{\"_c\": 5}\n",
        "{\"c\": 5}\n",
        "{\"c\": {\"ok\": 1}}\n",
    );
    let s = p.ingest_ndjson(input.as_bytes(), &NdjsonOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((s.accepted, s.rejected), (1, 5));
    let codes: Vec<&str> = s.errors.iter().map(|e| e.error_code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "InvalidEventError",
            "InvalidCollectionNameError",
            "InvalidPropertyNameError",
            "InvalidCollectionNameError",
            "InvalidEventError",
        ]
    );
    assert!(s.errors[0].message.contains("malformed line"), "{:?}", s.errors[0]);
    assert!(s.errors[4].message.contains("malformed line"), "{:?}", s.errors[4]);
}

#[test]
fn padded_lines_store_exactly_the_inner_event_and_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = concat!(
        "  { \"c\" :\t{\"n\": 1, \"s\": \"}\"} }  \r\n",
        "{\"c\\u0020x\": {\"n\": 2}}\n",
        "{\"c\":{\"n\":3,\"keen\":{\"timestamp\":\"2024-06-12T14:35:20Z\"}}}",
    );
    {
        let e = engine(dir.path());
        let (p, _) = e.project_or_create("P").unwrap();
        let s = p.ingest_ndjson(input.as_bytes(), &NdjsonOptions::default(), &mut |_| {}).unwrap();
        assert_eq!((s.accepted, s.rejected), (3, 0), "{:?}", s.errors);
        assert_eq!(p.collection_names(), ["c", "c x"]);
    }
    // Unflushed: the reopened engine rebuilds the head from the WAL's raw bytes.
    let e = engine(dir.path());
    let p = e.project("P").unwrap();
    assert_eq!(p.snapshot("c").unwrap().rows(), 2);
    assert_eq!(p.snapshot("c x").unwrap().rows(), 1);
}
