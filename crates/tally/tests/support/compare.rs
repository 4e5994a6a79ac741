//! Comparing a reference answer with the engine's: floats to 1e-9
//! relative, integers exactly (or within rounding of huge sums),
//! `execution_metadata` ignored.

use serde_json::Value;

/// Floats agree to 1e-9 relative, integers exactly; everything else
/// exactly. Drops `execution_metadata` (timings).
pub fn same(a: &Value, b: &Value) -> bool {
    same_with(a, b, false)
}

/// [`same`]; with `rounded`, integers beyond 2^52 may differ by 2 ulps
/// (sums, interpolated and averaged results there are f64s rounded from
/// values they cannot hold, and the reference and the engine add in
/// different orders).
pub fn same_with(a: &Value, b: &Value, rounded: bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => {
                let big = i.unsigned_abs().max(j.unsigned_abs());
                i == j || (rounded && big > 1 << 52 && i.abs_diff(j) as f64 <= big as f64 * 4.5e-16)
            }
            _ => {
                let (f, g) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                f == g || (f - g).abs() <= 1e-9 * f.abs().max(g.abs()).max(1.0)
            }
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| {
                let mut k: Vec<String> =
                    m.keys().filter(|k| *k != "execution_metadata").cloned().collect();
                k.sort();
                k
            };
            keys(x) == keys(y) && keys(x).iter().all(|k| same_with(&x[k], &y[k], rounded))
        }
        _ => a == b,
    }
}

/// [`same`] on answers that may be errors (an error code each): equal
/// codes, or bodies that are [`same`]; with the rounding allowance of
/// [`same_with`] for the analyses that add floats.
pub fn same_answer(want: &Result<Value, String>, got: &Result<Value, String>) -> bool {
    match (want, got) {
        (Ok(a), Ok(b)) => same_with(a, b, true),
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}
