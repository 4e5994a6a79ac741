//! Deletes (keen-semantics §9.6) through the facade: events by filters and
//! timeframe, a property, a whole collection; errors; durability across
//! reopen; cached results forgotten; and, by proptest, every query after a
//! delete equals the reference evaluator over the events that survive it.

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};
use support::{gen, reference};
use tally::{Engine, FixedClock, Project};

/// 2024-06-12T14:35:20.123Z.
const NOW: i64 = 1_718_202_920_123;
const DAY: i64 = 86_400_000;

fn open(dir: &std::path::Path) -> (Engine, Project) {
    let e = Engine::builder()
        .with_data_dir(dir)
        .with_clock(FixedClock::at(NOW))
        .with_segment_rows(16)
        .open()
        .unwrap();
    let (p, _) = e.project_or_create("p").unwrap();
    (e, p)
}

/// 40 events: tenant A for even i, B for odd; one a day back from today;
/// `o.x` on every event, `price` = i.
fn seed(p: &Project) {
    for i in 0..40i64 {
        let ts = tally_ingest::format_datetime(NOW - i * DAY);
        let tenant = if i % 2 == 0 { "A" } else { "B" };
        let e = json!({"keen": {"timestamp": ts}, "tenant": tenant, "price": i, "o": {"x": i}});
        p.record("c", e.to_string().as_bytes()).unwrap();
        if i == 25 {
            p.flush().unwrap(); // some sealed, the rest in the head
        }
    }
}

fn count(p: &Project, extra: Value) -> i64 {
    let mut q =
        json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_1_years"});
    for (k, v) in extra.as_object().unwrap() {
        q[k] = v.clone();
    }
    p.query_json_at(&q, NOW).unwrap().into_json().unwrap()["result"].as_i64().unwrap()
}

fn eq(prop: &str, v: Value) -> Value {
    json!([{"property_name": prop, "operator": "eq", "property_value": v}])
}

#[test]
fn events_matching_filters_are_deleted_at_once_and_for_good() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_e, p) = open(dir.path());
        seed(&p);
        assert_eq!(
            p.delete_events("c", &json!({"filters": eq("tenant", json!("A"))})).unwrap(),
            20
        );
        assert_eq!(count(&p, json!({})), 20);
        assert_eq!(count(&p, json!({"filters": eq("tenant", json!("A"))})), 0);
        let sum = json!({"analysis_type": "sum", "event_collection": "c", "timeframe": "this_1_years", "target_property": "price"});
        let odd: i64 = (0..40).filter(|i| i % 2 == 1).sum();
        assert_eq!(p.query_json_at(&sum, NOW).unwrap().into_json().unwrap()["result"], json!(odd));
        // Again: nothing left to delete; the collection stays.
        assert_eq!(p.delete_events("c", &json!({"filters": eq("tenant", json!("A"))})).unwrap(), 0);
        assert_eq!(p.collection_names(), vec!["c".to_string()]);
    }
    let (_e, p) = open(dir.path());
    assert_eq!(count(&p, json!({})), 20);
    assert_eq!(count(&p, json!({"filters": eq("tenant", json!("B"))})), 20);
}

#[test]
fn a_timeframe_alone_or_with_filters_and_a_timezone_bounds_the_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = open(dir.path());
    seed(&p);
    // this_7_days: today and the 6 days before (UTC): i = 0..=6.
    assert_eq!(p.delete_events("c", &json!({"timeframe": "this_7_days"})).unwrap(), 7);
    assert_eq!(count(&p, json!({"timeframe": "this_7_days"})), 0);
    assert_eq!(count(&p, json!({})), 33);
    // Absolute timeframe (as a query-string JSON text) with a filter.
    let start = tally_ingest::format_datetime(NOW - 20 * DAY - 1);
    let end = tally_ingest::format_datetime(NOW - 9 * DAY);
    let tf = json!({"start": start, "end": end}).to_string();
    let n = p
        .delete_events(
            "c",
            &json!({"timeframe": tf, "filters": eq("tenant", json!("B")).to_string()}),
        )
        .unwrap();
    assert_eq!(n, 5, "odd i in 10..=20: 11, 13, 15, 17, 19 (the end is exclusive)");
    assert_eq!(count(&p, json!({})), 28);
    // A timezone moves relative timeframes: this_1_days in UTC+14 started
    // 14:35 + 14h after the UTC midnight, so i = 0 only... it is deleted
    // already: nothing.
    let n = p
        .delete_events("c", &json!({"timeframe": "this_1_days", "timezone": "Pacific/Kiritimati"}))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn no_filters_and_no_timeframe_delete_the_collection_and_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_e, p) = open(dir.path());
        seed(&p);
        let tok = br#"{"keen": {"uniqueness_token": "t1"}, "v": 1}"#;
        p.record("c", tok).unwrap();
        p.record("other", br#"{"v": 1}"#).unwrap();
        let handle = p.collection("c").unwrap();
        assert_eq!(p.delete_events("c", &json!({"filters": []})).unwrap(), 41);
        assert_eq!(p.collection_names(), vec!["other".to_string()]);
        assert!(p.collection_schema("c").is_err());
        // An old handle refuses; a write through the project starts anew.
        assert!(handle.flush().is_err());
        p.record("c", tok).unwrap();
        assert_eq!(count(&p, json!({})), 1, "the token was freed with the collection");
        p.record("c", tok).unwrap();
        assert_eq!(count(&p, json!({})), 1, "and is remembered again");
        assert_eq!(p.delete_collection("c").unwrap(), 1);
    }
    let (_e, p) = open(dir.path());
    assert_eq!(p.collection_names(), vec!["other".to_string()]);
    let e = p.delete_collection("c").unwrap_err();
    assert_eq!(e.error_code(), "ResourceNotFoundError");
}

#[test]
fn a_deleted_property_leaves_events_schema_and_extractions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_e, p) = open(dir.path());
        seed(&p);
        p.delete_property("c", "o").unwrap();
        let schema = p.collection_schema("c").unwrap();
        let text = serde_json::to_string(&schema).unwrap();
        assert!(!text.contains("o.x"), "{text}");
        assert!(text.contains("tenant"), "{text}");
        assert_eq!(
            count(
                &p,
                json!({"filters": [{"property_name": "o.x", "operator": "exists", "property_value": true}]})
            ),
            0
        );
        assert_eq!(count(&p, json!({})), 40, "the events stay");
        let x = json!({"analysis_type": "extraction", "event_collection": "c", "timeframe": "this_1_years"});
        let rows = p.query_json_at(&x, NOW).unwrap().into_json().unwrap();
        assert!(rows["result"].as_array().unwrap().iter().all(|e| e.get("o").is_none()));
        assert_eq!(rows["result"].as_array().unwrap().len(), 40);
        // It can come back.
        p.record("c", br#"{"o": {"x": "back"}}"#).unwrap();
        assert_eq!(count(&p, json!({"filters": eq("o.x", json!("back"))})), 1);
    }
    let (_e, p) = open(dir.path());
    assert_eq!(
        count(
            &p,
            json!({"filters": [{"property_name": "o.x", "operator": "exists", "property_value": true}]})
        ),
        1
    );
    assert_eq!(count(&p, json!({})), 41);
}

#[test]
fn bad_deletes_are_typed_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = open(dir.path());
    seed(&p);
    let code = |r: tally::Result<u64>| r.unwrap_err().error_code();
    assert_eq!(code(p.delete_events("nope", &json!({}))), "ResourceNotFoundError");
    assert_eq!(code(p.delete_events("c", &json!({"filter": []}))), "InvalidParameterError");
    assert_eq!(code(p.delete_events("c", &json!([1]))), "InvalidParameterError");
    assert_eq!(
        code(p.delete_events(
            "c",
            &json!({"filters": [{"property_name": "a", "operator": "zz", "property_value": 1}]})
        )),
        "FilterDefinitionError"
    );
    assert_eq!(
        code(p.delete_events("c", &json!({"timeframe": "this_fortnight"}))),
        "TimeframeDefinitionError"
    );
    assert_eq!(
        code(
            p.delete_events("c", &json!({"timeframe": "this_1_days", "timezone": "Mars/Olympus"}))
        ),
        "InvalidParameterError"
    );
    let pcode = |r: tally::Result<()>| r.unwrap_err().error_code();
    assert_eq!(pcode(p.delete_property("c", "nope")), "ResourceNotFoundError");
    assert_eq!(pcode(p.delete_property("nope", "o")), "ResourceNotFoundError");
    assert_eq!(pcode(p.delete_property("c", "keen.timestamp")), "InvalidParameterError");
    assert_eq!(pcode(p.delete_property("c", "keen")), "InvalidParameterError");
    assert_eq!(pcode(p.delete_property("c", "")), "InvalidParameterError");
    assert_eq!(count(&p, json!({})), 40);
    assert!(serde_json::to_string(&p.collection_schema("c").unwrap()).unwrap().contains("o.x"));
}

#[test]
fn cached_query_results_forget_deleted_events() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = open(dir.path());
    seed(&p);
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_1_years"});
    p.put_saved_query("n", &json!({"query": q, "refresh_rate": 3600})).unwrap();
    assert_eq!(p.saved_query_result("n").unwrap()["result"], json!(40));
    p.delete_events("c", &json!({"filters": eq("tenant", json!("A"))})).unwrap();
    assert_eq!(p.saved_query_result("n").unwrap()["result"], json!(20));
    p.delete_property("c", "o").unwrap();
    p.delete_collection("c").unwrap();
    assert_eq!(p.saved_query_result("n").unwrap()["result"], json!(0));
}

#[test]
fn a_collection_directory_left_without_its_manifest_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_e, p) = open(dir.path());
        seed(&p);
        p.record("d", br#"{"v": 1}"#).unwrap();
    }
    let cdir = support::fs::find_dir(dir.path(), "collections").expect("a collections directory");
    // "c" is c-63: as a crash after the delete's commit point leaves it.
    let c = cdir.join("c-63");
    std::fs::remove_file(c.join("MANIFEST")).unwrap();
    let (_e, p) = open(dir.path());
    assert_eq!(p.collection_names(), vec!["d".to_string()]);
    assert!(!c.exists());
}

// ------------------------------------------------------------- oracle

fn cases() -> u32 {
    if std::env::var("TALLY_FULL").is_ok_and(|v| v == "1") {
        2_000
    } else {
        96
    }
}

/// True when `event` (stored form) matches the delete's filters and
/// timeframe, by the reference: a count over that one event.
fn reference_matches(coll: &str, event: &Value, filters: &[Value], tf: &Option<Value>) -> bool {
    let timeframe = tf
        .clone()
        .unwrap_or(json!({"start": "1970-01-01T00:00:00Z", "end": "2200-01-01T00:00:00Z"}));
    let q = json!({"analysis_type": "count", "event_collection": coll, "filters": filters, "timeframe": timeframe});
    reference::evaluate(&[(coll.to_string(), event.clone())], &q, gen::NOW_MS)
        .map(|v| v["result"] == json!(1))
        .unwrap_or(false)
}

fn engine_after_delete(
    events: &[(String, Value)],
    split: usize,
    coll: &str,
    filters: &[Value],
    tf: &Option<Value>,
    query: &Value,
) -> (Result<u64, String>, Result<Value, String>) {
    let (_engine, p) = support::world::engine_with(events, split);
    let mut params = json!({"filters": filters});
    if let Some(t) = tf {
        params["timeframe"] = t.clone();
    }
    let deleted =
        p.delete_events_at(coll, &params, gen::NOW_MS).map_err(|e| e.error_code().to_string());
    let answer = match p.query_json_at(query, gen::NOW_MS) {
        Ok(r) => r
            .into_json()
            .map(|mut v| {
                strip_ids(&mut v);
                v
            })
            .ok_or_else(|| "csv".to_string()),
        Err(e) => Err(e.error_code().to_string()),
    };
    (deleted, answer)
}

fn strip_ids(v: &mut Value) {
    if let Some(m) = v.as_object_mut() {
        m.remove("execution_metadata");
    }
    if let Some(Value::Array(events)) = v.get_mut("result") {
        for e in events {
            if let Some(Value::Object(k)) = e.get_mut("keen") {
                k.remove("created_at");
                k.remove("id");
            }
        }
    }
}

proptest! {
    #![proptest_config(gen::config(cases()))]

    /// After deleting the events of one collection that match random
    /// filters (and maybe a timeframe), a random query answers as the
    /// reference does over the surviving events, and the delete reports
    /// how many it removed.
    #[test]
    fn queries_after_a_delete_match_the_reference_over_the_survivors(
        events in gen::events(),
        split in 0usize..40,
        coll in prop::sample::select(gen::COLLECTIONS.to_vec()),
        filters in gen::filters().prop_filter("a non-empty filter list", |f| !f.is_empty()),
        tf in prop::option::of(gen::timeframe_and_interval().prop_map(|(t, _)| t)),
        query in gen::query().prop_filter("no CSV", |q| q.get("content_type").is_none()),
    ) {
        let stored: Vec<(String, Value)> =
            events.iter().map(|(c, e)| (c.clone(), gen::stored_form(e))).collect();
        let survivors: Vec<(String, Value)> = stored
            .iter()
            .filter(|(c, e)| c != coll || !reference_matches(coll, e, &filters, &tf))
            .cloned()
            .collect();
        let exists = events.iter().any(|(c, _)| c == coll);
        let (deleted, got) = engine_after_delete(&events, split.min(events.len()), coll, &filters, &tf, &query);
        if exists {
            prop_assert_eq!(deleted, Ok((stored.len() - survivors.len()) as u64));
        } else {
            prop_assert_eq!(deleted, Err("ResourceNotFoundError".to_string()));
        }
        let mut want = reference::evaluate(&survivors, &query, gen::NOW_MS)
            .map_err(|e| e.code.to_string());
        if let Ok(v) = want.as_mut() {
            strip_ids(v);
        }
        prop_assert!(
            support::compare::same_answer(&want, &got),
            "query {}\nfilters {:?} tf {:?}\nreference {:?}\nengine    {:?}",
            query, filters, tf, want, got
        );
    }
}
