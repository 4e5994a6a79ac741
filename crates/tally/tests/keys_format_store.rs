//! Key format, digest-only storage, redaction (RELIABILITY §6.5 item 15).

use std::collections::HashSet;
use std::path::Path;

use serde_json::json;
use tally::{ApiKey, Engine, FixedClock, NdjsonOptions};

const NOW: i64 = 1_718_202_920_123;

fn well_formed(k: &str) -> bool {
    k.len() == 64 && k.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

/// Every file under `dir`, as bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn keys_are_256_random_bits_in_keens_format_and_unique() {
    let n = if std::env::var_os("TALLY_FULL").is_some() { 1_000_000 } else { 200_000 };
    let mut seen = HashSet::with_capacity(n);
    for _ in 0..n {
        let k = ApiKey::generate().unwrap();
        assert!(well_formed(k.expose()), "{}", k.expose());
        assert!(seen.insert(k.expose().to_string()), "a repeated key");
    }
    // Every hex digit appears in every position: no fixed prefix or
    // checksum eats entropy (keen-semantics §8.1: the whole key is random).
    for pos in [0, 1, 31, 63] {
        let digits: HashSet<u8> = seen.iter().take(4_000).map(|k| k.as_bytes()[pos]).collect();
        assert_eq!(digits.len(), 16, "position {pos}");
    }
}

#[test]
fn no_plaintext_key_is_ever_written_under_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, keys) = engine.create_project("keys").unwrap();
    let mut secrets: Vec<String> =
        [&keys.master, &keys.write, &keys.read].iter().map(|k| k.expose().to_string()).collect();
    for i in 0..5 {
        let created = p
            .create_access_key(&json!({
                "name": format!("k{i}"), "permitted": ["writes", "queries"],
                "options": {"writes": {"autofill": {"tenant": format!("t{i}")}}}
            }))
            .unwrap();
        let key = created["key"].as_str().unwrap().to_string();
        assert!(well_formed(&key));
        assert_eq!(created["key_prefix"], key[..8]);
        // Writes through the key land in the WAL and segments.
        let kp = p.with_key(&ApiKey::from_text(&key)).unwrap();
        kp.record("c", br#"{"x": 1}"#).unwrap();
        kp.ingest_ndjson(&b"{\"c\": {\"x\": 2}}\n"[..], &NdjsonOptions::default(), &mut |_| {})
            .unwrap();
        secrets.push(key);
    }
    p.revoke_access_key(&secrets[3]).unwrap();
    p.update_access_key(&secrets[4], &json!({"name": "renamed"})).unwrap();
    p.delete_access_key(&secrets[5]).unwrap();
    p.flush().unwrap();
    // Answers after creation never show a key.
    assert!(p.access_keys().iter().all(|k| k["key"].is_null()));
    assert!(p.access_key(&secrets[4]).unwrap()["key"].is_null());
    let id = p.id().to_string();
    drop((p, engine));
    let all = files(dir.path());
    assert!(all.iter().any(|(n, _)| n.ends_with("access_keys.json")));
    for (name, bytes) in &all {
        for s in &secrets {
            for form in [s.clone(), s.to_lowercase()] {
                assert!(!contains(bytes, form.as_bytes()), "plaintext key in {name}");
            }
            // Not even the raw 32 bytes.
            let raw = hex::decode(s).unwrap();
            assert!(!contains(bytes, &raw), "raw key bytes in {name}");
        }
    }
    // The keys still work after a reopen (digests are enough).
    let engine = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    let p = engine.project(&id).unwrap();
    assert!(p.with_key(&ApiKey::from_text(&secrets[0])).is_ok());
    assert!(p.with_key(&ApiKey::from_text(&secrets[4])).is_ok());
    assert_eq!(
        p.with_key(&ApiKey::from_text(&secrets[5])).unwrap_err().to_json(),
        p.with_key(&ApiKey::from_text(&secrets[3])).unwrap_err().to_json(),
        "revoked reads like deleted after a reopen"
    );
    assert_eq!(p.access_key(&secrets[4]).unwrap()["name"], "renamed");
}

#[test]
fn handles_and_errors_redact_keys() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    let (p, keys) = engine.create_project("redact").unwrap();
    let kp = p.with_key(&keys.read).unwrap();
    for text in [format!("{kp:?}"), format!("{keys:?}"), format!("{:?}", keys.master)] {
        for k in [&keys.master, &keys.write, &keys.read] {
            assert!(!text.contains(k.expose()), "{text}");
        }
    }
    let wrong = ApiKey::generate().unwrap();
    let e = p.with_key(&wrong).unwrap_err();
    assert!(!e.to_string().contains(wrong.expose()));
    assert!(!e.to_json().to_string().contains(wrong.expose()));
}
