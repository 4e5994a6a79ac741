//! `testdata/events/sample.jsonl` is exactly what the generator writes for
//! [`GeneratorConfig::sample`].
//!
//! After an intended change to the generator, rewrite the file for review with
//! `TALLY_BLESS=1 cargo test -p tally-ingest --test sample_file`.

use std::path::PathBuf;

use tally_ingest::{Generator, GeneratorConfig};

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/events/sample.jsonl")
}

fn regenerate() -> Vec<u8> {
    let mut out = Vec::new();
    Generator::new(GeneratorConfig::sample())
        .write_lines(GeneratorConfig::SAMPLE_LINES, &mut out)
        .unwrap();
    out
}

#[test]
fn sample_file_is_byte_identical_to_the_generator() {
    let fresh = regenerate();
    let path = sample_path();
    if std::env::var_os("TALLY_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e} (TALLY_BLESS=1 writes it)", path.display())
    });
    if committed != fresh {
        let first_diff = committed
            .split(|&b| b == b'\n')
            .zip(fresh.split(|&b| b == b'\n'))
            .position(|(a, b)| a != b);
        panic!(
            "{} differs from the generator ({} vs {} bytes, first differing line {:?}); \
             if the change is intended, run with TALLY_BLESS=1 and review the diff",
            path.display(),
            committed.len(),
            fresh.len(),
            first_diff.map(|i| i + 1),
        );
    }
}

#[test]
fn sample_file_covers_every_collection_and_parses() {
    let fresh = regenerate();
    let text = std::str::from_utf8(&fresh).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (name, event) = v.as_object().unwrap().iter().next().unwrap();
        assert!(event.is_object());
        *seen.entry(name.clone()).or_insert(0) += 1;
    }
    assert_eq!(text.lines().count(), GeneratorConfig::SAMPLE_LINES);
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(names, ["errors", "pageviews", "purchases", "signups"]);
}
