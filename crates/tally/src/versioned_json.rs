//! The small JSON files of a data directory (`organization.json`) and of a
//! project (`access_keys.json`, `saved_queries.json`, `datasets.json`):
//! read if present, version-checked, replaced atomically, and the
//! copy-change-write-swap step that keeps memory and disk in agreement.
//!
//! Every such file is pretty-printed JSON whose first member is
//! `"format_version"`; this build reads and writes [`FORMAT_VERSION`].

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tally_ingest::Storage;

use crate::error::{Error, Result};

/// The format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A file's top-level struct: knows the `format_version` it was read with.
pub(crate) trait Versioned {
    /// The file's `format_version` member.
    fn format_version(&self) -> u32;
}

/// The bytes of `dir/name`, or `None` when there is no such file.
pub(crate) fn read(storage: &dyn Storage, dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    if !storage.exists(&path).map_err(|e| Error::io(&path, e))? {
        return Ok(None);
    }
    tally_ingest::read_all(storage, &path).map(Some).map_err(|e| Error::io(&path, e))
}

/// Reads and parses `dir/name` (`None` when there is no such file). Text
/// that does not parse, or another format version, is [`Error::Corrupt`]
/// naming the file's path.
pub(crate) fn load<T: DeserializeOwned + Versioned>(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
) -> Result<Option<T>> {
    let Some(bytes) = read(storage, dir, name)? else { return Ok(None) };
    let corrupt =
        |reason: String| Error::Corrupt { path: dir.join(name).display().to_string(), reason };
    let file: T = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.format_version() != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format_version {} (this build reads {FORMAT_VERSION})",
            file.format_version()
        )));
    }
    Ok(Some(file))
}

/// Replaces `dir/name` atomically with `bytes`.
pub(crate) fn write(storage: &dyn Storage, dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    tally_ingest::replace_atomic(storage, &path, bytes).map_err(|e| Error::io(&path, e))
}

/// Replaces `dir/name` atomically with `file`, pretty-printed.
pub(crate) fn save<T: Serialize>(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    file: &T,
) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(file)
        .map_err(|e| Error::Corrupt { path: name.into(), reason: e.to_string() })?;
    write(storage, dir, name, &bytes)
}

/// Applies `change` to a copy of `current`, persists the copy with
/// `persist`, and only then makes it current: on any error `current` is
/// untouched. Call it holding the write lock that guards `current`.
pub(crate) fn change<T: Clone, R>(
    current: &mut T,
    change: impl FnOnce(&mut T) -> Result<R>,
    persist: impl FnOnce(&T) -> Result<()>,
) -> Result<R> {
    let mut next = current.clone();
    let out = change(&mut next)?;
    persist(&next)?;
    *current = next;
    Ok(out)
}
