//! Rendering of values into Keen result JSON (keen-semantics §0): integral
//! numbers print without a fraction, other numbers as the shortest
//! round-trip decimal, NaN and infinities never (they print as `null`),
//! datetimes as `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC).

use serde_json::Value;

use crate::model::{Number, Scalar};

/// The JSON of an f64 result: an integer when the value is integral and
/// fits in i64, the shortest round-trip decimal otherwise, `null` for NaN
/// and infinities.
pub fn f64_json(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    number_json(Number::from_f64(f))
}

/// The JSON of a [`Number`] (see [`f64_json`] for floats).
pub fn number_json(n: Number) -> Value {
    match n {
        Number::Int(i) => Value::from(i),
        Number::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) if f.fract() != 0.0 => Value::Number(n),
            // Integral beyond i64 (|f| ≥ 2^63): print the integer digits.
            Some(_) if f.abs() < 1e21 => {
                serde_json::from_str::<Value>(&format!("{f:.0}")).unwrap_or(Value::Null)
            }
            Some(n) => Value::Number(n),
            None => Value::Null,
        },
    }
}

/// An instant as Keen prints stored datetimes: `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn datetime_json(ms: i64) -> Value {
    Value::String(tally_ingest::format_datetime(ms))
}

/// The JSON of a [`Scalar`]: strings, numbers, booleans, datetimes (UTC ISO),
/// lists element by element, `null`.
pub fn scalar_json(s: &Scalar) -> Value {
    match s {
        Scalar::Num(n) => number_json(*n),
        Scalar::Str(s) => Value::String(s.clone()),
        Scalar::Bool(b) => Value::Bool(*b),
        Scalar::Datetime(ms) => datetime_json(*ms),
        Scalar::List(v) => Value::Array(v.iter().map(scalar_json).collect()),
        Scalar::Null => Value::Null,
    }
}

/// Appends the JSON text of `s` to `out`: the bytes `serde_json` writes
/// for [`scalar_json`]`(s)`, without building the tree.
pub fn write_scalar(out: &mut Vec<u8>, s: &Scalar) {
    match s {
        Scalar::Str(s) => write_str(out, s),
        Scalar::Num(Number::Int(i)) => {
            let _ = serde_json::to_writer(&mut *out, i);
        }
        Scalar::List(v) => {
            out.push(b'[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(out, x);
            }
            out.push(b']');
        }
        other => write_value(out, &scalar_json(other)),
    }
}

/// Appends `s` as a JSON string (serde_json's escaping).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends the JSON text of `v`.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    let _ = serde_json::to_writer(&mut *out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_keen_does() {
        assert_eq!(f64_json(3.0).to_string(), "3");
        assert_eq!(f64_json(-0.0).to_string(), "0");
        assert_eq!(f64_json(310.5).to_string(), "310.5");
        assert_eq!(f64_json(0.1 + 0.2).to_string(), "0.30000000000000004");
        assert_eq!(f64_json(f64::NAN), Value::Null);
        assert_eq!(f64_json(f64::INFINITY), Value::Null);
        assert_eq!(f64_json(1e19).to_string(), "10000000000000000000");
        assert_eq!(number_json(Number::Int(i64::MIN)).to_string(), "-9223372036854775808");
        assert_eq!(datetime_json(0).to_string(), "\"1970-01-01T00:00:00.000Z\"");
    }

    #[test]
    fn written_scalars_equal_the_serialized_tree() {
        let all = [
            Scalar::Str("a \"quoted\" \\ line\n\u{1}\u{e9}".into()),
            Scalar::Num(Number::Int(-3)),
            Scalar::Num(Number::Float(2.5)),
            Scalar::Num(Number::Float(1e300)),
            Scalar::Num(Number::Float(f64::NAN)),
            Scalar::Bool(false),
            Scalar::Null,
            Scalar::Datetime(1_700_000_000_123),
            Scalar::List(vec![
                Scalar::Str("x".into()),
                Scalar::List(vec![]),
                Scalar::Num(Number::Int(i64::MAX)),
            ]),
        ];
        for s in &all {
            let mut out = Vec::new();
            write_scalar(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), scalar_json(s).to_string(), "{s:?}");
        }
    }
}
