//! A project's access keys: the records kept at rest (digests, never
//! keys), their file format, lookup and the management operations of
//! keen-semantics §8.5. The facade persists the encoded bytes.
//!
//! # File format, version 1 (`access_keys.json`)
//!
//! UTF-8 JSON, replaced atomically on every change:
//!
//! ```text
//! {"format_version": 1,
//!  "keys": [                                  creation order
//!    {"digest": "<64 lowercase hex: SHA-256 of the key text>",
//!     "key_prefix": "<first 8 characters of the key>",
//!     "created_ms": <Unix ms>,
//!     "definition": {"name", "is_active", "permitted", "options"}}]}
//! ```
//!
//! The definition is re-validated when the file is read, so a hand-edited
//! file cannot hold a definition the API would refuse.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::access::AccessKeyDef;
use crate::error::{KeysError, Result};
use crate::key::{ApiKey, KeyDigest, KEY_PREFIX_CHARS};

/// Version of the access-key file.
pub const ACCESS_KEYS_FORMAT_VERSION: u32 = 1;

/// One access key at rest.
#[derive(Debug, Clone)]
pub struct AccessKeyRecord {
    /// SHA-256 of the key.
    pub digest: KeyDigest,
    /// The key's first [`KEY_PREFIX_CHARS`] characters.
    pub key_prefix: String,
    /// When it was created (Unix ms).
    pub created_ms: i64,
    /// Its definition.
    pub def: Arc<AccessKeyDef>,
}

impl AccessKeyRecord {
    /// The key JSON of keen-semantics §8.3: `key` is the secret when it is
    /// given (only in the answer that creates the key), else `null`.
    pub fn to_json(&self, project_id: &str, key: Option<&ApiKey>) -> Value {
        let mut out = Map::new();
        out.insert("key".into(), key.map_or(Value::Null, |k| Value::from(k.expose())));
        out.insert("key_prefix".into(), Value::from(self.key_prefix.as_str()));
        out.insert("project_id".into(), Value::from(project_id));
        out.extend(self.def.to_json());
        Value::Object(out)
    }
}

#[derive(Serialize, Deserialize)]
struct FileRecord {
    digest: KeyDigest,
    key_prefix: String,
    created_ms: i64,
    definition: Value,
}

#[derive(Serialize, Deserialize)]
struct File {
    format_version: u32,
    keys: Vec<FileRecord>,
}

/// A project's access keys.
#[derive(Debug, Clone, Default)]
pub struct AccessKeyStore {
    records: Vec<AccessKeyRecord>,
    /// Digest bytes → index in `records` (lookups are confirmed in
    /// constant time).
    by_digest: HashMap<[u8; 32], usize>,
}

impl AccessKeyStore {
    /// An empty store.
    pub fn new() -> AccessKeyStore {
        AccessKeyStore::default()
    }

    /// Reads the file format; `what` names the file in errors.
    pub fn decode(bytes: &[u8], what: &str) -> std::result::Result<AccessKeyStore, String> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| format!("{what}: {e}"))?;
        if file.format_version != ACCESS_KEYS_FORMAT_VERSION {
            return Err(format!(
                "{what}: format_version {} (this build reads {ACCESS_KEYS_FORMAT_VERSION})",
                file.format_version
            ));
        }
        let mut store = AccessKeyStore::new();
        for (i, r) in file.keys.into_iter().enumerate() {
            let def = AccessKeyDef::from_json(&r.definition)
                .map_err(|e| format!("{what}: key {i} ({}…): {e}", r.key_prefix))?;
            if store.by_digest.contains_key(&r.digest.bytes()) {
                return Err(format!("{what}: key {i} ({}…) is listed twice", r.key_prefix));
            }
            store.push(AccessKeyRecord {
                digest: r.digest,
                key_prefix: r.key_prefix,
                created_ms: r.created_ms,
                def: Arc::new(def),
            });
        }
        Ok(store)
    }

    /// The file format.
    pub fn encode(&self) -> Vec<u8> {
        let file = File {
            format_version: ACCESS_KEYS_FORMAT_VERSION,
            keys: self
                .records
                .iter()
                .map(|r| FileRecord {
                    digest: r.digest,
                    key_prefix: r.key_prefix.clone(),
                    created_ms: r.created_ms,
                    definition: Value::Object(r.def.to_json()),
                })
                .collect(),
        };
        serde_json::to_vec_pretty(&file).expect("plain JSON values serialize")
    }

    fn push(&mut self, r: AccessKeyRecord) {
        self.by_digest.insert(r.digest.bytes(), self.records.len());
        self.records.push(r);
    }

    fn reindex(&mut self) {
        self.by_digest =
            self.records.iter().enumerate().map(|(i, r)| (r.digest.bytes(), i)).collect();
    }

    /// Every record, in creation order.
    pub fn records(&self) -> &[AccessKeyRecord] {
        &self.records
    }

    /// The record of the key whose digest is `d` (active or not).
    pub fn find_digest(&self, d: &KeyDigest) -> Option<&AccessKeyRecord> {
        let r = &self.records[*self.by_digest.get(&d.bytes())?];
        r.digest.ct_eq(d).then_some(r)
    }

    /// The record of `key` (active or not).
    pub fn find(&self, key: &ApiKey) -> Option<&AccessKeyRecord> {
        self.find_digest(&key.digest())
    }

    /// The index of the key a management call names: its full text, or
    /// (our choice, so a master who lost a key can still revoke it) a
    /// prefix of at least [`KEY_PREFIX_CHARS`] characters that names
    /// exactly one key. Anything else is "not found".
    fn select(&self, selector: &str) -> Option<usize> {
        if let Some(r) = self.find(&ApiKey::from_text(selector)) {
            return self.by_digest.get(&r.digest.bytes()).copied();
        }
        if selector.len() != KEY_PREFIX_CHARS {
            return None;
        }
        let mut hits = self.records.iter().enumerate().filter(|(_, r)| r.key_prefix == selector);
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// The record named by `selector` (see [`AccessKeyStore::get`]).
    pub fn get(&self, selector: &str) -> Option<&AccessKeyRecord> {
        self.select(selector).map(|i| &self.records[i])
    }

    /// Adds a key for `def`; returns the secret (shown once) and its
    /// record.
    pub fn create(&mut self, def: AccessKeyDef, now_ms: i64) -> Result<(ApiKey, AccessKeyRecord)> {
        let key = loop {
            let k = ApiKey::generate()?;
            // 2^-256 per pair; the check keeps the index exact regardless.
            if self.find(&k).is_none() {
                break k;
            }
        };
        let record = AccessKeyRecord {
            digest: key.digest(),
            key_prefix: key.prefix(),
            created_ms: now_ms,
            def: Arc::new(def),
        };
        self.push(record.clone());
        Ok((key, record))
    }

    /// Applies an update body to the key named by `selector`.
    pub fn update(&mut self, selector: &str, body: &Value) -> Result<Option<AccessKeyRecord>> {
        let Some(i) = self.select(selector) else { return Ok(None) };
        let def = self.records[i].def.updated(body)?;
        self.records[i].def = Arc::new(def);
        Ok(Some(self.records[i].clone()))
    }

    /// Sets `is_active` of the key named by `selector`.
    pub fn set_active(&mut self, selector: &str, active: bool) -> Option<AccessKeyRecord> {
        let i = self.select(selector)?;
        let mut def = (*self.records[i].def).clone();
        def.is_active = active;
        self.records[i].def = Arc::new(def);
        Some(self.records[i].clone())
    }

    /// Removes the key named by `selector`; `false` if there is none.
    pub fn delete(&mut self, selector: &str) -> bool {
        let Some(i) = self.select(selector) else { return false };
        self.records.remove(i);
        self.reindex();
        true
    }
}

/// Refuses a management call naming no key (Keen answers 404).
pub fn not_found() -> KeysError {
    KeysError::invalid("key", "no such access key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(name: &str) -> AccessKeyDef {
        AccessKeyDef::from_json(&json!({"name": name, "permitted": ["queries"]})).unwrap()
    }

    #[test]
    fn create_find_update_revoke_delete() {
        let mut s = AccessKeyStore::new();
        let (k1, r1) = s.create(def("one"), 5).unwrap();
        let (k2, _) = s.create(def("two"), 6).unwrap();
        assert!(k1.is_well_formed());
        assert_eq!(s.find(&k1).unwrap().def.name, "one");
        assert_eq!(s.find(&k2).unwrap().def.name, "two");
        assert!(s.find(&ApiKey::from_text("nope")).is_none());
        let shown = r1.to_json("p1", Some(&k1));
        assert_eq!(shown["key"], k1.expose());
        assert_eq!(shown["key_prefix"], &k1.expose()[..8]);
        assert_eq!(shown["project_id"], "p1");
        assert_eq!(r1.to_json("p1", None)["key"], Value::Null);

        assert_eq!(s.get(&k1.prefix()).unwrap().def.name, "one", "a unique prefix names a key");
        assert!(s.get(&k1.expose()[..7]).is_none(), "shorter prefixes name nothing");
        let up = s.update(k1.expose(), &json!({"name": "uno"})).unwrap().unwrap();
        assert_eq!(up.def.name, "uno");
        assert!(s.update("nope", &json!({"name": "x"})).unwrap().is_none());
        assert!(s.update(k1.expose(), &json!({"permitted": ["bad"]})).is_err());
        assert!(!s.set_active(k1.expose(), false).unwrap().def.is_active);
        assert!(s.set_active(k1.expose(), true).unwrap().def.is_active);
        assert!(s.delete(k1.expose()));
        assert!(!s.delete(k1.expose()));
        assert!(s.find(&k1).is_none());
        assert_eq!(s.find(&k2).unwrap().def.name, "two", "the index follows a delete");
    }

    #[test]
    fn the_file_holds_digests_only_and_reads_back() {
        let mut s = AccessKeyStore::new();
        let (k, _) = s.create(def("one"), 5).unwrap();
        let bytes = s.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains(k.expose()), "no plaintext key at rest");
        assert!(!text.contains(&k.expose().to_lowercase()));
        let back = AccessKeyStore::decode(&bytes, "f").unwrap();
        assert_eq!(back.find(&k).unwrap().def.name, "one");
        assert_eq!(back.records()[0].created_ms, 5);
        assert_eq!(back.encode(), bytes);
        let bad = text.replace("\"queries\"", "\"querys\"");
        assert!(AccessKeyStore::decode(bad.as_bytes(), "f").unwrap_err().contains("permitted"));
        let v2 = text.replace("\"format_version\": 1", "\"format_version\": 2");
        assert!(AccessKeyStore::decode(v2.as_bytes(), "f").unwrap_err().contains("format_version"));
    }
}
