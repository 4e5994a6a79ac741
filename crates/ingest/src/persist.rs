//! Segment ↔ files: a plain Parquet file plus an index sidecar.
//!
//! A sealed segment `id` is stored as
//!
//! * `seg-<id:016x>.parquet`: the rows, readable by DuckDB, DataFusion or
//!   Spark without Tally (see below);
//! * `seg-<id:016x>.idx`: presence bitmaps, stats and value indexes, so
//!   opening a segment rebuilds nothing;
//! * optionally `seg-<id:016x>-<gen:016x>.del`: a deletion vector version.
//!   A later delete writes a new generation and the manifest switches to it;
//!   the Parquet file and sidecar are never rewritten.
//!
//! Every file is written with `create_new` + fsync ([`write_new`]); the
//! caller syncs the directory and then records the returned
//! [`SegmentFiles`] (names, byte sizes, crc32c) in the manifest. Reading
//! verifies size and crc32c first, so any flipped byte is reported as
//! [`IngestError::Corrupt`] naming the file, then decodes (string columns
//! from the sidecar's index alone: their Parquet text is never decoded) and
//! runs [`Segment::validate_structure`]. Derived data covered by the
//! checksums (indexes, statistics) is not rebuilt on open; a full rebuild
//! check is [`Segment::validate_with`].
//!
//! # Parquet layout
//!
//! One row per event, rows in segment order (sorted by `keen.timestamp`):
//!
//! | column | Arrow / Parquet type |
//! |---|---|
//! | `keen.timestamp`, `keen.created_at` | `Timestamp(ms, "UTC")`, not null |
//! | `keen.id` | `Utf8`, 24 lowercase hex chars, not null |
//! | `<path>::string` | `Utf8` (Parquet dictionary encoding, written from the segment's keys: [`crate::pqstr`]) |
//! | `<path>::num` | `Int64` if every value in the segment is an integer, else `Float64` |
//! | `<path>::bool` | `Boolean` |
//! | `<path>::datetime` | `Timestamp(ms, "UTC")` |
//! | `<path>::list` | `List<Utf8>`: each element's canonical JSON text |
//! | `keen.location.coordinates::geo` | `FixedSizeList<Float64, 2>`: `[lon, lat]` |
//! | `<path>::null` | `Boolean`, true where the path was `null` |
//!
//! Other columns are nullable (null = the row has no value of that type).
//! Compression is ZSTD level 1 ([`PARQUET_ZSTD_LEVEL`]; level 3 wrote files
//! no smaller and took longer). `keen.id` and `keen.timestamp` are
//! PLAIN-encoded (nearly every value is unique, so a dictionary never
//! pays); other columns use dictionaries. Key-value metadata:
//! `tally.format_version` = `"1"`, `tally.segment_id` (decimal) and
//! `tally.columns`, a JSON array of `[column_id, path, type]`.
//!
//! # Sidecar layout (`.idx`), version 1, little-endian
//!
//! ```text
//! offset size  field
//! 0      8     magic b"TLYIDX01"
//! 8      4     version u32 = 1
//! 12     8     segment id u64
//! 20     4     row count u32
//! 24     4     column count u32
//! 28     ...   column × column count, in column id order
//! end-4  4     crc32c u32 of every byte before it
//!
//! column:
//!   4   column id u32
//!   1   type tag u8 (ValueType::tag)
//!   1   num kind u8: 1 = Int64, 2 = Float64, 3 = Float64 with exact
//!       integers, 0 = not a num column; kind 3 is followed by
//!       4 k u32, then k × (row u32, value i64): the exact value of each
//!       integer the Parquet Float64 column holds rounded (beyond 2^53),
//!       rows ascending
//!   4   presence length u32, then that many bytes: RoaringBitmap::serialize_into
//!   8   stats.present u64
//!   8   stats.null_count u64
//!   8   stats.distinct u64
//!   ... stats.min stat, stats.max stat
//!   1   has index u8 (0/1); if 1:
//!       4       n u32: distinct values
//!       n ×     value entry, values ascending:
//!               var  value delta (value − previous value; the first from 0)
//!               var  k: rows in the posting slice; 0 = the value has a bitmap
//!               k ×  var row delta (row − previous row; the first from 0)
//!       4       b u32: bitmap count, then b × (value u32, length u32, roaring bytes),
//!               one per value with k = 0, ascending
//!
//! var: unsigned LEB128 (7 bits a byte, low first, high bit = more), at most
//! 5 bytes for a u32.
//!
//! stat: kind u8, then
//!   0 none
//!   1 num: f64 bits u64, has exact u8, exact i64
//!   2 string: length u32, UTF-8 bytes
//!   3 bool: u8
//!   4 datetime: i64 ms
//! ```
//!
//! A value whose posting slice is empty has a bitmap (rows ≥
//! [`crate::INDEX_BITMAP_MIN_ROWS`]). String ids are rebuilt from the index
//! (no string lookups); list element ids are looked up in the collection's
//! list dictionary, which yields the ids written because dictionaries are
//! append-only and stable.
//!
//! # Deletion file layout (`.del`), little-endian
//!
//! ```text
//! 0   8  magic b"TLYDEL01"
//! 8   4  version u32 = 1
//! 12  8  segment id u64
//! 20  8  generation u64
//! 28  4  bitmap length u32, then roaring bytes (serialize_into)
//! end-4 4 crc32c u32 of every byte before it
//! ```

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType, UInt32Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, FixedSizeListArray, Float64Array, Int64Array,
    ListArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::dict::{DictReader, Dicts};
use crate::error::{IngestError, Result};
use crate::schema::Schema;
use crate::segment::{
    geo_item_field, list_item_field, par_map, ColumnData, ColumnStats, NumArray, Segment,
    SegmentColumn, StatValue, ValueIndex,
};
use crate::storage::{read_all, write_new, Storage};
use crate::value::{ColumnId, EventId, SegmentId, ValueType};

/// Version of the segment file formats (Parquet metadata and sidecar).
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Magic bytes of the index sidecar.
pub const IDX_MAGIC: &[u8; 8] = b"TLYIDX01";
/// Magic bytes of a deletion file.
pub const DEL_MAGIC: &[u8; 8] = b"TLYDEL01";
/// ZSTD level of segment Parquet files.
pub const PARQUET_ZSTD_LEVEL: i32 = 1;

/// One written file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// File name inside the collection directory.
    pub name: String,
    /// Exact byte size.
    pub bytes: u64,
    /// crc32c of the whole file.
    pub crc32c: u32,
}

/// The files of one segment, as the manifest records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentFiles {
    /// The segment id.
    pub id: SegmentId,
    /// Row count.
    pub rows: u64,
    /// Smallest `keen.timestamp` (for pruning without opening the files).
    pub min_ts: Option<i64>,
    /// Largest `keen.timestamp`.
    pub max_ts: Option<i64>,
    /// The Parquet file.
    pub parquet: FileInfo,
    /// The index sidecar.
    pub index: FileInfo,
    /// The current deletion vector file, if any row was deleted.
    pub deletes: Option<FileInfo>,
}

/// `seg-<id:016x>.parquet`.
pub fn parquet_file_name(id: SegmentId) -> String {
    format!("seg-{id:016x}.parquet")
}

/// `seg-<id:016x>.idx`.
pub fn index_file_name(id: SegmentId) -> String {
    format!("seg-{id:016x}.idx")
}

/// `seg-<id:016x>-<generation:016x>.del`.
pub fn deletes_file_name(id: SegmentId, generation: u64) -> String {
    format!("seg-{id:016x}-{generation:016x}.del")
}

fn write_file(storage: &dyn Storage, dir: &Path, name: String, data: &[u8]) -> Result<FileInfo> {
    let path = dir.join(&name);
    write_new(storage, &path, data).map_err(|e| IngestError::io(&path, e))?;
    Ok(FileInfo { name, bytes: data.len() as u64, crc32c: crc32c::crc32c(data) })
}

fn read_checked(storage: &dyn Storage, dir: &Path, info: &FileInfo) -> Result<Vec<u8>> {
    let path = dir.join(&info.name);
    let data = read_all(storage, &path).map_err(|e| IngestError::io(&path, e))?;
    if data.len() as u64 != info.bytes {
        return Err(IngestError::corrupt(
            &path,
            format!("file has {} bytes, manifest says {}", data.len(), info.bytes),
        ));
    }
    let crc = crc32c::crc32c(&data);
    if crc != info.crc32c {
        return Err(IngestError::corrupt(
            &path,
            format!("crc32c {crc:08x}, manifest says {:08x}", info.crc32c),
        ));
    }
    Ok(data)
}

/// Writes `seg`'s Parquet file and sidecar (and its deletion vector as
/// generation 0 when not empty) into `dir`. Each file is created new and
/// fsynced; the caller syncs `dir` before recording the result.
pub fn write_segment(
    storage: &dyn Storage,
    dir: &Path,
    seg: &Segment,
    schema: &Schema,
    dicts: &Dicts,
) -> Result<SegmentFiles> {
    let pq_name = parquet_file_name(seg.id());
    // The sidecar is encoded and written beside the Parquet file: the
    // Parquet encoder's last, largest columns would otherwise leave a core
    // idle, and each file's write copies into the page cache.
    let (parquet, index) = std::thread::scope(|s| {
        let index =
            s.spawn(|| write_file(storage, dir, index_file_name(seg.id()), &encode_sidecar(seg)));
        let parquet = encode_parquet(seg, schema, dicts)
            .map_err(|source| IngestError::Parquet { file: dir.join(&pq_name), source })
            .and_then(|pq| write_file(storage, dir, pq_name, &pq));
        (parquet, index.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let (parquet, index) = (parquet?, index?);
    let deletes = if seg.deleted().is_empty() {
        None
    } else {
        Some(write_deletes(storage, dir, seg.id(), 0, seg.deleted())?)
    };
    Ok(SegmentFiles {
        id: seg.id(),
        rows: seg.len() as u64,
        min_ts: seg.min_ts(),
        max_ts: seg.max_ts(),
        parquet,
        index,
        deletes,
    })
}

/// Writes deletion vector `generation` of segment `id` (create new + fsync).
pub fn write_deletes(
    storage: &dyn Storage,
    dir: &Path,
    id: SegmentId,
    generation: u64,
    deleted: &RoaringBitmap,
) -> Result<FileInfo> {
    let mut w = Vec::new();
    w.extend_from_slice(DEL_MAGIC);
    put_u32(&mut w, SEGMENT_FORMAT_VERSION);
    put_u64(&mut w, id);
    put_u64(&mut w, generation);
    put_bitmap(&mut w, deleted);
    let crc = crc32c::crc32c(&w);
    put_u32(&mut w, crc);
    write_file(storage, dir, deletes_file_name(id, generation), &w)
}

fn utc_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn ts_array(a: &Int64Array) -> ArrayRef {
    Arc::new(
        TimestampMillisecondArray::new(a.values().clone(), a.nulls().cloned()).with_timezone("UTC"),
    )
}

/// Encodes a segment as a Parquet file in memory (layout in the module docs).
///
/// Columns are materialised and encoded in parallel (scoped threads, not
/// rayon: a seal may run under the writer lock) and appended in schema
/// order. String columns become a dictionary array over this segment's
/// distinct values (each looked up once) and are written from its keys
/// (module `pqstr`: no per-row hashing); every other column goes through
/// an `ArrowColumnWriter`. The file reads back as a sequential `ArrowWriter`
/// over one batch would write it (same schema, metadata, values and chunk
/// statistics), and the Arrow schema says `Utf8`, so readers see plain
/// strings.
pub fn encode_parquet(
    seg: &Segment,
    schema: &Schema,
    dicts: &Dicts,
) -> parquet::errors::Result<Vec<u8>> {
    encode_parquet_with(seg, schema, dicts, WriterProperties::builder())
}

/// [`encode_parquet`] on top of `base` properties (tests shrink row groups).
fn encode_parquet_with(
    seg: &Segment,
    schema: &Schema,
    dicts: &Dicts,
    base: parquet::file::properties::WriterPropertiesBuilder,
) -> parquet::errors::Result<Vec<u8>> {
    let n = seg.len();
    let mut fields = vec![
        Field::new("keen.timestamp", utc_ms(), false),
        Field::new("keen.created_at", utc_ms(), false),
        Field::new("keen.id", DataType::Utf8, false),
    ];
    let mut arrays: Vec<ArrayRef> =
        vec![ts_array(seg.timestamps_array()), ts_array(&seg.created_at_array())];
    let cols: Vec<&SegmentColumn> = seg.columns().collect();
    arrays.push(id_array(seg.ids()));
    let built = par_map(cols.clone(), |col| parquet_array(col, n, dicts))
        .into_iter()
        .collect::<parquet::errors::Result<Vec<_>>>();
    let mut meta_cols = Vec::with_capacity(cols.len());
    for (col, (data_type, array)) in cols.iter().zip(built?) {
        debug_assert!(schema.key(col.id) == Some(&col.key));
        meta_cols.push(serde_json::json!([col.id, &*col.key.path, col.key.ty.as_str()]));
        fields.push(Field::new(col.key.parquet_name(), data_type, true));
        arrays.push(array);
    }
    let arrow_schema = Arc::new(arrow_schema::Schema::new(fields));
    let mut props = base
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(PARQUET_ZSTD_LEVEL)?))
        .set_dictionary_enabled(true)
        // Nearly every value distinct: a dictionary would be built, then
        // abandoned at its page size limit, at the cost of hashing each one.
        .set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from("keen.id"), false)
        .set_column_dictionary_enabled(
            parquet::schema::types::ColumnPath::from("keen.timestamp"),
            false,
        )
        .set_key_value_metadata(Some(vec![
            KeyValue::new("tally.format_version".to_owned(), SEGMENT_FORMAT_VERSION.to_string()),
            KeyValue::new("tally.segment_id".to_owned(), seg.id().to_string()),
            KeyValue::new(
                "tally.columns".to_owned(),
                serde_json::Value::Array(meta_cols).to_string(),
            ),
        ]))
        .build();
    // What ArrowWriter does: the Arrow schema travels in the metadata.
    add_encoded_arrow_schema_to_metadata(&arrow_schema, &mut props);
    let parquet_schema = ArrowSchemaConverter::new()
        .with_coerce_types(props.coerce_types())
        .convert(&arrow_schema)?;
    let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
    let props = Arc::new(props);
    let mut writer = SerializedFileWriter::new(
        Vec::with_capacity(n * 32 + 4096),
        parquet_schema.root_schema_ptr(),
        props.clone(),
    )?;
    let factory = ArrowRowGroupWriterFactory::new(&writer, arrow_schema.clone());
    let mut start = 0;
    let mut group = 0;
    while start < n {
        let len = max_rows.min(n - start);
        let writers = factory.create_column_writers(group)?;
        let inputs: Vec<_> = arrow_schema.fields().iter().zip(&arrays).collect();
        // String columns arrive as dictionary arrays and are written from
        // their keys (crate::pqstr); every other column, and a string column
        // that writer does not cover, goes through the Arrow column writer.
        let leaves: Vec<Leaf> = par_map(inputs, |(field, array)| {
            let array = if len == n { array.clone() } else { array.slice(start, len) };
            if array.as_dictionary_opt::<UInt32Type>().is_some() {
                return Ok(vec![Leaf::Str(field, array)]);
            }
            Ok(compute_leaves(field, &array)?.into_iter().map(Leaf::Arrow).collect())
        })
        .into_iter()
        .collect::<parquet::errors::Result<Vec<Vec<Leaf>>>>()?
        .into_iter()
        .flatten()
        .collect();
        if leaves.len() != writers.len() {
            return Err(parquet::errors::ParquetError::General(format!(
                "bug: {} leaves for {} column writers",
                leaves.len(),
                writers.len()
            )));
        }
        let jobs: Vec<_> = writers.into_iter().zip(leaves).enumerate().collect();
        let chunks = par_map(jobs, |(i, (mut w, leaf))| {
            let leaf = match leaf {
                Leaf::Arrow(leaf) => leaf,
                Leaf::Str(field, array) => {
                    let dict = array.as_dictionary::<UInt32Type>();
                    let descr = parquet_schema.column(i);
                    if let Some((bytes, close)) = crate::pqstr::string_chunk(dict, &descr, &props)?
                    {
                        return Ok(Chunk::Raw(bytes, close));
                    }
                    let mut leaves = compute_leaves(field, &array)?;
                    match (leaves.pop(), leaves.is_empty()) {
                        (Some(leaf), true) => leaf,
                        _ => {
                            return Err(parquet::errors::ParquetError::General(format!(
                                "bug: string column {} is not one leaf",
                                field.name()
                            )))
                        }
                    }
                }
            };
            w.write(&leaf)?;
            Ok(Chunk::Arrow(w.close()?))
        })
        .into_iter()
        .collect::<parquet::errors::Result<Vec<Chunk>>>()?;
        let mut rg = writer.next_row_group()?;
        for chunk in chunks {
            match chunk {
                Chunk::Arrow(chunk) => chunk.append_to_row_group(&mut rg)?,
                Chunk::Raw(bytes, close) => rg.append_column(&bytes, close)?,
            }
        }
        rg.close()?;
        start += len;
        group += 1;
    }
    writer.into_inner()
}

/// One leaf column of a row group, before encoding.
enum Leaf<'f> {
    /// Through the Arrow column writer.
    Arrow(ArrowLeafColumn),
    /// A string column as a dictionary array (see [`crate::pqstr`]).
    Str(&'f arrow_schema::FieldRef, ArrayRef),
}

/// One encoded column chunk of a row group.
enum Chunk {
    Arrow(ArrowColumnChunk),
    Raw(Bytes, parquet::column::writer::ColumnCloseResult),
}

/// `keen.id` as 24-char lowercase hex strings, built in one buffer.
fn id_array(ids: &crate::segment::EventIds) -> ArrayRef {
    let mut bytes = vec![0u8; ids.len() * 24];
    for (chunk, id) in bytes.chunks_exact_mut(24).zip(ids.iter()) {
        hex::encode_to_slice(id.0, chunk).expect("24 bytes hold 12 bytes of hex");
    }
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(24, ids.len()));
    Arc::new(StringArray::new(offsets, Buffer::from_vec(bytes), None))
}

/// The dictionary strings of `ids` (sorted distinct ids) as a `StringArray`.
fn local_dictionary(
    ids: &[u32],
    reader: &DictReader<'_>,
    missing: impl Fn() -> parquet::errors::ParquetError,
) -> parquet::errors::Result<StringArray> {
    let strs = ids
        .iter()
        .map(|&v| reader.value(v).ok_or_else(&missing))
        .collect::<parquet::errors::Result<Vec<&str>>>()?;
    Ok(StringArray::from_iter_values(strs))
}

/// Maps ids (all in sorted distinct `ids`, or masked by nulls) to their
/// position in `ids`.
fn remap(values: &[u32], ids: &[u32]) -> Vec<u32> {
    let max = ids.last().map_or(0, |&m| m as usize);
    if max <= values.len().saturating_mul(4) + 4096 {
        let mut map = vec![0u32; max + 1];
        for (k, &v) in ids.iter().enumerate() {
            map[v as usize] = k as u32;
        }
        values.iter().map(|&v| map.get(v as usize).copied().unwrap_or(0)).collect()
    } else {
        values.iter().map(|v| ids.binary_search(v).unwrap_or(0) as u32).collect()
    }
}

/// The Arrow field type and array of one segment column in the Parquet file.
fn parquet_array(
    col: &SegmentColumn,
    n: usize,
    dicts: &Dicts,
) -> parquet::errors::Result<(DataType, ArrayRef)> {
    let name = col.key.parquet_name();
    let missing =
        || parquet::errors::ParquetError::General(format!("column {name} has no dictionary"));
    Ok(match &col.data {
        ColumnData::Str(a) => {
            let dict = dicts.get(col.id).ok_or_else(missing)?;
            let reader = dict.reader();
            let distinct: Vec<u32>;
            let ids = match &col.index {
                Some(idx) => idx.values(),
                None => {
                    let mut d: Vec<u32> = a.iter().flatten().collect();
                    d.sort_unstable();
                    d.dedup();
                    distinct = d;
                    &distinct
                }
            };
            let values = local_dictionary(ids, &reader, missing)?;
            drop(reader);
            let keys = UInt32Array::new(
                ScalarBuffer::from(remap(&a.values_u32(), ids)),
                a.nulls().cloned(),
            );
            let array = DictionaryArray::<UInt32Type>::try_new(keys, Arc::new(values))?;
            (DataType::Utf8, Arc::new(array))
        }
        ColumnData::Num(NumArray::Int(a)) => (DataType::Int64, Arc::new(a.to_i64_array())),
        ColumnData::Num(NumArray::Float(a)) => (DataType::Float64, Arc::new(a.clone())),
        ColumnData::Num(NumArray::Mixed(m)) => (DataType::Float64, Arc::new(m.values().clone())),
        ColumnData::Bool(a) => (DataType::Boolean, Arc::new(a.clone())),
        ColumnData::Datetime(a) => (utc_ms(), ts_array(a)),
        ColumnData::List(a) => {
            let dict = dicts.get(col.id).ok_or_else(missing)?;
            let reader = dict.reader();
            let elems = a.values().as_primitive::<UInt32Type>();
            let distinct: Vec<u32>;
            let ids = match &col.index {
                Some(idx) => idx.values(),
                None => {
                    let mut d = elems.values().to_vec();
                    d.sort_unstable();
                    d.dedup();
                    distinct = d;
                    &distinct
                }
            };
            let strs = ids
                .iter()
                .map(|&v| reader.value(v).ok_or_else(missing))
                .collect::<parquet::errors::Result<Vec<&str>>>()?;
            let keys = remap(elems.values(), ids);
            let total: usize = keys.iter().map(|&k| strs[k as usize].len()).sum();
            let mut bytes = Vec::with_capacity(total);
            for &k in &keys {
                bytes.extend_from_slice(strs[k as usize].as_bytes());
            }
            let offsets = OffsetBuffer::from_lengths(keys.iter().map(|&k| strs[k as usize].len()));
            let values = StringArray::try_new(offsets, Buffer::from_vec(bytes), None)?;
            let item = Arc::new(Field::new("item", DataType::Utf8, false));
            let list = ListArray::try_new(
                item.clone(),
                a.offsets().clone(),
                Arc::new(values),
                a.nulls().cloned(),
            )?;
            (DataType::List(item), Arc::new(list))
        }
        ColumnData::Geo(a) => (a.data_type().clone(), Arc::new(a.clone())),
        ColumnData::Null => {
            let mut bits = BooleanBufferBuilder::new(n);
            bits.append_n(n, false);
            for r in &col.presence {
                bits.set_bit(r as usize, true);
            }
            let bits = bits.finish();
            (
                DataType::Boolean,
                Arc::new(BooleanArray::new(bits.clone(), Some(NullBuffer::new(bits)))),
            )
        }
    })
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(w: &mut Vec<u8>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}
fn put_var(w: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}
fn put_len(w: &mut Vec<u8>, n: usize) {
    put_u32(w, u32::try_from(n).expect("sidecar sections are smaller than 4 GiB"));
}
fn put_bitmap(w: &mut Vec<u8>, b: &RoaringBitmap) {
    put_len(w, b.serialized_size());
    b.serialize_into(&mut *w).expect("writing to a Vec cannot fail");
}
fn put_stat(w: &mut Vec<u8>, s: &Option<StatValue>) {
    match s {
        None => w.push(0),
        Some(StatValue::Num { value, exact }) => {
            w.push(1);
            put_u64(w, value.to_bits());
            w.push(exact.is_some() as u8);
            w.extend_from_slice(&exact.unwrap_or(0).to_le_bytes());
        }
        Some(StatValue::Str(s)) => {
            w.push(2);
            put_len(w, s.len());
            w.extend_from_slice(s.as_bytes());
        }
        Some(StatValue::Bool(b)) => {
            w.push(3);
            w.push(*b as u8);
        }
        Some(StatValue::Datetime(t)) => {
            w.push(4);
            w.extend_from_slice(&t.to_le_bytes());
        }
    }
}

/// Encodes the index sidecar (layout in the module docs). Columns are
/// encoded in parallel, then concatenated in column order.
pub fn encode_sidecar(seg: &Segment) -> Vec<u8> {
    let cols: Vec<&SegmentColumn> = seg.columns().collect();
    let parts: Vec<Vec<u8>> = par_map(cols.clone(), sidecar_column);
    let mut w = Vec::with_capacity(32 + parts.iter().map(Vec::len).sum::<usize>());
    w.extend_from_slice(IDX_MAGIC);
    put_u32(&mut w, SEGMENT_FORMAT_VERSION);
    put_u64(&mut w, seg.id());
    put_len(&mut w, seg.len());
    put_len(&mut w, cols.len());
    for p in &parts {
        w.extend_from_slice(p);
    }
    let crc = crc32c::crc32c(&w);
    put_u32(&mut w, crc);
    w
}

/// One column's sidecar entry.
fn sidecar_column(col: &SegmentColumn) -> Vec<u8> {
    let index_bytes = col.index.as_ref().map_or(0, |i| i.memory_bytes());
    let mut w = Vec::with_capacity(64 + col.presence.serialized_size() + index_bytes);
    put_u32(&mut w, col.id);
    w.push(col.key.ty.tag());
    w.push(match &col.data {
        ColumnData::Num(NumArray::Int(_)) => 1,
        ColumnData::Num(NumArray::Float(_)) => 2,
        ColumnData::Num(NumArray::Mixed(_)) => 3,
        _ => 0,
    });
    if let ColumnData::Num(NumArray::Mixed(m)) = &col.data {
        put_u32(&mut w, m.exact().len() as u32);
        for &(row, v) in m.exact() {
            put_u32(&mut w, row);
            put_u64(&mut w, v as u64);
        }
    }
    put_bitmap(&mut w, &col.presence);
    put_u64(&mut w, col.stats.present);
    put_u64(&mut w, col.stats.null_count);
    put_u64(&mut w, col.stats.distinct);
    put_stat(&mut w, &col.stats.min);
    put_stat(&mut w, &col.stats.max);
    match &col.index {
        None => w.push(0),
        Some(idx) => {
            w.push(1);
            let (values, ends, postings, bitmaps) = idx.parts();
            put_len(&mut w, values.len());
            let (mut prev_v, mut start) = (0u32, 0usize);
            for (&v, &end) in values.iter().zip(ends) {
                put_var(&mut w, v - prev_v);
                prev_v = v;
                let rows = &postings[start..end as usize];
                start = end as usize;
                put_var(&mut w, rows.len() as u32);
                let mut prev_r = 0;
                for &r in rows {
                    put_var(&mut w, r - prev_r);
                    prev_r = r;
                }
            }
            let bitmaps: Vec<_> = bitmaps.collect();
            put_len(&mut w, bitmaps.len());
            for (v, b) in bitmaps {
                put_u32(&mut w, v);
                put_bitmap(&mut w, b);
            }
        }
    }
    w
}

/// A bounds-checked little-endian reader whose errors name the file.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    file: &'a Path,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &str) -> IngestError {
        IngestError::corrupt(self.file, format!("{what} at byte {}", self.pos))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self
            .data
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn var(&mut self) -> Result<u32> {
        let mut v = 0u64;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| self.err("varint overflows u32"));
            }
        }
        Err(self.err("varint too long"))
    }
    fn bitmap(&mut self) -> Result<RoaringBitmap> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        RoaringBitmap::deserialize_from(b).map_err(|e| self.err(&format!("bad bitmap ({e})")))
    }
    fn stat(&mut self) -> Result<Option<StatValue>> {
        Ok(match self.u8()? {
            0 => None,
            1 => {
                let value = f64::from_bits(self.u64()?);
                let has = self.u8()?;
                let exact = self.u64()? as i64;
                Some(StatValue::Num { value, exact: (has == 1).then_some(exact) })
            }
            2 => {
                let n = self.u32()? as usize;
                let s = std::str::from_utf8(self.take(n)?)
                    .map_err(|_| self.err("stat is not UTF-8"))?;
                Some(StatValue::Str(s.to_owned()))
            }
            3 => Some(StatValue::Bool(self.u8()? == 1)),
            4 => Some(StatValue::Datetime(self.u64()? as i64)),
            _ => return Err(self.err("unknown stat kind")),
        })
    }
}

struct SidecarColumn {
    id: ColumnId,
    ty: ValueType,
    num_kind: u8,
    /// Kind 3: (row, exact integer) pairs.
    exact: Vec<(u32, i64)>,
    presence: RoaringBitmap,
    stats: ColumnStats,
    index: Option<ValueIndex>,
}

struct Sidecar {
    id: SegmentId,
    rows: usize,
    columns: Vec<SidecarColumn>,
}

fn decode_sidecar(data: &[u8], file: &Path) -> Result<Sidecar> {
    if data.len() < 32 {
        return Err(IngestError::corrupt(file, "sidecar too short"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(IngestError::corrupt(file, "bad sidecar checksum"));
    }
    let mut r = Reader { data: body, pos: 0, file };
    if r.take(8)? != IDX_MAGIC {
        return Err(r.err("bad sidecar magic"));
    }
    let version = r.u32()?;
    if version != SEGMENT_FORMAT_VERSION {
        return Err(r.err(&format!("unsupported sidecar version {version}")));
    }
    let id = r.u64()?;
    let rows = r.u32()? as usize;
    let ncols = r.u32()? as usize;
    let mut columns = Vec::with_capacity(ncols.min(1 << 14));
    for _ in 0..ncols {
        let cid = r.u32()?;
        let ty = ValueType::from_tag(r.u8()?).ok_or_else(|| r.err("unknown type tag"))?;
        let num_kind = r.u8()?;
        let mut exact = Vec::new();
        if num_kind == 3 {
            let k = r.u32()? as usize;
            if k > rows {
                return Err(r.err("more exact integers than rows"));
            }
            exact.reserve(k);
            let mut prev: Option<u32> = None;
            for _ in 0..k {
                let row = r.u32()?;
                let v = r.u64()? as i64;
                if row as usize >= rows || prev.is_some_and(|p| p >= row) {
                    return Err(r.err("exact integer rows out of order or past the segment"));
                }
                prev = Some(row);
                exact.push((row, v));
            }
        }
        let presence = r.bitmap()?;
        let stats = ColumnStats {
            present: r.u64()?,
            null_count: r.u64()?,
            distinct: r.u64()?,
            min: r.stat()?,
            max: r.stat()?,
        };
        let index = match r.u8()? {
            0 => None,
            1 => {
                let n = r.u32()? as usize;
                let cap = n.min(body.len());
                let (mut values, mut ends, mut postings) =
                    (Vec::with_capacity(cap), Vec::with_capacity(cap), Vec::new());
                let mut v = 0u32;
                for i in 0..n {
                    let dv = r.var()?;
                    v = if i == 0 {
                        dv
                    } else {
                        v.checked_add(dv)
                            .filter(|_| dv > 0)
                            .ok_or_else(|| r.err("bad value delta"))?
                    };
                    values.push(v);
                    let k = r.var()? as usize;
                    if k > body.len() {
                        return Err(r.err("bad posting length"));
                    }
                    let mut row = 0u32;
                    for j in 0..k {
                        let d = r.var()?;
                        row = if j == 0 {
                            d
                        } else {
                            row.checked_add(d)
                                .filter(|_| d > 0)
                                .ok_or_else(|| r.err("bad row delta"))?
                        };
                        postings.push(row);
                    }
                    ends.push(
                        u32::try_from(postings.len()).map_err(|_| r.err("too many postings"))?,
                    );
                }
                let b = r.u32()? as usize;
                let mut bitmaps = Vec::with_capacity(b.min(1 << 16));
                for _ in 0..b {
                    bitmaps.push((r.u32()?, r.bitmap()?));
                }
                Some(
                    ValueIndex::from_parts(values, ends, postings, bitmaps)
                        .ok_or_else(|| r.err("inconsistent index"))?,
                )
            }
            _ => return Err(r.err("bad index flag")),
        };
        columns.push(SidecarColumn { id: cid, ty, num_kind, exact, presence, stats, index });
    }
    if r.pos != body.len() {
        return Err(r.err("trailing bytes"));
    }
    Ok(Sidecar { id, rows, columns })
}

fn decode_deletes(data: &[u8], file: &Path, id: SegmentId) -> Result<RoaringBitmap> {
    if data.len() < 36 {
        return Err(IngestError::corrupt(file, "deletion file too short"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(IngestError::corrupt(file, "bad deletion file checksum"));
    }
    let mut r = Reader { data: body, pos: 0, file };
    if r.take(8)? != DEL_MAGIC || r.u32()? != SEGMENT_FORMAT_VERSION {
        return Err(r.err("bad deletion file magic or version"));
    }
    if r.u64()? != id {
        return Err(r.err("deletion file of another segment"));
    }
    let _generation = r.u64()?;
    let b = r.bitmap()?;
    if r.pos != body.len() {
        return Err(r.err("trailing bytes"));
    }
    Ok(b)
}

/// The validity buffer of rows `0..n` whose valid rows are `presence`
/// (`None` when every row is valid); built run by run, not row by row.
pub(crate) fn nulls_of(presence: &RoaringBitmap, n: usize) -> Option<NullBuffer> {
    if presence.len() >= n as u64 {
        return None;
    }
    let mut b = BooleanBufferBuilder::new(n);
    let mut at = 0usize;
    let mut it = presence.iter();
    while let Some(run) = it.next_range() {
        let (start, end) = (*run.start() as usize, (*run.end() as usize + 1).min(n));
        if start >= n {
            break;
        }
        b.append_n(start - at, false);
        b.append_n(end - start, true);
        at = end;
    }
    b.append_n(n - at, false);
    Some(NullBuffer::new(b.finish()))
}

fn normalized(nulls: Option<&NullBuffer>) -> Option<NullBuffer> {
    nulls.filter(|n| n.null_count() > 0).cloned()
}

/// Reads a segment written by [`write_segment`]: checks sizes and crc32c,
/// decodes the sidecar, the Parquet file and the deletion vector, and
/// validates the result. Any damage is [`IngestError::Corrupt`] naming the
/// file.
pub fn read_segment(
    storage: &dyn Storage,
    dir: &Path,
    files: &SegmentFiles,
    schema: &Schema,
    dicts: &Dicts,
) -> Result<Segment> {
    let pq_path = dir.join(&files.parquet.name);
    let idx_path = dir.join(&files.index.name);
    let pq = read_checked(storage, dir, &files.parquet)?;
    let idx = read_checked(storage, dir, &files.index)?;
    let side = decode_sidecar(&idx, &idx_path)?;
    let bad_idx = |m: String| IngestError::corrupt(&idx_path, m);
    let bad_pq = |m: String| IngestError::corrupt(&pq_path, m);
    if side.id != files.id || side.rows as u64 != files.rows {
        return Err(bad_idx(format!("sidecar is for segment {} with {} rows", side.id, side.rows)));
    }
    let n = side.rows;
    let deleted = match &files.deletes {
        None => RoaringBitmap::new(),
        Some(info) => {
            let data = read_checked(storage, dir, info)?;
            decode_deletes(&data, &dir.join(&info.name), files.id)?
        }
    };

    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(pq))
        .map_err(|e| bad_pq(e.to_string()))?;
    let version = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "tally.format_version"))
        .and_then(|k| k.value.clone());
    if version.as_deref() != Some("1") {
        return Err(bad_pq(format!("unsupported tally.format_version {version:?}")));
    }
    // String columns are rebuilt from the sidecar's index (ids, not text),
    // so their text is not decoded at all.
    let keep: Vec<usize> = builder
        .parquet_schema()
        .root_schema()
        .get_fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.name().ends_with("::string"))
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), keep);
    let reader = builder
        .with_batch_size(n.max(1))
        .with_projection(mask)
        .build()
        .map_err(|e| bad_pq(e.to_string()))?;
    let batches: Vec<RecordBatch> =
        reader.collect::<std::result::Result<_, _>>().map_err(|e| bad_pq(e.to_string()))?;
    let batch = match batches.len() {
        0 => None,
        1 => batches.into_iter().next(),
        k => {
            return Err(IngestError::Internal(format!(
                "parquet reader returned {k} batches for one segment"
            )))
        }
    };
    let rows_pq = batch.as_ref().map_or(0, |b| b.num_rows());
    if rows_pq != n {
        return Err(bad_pq(format!("holds {rows_pq} rows, sidecar says {n}")));
    }
    let col = |name: &str| -> Result<Option<ArrayRef>> {
        match &batch {
            None => Ok(None),
            Some(b) => b
                .column_by_name(name)
                .cloned()
                .map(Some)
                .ok_or_else(|| bad_pq(format!("no column {name}"))),
        }
    };
    let ts_of = |name: &str| -> Result<Int64Array> {
        let Some(a) = col(name)? else {
            return Ok(Int64Array::from(Vec::<i64>::new()));
        };
        let a = a
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| bad_pq(format!("{name} is not a millisecond timestamp")))?;
        if a.null_count() > 0 {
            return Err(bad_pq(format!("{name} holds nulls")));
        }
        Ok(Int64Array::new(a.values().clone(), None))
    };
    let timestamps = ts_of("keen.timestamp")?;
    let created_at = ts_of("keen.created_at")?;
    let ids = match col("keen.id")? {
        None => Vec::new(),
        Some(a) => {
            let a = a.as_string_opt::<i32>().ok_or_else(|| bad_pq("keen.id is not Utf8".into()))?;
            let mut ids = Vec::with_capacity(n);
            for v in a.iter() {
                let mut id = [0u8; 12];
                hex::decode_to_slice(v.unwrap_or(""), &mut id)
                    .map_err(|_| bad_pq(format!("bad keen.id {v:?}")))?;
                ids.push(EventId(id));
            }
            ids
        }
    };

    let mut columns = Vec::with_capacity(side.columns.len());
    for sc in side.columns {
        let key = schema
            .key(sc.id)
            .filter(|k| k.ty == sc.ty)
            .ok_or_else(|| bad_idx(format!("column {} ({}) is not in the schema", sc.id, sc.ty)))?
            .clone();
        let name = key.parquet_name();
        if sc.ty == ValueType::String {
            // Not read from Parquet (see the projection above): ids come
            // from the index, validity from the presence bitmap.
            let idx = sc
                .index
                .as_ref()
                .ok_or_else(|| bad_idx(format!("string column {name} has no index")))?;
            let mut ids = vec![0u32; n];
            for &v in idx.values() {
                let mut bad = false;
                idx.for_each_row(v, |r| match ids.get_mut(r as usize) {
                    Some(slot) => *slot = v,
                    None => bad = true,
                });
                if bad {
                    return Err(bad_idx(format!("column {name} index row past the segment")));
                }
            }
            columns.push(SegmentColumn {
                id: sc.id,
                key,
                data: ColumnData::Str(crate::segment::StrIds::new(ids, nulls_of(&sc.presence, n))),
                presence: sc.presence,
                stats: sc.stats,
                index: sc.index,
            });
            continue;
        }
        let array =
            col(&name)?.ok_or_else(|| bad_pq(format!("column {name} in an empty segment")))?;
        let mismatch = || bad_pq(format!("column {name} has type {}", array.data_type()));
        if array.len() != n {
            return Err(bad_pq(format!("column {name} has {} rows", array.len())));
        }
        let nulls = nulls_of(&sc.presence, n);
        if sc.ty != ValueType::Null && normalized(array.nulls()) != nulls {
            return Err(bad_pq(format!("column {name} nulls differ from the sidecar presence")));
        }
        let data = match sc.ty {
            ValueType::String => {
                return Err(IngestError::Internal(format!("string column {name} read as Parquet")))
            }
            ValueType::Num => match sc.num_kind {
                1 => {
                    let a = array.as_primitive_opt::<Int64Type>().ok_or_else(mismatch)?;
                    ColumnData::Num(NumArray::Int(crate::segment::Ints::new(
                        a.values().to_vec(),
                        normalized(a.nulls()),
                    )))
                }
                2 => {
                    let a = array.as_primitive_opt::<Float64Type>().ok_or_else(mismatch)?;
                    ColumnData::Num(NumArray::Float(Float64Array::new(
                        a.values().clone(),
                        normalized(a.nulls()),
                    )))
                }
                3 => {
                    let a = array.as_primitive_opt::<Float64Type>().ok_or_else(mismatch)?;
                    let values = Float64Array::new(a.values().clone(), normalized(a.nulls()));
                    if sc.exact.iter().any(|&(r, _)| !values.is_valid(r as usize)) {
                        return Err(bad_idx(format!(
                            "column {name} has an exact integer at a missing row"
                        )));
                    }
                    ColumnData::Num(NumArray::Mixed(crate::segment::MixedNums::new(
                        values, sc.exact,
                    )))
                }
                k => return Err(bad_idx(format!("column {name} has num kind {k}"))),
            },
            ValueType::Bool => {
                let a = array.as_boolean_opt().ok_or_else(mismatch)?;
                ColumnData::Bool(BooleanArray::new(a.values().clone(), normalized(a.nulls())))
            }
            ValueType::Datetime => {
                let a =
                    array.as_primitive_opt::<TimestampMillisecondType>().ok_or_else(mismatch)?;
                ColumnData::Datetime(Int64Array::new(a.values().clone(), normalized(a.nulls())))
            }
            ValueType::List => {
                let a = array.as_list_opt::<i32>().ok_or_else(mismatch)?;
                let d = dicts
                    .get(sc.id)
                    .ok_or_else(|| bad_pq(format!("list column {name} has no dictionary")))?;
                let d = d.reader();
                let mut offs = Vec::with_capacity(n + 1);
                let mut vals = Vec::new();
                offs.push(0i32);
                for row in 0..n {
                    if a.is_valid(row) {
                        let v = a.value(row);
                        let v = v.as_string_opt::<i32>().ok_or_else(mismatch)?;
                        for s in v.iter() {
                            let s = s.unwrap_or("null");
                            vals.push(d.lookup(s).ok_or_else(|| {
                                bad_pq(format!(
                                    "list element {s:?} of {name} not in its dictionary"
                                ))
                            })?);
                        }
                    }
                    offs.push(
                        i32::try_from(vals.len())
                            .map_err(|_| bad_pq(format!("column {name} too long")))?,
                    );
                }
                ColumnData::List(ListArray::new(
                    list_item_field(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    Arc::new(UInt32Array::from(vals)),
                    normalized(a.nulls()),
                ))
            }
            ValueType::Geo => {
                let a = array
                    .as_fixed_size_list_opt()
                    .filter(|a| a.value_length() == 2)
                    .ok_or_else(mismatch)?;
                let v = a.values().as_primitive_opt::<Float64Type>().ok_or_else(mismatch)?;
                let v = Float64Array::new(v.values().clone(), None);
                ColumnData::Geo(FixedSizeListArray::new(
                    geo_item_field(),
                    2,
                    Arc::new(v),
                    normalized(a.nulls()),
                ))
            }
            ValueType::Null => {
                let a = array.as_boolean_opt().ok_or_else(mismatch)?;
                if normalized(a.nulls()) != nulls {
                    return Err(bad_pq(format!("column {name} differs from the sidecar presence")));
                }
                ColumnData::Null
            }
        };
        columns.push(SegmentColumn {
            id: sc.id,
            key,
            data,
            presence: sc.presence,
            stats: sc.stats,
            index: sc.index,
        });
    }
    let seg = Segment::from_parts(files.id, timestamps, created_at, ids, columns, deleted);
    // Both files matched their crc32c; check the structure cheaply (a full
    // `validate_with` rebuilds every index and statistic, as costly as the
    // seal that wrote them).
    seg.validate_structure(Some(dicts))
        .map_err(|e| bad_idx(format!("segment fails validation: {e}")))?;
    Ok(seg)
}

#[cfg(test)]
mod tests;
