//! Frozen access-key file, format v1: `testdata/compat/keys/access_keys_v1.json`
//! was written once and is never regenerated. Every later version must
//! read it, find its keys by their text, and write it back byte for byte.
//!
//! To create it (only when missing):
//! `TALLY_MAKE_COMPAT=1 cargo test -p tally-keys --test compat_access_keys -- --ignored`.

use std::path::PathBuf;

use serde_json::json;
use tally_keys::{AccessKeyDef, AccessKeyStore, ApiKey, Permission};

/// Test keys (not secrets): the sample's digests are of these texts.
const KEYS: [&str; 2] = [
    "3F1D0C5A9E6B44E7A2C81B0F5D9E7A6C4B3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F",
    "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
];

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compat/keys/access_keys_v1.json")
}

fn definitions() -> [serde_json::Value; 2] {
    [
        json!({
          "name": "Customer 93 dashboard", "is_active": true,
          "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema"],
          "options": {
            "writes": {"autofill": {"customer": {"id": "93iskds39kd93id", "name": "Ada Corp."}}},
            "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
            "saved_queries": {"allowed": ["my_saved_query"], "blocked": ["my_sensitive_query"],
                              "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
            "cached_queries": {"allowed": ["my_cached_query"], "blocked": ["my_sensitive_query"]},
            "datasets": {"operations": ["read", "list", "retrieve"],
                         "allowed": {"my_single_index_dataset": {"index_by": {"customer.id": ["93iskds39kd93id"]}}},
                         "blocked": ["my_sensitive_dataset"]}
          }
        }),
        json!({"name": "revoked reader", "is_active": false, "permitted": ["queries"],
               "options": {"writes": null, "queries": null, "saved_queries": null,
                           "cached_queries": null, "datasets": null}}),
    ]
}

#[test]
#[ignore = "writes the frozen sample; run once with TALLY_MAKE_COMPAT=1"]
fn make_sample() {
    if std::env::var_os("TALLY_MAKE_COMPAT").is_none() {
        return;
    }
    assert!(!sample().exists(), "the sample is frozen: never regenerate it");
    // The file format, spelled out: what AccessKeyStore writes.
    let records: Vec<serde_json::Value> = KEYS
        .iter()
        .zip(definitions())
        .enumerate()
        .map(|(i, (k, d))| {
            let key = ApiKey::from_text(k);
            let def = AccessKeyDef::from_json(&d).unwrap();
            json!({"digest": key.digest(), "key_prefix": key.prefix(),
                   "created_ms": 1_718_202_920_123i64 + i as i64,
                   "definition": serde_json::Value::Object(def.to_json())})
        })
        .collect();
    let file = json!({"format_version": 1, "keys": records});
    std::fs::write(sample(), serde_json::to_vec_pretty(&file).unwrap()).unwrap();
}

#[test]
fn the_v1_sample_reads_finds_its_keys_and_writes_back_identically() {
    let bytes = std::fs::read(sample()).unwrap();
    let store = AccessKeyStore::decode(&bytes, "access_keys_v1.json").unwrap();
    assert_eq!(store.records().len(), 2);
    let first = store.find(&ApiKey::from_text(KEYS[0])).unwrap();
    assert_eq!(first.def.name, "Customer 93 dashboard");
    assert!(first.def.is_active);
    assert_eq!(first.def.permitted, Permission::ALL);
    assert_eq!(first.created_ms, 1_718_202_920_123);
    assert_eq!(serde_json::Value::Object(first.def.to_json()), definitions()[0]);
    let second = store.find(&ApiKey::from_text(KEYS[1])).unwrap();
    assert!(!second.def.is_active);
    assert_eq!(serde_json::Value::Object(second.def.to_json()), definitions()[1]);
    assert!(store.find(&ApiKey::from_text(&KEYS[1].to_lowercase())).is_none());
    assert_eq!(store.encode(), bytes, "the format is stable");
    assert!(!String::from_utf8(bytes).unwrap().contains(KEYS[0]), "digests only");
}
