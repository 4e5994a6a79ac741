//! Asynchronous extractions (`email`, keen-semantics §9.5) go to the
//! engine's sink and answer an acknowledgement.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tally::{Engine, ExtractionDelivery, ExtractionSink, FixedClock, Response, EXTRACTION_ACK};

/// (collection, email, events, csv) of one delivery.
type Delivered = (String, String, Vec<Value>, String);

#[derive(Default)]
struct Capture(Mutex<Vec<Delivered>>);

impl ExtractionSink for Capture {
    fn deliver(&self, d: ExtractionDelivery<'_>) -> tally::Result<()> {
        self.0.lock().unwrap().push((d.collection.into(), d.email.into(), d.events, d.csv));
        Ok(())
    }
}

const NOW: i64 = 1_718_202_920_123;

fn query() -> Value {
    json!({"analysis_type": "extraction", "event_collection": "c", "timeframe": "this_day",
           "email": "ops@example.com", "property_names": ["n"]})
}

#[test]
fn email_extractions_go_to_the_configured_sink() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Capture::default());
    let engine = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(NOW))
        .with_extraction_sink(sink.clone())
        .open()
        .unwrap();
    let (p, _) = engine.project_or_create("p").unwrap();
    p.record("c", br#"{"n": 1}"#).unwrap();
    p.record("c", br#"{"n": "two"}"#).unwrap();
    let r = p.query_json_at(&query(), NOW).unwrap();
    assert_eq!(r, Response::Json(json!({"result": EXTRACTION_ACK})));
    let got = sink.0.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("c", "ops@example.com"));
    assert_eq!(got[0].2, vec![json!({"n": 1}), json!({"n": "two"})]);
    assert_eq!(got[0].3, "n\r\n1\r\ntwo\r\n");
}

#[test]
fn without_a_sink_the_csv_lands_in_the_project_directory() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, _) = engine.project_or_create("p").unwrap();
    p.record("c", br#"{"n": 1}"#).unwrap();
    for _ in 0..2 {
        assert_eq!(
            p.query_json_at(&query(), NOW).unwrap(),
            Response::Json(json!({"result": EXTRACTION_ACK}))
        );
    }
    let edir = dir.path().join("projects/p/extractions");
    let mut files: Vec<_> = std::fs::read_dir(&edir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, vec!["00000000-63.csv", "00000001-63.csv"]);
    assert_eq!(std::fs::read_to_string(edir.join(&files[0])).unwrap(), "n\r\n1\r\n");
}
