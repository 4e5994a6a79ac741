//! Deletes (keen-semantics §9.6): events by selection, a property, the
//! whole collection.
//!
//! Every delete runs under the writer lock and starts by sealing the head,
//! so every acknowledged event is in a sealed segment when it decides what
//! to delete, and appends wait until it is done: a query sees a delete
//! wholly or not at all, and an event acknowledged after the delete
//! returned is never deleted by it.
//!
//! - **Events** ([`Collection::delete_events`]): the caller picks the rows
//!   from a snapshot (the query crate evaluates filters and timeframe);
//!   each touched segment gets a new deletion-vector generation
//!   (`seg-<id>-<manifest generation>.del`, the old vector ∪ the new rows),
//!   written and synced, then ONE manifest names them all. Parquet files are
//!   never rewritten; a segment whose every row is deleted leaves the
//!   manifest and its files are removed. Uniqueness tokens of deleted
//!   events stay remembered (§1.8: for the life of the collection).
//! - **A property** ([`Collection::delete_property`]): every segment holding
//!   one of its columns is written again without them under a new segment
//!   id (the data leaves the disk, not only the schema), the columns are
//!   dropped from the schema ([`crate::Schema::drop_columns`]) and their
//!   dictionaries from the manifest, all in one manifest commit. Later
//!   events with that property start new columns.
//! - **The collection** ([`Collection::delete_collection`]): its MANIFEST
//!   is removed and the directory synced (the commit point: a collection
//!   directory without a manifest never holds an acknowledged event, see
//!   [`Collection::open`]), then the directory is removed. A crash before
//!   that finishes leaves a directory without a manifest, which
//!   [`Collection::is_deleted_dir`] tells the owner of the parent directory
//!   to remove. The handle (and every clone) then refuses everything with
//!   [`IngestError::Deleted`].
//!
//! Files a delete replaced are removed after the commit; if that fails they
//! are leftovers the next open removes. A failed manifest write poisons the
//! collection (as a failed seal does): the state on disk may be either.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{finish_seal, Collection, Writer};
use crate::error::{IngestError, Result};
use crate::manifest::MANIFEST_FILE;
use crate::persist::{deletes_file_name, write_deletes, write_segment};
use crate::resolve::{next_instance, Catalog};
use crate::snapshot::Snapshot;
use crate::storage::replace_atomic;
use crate::value::{ColumnId, SegmentId};

impl Collection {
    /// True when `dir` is a collection directory without a manifest: a
    /// deleted collection whose files were not all removed yet (a crash
    /// during [`Collection::delete_collection`]), or one whose creation
    /// never finished; either way it holds no acknowledged event. Whoever
    /// lists collection directories removes such a one instead of opening
    /// it (opening would make it an empty collection again).
    pub fn is_deleted_dir(storage: &dyn crate::Storage, dir: &Path) -> Result<bool> {
        let manifest = dir.join(MANIFEST_FILE);
        Ok(!storage.exists(&manifest).map_err(|e| IngestError::io(&manifest, e))?)
    }

    /// Seals the head (and commits a background seal) so every
    /// acknowledged event is in `w.segments`.
    fn seal_all_locked(&self, w: &mut Writer) -> Result<()> {
        finish_seal(&*self.inner.storage, &self.inner.dir, w, true)?;
        if !w.head.is_empty() {
            self.seal_locked(w)?;
        }
        Ok(())
    }

    /// Writes `manifest` as the collection's manifest; poisons on error.
    fn commit_manifest(&self, w: &mut Writer, manifest: crate::Manifest) -> Result<()> {
        let path = self.inner.dir.join(MANIFEST_FILE);
        let bytes = manifest.encode()?;
        if let Err(e) = replace_atomic(&*self.inner.storage, &path, &bytes) {
            w.poisoned = true;
            return Err(IngestError::io(&path, e));
        }
        w.manifest = manifest;
        w.published = None;
        Ok(())
    }

    /// Removes replaced files after a commit; a failure leaves garbage the
    /// next open removes, never a wrong state.
    fn remove_replaced(&self, names: &[String]) {
        for name in names {
            let _ = self.inner.storage.remove(&self.inner.dir.join(name));
        }
    }

    /// Deletes events (keen-semantics §9.6). `select` gets a snapshot holding
    /// every acknowledged event, all in sealed segments, and returns the rows
    /// to delete per segment id (rows already deleted or past a segment's
    /// end are ignored; an unknown segment id is an internal error). Returns
    /// how many events were deleted.
    ///
    /// The head is sealed first and appends wait until the delete is done,
    /// so a query sees it wholly or not at all and an event acknowledged
    /// after it returns is never deleted by it. Each touched segment gets a
    /// new deletion-vector file, then one manifest commit names them all
    /// (Parquet files are not rewritten; a segment with no live row left
    /// leaves the manifest and its files are removed). Uniqueness tokens of
    /// deleted events stay remembered (§1.8).
    pub fn delete_events<E, F>(&self, select: F) -> std::result::Result<u64, E>
    where
        E: From<IngestError>,
        F: FnOnce(&Snapshot) -> std::result::Result<Vec<(SegmentId, RoaringBitmap)>, E>,
    {
        let mut w = self.lock();
        self.refuse_if_closed(&w)?;
        self.seal_all_locked(&mut w)?;
        let snap = Snapshot::new(
            self.inner.name.clone(),
            w.segments.clone(),
            Arc::new(w.schema.clone()),
            w.dicts.clone(),
        );
        let picks = select(&snap)?;
        drop(snap);
        Ok(self.apply_deletes(&mut w, picks)?)
    }

    fn apply_deletes(&self, w: &mut Writer, picks: Vec<(SegmentId, RoaringBitmap)>) -> Result<u64> {
        let storage = &*self.inner.storage;
        let dir = &self.inner.dir;
        let generation = w.manifest.generation + 1;
        let mut manifest = w.manifest.clone();
        let mut segments = w.segments.clone();
        let mut replaced: Vec<String> = Vec::new();
        let mut emptied: HashSet<SegmentId> = HashSet::new();
        let mut total = 0u64;
        for (id, rows) in picks {
            let Some(i) = segments.iter().position(|s| s.id() == id) else {
                return Err(IngestError::Internal(format!(
                    "a delete named segment {id}, which the collection does not hold"
                )));
            };
            let seg = &segments[i];
            let mut deleted = seg.deleted().clone();
            let before = deleted.len();
            deleted |= rows;
            deleted.remove_range(seg.len() as u32..);
            let added = deleted.len() - before;
            if added == 0 {
                continue;
            }
            total += added;
            let entry = manifest.segments.iter_mut().find(|f| f.id == id).ok_or_else(|| {
                IngestError::Internal(format!("segment {id} is not in the manifest"))
            })?;
            if deleted.len() == seg.len() as u64 {
                // Nothing of it is left: it leaves the collection.
                emptied.insert(id);
                replaced.push(entry.parquet.name.clone());
                replaced.push(entry.index.name.clone());
                replaced.extend(entry.deletes.as_ref().map(|d| d.name.clone()));
                continue;
            }
            let name = deletes_file_name(id, generation);
            remove_leftover(storage, dir, &name)?;
            let info = write_deletes(storage, dir, id, generation, &deleted)?;
            if let Some(old) = entry.deletes.replace(info) {
                replaced.push(old.name);
            }
            segments[i] = Arc::new(seg.with_deleted(deleted));
        }
        if total == 0 {
            return Ok(0);
        }
        manifest.segments.retain(|f| !emptied.contains(&f.id));
        segments.retain(|s| !emptied.contains(&s.id()));
        manifest.generation = generation;
        storage.sync_dir(dir).map_err(|e| IngestError::io(dir, e))?;
        self.commit_manifest(w, manifest)?;
        w.segments = segments;
        self.remove_replaced(&replaced);
        Ok(total)
    }

    /// Deletes property `path` from every event of the collection and from
    /// its schema (keen-semantics §9.6): every type of `path` and of every
    /// path below it (`path.` + anything, our choice: an object property
    /// goes with its members). Returns the number of typed columns dropped;
    /// [`IngestError::NotFound`] when the collection has no such property.
    /// The caller keeps `keen.*` out.
    ///
    /// After sealing the head, every segment holding one of the columns is
    /// written again without them under a new segment id (the values leave
    /// the disk, not only the schema); the columns are dropped from the
    /// schema ([`crate::Schema::drop_columns`]) and their dictionaries from
    /// the manifest in the same commit. Later events with that property
    /// start new columns.
    pub fn delete_property(&self, path: &str) -> Result<usize> {
        let mut w = self.lock();
        self.refuse_if_closed(&w)?;
        let drop_ids: Vec<ColumnId> = w.schema.columns_under(path);
        if drop_ids.is_empty() {
            return Err(IngestError::NotFound {
                what: format!("property {path:?} of collection {:?}", self.inner.name),
            });
        }
        self.seal_all_locked(&mut w)?;
        let storage = &*self.inner.storage;
        let dir = &self.inner.dir;
        let mut schema = w.schema.clone();
        schema.drop_columns(&drop_ids);
        let mut manifest = w.manifest.clone();
        let mut segments = w.segments.clone();
        let mut replaced: Vec<String> = Vec::new();
        let mut next_id = manifest.next_segment_id;
        for (i, seg) in w.segments.iter().enumerate() {
            if !drop_ids.iter().any(|&c| seg.column(c).is_some()) {
                continue;
            }
            let rewritten = seg.without_columns(&drop_ids, next_id);
            next_id += 1;
            let files = write_segment(storage, dir, &rewritten, &w.schema, &w.dicts)?;
            let entry =
                manifest.segments.iter_mut().find(|f| f.id == seg.id()).ok_or_else(|| {
                    IngestError::Internal(format!("segment {} is not in the manifest", seg.id()))
                })?;
            let old = std::mem::replace(entry, files);
            replaced.push(old.parquet.name);
            replaced.push(old.index.name);
            replaced.extend(old.deletes.map(|d| d.name));
            segments[i] = Arc::new(rewritten);
        }
        manifest.next_segment_id = next_id;
        manifest.generation += 1;
        manifest.schema = schema.clone();
        manifest.dictionaries.retain(|d| {
            let gone = drop_ids.contains(&d.column);
            if gone {
                replaced.push(d.file.clone());
            }
            !gone
        });
        storage.sync_dir(dir).map_err(|e| IngestError::io(dir, e))?;
        self.commit_manifest(&mut w, manifest)?;
        w.segments = segments;
        for &c in &drop_ids {
            w.dicts.remove(c);
        }
        w.schema = schema;
        // Ids resolved ahead against the old schema may name dropped
        // columns: a new instance makes every append ignore them.
        w.instance = next_instance();
        let catalog = Catalog {
            schema: Arc::new(w.schema.clone()),
            dicts: w.dicts.clone(),
            instance: w.instance,
        };
        *self.inner.catalog.write().unwrap_or_else(|p| p.into_inner()) = catalog;
        self.remove_replaced(&replaced);
        Ok(drop_ids.len())
    }

    /// Deletes the collection: its events, schema, dictionaries and
    /// uniqueness tokens (keen-semantics §9.6). The manifest is removed and
    /// the directory synced (the commit point), then the directory is
    /// removed (see [`Collection::is_deleted_dir`] for what a crash leaves).
    /// When it returns `Ok` the deletion is durable; this handle and its clones
    /// refuse every later call with [`IngestError::Deleted`], and snapshots
    /// taken after it are empty.
    pub fn delete_collection(&self) -> Result<()> {
        let mut w = self.lock();
        if w.deleted {
            return Err(IngestError::Deleted { collection: self.inner.name.clone() });
        }
        // A background seal writes into the directory: let it finish first
        // (its result no longer matters).
        if let Some(s) = w.sealing.as_mut() {
            if let Some(job) = s.job.take() {
                let _ = job.join();
            }
        }
        let storage = &*self.inner.storage;
        let dir = &self.inner.dir;
        let manifest = dir.join(MANIFEST_FILE);
        storage.remove(&manifest).map_err(|e| IngestError::io(&manifest, e))?;
        // From here the collection has no manifest: even if the sync fails
        // the handle must not write into its directory again.
        w.deleted = true;
        w.sealing = None;
        w.segments.clear();
        w.head = crate::head::Head::new();
        w.frozen.clear();
        w.frozen_upto = 0;
        w.published = None;
        w.older_wals.clear();
        w.schema = crate::schema::Schema::new();
        w.dicts = crate::dict::Dicts::new();
        storage.sync_dir(dir).map_err(|e| IngestError::io(dir, e))?;
        let _ = storage.remove_dir_all(dir);
        if let Some(parent) = dir.parent() {
            let _ = storage.sync_dir(parent);
        }
        Ok(())
    }
}

/// Removes `name` in `dir` if an earlier, failed attempt left it.
fn remove_leftover(storage: &dyn crate::Storage, dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(name);
    if storage.exists(&path).map_err(|e| IngestError::io(&path, e))? {
        storage.remove(&path).map_err(|e| IngestError::io(&path, e))?;
    }
    Ok(())
}
