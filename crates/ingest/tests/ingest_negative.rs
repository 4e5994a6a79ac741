//! Bad input and limits for the event parser (RELIABILITY §6.4, §3c, §3d;
//! keen-semantics §1.3–1.6): every rule at, under and over its bound, each
//! rejection checked for its exact Keen error code and for leaving the batch
//! untouched.

use tally_ingest::{
    parse_event, parse_event_at, ErrorCode, EventLimits, FlatBatch, FlatEvent, FlatProp,
    FlatScalar, FlatValue, IngestError, Limit,
};

type Snapshot = (String, Vec<FlatProp>, Vec<FlatScalar>, Vec<FlatEvent>);

fn snapshot(b: &FlatBatch) -> Snapshot {
    (b.arena.clone(), b.props.clone(), b.list_elems.clone(), b.events.clone())
}

/// A batch already holding one event, so that rollback is observable.
fn seeded() -> FlatBatch {
    let mut b = FlatBatch::new();
    parse_event(br#"{"seed": "x", "l": [1, "y"]}"#, &mut b, &EventLimits::default()).unwrap();
    b
}

fn accept_with(raw: &[u8], limits: &EventLimits) -> FlatBatch {
    let mut b = seeded();
    if let Err(e) = parse_event(raw, &mut b, limits) {
        panic!("rejected: {e}");
    }
    assert_eq!(b.len(), 2);
    b
}

fn accept(raw: impl AsRef<[u8]>) -> FlatBatch {
    accept_with(raw.as_ref(), &EventLimits::default())
}

fn reject_with(raw: &[u8], limits: &EventLimits) -> IngestError {
    let mut b = seeded();
    let before = snapshot(&b);
    let err = match parse_event(raw, &mut b, limits) {
        Ok(()) => panic!("accepted: {}", String::from_utf8_lossy(&raw[..raw.len().min(200)])),
        Err(e) => e,
    };
    assert!(snapshot(&b) == before, "batch changed after rejection: {err}");
    // Errors never echo long values or names.
    assert!(err.to_string().chars().count() < 400, "message too long: {err}");
    err
}

fn reject(raw: impl AsRef<[u8]>) -> IngestError {
    reject_with(raw.as_ref(), &EventLimits::default())
}

fn assert_code(raw: impl AsRef<[u8]>, code: ErrorCode) -> IngestError {
    let e = reject(raw);
    assert_eq!(e.code(), code, "{e}");
    e
}

fn assert_limit(e: &IngestError, code: ErrorCode, limit: Limit, max: usize) {
    match e {
        IngestError::LimitExceeded { code: c, limit: l, max: m, .. } => {
            assert_eq!((*c, *l, *m), (code, limit, max), "{e}");
        }
        other => panic!("expected a {limit} limit error, got {other:?}"),
    }
}

/// The props of the last event in `b`.
fn last_props(b: &FlatBatch) -> &[FlatProp] {
    b.props_of(b.len() - 1)
}

fn only_value(b: &FlatBatch) -> FlatValue {
    let props = last_props(b);
    assert_eq!(props.len(), 1);
    props[0].value.clone()
}

fn nested(depth: usize) -> String {
    // `depth` objects below the root.
    format!("{}1{}", r#"{"a":"#.repeat(depth + 1), "}".repeat(depth + 1))
}

// ---- size -----------------------------------------------------------------

#[test]
fn event_size_bound() {
    let body = r#"{"a":1}"#;
    let pad = |n: usize| format!("{body}{}", " ".repeat(n - body.len()));
    accept(pad(900_000));
    let e = reject(pad(900_001));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::EventSize, 900_000);
}

// ---- strings --------------------------------------------------------------

#[test]
fn string_length_bound() {
    let ok = format!(r#"{{"s":"{}"}}"#, "a".repeat(9_999));
    accept(ok);
    let bad = format!(r#"{{"s":"{}"}}"#, "a".repeat(10_000));
    let e = assert_code(bad, ErrorCode::InvalidPropertyValue);
    assert_limit(&e, ErrorCode::InvalidPropertyValue, Limit::StringLength, 9_999);
    assert!(e.to_string().contains("\"s\""), "{e}");
}

#[test]
fn string_length_counts_chars_not_bytes() {
    accept(format!(r#"{{"s":"{}"}}"#, "é".repeat(9_999)));
    assert_code(format!(r#"{{"s":"{}"}}"#, "é".repeat(10_000)), ErrorCode::InvalidPropertyValue);
    // Escapes count as the character they stand for.
    accept(format!(r#"{{"s":"{}"}}"#, "\\u00e9".repeat(9_999)));
}

#[test]
fn string_length_applies_to_list_elements() {
    accept(format!(r#"{{"l":["{}"]}}"#, "a".repeat(9_999)));
    let e = reject(format!(r#"{{"l":["x","{}"]}}"#, "a".repeat(10_000)));
    assert_limit(&e, ErrorCode::InvalidPropertyValue, Limit::StringLength, 9_999);
}

#[test]
fn huge_string_is_not_echoed() {
    let e = reject(format!(r#"{{"s":"{}"}}"#, "v".repeat(800_000)));
    assert!(!e.to_string().contains("vvvvvvvvvv"), "{e}");
}

// ---- depth ----------------------------------------------------------------

#[test]
fn depth_bound() {
    let b = accept(nested(32));
    assert_eq!(b.str(last_props(&b)[0].path), vec!["a"; 33].join("."));
    let e = reject(nested(33));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::NestingDepth, 32);
}

#[test]
fn depth_bound_is_configurable() {
    let limits = EventLimits { max_depth: 2, ..EventLimits::default() };
    accept_with(nested(2).as_bytes(), &limits);
    let e = reject_with(nested(3).as_bytes(), &limits);
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::NestingDepth, 2);
}

#[test]
fn lists_do_not_count_as_depth() {
    let raw = format!("{}[1]{}", r#"{"a":"#.repeat(33), "}".repeat(33));
    accept(raw);
}

#[test]
fn bomb_deep_objects() {
    let e = reject(nested(100_000));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::NestingDepth, 32);
    // Unclosed, too.
    let e = reject(r#"{"a":"#.repeat(100_000));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::NestingDepth, 32);
}

#[test]
fn bomb_deep_objects_past_serde_limit() {
    // Even with our limit set above serde_json's recursion limit, the parse
    // stops (serde's limit) and reports the nesting depth limit.
    let limits = EventLimits { max_depth: 100_000, ..EventLimits::default() };
    let e = reject_with(nested(100_000).as_bytes(), &limits);
    assert_eq!(e.code(), ErrorCode::InvalidEvent);
    match e {
        IngestError::LimitExceeded { limit: Limit::NestingDepth, .. } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn bomb_deep_arrays() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // At the root: not an object.
    assert_code(&deep, ErrorCode::InvalidEvent);
    assert_code("[".repeat(100_000), ErrorCode::InvalidEvent);
    // As a property: a list inside a list.
    assert_code(format!(r#"{{"a":{deep}}}"#), ErrorCode::ListsOfNonPrimitivesNotAllowed);
    // Inside the ignored keen.addons: the depth limit.
    let e = reject(format!(r#"{{"keen":{{"addons":{deep}}}}}"#));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::NestingDepth, 32);
    let e = reject(format!(r#"{{"keen":{{"addons":{}}}}}"#, r#"{"a":"#.repeat(100_000)));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::NestingDepth, 32);
    // As keen itself: not an object.
    assert_code(format!(r#"{{"keen":{deep}}}"#), ErrorCode::NamespaceType);
}

// ---- property count -------------------------------------------------------

fn props(n: usize) -> String {
    let body: Vec<String> = (0..n).map(|i| format!(r#""p{i}":1"#)).collect();
    format!("{{{}}}", body.join(","))
}

#[test]
fn property_count_bound() {
    let b = accept(props(1_000));
    assert_eq!(last_props(&b).len(), 1_000);
    let e = reject(props(1_001));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::PropertyCount, 1_000);
}

#[test]
fn property_count_counts_leaves_lists_and_nulls() {
    // 999 leaves + a list + a null = 1,001 leaves; empty objects count nothing.
    let mut body: Vec<String> = (0..999).map(|i| format!(r#""p{i}":{{"x":1,"e":{{}}}}"#)).collect();
    body.push(r#""l":[1,2]"#.into());
    let ok = format!("{{{}}}", body.join(","));
    accept(&ok);
    body.push(r#""n":null"#.into());
    let e = reject(format!("{{{}}}", body.join(",")));
    assert_limit(&e, ErrorCode::InvalidEvent, Limit::PropertyCount, 1_000);
}

#[test]
fn bomb_wide_event_stops_at_property_limit() {
    let raw = props(50_000);
    assert!(raw.len() < 900_000);
    match reject(raw) {
        IngestError::LimitExceeded { limit: Limit::PropertyCount, actual, .. } => {
            assert_eq!(actual, 1_001, "parsing must stop at the first property over");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn many_empty_objects_are_cheap() {
    // No leaves, so no property limit: duplicate detection must stay fast.
    let body: Vec<String> = (0..80_000).map(|i| format!(r#""{i}":{{}}"#)).collect();
    let raw = format!("{{{}}}", body.join(","));
    assert!(raw.len() < 900_000);
    let b = accept(&raw);
    assert!(last_props(&b).is_empty());
    let dup = format!("{{{},\"79999\":1}}", body.join(","));
    assert_code(dup, ErrorCode::InvalidEvent);
}

// ---- lists ----------------------------------------------------------------

fn list(n: usize) -> String {
    format!(r#"{{"l":[{}]}}"#, vec!["0"; n].join(","))
}

#[test]
fn list_length_bound() {
    let b = accept(list(10_000));
    match only_value(&b) {
        FlatValue::List(r) => assert_eq!(r.len(), 10_000),
        other => panic!("{other:?}"),
    }
    let e = reject(list(10_001));
    assert_limit(&e, ErrorCode::InvalidPropertyValue, Limit::ArrayLength, 10_000);
}

#[test]
fn lists_hold_primitives_only() {
    assert_code(r#"{"l":[1,{"a":1}]}"#, ErrorCode::ListsOfNonPrimitivesNotAllowed);
    assert_code(r#"{"l":[[1]]}"#, ErrorCode::ListsOfNonPrimitivesNotAllowed);
    assert_code(r#"{"l":[{}]}"#, ErrorCode::ListsOfNonPrimitivesNotAllowed);
    assert_code(r#"{"l":[[]]}"#, ErrorCode::ListsOfNonPrimitivesNotAllowed);
    let b = accept(r#"{"l":["a", 1, 2.5, true, null, "2024-06-12T14:35:20Z", 1e3]}"#);
    let FlatValue::List(r) = only_value(&b) else { panic!() };
    let elems = b.list(&r);
    assert!(matches!(elems[0], FlatScalar::Str(s) if b.str(s) == "a"));
    assert_eq!(
        &elems[1..],
        &[
            FlatScalar::Int(1),
            FlatScalar::Float(2.5),
            FlatScalar::Bool(true),
            FlatScalar::Null,
            FlatScalar::Datetime(1_718_202_920_000),
            FlatScalar::Int(1000),
        ]
    );
}

#[test]
fn empty_list_is_a_present_value() {
    let b = accept(r#"{"l":[]}"#);
    assert_eq!(only_value(&b), FlatValue::List(2..2));
}

// ---- names ----------------------------------------------------------------

#[test]
fn property_name_length_bound() {
    accept(format!(r#"{{"{}":1}}"#, "n".repeat(255)));
    accept(format!(r#"{{"{}":1}}"#, "é".repeat(255)));
    let e = reject(format!(r#"{{"{}":1}}"#, "n".repeat(256)));
    assert_limit(&e, ErrorCode::InvalidPropertyName, Limit::PropertyNameLength, 255);
    let e = reject(format!(r#"{{"a":{{"{}":1}}}}"#, "é".repeat(256)));
    assert_limit(&e, ErrorCode::InvalidPropertyName, Limit::PropertyNameLength, 255);
    // A 100 KB name is not echoed whole.
    let e = reject(format!(r#"{{"{}":1}}"#, "n".repeat(100_000)));
    assert!(e.to_string().len() < 400);
}

#[test]
fn property_name_rules() {
    for bad in [
        r#"{"":1}"#,
        r#"{"a":{"":1}}"#,
        r#"{"bad.name":1}"#,
        r#"{"a\u002eb":1}"#,
        r#"{"a":{"b.c":1}}"#,
        r#"{"$a":1}"#,
        r#"{"\u0024a":1}"#,
        r#"{"a":{"$b":1}}"#,
        r#"{"a\u0000b":1}"#,
        r#"{"a\nb":1}"#,
        r#"{"a\u007fb":1}"#,
        r#"{"a\u0085b":1}"#,
        r#"{"a":{"x\u001f":1}}"#,
        r#"{"a":{"x\u0000":{}}}"#,
    ] {
        assert_code(bad, ErrorCode::InvalidPropertyName);
    }
    for ok in [
        r#"{"a$":1}"#,
        r#"{"a b":1}"#,
        r#"{"ünï çødé":1}"#,
        r#"{"a":{"keen":1}}"#,
        r#"{"Keen":1}"#,
        r#"{"keen_x":1}"#,
        r#"{"-":1}"#,
    ] {
        accept(ok);
    }
}

#[test]
fn dot_message_names_the_path() {
    let e = assert_code(r#"{"a":{"bad.name":1}}"#, ErrorCode::InvalidPropertyName);
    assert_eq!(e.to_string(), "property names may not contain '.': \"a.bad.name\"");
}

#[test]
fn duplicate_keys() {
    for bad in [
        r#"{"a":1,"a":2}"#,
        r#"{"a":1,"\u0061":2}"#,
        r#"{"a":{"x":1},"a":{"y":1}}"#,
        r#"{"a":{"x":1,"x":1}}"#,
        r#"{"a":{},"a":{}}"#,
        r#"{"é":1,"\u00e9":2}"#,
        r#"{"keen":{},"keen":{}}"#,
        r#"{"keen":{"timestamp":"2024-01-01T00:00:00Z","timestamp":"2024-01-01T00:00:00Z"}}"#,
        r#"{"keen":{"location":{"coordinates":[0,0],"coordinates":[0,0]}}}"#,
    ] {
        let e = assert_code(bad, ErrorCode::InvalidEvent);
        assert!(e.to_string().contains("duplicate key"), "{e}");
    }
    // Same names in different objects, and a name that only differs by case or
    // normalisation form, are different keys.
    accept(r#"{"a":{"x":1},"b":{"x":1},"x":1}"#);
    accept(r#"{"a":{"b":1},"b":2}"#);
    accept(r#"{"A":1,"a":2}"#);
    accept(r#"{"é":1,"e\u0301":2}"#);
}

#[test]
fn duplicate_keys_in_wide_objects() {
    for n in [23, 24, 25, 100, 5_000] {
        let body: Vec<String> = (0..n).map(|i| format!(r#""k{i}":1"#)).collect();
        let limits = EventLimits { max_properties: 100_000, ..EventLimits::default() };
        accept_with(format!("{{{}}}", body.join(",")).as_bytes(), &limits);
        for dup in [0, n / 2, n - 1] {
            let raw = format!("{{{},\"k{dup}\":2}}", body.join(","));
            let e = reject_with(raw.as_bytes(), &limits);
            assert_eq!(e.code(), ErrorCode::InvalidEvent, "{e}");
        }
    }
}

// ---- values ---------------------------------------------------------------

#[test]
fn number_range_and_typing() {
    let num = |raw: &str| only_value(&accept(format!(r#"{{"n":{raw}}}"#)));
    let int = |i| FlatValue::Scalar(FlatScalar::Int(i));
    assert_eq!(num("42"), int(42));
    assert_eq!(num("42.0"), int(42));
    assert_eq!(num("1e3"), int(1000));
    assert_eq!(num("-0.0"), int(0));
    assert_eq!(num("9223372036854775807"), int(i64::MAX));
    assert_eq!(num("-9223372036854775808"), int(i64::MIN));
    assert_eq!(num("1.5"), FlatValue::Scalar(FlatScalar::Float(1.5)));
    assert_eq!(num("-2.5e-3"), FlatValue::Scalar(FlatScalar::Float(-0.0025)));
    assert_eq!(num("9.2e18"), int(9_200_000_000_000_000_000));
    for bad in [
        "9223372036854775808",
        "18446744073709551615",
        "9.3e18",
        "-9.3e18",
        "1e19",
        "1e300",
        "1e999999",
        "-1e999999",
    ] {
        assert_code(format!(r#"{{"n":{bad}}}"#), ErrorCode::InvalidPropertyValue);
        assert_code(format!(r#"{{"l":[1,{bad}]}}"#), ErrorCode::InvalidPropertyValue);
    }
    let million_digits = format!(r#"{{"n":{}}}"#, "9".repeat(1_000_000));
    // Over the event size limit first; with a larger limit, the number range.
    assert_code(&million_digits, ErrorCode::InvalidEvent);
    let limits = EventLimits { max_event_bytes: 2_000_000, ..EventLimits::default() };
    let e = reject_with(million_digits.as_bytes(), &limits);
    assert_eq!(e.code(), ErrorCode::InvalidPropertyValue, "{e}");
    assert!(e.to_string().contains("\"n\""), "{e}");
}

#[test]
fn primitives_and_empty_objects() {
    let b = accept(r#"{"t":true,"f":false,"z":null,"e":{},"o":{"e":{}},"s":"x"}"#);
    let props = last_props(&b);
    let got: Vec<(&str, FlatValue)> =
        props.iter().map(|p| (b.str(p.path), p.value.clone())).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], ("t", FlatValue::Scalar(FlatScalar::Bool(true))));
    assert_eq!(got[1], ("f", FlatValue::Scalar(FlatScalar::Bool(false))));
    assert_eq!(got[2], ("z", FlatValue::Scalar(FlatScalar::Null)));
    assert_eq!(got[3].0, "s");
    accept("{}");
    accept(" \n{ }\t");
}

#[test]
fn datetime_typing() {
    let v = |s: &str| only_value(&accept(format!(r#"{{"d":"{s}"}}"#)));
    let dt = FlatValue::Scalar(FlatScalar::Datetime(1_718_202_920_123));
    assert_eq!(v("2024-06-12T14:35:20.123Z"), dt);
    assert_eq!(v("2024-06-12T16:35:20.123+02:00"), dt);
    assert_eq!(v("2024-06-12T16:35:20.123456+0200"), dt);
    for plain in
        ["2024-06-12", "2024-06-12T14:35:20", "2024-06-12 14:35:20Z", "2024-02-30T00:00:00Z"]
    {
        assert!(matches!(v(plain), FlatValue::Scalar(FlatScalar::Str(_))), "{plain}");
    }
}

#[test]
fn invalid_json_and_encoding() {
    for bad in [
        &b""[..],
        b"   ",
        b"{",
        b"{\"a\":}",
        b"{\"a\":1,}",
        b"{\"a\":1}x",
        b"{\"a\":1} {}",
        b"{\"a\":1}{\"b\":2}",
        b"{'a':1}",
        b"{\"a\":NaN}",
        b"{\"a\":\"\xff\"}",
        b"{\"\xc3\":1}",
        b"\xef\xbb\xbf{}",
        b"{\"a\":\"\\ud800\"}",
        b"{\"\\udc00\":1}",
        b"{\"a\":\"\\x\"}",
        b"{\"a\":01}",
        b"null",
        b"1",
        b"\"s\"",
        b"[]",
        b"[{}]",
        b"true",
    ] {
        assert_code(bad, ErrorCode::InvalidEvent);
    }
    accept("{\"a\":\"\u{0}\u{1f}\"}".replace('\u{0}', "\\u0000").replace('\u{1f}', "\\u001f"));
    accept(r#"{"emoji":"\ud83d\ude00"}"#);
}

// ---- the keen object ------------------------------------------------------

fn event_of(b: &FlatBatch) -> &FlatEvent {
    &b.events[b.len() - 1]
}

#[test]
fn keen_must_be_an_object() {
    for bad in [r#"{"keen":1}"#, r#"{"keen":"x"}"#, r#"{"keen":[]}"#, r#"{"keen":null}"#] {
        assert_code(bad, ErrorCode::NamespaceType);
    }
    let b = accept(r#"{"keen":{},"a":1}"#);
    assert_eq!(last_props(&b).len(), 1);
}

#[test]
fn keen_members() {
    let b = accept(
        r#"{"keen":{"timestamp":"2024-06-12T14:35:20.123Z","created_at":"whatever","id":[1,{"x":2}],
            "location":{"coordinates":[-73.98, 40.75]},"uniqueness_token":"tok-1",
            "addons":[{"name":"ip_to_geo","input":{"ip":"ip"},"output":"geo"}]},"x":1}"#,
    );
    let ev = event_of(&b);
    assert_eq!(ev.timestamp, Some(1_718_202_920_123));
    assert_eq!(ev.location, Some([-73.98, 40.75]));
    assert_eq!(ev.uniqueness_token.map(|t| b.str(t)), Some("tok-1"));
    let props = last_props(&b);
    assert_eq!(props.len(), 1);
    assert_eq!(b.str(props[0].path), "x");
    let plain = accept(r#"{"x":1}"#);
    let ev = event_of(&plain);
    assert_eq!((ev.timestamp, ev.location, ev.uniqueness_token), (None, None, None));
}

#[test]
fn keen_unknown_member() {
    let e = assert_code(r#"{"keen":{"foo":1}}"#, ErrorCode::InvalidKeenNamespaceProperty);
    assert!(e.to_string().contains("keen.foo"), "{e}");
    assert_code(r#"{"keen":{"Timestamp":"2024-01-01"}}"#, ErrorCode::InvalidKeenNamespaceProperty);
    assert_code(r#"{"keen":{"a.b":1}}"#, ErrorCode::InvalidKeenNamespaceProperty);
}

#[test]
fn keen_timestamp_forms() {
    let ts = |s: &str| event_of(&accept(format!(r#"{{"keen":{{"timestamp":"{s}"}}}}"#))).timestamp;
    let base = Some(1_718_202_920_000);
    assert_eq!(ts("2024-06-12T14:35:20Z"), base);
    assert_eq!(ts("2024-06-12T14:35:20"), base);
    assert_eq!(ts("2024-06-12T14:35:20.000+00:00"), base);
    assert_eq!(ts("2024-06-12T10:35:20-0400"), base);
    assert_eq!(ts("2024-06-12T14:35:20.9999Z"), Some(1_718_202_920_999));
    assert_eq!(ts("1900-01-01T00:00:00Z"), Some(-2_208_988_800_000));
    assert_eq!(ts("2999-01-01T00:00:00Z"), Some(32_472_144_000_000));
    for bad in [
        r#""2024-06-12""#,
        r#""yesterday""#,
        r#""""#,
        r#""2024-06-12T25:00:00Z""#,
        "1718202920",
        "null",
        "{}",
        "[]",
        "true",
    ] {
        assert_code(
            format!(r#"{{"keen":{{"timestamp":{bad}}}}}"#),
            ErrorCode::InvalidPropertyValue,
        );
    }
}

#[test]
fn keen_location_rules() {
    let loc = |s: &str| format!(r#"{{"keen":{{"location":{s}}}}}"#);
    assert_eq!(
        event_of(&accept(loc(r#"{"coordinates":[180,-90]}"#))).location,
        Some([180.0, -90.0])
    );
    assert_eq!(
        event_of(&accept(loc(r#"{"coordinates":[-180,90.0]}"#))).location,
        Some([-180.0, 90.0])
    );
    for bad in [
        r#"{"coordinates":[180.0001,0]}"#,
        r#"{"coordinates":[-181,0]}"#,
        r#"{"coordinates":[0,90.5]}"#,
        r#"{"coordinates":[0,-91]}"#,
        r#"{"coordinates":[0]}"#,
        r#"{"coordinates":[]}"#,
        r#"{"coordinates":[0,0,0]}"#,
        r#"{"coordinates":["0","0"]}"#,
        r#"{"coordinates":[0,null]}"#,
        r#"{"coordinates":[[0],0]}"#,
        r#"{"coordinates":{"lon":0,"lat":0}}"#,
        r#"{"coordinates":[0,0],"x":1}"#,
        r#"{"lat":0}"#,
        r#"{}"#,
        r#"[0,0]"#,
        r#""0,0""#,
        r#"null"#,
        r#"{"coordinates":[0,1e999]}"#,
    ] {
        assert_code(loc(bad), ErrorCode::InvalidPropertyValue);
    }
}

#[test]
fn keen_uniqueness_token_bound() {
    let tok = |s: &str| format!(r#"{{"keen":{{"uniqueness_token":{s}}}}}"#);
    let b = accept(tok(&format!("\"{}\"", "t".repeat(256))));
    assert_eq!(event_of(&b).uniqueness_token.map(|t| t.len), Some(256));
    accept(tok(&format!("\"{}\"", "é".repeat(256))));
    accept(tok("\"x\""));
    let e = reject(tok(&format!("\"{}\"", "t".repeat(257))));
    assert_limit(&e, ErrorCode::InvalidPropertyValue, Limit::UniquenessTokenLength, 256);
    for bad in ["\"\"", "1", "null", "[\"a\"]", "{}"] {
        assert_code(tok(bad), ErrorCode::InvalidPropertyValue);
    }
}

#[test]
fn keen_addons_any_json() {
    for v in
        ["1", "null", "\"x\"", "[]", "{}", r#"[{"a":{"b":[1,[2,[3]]]}}]"#, r#"{"a.b":1,"$c":2}"#]
    {
        let b = accept(format!(r#"{{"keen":{{"addons":{v}}}}}"#));
        assert!(last_props(&b).is_empty());
    }
}

// ---- raw offsets ----------------------------------------------------------

#[test]
fn raw_ranges() {
    let mut b = FlatBatch::new();
    parse_event(br#"{"a":1}"#, &mut b, &EventLimits::default()).unwrap();
    assert_eq!(b.events[0].raw, 0..7);
    parse_event_at(br#"{"b":2}"#, 100, &mut b, &EventLimits::default()).unwrap();
    assert_eq!(b.events[1].raw, 100..107);
    assert_eq!(b.events[1].props, 1..2);
}

#[test]
fn errors_do_not_disturb_later_events() {
    let mut b = FlatBatch::new();
    let limits = EventLimits::default();
    assert!(parse_event(br#"{"a":{"b":{"c":1,"c":2}}}"#, &mut b, &limits).is_err());
    parse_event(br#"{"x":{"y":1},"z":2}"#, &mut b, &limits).unwrap();
    let paths: Vec<&str> = b.props_of(0).iter().map(|p| b.str(p.path)).collect();
    assert_eq!(paths, ["x.y", "z"]);
}
