//! Writes the query benchmark's events: the seeded generator's events as
//! bare NDJSON lines of one collection (the `{"<collection>": ...}` wrapper
//! removed), for `tally ingest --collection events` and the DuckDB peer.
//!
//! ```text
//! cargo run --release -p tally-benches --example query_dataset -- N SEED > events.jsonl
//! ```

use std::io::Write as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(42);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let res = tally_benches::for_each_bare_event(n, seed, |line| {
        out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n"))
    });
    if let Err(e) = res.and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("query_dataset: {e}");
            std::process::exit(1);
        }
    }
}
