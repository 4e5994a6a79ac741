//! # tally-ingest: JSON events in, durable indexed segments out
//!
//! (crate tour: see the module docs; filled in as modules land)
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod dict;
mod error;
mod flat;
mod head;
mod persist;
mod schema;
mod segment;
mod storage;
#[cfg(test)]
mod testutil;
mod value;

pub use dict::{
    format_datetime, list_elem_text, DictFileState, DictReader, Dictionary, Dicts, DICT_MAGIC,
};
pub use error::{ErrorCode, IngestError, Limit, Result};
pub use flat::{
    BatchMark, EventLimits, FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue, StrRef,
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_LIST_LEN, DEFAULT_MAX_PROPERTIES,
    DEFAULT_MAX_PROPERTY_NAME_CHARS, DEFAULT_MAX_STRING_CHARS,
};
pub use head::{uniqueness_token_seen, Head, HeadColumn, HeadValues, Num};
pub use persist::{
    deletes_file_name, encode_parquet, encode_sidecar, index_file_name, parquet_file_name,
    read_segment, write_deletes, write_segment, FileInfo, SegmentFiles, DEL_MAGIC, IDX_MAGIC,
    PARQUET_ZSTD_LEVEL, SEGMENT_FORMAT_VERSION,
};
pub use schema::{
    Schema, SchemaColumn, CREATED_AT_COLUMN, DEFAULT_MAX_COLUMNS, ID_COLUMN, LOCATION_PATH,
    TIMESTAMP_COLUMN, UNIQUENESS_TOKEN_PATH,
};
pub use segment::{
    build_segment, ColumnData, ColumnStats, NumArray, Segment, SegmentColumn, StatValue,
    ValueIndex, INDEX_BITMAP_MIN_ROWS,
};
pub use storage::{read_all, replace_atomic, write_new, Storage, StorageFile};
pub use value::{ColumnId, ColumnKey, DictId, EventId, RowId, SegmentId, SeqNo, ValueType};
