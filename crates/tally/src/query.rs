//! Queries on a project (keen-semantics §2–6, §9.5): every acknowledged
//! event is visible, sealed or still in the head.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tally_query::extract::{render_csv, MAX_ASYNC_EXTRACTION};
use tally_query::{parse_query, Query, Response};

use crate::error::{Error, Result};
use crate::project::Project;

/// The answer to an extraction with `email` (keen-semantics §9.5): the
/// events went to the engine's [`ExtractionSink`].
pub const EXTRACTION_ACK: &str = "Processing. The extraction was handed to the extraction sink.";

/// One asynchronous extraction (`email`), as handed to a sink.
#[derive(Debug)]
pub struct ExtractionDelivery<'a> {
    /// The project id.
    pub project: &'a str,
    /// The collection extracted.
    pub collection: &'a str,
    /// The `email` the request named.
    pub email: &'a str,
    /// The events, oldest first, as a JSON extraction returns them.
    pub events: Vec<Value>,
    /// The same events as CSV (keen-semantics §9.5).
    pub csv: String,
}

/// Receives asynchronous extractions: Keen mails a CSV link; an embedded
/// engine hands the events to its caller instead (up to
/// [`MAX_ASYNC_EXTRACTION`] events).
pub trait ExtractionSink: Send + Sync {
    /// Takes one extraction. An error fails the request.
    fn deliver(&self, delivery: ExtractionDelivery<'_>) -> Result<()>;
}

/// The default sink: writes each extraction's CSV to
/// `<dir>/<n>-<collection hex>.csv` through a [`tally_ingest::Storage`]
/// (written whole and fsynced, then the directory). Without
/// [`crate::EngineBuilder::with_extraction_sink`], `<dir>` is the
/// project's `extractions/` directory.
pub struct FileExtractionSink {
    storage: Arc<dyn tally_ingest::Storage>,
    dir: PathBuf,
    seq: AtomicU64,
}

impl std::fmt::Debug for FileExtractionSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileExtractionSink").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl FileExtractionSink {
    /// A sink writing into `dir` (created on first use) through `storage`.
    pub fn new(storage: Arc<dyn tally_ingest::Storage>, dir: impl Into<PathBuf>) -> Self {
        FileExtractionSink { storage, dir: dir.into(), seq: AtomicU64::new(0) }
    }
}

impl ExtractionSink for FileExtractionSink {
    fn deliver(&self, d: ExtractionDelivery<'_>) -> Result<()> {
        let storage = &*self.storage;
        storage.create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        // The first free sequence number (files from earlier runs stay).
        loop {
            let n = self.seq.fetch_add(1, Ordering::Relaxed);
            let path =
                self.dir.join(format!("{n:08}-{}.csv", hex::encode(d.collection.as_bytes())));
            if storage.exists(&path).map_err(|e| Error::io(&path, e))? {
                continue;
            }
            tally_ingest::write_new(storage, &path, d.csv.as_bytes())
                .map_err(|e| Error::io(&path, e))?;
            return storage.sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e));
        }
    }
}

impl Project {
    fn deliver_extraction(
        &self,
        q: &tally_query::Extraction,
        email: &str,
        now_ms: i64,
        deadline: tally_query::Deadline,
    ) -> Result<Response> {
        let source = |c: &str| self.snapshot(c);
        let events =
            tally_query::extract_events_until(q, now_ms, &source, MAX_ASYNC_EXTRACTION, deadline)?;
        let csv = render_csv(&events)?;
        let delivery = ExtractionDelivery {
            project: self.id(),
            collection: &q.event_collection,
            email,
            events,
            csv,
        };
        let (sink, dir, storage) = self.extraction_target();
        match sink {
            Some(s) => s.deliver(delivery)?,
            None => FileExtractionSink::new(storage, dir.join("extractions")).deliver(delivery)?,
        }
        let mut body = serde_json::Map::new();
        body.insert("result".into(), Value::from(EXTRACTION_ACK));
        Ok(Response::Json(Value::Object(body)))
    }
}

impl Project {
    /// Runs a validated query, "now" read once from the engine's clock.
    pub fn query(&self, query: &Query) -> Result<Response> {
        self.query_at(query, self.now_ms())
    }

    /// Runs a validated query with "now" = `now_ms` (Unix ms) for relative
    /// timeframes.
    ///
    /// An extraction with `email` goes to the engine's [`ExtractionSink`]
    /// and answers `{"result": EXTRACTION_ACK}`.
    pub fn query_at(&self, query: &Query, now_ms: i64) -> Result<Response> {
        let deadline = self.query_deadline();
        if let Query::Extraction(x) = query {
            if let Some(email) = &x.email {
                return self.deliver_extraction(x, email, now_ms, deadline);
            }
        }
        let source = |c: &str| self.snapshot(c);
        Ok(tally_query::execute_until(query, now_ms, &source, deadline)?)
    }

    /// Parses and runs a Keen query body: the POST body of keen-semantics
    /// §2 plus an `analysis_type` member.
    pub fn query_json(&self, body: &Value) -> Result<Response> {
        self.query_json_at(body, self.now_ms())
    }

    /// [`Project::query_json`] with "now" = `now_ms`.
    pub fn query_json_at(&self, body: &Value, now_ms: i64) -> Result<Response> {
        let q = parse_query(body)?;
        self.query_at(&q, now_ms)
    }
}
