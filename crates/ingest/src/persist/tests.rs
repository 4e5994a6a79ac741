use std::path::PathBuf;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterPropertiesBuilder;

use super::*;
use crate::dict::{DictFileState, Dictionary};
use crate::head::Head;
use crate::segment::build_segment;
use crate::testutil::{gen, MemStorage};

struct Fixture {
    st: MemStorage,
    dir: PathBuf,
    head: Head,
    schema: Schema,
    dicts: Dicts,
}

fn fixture(n: usize, seed: u64) -> Fixture {
    let (mut head, mut schema, mut dicts) = (Head::new(), Schema::new(), Dicts::new());
    gen::fill(&mut head, &gen::batch(n, seed), &mut schema, &mut dicts, 0);
    Fixture { st: MemStorage::default(), dir: PathBuf::from("/data/p/c"), head, schema, dicts }
}

fn is_corrupt_naming(r: Result<Segment>, file: &Path) -> bool {
    matches!(r, Err(IngestError::Corrupt { file: f, .. }) if f == file)
}

#[test]
fn round_trip_equals() {
    let f = fixture(3000, 11);
    let seg = build_segment(&f.head, 0..f.head.len(), &f.schema, &f.dicts, 42);
    let files = write_segment(&f.st, &f.dir, &seg, &f.schema, &f.dicts).unwrap();
    assert_eq!(files.parquet.name, "seg-000000000000002a.parquet");
    assert_eq!(files.index.name, "seg-000000000000002a.idx");
    assert_eq!(files.rows, 3000);
    assert!(files.deletes.is_none());
    let back = read_segment(&f.st, &f.dir, &files, &f.schema, &f.dicts).unwrap();
    back.validate_with(Some(&f.dicts)).unwrap();
    for (a, b) in seg.columns().zip(back.columns()) {
        assert_eq!(a, b, "column {}", a.key);
    }
    assert_eq!(back, seg);

    // deletion vectors: a new generation, data files untouched
    let v2 = seg.with_deleted([1u32, 2, 2999].into_iter().collect());
    let del = write_deletes(&f.st, &f.dir, 42, 1, v2.deleted()).unwrap();
    assert_eq!(del.name, "seg-000000000000002a-0000000000000001.del");
    let files2 = SegmentFiles { deletes: Some(del), ..files.clone() };
    assert_eq!(read_segment(&f.st, &f.dir, &files2, &f.schema, &f.dicts).unwrap(), v2);
    let json = serde_json::to_string(&files2).unwrap();
    assert_eq!(serde_json::from_str::<SegmentFiles>(&json).unwrap(), files2);
}

#[test]
fn parquet_is_plain_and_typed() {
    let f = fixture(1500, 12);
    let seg = build_segment(&f.head, 0..f.head.len(), &f.schema, &f.dicts, 1);
    let files = write_segment(&f.st, &f.dir, &seg, &f.schema, &f.dicts).unwrap();
    let bytes = read_all(&f.st, &f.dir.join(&files.parquet.name)).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    let kv = b.metadata().file_metadata().key_value_metadata().unwrap().clone();
    assert!(kv.iter().any(|k| k.key == "tally.format_version" && k.value.as_deref() == Some("1")));
    assert!(kv.iter().any(|k| k.key == "tally.columns"));
    let batches: Vec<RecordBatch> = b.build().unwrap().map(|b| b.unwrap()).collect();
    let mut row = 0;
    for batch in &batches {
        let ts = batch.column_by_name("keen.timestamp").unwrap();
        assert_eq!(ts.data_type(), &utc_ms());
        let ts = ts.as_primitive::<TimestampMillisecondType>();
        let id = batch.column_by_name("keen.id").unwrap().as_string::<i32>();
        for r in 0..batch.num_rows() {
            let k = row + r;
            assert_eq!(ts.value(r), seg.timestamps()[k]);
            assert_eq!(id.value(r), seg.ids().get(k).to_hex());
        }
        for col in seg.columns() {
            let a = batch.column_by_name(&col.key.parquet_name()).unwrap();
            let dict = f.dicts.get(col.id);
            for r in 0..batch.num_rows() {
                let k = row + r;
                let present = col.presence.contains(k as u32);
                assert_eq!(a.is_valid(r), present, "{} row {k}", col.key);
                if !present {
                    continue;
                }
                match &col.data {
                    ColumnData::Str(ids) => assert_eq!(
                        a.as_string::<i32>().value(r),
                        &*dict.unwrap().value(ids.value(k)).unwrap()
                    ),
                    ColumnData::Num(NumArray::Int(v)) => {
                        assert_eq!(a.as_primitive::<Int64Type>().value(r), v.value(k))
                    }
                    ColumnData::Num(NumArray::Float(v)) => {
                        assert_eq!(a.as_primitive::<Float64Type>().value(r), v.value(k))
                    }
                    ColumnData::Num(NumArray::Mixed(m)) => {
                        assert_eq!(a.as_primitive::<Float64Type>().value(r), m.values().value(k))
                    }
                    ColumnData::Bool(v) => assert_eq!(a.as_boolean().value(r), v.value(k)),
                    ColumnData::Datetime(v) => {
                        assert_eq!(a.data_type(), &utc_ms());
                        assert_eq!(
                            a.as_primitive::<TimestampMillisecondType>().value(r),
                            v.value(k)
                        )
                    }
                    ColumnData::List(v) => {
                        let got = a.as_list::<i32>().value(r);
                        let got: Vec<&str> =
                            got.as_string::<i32>().iter().map(|s| s.unwrap()).collect();
                        let want = v.value(k);
                        let want: Vec<String> = want
                            .as_primitive::<arrow_array::types::UInt32Type>()
                            .values()
                            .iter()
                            .map(|&e| dict.unwrap().value(e).unwrap().to_string())
                            .collect();
                        assert_eq!(got, want);
                    }
                    ColumnData::Geo(v) => {
                        let got = a.as_fixed_size_list().value(r);
                        let want = v.value(k);
                        assert_eq!(
                            got.as_primitive::<Float64Type>().values(),
                            want.as_primitive::<Float64Type>().values()
                        );
                    }
                    ColumnData::Null => assert!(a.as_boolean().value(r)),
                }
            }
        }
        row += batch.num_rows();
    }
    assert_eq!(row, 1500);
    // type conflicts keep both typed columns
    let schema = batches[0].schema();
    assert!(schema.field_with_name("v::num").is_ok());
    assert!(schema.field_with_name("v::string").is_ok());
    assert!(schema.field_with_name("tags::list").is_ok());
    assert!(schema.field_with_name("keen.location.coordinates::geo").is_ok());
}

#[test]
fn multi_row_group_files_read_as_one_batch() {
    // the reader's batches span row groups, so one batch of `rows` suffices
    let a: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
    let s = Arc::new(arrow_schema::Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(s.clone(), vec![a]).unwrap();
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(100)).build();
    let mut w = ArrowWriter::try_new(Vec::new(), s, Some(props)).unwrap();
    w.write(&batch).unwrap();
    let bytes = w.into_inner().unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    assert_eq!(b.metadata().num_row_groups(), 10);
    let out: Vec<_> = b.with_batch_size(1000).build().unwrap().collect();
    assert_eq!(out.len(), 1);
}

#[test]
fn dictionary_ids_stable_across_segments_and_reload() {
    let mut f = fixture(1000, 13);
    let more = gen::batch(1000, 14);
    gen::fill(&mut f.head, &more, &mut f.schema, &mut f.dicts, 1000);
    let s1 = build_segment(&f.head, 0..1000, &f.schema, &f.dicts, 1);
    let s2 = build_segment(&f.head, 1000..2000, &f.schema, &f.dicts, 2);
    let country = f.schema.id("user.address.country", ValueType::String).unwrap();
    let id_of = |seg: &Segment, s: &str| {
        let col = seg.column(country).unwrap();
        let ColumnData::Str(a) = &col.data else { panic!() };
        let d = f.dicts.get(country).unwrap();
        (0..a.len())
            .find(|&r| a.is_valid(r) && &*d.value(a.value(r)).unwrap() == s)
            .map(|r| a.value(r))
    };
    assert_eq!(id_of(&s1, "NO"), id_of(&s2, "NO"));
    assert!(id_of(&s1, "NO").is_some());
    let f1 = write_segment(&f.st, &f.dir, &s1, &f.schema, &f.dicts).unwrap();
    let f2 = write_segment(&f.st, &f.dir, &s2, &f.schema, &f.dicts).unwrap();
    // persist dictionaries and the schema, then reload everything
    let mut states = Vec::new();
    for (cid, d) in f.dicts.iter() {
        let p = f.dir.join(format!("dict-{cid}.tlyd"));
        states.push((
            cid,
            p.clone(),
            d.append_to_file(&f.st, &p, DictFileState::default()).unwrap(),
        ));
    }
    let schema: Schema = serde_json::from_str(&serde_json::to_string(&f.schema).unwrap()).unwrap();
    let mut dicts = Dicts::new();
    for (cid, p, st) in &states {
        dicts.insert(*cid, Arc::new(Dictionary::load(&f.st, p, *st).unwrap()));
    }
    assert_eq!(read_segment(&f.st, &f.dir, &f1, &schema, &dicts).unwrap(), s1);
    assert_eq!(read_segment(&f.st, &f.dir, &f2, &schema, &dicts).unwrap(), s2);
    for (cid, d) in f.dicts.iter() {
        assert_eq!(**d, **dicts.get(cid).unwrap());
    }
    // a flipped byte in a dictionary file is reported by name
    let (_, p, st) = &states[0];
    f.st.with_file(p, |d| d[12] ^= 1);
    assert!(
        matches!(Dictionary::load(&f.st, p, *st), Err(IngestError::Corrupt { file, .. }) if file == *p)
    );
}

#[test]
fn flipped_bytes_are_corruption_naming_the_file() {
    let f = fixture(300, 15);
    let seg = build_segment(&f.head, 0..f.head.len(), &f.schema, &f.dicts, 3)
        .with_deleted([7u32].into_iter().collect());
    let files = write_segment(&f.st, &f.dir, &seg, &f.schema, &f.dicts).unwrap();
    let del = files.deletes.clone().unwrap();
    assert_eq!(read_segment(&f.st, &f.dir, &files, &f.schema, &f.dicts).unwrap(), seg);
    for info in [&files.parquet, &files.index, &del] {
        let p = f.dir.join(&info.name);
        for pos in [0, info.bytes as usize / 2, info.bytes as usize - 1] {
            f.st.with_file(&p, |d| d[pos] ^= 0x40);
            assert!(
                is_corrupt_naming(read_segment(&f.st, &f.dir, &files, &f.schema, &f.dicts), &p),
                "{p:?} @ {pos}"
            );
            f.st.with_file(&p, |d| d[pos] ^= 0x40);
        }
        f.st.with_file(&p, |d| d.push(0));
        assert!(is_corrupt_naming(read_segment(&f.st, &f.dir, &files, &f.schema, &f.dicts), &p));
        f.st.with_file(&p, |d| d.pop());
    }
    // even with a matching checksum, a damaged sidecar never panics and
    // never yields a structurally invalid segment (derived data such as
    // statistics is trusted once the checksum matches)
    let idx_path = f.dir.join(&files.index.name);
    let good = read_all(&f.st, &idx_path).unwrap();
    for pos in 0..good.len() - 4 {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        let body = bad.len() - 4;
        let crc = crc32c::crc32c(&bad[..body]);
        bad[body..].copy_from_slice(&crc.to_le_bytes());
        let name = format!("flip-{pos}.idx");
        let info = write_file(&f.st, &f.dir, name, &bad).unwrap();
        let files2 = SegmentFiles { index: info, ..files.clone() };
        match read_segment(&f.st, &f.dir, &files2, &f.schema, &f.dicts) {
            Ok(s) => s.validate_structure(Some(&f.dicts)).unwrap(),
            Err(IngestError::Corrupt { .. }) => {}
            Err(e) => panic!("flip at {pos}: {e}"),
        }
    }
}

mod size {
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;
    use serde_json::{json, Value};

    use super::*;
    use crate::flat::{FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue};

    fn flatten(b: &mut FlatBatch, prefix: &str, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    flatten(b, &p, v);
                }
            }
            Value::Array(items) => {
                let l0 = b.list_elems.len() as u32;
                for it in items {
                    let s = scalar(b, it);
                    b.list_elems.push(s);
                }
                let l1 = b.list_elems.len() as u32;
                let path = b.push_str(prefix);
                b.props.push(FlatProp { path, value: FlatValue::List(l0..l1) });
            }
            v => {
                let s = scalar(b, v);
                let path = b.push_str(prefix);
                b.props.push(FlatProp { path, value: FlatValue::Scalar(s) });
            }
        }
    }

    fn scalar(b: &mut FlatBatch, v: &Value) -> FlatScalar {
        match v {
            Value::String(s) => FlatScalar::Str(b.push_str(s)),
            Value::Number(n) => {
                n.as_i64().map_or(FlatScalar::Float(n.as_f64().unwrap()), FlatScalar::Int)
            }
            Value::Bool(x) => FlatScalar::Bool(*x),
            _ => FlatScalar::Null,
        }
    }

    /// ~400-byte events: low and high cardinality strings, numbers, a bool,
    /// a list, nested objects. Returns the batch and the NDJSON byte count.
    pub(super) fn typical(n: usize, seed: u64) -> (FlatBatch, usize) {
        let mut rng = Pcg64::seed_from_u64(seed);
        let cities = [
            ("Oslo", "NO"),
            ("Bergen", "NO"),
            ("Stockholm", "SE"),
            ("Berlin", "DE"),
            ("Paris", "FR"),
        ];
        let cats = ["shoes", "shirts", "hats", "bags", "socks", "coats"];
        let tags = ["sale", "new", "gift", "clearance", "limited"];
        let mut b = FlatBatch::new();
        let mut ndjson = 0;
        for i in 0..n {
            let (city, country) = cities[rng.random_range(0..cities.len())];
            let ts = 1_718_000_000_000i64 + i as i64 * 250 + rng.random_range(0..1000);
            let ev = json!({
                "user": {
                    "id": format!("u-{:010}", rng.random_range(0..100_000)),
                    "name": format!("Name {}", rng.random_range(0..50_000)),
                    "address": {"city": city, "country": country},
                    "age": rng.random_range(18..90),
                    "premium": rng.random_bool(0.2),
                },
                "session": {
                    "id": format!("{:032x}", rng.random::<u128>()),
                    "referrer": format!("https://www.example.com/landing/{}?utm_source=newsletter", rng.random_range(0..500)),
                },
                "item": {
                    "sku": format!("SKU-{:06}", rng.random_range(0..5000)),
                    "price": (rng.random_range(100..50_000) as f64) / 100.0,
                    "quantity": rng.random_range(1..5),
                    "category": cats[rng.random_range(0..cats.len())],
                },
                "tags": (0..rng.random_range(0..3)).map(|_| tags[rng.random_range(0..tags.len())]).collect::<Vec<_>>(),
                "platform": (["ios", "android", "web"][rng.random_range(0..3)]),
                "app_version": format!("2.{}.{}", rng.random_range(0..4), rng.random_range(0..10)),
                "keen": {"timestamp": crate::format_datetime(ts)},
            });
            ndjson += ev.to_string().len() + 1;
            let start = b.props.len() as u32;
            let mut body = ev.clone();
            body.as_object_mut().unwrap().remove("keen");
            flatten(&mut b, "", &body);
            let end = b.props.len() as u32;
            b.events.push(FlatEvent {
                props: start..end,
                timestamp: Some(ts),
                uniqueness_token: None,
                location: None,
                raw: 0..0,
            });
        }
        (b, ndjson)
    }

    fn measure(n: usize) -> f64 {
        let (batch, ndjson) = typical(n, 99);
        let (mut head, mut schema, mut dicts) = (Head::new(), Schema::new(), Dicts::new());
        let t = std::time::Instant::now();
        gen::fill(&mut head, &batch, &mut schema, &mut dicts, 0);
        let t_append = t.elapsed();
        let t = std::time::Instant::now();
        let seg = build_segment(&head, 0..head.len(), &schema, &dicts, 1);
        let t_build = t.elapsed();
        let st = MemStorage::default();
        let dir = Path::new("/d");
        let t = std::time::Instant::now();
        let files = write_segment(&st, dir, &seg, &schema, &dicts).unwrap();
        let t_write = t.elapsed();
        let t = std::time::Instant::now();
        let back = read_segment(&st, dir, &files, &schema, &dicts).unwrap();
        let t_read = t.elapsed();
        assert_eq!(back, seg);
        let ratio = files.parquet.bytes as f64 / ndjson as f64;
        println!(
            "events={n} ndjson={ndjson} ({} B/event) parquet={} ({:.1}%) sidecar={} ({:.1}%) seg_mem={} head_mem={} dict_mem={} \
             append={t_append:?} build={t_build:?} write={t_write:?} read={t_read:?}",
            ndjson / n,
            files.parquet.bytes,
            ratio * 100.0,
            files.index.bytes,
            files.index.bytes as f64 * 100.0 / ndjson as f64,
            seg.memory_bytes(),
            head.memory_bytes(),
            dicts.memory_bytes(),
        );
        ratio
    }

    #[test]
    fn parquet_is_small_10k() {
        assert!(measure(10_000) <= 0.15);
    }

    /// `cargo test --release -p tally-ingest parquet_is_small_100k -- --ignored --nocapture`
    #[test]
    #[ignore = "slow: 100k events"]
    fn parquet_is_small_100k() {
        assert!(measure(100_000) <= 0.15);
    }
}

/// The straightforward encoder: one `RecordBatch` of plain arrays through
/// `ArrowWriter`. `encode_parquet` must write exactly these bytes.
fn reference_parquet(seg: &Segment, dicts: &Dicts, base: WriterPropertiesBuilder) -> Vec<u8> {
    let mut fields = vec![
        Field::new("keen.timestamp", utc_ms(), false),
        Field::new("keen.created_at", utc_ms(), false),
        Field::new("keen.id", DataType::Utf8, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        ts_array(seg.timestamps_array()),
        ts_array(&seg.created_at_array()),
        Arc::new(StringArray::from_iter_values(seg.ids().iter().map(|id| id.to_hex()))),
    ];
    let mut meta_cols = Vec::new();
    for col in seg.columns() {
        meta_cols.push(serde_json::json!([col.id, &*col.key.path, col.key.ty.as_str()]));
        let reader = dicts.get(col.id).map(|d| d.reader());
        let array: ArrayRef = match &col.data {
            ColumnData::Str(a) => {
                let r = reader.as_ref().unwrap();
                Arc::new(a.iter().map(|v| v.and_then(|v| r.value(v))).collect::<StringArray>())
            }
            ColumnData::Num(NumArray::Int(a)) => Arc::new(a.to_i64_array()),
            ColumnData::Num(NumArray::Float(a)) => Arc::new(a.clone()),
            ColumnData::Num(NumArray::Mixed(m)) => Arc::new(m.values().clone()),
            ColumnData::Bool(a) => Arc::new(a.clone()),
            ColumnData::Datetime(a) => ts_array(a),
            ColumnData::List(a) => {
                let r = reader.as_ref().unwrap();
                let mut b = ListBuilder::new(StringBuilder::new()).with_field(Field::new(
                    "item",
                    DataType::Utf8,
                    false,
                ));
                for row in 0..a.len() {
                    if a.is_valid(row) {
                        let elems = a.value(row);
                        for v in elems.as_primitive::<UInt32Type>().values() {
                            b.values().append_value(r.value(*v).unwrap());
                        }
                        b.append(true);
                    } else {
                        b.append(false);
                    }
                }
                Arc::new(b.finish())
            }
            ColumnData::Geo(a) => Arc::new(a.clone()),
            ColumnData::Null => {
                let bits: Vec<bool> =
                    (0..seg.len() as u32).map(|r| col.presence.contains(r)).collect();
                Arc::new(BooleanArray::new(
                    arrow_buffer::BooleanBuffer::from_iter(bits.iter().copied()),
                    Some(NullBuffer::from_iter(bits.iter().copied())),
                ))
            }
        };
        fields.push(Field::new(col.key.parquet_name(), array.data_type().clone(), true));
        arrays.push(array);
    }
    let arrow_schema = Arc::new(arrow_schema::Schema::new(fields));
    let batch = RecordBatch::try_new(arrow_schema.clone(), arrays).unwrap();
    let props = base
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(PARQUET_ZSTD_LEVEL).unwrap()))
        .set_dictionary_enabled(true)
        .set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from("keen.id"), false)
        .set_key_value_metadata(Some(vec![
            KeyValue::new("tally.format_version".to_owned(), SEGMENT_FORMAT_VERSION.to_string()),
            KeyValue::new("tally.segment_id".to_owned(), seg.id().to_string()),
            KeyValue::new(
                "tally.columns".to_owned(),
                serde_json::Value::Array(meta_cols).to_string(),
            ),
        ]))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), arrow_schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap()
}

/// Every row group's batches, read back with (and without) the page index.
fn read_back(
    bytes: &[u8],
    page_index: bool,
) -> (Vec<RecordBatch>, parquet::file::metadata::ParquetMetaData) {
    use parquet::file::metadata::PageIndexPolicy;
    let policy = if page_index { PageIndexPolicy::Required } else { PageIndexPolicy::Skip };
    let opts =
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_page_index_policy(policy);
    let b =
        ParquetRecordBatchReaderBuilder::try_new_with_options(Bytes::from(bytes.to_vec()), opts)
            .unwrap();
    let meta = (**b.metadata()).clone();
    let batches = b.with_batch_size(1 << 20).build().unwrap().map(|b| b.unwrap()).collect();
    (batches, meta)
}

#[test]
fn parallel_parquet_encoding_reads_back_as_the_reference_file() {
    // The reference is one ArrowWriter over one batch; the segment encoder
    // writes the same schema, metadata, values and statistics, with string
    // columns from their dictionary keys (crate::pqstr).
    for (n, seed) in [(0, 1), (1, 2), (3000, 11), (20_000, 14), (45_000, 15)] {
        let f = fixture(n, seed);
        let seg = build_segment(&f.head, 0..f.head.len(), &f.schema, &f.dicts, 9);
        let small = || WriterProperties::builder().set_max_row_group_row_count(Some(700));
        let cases = [
            (
                encode_parquet(&seg, &f.schema, &f.dicts).unwrap(),
                reference_parquet(&seg, &f.dicts, WriterProperties::builder()),
            ),
            (
                encode_parquet_with(&seg, &f.schema, &f.dicts, small()).unwrap(),
                reference_parquet(&seg, &f.dicts, small()),
            ),
        ];
        for (fast, reference) in cases {
            for page_index in [false, true] {
                let (got, got_meta) = read_back(&fast, page_index);
                let (want, want_meta) = read_back(&reference, page_index);
                assert_eq!(got, want, "{n} rows");
                assert_eq!(got_meta.num_row_groups(), want_meta.num_row_groups());
                assert_eq!(
                    got_meta.file_metadata().key_value_metadata(),
                    want_meta.file_metadata().key_value_metadata()
                );
                assert_eq!(
                    got_meta.file_metadata().schema_descr().root_schema(),
                    want_meta.file_metadata().schema_descr().root_schema()
                );
                for (g, w) in got_meta.row_groups().iter().zip(want_meta.row_groups()) {
                    assert_eq!(g.num_rows(), w.num_rows());
                    for (gc, wc) in g.columns().iter().zip(w.columns()) {
                        let (gs, ws) = (gc.statistics().unwrap(), wc.statistics().unwrap());
                        let name = gc.column_path().string();
                        assert_eq!(gs.null_count_opt(), ws.null_count_opt(), "{name}");
                        assert_eq!(gs.min_bytes_opt(), ws.min_bytes_opt(), "{name}");
                        assert_eq!(gs.max_bytes_opt(), ws.max_bytes_opt(), "{name}");
                        assert_eq!(gc.num_values(), wc.num_values(), "{name}");
                    }
                }
                if page_index {
                    let has =
                        |m: &parquet::file::metadata::ParquetMetaData| m.page_index().is_some();
                    assert_eq!(has(&got_meta), has(&want_meta), "{n} rows");
                    assert_eq!(has(&got_meta), n > 0, "{n} rows");
                }
            }
        }
    }
}

#[test]
fn string_chunks_cover_single_values_long_values_and_empty_row_groups() {
    // One distinct value (key width 1), values past the 64-byte statistics
    // truncation, and a column present only in the first rows, so that with
    // 700-row groups the later groups hold none of it (the Arrow writer's
    // fallback).
    let mut b = crate::flat::FlatBatch::new();
    let limits = crate::flat::EventLimits::default();
    let long = |k: usize| format!("{}{k}", "L".repeat(90));
    for i in 0..2000usize {
        let mut ev = serde_json::json!({"same": "x", "long": long(i % 3), "n": i});
        if i < 50 {
            ev["early"] = serde_json::json!(format!("e{}", i % 5));
        }
        if i % 10 == 0 {
            ev["sparse"] = serde_json::json!(format!("s{}", i % 7));
        }
        crate::event::parse_event(ev.to_string().as_bytes(), &mut b, &limits).unwrap();
    }
    let (mut head, mut schema, mut dicts) = (Head::new(), Schema::new(), Dicts::new());
    gen::fill(&mut head, &b, &mut schema, &mut dicts, 0);
    let seg = build_segment(&head, 0..head.len(), &schema, &dicts, 3);
    let small = || WriterProperties::builder().set_max_row_group_row_count(Some(700));
    for (fast, reference) in [
        (
            encode_parquet(&seg, &schema, &dicts).unwrap(),
            reference_parquet(&seg, &dicts, WriterProperties::builder()),
        ),
        (
            encode_parquet_with(&seg, &schema, &dicts, small()).unwrap(),
            reference_parquet(&seg, &dicts, small()),
        ),
    ] {
        let (got, got_meta) = read_back(&fast, true);
        let (want, want_meta) = read_back(&reference, true);
        assert_eq!(got, want);
        let early = got[0].column_by_name("early::string").unwrap();
        assert_eq!(early.len() - early.null_count(), 50);
        for (g, w) in got_meta.row_groups().iter().zip(want_meta.row_groups()) {
            for (gc, wc) in g.columns().iter().zip(w.columns()) {
                let name = gc.column_path().string();
                let (gs, ws) = (gc.statistics().unwrap(), wc.statistics().unwrap());
                assert_eq!(gs.null_count_opt(), ws.null_count_opt(), "{name}");
                if name == "long::string" {
                    // Longer than the truncation length: no min/max rather
                    // than a truncated bound.
                    assert_eq!((gs.min_bytes_opt(), gs.max_bytes_opt()), (None, None));
                } else {
                    assert_eq!(gs.min_bytes_opt(), ws.min_bytes_opt(), "{name}");
                    assert_eq!(gs.max_bytes_opt(), ws.max_bytes_opt(), "{name}");
                }
            }
        }
    }
}
