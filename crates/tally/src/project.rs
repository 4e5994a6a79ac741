//! `Project`: one project's collections, keys and the write/read entry points.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use tally_ingest::{
    parse_event, validate_collection_name, Collection, FlatBatch, IngestError, OpenReport, Snapshot,
};

use crate::engine::EngineInner;

/// What a project needs from its engine (no back-reference: the engine owns
/// its projects, so a project holding the engine would be a cycle).
#[derive(Clone)]
pub(crate) struct Env {
    pub(crate) storage: Arc<dyn tally_ingest::Storage>,
    pub(crate) clock: Arc<dyn tally_ingest::Clock>,
    pub(crate) options: tally_ingest::CollectionOptions,
    pub(crate) extraction_sink: Option<Arc<dyn crate::ExtractionSink>>,
    pub(crate) query_timeout: std::time::Duration,
    /// The data directory's lock: a project that outlives its engine keeps
    /// it, so no second engine can open the directory while it can write.
    _lock: Option<Arc<std::fs::File>>,
}

impl Env {
    fn of(engine: &EngineInner) -> Env {
        Env {
            _lock: engine.lock.clone(),
            storage: engine.storage.clone(),
            clock: engine.clock.clone(),
            options: engine.options.clone(),
            extraction_sink: engine.extraction_sink.clone(),
            query_timeout: engine.query_timeout,
        }
    }
}
use crate::error::{Error, Result};
use crate::keys::{KeyDigests, ProjectKeys};

/// The project file inside a project directory.
pub(crate) const PROJECT_FILE: &str = "project.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProjectFile {
    format_version: u32,
    id: String,
    name: String,
    keys: KeyDigests,
    /// The organization API's `users` (keen-semantics §9.7), kept as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    users: Vec<serde_json::Value>,
}

/// A project's public description (never its keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectInfo {
    /// The project id.
    pub id: String,
    /// The project's name.
    pub name: String,
    /// Collection names, sorted.
    pub collections: Vec<String>,
}

/// A handle to one project. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Project {
    inner: Arc<ProjectInner>,
}

struct ProjectInner {
    engine: Env,
    dir: PathBuf,
    /// The project file; writers hold the lock while it is replaced.
    file: RwLock<ProjectFile>,
    /// The id (fixed: it names the directory).
    id: String,
    collections: RwLock<BTreeMap<String, Collection>>,
    open_reports: RwLock<Vec<(String, OpenReport)>>,
    /// Access keys; writers hold the write lock while the file is replaced.
    access_keys: RwLock<tally_keys::AccessKeyStore>,
    /// Saved and cached queries.
    saved: crate::saved::SavedQueries,
    /// Cached datasets.
    datasets: crate::datasets::Datasets,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project").field("id", &self.inner.id).finish()
    }
}

/// Directory name of a collection: `c-` + hex of its (ASCII) name, so no
/// name can ever escape or collide in the file system.
fn collection_dir_name(name: &str) -> String {
    format!("c-{}", hex::encode(name.as_bytes()))
}

fn collection_name_from_dir(dir: &str) -> Option<String> {
    let hex_part = dir.strip_prefix("c-")?;
    String::from_utf8(hex::decode(hex_part).ok()?).ok()
}

impl Project {
    pub(crate) fn create(
        engine: Arc<EngineInner>,
        dir: PathBuf,
        id: &str,
        name: &str,
        keys: &ProjectKeys,
    ) -> Result<Project> {
        let storage = &*engine.storage;
        let file = ProjectFile {
            format_version: 1,
            id: id.to_string(),
            name: name.to_string(),
            keys: KeyDigests::of(keys),
            users: Vec::new(),
        };
        let cdir = dir.join("collections");
        storage.create_dir_all(&cdir).map_err(|e| Error::io(&cdir, e))?;
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Corrupt { path: PROJECT_FILE.into(), reason: e.to_string() })?;
        let path = dir.join(PROJECT_FILE);
        tally_ingest::replace_atomic(storage, &path, &bytes).map_err(|e| Error::io(&path, e))?;
        if let Some(parent) = dir.parent() {
            storage.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
        Ok(Project {
            inner: Arc::new(ProjectInner {
                engine: Env::of(&engine),
                dir,
                id: file.id.clone(),
                file: RwLock::new(file),
                collections: RwLock::new(BTreeMap::new()),
                open_reports: RwLock::new(Vec::new()),
                access_keys: RwLock::new(tally_keys::AccessKeyStore::new()),
                saved: crate::saved::SavedQueries::default(),
                datasets: crate::datasets::Datasets::default(),
            }),
        })
    }

    pub(crate) fn open(engine: Arc<EngineInner>, dir: PathBuf) -> Result<Project> {
        let storage = engine.storage.clone();
        let path = dir.join(PROJECT_FILE);
        let bytes = tally_ingest::read_all(&*storage, &path).map_err(|e| Error::io(&path, e))?;
        let file: ProjectFile = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let access_keys = crate::keys::load_access_keys(&*storage, &dir)?;
        let saved = crate::saved::SavedQueries::load(&*storage, &dir)?;
        let datasets = crate::datasets::Datasets::load(&*storage, &dir)?;
        let mut collections = BTreeMap::new();
        let mut reports = Vec::new();
        let cdir = dir.join("collections");
        storage.create_dir_all(&cdir).map_err(|e| Error::io(&cdir, e))?;
        for d in storage.list(&cdir).map_err(|e| Error::io(&cdir, e))? {
            let Some(name) =
                d.file_name().and_then(|n| n.to_str()).and_then(collection_name_from_dir)
            else {
                continue;
            };
            if Collection::is_deleted_dir(&*storage, &d)? {
                // A collection delete that did not finish removing the
                // directory (its manifest was gone: it is deleted), or a
                // creation that never committed: nothing acknowledged.
                storage.remove_dir_all(&d).map_err(|e| Error::io(&d, e))?;
                continue;
            }
            let (c, report) = Collection::open(
                storage.clone(),
                d,
                &name,
                engine.clock.clone(),
                engine.options.clone(),
            )?;
            reports.push((name.clone(), report));
            collections.insert(name, c);
        }
        Ok(Project {
            inner: Arc::new(ProjectInner {
                engine: Env::of(&engine),
                dir,
                id: file.id.clone(),
                file: RwLock::new(file),
                collections: RwLock::new(collections),
                open_reports: RwLock::new(reports),
                access_keys: RwLock::new(access_keys),
                saved,
                datasets,
            }),
        })
    }

    /// The extraction sink and the project directory (for the default sink).
    pub(crate) fn extraction_target(
        &self,
    ) -> (Option<Arc<dyn crate::ExtractionSink>>, &std::path::Path, Arc<dyn tally_ingest::Storage>)
    {
        (
            self.inner.engine.extraction_sink.clone(),
            &self.inner.dir,
            self.inner.engine.storage.clone(),
        )
    }

    /// The deadline of a query starting now.
    pub(crate) fn query_deadline(&self) -> tally_query::Deadline {
        tally_query::Deadline::after(self.inner.engine.query_timeout)
    }

    /// "Now" from the engine's clock (Unix ms).
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.engine.clock.now_ms()
    }

    /// The project id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The project's name.
    pub fn name(&self) -> String {
        self.inner.file.read().unwrap_or_else(|p| p.into_inner()).name.clone()
    }

    /// The organization API's `users` of the project, as given.
    pub fn users(&self) -> Vec<serde_json::Value> {
        self.inner.file.read().unwrap_or_else(|p| p.into_inner()).users.clone()
    }

    /// Renames the project and/or replaces its `users` (keen-semantics
    /// §9.7), writing `project.json` before the change is visible.
    pub(crate) fn update_meta(
        &self,
        name: Option<String>,
        users: Option<Vec<serde_json::Value>>,
    ) -> Result<()> {
        let mut file = self.inner.file.write().unwrap_or_else(|p| p.into_inner());
        let mut next = file.clone();
        if let Some(n) = name {
            next.name = n;
        }
        if let Some(u) = users {
            next.users = u;
        }
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| Error::Corrupt { path: PROJECT_FILE.into(), reason: e.to_string() })?;
        let path = self.inner.dir.join(PROJECT_FILE);
        tally_ingest::replace_atomic(self.storage(), &path, &bytes)
            .map_err(|e| Error::io(&path, e))?;
        *file = next;
        Ok(())
    }

    /// Id, name and collections.
    pub fn info(&self) -> ProjectInfo {
        ProjectInfo {
            id: self.id().to_string(),
            name: self.name(),
            collections: self.collection_names(),
        }
    }

    /// What opening each collection found (replayed WAL records, torn tails).
    pub fn open_reports(&self) -> Vec<(String, OpenReport)> {
        self.inner.open_reports.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The digests of the project's three keys.
    pub(crate) fn key_digests(&self) -> KeyDigests {
        self.inner.file.read().unwrap_or_else(|p| p.into_inner()).keys.clone()
    }

    pub(crate) fn access_key_store(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, tally_keys::AccessKeyStore> {
        self.inner.access_keys.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn access_key_store_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, tally_keys::AccessKeyStore> {
        self.inner.access_keys.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn saved_queries(&self) -> &crate::saved::SavedQueries {
        &self.inner.saved
    }

    pub(crate) fn dataset_store(&self) -> &crate::datasets::Datasets {
        &self.inner.datasets
    }

    /// The project directory.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.inner.dir
    }

    /// The engine's storage.
    pub(crate) fn storage(&self) -> &dyn tally_ingest::Storage {
        &*self.inner.engine.storage
    }

    /// Sorted collection names.
    pub fn collection_names(&self) -> Vec<String> {
        self.inner.collections.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// The collection map, locked for a change (a collection delete).
    pub(crate) fn collections_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Collection>> {
        self.inner.collections.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the collection `name` (created on first write); if the
    /// collection was deleted between the lookup and `f`, runs it once more
    /// on the new collection of that name (a write after a delete starts
    /// the collection again, as Keen's does).
    pub(crate) fn with_live_collection<T>(
        &self,
        name: &str,
        f: impl Fn(&Collection) -> tally_ingest::Result<T>,
    ) -> Result<T> {
        for _ in 0..2 {
            match f(&self.collection_or_create(name)?) {
                Err(IngestError::Deleted { .. }) => continue,
                other => return other.map_err(Error::from),
            }
        }
        f(&self.collection_or_create(name)?).map_err(Error::from)
    }

    /// An existing collection.
    pub fn collection(&self, name: &str) -> Option<Collection> {
        self.inner.collections.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// An existing collection, or a new one (collections are created on first write).
    pub fn collection_or_create(&self, name: &str) -> Result<Collection> {
        if let Some(c) = self.collection(name) {
            return Ok(c);
        }
        validate_collection_name(name)?;
        let mut map = self.inner.collections.write().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        let engine = &self.inner.engine;
        let dir = self.inner.dir.join("collections").join(collection_dir_name(name));
        let (c, _) = Collection::open(
            engine.storage.clone(),
            dir,
            name,
            engine.clock.clone(),
            engine.options.clone(),
        )?;
        map.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// The read snapshot of a collection (`None` if it never received an event).
    pub fn snapshot(&self, collection: &str) -> Option<Arc<Snapshot>> {
        self.collection(collection).map(|c| c.snapshot())
    }

    /// Records one event (keen-semantics §1.1). `Ok` means acknowledged.
    pub fn record(&self, collection: &str, event: &[u8]) -> Result<()> {
        validate_collection_name(collection)?;
        let mut batch = FlatBatch::new();
        parse_event(event, &mut batch, &self.inner.engine.options.limits)?;
        let out = self.with_live_collection(collection, |c| c.append(&batch, &[0]))?;
        match out.results.into_iter().next() {
            Some(r) => r.map_err(Error::from),
            None => Err(Error::Ingest(IngestError::Internal("no result for one event".into()))),
        }
    }

    /// Seals every collection's head.
    pub fn flush(&self) -> Result<()> {
        let cols: Vec<Collection> = self
            .inner
            .collections
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        // Collections seal independently: one scoped thread each (not rayon,
        // whose workers could pick up an append waiting on a lock held here).
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                cols.iter().map(|c| scope.spawn(move || c.flush().map_err(Error::from))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Ingest(IngestError::Internal("a seal thread panicked".into())))
                    })
                })
                .collect()
        });
        results.into_iter().collect()
    }

    pub(crate) fn limits(&self) -> &tally_ingest::EventLimits {
        &self.inner.engine.options.limits
    }
}
