//! # tally-ingest: JSON events in, durable indexed segments out
//!
//! (crate tour: see the module docs; filled in as modules land)
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod datetime;
mod error;
mod event;
mod flat;
pub mod generator;
#[cfg(any(test, feature = "test-util"))]
mod sim;
mod names;
mod storage;
mod storage_std;
mod value;
mod wal;

pub use datetime::{format_datetime, parse_timestamp, parse_zoned_datetime};
pub use error::{ErrorCode, IngestError, Limit, Result};
pub use event::{parse_event, parse_event_at, EventParser, MAX_UNIQUENESS_TOKEN_CHARS};
pub use flat::{
    BatchMark, EventLimits, FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue, StrRef,
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_LIST_LEN,
    DEFAULT_MAX_PROPERTIES, DEFAULT_MAX_PROPERTY_NAME_CHARS, DEFAULT_MAX_STRING_CHARS,
};
pub use generator::{Generator, GeneratorConfig};
#[cfg(any(test, feature = "test-util"))]
pub use sim::{CrashModel, FaultKind, FaultPlan, Persistence, SimStorage};
pub use names::{
    cursor_kind, infer_timestamp, is_number_like_type, is_string_like_type,
    sanitize_collection_name, validate_collection_name, CursorKind, MAX_COLLECTION_NAME_CHARS,
};
pub use storage::{read_all, replace_atomic, write_new, Storage, StorageFile};
pub use storage_std::StdStorage;
pub use value::{ColumnId, ColumnKey, DictId, EventId, RowId, SegmentId, SeqNo, ValueType};
pub use wal::{
    decode as decode_wal, encode_header, encode_record, replay as replay_wal, DecodedWal, TornTail, WalDecodeError, WalHeader,
    WalRecord, WalReplay, WalWriter, MAX_RECORD_PAYLOAD, WAL_HEADER_LEN, WAL_MAGIC,
    WAL_RECORD_HEADER_LEN, WAL_VERSION,
};
