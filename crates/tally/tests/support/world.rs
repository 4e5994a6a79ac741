//! An engine on in-memory storage holding a generated event set, for the
//! property tests that compare the engine with the reference.

use serde_json::Value;
use tally::{Engine, FixedClock, Project};

use super::gen;

/// An engine on [`tally_ingest::SimStorage`] at [`gen::NOW_MS`] with
/// 7-row segments, project `p`, and `events` recorded in order; the heads
/// are sealed after the first `split` events, so the data lies in sealed
/// segments and in the head.
pub fn engine_with(events: &[(String, Value)], split: usize) -> (Engine, Project) {
    let engine = Engine::builder()
        .with_storage(std::sync::Arc::new(tally_ingest::SimStorage::new()))
        .with_data_dir("/ref")
        .with_clock(FixedClock::at(gen::NOW_MS))
        .with_segment_rows(7)
        .open()
        .unwrap();
    let (p, _) = engine.create_project("p").unwrap();
    for (i, (c, e)) in events.iter().enumerate() {
        p.record(c, e.to_string().as_bytes()).unwrap();
        if i + 1 == split {
            p.flush().unwrap();
        }
    }
    (engine, p)
}
