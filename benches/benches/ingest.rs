//! Ingest throughput: NDJSON → acknowledged, durable (fsync per block of
//! ≥ 10k events), sealed and indexed.
//!
//! `cargo bench -p tally-benches --bench ingest`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tally::{Engine, NdjsonOptions};

fn ingest(c: &mut Criterion) {
    let n = 200_000;
    let input = tally_benches::ndjson(n, 42);
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("ndjson_durable_sealed/events={n}"), |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let engine = Engine::builder().with_data_dir(dir.path()).open().expect("open");
                let (p, _) = engine.project_or_create("bench").expect("project");
                (dir, engine, p)
            },
            |(dir, engine, p)| {
                let s = p
                    .ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {})
                    .expect("ingest");
                assert_eq!(s.accepted as usize, n);
                p.flush().expect("flush");
                (dir, engine)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
