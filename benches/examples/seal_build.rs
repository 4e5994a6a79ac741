//! Times the seal's segment build alone (sort by `keen.timestamp`, typed
//! Arrow columns, bitmap indexes, statistics) over one head of the seeded
//! generator's events: `cargo run --release -p tally-benches --example
//! seal_build -- [N] [REPEATS]`. Prints the best wall time.

use std::time::Instant;

use tally_ingest::{
    build_segment, Dicts, EventId, EventLimits, EventParser, FlatBatch, Head, Schema,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let (mut head, mut schema, mut dicts) = (Head::new(), Schema::new(), Dicts::new());
    let limits = EventLimits::default();
    let mut parser = EventParser::new();
    let mut lines: Vec<String> = Vec::with_capacity(10_000);
    let mut append = |lines: &mut Vec<String>| {
        let mut batch = FlatBatch::new();
        for l in lines.iter() {
            parser
                .parse_at(l.as_bytes(), 0, &mut batch, &limits)
                .expect("generated events are valid");
        }
        let start = head.len();
        let rows: Vec<(usize, i64, EventId)> = (0..batch.len())
            .map(|i| {
                let k = (start + i) as u32;
                let mut id = [0u8; 12];
                id[8..].copy_from_slice(&k.to_be_bytes());
                (i, 1_700_000_000_000, EventId(id))
            })
            .collect();
        head.append_batch(&batch, &rows, &mut schema, &mut dicts).expect("room for the columns");
        lines.clear();
    };
    tally_benches::for_each_bare_event(n, 42, |line| {
        lines.push(line.to_owned());
        if lines.len() == 10_000 {
            append(&mut lines);
        }
        Ok(())
    })
    .expect("generating events");
    append(&mut lines);
    let mut best = f64::MAX;
    let mut columns = 0;
    for r in 0..repeats {
        let t = Instant::now();
        let seg = build_segment(&head, 0..head.len(), &schema, &dicts, r as u64);
        best = best.min(t.elapsed().as_secs_f64());
        columns = seg.columns().count();
    }
    println!("segment build of {} rows, {columns} columns: best {best:.3} s", head.len());
}
