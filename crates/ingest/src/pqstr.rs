//! Parquet column chunks for string columns, written straight from the
//! segment's dictionary ids.
//!
//! A segment's string column is already dictionary-encoded: each row holds a
//! key into the segment's distinct strings. The parquet crate's Arrow writer
//! would hash every row's string again to build its own dictionary (and
//! compare every row for the min/max statistics), which was about 40 % of a
//! seal's Parquet time. Here the chunk is written as Parquet's dictionary
//! encoding spells it, from the keys:
//!
//! - one `PLAIN` dictionary page: the distinct strings the row range uses,
//!   in key order (`u32` little-endian length, then the bytes);
//! - `RLE_DICTIONARY` data pages (format v1) of at most
//!   `data_page_row_count_limit` rows: the definition levels (bit width 1,
//!   `u32` byte length first), then the bit width of the keys and the keys,
//!   both in the RLE / bit-packing hybrid (bit-packed runs only, except a
//!   page without nulls, whose levels are one RLE run);
//! - every page compressed with the file's codec (ZSTD);
//! - chunk statistics (min, max, null count) from the distinct strings, an
//!   offset index, no column index.
//!
//! The parquet crate exposes its own RLE encoder and codecs only behind its
//! `experimental` feature, which also builds the variant crates; the hybrid
//! bit-packing needed here is a few lines, checked by reading every chunk
//! back with the parquet crate's reader in the tests.

use arrow_array::types::UInt32Type;
use arrow_array::{Array, DictionaryArray, StringArray};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder, PageEncodingStats};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Writes `array` (keys into its string values; null keys are absent rows)
/// as one Parquet column chunk for `descr`; `None` where this writer does
/// not cover the case (format v2 pages, a codec other than ZSTD or none, a
/// range with no present row, a column that is not a flat optional one),
/// and the caller falls back to the Arrow writer.
pub(crate) fn string_chunk(
    array: &DictionaryArray<UInt32Type>,
    descr: &ColumnDescPtr,
    props: &WriterProperties,
) -> Result<Option<(Bytes, ColumnCloseResult)>> {
    let path = descr.path();
    let codec = props.compression(path);
    let level = match codec {
        Compression::ZSTD(l) => Some(l.compression_level()),
        Compression::UNCOMPRESSED => None,
        _ => return Ok(None),
    };
    if props.writer_version() != WriterVersion::PARQUET_1_0
        || descr.max_rep_level() != 0
        || descr.max_def_level() != 1
        || !props.dictionary_enabled(path)
    {
        return Ok(None);
    }
    let Some(values) = array.values().as_any().downcast_ref::<StringArray>() else {
        return Ok(None);
    };
    let keys = array.keys();
    let n = keys.len();
    let nulls = keys.nulls();
    let present = n - keys.null_count();
    if present == 0 {
        return Ok(None);
    }

    // Ranks of the keys this range uses, in key order.
    let mut rank = vec![u32::MAX; values.len()];
    for (i, &k) in keys.values().iter().enumerate() {
        if nulls.is_none_or(|b| b.is_valid(i)) {
            let slot = rank.get_mut(k as usize).ok_or_else(|| {
                ParquetError::General(format!("key {k} outside a dictionary of {}", values.len()))
            })?;
            *slot = 0;
        }
    }
    let mut used = 0u32;
    let mut dict_bytes = 0usize;
    for (k, r) in rank.iter_mut().enumerate() {
        if *r == 0 {
            *r = used;
            used += 1;
            dict_bytes += 4 + values.value(k).len();
        }
    }

    let mut zstd = match level {
        None => None,
        Some(l) => Some(
            zstd::bulk::Compressor::new(l)
                .map_err(|e| ParquetError::General(format!("zstd level {l}: {e}")))?,
        ),
    };
    let mut compress = |raw: Vec<u8>| -> Result<(Bytes, usize)> {
        let len = raw.len();
        Ok(match zstd.as_mut() {
            None => (Bytes::from(raw), len),
            Some(z) => {
                let c =
                    z.compress(&raw).map_err(|e| ParquetError::General(format!("zstd: {e}")))?;
                (Bytes::from(c), len)
            }
        })
    };

    let mut sink = TrackedWrite::new(Vec::with_capacity(dict_bytes / 2 + n / 2 + 1024));
    let mut pages = PageWriterState::default();
    let (min, max) = {
        let mut writer = SerializedPageWriter::new(&mut sink);

        // The dictionary page, with min and max on the way.
        let mut dict = Vec::with_capacity(dict_bytes);
        let (mut min, mut max): (Option<&str>, Option<&str>) = (None, None);
        for (k, &r) in rank.iter().enumerate() {
            if r != u32::MAX {
                let s = values.value(k);
                dict.extend_from_slice(&(s.len() as u32).to_le_bytes());
                dict.extend_from_slice(s.as_bytes());
                min = Some(min.map_or(s, |m| m.min(s)));
                max = Some(max.map_or(s, |m| m.max(s)));
            }
        }
        let (buf, raw_len) = compress(dict)?;
        let spec = writer.write_page(CompressedPage::new(
            Page::DictionaryPage {
                buf,
                num_values: used,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            raw_len,
        ))?;
        pages.dictionary(spec.offset, spec.uncompressed_size);

        // Data pages.
        // At least 1: a zero-width run is legal, but not every reader takes it.
        let width = bit_width(used.saturating_sub(1)).max(1);
        let per_page = props.data_page_row_count_limit().max(1);
        let mut start = 0;
        while start < n {
            let len = per_page.min(n - start);
            let mut raw = Vec::with_capacity(16 + len / 8 + len * usize::from(width) / 8);
            let mut count = 0u32;
            // Definition levels, length first.
            raw.extend_from_slice(&[0; 4]);
            let page_nulls = nulls.map(|b| b.slice(start, len)).filter(|b| b.null_count() > 0);
            match &page_nulls {
                None => rle_run(&mut raw, len, 1),
                Some(b) => bit_pack(&mut raw, b.iter().map(u64::from), len, 1),
            }
            let levels = (raw.len() - 4) as u32;
            raw[..4].copy_from_slice(&levels.to_le_bytes());
            // The keys of the present rows.
            raw.push(width);
            let page_keys = &keys.values()[start..start + len];
            let ranked = page_keys.iter().enumerate().filter_map(|(i, &k)| {
                if page_nulls.as_ref().is_none_or(|b| b.is_valid(i)) {
                    count += 1;
                    Some(u64::from(rank[k as usize]))
                } else {
                    None
                }
            });
            let page_present = len - page_nulls.as_ref().map_or(0, |b| b.null_count());
            bit_pack(&mut raw, ranked, page_present, width);
            debug_assert_eq!(count as usize, page_present);
            let (buf, raw_len) = compress(raw)?;
            let spec = writer.write_page(CompressedPage::new(
                Page::DataPage {
                    buf,
                    num_values: len as u32,
                    encoding: Encoding::RLE_DICTIONARY,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                },
                raw_len,
            ))?;
            pages.data(spec.offset, spec.compressed_size, spec.uncompressed_size, len);
            start += len;
        }
        writer.close()?;
        (min, max)
    };
    let truncate = props.statistics_truncate_length().unwrap_or(usize::MAX);
    let exact = |s: Option<&str>| s.filter(|s| s.len() <= truncate).map(|s| s.as_bytes().to_vec());
    let stats = (props.statistics_enabled(path) != EnabledStatistics::None).then(|| {
        Statistics::new(
            exact(min).map(ByteArray::from),
            exact(max).map(ByteArray::from),
            None,
            Some((n - present) as u64),
            false,
        )
    });
    let total = sink.bytes_written();
    let bytes = Bytes::from(sink.into_inner()?);
    let mut meta = ColumnChunkMetaData::builder(descr.clone())
        .set_compression(codec)
        .set_encodings(vec![Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY])
        .set_page_encoding_stats(vec![
            PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            },
            PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::RLE_DICTIONARY,
                count: pages.data_pages as i32,
            },
        ])
        .set_total_compressed_size(total as i64)
        .set_total_uncompressed_size(pages.uncompressed as i64)
        .set_num_values(n as i64)
        .set_data_page_offset(pages.first_data as i64)
        .set_dictionary_page_offset(Some(pages.dict_offset as i64));
    if let Some(stats) = stats {
        meta = meta.set_statistics(stats);
    }
    let close = ColumnCloseResult {
        bytes_written: total as u64,
        rows_written: n as u64,
        metadata: meta.build()?,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(pages.offsets.build()),
    };
    Ok(Some((bytes, close)))
}

/// What the written pages add up to.
#[derive(Default)]
struct PageWriterState {
    dict_offset: u64,
    first_data: u64,
    data_pages: usize,
    uncompressed: usize,
    offsets: OffsetIndexBuilder,
}

impl PageWriterState {
    fn dictionary(&mut self, offset: u64, size: usize) {
        self.dict_offset = offset;
        self.uncompressed += size;
    }

    fn data(&mut self, offset: u64, compressed: usize, uncompressed: usize, rows: usize) {
        if self.data_pages == 0 {
            self.first_data = offset;
        }
        self.data_pages += 1;
        self.uncompressed += uncompressed;
        self.offsets.append_offset_and_size(offset as i64, compressed as i32);
        self.offsets.append_row_count(rows as i64);
    }
}

/// Bits needed for values up to `max` (0 for 0).
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// ULEB128 of `v`.
fn uleb(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One RLE run: `count` repetitions of `value` (bit width at most 8).
fn rle_run(out: &mut Vec<u8>, count: usize, value: u8) {
    uleb(out, (count as u64) << 1);
    out.push(value);
}

/// `count` values of `width` bits as one bit-packed run (groups of 8,
/// the last padded with zeros), least significant bit first.
fn bit_pack(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, count: usize, width: u8) {
    let groups = count.div_ceil(8);
    uleb(out, ((groups as u64) << 1) | 1);
    let width = u32::from(width);
    if width == 0 {
        return;
    }
    let start = out.len();
    out.resize(start + groups * width as usize, 0);
    let body = &mut out[start..];
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut at = 0usize;
    for v in values.take(count) {
        acc |= v << bits;
        bits += width;
        while bits >= 8 {
            body[at] = acc as u8;
            at += 1;
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        body[at] = acc as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_pack_matches_the_spec_example() {
        // Parquet's format docs: 0..=7 with bit width 3 packs to
        // 10001000 11000110 11111010.
        let mut out = Vec::new();
        bit_pack(&mut out, 0..8u64, 8, 3);
        assert_eq!(out, vec![0x03, 0b1000_1000, 0b1100_0110, 0b1111_1010]);
    }

    #[test]
    fn bit_pack_pads_the_last_group() {
        let mut out = Vec::new();
        bit_pack(&mut out, [1u64, 1, 1].into_iter(), 3, 1);
        assert_eq!(out, vec![0x03, 0b0000_0111]);
        let mut out = Vec::new();
        bit_pack(&mut out, std::iter::repeat(5u64), 9, 17);
        assert_eq!(out.len(), 1 + 2 * 17);
    }

    proptest::proptest! {
        /// The same bytes as packing one bit at a time, for every width.
        #[test]
        fn bit_pack_equals_bit_by_bit(width in 1u8..=32, seed in proptest::prelude::any::<u64>(), count in 0usize..70) {
            let mask = if width == 32 { u64::from(u32::MAX) } else { (1u64 << width) - 1 };
            let mut x = seed | 1;
            let values: Vec<u64> = (0..count)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x & mask
                })
                .collect();
            let mut out = Vec::new();
            bit_pack(&mut out, values.iter().copied(), count, width);
            let mut want = Vec::new();
            uleb(&mut want, ((count.div_ceil(8) as u64) << 1) | 1);
            let start = want.len();
            want.resize(start + count.div_ceil(8) * usize::from(width), 0);
            for (i, v) in values.iter().enumerate() {
                for b in 0..usize::from(width) {
                    if v >> b & 1 == 1 {
                        let bit = i * usize::from(width) + b;
                        want[start + bit / 8] |= 1 << (bit % 8);
                    }
                }
            }
            proptest::prop_assert_eq!(out, want);
        }
    }

    #[test]
    fn rle_run_and_widths() {
        let mut out = Vec::new();
        rle_run(&mut out, 300, 1);
        assert_eq!(out, vec![0xd8, 0x04, 0x01]);
        assert_eq!((bit_width(0), bit_width(1), bit_width(2), bit_width(255)), (0, 1, 2, 8));
        assert_eq!(bit_width(u32::MAX), 32);
    }
}
