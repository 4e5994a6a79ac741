//! # tally-ingest: JSON events in, durable indexed segments out
//!
//! ## Data flow
//!
//! ```text
//! raw JSON ──parse_event──▶ FlatBatch ──Collection::append──▶ WAL record (+ fsync) ──▶ Head
//!   (event.rs, streaming       (flat.rs: one arena       (collection.rs, wal.rs;     (head.rs)
//!    serde visitor: names,      per batch, dotted         the batch in binary,          │ seal at
//!    limits, keen.*, types)     paths, typed values)      walpart.rs)                   ▼ segment_rows
//!                                                        Segment: rows sorted by keen.timestamp,
//!                                                        Arrow arrays, presence + value bitmaps,
//!                                                        statistics (segment/) ──persist.rs──▶
//!                                                        seg-N.parquet + seg-N.idx, dict-C.dict,
//!                                                        MANIFEST replaced atomically (manifest.rs)
//! ```
//!
//! Readers call [`Collection::snapshot`]: an immutable [`Snapshot`] of the
//! sealed segments plus the head's rows (frozen into in-memory segments), so
//! every acknowledged event is visible (read-your-writes).
//!
//! Every file's byte layout is in [`formats`].
//!
//! ## Principal types
//!
//! - [`parse_event`] / [`EventParser`]: raw bytes to a [`FlatBatch`]; every
//!   rule of keen-semantics §1.3–1.6 with Keen's [`ErrorCode`]s.
//! - [`Collection`]: the write path and durability of one collection, and
//!   its deletes (events, a property, the whole collection).
//! - [`encode_wal_part`]: a batch's events in the binary form WAL records
//!   hold, for parallel parsers to make ahead of the append.
//! - [`Schema`]: (path, type) ↔ [`ColumnId`]; one typed column per pair, so
//!   a type conflict keeps both values.
//! - [`Dictionary`]: one append-only dictionary per (collection, string or
//!   list column); ids are shared by every segment and stable across reopen.
//! - [`Segment`]: an immutable, time-sorted, indexed block of rows.
//! - [`Storage`]: the one trait all file I/O goes through ([`StdStorage`],
//!   and `SimStorage` behind the `test-util` feature).
//!
//! ## Choices the spec leaves open
//!
//! - Durability: [`Durability::Sync`] (default) fsyncs the WAL before an
//!   append returns; [`Durability::Buffered`] writes to the OS before
//!   acknowledging but fsyncs only at seal, flush, close and every
//!   [`BUFFERED_SYNC_BYTES`]; a power loss can then lose batches
//!   acknowledged since the last fsync (a process kill loses nothing).
//! - WAL recovery: a torn tail (an incomplete or invalid last record with no
//!   valid record after it) is truncated and reported in [`OpenReport`];
//!   anything else is [`IngestError::Corrupt`] naming the file, never skipped.
//! - A failed WAL write or fsync poisons the collection until reopen.
//! - A `num` column is Int64 in a segment where every value is an integer,
//!   else Float64 (integers beyond 2^53 in such a mixed segment round).
//! - `keen.addons` is accepted and dropped; writer-sent `keen.created_at`
//!   and `keen.id` are replaced.
//!
//! ## Crate features
//!
//! - `test-util`: exposes `SimStorage`, a fault-injecting, crash-simulating
//!   [`Storage`] for crash-enumeration and I/O-error suites.
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod collection;
mod datetime;
mod dict;
mod error;
mod event;
mod flat;
pub mod formats {
    #![doc = include_str!("../FORMATS.md")]
}
pub mod generator;
mod head;
mod manifest;
mod names;
mod persist;
mod pqstr;
mod resolve;
mod schema;
mod segment;
#[cfg(any(test, feature = "test-util"))]
mod sim;
mod snapshot;
mod storage;
mod storage_std;
#[cfg(test)]
mod testutil;
mod value;
mod wal;
mod walpart;

pub use clock::{Clock, FixedClock, SystemClock};
pub use collection::{
    AppendOutcome, AppendPart, Collection, CollectionOptions, Durability, OpenReport,
    BACKGROUND_SEAL_MIN_ROWS, BUFFERED_SYNC_BYTES, DEFAULT_SEGMENT_ROWS,
};
pub use datetime::{format_datetime, parse_timestamp, parse_zoned_datetime};
pub use dict::{
    list_elem_text, DictFileState, DictReader, DictWriter, Dictionary, Dicts, DICT_MAGIC,
};
pub use error::{ErrorCode, IngestError, Limit, Result};
pub use event::{parse_event, parse_event_at, EventParser, MAX_UNIQUENESS_TOKEN_CHARS};
pub use flat::{
    BatchMark, EventLimits, FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue, StrRef,
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_LIST_LEN, DEFAULT_MAX_PROPERTIES,
    DEFAULT_MAX_PROPERTY_NAME_CHARS, DEFAULT_MAX_STRING_CHARS,
};
pub use generator::{Generator, GeneratorConfig};
pub use head::{uniqueness_token_seen, BatchPlan, Head, HeadColumn, HeadValues, Num};
pub use manifest::{DictFileEntry, Manifest, MANIFEST_FILE, MANIFEST_MAGIC, MANIFEST_VERSION};
pub use names::{
    cursor_kind, infer_timestamp, is_number_like_type, is_string_like_type,
    sanitize_collection_name, validate_collection_name, CursorKind, MAX_COLLECTION_NAME_CHARS,
};
pub use persist::{
    deletes_file_name, encode_parquet, encode_sidecar, index_file_name, parquet_file_name,
    read_segment, write_deletes, write_segment, FileInfo, SegmentFiles, DEL_MAGIC, IDX_MAGIC,
    PARQUET_ZSTD_LEVEL, SEGMENT_FORMAT_VERSION,
};
pub use resolve::Resolved;
pub use schema::{
    Schema, SchemaColumn, CREATED_AT_COLUMN, DEFAULT_MAX_COLUMNS, ID_COLUMN, LOCATION_PATH,
    TIMESTAMP_COLUMN, UNIQUENESS_TOKEN_PATH,
};
pub use segment::{
    build_segment, ColumnData, ColumnStats, EventIds, Ints, MixedNums, NumArray, Segment,
    SegmentColumn, StatValue, StrIds, ValueIndex, INDEX_BITMAP_MIN_ROWS,
};
#[cfg(any(test, feature = "test-util"))]
pub use sim::{CrashModel, FaultKind, FaultPlan, Persistence, SimStorage};
pub use snapshot::Snapshot;
pub use storage::{read_all, replace_atomic, write_new, Storage, StorageFile};
pub use storage_std::StdStorage;
pub use value::{ColumnId, ColumnKey, DictId, EventId, RowId, SegmentId, SeqNo, ValueType};
pub use wal::{
    decode as decode_wal, encode_header, encode_record, replay as replay_wal,
    replay_closed as replay_closed_wal, DecodedWal, TornTail, WalDecodeError, WalHeader, WalRecord,
    WalReplay, WalWriter, MAX_RECORD_PAYLOAD, WAL_HEADER_LEN, WAL_MAGIC, WAL_RECORD_HEADER_LEN,
    WAL_VERSION,
};
pub use walpart::encode_wal_part;
