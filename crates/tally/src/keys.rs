//! Project keys and access keys (keen-semantics §8): resolution of a
//! caller's key, and access-key management (§8.5) on a [`Project`].
//!
//! Key material and the authorisation rules live in [`tally_keys`]; this
//! module keeps a project's access keys in `access_keys.json` (digests
//! only, see [`tally_keys::store`]) and resolves keys. Every change is
//! written (atomically) before it is visible, and takes effect for the
//! next request.

use serde_json::Value;
use tally_keys::{AccessKeyDef, AccessKeyStore, Principal};

use crate::error::{Error, Result};
use crate::project::Project;
use crate::versioned_json;

pub use tally_keys::{ApiKey, KeyDigest, KeyDigests, KeyKind, ProjectKeys};

/// The access-key file inside a project directory.
pub(crate) const ACCESS_KEYS_FILE: &str = "access_keys.json";

fn no_such_key() -> Error {
    Error::NotFound { what: "access key".into() }
}

impl Project {
    /// Who `key` is: one of the project's three keys, or an active access
    /// key. An unknown, malformed or revoked key is
    /// [`Error::InvalidApiKey`], identical in every case.
    pub fn principal(&self, key: &ApiKey) -> Result<Principal> {
        let digest = key.digest();
        let kind = self.key_digests().classify_digest(&digest);
        let store = self.access_key_store();
        let access = store.find_digest(&digest).map(|r| r.def.clone());
        match (kind, access) {
            (Some(KeyKind::Master), _) => Ok(Principal::Master),
            (Some(KeyKind::Write), _) => Ok(Principal::Write),
            (Some(KeyKind::Read), _) => Ok(Principal::Read),
            (_, Some(def)) if def.is_active => Ok(Principal::Access(def)),
            _ => Err(Error::InvalidApiKey),
        }
    }

    /// Which kind of key `key` is (see [`Project::principal`]).
    pub fn authenticate(&self, key: &ApiKey) -> Result<KeyKind> {
        Ok(match self.principal(key)? {
            Principal::Master => KeyKind::Master,
            Principal::Write => KeyKind::Write,
            Principal::Read => KeyKind::Read,
            Principal::Access(_) => KeyKind::Access,
        })
    }

    /// Creates an access key from a definition (keen-semantics §8.3) and
    /// answers the full key JSON, the only answer that shows the secret.
    pub fn create_access_key(&self, definition: &Value) -> Result<Value> {
        let def = AccessKeyDef::from_json(definition)?;
        let now = self.now_ms();
        let (key, record) = self.change_access_keys(|s| Ok(s.create(def, now)?))?;
        Ok(record.to_json(self.id(), Some(&key)))
    }

    /// Every access key, in creation order, with `"key": null`.
    pub fn access_keys(&self) -> Vec<Value> {
        let store = self.access_key_store();
        store.records().iter().map(|r| r.to_json(self.id(), None)).collect()
    }

    /// One access key, named by its text (or its unique 8-character
    /// `key_prefix`), with `"key": null`.
    pub fn access_key(&self, key: &str) -> Result<Value> {
        let store = self.access_key_store();
        store.get(key).map(|r| r.to_json(self.id(), None)).ok_or_else(no_such_key)
    }

    /// Updates an access key (keen-semantics §8.5): members sent replace
    /// the stored ones, the whole `options` object included.
    pub fn update_access_key(&self, key: &str, body: &Value) -> Result<Value> {
        let record = self.change_access_keys(|s| s.update(key, body)?.ok_or_else(no_such_key))?;
        Ok(record.to_json(self.id(), None))
    }

    /// Revokes an access key (`is_active` false): it is then refused like
    /// an unknown key.
    pub fn revoke_access_key(&self, key: &str) -> Result<Value> {
        let record =
            self.change_access_keys(|s| s.set_active(key, false).ok_or_else(no_such_key))?;
        Ok(record.to_json(self.id(), None))
    }

    /// Reactivates a revoked access key.
    pub fn unrevoke_access_key(&self, key: &str) -> Result<Value> {
        let record =
            self.change_access_keys(|s| s.set_active(key, true).ok_or_else(no_such_key))?;
        Ok(record.to_json(self.id(), None))
    }

    /// Deletes an access key for good.
    pub fn delete_access_key(&self, key: &str) -> Result<()> {
        self.change_access_keys(|s| if s.delete(key) { Ok(()) } else { Err(no_such_key()) })
    }

    /// Applies `f` to a copy of the store, writes the copy, then makes it
    /// current; on any error nothing changes.
    fn change_access_keys<T>(&self, f: impl FnOnce(&mut AccessKeyStore) -> Result<T>) -> Result<T> {
        let mut current = self.access_key_store_mut();
        versioned_json::change(&mut *current, f, |next| {
            versioned_json::write(self.storage(), self.dir(), ACCESS_KEYS_FILE, &next.encode())
        })
    }
}

/// Reads a project's access keys (none when the file does not exist).
/// The file's format, version included, is [`AccessKeyStore::decode`]'s.
pub(crate) fn load_access_keys(
    storage: &dyn tally_ingest::Storage,
    dir: &std::path::Path,
) -> Result<AccessKeyStore> {
    let Some(bytes) = versioned_json::read(storage, dir, ACCESS_KEYS_FILE)? else {
        return Ok(AccessKeyStore::new());
    };
    let path = dir.join(ACCESS_KEYS_FILE).display().to_string();
    AccessKeyStore::decode(&bytes, &path).map_err(|reason| Error::Corrupt { path, reason })
}
