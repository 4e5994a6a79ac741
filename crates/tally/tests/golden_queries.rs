//! Golden query suites: `testdata/queries/*.json`, each an event set, a
//! fixed "now" and cases of (query, expected response). Half of each
//! collection's events are sealed into segments, the rest stay in the head.
//!
//! `TALLY_BLESS=1 cargo test -p tally --test golden_queries` rewrites every
//! `expected` from the engine's answers, for review in the diff. Event ids
//! are random, so `keen.id` in answers is replaced by `"<id>"`.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use tally::{Engine, FixedClock, Response};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/queries")
}

fn scrub_ids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(k)) = m.get_mut("keen") {
                if k.contains_key("id") {
                    k.insert("id".into(), json!("<id>"));
                }
            }
            m.values_mut().for_each(scrub_ids);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub_ids),
        _ => {}
    }
}

/// Runs every case of one suite file; returns (actual answers, mismatches).
fn run_suite(path: &Path) -> (Vec<Value>, Vec<String>) {
    let suite: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let events: Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(dir().join(suite["events"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let now = tally_ingest::parse_timestamp(suite["now"].as_str().unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let engine =
        Engine::builder().with_data_dir(tmp.path()).with_clock(FixedClock::at(now)).open().unwrap();
    let (p, _) = engine.create_project("golden").unwrap();
    for (collection, list) in &events {
        let list = list.as_array().unwrap();
        for (i, e) in list.iter().enumerate() {
            p.record(collection, e.to_string().as_bytes()).unwrap();
            if i + 1 == list.len() / 2 {
                p.flush().unwrap();
            }
        }
    }
    let mut actual = Vec::new();
    let mut mismatches = Vec::new();
    for (i, case) in suite["cases"].as_array().unwrap().iter().enumerate() {
        let mut got = match p.query_json_at(&case["query"], now) {
            Ok(Response::Csv(text)) => json!({"csv": text}),
            Ok(r) => r.into_json().unwrap(),
            Err(e) => json!({"error_code": e.error_code()}),
        };
        scrub_ids(&mut got);
        if got != case["expected"] {
            mismatches.push(format!(
                "{} case {i}: {}\n  expected {}\n  got      {}",
                path.display(),
                case["query"],
                case["expected"],
                got
            ));
        }
        actual.push(got);
    }
    (actual, mismatches)
}

fn write_blessed(path: &Path, actual: &[Value]) {
    let suite: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = format!(
        "{{\n \"events\": {},\n \"now\": {},\n \"cases\": [\n",
        suite["events"], suite["now"]
    );
    let cases = suite["cases"].as_array().unwrap();
    let lines: Vec<String> = cases
        .iter()
        .zip(actual)
        .map(|(c, a)| format!("  {{\"query\": {},\n   \"expected\": {}}}", c["query"], a))
        .collect();
    out.push_str(&lines.join(",\n"));
    out.push_str("\n ]\n}\n");
    std::fs::write(path, out).unwrap();
}

#[test]
fn golden_query_suites() {
    let bless = std::env::var("TALLY_BLESS").is_ok_and(|v| v == "1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.file_name().unwrap().to_str().unwrap().starts_with("events_")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 9, "suites missing in {}", dir().display());
    let mut all = Vec::new();
    let mut cases = 0;
    for f in &files {
        let (actual, mismatches) = run_suite(f);
        cases += actual.len();
        if bless {
            write_blessed(f, &actual);
        } else {
            all.extend(mismatches);
        }
    }
    assert!(cases >= 100, "only {cases} golden cases");
    assert!(all.is_empty(), "{} golden mismatches:\n{}", all.len(), all.join("\n"));
}
