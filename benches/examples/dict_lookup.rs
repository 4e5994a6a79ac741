//! Times dictionary interning and lookup alone on the `user.id` values of
//! the seeded generator's events (the one column whose dictionary is too
//! large to stay in cache: about 480k distinct ids in 1M events).
//!
//! `cargo run --release -p tally-benches --example dict_lookup -- [N]`

use std::time::Instant;

use tally_ingest::Dictionary;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let mut ids: Vec<String> = Vec::with_capacity(n);
    tally_benches::for_each_bare_event(n, 42, |line| {
        let v: serde_json::Value = serde_json::from_str(line).map_err(std::io::Error::other)?;
        if let Some(id) = v.pointer("/user/id").and_then(|x| x.as_str()) {
            ids.push(id.to_owned());
        }
        Ok(())
    })
    .expect("generating events");
    let (mut intern, mut lookup) = (f64::MAX, f64::MAX);
    let mut distinct = 0;
    for _ in 0..7 {
        let d = Dictionary::new();
        let t = Instant::now();
        let mut w = d.writer();
        let mut sum = 0u64;
        for v in &ids {
            sum += u64::from(w.intern(v));
        }
        drop(w);
        intern = intern.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let r = d.reader();
        for v in &ids {
            sum += u64::from(r.lookup(v).expect("interned above"));
        }
        lookup = lookup.min(t.elapsed().as_secs_f64());
        distinct = r.len();
        std::hint::black_box(sum);
    }
    let per = |s: f64| s * 1e9 / ids.len().max(1) as f64;
    println!(
        "{} values, {distinct} distinct: intern {:.1} ns/value, lookup {:.1} ns/value (best of 7)",
        ids.len(),
        per(intern),
        per(lookup)
    );
}
