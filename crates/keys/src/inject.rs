//! Filter injection and autofill: the rewrites an access key applies to a
//! request (keen-semantics §8.4, RELIABILITY §3b T1, T6, T10).

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
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
