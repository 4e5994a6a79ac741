//! # tally: an embedded, Keen-compatible event analytics engine
//!
//! A Rust service links `tally`, records JSON events into named collections
//! and (with the query crate) answers Keen-style analyses over them.
//!
//! ## Data flow
//!
//! ```text
//! Engine (data dir, clock, durability)
//!   └─ Project (id, name, key digests)            projects/<id>/project.json
//!        └─ Collection (created on first write)   projects/<id>/collections/c-<hex name>/
//!             raw JSON ─parse+flatten─▶ FlatBatch ─WAL record+fsync─▶ head ─seal─▶ segment
//!                                                                   (Parquet + index sidecar)
//!             snapshot() = sealed segments + head rows: every acknowledged event
//! ```
//!
//! Writes are acknowledged once their WAL record is durable (with the
//! default [`Durability::Sync`]); the head is sealed into an immutable,
//! time-sorted, bitmap-indexed segment every
//! [`tally_ingest::DEFAULT_SEGMENT_ROWS`] rows or on [`Project::flush`].
//!
//! Deletes ([`Project::delete_events`], [`Project::delete_property`],
//! [`Project::delete_collection`]) seal the head, then commit a new
//! deletion vector per touched segment (or segments rewritten without a
//! deleted property, or the collection's directory renamed away) in one
//! manifest step: queries see them wholly or not at all.
//!
//! ## Example
//!
//! ```
//! use tally::{Engine, FixedClock};
//! # fn main() -> Result<(), tally::Error> {
//! let dir = tempfile::tempdir().expect("temp dir");
//! let engine = Engine::builder()
//!     .with_data_dir(dir.path())
//!     .with_clock(FixedClock::at(1_718_202_920_123))
//!     .open()?;
//! let (project, keys) = engine.create_project("shop")?;
//! assert_eq!(keys.master.expose().len(), 64);
//! project.record("purchases", br#"{"item": "gadget", "price": 25.5, "user": {"id": "u1"}}"#)?;
//! let schema = project.collection_schema("purchases")?;
//! assert_eq!(schema.properties["price"], "num");
//! assert_eq!(schema.properties["user.id"], "string");
//! assert_eq!(project.snapshot("purchases").map(|s| s.rows()), Some(1));
//! # Ok(()) }
//! ```
//!
//! ## Crate features
//!
//! - `test-util`: re-exports `SimStorage` (fault-injecting storage) for
//!   crash and I/O-error tests.
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod datasets;
mod deletes;
mod engine;
mod error;
mod ingest;
mod keyed;
mod keys;
mod organization;
mod project;
mod query;
mod saved;
mod schema;
mod versioned_json;

pub use datasets::{DATASETS_FILE, MAX_DATASET_PAGE, MAX_INDEX_PATHS};
pub use engine::{
    validate_project_id, Engine, EngineBuilder, DEFAULT_DATA_DIR, DEFAULT_QUERY_TIMEOUT, LOCK_FILE,
};
pub use error::{Error, Result};
pub use ingest::{
    BatchResponse, EventResult, IngestSummary, LineError, NdjsonOptions, MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS, MAX_REPORTED_ERRORS, NDJSON_BLOCK_BYTES,
};
pub use keyed::KeyedProject;
pub use keys::{ApiKey, KeyDigest, KeyDigests, KeyKind, ProjectKeys};
pub use organization::{Organization, ORGANIZATION_FILE};
pub use project::{Project, ProjectInfo};
pub use query::{ExtractionDelivery, ExtractionSink, FileExtractionSink, EXTRACTION_ACK};
pub use saved::{MAX_REFRESH_RATE, MIN_REFRESH_RATE, SAVED_QUERIES_FILE};
pub use schema::{CollectionSchema, PropertySchema};
pub use tally_ingest::{
    Clock, Collection, CollectionOptions, Durability, EventLimits, FixedClock, Snapshot,
    SystemClock,
};
pub use tally_keys::{Operation, Principal, Scope};
pub use tally_query::{
    parse_analysis, parse_query, parse_query_str, Query, QueryError, QueryErrorCode, Response,
};

/// The README's library example, compiled and run as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
