//! The adversarial matrix of RELIABILITY §3b (threats T1–T11), §6.5 item
//! 17: at least 1,200 cases.
//!
//! Setup: tenants A and B share property names and some values, and
//! their events share segments (16-row segments plus a head), so
//! dictionaries and statistics mix. Oracle for every query case: the same
//! query run by the master key over an engine holding only A's events,
//! with A's filter written out, gives the identical answer or error.
//!
//! T7 (saved and cached queries, datasets) is checked at the scope layer
//! (`tally_keys::Scope`): the facade does not offer those resources yet.

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use support::normalize;
use tally::{ApiKey, Engine, FixedClock, KeyedProject, NdjsonOptions, Project};

/// 2024-06-20T00:00:00Z.
const NOW: i64 = 1_718_841_600_000;
const HOUR: i64 = 3_600_000;

fn engine() -> Engine {
    Engine::builder()
        .with_storage(Arc::new(tally_ingest::SimStorage::new()))
        .with_data_dir("/adv")
        .with_clock(FixedClock::at(NOW))
        .with_segment_rows(16)
        .open()
        .unwrap()
}

fn filter_a() -> Value {
    json!({"property_name": "tenant", "operator": "eq", "property_value": "A"})
}

/// A's or B's events: same names, shared and private values, B with
/// extreme numbers, values only B has, and the protected path in other
/// types.
fn events(tenant: &str) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for i in 0..48i64 {
        let t = if tenant == "A" { i * 2 } else { i * 2 + 1 };
        let ts = tally_ingest::format_datetime(NOW - 200 * HOUR + t * HOUR + 11);
        let (tenant_v, price, device, user): (Value, Value, &str, String) = if tenant == "A" {
            (
                json!("A"),
                json!(i as f64 * 2.5),
                ["mobile", "desktop"][(i % 2) as usize],
                format!("u{}", i % 6),
            )
        } else {
            let tv = match i % 6 {
                0 => json!(7),
                1 => json!("a"),
                2 => json!(["B", "C"]),
                3 => json!(null),
                _ => json!("B"),
            };
            let price = if i % 5 == 0 { json!("free") } else { json!(1_000_000.0 + i as f64) };
            (tv, price, ["mobile", "b-only-tv"][(i % 2) as usize], format!("u{}", i % 9))
        };
        let plan = ["free", "pro"][(i % 2) as usize];
        let mut e = json!({
            "keen": {"timestamp": ts}, "tenant": tenant_v, "price": price, "device": device,
            "user": {"id": user, "plan": plan},
            "tags": [format!("t{}", i % 3)],
        });
        if tenant == "B" && i % 4 == 0 {
            e["secret"] = json!(format!("b-secret-{i}"));
            e["Tenant"] = json!("A"); // another path, not the protected one
        }
        out.push(("purchases", e.clone()));
        if i % 2 == 0 {
            out.push((
                "visits",
                json!({"keen": {"timestamp": ts}, "tenant": e["tenant"], "user": e["user"]}),
            ));
        }
    }
    out
}

struct Worlds {
    world: Project,
    oracle: Project,
    key: KeyedProject,
    _engines: (Engine, Engine),
}

fn worlds() -> Worlds {
    let (we, oe) = (engine(), engine());
    let world = we.create_project_with_id("w", "w").unwrap().0;
    let oracle = oe.create_project_with_id("o", "o").unwrap().0;
    let (a, b) = (events("A"), events("B"));
    for (x, y) in a.iter().zip(&b) {
        world.record(x.0, x.1.to_string().as_bytes()).unwrap();
        world.record(y.0, y.1.to_string().as_bytes()).unwrap();
    }
    for (c, e) in b.iter().skip(a.len()) {
        world.record(c, e.to_string().as_bytes()).unwrap();
    }
    for (c, e) in &a {
        oracle.record(c, e.to_string().as_bytes()).unwrap();
    }
    // Some of each in segments, the rest in the heads.
    world.collection("purchases").unwrap().flush().unwrap();
    oracle.collection("purchases").unwrap().flush().unwrap();
    let created = world
        .create_access_key(&json!({"name": "A", "permitted": ["queries", "writes"],
                                   "options": {"queries": {"filters": [filter_a()]}}}))
        .unwrap();
    let key = world.with_key(&ApiKey::from_text(created["key"].as_str().unwrap())).unwrap();
    Worlds { world, oracle, key, _engines: (we, oe) }
}

fn written_out(q: &Value) -> Value {
    let mut q = q.clone();
    let push = |o: &mut Value| {
        let list = o.as_object_mut().unwrap().entry("filters").or_insert(json!([]));
        // A malformed list stays as it is: both sides refuse it alike.
        if let Some(l) = list.as_array_mut() {
            l.push(filter_a());
        }
    };
    match q.get_mut("steps").and_then(Value::as_array_mut) {
        Some(steps) => steps.iter_mut().for_each(push),
        None => push(&mut q),
    }
    q
}

/// An answer made comparable across engines ([`normalize::normalized`]),
/// with the written-out filter out of the oracle's echoed funnel steps (a
/// key's filter is invisible) and members sorted.
fn normalized(r: Result<tally::Response, tally::Error>, oracle: bool) -> String {
    normalize::normalized(r, |v| {
        if oracle {
            if let Some(steps) = v.get_mut("steps").and_then(Value::as_array_mut) {
                for s in steps {
                    s["filters"].as_array_mut().unwrap().pop();
                }
            }
        }
        // Member order of extraction rows is canonical for keys; compare as
        // JSON values (order-insensitive maps) by re-serializing sorted.
        *v = sorted(v);
    })
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut m: Vec<(&String, &Value)> = o.iter().collect();
            m.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(m.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn check_query(w: &Worlds, q: &Value) {
    let mut got = normalized(w.key.query_json_at(q, NOW), false);
    let mut want = normalized(w.oracle.as_operator().query_json_at(&written_out(q), NOW), true);
    // A key's funnel and extraction metadata counts the paths it reads,
    // the master's the collection's schema (by design, see KeyedProject):
    // the noninterference suite checks that count.
    if matches!(q["analysis_type"].as_str(), Some("funnel" | "extraction")) {
        for s in [&mut got, &mut want] {
            if let Ok(mut v) = serde_json::from_str::<Value>(s) {
                if let Some(m) = v.get_mut("execution_metadata").and_then(Value::as_object_mut) {
                    m.remove("properties_per_event");
                }
                *s = v.to_string();
            }
        }
    }
    assert_eq!(got, want, "{q}");
}

fn with_timeframe(mut q: Value, tf: &Value) -> Value {
    q["timeframe"] = tf.clone();
    q
}

const TIMEFRAMES: [&str; 2] = ["this_30_days", "previous_100_hours"];

/// T1 widening by user filters: ≥ 100.
fn t1_widening(w: &Worlds) -> usize {
    let widen = [
        json!({"property_name": "tenant", "operator": "in", "property_value": ["A", "B"]}),
        json!({"property_name": "tenant", "operator": "in", "property_value": ["B"]}),
        json!({"property_name": "tenant", "operator": "ne", "property_value": "A"}),
        json!({"property_name": "tenant", "operator": "ne", "property_value": "B"}),
        json!({"property_name": "tenant", "operator": "exists", "property_value": false}),
        json!({"property_name": "tenant", "operator": "exists", "property_value": true}),
        json!({"property_name": "tenant", "operator": "eq", "property_value": "B"}),
        json!({"property_name": "tenant", "operator": "eq", "property_value": 7}),
        json!({"property_name": "tenant", "operator": "contains", "property_value": "B"}),
        json!({"property_name": "tenant", "operator": "regex", "property_value": ".*"}),
        json!({"property_name": "tenant", "operator": "gt", "property_value": "A"}),
        json!({"property_name": "tenant", "operator": "or", "property_value": [
            {"property_name": "tenant", "operator": "eq", "property_value": "B"},
            {"property_name": "tenant", "operator": "eq", "property_value": "A"}]}),
        json!({"property_name": "Tenant", "operator": "eq", "property_value": "A"}),
    ];
    let bases = [
        json!({"analysis_type": "count", "event_collection": "purchases"}),
        json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "select_unique", "event_collection": "purchases", "target_property": "device"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "group_by": "tenant"}),
    ];
    let mut n = 0;
    for f in &widen {
        for b in &bases {
            for tf in TIMEFRAMES {
                let mut q = with_timeframe(b.clone(), &json!(tf));
                q["filters"] = json!([f]);
                check_query(w, &q);
                n += 1;
            }
        }
    }
    // A wider timeframe than any event, absolute, and no timeframe at all.
    for b in &bases {
        for tf in [
            json!("this_1000_years"),
            json!({"start": "1970-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}),
        ] {
            check_query(w, &with_timeframe(b.clone(), &tf));
            n += 1;
        }
    }
    n
}

/// T2 path aliasing at ingest: every other spelling of the protected path
/// is refused on every write path, and lookalike paths stay other paths: ≥ 150.
fn t2_aliasing(w: &Worlds) -> usize {
    let refused: [(&str, &str); 13] = [
        (r#"{"tenant.x": "A"}"#, "InvalidPropertyNameError"),
        (r#"{"tenant\u002ex": "A"}"#, "InvalidPropertyNameError"),
        (r#"{"customer": {"tenant.id": "A"}}"#, "InvalidPropertyNameError"),
        (r#"{"a": {"b": {"tenant.": "A"}}}"#, "InvalidPropertyNameError"),
        (r#"{"tenant": "B", "tenant": "A"}"#, "InvalidEventError"),
        (r#"{"tenant": "A", "ten\u0061nt": "B"}"#, "InvalidEventError"),
        (r#"{"tenant": "A", "tenant": {"x": 1}}"#, "InvalidEventError"),
        (r#"{"tenant": "A", "tenant": "A"}"#, "InvalidEventError"),
        (r#"{"$tenant": "A"}"#, "InvalidPropertyNameError"),
        (r#"{"ten\u0000ant": "A"}"#, "InvalidPropertyNameError"),
        (r#"{"": "A"}"#, "InvalidPropertyNameError"),
        (r#"{"keen": {"tenant": "A"}}"#, "InvalidKeenNamespaceProperty"),
        (r#"{"tenant": "B", "tenant\u0000": "A"}"#, "InvalidPropertyNameError"),
    ];
    let master = w.world.as_operator();
    let writers = [master.clone(), w.key.clone()];
    let before = |p: &Project| p.snapshot("alias").map_or(0, |s| s.rows());
    let mut n = 0;
    for (event, code) in refused {
        for who in &writers {
            // record, batch, NDJSON wrapped, NDJSON bare: each refuses it.
            let rows = before(&w.world);
            let e = who.record("alias", event.as_bytes()).unwrap_err();
            assert_eq!(e.error_code(), code, "{event}");
            let b = who.record_batch(format!(r#"{{"alias": [{event}]}}"#).as_bytes()).unwrap();
            let b = serde_json::to_value(&b).unwrap();
            assert_eq!(b["alias"][0]["error"]["name"], code, "{event}");
            let line = format!("{{\"alias\": {event}}}\n");
            let s =
                who.ingest_ndjson(line.as_bytes(), &NdjsonOptions::default(), &mut |_| {}).unwrap();
            assert_eq!((s.accepted, s.rejected), (0, 1), "{event}");
            assert_eq!(s.errors[0].error_code, code, "{event}");
            let opts = NdjsonOptions { collection: Some("alias".into()), ..Default::default() };
            let s = who.ingest_ndjson(format!("{event}\n").as_bytes(), &opts, &mut |_| {}).unwrap();
            assert_eq!(s.rejected, 1, "{event}");
            assert_eq!(before(&w.world), rows, "nothing stored: {event}");
            n += 4;
        }
    }
    // Lookalikes are other paths: stored, but outside a `tenant` filter.
    let lookalikes = [
        r#"{"Tenant": "A"}"#,
        r#"{"TENANT": "A"}"#,
        r#"{"tenant ": "A"}"#,
        r#"{" tenant": "A"}"#,
        r#"{"tеnant": "A"}"#,
        r#"{"tenant\u200b": "A"}"#,
        r#"{"ｔｅｎａｎｔ": "A"}"#,
        r#"{"tenant_": "A"}"#,
        r#"{"tenants": "A"}"#,
        r#"{"tenant": {"tenant": "A"}}"#,
        r#"{"x": {"tenant": "A"}}"#,
        r#"{"tenant": ["A", "B"], "why": "a list holding A is in A's scope"}"#,
    ];
    let count = |c: &str, kp: &KeyedProject| {
        let q =
            json!({"analysis_type": "count", "event_collection": c, "timeframe": "this_30_days"});
        kp.query_json_at(&q, NOW).unwrap().json().unwrap()["result"].as_u64().unwrap()
    };
    for (i, e) in lookalikes.iter().enumerate() {
        // Only the list holding "A" matches `tenant eq "A"` (Keen's list
        // semantics); every other lookalike stays outside the key's scope.
        let in_scope = u64::from(i == lookalikes.len() - 1);
        let c = format!("look{i}");
        let writes: [&dyn Fn(); 4] = [
            &|| master.record(&c, e.as_bytes()).unwrap(),
            &|| {
                let r = master.record_batch(format!(r#"{{"{c}": [{e}]}}"#).as_bytes()).unwrap();
                assert_eq!(r.failed(), 0);
            },
            &|| {
                let line = format!("{{\"{c}\": {e}}}\n");
                let s = master
                    .ingest_ndjson(line.as_bytes(), &NdjsonOptions::default(), &mut |_| {})
                    .unwrap();
                assert_eq!(s.accepted, 1);
            },
            &|| {
                let opts = NdjsonOptions { collection: Some(c.clone()), ..Default::default() };
                let s =
                    master.ingest_ndjson(format!("{e}\n").as_bytes(), &opts, &mut |_| {}).unwrap();
                assert_eq!(s.accepted, 1);
            },
        ];
        for (k, write) in writes.iter().enumerate() {
            write();
            let stored = k as u64 + 1;
            assert_eq!(count(&c, &master), stored, "{e} is stored");
            assert_eq!(count(&c, &w.key), in_scope * stored, "{e}");
            n += 1;
        }
    }
    n
}

/// T3 type confusion on the protected path: ≥ 60.
fn t3_types(w: &Worlds) -> usize {
    let mut n = 0;
    let analyses = [
        json!({"analysis_type": "count", "event_collection": "purchases"}),
        json!({"analysis_type": "select_unique", "event_collection": "purchases", "target_property": "tenant"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "group_by": "tenant"}),
        json!({"analysis_type": "count_unique", "event_collection": "purchases", "target_property": "tenant"}),
        json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "average", "event_collection": "purchases", "target_property": "price"}),
    ];
    let filters = [
        json!([]),
        json!([{"property_name": "tenant", "operator": "eq", "property_value": "7"}]),
        json!([{"property_name": "tenant", "operator": "eq", "property_value": 7}]),
        json!([{"property_name": "tenant", "operator": "eq", "property_value": null}]),
        json!([{"property_name": "tenant", "operator": "eq", "property_value": ["B", "C"]}]),
        json!([{"property_name": "tenant", "operator": "eq", "property_value": "a"}]),
        json!([{"property_name": "price", "operator": "eq", "property_value": "free"}]),
        json!([{"property_name": "price", "operator": "gt", "property_value": 100}]),
        json!([{"property_name": "tenant", "operator": "in", "property_value": [7, "B", null]}]),
        json!([{"property_name": "tenant", "operator": "lt", "property_value": 100}]),
    ];
    for a in &analyses {
        for f in &filters {
            let mut q = with_timeframe(a.clone(), &json!("this_30_days"));
            q["filters"] = f.clone();
            check_query(w, &q);
            n += 1;
        }
    }
    n
}

/// T4/T5 dictionaries and statistics: values only B has, B's extremes, in
/// segments and heads: ≥ 80.
fn t4_t5_dictionaries_and_statistics(w: &Worlds) -> usize {
    let mut n = 0;
    let targets = ["price", "device", "user.id", "user.plan", "secret", "tags", "Tenant", "tenant"];
    let kinds = [
        "minimum",
        "maximum",
        "median",
        "percentile",
        "select_unique",
        "count_unique",
        "sum",
        "average",
        "standard_deviation",
        "count",
    ];
    for t in targets {
        for k in kinds {
            let mut q = json!({"analysis_type": k, "event_collection": "purchases", "timeframe": "this_30_days"});
            if k != "count" {
                q["target_property"] = json!(t);
            } else {
                q["group_by"] = json!(t);
            }
            if k == "percentile" {
                q["percentile"] = json!(99);
            }
            check_query(w, &q);
            n += 1;
        }
    }
    n
}

/// T6 every analysis path × target × group_by × interval, multi-analysis,
/// funnel steps, extraction: ≥ 500.
fn t6_every_path(w: &Worlds) -> usize {
    let mut n = 0;
    let kinds = [
        "count",
        "count_unique",
        "minimum",
        "maximum",
        "sum",
        "average",
        "median",
        "percentile",
        "select_unique",
        "standard_deviation",
    ];
    let targets = ["tenant", "price", "user.id", "device"];
    let groups = [json!(null), json!("tenant"), json!("device"), json!(["device", "user.id"])];
    for k in kinds {
        for t in targets {
            for g in &groups {
                for interval in [None, Some("daily")] {
                    let mut q = json!({"analysis_type": k, "event_collection": "purchases", "timeframe": "this_30_days"});
                    if k != "count" {
                        q["target_property"] = json!(t);
                    }
                    if k == "percentile" {
                        q["percentile"] = json!(50);
                    }
                    if !g.is_null() {
                        q["group_by"] = g.clone();
                    }
                    if let Some(i) = interval {
                        q["interval"] = json!(i);
                    }
                    check_query(w, &q);
                    n += 1;
                }
            }
        }
    }
    for g in &groups {
        for meta in [false, true] {
            for tf in TIMEFRAMES {
                for interval in [None, Some("daily")] {
                    let mut q = json!({"analysis_type": "multi_analysis", "event_collection": "purchases",
                        "timeframe": tf, "include_metadata": meta,
                        "analyses": {"n": {"analysis_type": "count"},
                                     "hi": {"analysis_type": "maximum", "target_property": "price"},
                                     "who": {"analysis_type": "select_unique", "target_property": "user.id"}}});
                    if !g.is_null() {
                        q["group_by"] = g.clone();
                    }
                    if let Some(i) = interval {
                        q["interval"] = json!(i);
                    }
                    check_query(w, &q);
                    n += 1;
                }
            }
        }
    }
    let step_filters = [
        json!([]),
        json!([{"property_name": "device", "operator": "eq", "property_value": "mobile"}]),
        json!([{"property_name": "tenant", "operator": "ne", "property_value": "A"}]),
    ];
    for f1 in &step_filters {
        for f2 in &step_filters {
            for actors in [false, true] {
                for meta in [false, true] {
                    for optional in [false, true] {
                        let q = json!({"analysis_type": "funnel", "timeframe": "this_30_days", "include_metadata": meta, "steps": [
                            {"event_collection": "visits", "actor_property": "user.id", "filters": f1},
                            {"event_collection": "purchases", "actor_property": "user.id", "filters": f2, "with_actors": actors, "optional": optional}]});
                        check_query(w, &q);
                        n += 1;
                    }
                }
            }
        }
    }
    let names =
        [json!(null), json!(["price", "tenant"]), json!(["keen.timestamp", "secret", "user.id"])];
    for latest in [json!(null), json!(1), json!(2), json!(3), json!(500)] {
        for pn in &names {
            for meta in [false, true] {
                for f in &step_filters {
                    let mut q = json!({"analysis_type": "extraction", "event_collection": "purchases",
                                       "timeframe": "this_30_days", "include_metadata": meta, "filters": f});
                    if !latest.is_null() {
                        q["latest"] = latest.clone();
                    }
                    if !pn.is_null() {
                        q["property_names"] = pn.clone();
                    }
                    check_query(w, &q);
                    n += 1;
                }
            }
        }
    }
    n
}

/// T7 saved and cached queries and datasets, at the scope layer: ≥ 120.
fn t7_resources() -> usize {
    use tally_keys::{authorize, AccessKeyDef, Operation, Principal};
    let def = AccessKeyDef::from_json(&json!({
        "name": "r", "permitted": ["saved_queries", "cached_queries", "datasets"],
        "options": {
            "saved_queries": {"allowed": ["revenue", "visits-a"], "blocked": ["visits-a", "secret"],
                              "filters": [filter_a()]},
            "cached_queries": {"allowed": [], "blocked": ["secret"]},
            "datasets": {"operations": ["read", "retrieve"],
                         "allowed": {"by-tenant": {"index_by": {"tenant": ["A"]}}, "open": {}},
                         "blocked": ["open-but-blocked"]}
        }
    }))
    .unwrap();
    let p = Principal::Access(Arc::new(def));
    let saved = authorize(&p, Operation::SavedQueryResult).unwrap();
    let cached = authorize(&p, Operation::CachedQueryResult).unwrap();
    let mut n = 0;
    let names = [
        "revenue",
        "Revenue",
        "revenue ",
        " revenue",
        "visits-a",
        "secret",
        "Secret",
        "other",
        "rev",
        "revenue-",
        "visits",
        "visits-A",
        "REVENUE",
        "revenue\u{0}",
        "revenue\n",
        "rev enue",
        "revenue/..",
        "revenue_",
        "revenue.",
        "Visits-a",
        "visits-a ",
        "secret ",
        "SECRET",
        "sécret",
    ];
    for name in names {
        let s = saved.saved_query(name);
        assert_eq!(s.is_ok(), name == "revenue", "saved {name:?}");
        if let Ok(f) = s {
            assert_eq!(f.len(), 1, "saved-query filters come with the grant");
        }
        assert_eq!(cached.cached_query(name).is_ok(), name != "secret", "cached {name:?}");
        n += 2;
    }
    assert!(authorize(&p, Operation::DatasetList).is_err(), "list not in operations");
    assert!(authorize(&p, Operation::SavedQueryAdmin).is_err());
    assert!(authorize(&p, Operation::DatasetAdmin).is_err());
    n += 3;
    for op in [Operation::DatasetRead, Operation::DatasetRetrieve] {
        let d = authorize(&p, op).unwrap();
        for (name, index, ok) in [
            ("by-tenant", json!({"tenant": "A"}), true),
            ("by-tenant", json!({"tenant": "B"}), false),
            ("by-tenant", json!({"tenant": ["A"]}), false),
            ("by-tenant", json!({"tenant": 7}), false),
            ("by-tenant", json!({}), false),
            ("by-tenant", json!({"Tenant": "A"}), false),
            ("by-tenant", json!({"tenant": "A", "extra": "x"}), true),
            ("open", json!({}), true),
            ("open", json!({"tenant": "B"}), true),
            ("open-but-blocked", json!({}), false),
            ("Open", json!({}), false),
            ("missing", json!({}), false),
        ] {
            let idx = index.as_object().unwrap().clone();
            assert_eq!(d.dataset(name, &idx).is_ok(), ok, "{op:?} {name} {index}");
            n += 1;
        }
        for (name, visible) in
            [("by-tenant", true), ("open", true), ("open-but-blocked", false), ("missing", false)]
        {
            assert_eq!(d.dataset_visible(name), visible);
            n += 1;
        }
    }
    // Every allowed/blocked list entry must be a valid name at creation.
    for bad in ["", "a b", "../x", "a/b", "naïve", "a\u{0}b", "ｒｅｖ", "rev\u{200b}"] {
        for member in ["saved_queries", "cached_queries"] {
            for list in ["allowed", "blocked"] {
                let d = json!({"name": "x", "options": {member: {list: [bad]}}});
                assert!(AccessKeyDef::from_json(&d).is_err(), "{member}.{list} {bad:?}");
                n += 1;
            }
        }
        let d = json!({"name": "x", "options": {"datasets": {"allowed": {bad: {}}}}});
        assert!(AccessKeyDef::from_json(&d).is_err());
        n += 1;
    }
    n
}

/// T8 name tricks: resource, collection and key names: ≥ 80.
fn t8_names(w: &Worlds) -> usize {
    let mut n = 0;
    let long = "x".repeat(10_000);
    let tricks = [
        "Revenue",
        "revenue ",
        "../x",
        "..",
        "a/b",
        "a\\b",
        "e\u{301}",
        "\u{e9}",
        "a\u{0}b",
        "\u{202e}abc",
        "CON",
        "",
        " ",
        long.as_str(),
        "a.b",
        "$x",
    ];
    for t in tricks {
        // As an access-key list entry: refused at creation unless valid.
        let d = json!({"name": "k", "options": {"saved_queries": {"blocked": [t]}}});
        let valid = tally_keys::access::validate_resource_name(t, "n").is_ok();
        assert_eq!(w.world.create_access_key(&d).is_ok(), valid, "{t:?}");
        // As a collection to query: never a path outside the project.
        let q =
            json!({"analysis_type": "count", "event_collection": t, "timeframe": "this_30_days"});
        check_query(w, &q);
        // As a collection to write: refused or stored under its own name.
        let r = w.key.record(t, br#"{"x": 1}"#);
        if r.is_ok() {
            assert!(w.world.collection_names().iter().any(|c| c == t));
        }
        // As a key name: 1-256 characters, no control characters.
        let k = w.world.create_access_key(&json!({"name": t}));
        let ok = !t.is_empty() && t.chars().count() <= 256 && !t.chars().any(char::is_control);
        assert_eq!(k.is_ok(), ok, "{t:?}");
        // As a property path in a filter.
        let q = json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days",
                       "filters": [{"property_name": t, "operator": "exists", "property_value": true}]});
        check_query(w, &q);
        n += 5;
    }
    n
}

/// T9 errors and limits: identical errors, never echoing stored values: ≥ 50.
fn t9_errors(w: &Worlds) -> usize {
    let mut n = 0;
    let bad = [
        json!({"analysis_type": "sum", "event_collection": "purchases"}),
        json!({"analysis_type": "sum", "event_collection": "purchases", "timeframe": "this_30_days"}),
        json!({"analysis_type": "percentile", "event_collection": "purchases", "target_property": "price", "timeframe": "this_30_days"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_0_days"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "interval": "every_0_days"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "filters": [{"property_name": "secret", "operator": "regex", "property_value": "("}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "filters": [{"property_name": "price", "operator": "within", "property_value": 1}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "group_by": "result"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "order_by": "result"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "limit": 1}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "timezone": "Mars/Base"}),
        json!({"analysis_type": "funnel", "timeframe": "this_30_days", "steps": []}),
        json!({"analysis_type": "extraction", "event_collection": "purchases", "timeframe": "this_30_days", "latest": 0}),
        json!({"analysis_type": "nope", "event_collection": "purchases"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}}),
        json!({"analysis_type": "median", "event_collection": "purchases", "target_property": "secret", "timeframe": "this_30_days"}),
        json!({"analysis_type": "average", "event_collection": "purchases", "target_property": "device", "timeframe": "this_30_days"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "group_by": {"property_name": "price", "bucket_size": 0}}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "filters": [{"property_name": "tenant", "operator": "in", "property_value": []}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "filters": "not json"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "filters": [{"property_name": "tenant", "operator": "eq"}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "interval": "daily", "group_by": ["a","b","c","d","e","f","g","h","i","j","k"]}),
        json!({"analysis_type": "select_unique", "event_collection": "purchases", "timeframe": "this_30_days"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "max_age": 5}),
        json!({"analysis_type": "multi_analysis", "event_collection": "purchases", "timeframe": "this_30_days", "analyses": {}}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days", "filters": [{"property_name": "price", "operator": "bogus", "property_value": 1}]}),
        json!({"analysis_type": "count_unique", "event_collection": "purchases", "timeframe": "this_30_days"}),
    ];
    for q in &bad {
        for tf_override in [false, true] {
            let mut q = q.clone();
            if tf_override {
                if q.get("timeframe").is_none() {
                    continue; // no second variant
                }
                q["timeframe"] = json!("previous_100_hours");
            }
            check_query(w, &q);
            let e = w.key.query_json_at(&q, NOW);
            if let Err(e) = e {
                let text = e.to_string();
                for stored in ["b-secret", "b-only-tv", "1000000"] {
                    assert!(!text.contains(stored), "{q}: {text}");
                }
            }
            n += 1;
        }
    }
    n
}

/// T10 autofill in every form, on every write path: ≥ 60.
fn t10_autofill() -> usize {
    let e = engine();
    let p = e.create_project_with_id("af", "af").unwrap().0;
    let created = p
        .create_access_key(&json!({"name": "w", "permitted": ["writes"],
            "options": {"writes": {"autofill": {"tenant": "A", "org": {"id": "93", "tier": "gold"}}}}}))
        .unwrap();
    let kp = p.with_key(&ApiKey::from_text(created["key"].as_str().unwrap())).unwrap();
    let forms = [
        r#"{"tenant": "B"}"#,
        r#"{"tenant": 7}"#,
        r#"{"tenant": null}"#,
        r#"{"tenant": ["B"]}"#,
        r#"{"tenant": {"id": "B"}}"#,
        r#"{"org": "B"}"#,
        r#"{"org": {"id": "B"}}"#,
        r#"{"org": {"id": 77, "x": 1}}"#,
        r#"{"org": {"id": {"deep": "B"}}}"#,
        r#"{"org": {"tier": ["B"]}}"#,
        r#"{"x": 1}"#,
        r#"{}"#,
        r#"{"org": {"id": null}, "tenant": false}"#,
        r#"{"org": [], "tenant": {}}"#,
        r#"{"TENANT": "B", "tenant": "B"}"#,
    ];
    let mut n = 0;
    let check = |c: &str, want: usize| {
        let q = json!({"analysis_type": "extraction", "event_collection": c, "timeframe": "this_100_years"});
        let rows =
            p.as_operator().query_json_at(&q, NOW).unwrap().into_json().unwrap()["result"].clone();
        let rows = rows.as_array().unwrap().clone();
        assert_eq!(rows.len(), want, "{c}");
        for r in &rows {
            assert_eq!(r["tenant"], "A", "{c}: {r}");
            assert_eq!(r["org"]["id"], "93", "{c}: {r}");
            assert_eq!(r["org"]["tier"], "gold", "{c}: {r}");
        }
    };
    for (i, f) in forms.iter().enumerate() {
        let c = format!("f{i}");
        kp.record(&c, f.as_bytes()).unwrap();
        kp.record_batch(format!(r#"{{"{c}": [{f}]}}"#).as_bytes()).unwrap();
        kp.ingest_ndjson(
            format!("{{\"{c}\": {f}}}\n").as_bytes(),
            &NdjsonOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let opts = NdjsonOptions { collection: Some(c.clone()), ..Default::default() };
        kp.ingest_ndjson(format!("{f}\n").as_bytes(), &opts, &mut |_| {}).unwrap();
        check(&c, 4);
        n += 4;
    }
    n
}

/// T11 schema inspection: ≥ 10.
fn t11_schema(w: &Worlds) -> usize {
    let mut n = 0;
    // The key lacks `schema`: every schema call is refused.
    assert_eq!(w.key.schema().unwrap_err().error_code(), "InvalidApiKeyError");
    assert_eq!(
        w.key.collection_schema("purchases").unwrap_err().error_code(),
        "InvalidApiKeyError"
    );
    assert_eq!(
        w.key.property_schema("purchases", "secret").unwrap_err().error_code(),
        "InvalidApiKeyError"
    );
    assert_eq!(w.key.property_schema("nope", "x").unwrap_err().error_code(), "InvalidApiKeyError");
    n += 4;
    // With `schema` explicitly permitted it sees the collection's schema
    // (the documented choice): the same as master's.
    let created = w
        .world
        .create_access_key(&json!({"name": "s", "permitted": ["schema"],
                                   "options": {"queries": {"filters": [filter_a()]}}}))
        .unwrap();
    let s = w.world.with_key(&ApiKey::from_text(created["key"].as_str().unwrap())).unwrap();
    assert_eq!(s.schema().unwrap(), w.world.schema());
    assert_eq!(
        s.collection_schema("purchases").unwrap(),
        w.world.collection_schema("purchases").unwrap()
    );
    assert_eq!(
        s.property_schema("purchases", "price").unwrap(),
        w.world.property_schema("purchases", "price").unwrap()
    );
    // ...but it cannot query: `queries` is not permitted.
    let q = json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_30_days"});
    assert_eq!(s.query_json_at(&q, NOW).unwrap_err().error_code(), "InvalidApiKeyError");
    n += 4;
    // The query resource listing needs `queries`, never `schema`.
    assert!(w.key.query_listing().is_ok());
    assert_eq!(s.query_listing().unwrap_err().error_code(), "InvalidApiKeyError");
    n += 2;
    n
}

#[test]
fn the_t1_to_t11_matrix_holds() {
    let w = worlds();
    let counts = [
        ("T1 widening", t1_widening(&w), 100),
        ("T3 type confusion", t3_types(&w), 60),
        ("T4/T5 dictionaries and statistics", t4_t5_dictionaries_and_statistics(&w), 80),
        ("T6 every analysis path", t6_every_path(&w), 500),
        ("T7 saved/cached/datasets (scope layer)", t7_resources(), 120),
        ("T8 names", t8_names(&w), 80),
        ("T9 errors and limits", t9_errors(&w), 50),
        ("T10 autofill", t10_autofill(), 60),
        ("T11 schema", t11_schema(&w), 10),
        // Last: it writes (refused and lookalike events) into the world.
        ("T2 path aliasing", t2_aliasing(&w), 150),
    ];
    let mut total = 0;
    for (name, n, min) in counts {
        eprintln!("{name}: {n} cases");
        assert!(n >= min, "{name}: {n} cases, want at least {min}");
        total += n;
    }
    eprintln!("total: {total} cases");
    assert!(total >= 1_200, "{total} cases");
}
