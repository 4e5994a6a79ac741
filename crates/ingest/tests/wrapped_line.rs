//! The one-pass NDJSON line parser `EventParser::parse_wrapped_at`
//! (`{"<collection>": {event}}`): the wrapper's rules, the raw range of the
//! inner event, rollback on error, and the law that it flattens the inner
//! event exactly as `parse_at` does on the inner bytes.
//!
//! 256 proptest cases; `TALLY_FULL=1` runs 10,000.

use proptest::prelude::*;
use serde_json::{Map, Value};
use tally_ingest::{
    ErrorCode, EventLimits, EventParser, FlatBatch, FlatEvent, FlatProp, FlatScalar, IngestError,
    Limit,
};

type Snapshot = (String, Vec<FlatProp>, Vec<FlatScalar>, Vec<FlatEvent>);

fn snapshot(b: &FlatBatch) -> Snapshot {
    (b.arena.clone(), b.props.clone(), b.list_elems.clone(), b.events.clone())
}

/// A batch already holding one event, so that rollback is observable.
fn seeded() -> FlatBatch {
    let mut b = FlatBatch::new();
    EventParser::new()
        .parse_at(br#"{"seed": "x", "l": [1, "y"]}"#, 0, &mut b, &EventLimits::default())
        .unwrap();
    b
}

/// Parses `line` into a seeded batch; on error checks the batch is unchanged.
fn wrapped(line: &[u8], limits: &EventLimits) -> Result<(String, FlatBatch), IngestError> {
    let mut b = seeded();
    let before = snapshot(&b);
    match EventParser::new().parse_wrapped_at(line, 0, &mut b, limits) {
        Ok(name) => {
            assert_eq!(b.len(), 2);
            Ok((name.into_owned(), b))
        }
        Err(e) => {
            assert!(snapshot(&b) == before, "batch changed after rejection: {e}");
            Err(e)
        }
    }
}

fn reject(line: &str) -> IngestError {
    match wrapped(line.as_bytes(), &EventLimits::default()) {
        Ok(_) => panic!("accepted: {line}"),
        Err(e) => e,
    }
}

fn assert_malformed(line: &str, why: &str) {
    let e = reject(line);
    assert_eq!(e.code(), ErrorCode::InvalidEvent, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("malformed line") && msg.contains(why), "{line}: {msg}");
}

#[test]
fn valid_line() {
    let line = br#"{"purchases": {"item": "gadget", "price": 5, "user": {"id": "u1"}}}"#;
    let (name, b) = wrapped(line, &EventLimits::default()).unwrap();
    assert_eq!(name, "purchases");
    let paths: Vec<&str> = b.props_of(1).iter().map(|p| b.str(p.path)).collect();
    assert_eq!(paths, ["item", "price", "user.id"]);
}

#[test]
fn name_with_escapes_is_unescaped() {
    let (name, _) = wrapped(br#"{"a\"b\u00e9": {}}"#, &EventLimits::default()).unwrap();
    assert_eq!(name, "a\"bé");
}

#[test]
fn raw_range_is_the_inner_event() {
    let line = " \t{ \"c\\\"x:\" :\n {\"a\": {\"b\": [1, 2]}, \"s\": \"}\"} \r\n} ";
    let mut b = FlatBatch::new();
    let name = EventParser::new()
        .parse_wrapped_at(line.as_bytes(), 1000, &mut b, &EventLimits::default())
        .unwrap();
    assert_eq!(name, "c\"x:");
    let raw = b.events[0].raw.clone();
    let inner = &line.as_bytes()[raw.start - 1000..raw.end - 1000];
    assert_eq!(inner, br#"{"a": {"b": [1, 2]}, "s": "}"}"#);
}

#[test]
fn two_members() {
    assert_malformed(r#"{"a": {"x": 1}, "b": {"y": 2}}"#, "more than one member");
    // The wrapper outranks a bad inner event.
    assert_malformed(r#"{"a": {"x.y": 1}, "b": {}}"#, "more than one member");
}

#[test]
fn zero_members() {
    assert_malformed("{}", "empty object");
    assert_malformed(" { } ", "empty object");
}

#[test]
fn non_object_value() {
    for line in [r#"{"a": 1}"#, r#"{"a": [{}]}"#, r#"{"a": "{}"}"#, r#"{"a": null}"#] {
        assert_malformed(line, "must be an event object");
    }
}

#[test]
fn not_an_object_or_not_json() {
    for line in
        ["[1]", "1", "", "   ", r#"{"a": {}"#, r#"{"a": {}} x"#, r#"{"a" {}}"#, r#"{a: {}}"#]
    {
        let e = reject(line);
        assert_eq!(e.code(), ErrorCode::InvalidEvent, "{line}: {e}");
        assert!(e.to_string().contains("malformed line"), "{line}: {e}");
    }
    let e = wrapped(b"{\"a\": {\"s\": \"\xff\"}}", &EventLimits::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidEvent, "{e}");
}

#[test]
fn bad_inner_event_keeps_its_rule_code() {
    let cases = [
        (r#"{"a": {"b.c": 1}}"#, ErrorCode::InvalidPropertyName),
        (r#"{"a": {"$b": 1}}"#, ErrorCode::InvalidPropertyName),
        (r#"{"a": {"l": [[1]]}}"#, ErrorCode::ListsOfNonPrimitivesNotAllowed),
        (r#"{"a": {"keen": 1}}"#, ErrorCode::NamespaceType),
        (r#"{"a": {"keen": {"nope": 1}}}"#, ErrorCode::InvalidKeenNamespaceProperty),
        (r#"{"a": {"keen": {"timestamp": "x"}}}"#, ErrorCode::InvalidPropertyValue),
        (r#"{"a": {"n": 1e400}}"#, ErrorCode::InvalidPropertyValue),
        (r#"{"a": {"k": 1, "k": 2}}"#, ErrorCode::InvalidEvent),
    ];
    for (line, code) in cases {
        let e = reject(line);
        assert_eq!(e.code(), code, "{line}: {e}");
        assert!(!e.to_string().contains("malformed"), "{line}: {e}");
    }
}

#[test]
fn size_limit_counts_the_inner_event_only() {
    let inner = format!(r#"{{"s":"{}"}}"#, "x".repeat(100));
    let limits = EventLimits { max_event_bytes: inner.len(), ..EventLimits::default() };
    let line = format!(r#"{{"collection": {inner}}}"#);
    assert!(wrapped(line.as_bytes(), &limits).is_ok());
    let limits = EventLimits { max_event_bytes: inner.len() - 1, ..limits };
    match wrapped(line.as_bytes(), &limits) {
        Err(IngestError::LimitExceeded { limit: Limit::EventSize, actual, .. }) => {
            assert_eq!(actual, inner.len())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn depth_limit_is_the_events() {
    let limits = EventLimits { max_depth: 2, ..EventLimits::default() };
    assert!(wrapped(br#"{"c": {"a": {"b": {"x": 1}}}}"#, &limits).is_ok());
    match wrapped(br#"{"c": {"a": {"b": {"d": {"x": 1}}}}}"#, &limits) {
        Err(IngestError::LimitExceeded { limit: Limit::NestingDepth, .. }) => {}
        other => panic!("{other:?}"),
    }
}

fn cases() -> u32 {
    if std::env::var_os("TALLY_FULL").is_some_and(|v| v == "1") {
        10_000
    } else {
        256
    }
}

/// Mostly valid property names, sometimes one that breaks a rule.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z]{1,3}",
        3 => "[a-zA-Z0-9_ \"\\\\-]{1,12}",
        2 => "[a-zA-Z_][a-zA-Z0-9_ éüß日本$\u{1F600}-]{0,10}",
        1 => prop_oneof![Just("a.b".to_string()), Just("$x".to_string()), Just(String::new())],
    ]
}

fn primitive() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(Value::Number),
        "\\PC{0,16}".prop_map(Value::String),
        Just(Value::String("2024-06-12T14:35:20.5+02:00".into())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => primitive(),
        1 => prop::collection::vec(primitive(), 0..5).prop_map(Value::Array),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            4 => prop::collection::vec((name(), inner.clone()), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            // A list holding an object: an inner rule error.
            1 => inner.prop_map(|v| Value::Array(vec![Value::Object(
                [("o".to_string(), v)].into_iter().collect()
            )])),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    let keen = prop_oneof![
        3 => Just(None),
        1 => Just(Some(serde_json::json!({"timestamp": "2024-06-12T14:35:20Z"}))),
        1 => Just(Some(serde_json::json!({"timestamp": 5}))),
    ];
    (prop::collection::vec((name(), value()), 0..8), keen).prop_map(|(kv, keen)| {
        let mut m: Map<String, Value> = kv.into_iter().filter(|(k, _)| k != "keen").collect();
        if let Some(k) = keen {
            m.insert("keen".into(), k);
        }
        Value::Object(m)
    })
}

fn ws() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Law: parsing a wrapped line equals `parse_at` on its inner bytes (at
    /// the same offset): the same batch, or the same error code and an
    /// unchanged batch.
    #[test]
    fn wrapped_equals_parse_at_on_inner_bytes(
        ev in event(),
        collection in "[a-zA-Z0-9_ \"\\\\é.-]{1,10}",
        pad in (ws(), ws(), ws(), ws(), ws(), ws()),
        pretty in any::<bool>(),
        offset in 0usize..1_000,
    ) {
        let inner = if pretty {
            serde_json::to_string_pretty(&ev).unwrap()
        } else {
            serde_json::to_string(&ev).unwrap()
        };
        let name = serde_json::to_string(&collection).unwrap();
        let (a, b, c, d, e, f) = pad;
        let prefix = format!("{a}{{{b}{name}{c}:{d}");
        let line = format!("{prefix}{inner}{e}}}{f}");
        let limits = EventLimits::default();

        let mut want = seeded();
        let want_res = EventParser::new().parse_at(
            inner.as_bytes(), offset + prefix.len(), &mut want, &limits);
        let mut got = seeded();
        let got_res = EventParser::new().parse_wrapped_at(
            line.as_bytes(), offset, &mut got, &limits);
        match (want_res, got_res) {
            (Ok(()), Ok(n)) => {
                prop_assert_eq!(n, collection);
                prop_assert!(snapshot(&got) == snapshot(&want));
                let raw = got.events[1].raw.clone();
                prop_assert_eq!(&line.as_bytes()[raw.start - offset..raw.end - offset],
                    inner.as_bytes());
            }
            (Err(w), Err(g)) => {
                prop_assert_eq!(w.code(), g.code(), "{} vs {}", w, g);
                prop_assert!(snapshot(&got) == snapshot(&seeded()));
            }
            (w, g) => prop_assert!(false, "parse_at {:?} but wrapped {:?}", w, g.map(drop)),
        }
    }

    #[test]
    fn arbitrary_lines_never_panic(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut b = seeded();
        let before = snapshot(&b);
        if EventParser::new().parse_wrapped_at(&raw, 0, &mut b, &EventLimits::default()).is_err() {
            prop_assert!(snapshot(&b) == before);
        }
    }

    #[test]
    fn mutated_lines_never_panic(
        ev in event(), pos in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let mut line = format!(r#"{{"c": {}}}"#, serde_json::to_string(&ev).unwrap()).into_bytes();
        let i = pos.index(line.len());
        line[i] = byte;
        let mut b = seeded();
        let before = snapshot(&b);
        match EventParser::new().parse_wrapped_at(&line, 0, &mut b, &EventLimits::default()) {
            Ok(_) => {
                // Whatever was accepted, its raw range re-parses on its own.
                let raw = b.events[1].raw.clone();
                let mut again = FlatBatch::new();
                prop_assert!(EventParser::new()
                    .parse_at(&line[raw], 0, &mut again, &EventLimits::default())
                    .is_ok());
            }
            Err(_) => prop_assert!(snapshot(&b) == before),
        }
    }
}
