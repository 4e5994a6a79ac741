//! Times `encode_wal_part` alone (the WAL payload v3 encoding the parse
//! threads make) over 200k generated events in batches of 2,500, one
//! thread, best of 9: `cargo run --release -p tally-benches --example
//! wal_encode`.

use std::time::Instant;
use tally_ingest::{EventLimits, EventParser, FlatBatch};
fn main() {
    let mut batches = Vec::new();
    let mut b = FlatBatch::new();
    let mut p = EventParser::new();
    tally_benches::for_each_bare_event(200_000, 42, |l| {
        p.parse_at(l.as_bytes(), 0, &mut b, &EventLimits::default()).unwrap();
        if b.len() == 2500 {
            batches.push(std::mem::take(&mut b));
        }
        Ok(())
    })
    .unwrap();
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..9 {
        let t = Instant::now();
        bytes = 0;
        for b in &batches {
            let idx: Vec<usize> = (0..b.len()).collect();
            let mut out = Vec::with_capacity(b.arena.len() + 4 * b.props.len());
            tally_ingest::encode_wal_part(b, &idx, &mut out);
            bytes += out.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("encode: {:.1} ns/event, {} B/event", best * 1e9 / 200_000.0, bytes / 200_000);
}
