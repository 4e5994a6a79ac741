//! Law: flatten then read back equals the input (STYLE "Tests"; keen-semantics
//! §1.6). Random nested events are serialized, parsed with `parse_event`, and
//! rebuilt from the flattened `(path, value)` list.
//!
//! 256 cases per property; `TALLY_FULL=1` runs 10,000.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use tally_ingest::{
    format_datetime, parse_event, parse_zoned_datetime, EventLimits, FlatBatch, FlatScalar,
    FlatValue,
};

fn cases() -> u32 {
    if std::env::var_os("TALLY_FULL").is_some_and(|v| v == "1") {
        10_000
    } else {
        256
    }
}

/// Valid property names: no `.`, no leading `$`, no control characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,3}",
        "[a-zA-Z0-9_ -]{1,12}",
        "[a-zA-Z_][a-zA-Z0-9_ éüß日本$\u{1F600}-]{0,10}",
    ]
}

/// Strings that are never zoned date-times (datetimes are tested apart).
fn plain_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,16}",
        any::<String>(),
        Just("2024-06-12T14:35:20".to_string()),
        Just("2024-06-12".to_string()),
        Just(String::new()),
    ]
}

fn primitive() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        // Dyadic non-integers with short decimal forms parse back exactly.
        (-(1i64 << 20)..(1i64 << 20), 1u32..8).prop_map(|(i, k)| {
            let f = (2 * i + 1) as f64 / f64::from(1u32 << k);
            Value::Number(Number::from_f64(f).expect("finite"))
        }),
        plain_string().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => primitive(),
        1 => prop::collection::vec(primitive(), 0..5).prop_map(Value::Array),
    ];
    leaf.prop_recursive(5, 64, 5, |inner| {
        prop::collection::btree_map(name(), inner, 1..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        name().prop_filter("keen is reserved", |n| n != "keen"),
        value(),
        0..8,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn scalar_json(b: &FlatBatch, s: &FlatScalar) -> Value {
    match *s {
        FlatScalar::Str(r) => Value::String(b.str(r).to_string()),
        FlatScalar::Int(i) => Value::Number(i.into()),
        FlatScalar::Float(f) => Value::Number(Number::from_f64(f).expect("finite")),
        FlatScalar::Bool(v) => Value::Bool(v),
        FlatScalar::Datetime(ms) => Value::String(format_datetime(ms)),
        FlatScalar::Null => Value::Null,
    }
}

/// The flattened `(path, value)` list of event `i`, as JSON values.
fn flat_list(b: &FlatBatch, i: usize) -> Vec<(String, Value)> {
    b.props_of(i)
        .iter()
        .map(|p| {
            let v = match &p.value {
                FlatValue::Scalar(s) => scalar_json(b, s),
                FlatValue::List(r) => {
                    Value::Array(b.list(r).iter().map(|s| scalar_json(b, s)).collect())
                }
            };
            (b.str(p.path).to_string(), v)
        })
        .collect()
}

/// Rebuilds the nested object from a flattened list.
fn rebuild(flat: &[(String, Value)]) -> Value {
    let mut root = Map::new();
    for (path, v) in flat {
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().expect("split yields one part");
        let mut obj = &mut root;
        for part in parts {
            let next = obj.entry(part).or_insert_with(|| Value::Object(Map::new()));
            obj = match next {
                Value::Object(m) => m,
                other => panic!("path {path} crosses a leaf {other}"),
            };
        }
        assert!(obj.insert(last.to_string(), v.clone()).is_none(), "path {path} twice");
    }
    Value::Object(root)
}

/// The leaves of `v` in depth-first document order (the model).
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&p, v, out);
            }
        }
        other => out.push((prefix.to_string(), normalise(other))),
    }
}

/// `42.0`-style numbers read back as integers; nothing else changes.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 => Value::Number((f as i64).into()),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        _ => v.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn flatten_then_read_back_equals_input(ev in event()) {
        let raw = serde_json::to_vec(&ev).expect("serializable");
        let mut batch = FlatBatch::new();
        parse_event(&raw, &mut batch, &EventLimits::default()).expect("valid event");
        prop_assert_eq!(batch.len(), 1);
        let flat = flat_list(&batch, 0);
        let mut model = Vec::new();
        leaves("", &ev, &mut model);
        // Same leaves, same order (depth-first, as written).
        prop_assert_eq!(&flat, &model);
        // And the nested object comes back whole.
        prop_assert_eq!(rebuild(&flat), ev);
    }

    /// Events of one batch share leaf paths with the event before them
    /// (the parser reuses those bytes): each still reads back as written,
    /// whatever mix of shared, missing and extra properties they have, and
    /// also after a rejected event and an invalid name at a shared path.
    #[test]
    fn events_of_one_batch_read_back_with_shared_paths(
        evs in prop::collection::vec(event(), 1..5),
        drop_at in any::<prop::sample::Index>(),
    ) {
        let limits = EventLimits::default();
        // Each event twice, then once with one top-level member dropped.
        let mut inputs: Vec<Value> = Vec::new();
        for ev in &evs {
            inputs.push(ev.clone());
            inputs.push(ev.clone());
            let mut m = ev.as_object().cloned().unwrap_or_default();
            if !m.is_empty() {
                let k = m.keys().nth(drop_at.index(m.len())).cloned().expect("in range");
                m.remove(&k);
            }
            inputs.push(Value::Object(m));
        }
        let mut batch = FlatBatch::new();
        for (i, ev) in inputs.iter().enumerate() {
            parse_event(&serde_json::to_vec(ev).expect("serializable"), &mut batch, &limits).expect("valid");
            if i % 2 == 1 {
                // A rejected event between two good ones leaves no trace.
                let mut bad = serde_json::to_vec(ev).expect("serializable");
                bad.truncate(bad.len() - 1);
                if bad.len() > 1 {
                    bad.push(b',');
                }
                bad.extend_from_slice(br#""bad.name":1}"#);
                prop_assert!(parse_event(&bad, &mut batch, &limits).is_err());
            }
        }
        prop_assert_eq!(batch.len(), inputs.len());
        for (i, ev) in inputs.iter().enumerate() {
            let mut model = Vec::new();
            leaves("", ev, &mut model);
            prop_assert_eq!(flat_list(&batch, i), model);
        }
    }

    #[test]
    fn batches_append_and_roll_back(a in event(), b in event()) {
        let limits = EventLimits::default();
        let mut batch = FlatBatch::new();
        parse_event(&serde_json::to_vec(&a).expect("serializable"), &mut batch, &limits).expect("valid");
        let before = (batch.arena.clone(), batch.props.clone(), batch.list_elems.clone(), batch.events.clone());
        // A bad event after a good one leaves no trace.
        let mut bad = serde_json::to_vec(&b).expect("serializable");
        bad.truncate(bad.len() - 1);
        bad.extend_from_slice(br#","bad.name":1}"#);
        prop_assert!(parse_event(&bad, &mut batch, &limits).is_err());
        prop_assert!(before == (batch.arena.clone(), batch.props.clone(), batch.list_elems.clone(), batch.events.clone()));
        parse_event(&serde_json::to_vec(&b).expect("serializable"), &mut batch, &limits).expect("valid");
        let mut model = Vec::new();
        leaves("", &b, &mut model);
        prop_assert_eq!(flat_list(&batch, 1), model);
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut batch = FlatBatch::new();
        if parse_event(&raw, &mut batch, &EventLimits::default()).is_err() {
            prop_assert!(batch.is_empty() && batch.arena.is_empty() && batch.props.is_empty());
        }
    }

    #[test]
    fn mutated_events_never_panic(ev in event(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut raw = serde_json::to_vec(&ev).expect("serializable");
        let i = pos.index(raw.len());
        raw[i] = byte;
        let mut batch = FlatBatch::new();
        let _ = parse_event(&raw, &mut batch, &EventLimits::default());
    }

    #[test]
    fn datetimes_round_trip(
        ms in -62_135_596_800_000i64..253_402_300_799_999,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59i64),
        colon in any::<bool>(),
    ) {
        let s = format_datetime(ms);
        prop_assert_eq!(parse_zoned_datetime(&s), Some(ms));
        // The same instant written in another zone.
        let local = format_datetime(ms + offset_min * 60_000);
        let sign = if offset_min < 0 { '-' } else { '+' };
        let (h, m) = (offset_min.abs() / 60, offset_min.abs() % 60);
        let zone = if colon { format!("{sign}{h:02}:{m:02}") } else { format!("{sign}{h:02}{m:02}") };
        let zoned = format!("{}{zone}", &local[..local.len() - 1]);
        if let Some(back) = parse_zoned_datetime(&zoned) {
            prop_assert_eq!(back, ms);
        } else {
            // Only when the local time falls outside years 0000..=9999.
            prop_assert!(local.len() != 24, "{}", zoned);
        }
        // As a property value it is typed datetime, also inside a list.
        let raw = format!(r#"{{"d":"{zoned}","l":["{s}"]}}"#);
        let mut batch = FlatBatch::new();
        parse_event(raw.as_bytes(), &mut batch, &EventLimits::default()).expect("valid");
        let props = batch.props_of(0);
        if parse_zoned_datetime(&zoned).is_some() {
            prop_assert_eq!(&props[0].value, &FlatValue::Scalar(FlatScalar::Datetime(ms)));
        }
        let FlatValue::List(r) = &props[1].value else { panic!("list") };
        prop_assert_eq!(batch.list(r), &[FlatScalar::Datetime(ms)][..]);
    }
}
