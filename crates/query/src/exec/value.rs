//! Value keys shared by filters, partial states and groups: canonical
//! numbers, hashable and canonically ordered primitive values, and the
//! canonical JSON texts list dictionaries hold (`tally_ingest::list_elem_text`).

use std::cmp::Ordering;

use crate::model::{Number, Scalar};

/// A number as a hashable key: integral values (also those stored as f64)
/// are `Int`, so `42` and `42.0` are one key; `-0.0` is `Int(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumKey {
    /// An integer.
    Int(i64),
    /// The bits of a non-integral finite f64.
    Float(u64),
}

impl NumKey {
    /// The key of an f64 (canonicalised through [`Number::from_f64`]).
    pub fn from_f64(f: f64) -> NumKey {
        NumKey::from_number(Number::from_f64(f))
    }

    /// The key of a number.
    pub fn from_number(n: Number) -> NumKey {
        match n {
            Number::Int(i) => NumKey::Int(i),
            Number::Float(f) => match Number::from_f64(f) {
                Number::Int(i) => NumKey::Int(i),
                Number::Float(f) => NumKey::Float(f.to_bits()),
            },
        }
    }

    /// Back to a number.
    pub fn number(self) -> Number {
        match self {
            NumKey::Int(i) => Number::Int(i),
            NumKey::Float(b) => Number::Float(f64::from_bits(b)),
        }
    }
}

impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.number().cmp_num(other.number())
    }
}

impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A non-null primitive value, hashable, ordered canonically
/// (keen-semantics §0: num < string < bool < datetime; lists never occur
/// as elements). Used for distinct sets that cross dictionaries (funnel
/// actors, select_unique).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValKey {
    /// A number.
    Num(NumKey),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A datetime, UTC ms.
    Datetime(i64),
}

impl ValKey {
    /// The value as a [`Scalar`].
    pub fn to_scalar(&self) -> Scalar {
        match self {
            ValKey::Num(n) => Scalar::Num(n.number()),
            ValKey::Str(s) => Scalar::Str(s.clone()),
            ValKey::Bool(b) => Scalar::Bool(*b),
            ValKey::Datetime(ms) => Scalar::Datetime(*ms),
        }
    }
}

/// Decodes a list dictionary entry (canonical JSON text of one element):
/// `None` for `null` or an unreadable text.
pub fn decode_elem(text: &str) -> Option<ValKey> {
    match serde_json::from_str::<serde_json::Value>(text).ok()? {
        serde_json::Value::String(s) => Some(match tally_ingest::parse_zoned_datetime(&s) {
            Some(ms) => ValKey::Datetime(ms),
            None => ValKey::Str(s),
        }),
        serde_json::Value::Number(n) => Some(ValKey::Num(match n.as_i64() {
            Some(i) => NumKey::Int(i),
            None => NumKey::from_f64(n.as_f64()?),
        })),
        serde_json::Value::Bool(b) => Some(ValKey::Bool(b)),
        _ => None,
    }
}

/// Decodes a list dictionary entry into a [`Scalar`] (`Null` for `null`).
pub fn decode_elem_scalar(text: &str) -> Scalar {
    decode_elem(text).map_or(Scalar::Null, |k| k.to_scalar())
}

/// The canonical JSON text of a number element.
pub fn number_text(n: Number) -> String {
    match NumKey::from_number(n) {
        NumKey::Int(i) => i.to_string(),
        NumKey::Float(b) => serde_json::Number::from_f64(f64::from_bits(b))
            .map_or_else(|| "null".to_owned(), |n| n.to_string()),
    }
}

/// The canonical JSON text of a string element.
pub fn string_text(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The canonical JSON text of a datetime element.
pub fn datetime_text(ms: i64) -> String {
    format!("\"{}\"", tally_ingest::format_datetime(ms))
}

/// The canonical texts a list element equal to `value` can have (a string
/// that parses as a date-time also matches the datetime element, §3.2).
pub fn elem_texts(value: &Scalar, as_datetime: Option<i64>) -> Vec<String> {
    let mut out = match value {
        Scalar::Num(n) => vec![number_text(*n)],
        Scalar::Str(s) => vec![string_text(s)],
        Scalar::Bool(b) => vec![b.to_string()],
        Scalar::Datetime(ms) => vec![datetime_text(*ms)],
        Scalar::List(_) | Scalar::Null => Vec::new(),
    };
    if let Some(ms) = as_datetime {
        let t = datetime_text(ms);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical() {
        assert_eq!(NumKey::from_f64(42.0), NumKey::Int(42));
        assert_eq!(NumKey::from_f64(-0.0), NumKey::Int(0));
        assert!(ValKey::Num(NumKey::Int(1000)) < ValKey::Str("a".into()));
        assert!(ValKey::Str("z".into()) < ValKey::Bool(false));
        assert!(ValKey::Num(NumKey::from_f64(1.5)) < ValKey::Num(NumKey::Int(2)));
        assert_eq!(
            decode_elem("\"2024-06-10T06:13:20.123Z\""),
            Some(ValKey::Datetime(1_718_000_000_123))
        );
        assert_eq!(decode_elem("1.5"), Some(ValKey::Num(NumKey::from_f64(1.5))));
        assert_eq!(decode_elem("null"), None);
        assert_eq!(number_text(Number::Float(2.0)), "2");
        assert_eq!(string_text("a\"b"), r#""a\"b""#);
    }
}
