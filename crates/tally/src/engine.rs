//! `Engine` and its builder: a data directory holding projects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tally_ingest::{Clock, CollectionOptions, Durability, StdStorage, Storage, SystemClock};

use crate::error::{Error, Result};
use crate::keys::ProjectKeys;
use crate::project::{Project, ProjectInfo};

/// Default data directory when none is given (the CLI's default).
pub const DEFAULT_DATA_DIR: &str = "./tally-data";

/// Builds an [`Engine`]: `Engine::builder().with_data_dir(dir).open()?`.
pub struct EngineBuilder {
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    storage: Option<Arc<dyn Storage>>,
    options: CollectionOptions,
    extraction_sink: Option<Arc<dyn crate::ExtractionSink>>,
    query_timeout: std::time::Duration,
}

/// Default query time limit (Keen's: 300 s).
pub const DEFAULT_QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("data_dir", &self.data_dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            clock: Arc::new(SystemClock),
            storage: None,
            options: CollectionOptions::default(),
            extraction_sink: None,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }
}

impl EngineBuilder {
    /// Where the engine keeps its files (default [`DEFAULT_DATA_DIR`]).
    pub fn with_data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.data_dir = dir.as_ref().to_path_buf();
        self
    }

    /// The clock for `keen.created_at` (default: the system clock).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// When acknowledged events become durable (default [`Durability::Sync`]).
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.options.durability = durability;
        self
    }

    /// Rows per sealed segment (default [`tally_ingest::DEFAULT_SEGMENT_ROWS`]).
    pub fn with_segment_rows(mut self, rows: usize) -> Self {
        self.options.segment_rows = rows.max(1);
        self
    }

    /// Per-event limits.
    pub fn with_event_limits(mut self, limits: tally_ingest::EventLimits) -> Self {
        self.options.limits = limits;
        self
    }

    /// The storage every file access goes through (default: the real file
    /// system). Tests pass a `SimStorage`.
    pub fn with_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Where asynchronous extractions (`email`, keen-semantics §9.5) go.
    /// Default: [`crate::FileExtractionSink`], CSV files under each
    /// project's `extractions/` directory.
    pub fn with_extraction_sink(mut self, sink: Arc<dyn crate::ExtractionSink>) -> Self {
        self.extraction_sink = Some(sink);
        self
    }

    /// How long one query may run before it fails with `QueryTimeoutError`
    /// (default [`DEFAULT_QUERY_TIMEOUT`], 300 s; checked before each
    /// segment's work).
    pub fn with_query_timeout(mut self, limit: std::time::Duration) -> Self {
        self.query_timeout = limit;
        self
    }

    /// Opens (creating if needed) the data directory and every project in it.
    pub fn open(self) -> Result<Engine> {
        // On the real file system, one engine per data directory: a second
        // process writing the same WALs would corrupt them.
        let lock = match &self.storage {
            Some(_) => None,
            None => Some(Arc::new(lock_data_dir(&self.data_dir)?)),
        };
        let storage = self.storage.unwrap_or_else(|| Arc::new(StdStorage::new()));
        let projects_dir = self.data_dir.join("projects");
        storage.create_dir_all(&projects_dir).map_err(|e| Error::io(&projects_dir, e))?;
        let organization = crate::organization::load(&*storage, &self.data_dir)?;
        let inner = Arc::new(EngineInner {
            organization: std::sync::Mutex::new(organization),
            data_dir: self.data_dir,
            storage,
            clock: self.clock,
            options: self.options,
            extraction_sink: self.extraction_sink,
            query_timeout: self.query_timeout,
            projects: RwLock::new(BTreeMap::new()),
            lock,
        });
        let mut projects = BTreeMap::new();
        for dir in inner.storage.list(&projects_dir).map_err(|e| Error::io(&projects_dir, e))? {
            if inner.storage.exists(&dir.join(crate::project::PROJECT_FILE)).unwrap_or(false) {
                let p = Project::open(inner.clone(), dir)?;
                projects.insert(p.id().to_string(), p);
            }
        }
        *inner.projects.write().unwrap_or_else(|p| p.into_inner()) = projects;
        Ok(Engine { inner })
    }
}

pub(crate) struct EngineInner {
    pub(crate) data_dir: PathBuf,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: CollectionOptions,
    pub(crate) extraction_sink: Option<Arc<dyn crate::ExtractionSink>>,
    pub(crate) query_timeout: std::time::Duration,
    projects: RwLock<BTreeMap<String, Project>>,
    /// The organization (keen-semantics §9.7), once created.
    organization: std::sync::Mutex<Option<crate::organization::OrganizationFile>>,
    /// The exclusive lock on `<data dir>/LOCK`, held while the engine or
    /// any of its projects lives (a project handle can still write).
    pub(crate) lock: Option<Arc<std::fs::File>>,
}

/// The lock file inside a data directory.
pub const LOCK_FILE: &str = "LOCK";

fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the data directory is in use by another tally engine",
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// The engine: a data directory of projects. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("data_dir", &self.inner.data_dir).finish()
    }
}

/// Checks a project id: 1–64 characters of `[A-Za-z0-9_-]` (it names a directory).
pub fn validate_project_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "project_id".into(),
            reason: "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'".into(),
        })
    }
}

impl Engine {
    /// A builder with the defaults.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub(crate) fn storage(&self) -> &dyn Storage {
        &*self.inner.storage
    }

    pub(crate) fn organization_file(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<crate::organization::OrganizationFile>> {
        self.inner.organization.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a project named `name` with a fresh random id and returns it
    /// with its keys (shown only here).
    pub fn create_project(&self, name: &str) -> Result<(Project, ProjectKeys)> {
        let mut id_bytes = [0u8; 12];
        getrandom::fill(&mut id_bytes).map_err(|e| Error::Io {
            path: "os random source".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        self.create_project_with_id(&hex::encode(id_bytes), name)
    }

    /// Creates a project with a chosen id.
    pub fn create_project_with_id(&self, id: &str, name: &str) -> Result<(Project, ProjectKeys)> {
        validate_project_id(id)?;
        if name.is_empty() || name.chars().count() > 256 {
            return Err(Error::InvalidParameter {
                name: "name".into(),
                reason: "must be 1-256 characters".into(),
            });
        }
        let mut projects = self.inner.projects.write().unwrap_or_else(|p| p.into_inner());
        if projects.contains_key(id) {
            return Err(Error::InvalidParameter {
                name: "project_id".into(),
                reason: format!("project {id:?} already exists"),
            });
        }
        let keys = ProjectKeys::generate()?;
        let dir = self.inner.data_dir.join("projects").join(id);
        let project = Project::create(self.inner.clone(), dir, id, name, &keys)?;
        projects.insert(id.to_string(), project.clone());
        Ok((project, keys))
    }

    /// The project with this id.
    pub fn project(&self, id: &str) -> Result<Project> {
        self.inner
            .projects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound { what: format!("project {id:?}") })
    }

    /// The project with this id, created (named after its id) if it does
    /// not exist yet. Returns the keys when it was created.
    pub fn project_or_create(&self, id: &str) -> Result<(Project, Option<ProjectKeys>)> {
        if let Ok(p) = self.project(id) {
            return Ok((p, None));
        }
        let (p, k) = self.create_project_with_id(id, id)?;
        Ok((p, Some(k)))
    }

    /// All projects, by id.
    pub fn projects(&self) -> Vec<ProjectInfo> {
        self.inner
            .projects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|p| p.info())
            .collect()
    }

    /// Seals every collection's head and makes everything durable.
    pub fn flush(&self) -> Result<()> {
        let projects: Vec<Project> = self
            .inner
            .projects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for p in projects {
            p.flush()?;
        }
        Ok(())
    }
}
