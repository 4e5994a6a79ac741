//! Cached datasets (keen-semantics §9.3) and the access-key rules on them.

use serde_json::{json, Value};
use tally::{ApiKey, Engine, FixedClock, KeyedProject, Project};

/// 2024-06-20T12:00:00Z.
const NOW: i64 = 1_718_884_800_000;
const HOUR: i64 = 3_600_000;

fn project(dir: &std::path::Path) -> (Engine, Project) {
    let e = Engine::builder().with_data_dir(dir).with_clock(FixedClock::at(NOW)).open().unwrap();
    let p = e.project_or_create("shop").unwrap().0;
    for i in 0..200i64 {
        let tenant = ["A", "B", "C"][(i % 3) as usize];
        let region = ["eu", "us"][(i % 2) as usize];
        let device = ["mobile", "desktop", "tv"][(i % 5 % 3) as usize];
        let ev = json!({
            "keen": {"timestamp": tally_ingest::format_datetime(NOW - i * 3 * HOUR)},
            "tenant": tenant, "region": region, "device": device,
        });
        p.record("purchases", ev.to_string().as_bytes()).unwrap();
    }
    (e, p)
}

fn daily() -> Value {
    json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_10_days",
           "timezone": "UTC", "interval": "daily", "group_by": ["device"]})
}

#[test]
fn definitions_are_validated_and_described() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = project(dir.path());
    let (created, def) = p
        .put_dataset(
            "by-tenant",
            &json!({"display_name": "Daily by device", "query": daily(), "index_by": "tenant"}),
        )
        .unwrap();
    assert!(created);
    assert_eq!(def["dataset_name"], "by-tenant");
    assert_eq!(def["project_id"], p.id());
    assert_eq!(def["query"]["project_id"], p.id());
    assert_eq!(def["index_by"], json!(["tenant"]));
    assert_eq!(def["milliseconds_behind"], 0);
    assert_eq!(
        def["latest_subtimeframe_available"], "2024-06-21T00:00:00.000Z",
        "end of today's bucket"
    );
    assert_eq!(def["last_scheduled_date"], "2024-06-20T12:00:00.000Z");
    // An answer can be PUT back (replacing).
    let (created, _) = p.put_dataset("by-tenant", &p.dataset("by-tenant").unwrap()).unwrap();
    assert!(!created);

    let mut no_interval = daily();
    no_interval.as_object_mut().unwrap().remove("interval");
    let mut previous = daily();
    previous["timeframe"] = json!("previous_10_days");
    let mut absolute = daily();
    absolute["timeframe"] = json!({"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"});
    let funnel = json!({"analysis_type": "funnel", "timeframe": "this_10_days",
                        "steps": [{"event_collection": "purchases", "actor_property": "tenant"}]});
    for (body, field) in [
        (json!({"query": no_interval, "index_by": "tenant"}), "interval"),
        (json!({"query": previous, "index_by": "tenant"}), "timeframe"),
        (json!({"query": absolute, "index_by": "tenant"}), "timeframe"),
        (json!({"query": funnel, "index_by": "tenant"}), "analysis_type"),
        (json!({"query": daily(), "index_by": "device"}), "group_by"),
        (json!({"query": daily(), "index_by": ["a", "b", "c", "d", "e", "f"]}), "index_by"),
        (json!({"query": daily(), "index_by": ["a", "a"]}), "index_by"),
        (json!({"query": daily()}), "index_by"),
        (json!({"query": daily(), "index_by": "tenant", "colour": 1}), "colour"),
    ] {
        let e = p.put_dataset("bad", &body).unwrap_err();
        assert!(e.to_string().contains(field), "{body}: {e}");
    }
    assert_eq!(
        p.put_dataset("bad name", &json!({"query": daily(), "index_by": "tenant"}))
            .unwrap_err()
            .error_code(),
        "InvalidParameterError"
    );
    p.delete_dataset("by-tenant").unwrap();
    assert_eq!(p.dataset("by-tenant").unwrap_err().error_code(), "ResourceNotFoundError");
}

#[test]
fn results_equal_the_query_with_the_index_filter_restricted_to_the_requested_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = project(dir.path());
    p.put_dataset("one", &json!({"query": daily(), "index_by": "tenant"})).unwrap();
    p.put_dataset("two", &json!({"query": daily(), "index_by": ["tenant", "region"]})).unwrap();
    for (tenant, tf) in [
        ("A", json!("previous_3_days")),
        ("B", json!("this_2_days")),
        ("C", json!({"start": "2024-06-15T00:00:00Z", "end": "2024-06-17T00:00:00Z"})),
        ("Z", json!("this_30_days")),
    ] {
        let got = p.dataset_results("one", &json!(tenant), &tf).unwrap();
        let mut q = daily();
        q["filters"] =
            json!([{"property_name": "tenant", "operator": "eq", "property_value": tenant}]);
        let full = p.query_json_at(&q, NOW).unwrap().into_json().unwrap();
        let range = tally_query::Timeframe::parse(&tf)
            .unwrap()
            .resolve(NOW, &tally_query::TimeZone::Fixed(0))
            .unwrap();
        let want: Vec<&Value> = full["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| {
                let s = tally_ingest::parse_timestamp(b["timeframe"]["start"].as_str().unwrap())
                    .unwrap();
                range.start_ms <= s && s < range.end_ms
            })
            .collect();
        assert_eq!(
            got["result"].as_array().unwrap().iter().collect::<Vec<_>>(),
            want,
            "{tenant} {tf}"
        );
        assert!(!want.is_empty() || tenant == "Z");
        assert_eq!(
            got["metadata"]["request"],
            json!({"index_by": {"tenant": tenant}, "timeframe": tf})
        );
        assert_eq!(got["metadata"]["dataset"]["dataset_name"], "one");
    }
    // Several index paths: a value for every path.
    let r = p
        .dataset_results("two", &json!({"tenant": "A", "region": "eu"}), &json!("this_10_days"))
        .unwrap();
    assert!(!r["result"].as_array().unwrap().is_empty());
    for bad in [
        json!("A"),
        json!({"tenant": "A"}),
        json!({"tenant": "A", "region": "eu", "x": 1}),
        json!({"tenant": ["A"], "region": "eu"}),
    ] {
        assert_eq!(
            p.dataset_results("two", &bad, &json!("this_10_days")).unwrap_err().error_code(),
            "InvalidParameterError",
            "{bad}"
        );
    }
    assert_eq!(
        p.dataset_results("one", &json!("A"), &json!("this_0_days")).unwrap_err().error_code(),
        "TimeframeDefinitionError"
    );
}

#[test]
fn listing_pages_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = project(dir.path());
    for n in ["c", "a", "e", "b", "d"] {
        p.put_dataset(n, &json!({"query": daily(), "index_by": "tenant"})).unwrap();
    }
    let page = p.datasets(Some(2), None).unwrap();
    let names = |v: &Value| {
        v["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["dataset_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&page), ["a", "b"]);
    assert_eq!(page["count"], 5);
    assert_eq!(
        page["next_page_url"],
        format!("/3.0/projects/{}/datasets?limit=2&after_name=b", p.id())
    );
    let last = p.datasets(Some(2), Some("d")).unwrap();
    assert_eq!(names(&last), ["e"]);
    assert_eq!(last["next_page_url"], Value::Null);
    assert_eq!(names(&p.datasets(None, None).unwrap()).len(), 5, "default limit 10");
    assert!(p.datasets(Some(0), None).is_err());
    assert!(p.datasets(Some(101), None).is_err());
    // Definitions survive a reopen.
    drop((_e, p));
    let e =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    assert_eq!(e.project("shop").unwrap().datasets(None, None).unwrap()["count"], 5);
}

fn keyed(p: &Project, def: Value) -> KeyedProject {
    let k = p.create_access_key(&def).unwrap();
    p.with_key(&ApiKey::from_text(k["key"].as_str().unwrap())).unwrap()
}

#[test]
fn access_keys_follow_operations_allowed_blocked_and_index_by() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, p) = project(dir.path());
    for n in ["mine", "open", "hidden", "blocked"] {
        p.put_dataset(n, &json!({"query": daily(), "index_by": "tenant"})).unwrap();
    }
    let k = keyed(
        &p,
        json!({"name": "a", "permitted": ["datasets"], "options": {"datasets": {
        "operations": ["read", "list", "retrieve"],
        "allowed": {"mine": {"index_by": {"tenant": ["A"]}}, "open": {}, "blocked": {}},
        "blocked": ["blocked"]}}}),
    );
    let tf = json!("this_10_days");
    assert!(k.dataset_results("mine", &json!("A"), &tf).is_ok());
    assert_eq!(
        k.dataset_results("mine", &json!("B"), &tf).unwrap_err().error_code(),
        "InvalidApiKeyError"
    );
    assert!(k.dataset_results("open", &json!("B"), &tf).is_ok());
    for n in ["hidden", "blocked", "missing"] {
        assert_eq!(
            k.dataset_results(n, &json!("A"), &tf).unwrap_err().error_code(),
            "InvalidApiKeyError",
            "{n}"
        );
        assert_eq!(k.dataset(n).unwrap_err().error_code(), "InvalidApiKeyError", "{n}");
    }
    let listed: Vec<Value> = k.datasets(None, None).unwrap()["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dataset_name"].clone())
        .collect();
    assert_eq!(listed, [json!("mine"), json!("open")], "only the datasets it may read");
    assert_eq!(k.datasets(None, None).unwrap()["count"], 2);
    assert_eq!(
        k.put_dataset("x", &json!({"query": daily(), "index_by": "tenant"}))
            .unwrap_err()
            .error_code(),
        "AdminOnlyEndpointError"
    );
    assert_eq!(k.delete_dataset("open").unwrap_err().error_code(), "AdminOnlyEndpointError");
    // Only `retrieve`: definitions and listing are refused.
    let r = keyed(
        &p,
        json!({"name": "r", "permitted": ["datasets"], "options": {"datasets": {"operations": ["retrieve"]}}}),
    );
    assert!(r.dataset_results("hidden", &json!("C"), &tf).is_ok());
    assert_eq!(r.dataset("hidden").unwrap_err().error_code(), "InvalidApiKeyError");
    assert_eq!(r.datasets(None, None).unwrap_err().error_code(), "InvalidApiKeyError");
    // Without the permission, nothing.
    let q = keyed(&p, json!({"name": "q", "permitted": ["queries"]}));
    assert_eq!(
        q.dataset_results("open", &json!("A"), &tf).unwrap_err().error_code(),
        "InvalidApiKeyError"
    );
}
