//! Collection names (keen-semantics §1.4) and the two Airbyte ingest options
//! usable on their own (§11.2 collection-name sanitising, §11.3 timestamp
//! inference).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::datetime::parse_lenient;
use crate::error::{IngestError, Result};

/// Longest collection name, in characters (keen-semantics §1.4).
pub const MAX_COLLECTION_NAME_CHARS: usize = 64;

/// Most characters of a rejected name kept in the error.
const NAME_IN_ERROR_CHARS: usize = 300;

/// Checks a collection name against keen-semantics §1.4 (and RELIABILITY §3c):
/// 1 to [`MAX_COLLECTION_NAME_CHARS`] ASCII characters, no `$`, `/` or
/// control character, not starting with `_`, not starting or ending with
/// `.`. Spaces, `-`, `_` and `.` inside the name are fine. Names are compared
/// as exact bytes elsewhere; nothing is normalised here.
///
/// ```
/// use tally_ingest::validate_collection_name;
/// assert!(validate_collection_name("sign ups.v2-final_x").is_ok());
/// assert!(validate_collection_name("_internal").is_err());
/// ```
pub fn validate_collection_name(name: &str) -> Result<()> {
    let fail = |reason: &'static str| {
        Err(IngestError::InvalidCollectionName {
            name: name.chars().take(NAME_IN_ERROR_CHARS).collect(),
            reason,
        })
    };
    if name.is_empty() {
        return fail("collection names may not be empty");
    }
    if !name.is_ascii() {
        return fail("collection names must be ASCII");
    }
    if name.len() > MAX_COLLECTION_NAME_CHARS {
        return fail("collection names may have at most 64 characters");
    }
    let b = name.as_bytes();
    if b.iter().any(u8::is_ascii_control) {
        return fail("collection names may not contain control characters");
    }
    if b.contains(&b'$') {
        return fail("collection names may not contain '$'");
    }
    if b.contains(&b'/') {
        return fail("collection names may not contain '/'");
    }
    if b[0] == b'_' {
        return fail("collection names may not start with '_'");
    }
    if b[0] == b'.' || b[b.len() - 1] == b'.' {
        return fail("collection names may not start or end with '.'");
    }
    Ok(())
}

/// Turns an Airbyte stream name into a collection name (keen-semantics
/// §11.2): strips accents (Unicode NFD, then drops combining marks), then
/// removes every character that is not an ASCII letter or digit, `.`, `-`,
/// `_` or whitespace. The result may still fail
/// [`validate_collection_name`] (empty, too long, leading `_` or `.`, a
/// non-ASCII or control whitespace); callers check it.
///
/// ```
/// use tally_ingest::sanitize_collection_name;
/// assert_eq!(sanitize_collection_name("user-events (v2)!"), "user-events v2");
/// assert_eq!(sanitize_collection_name("Café"), "Cafe");
/// ```
pub fn sanitize_collection_name(stream: &str) -> String {
    stream
        .nfd()
        .filter(|&c| !is_combining_mark(c))
        .filter(|&c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') || c.is_whitespace())
        .collect()
}

/// Reads an Airbyte cursor value as `keen.timestamp` (keen-semantics §11.3),
/// in UTC milliseconds since the epoch.
///
/// - A number `n`: `n < 1e9` is not a timestamp (an ordered id); `n > 1e10`
///   is epoch milliseconds; otherwise epoch seconds (fractions kept to the
///   millisecond).
/// - A string: an RFC 3339 / ISO 8601 date-time (zone optional, UTC if
///   absent), `YYYY-MM-DD HH:MM:SS`, or a date alone (`YYYY-MM-DD`,
///   midnight UTC).
/// - Anything else, or an instant outside ±262,000 years, is `None`.
///
/// ```
/// use serde_json::json;
/// use tally_ingest::infer_timestamp;
/// assert_eq!(infer_timestamp(&json!(1_700_000_000)), Some(1_700_000_000_000));
/// assert_eq!(infer_timestamp(&json!(1_700_000_000_123_i64)), Some(1_700_000_000_123));
/// assert_eq!(infer_timestamp(&json!(42)), None);
/// assert_eq!(infer_timestamp(&json!("1970-01-02")), Some(86_400_000));
/// ```
pub fn infer_timestamp(value: &serde_json::Value) -> Option<i64> {
    let ms = match value {
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i < 1_000_000_000 {
                    return None;
                }
                if i > 10_000_000_000 {
                    i
                } else {
                    i * 1000
                }
            } else {
                let f = n.as_f64()?;
                if f < 1e9 {
                    return None;
                }
                let ms = if f > 1e10 { f } else { f * 1000.0 };
                if ms >= 9.2e18 {
                    return None;
                }
                ms.floor() as i64
            }
        }
        serde_json::Value::String(s) => parse_lenient(s.trim())?,
        _ => return None,
    };
    chrono::DateTime::from_timestamp_millis(ms).map(|_| ms)
}

/// JSON-schema and SQL type names that count as string-like for timestamp
/// inference (keen-semantics §11.3). Compared case-insensitively.
const STRING_LIKE: &[&str] = &[
    "string",
    "char",
    "nchar",
    "varchar",
    "nvarchar",
    "character",
    "character varying",
    "text",
    "date",
    "time",
    "datetime",
    "timestamp",
    "timestamptz",
    "timestamp_with_timezone",
    "timestamp_without_timezone",
    "time_with_timezone",
    "time_without_timezone",
    "timestamp with time zone",
    "timestamp without time zone",
];

/// Type names that count as number-like (keen-semantics §11.3).
const NUMBER_LIKE: &[&str] = &[
    "number",
    "integer",
    "int",
    "int2",
    "int4",
    "int8",
    "smallint",
    "tinyint",
    "mediumint",
    "bigint",
    "long",
    "float",
    "float4",
    "float8",
    "double",
    "double precision",
    "real",
    "decimal",
    "numeric",
];

/// True for a string-like cursor type name (`string`, `varchar`, `date`,
/// `timestamp`, …), compared case-insensitively.
pub fn is_string_like_type(t: &str) -> bool {
    STRING_LIKE.iter().any(|n| n.eq_ignore_ascii_case(t.trim()))
}

/// True for a number-like cursor type name (`number`, `integer`, `bigint`,
/// `double`, …), compared case-insensitively.
pub fn is_number_like_type(t: &str) -> bool {
    NUMBER_LIKE.iter().any(|n| n.eq_ignore_ascii_case(t.trim()))
}

/// How a cursor field's JSON-schema type lets timestamp inference read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// A string-like type: values are parsed as date-times.
    StringLike,
    /// A number-like type: values are epoch seconds or milliseconds.
    NumberLike,
}

/// The [`CursorKind`] of a JSON-schema `type` value: a type name, or an
/// array of them where the first recognised member counts
/// (`["null", "integer"]` is number-like). `None` when nothing is recognised,
/// in which case timestamp inference does not apply.
///
/// ```
/// use serde_json::json;
/// use tally_ingest::{cursor_kind, CursorKind};
/// assert_eq!(cursor_kind(&json!(["null", "integer"])), Some(CursorKind::NumberLike));
/// assert_eq!(cursor_kind(&json!("boolean")), None);
/// ```
pub fn cursor_kind(schema_type: &serde_json::Value) -> Option<CursorKind> {
    let one = |t: &str| {
        if is_string_like_type(t) {
            Some(CursorKind::StringLike)
        } else if is_number_like_type(t) {
            Some(CursorKind::NumberLike)
        } else {
            None
        }
    };
    match schema_type {
        serde_json::Value::String(t) => one(t),
        serde_json::Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).find_map(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    fn rejected(name: &str) -> bool {
        match validate_collection_name(name) {
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::InvalidCollectionName);
                true
            }
            Ok(()) => false,
        }
    }

    #[test]
    fn collection_name_length() {
        assert!(!rejected(&"a".repeat(64)));
        assert!(rejected(&"a".repeat(65)));
        assert!(!rejected("a"));
        assert!(rejected(""));
    }

    #[test]
    fn collection_name_chars() {
        for ok in ["sign ups", "a-b", "a_b", "a.b", "a_", "a-", "-a", " a", "a ", "A9"] {
            assert!(!rejected(ok), "{ok:?}");
        }
        for bad in [
            "$a", "a$", "a$b", "_a", ".a", "a.", "a/b", "a\0b", "a\tb", "a\u{7f}", "café",
            "a\u{301}",
        ] {
            assert!(rejected(bad), "{bad:?}");
        }
    }

    #[test]
    fn collection_name_error_is_bounded() {
        let long = "é".repeat(10_000);
        match validate_collection_name(&long) {
            Err(IngestError::InvalidCollectionName { name, .. }) => {
                assert_eq!(name.chars().count(), 300)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_collection_name("user-events (v2)!"), "user-events v2");
        assert_eq!(sanitize_collection_name("Café"), "Cafe");
        assert_eq!(sanitize_collection_name("Ærø über_naïve.x"), "r uber_naive.x");
        assert_eq!(sanitize_collection_name("日本"), "");
        assert_eq!(sanitize_collection_name("a$b/c"), "abc");
        assert!(rejected(&sanitize_collection_name("(_x)")));
    }

    #[test]
    fn infer_numbers() {
        assert_eq!(infer_timestamp(&json!(999_999_999)), None);
        assert_eq!(infer_timestamp(&json!(1_000_000_000)), Some(1_000_000_000_000));
        assert_eq!(infer_timestamp(&json!(10_000_000_000_i64)), Some(10_000_000_000_000));
        assert_eq!(infer_timestamp(&json!(10_000_000_001_i64)), Some(10_000_000_001));
        assert_eq!(infer_timestamp(&json!(1_500_000_000.25)), Some(1_500_000_000_250));
        assert_eq!(infer_timestamp(&json!(-5)), None);
        assert_eq!(infer_timestamp(&json!(u64::MAX)), None);
        assert_eq!(infer_timestamp(&json!(1e300)), None);
        assert_eq!(infer_timestamp(&json!(i64::MAX)), None);
    }

    #[test]
    fn infer_strings() {
        let base = 1_718_202_920_000; // 2024-06-12T14:35:20Z
        assert_eq!(infer_timestamp(&json!("2024-06-12T14:35:20Z")), Some(base));
        assert_eq!(infer_timestamp(&json!("2024-06-12T16:35:20+02:00")), Some(base));
        assert_eq!(infer_timestamp(&json!("2024-06-12T14:35:20")), Some(base));
        assert_eq!(infer_timestamp(&json!("2024-06-12 14:35:20")), Some(base));
        assert_eq!(infer_timestamp(&json!("2024-06-12T14:35:20.5Z")), Some(base + 500));
        assert_eq!(infer_timestamp(&json!("2024-06-12")), Some(1_718_150_400_000));
        assert_eq!(infer_timestamp(&json!("yesterday")), None);
        assert_eq!(infer_timestamp(&json!("2024-13-01")), None);
        assert_eq!(infer_timestamp(&json!(true)), None);
        assert_eq!(infer_timestamp(&json!(null)), None);
    }

    #[test]
    fn type_names() {
        assert!(is_string_like_type("VARCHAR"));
        assert!(is_string_like_type("timestamp"));
        assert!(is_number_like_type("bigint"));
        assert!(!is_number_like_type("string"));
        assert!(!is_string_like_type("boolean"));
        assert_eq!(cursor_kind(&json!("string")), Some(CursorKind::StringLike));
        assert_eq!(cursor_kind(&json!(["null", "number", "string"])), Some(CursorKind::NumberLike));
        assert_eq!(cursor_kind(&json!(["null"])), None);
        assert_eq!(cursor_kind(&json!(7)), None);
    }
}
