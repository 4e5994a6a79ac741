//! Sealed segments are plain typed Parquet that other engines can read:
//! read them back with the parquet crate alone and compare with the input.

#[path = "support/fs.rs"]
mod fs_util;

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tally::{Engine, FixedClock};

const NOW: i64 = 1_718_202_920_123;

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    fs_util::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect()
}

fn read(path: &Path) -> RecordBatch {
    let f = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow_select_concat(&batches)
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    assert_eq!(batches.len(), 1, "one batch per small file");
    batches[0].clone()
}

#[test]
fn parquet_columns_hold_the_input_values_sorted_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let e =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, _) = e.project_or_create("P").unwrap();
    // Written out of time order on purpose.
    p.record("buys", br#"{"keen": {"timestamp": "2024-06-12T10:00:00.000Z"}, "price": 2.5, "user": {"id": "u2"}, "n": 7, "ok": true, "tags": ["a", 1]}"#).unwrap();
    p.record("buys", br#"{"keen": {"timestamp": "2024-06-11T10:00:00.000Z"}, "price": 1.25, "user": {"id": "u1"}, "n": 8, "ok": false}"#).unwrap();
    p.record("buys", br#"{"keen": {"timestamp": "2024-06-13T10:00:00.000Z"}, "price": "free", "user": {"id": "u1"}}"#).unwrap();
    p.flush().unwrap();
    let files = parquet_files(dir.path());
    assert_eq!(files.len(), 1);
    let b = read(&files[0]);
    assert_eq!(b.num_rows(), 3);
    let ts = b.column_by_name("keen.timestamp").expect("keen.timestamp column");
    let ts = ts.as_primitive::<TimestampMillisecondType>();
    assert_eq!(ts.values().to_vec(), [1_718_100_000_000, 1_718_186_400_000, 1_718_272_800_000]);
    let created =
        b.column_by_name("keen.created_at").unwrap().as_primitive::<TimestampMillisecondType>();
    assert!(created.values().iter().all(|&c| c == NOW));
    let ids = b.column_by_name("keen.id").unwrap();
    let ids = ids.as_string::<i32>();
    assert!(ids
        .iter()
        .all(|i| i.is_some_and(|s| s.len() == 24 && s.chars().all(|c| c.is_ascii_hexdigit()))));

    let price = b.column_by_name("price::num").expect("price::num");
    let price = price.as_primitive::<Float64Type>();
    assert_eq!(price.value(0), 1.25);
    assert_eq!(price.value(1), 2.5);
    assert!(price.is_null(2));
    let price_s = b.column_by_name("price::string").expect("type conflict keeps both columns");
    assert_eq!(price_s.as_string::<i32>().value(2), "free");
    let user = b.column_by_name("user.id::string").unwrap();
    let user = user.as_string::<i32>();
    assert_eq!([user.value(0), user.value(1), user.value(2)], ["u1", "u2", "u1"]);
    let n = b.column_by_name("n::num").unwrap().as_primitive::<Int64Type>().clone();
    assert_eq!((n.value(0), n.value(1)), (8, 7));
    let ok = b.column_by_name("ok::bool").unwrap().as_boolean().clone();
    assert_eq!((ok.value(0), ok.value(1)), (false, true));
    assert!(b.column_by_name("tags::list").is_some());
}
