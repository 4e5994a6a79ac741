//! Raw bytes → Keen query JSON → parse, validate, run over a small fixed
//! project (sealed segments and head rows): a response or a typed query
//! error with a Keen code, never a panic.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tally::{Engine, FixedClock, Project};

const NOW_MS: i64 = 1_718_202_920_123; // 2024-06-12T14:35:20.123Z

static PROJECT: LazyLock<(tempfile::TempDir, Engine, Project)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(NOW_MS))
        .open()
        .expect("engine");
    let (p, _) = engine.create_project("fuzz").expect("project");
    let events = include_str!("../../testdata/events/sample.jsonl");
    let half = events.len() / 2;
    let cut = events[..half].rfind('\n').map_or(0, |i| i + 1);
    for part in [&events[..cut], &events[cut..]] {
        p.ingest_ndjson(part.as_bytes(), &Default::default(), &mut |_| {}).expect("ingest");
        if part.len() == cut {
            p.flush().expect("flush");
        }
    }
    (dir, engine, p)
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tally::parse_query_str(text) {
        Ok(q) => match PROJECT.2.query_at(&q, NOW_MS) {
            Ok(_) => {}
            Err(e) => assert!(!e.error_code().is_empty()),
        },
        Err(e) => assert!(!e.code.as_str().is_empty()),
    }
});
