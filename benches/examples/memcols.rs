//! Per-column resident bytes per row of the sealed pageviews segment after
//! ingesting 1M generated events (where the memory target is lost).
//! `cargo run --release -p tally-benches --example memcols`

use tally::{Engine, NdjsonOptions};
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    let (p, _) = e.project_or_create("b").unwrap();
    let input = tally_benches::ndjson(1_000_000, 42);
    p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
    p.flush().unwrap();
    let snap = p.snapshot("pageviews").unwrap();
    let seg = &snap.segments()[0];
    let n = seg.len() as f64;
    println!("rows {n}  total {:.1} B/row", seg.memory_bytes() as f64 / n);
    for c in seg.columns() {
        let a = c.data.array().map_or(0, arrow_array::Array::get_array_memory_size) as f64 / n;
        let pr = c.presence.serialized_size() as f64 / n;
        let ix = c.index.as_ref().map_or(0, |i| i.memory_bytes()) as f64 / n;
        println!(
            "{:<28} {:<8} array {a:5.2} presence {pr:5.2} index {ix:5.2} distinct {}",
            c.key.path, c.key.ty, c.stats.distinct
        );
    }
}
