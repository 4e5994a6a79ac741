//! What an access key's scope does to requests: its filters on every
//! query path, its autofill on every write path (keen-semantics §8.4).
//!
//! Oracle: the query run as master on an engine holding only the tenant's
//! events, with the key's filter written out, must answer the same.

use serde_json::{json, Value};
use tally::{ApiKey, Engine, FixedClock, NdjsonOptions, Project};

/// 2024-06-20T00:00:00Z.
const NOW: i64 = 1_718_841_600_000;
const DAY: i64 = 86_400_000;

fn engine(dir: &std::path::Path) -> Engine {
    Engine::builder()
        .with_data_dir(dir)
        .with_clock(FixedClock::at(NOW))
        .with_segment_rows(16)
        .open()
        .unwrap()
}

fn ts(i: i64) -> String {
    tally_ingest::format_datetime(NOW - 10 * DAY + i * 3_600_000 + 7)
}

/// Tenant A's events, and B's: B shares A's property names and some of
/// its values (so dictionaries and segment statistics mix), has values
/// beyond A's range, values only B has, and a protected path of another
/// type.
fn events(tenant: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..60i64 {
        let (price, device, user) = if tenant == "A" {
            (
                i as f64 * 1.5,
                ["mobile", "desktop"][(i % 2) as usize].to_string(),
                format!("u{}", i % 7),
            )
        } else {
            (
                1_000.0 + i as f64,
                ["mobile", "b-only-tv"][(i % 2) as usize].to_string(),
                format!("u{}", i % 11),
            )
        };
        let tenant_value: Value =
            if tenant == "B" && i % 5 == 0 { json!(7) } else { json!(tenant) };
        let shift = if tenant == "A" { 0 } else { 60 };
        let e = json!({
            "keen": {"timestamp": ts(i + shift)},
            "tenant": tenant_value,
            "user": {"id": user},
            "device": device,
            "price": price,
            "tags": [format!("t{}", i % 3)],
        });
        out.push(("purchases".to_string(), e.to_string()));
        if i % 3 == 0 {
            let v = json!({"keen": {"timestamp": ts(i + shift)}, "tenant": tenant_value, "user": {"id": user}});
            out.push(("visits".to_string(), v.to_string()));
        }
    }
    out
}

fn load(p: &Project, evs: &[(String, String)]) {
    for (c, e) in evs {
        p.record(c, e.as_bytes()).unwrap();
    }
}

const TENANT_A: &str = r#"{"property_name": "tenant", "operator": "eq", "property_value": "A"}"#;

/// `q` with the tenant filter written out on every path.
fn written_out(q: &Value) -> Value {
    let f: Value = serde_json::from_str(TENANT_A).unwrap();
    let mut q = q.clone();
    let push = |o: &mut Value| {
        let list = o.as_object_mut().unwrap().entry("filters").or_insert(json!([]));
        list.as_array_mut().unwrap().push(f.clone());
    };
    if let Some(steps) = q.get_mut("steps").and_then(Value::as_array_mut) {
        steps.iter_mut().for_each(push);
    } else {
        push(&mut q);
    }
    q
}

/// The oracle's answer as the key's would read: a funnel echoes its steps
/// as sent, and the key's filter is invisible there.
fn unwritten(mut v: Value) -> Value {
    let f: Value = serde_json::from_str(TENANT_A).unwrap();
    if let Some(steps) = v.get_mut("steps").and_then(Value::as_array_mut) {
        for s in steps {
            let list = s["filters"].as_array_mut().unwrap();
            assert_eq!(list.pop(), Some(f.clone()), "the written-out filter is echoed last");
        }
    }
    v
}

/// The answer with `keen.id` (random per engine) taken out of extractions.
fn comparable(mut v: Value) -> Value {
    if let Some(rows) = v.get_mut("result").and_then(Value::as_array_mut) {
        for r in rows {
            if let Some(k) = r.get_mut("keen").and_then(Value::as_object_mut) {
                k.remove("id");
            }
        }
    }
    v
}

fn queries() -> Vec<Value> {
    let tf = json!("this_30_days");
    let mut qs = vec![
        json!({"analysis_type": "count", "event_collection": "purchases"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "filters": [{"property_name": "tenant", "operator": "in", "property_value": ["A", "B"]}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "filters": [{"property_name": "tenant", "operator": "ne", "property_value": "A"}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "filters": [{"property_name": "tenant", "operator": "exists", "property_value": false}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "filters": [{"property_name": "tenant", "operator": "eq", "property_value": 7}]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_1_years"}),
        json!({"analysis_type": "count_unique", "event_collection": "purchases", "target_property": "user.id"}),
        json!({"analysis_type": "select_unique", "event_collection": "purchases", "target_property": "device"}),
        json!({"analysis_type": "select_unique", "event_collection": "purchases", "target_property": "user.id"}),
        json!({"analysis_type": "minimum", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "maximum", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "average", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "median", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "percentile", "percentile": 90, "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "standard_deviation", "event_collection": "purchases", "target_property": "price"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "group_by": "device"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "group_by": "tenant"}),
        json!({"analysis_type": "count", "event_collection": "purchases", "group_by": "tags"}),
        json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price", "group_by": ["device", "user.id"]}),
        json!({"analysis_type": "count", "event_collection": "purchases", "interval": "daily"}),
        json!({"analysis_type": "count_unique", "event_collection": "purchases", "target_property": "user.id", "interval": "daily", "group_by": "device"}),
        json!({"analysis_type": "multi_analysis", "event_collection": "purchases", "group_by": "device",
               "analyses": {"n": {"analysis_type": "count"}, "top": {"analysis_type": "maximum", "target_property": "price"}}}),
        json!({"analysis_type": "funnel", "steps": [
            {"event_collection": "visits", "actor_property": "user.id"},
            {"event_collection": "purchases", "actor_property": "user.id"}]}),
        json!({"analysis_type": "funnel", "steps": [
            {"event_collection": "visits", "actor_property": "user.id", "with_actors": true},
            {"event_collection": "purchases", "actor_property": "user.id", "filters": [{"property_name": "price", "operator": "gt", "property_value": 10}]}]}),
        json!({"analysis_type": "extraction", "event_collection": "purchases", "latest": 5}),
        json!({"analysis_type": "extraction", "event_collection": "purchases", "property_names": ["price", "keen.timestamp"]}),
    ];
    for q in &mut qs {
        let o = q.as_object_mut().unwrap();
        if o.contains_key("steps") {
            o.insert("timeframe".into(), tf.clone());
        } else {
            o.entry("timeframe").or_insert(tf.clone());
        }
    }
    qs
}

#[test]
fn an_access_key_sees_exactly_what_master_sees_over_its_own_events() {
    let world_dir = tempfile::tempdir().unwrap();
    let oracle_dir = tempfile::tempdir().unwrap();
    let world = engine(world_dir.path()).create_project("w").unwrap().0;
    let oracle = engine(oracle_dir.path()).create_project("o").unwrap().0;
    let (a, b) = (events("A"), events("B"));
    // Interleave A and B in the world, so segments mix them.
    for (x, y) in a.iter().zip(&b) {
        load(&world, std::slice::from_ref(x));
        load(&world, std::slice::from_ref(y));
    }
    load(&oracle, &a);
    let key = world
        .create_access_key(&json!({
            "name": "tenant A", "permitted": ["queries"],
            "options": {"queries": {"filters": [serde_json::from_str::<Value>(TENANT_A).unwrap()]}}
        }))
        .unwrap();
    let kp = world.with_key(&ApiKey::from_text(key["key"].as_str().unwrap())).unwrap();
    let master = oracle.as_operator();
    for q in queries() {
        let got = kp.query_json(&q).map(|r| comparable(r.json().unwrap().into_owned()));
        let want = master
            .query_json(&written_out(&q))
            .map(|r| unwritten(comparable(r.json().unwrap().into_owned())));
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{q}"),
            (Err(g), Err(w)) => assert_eq!(g.to_json(), w.to_json(), "{q}"),
            (g, w) => panic!("{q}: {g:?} vs {w:?}"),
        }
    }
    // The world really holds B's events: master sees more.
    let all = world.as_operator().query_json(&queries()[0]).unwrap();
    assert_eq!(all.json().unwrap()["result"], 120);
}

fn stored(p: &Project, collection: &str) -> Vec<Value> {
    let q = json!({"analysis_type": "extraction", "event_collection": collection, "timeframe": "this_30_years"});
    let r = p.as_operator().query_json(&q).unwrap();
    let mut rows = r.json().unwrap()["result"].as_array().unwrap().clone();
    for r in &mut rows {
        r.as_object_mut().unwrap().remove("keen");
    }
    rows
}

#[test]
fn autofill_wins_on_every_write_path_and_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let p = engine(dir.path()).create_project("af").unwrap().0;
    let key = p
        .create_access_key(&json!({
            "name": "writer", "permitted": ["writes"],
            "options": {"writes": {"autofill": {"tenant": "A", "customer": {"id": "93", "name": "Ada"}}}}
        }))
        .unwrap();
    let kp = p.with_key(&ApiKey::from_text(key["key"].as_str().unwrap())).unwrap();

    // One event: nested, another type, a scalar where autofill has an object.
    kp.record("one", br#"{"tenant": "B", "customer": {"id": 77, "tier": "gold"}, "price": 5}"#)
        .unwrap();
    kp.record("one", br#"{"tenant": {"id": "B"}, "customer": "B"}"#).unwrap();
    kp.record("one", br#"{"x": 0.1}"#).unwrap();
    // Other spellings of the path are refused by the event rules, not merged.
    for (bad, code) in [
        (&br#"{"customer.id": "B"}"#[..], "InvalidPropertyNameError"),
        (br#"{"customer\u002eid": "B"}"#, "InvalidPropertyNameError"),
        (br#"{"tenant": "B", "tenant": "C"}"#, "InvalidEventError"),
        (br#"{"$tenant": "B"}"#, "InvalidPropertyNameError"),
    ] {
        let e = kp.record("one", bad).unwrap_err();
        assert_eq!(e.error_code(), code, "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(
        stored(&p, "one"),
        vec![
            json!({"tenant": "A", "customer": {"id": "93", "name": "Ada", "tier": "gold"}, "price": 5}),
            json!({"tenant": "A", "customer": {"id": "93", "name": "Ada"}}),
            json!({"x": 0.1, "tenant": "A", "customer": {"id": "93", "name": "Ada"}}),
        ]
    );

    // A batch: each event merged, bad ones refused individually.
    let resp = kp
        .record_batch(br#"{"batch": [{"tenant": "B", "n": 1}, {"customer.id": "B"}, {"customer": {"id": ["B"]}, "n": 2}]}"#)
        .unwrap();
    let resp = serde_json::to_value(&resp).unwrap();
    assert_eq!(resp["batch"][0]["success"], true);
    assert_eq!(resp["batch"][1]["error"]["name"], "InvalidPropertyNameError");
    assert_eq!(resp["batch"][2]["success"], true);
    let rows = stored(&p, "batch");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["tenant"] == "A" && r["customer"]["id"] == "93"), "{rows:?}");

    // NDJSON, wrapped and bare.
    let lines = b"{\"nd\": {\"tenant\": \"B\", \"n\": 1}}\n{\"nd\": {\"tenant\": \"B\", \"tenant\": \"C\"}}\n{\"nd\": {\"customer\": {\"id\": 5}}}\n";
    let s = kp.ingest_ndjson(&lines[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((s.accepted, s.rejected), (2, 1));
    assert_eq!(s.errors[0].line, 2);
    let opts = NdjsonOptions { collection: Some("bare".into()), ..Default::default() };
    let s = kp.ingest_ndjson(&b"{\"tenant\": 9}\n{\"n\": 3}\n"[..], &opts, &mut |_| {}).unwrap();
    assert_eq!((s.accepted, s.rejected), (2, 0));
    for c in ["nd", "bare"] {
        let rows = stored(&p, c);
        assert_eq!(rows.len(), 2, "{c}");
        assert!(
            rows.iter().all(|r| r["tenant"] == "A" && r["customer"]["id"] == "93"),
            "{c}: {rows:?}"
        );
    }
    // The merged events are what is durable: a reopen replays them.
    let id = kp.id().to_string();
    drop((p, kp));
    let p = engine(dir.path()).project(&id).unwrap();
    assert!(stored(&p, "nd").iter().all(|r| r["tenant"] == "A"));

    // Numbers the autofill does not touch are stored exactly as a plain
    // write stores them (these re-print to a different f64 when parsed,
    // printed and parsed again).
    let kp = p.with_key(&ApiKey::from_text(key["key"].as_str().unwrap())).unwrap();
    for x in ["4.4634191159422004e-26", "4.6792513172326403e-14", "2.5827064687847778e-31"] {
        let e = format!(r#"{{"x": {x}}}"#);
        kp.record("exact", e.as_bytes()).unwrap();
        p.record("exact_plain", e.as_bytes()).unwrap();
    }
    let xs = |c: &str| -> Vec<u64> {
        stored(&p, c).iter().map(|r| r["x"].as_f64().unwrap().to_bits()).collect()
    };
    assert_eq!(xs("exact"), xs("exact_plain"));

    // The master key's own writes are not autofilled.
    p.record("plain", br#"{"tenant": "B"}"#).unwrap();
    assert_eq!(stored(&p, "plain"), vec![json!({"tenant": "B"})]);
}
