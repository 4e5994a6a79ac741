//! Filter injection and autofill: the rewrites an access key applies to a
//! request (keen-semantics §8.4, RELIABILITY §3b T1, T6, T10).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tally_query::{Filter, Query};

/// ANDs `filters` onto every path of `query`: a simple analysis, every
/// sub-analysis of a multi-analysis (they share one filter list), every
/// funnel step, an extraction. The caller's own filters stay; nothing in
/// the query can remove or widen the added ones. Answers never echo them:
/// a funnel step echoes what the caller sent.
pub fn restrict_query(query: &mut Query, filters: &[Filter]) {
    if filters.is_empty() {
        return;
    }
    match query {
        Query::Analysis { common, .. } | Query::Multi { common, .. } => {
            common.filters.extend_from_slice(filters)
        }
        Query::Funnel(f) => {
            for step in &mut f.steps {
                step.filters.extend_from_slice(filters);
            }
        }
        Query::Extraction(x) => x.filters.extend_from_slice(filters),
    }
}

/// Deep-merges `autofill` into `event`: nested objects merge member by
/// member, and on any path both set, the autofill wins, whatever the
/// event held there (another type, an object where autofill has a
/// scalar, or the reverse).
///
/// The event must already have passed the event parser: the parser
/// rejects the other spellings of a path (a literal or escaped `.` in a
/// name, duplicate keys), so after the merge no second spelling of an
/// autofill path can survive.
pub fn apply_autofill(event: &mut Map<String, Value>, autofill: &Map<String, Value>) {
    for (k, v) in autofill {
        match (event.get_mut(k), v) {
            (Some(Value::Object(inner)), Value::Object(fill)) => apply_autofill(inner, fill),
            _ => {
                event.insert(k.clone(), v.clone());
            }
        }
    }
}

/// [`apply_autofill`] on JSON text: the event's members that `autofill`
/// does not touch keep their exact text (a number is never re-printed, so
/// it cannot move by a rounding step), touched objects are merged member
/// by member, and the rest of `autofill` is appended. `None` if `event` is
/// not a JSON object.
pub fn autofill_text(event: &str, autofill: &Map<String, Value>) -> Option<String> {
    let Members(members) = serde_json::from_str(event).ok()?;
    let mut out = String::with_capacity(event.len() + 64);
    out.push('{');
    let mut first = true;
    let mut push = |out: &mut String, k: &str, v: &str| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).expect("a string serializes"));
        out.push(':');
        out.push_str(v);
    };
    for (k, raw) in &members {
        match autofill.get(k.as_str()) {
            None => push(&mut out, k, raw.get()),
            Some(Value::Object(fill)) if raw.get().trim_start().starts_with('{') => {
                push(&mut out, k, &autofill_text(raw.get(), fill)?)
            }
            Some(v) => push(&mut out, k, &v.to_string()),
        }
    }
    for (k, v) in autofill {
        if !members.iter().any(|(m, _)| m == k) {
            push(&mut out, k, &v.to_string());
        }
    }
    out.push('}');
    Some(out)
}

/// An object's members in order, each value as its raw text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn text_merge_keeps_untouched_text_exactly_and_agrees_with_the_value_merge() {
        let fill = obj(json!({"customer": {"id": "93", "name": "Ada"}, "tenant": "A"}));
        for event in [
            r#"{"customer": {"id": "77", "tier": "gold"}, "price": 6.038795452840532e+78}"#,
            r#"{"price": 4.6792513172326403e-14, "customer": "B", "n": 1.0}"#,
            r#"{"customer": {"id": {"deep": 1}}, "tenant": {"x": 1}, "z": [1.50, "ab"]}"#,
            r#"{}"#,
        ] {
            let text = autofill_text(event, &fill).unwrap();
            let mut want = obj(serde_json::from_str(event).unwrap());
            apply_autofill(&mut want, &fill);
            let got: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(got, Value::Object(want), "{event}");
            for kept in
                ["6.038795452840532e+78", "4.6792513172326403e-14", "1.0", "[1.50, \"a\\u0062\"]"]
            {
                if event.contains(kept) {
                    assert!(text.contains(kept), "{kept} re-printed in {text}");
                }
            }
        }
        assert!(autofill_text("[1]", &fill).is_none());
    }

    #[test]
    fn the_spec_example_merges() {
        let mut e = obj(json!({"customer": {"id": "77", "tier": "gold"}, "price": 5}));
        apply_autofill(&mut e, &obj(json!({"customer": {"id": "93", "name": "Ada"}})));
        assert_eq!(
            Value::Object(e),
            json!({"customer": {"id": "93", "name": "Ada", "tier": "gold"}, "price": 5})
        );
    }

    #[test]
    fn autofill_wins_over_every_other_type() {
        let fill = obj(json!({"customer": {"id": "93"}}));
        for event in [
            json!({"customer": "B"}),
            json!({"customer": 7}),
            json!({"customer": null}),
            json!({"customer": ["B"]}),
            json!({"customer": {"id": 77}}),
            json!({"customer": {"id": {"deeper": "B"}}}),
            json!({"customer": {"id": ["B"]}}),
            json!({"customer": {"id": null}}),
        ] {
            let mut e = obj(event.clone());
            apply_autofill(&mut e, &fill);
            assert_eq!(e["customer"]["id"], "93", "{event}");
        }
        // A scalar autofill replaces an object the event sent there.
        let mut e = obj(json!({"tenant": {"id": "B"}}));
        apply_autofill(&mut e, &obj(json!({"tenant": "A"})));
        assert_eq!(Value::Object(e), json!({"tenant": "A"}));
    }
}
