//! Saved and cached queries (keen-semantics §9.1–9.2), and the access-key
//! rules on them (§8.4).

use serde_json::{json, Value};
use tally::{ApiKey, Engine, FixedClock, KeyedProject, Project};

/// 2024-06-12T14:35:20.123Z.
const NOW: i64 = 1_718_202_920_123;

fn setup(dir: &std::path::Path, clock: &FixedClock) -> (Engine, Project) {
    let (e, p, _) = setup_with_keys(dir, clock);
    (e, p)
}

fn setup_with_keys(
    dir: &std::path::Path,
    clock: &FixedClock,
) -> (Engine, Project, Option<tally::ProjectKeys>) {
    let e = Engine::builder().with_data_dir(dir).with_clock(clock.clone()).open().unwrap();
    let (p, keys) = e.project_or_create("shop").unwrap();
    (e, p, keys)
}

fn purchase(p: &Project, tenant: &str, price: f64) {
    p.record("purchases", json!({"tenant": tenant, "price": price}).to_string().as_bytes())
        .unwrap();
}

fn sum_query() -> Value {
    json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price",
           "timeframe": "this_2_weeks"})
}

#[test]
fn definitions_are_validated_echoed_renamed_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FixedClock::at(NOW);
    let (_e, p) = setup(dir.path(), &clock);
    let (created, def) = p
        .put_saved_query(
            "revenue",
            &json!({"refresh_rate": 0, "query": sum_query(),
                                            "metadata": {"display_name": "Revenue"}}),
        )
        .unwrap();
    assert!(created);
    assert_eq!(def["query_name"], "revenue");
    assert_eq!(def["refresh_rate"], 0);
    assert_eq!(def["metadata"], json!({"display_name": "Revenue"}));
    assert_eq!(def["created_date"], "2024-06-12T14:35:20.123Z");
    assert_eq!(def["run_information"], Value::Null);
    // Unset optional members are echoed as null.
    for m in ["timezone", "interval", "group_by", "percentile", "order_by", "limit", "filters"] {
        assert_eq!(def["query"][m], Value::Null, "{m}");
    }
    assert_eq!(def["query"]["target_property"], "price");

    // A PUT replaces the whole definition, keeping the creation date.
    clock.advance(60_000);
    let (created, def) = p.put_saved_query("revenue", &json!({"query": sum_query()})).unwrap();
    assert!(!created);
    assert_eq!(def["metadata"], Value::Null, "members not sent are cleared");
    assert_eq!(def["created_date"], "2024-06-12T14:35:20.123Z");
    assert_eq!(def["last_modified_date"], "2024-06-12T14:36:20.123Z");
    // The GET answer can be sent back as is.
    let again = p.put_saved_query("revenue", &p.saved_query("revenue").unwrap()).unwrap();
    assert!(!again.0);

    // A different query_name renames.
    let (_, renamed) = p
        .put_saved_query("revenue", &json!({"query_name": "income", "query": sum_query()}))
        .unwrap();
    assert_eq!(renamed["query_name"], "income");
    assert_eq!(p.saved_query("revenue").unwrap_err().error_code(), "ResourceNotFoundError");
    p.put_saved_query("a-first", &json!({"query": sum_query()})).unwrap();
    let names: Vec<Value> = p.saved_query_list().iter().map(|d| d["query_name"].clone()).collect();
    assert_eq!(names, [json!("a-first"), json!("income")]);
    assert_eq!(p.describe()["saved_queries"], json!(["a-first", "income"]));

    for (name, body, code) in [
        ("bad name", json!({"query": sum_query()}), "InvalidParameterError"),
        ("x", json!({"query": sum_query(), "refresh_rate": 5}), "InvalidParameterError"),
        ("x", json!({"query": sum_query(), "refresh_rate": 86_401}), "InvalidParameterError"),
        ("x", json!({"refresh_rate": 0}), "MissingParameterError"),
        (
            "x",
            json!({"query": {"analysis_type": "extraction", "event_collection": "purchases", "timeframe": "this_2_weeks"}}),
            "InvalidParameterError",
        ),
        (
            "x",
            json!({"query": {"analysis_type": "sum", "event_collection": "purchases", "timeframe": "this_2_weeks"}}),
            "MissingParameterError",
        ),
        ("x", json!({"query": sum_query(), "colour": 1}), "InvalidParameterError"),
        ("x", json!({"query_name": "a-first", "query": sum_query()}), "InvalidParameterError"),
    ] {
        let e = p.put_saved_query(name, &body).unwrap_err();
        assert_eq!(e.error_code(), code, "{name}: {body}");
    }
    assert!(p.put_saved_query("x", &json!({"query": sum_query(), "refresh_rate": 3_600})).is_ok());
    assert!(p.put_saved_query("y", &json!({"query": sum_query(), "refresh_rate": 86_400})).is_ok());

    p.delete_saved_query("income").unwrap();
    assert_eq!(p.delete_saved_query("income").unwrap_err().error_code(), "ResourceNotFoundError");
    // Definitions survive a reopen.
    drop((_e, p));
    let (_e, p) = setup(dir.path(), &clock);
    let names: Vec<Value> = p.saved_query_list().iter().map(|d| d["query_name"].clone()).collect();
    assert_eq!(names, [json!("a-first"), json!("x"), json!("y")]);
}

#[test]
fn results_are_computed_now_or_served_from_a_cache_at_most_refresh_rate_old() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FixedClock::at(NOW);
    let (_e, p) = setup(dir.path(), &clock);
    purchase(&p, "A", 10.0);
    p.put_saved_query("live", &json!({"query": sum_query()})).unwrap();
    p.put_saved_query("hourly", &json!({"query": sum_query(), "refresh_rate": 3_600})).unwrap();
    assert_eq!(p.saved_query_result("live").unwrap()["result"], 10.0);
    let first = p.saved_query_result("hourly").unwrap();
    assert_eq!(first["result"], 10.0);
    assert_eq!(first["run_information"]["last_run_date"], "2024-06-12T14:35:20.123Z");
    assert_eq!(first["run_information"]["next_run_date"], "2024-06-12T15:35:20.123Z");
    purchase(&p, "A", 5.0);
    clock.advance(3_599_000);
    assert_eq!(p.saved_query_result("live").unwrap()["result"], 15.0, "computed now");
    assert_eq!(p.saved_query_result("hourly").unwrap()["result"], 10.0, "served from the cache");
    clock.advance(1_000);
    let later = p.saved_query_result("hourly").unwrap();
    assert_eq!(later["result"], 15.0, "recomputed once refresh_rate has passed");
    assert_eq!(later["run_information"]["last_run_date"], "2024-06-12T15:35:20.123Z");
    // Replacing the definition drops its cached result.
    purchase(&p, "A", 1.0);
    p.put_saved_query("hourly", &json!({"query": sum_query(), "refresh_rate": 7_200})).unwrap();
    assert_eq!(p.saved_query_result("hourly").unwrap()["result"], 16.0);
    assert_eq!(p.saved_query_result("nope").unwrap_err().error_code(), "ResourceNotFoundError");
}

fn keyed(p: &Project, def: Value) -> KeyedProject {
    let k = p.create_access_key(&def).unwrap();
    p.with_key(&ApiKey::from_text(k["key"].as_str().unwrap())).unwrap()
}

#[test]
fn access_keys_follow_their_saved_and_cached_query_options() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FixedClock::at(NOW);
    let (_e, p, keys) = setup_with_keys(dir.path(), &clock);
    let keys = keys.unwrap();
    purchase(&p, "A", 10.0);
    purchase(&p, "B", 100.0);
    for name in ["mine", "secret", "other"] {
        p.put_saved_query(name, &json!({"query": sum_query()})).unwrap();
    }
    p.put_saved_query("cached", &json!({"query": sum_query(), "refresh_rate": 3_600})).unwrap();
    let filter = json!({"property_name": "tenant", "operator": "eq", "property_value": "A"});
    let a = keyed(
        &p,
        json!({"name": "a", "permitted": ["saved_queries", "cached_queries"],
        "options": {"saved_queries": {"allowed": ["mine", "secret"], "blocked": ["secret"], "filters": [filter]},
                    "cached_queries": {"blocked": ["nope"]}}}),
    );
    // saved_queries.filters are ANDed onto the saved query.
    assert_eq!(a.saved_query_result("mine").unwrap()["result"], 10.0);
    assert_eq!(p.saved_query_result("mine").unwrap()["result"], 110.0);
    // blocked wins over allowed; names outside allowed are refused; a name
    // that does not exist reads the same as one it may not run.
    // (The key may run these names as cached queries, so a missing name
    // is not found for it; a plain query it may not run reads the same.)
    let refused = a.saved_query_result("secret").unwrap_err().to_json();
    assert_eq!(refused["error_code"], "ResourceNotFoundError");
    let missing = a.saved_query_result("ghost").unwrap_err().to_json();
    assert_eq!(missing["error_code"], "ResourceNotFoundError");
    assert_eq!(a.saved_query_result("other").unwrap_err().error_code(), "ResourceNotFoundError");
    // A cached result is served as computed: no filters (§8.4).
    assert_eq!(a.saved_query_result("cached").unwrap()["result"], 110.0);
    // Definitions are master-only.
    assert_eq!(a.saved_query_list().unwrap_err().error_code(), "AdminOnlyEndpointError");
    assert_eq!(
        a.put_saved_query("x", &json!({"query": sum_query()})).unwrap_err().error_code(),
        "AdminOnlyEndpointError"
    );

    // Only saved_queries: cached results are refused (not found, as any
    // missing name is for a key that may run every name as a saved query),
    // and vice versa (refused by name: c may run "cached" only).
    let s = keyed(&p, json!({"name": "s", "permitted": ["saved_queries"]}));
    assert_eq!(s.saved_query_result("other").unwrap()["result"], 110.0);
    assert_eq!(
        s.saved_query_result("cached").unwrap_err().to_json(),
        json!({"message": "saved query \"cached\" not found", "error_code": "ResourceNotFoundError"})
    );
    assert_eq!(s.saved_query_result("ghost").unwrap_err().error_code(), "ResourceNotFoundError");
    let c = keyed(
        &p,
        json!({"name": "c", "permitted": ["cached_queries"],
                             "options": {"cached_queries": {"allowed": ["cached"]}}}),
    );
    assert!(c.saved_query_result("cached").is_ok());
    assert_eq!(c.saved_query_result("mine").unwrap_err().error_code(), "InvalidApiKeyError");
    // A key that may run neither learns nothing, not even existence.
    let q = keyed(&p, json!({"name": "q", "permitted": ["queries"]}));
    assert_eq!(
        q.saved_query_result("mine").unwrap_err().to_json(),
        q.saved_query_result("nope").unwrap_err().to_json()
    );
    // The read key runs every saved query unfiltered; the write key none.
    let read = p.with_key(&keys.read).unwrap();
    assert_eq!(read.saved_query_result("secret").unwrap()["result"], 110.0);
    assert_eq!(read.saved_query_result("cached").unwrap()["result"], 110.0);
    let write = p.with_key(&keys.write).unwrap();
    assert_eq!(write.saved_query_result("mine").unwrap_err().error_code(), "InvalidApiKeyError");
    assert_eq!(read.saved_query_list().unwrap_err().error_code(), "AdminOnlyEndpointError");
}
