//! Writes seeded synthetic events as NDJSON (`{"<collection>": {event}}` per line).
//!
//! ```text
//! cargo run -p tally-ingest --example gen_events -- N SEED > out.jsonl
//! ```
//!
//! `N` defaults to 1000 and `SEED` to 42; the other settings are
//! [`GeneratorConfig::default`] (90 days from 2024-01-01, 1,000,000 users).

use std::io::Write as _;
use std::process::ExitCode;

use tally_ingest::{Generator, GeneratorConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |i: usize, default: u64| -> Result<u64, String> {
        args.get(i).map_or(Ok(default), |s| s.parse().map_err(|_| format!("not a number: {s:?}")))
    };
    let (n, seed) = match (parse(0, 1_000), parse(1, 42)) {
        (Ok(n), Ok(seed)) if args.len() <= 2 => (n, seed),
        (Err(e), _) | (_, Err(e)) => return usage(&e),
        _ => return usage("too many arguments"),
    };
    let Ok(n) = usize::try_from(n) else {
        return usage("N is too large");
    };
    let mut gen = Generator::new(GeneratorConfig { seed, ..GeneratorConfig::default() });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match gen.write_lines(n, &mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is a normal way to stop.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_events: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("gen_events: {problem}\nusage: gen_events [N] [SEED]");
    ExitCode::from(2)
}
