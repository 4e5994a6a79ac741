//! Frozen sample of the project resources added after the v1 data
//! directory: `testdata/compat/v1-resources/datadir` was written once by
//! this version and is never regenerated. It holds `saved_queries.json`,
//! `datasets.json`, `organization.json` with a project's `users` in
//! `project.json`, and a collection after deletes: deletion-vector files
//! (`seg-<id>-<gen>.del`), a manifest whose schema has dropped columns and
//! a segment rewritten without the deleted property. Every later version
//! must open a copy of it and give the same answers.
//!
//! To create it (only when it is missing):
//! `TALLY_MAKE_COMPAT=1 cargo test -p tally --test compat_v1_resources -- --ignored`.
//! The keys shown once at creation are kept in `keys.json` next to it.

#[path = "support/fs.rs"]
mod fs_util;

use std::path::{Path, PathBuf};

use fs_util::*;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tally::{ApiKey, Engine, FixedClock, Project};

/// 2024-06-12T14:35:20.123Z.
const NOW: i64 = 1_718_202_920_123;
const HOUR: i64 = 3_600_000;
/// `c-` + the hex of the collection name (the project's directory naming).
const PURCHASES_DIR: &str = "c-707572636861736573";
const PAGEVIEWS_DIR: &str = "c-706167657669657773";
const SIGNUPS_DIR: &str = "c-7369676e757073";

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compat/v1-resources")
}

/// CRC-32C (Castagnoli), bit by bit: the checksum of the frozen layouts.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

fn ts(i: i64) -> String {
    tally_ingest::format_datetime(NOW - i * HOUR)
}

/// Purchase `i`: one an hour back from now; tenant A, B, C by `i % 3`;
/// `price` = i. With `secret`, also the property the sample deletes, in
/// three typed columns (`secret.token` string, `secret.level` number and
/// string).
fn purchase(i: i64, secret: bool) -> Vec<u8> {
    let tenant = ["A", "B", "C"][(i % 3) as usize];
    let mut e = json!({
        "keen": {"timestamp": ts(i)},
        "tenant": tenant,
        "price": i,
        "item": {"name": if i % 2 == 0 { "widget" } else { "gadget" }},
    });
    if secret {
        let level = if i % 10 == 9 { json!("high") } else { json!(i % 4) };
        e["secret"] = json!({"token": format!("s{i}"), "level": level});
    }
    e.to_string().into_bytes()
}

fn saved_revenue() -> Value {
    json!({"query": {"analysis_type": "sum", "event_collection": "purchases",
                     "target_property": "price", "timeframe": "this_7_days"},
           "metadata": {"display_name": "Revenue"}})
}

fn saved_tenants_daily() -> Value {
    json!({"query": {"analysis_type": "count", "event_collection": "purchases",
                     "timeframe": "this_3_days", "timezone": "UTC", "interval": "daily",
                     "group_by": "tenant"},
           "refresh_rate": 3_600,
           "metadata": {"display_name": "Purchases a day by tenant", "visualization": {"chart_type": "bar"}}})
}

fn saved_mix() -> Value {
    json!({"query": {"analysis_type": "multi_analysis", "event_collection": "purchases",
                     "timeframe": "this_7_days",
                     "analyses": {"n": {"analysis_type": "count"},
                                  "top": {"analysis_type": "maximum", "target_property": "price"}}}})
}

fn dataset_def() -> Value {
    json!({"display_name": "Revenue a day by tenant",
           "query": {"analysis_type": "sum", "event_collection": "purchases",
                     "target_property": "price", "timeframe": "this_3_days",
                     "timezone": "UTC", "interval": "daily"},
           "index_by": "tenant"})
}

fn users() -> Value {
    json!([{"email": "ada@example.com"}, {"email": "grace@example.com", "role": "admin"}])
}

#[test]
#[ignore = "writes the frozen v1-resources sample; run once with TALLY_MAKE_COMPAT=1"]
fn make_compat_v1_resources() {
    let dir = compat_dir().join("datadir");
    if !fs_util::may_write_frozen(&dir, "v1-resources") {
        return;
    }
    let keys_path = compat_dir().join("keys.json");
    assert!(!keys_path.exists(), "the v1-resources keys are frozen");
    {
        let e =
            Engine::builder().with_data_dir(&dir).with_clock(FixedClock::at(NOW)).open().unwrap();
        let (p, keys) = e.create_project_with_id("compat", "compat").unwrap();
        // purchases: segment 1 holds `secret`, segment 2 does not.
        for i in 0..30 {
            p.record("purchases", &purchase(i, true)).unwrap();
        }
        p.flush().unwrap();
        for i in 30..40 {
            p.record("purchases", &purchase(i, false)).unwrap();
        }
        p.flush().unwrap();
        // Segment 1 is written again (a new id) without secret.*.
        p.delete_property("purchases", "secret").unwrap();
        // Tenant C leaves both sealed segments through deletion vectors.
        let filters = json!([{"property_name": "tenant", "operator": "eq", "property_value": "C"}]);
        assert_eq!(p.delete_events("purchases", &json!({"filters": filters})).unwrap(), 13);
        // Two events after the deletes, left in the WAL only (one of tenant C).
        for i in 40..42 {
            p.record("purchases", &purchase(i, false)).unwrap();
        }
        // pageviews: deletes in the other order. Page /p0 (i = 0, 3) is
        // deleted from segment 1, then property `ref` is: segment 1 is
        // written again as segment 2, its deletion vector as generation 0.
        for i in 0..6i64 {
            let ev = json!({"keen": {"timestamp": ts(i)}, "page": format!("/p{}", i % 3),
                            "ms": i * 10, "ref": {"src": "ad"}});
            p.record("pageviews", ev.to_string().as_bytes()).unwrap();
        }
        p.collection("pageviews").unwrap().flush().unwrap();
        let filters = json!([{"property_name": "page", "operator": "eq", "property_value": "/p0"}]);
        assert_eq!(p.delete_events("pageviews", &json!({"filters": filters})).unwrap(), 2);
        p.delete_property("pageviews", "ref").unwrap();
        // signups: written (sealed and in the WAL), then deleted.
        for i in 0..4i64 {
            let ev = json!({"keen": {"timestamp": ts(i)}, "plan": "free"});
            p.record("signups", ev.to_string().as_bytes()).unwrap();
            if i == 1 {
                p.collection("signups").unwrap().flush().unwrap();
            }
        }
        assert_eq!(p.delete_collection("signups").unwrap(), 4);
        // Saved queries (one cached) and a dataset.
        p.put_saved_query("revenue", &saved_revenue()).unwrap();
        p.put_saved_query("tenants-daily", &saved_tenants_daily()).unwrap();
        p.put_saved_query("mix", &saved_mix()).unwrap();
        p.put_dataset("tenant-revenue", &dataset_def()).unwrap();
        // The organization, and the project's users set with its key.
        let (org_id, org_key) = e.create_organization().unwrap();
        let org = e.organization(&org_key).unwrap();
        org.update_project("compat", &json!({"users": users()})).unwrap();
        let keys_json = json!({
            "organization_id": org_id,
            "organization_key": org_key.expose(),
            "project": {"id": "compat", "master": keys.master.expose(),
                        "write": keys.write.expose(), "read": keys.read.expose()},
        });
        let text = serde_json::to_string_pretty(&keys_json).unwrap() + "\n";
        std::fs::write(&keys_path, text).unwrap();
    }
    // The lock file is the running engine's, not part of the format.
    std::fs::remove_file(dir.join(tally::LOCK_FILE)).unwrap();
}

struct Keys {
    org_id: String,
    org: ApiKey,
    master: ApiKey,
    read: ApiKey,
    write: ApiKey,
}

fn keys() -> Keys {
    let text = std::fs::read_to_string(compat_dir().join("keys.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let key = |k: &Value| ApiKey::from_text(k.as_str().unwrap());
    Keys {
        org_id: v["organization_id"].as_str().unwrap().to_string(),
        org: key(&v["organization_key"]),
        master: key(&v["project"]["master"]),
        read: key(&v["project"]["read"]),
        write: key(&v["project"]["write"]),
    }
}

/// A copy of the frozen data directory, opened at `NOW`.
fn open_copy() -> (tempfile::TempDir, Engine, Project) {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&compat_dir().join("datadir"), tmp.path());
    let (e, p) = reopen(tmp.path());
    (tmp, e, p)
}

fn reopen(dir: &Path) -> (Engine, Project) {
    let e = Engine::builder().with_data_dir(dir).with_clock(FixedClock::at(NOW)).open().unwrap();
    let p = e.project("compat").unwrap();
    (e, p)
}

fn result(p: &Project, q: Value) -> Value {
    p.query_json(&q).unwrap().into_json().unwrap()["result"].clone()
}

fn purchases(analysis: &str, extra: Value) -> Value {
    let mut q = json!({"analysis_type": analysis, "event_collection": "purchases",
                       "timeframe": "this_7_days"});
    for (k, v) in extra.as_object().unwrap() {
        q[k] = v.clone();
    }
    q
}

fn exists(path: &str) -> Value {
    json!({"filters": [{"property_name": path, "operator": "exists", "property_value": true}]})
}

#[test]
fn deletes_hold_after_reopen_events_property_and_collection() {
    let (tmp, _e, p) = open_copy();
    assert_eq!(p.collection_names(), ["pageviews", "purchases"]);
    // The deleted collection is gone: no handle, no schema, no directory.
    assert!(p.collection("signups").is_none());
    assert_eq!(p.collection_schema("signups").unwrap_err().error_code(), "ResourceNotFoundError");
    assert_eq!(p.delete_collection("signups").unwrap_err().error_code(), "ResourceNotFoundError");
    let q = json!({"analysis_type": "count", "event_collection": "signups", "timeframe": "this_7_days"});
    assert_eq!(result(&p, q.clone()), json!(0));
    let colls = tmp.path().join("projects/compat/collections");
    assert!(!colls.join(SIGNUPS_DIR).exists());
    // A new event under the name starts an empty collection again.
    p.record("signups", br#"{"plan": "pro"}"#).unwrap();
    assert_eq!(result(&p, q), json!(1));
    let props: Vec<String> =
        p.collection_schema("signups").unwrap().properties.into_keys().collect();
    assert_eq!(props, ["keen.created_at", "keen.id", "keen.timestamp", "plan"]);

    // purchases: 42 rows on disk, tenant C's 13 sealed rows deleted.
    let c = p.collection("purchases").unwrap();
    assert_eq!((c.sealed_segments(), c.head_rows()), (2, 2));
    let snap = p.snapshot("purchases").unwrap();
    assert_eq!((snap.rows(), snap.live_rows()), (42, 29));
    let deleted: Vec<u64> = snap.segments().iter().map(|s| s.deleted().len()).collect();
    assert_eq!(deleted, vec![10, 3, 0], "segment 3 (rewritten), segment 2, the WAL head");
    let ids: Vec<u64> = snap.segments()[..2].iter().map(|s| s.id()).collect();
    assert_eq!(ids, vec![3, 2], "segment 1 was rewritten as 3 by the property delete");

    assert_eq!(result(&p, purchases("count", json!({}))), json!(29));
    // 0..=39 minus tenant C (2, 5, ..., 38), plus the WAL's 40 and 41.
    assert_eq!(result(&p, purchases("sum", json!({"target_property": "price"}))), json!(601));
    assert_eq!(
        result(&p, purchases("count", json!({"group_by": "tenant"}))),
        json!([{"tenant": "A", "result": 14}, {"tenant": "B", "result": 14},
               {"tenant": "C", "result": 1}])
    );
    assert_eq!(
        result(&p, purchases("count", json!({"group_by": "item.name"}))),
        json!([{"item.name": "gadget", "result": 15}, {"item.name": "widget", "result": 14}])
    );

    // pageviews: /p0 (i = 0, 3) deleted, then `ref` from the rewritten segment.
    let snap = p.snapshot("pageviews").unwrap();
    let segs: Vec<(u64, usize, u64)> =
        snap.segments().iter().map(|s| (s.id(), s.len(), s.deleted().len())).collect();
    assert_eq!(segs, vec![(2, 6, 2)], "segment 1 rewritten as 2, its deletes kept");
    let views = |analysis: &str, extra: Value| {
        let mut q = json!({"analysis_type": analysis, "event_collection": "pageviews",
                           "timeframe": "this_7_days"});
        for (k, v) in extra.as_object().unwrap() {
            q[k] = v.clone();
        }
        result(&p, q)
    };
    assert_eq!(views("sum", json!({"target_property": "ms"})), json!(120));
    assert_eq!(
        views("count", json!({"group_by": "page"})),
        json!([{"page": "/p1", "result": 2}, {"page": "/p2", "result": 2}])
    );
    assert_eq!(views("count", exists("ref.src")), json!(0));
    let props: Vec<String> =
        p.collection_schema("pageviews").unwrap().properties.into_keys().collect();
    assert_eq!(props, ["keen.created_at", "keen.id", "keen.timestamp", "ms", "page"]);
    let rows = views("extraction", json!({}));
    assert_eq!(rows.as_array().unwrap().len(), 4);
    assert!(rows.as_array().unwrap().iter().all(|r| r.get("ref").is_none() && r["page"] != "/p0"));

    // The deleted property: not in the schema, in no filter, in no extraction.
    let schema = p.collection_schema("purchases").unwrap();
    let props: Vec<(&str, &str)> =
        schema.properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        props,
        vec![
            ("item.name", "string"),
            ("keen.created_at", "datetime"),
            ("keen.id", "string"),
            ("keen.timestamp", "datetime"),
            ("price", "num"),
            ("tenant", "string"),
        ]
    );
    assert!(schema.property_types.is_empty());
    assert_eq!(
        p.property_schema("purchases", "secret.token").unwrap_err().error_code(),
        "ResourceNotFoundError"
    );
    for path in ["secret.token", "secret.level"] {
        assert_eq!(result(&p, purchases("count", exists(path))), json!(0), "{path}");
    }
    assert_eq!(
        p.delete_property("purchases", "secret").unwrap_err().error_code(),
        "ResourceNotFoundError"
    );
    let rows = result(&p, purchases("extraction", json!({})));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 29);
    assert!(rows.iter().all(|r| r.get("secret").is_none()), "{rows:?}");
    let mut prices: Vec<i64> = rows.iter().map(|r| r["price"].as_i64().unwrap()).collect();
    prices.sort();
    let expected: Vec<i64> = (0..42).filter(|i| i % 3 != 2 || *i == 41).collect();
    assert_eq!(prices, expected);
    assert!(rows.iter().all(|r| r["keen"]["created_at"] == "2024-06-12T14:35:20.123Z"));

    // A new event with the deleted property's name starts new columns.
    p.record("purchases", br#"{"tenant": "A", "price": 7, "secret": {"token": "again"}}"#).unwrap();
    let check = |p: &Project| {
        assert_eq!(result(p, purchases("count", exists("secret.token"))), json!(1));
        assert_eq!(result(p, purchases("count", exists("secret.level"))), json!(0));
        let x = result(p, purchases("extraction", exists("secret.token")));
        assert_eq!(x.as_array().unwrap().len(), 1);
        assert_eq!(x[0]["secret"], json!({"token": "again"}));
        let schema = p.collection_schema("purchases").unwrap();
        assert_eq!(schema.properties.get("secret.token").map(String::as_str), Some("string"));
        assert!(!schema.properties.contains_key("secret.level"));
        assert_eq!(result(p, purchases("count", json!({}))), json!(30));
    };
    check(&p);
    drop((_e, p, c));
    let (_e, p) = reopen(tmp.path());
    check(&p);
    p.flush().unwrap();
    check(&p);
}

fn saved_expected() -> Value {
    let date = "2024-06-12T14:35:20.123Z";
    json!([
        {"query_name": "mix", "refresh_rate": 0,
         "query": {"analysis_type": "multi_analysis", "event_collection": "purchases",
                   "timeframe": "this_7_days",
                   "analyses": {"n": {"analysis_type": "count"},
                                "top": {"analysis_type": "maximum", "target_property": "price"}},
                   "timezone": null, "interval": null, "group_by": null, "order_by": null,
                   "limit": null, "filters": null},
         "metadata": null, "created_date": date, "last_modified_date": date,
         "user_last_modified_date": date, "run_information": null},
        {"query_name": "revenue", "refresh_rate": 0,
         "query": {"analysis_type": "sum", "event_collection": "purchases",
                   "target_property": "price", "timeframe": "this_7_days",
                   "timezone": null, "interval": null, "group_by": null, "percentile": null,
                   "order_by": null, "limit": null, "filters": null},
         "metadata": {"display_name": "Revenue"}, "created_date": date,
         "last_modified_date": date, "user_last_modified_date": date, "run_information": null},
        {"query_name": "tenants-daily", "refresh_rate": 3600,
         "query": {"analysis_type": "count", "event_collection": "purchases",
                   "timeframe": "this_3_days", "timezone": "UTC", "interval": "daily",
                   "group_by": "tenant", "target_property": null, "percentile": null,
                   "order_by": null, "limit": null, "filters": null},
         "metadata": {"display_name": "Purchases a day by tenant",
                      "visualization": {"chart_type": "bar"}},
         "created_date": date, "last_modified_date": date, "user_last_modified_date": date,
         "run_information": null},
    ])
}

#[test]
fn saved_queries_read_back_exactly_and_answer() {
    let (_tmp, _e, p) = open_copy();
    let expected = saved_expected();
    assert_eq!(Value::Array(p.saved_query_list()), expected);
    assert_eq!(p.saved_query("revenue").unwrap(), expected[1]);
    assert_eq!(p.describe()["saved_queries"], json!(["mix", "revenue", "tenants-daily"]));

    let r = p.saved_query_result("revenue").unwrap();
    assert_eq!(r["result"], json!(601));
    assert_eq!(r["run_information"], Value::Null);
    let r = p.saved_query_result("mix").unwrap();
    assert_eq!(r["result"], json!({"n": 29, "top": 41}));

    // The cached one: computed on the first request after the open.
    let r = p.saved_query_result("tenants-daily").unwrap();
    let day = |d: &str, e: &str, a: i64, b: i64, c: i64| {
        json!({"timeframe": {"start": d, "end": e},
               "value": [{"tenant": "A", "result": a}, {"tenant": "B", "result": b},
                         {"tenant": "C", "result": c}]})
    };
    // Hours back: June 12 holds i = 0..=14, June 11 i = 15..=38, June 10
    // i = 39..=41 (C only 41: the deleted ones are gone).
    let per_day = json!([
        day("2024-06-10T00:00:00.000Z", "2024-06-11T00:00:00.000Z", 1, 1, 1),
        day("2024-06-11T00:00:00.000Z", "2024-06-12T00:00:00.000Z", 8, 8, 0),
        day("2024-06-12T00:00:00.000Z", "2024-06-13T00:00:00.000Z", 5, 5, 0),
    ]);
    assert_eq!(r["result"], per_day);
    assert_eq!(
        r["run_information"],
        json!({"last_run_date": "2024-06-12T14:35:20.123Z",
               "next_run_date": "2024-06-12T15:35:20.123Z"})
    );
    assert_eq!(p.saved_query("tenants-daily").unwrap()["run_information"], r["run_information"]);

    // The master key from creation still runs them; the read key runs, not edits.
    let k = keys();
    let master = p.with_key(&k.master).unwrap();
    assert_eq!(master.saved_query_result("revenue").unwrap()["result"], json!(601));
    let read = p.with_key(&k.read).unwrap();
    assert_eq!(read.saved_query_result("revenue").unwrap()["result"], json!(601));
    assert_eq!(
        read.put_saved_query("x", &saved_revenue()).unwrap_err().error_code(),
        "AdminOnlyEndpointError"
    );
}

#[test]
fn the_dataset_reads_back_exactly_and_answers() {
    let (_tmp, _e, p) = open_copy();
    let expected = json!({
        "project_id": "compat",
        "dataset_name": "tenant-revenue",
        "display_name": "Revenue a day by tenant",
        "query": {"analysis_type": "sum", "event_collection": "purchases",
                  "target_property": "price", "timeframe": "this_3_days",
                  "timezone": "UTC", "interval": "daily", "project_id": "compat"},
        "index_by": ["tenant"],
        "last_scheduled_date": "2024-06-12T14:35:20.123Z",
        "latest_subtimeframe_available": "2024-06-13T00:00:00.000Z",
        "milliseconds_behind": 0,
    });
    assert_eq!(p.dataset("tenant-revenue").unwrap(), expected);
    assert_eq!(
        p.datasets(None, None).unwrap(),
        json!({"datasets": [expected], "next_page_url": null, "count": 1})
    );
    let bucket =
        |d: &str, e: &str, v: i64| json!({"timeframe": {"start": d, "end": e}, "value": v});
    // Tenant A: i = 0, 3, .., 12 on June 12; 15, .., 36 on June 11; 39 on June 10.
    let a = p.dataset_results("tenant-revenue", &json!("A"), &json!("this_3_days")).unwrap();
    assert_eq!(a["metadata"]["dataset"], expected);
    assert_eq!(
        a["metadata"]["request"],
        json!({"index_by": {"tenant": "A"}, "timeframe": "this_3_days"})
    );
    assert_eq!(
        a["result"],
        json!([
            bucket("2024-06-10T00:00:00.000Z", "2024-06-11T00:00:00.000Z", 39),
            bucket("2024-06-11T00:00:00.000Z", "2024-06-12T00:00:00.000Z", 204),
            bucket("2024-06-12T00:00:00.000Z", "2024-06-13T00:00:00.000Z", 30),
        ])
    );
    // Tenant C: only the event written after the delete (41, June 10).
    assert_eq!(
        p.dataset_results("tenant-revenue", &json!({"tenant": "C"}), &json!("this_2_days"))
            .unwrap()["result"],
        json!([
            bucket("2024-06-11T00:00:00.000Z", "2024-06-12T00:00:00.000Z", 0),
            bucket("2024-06-12T00:00:00.000Z", "2024-06-13T00:00:00.000Z", 0),
        ])
    );
}

#[test]
fn the_organization_and_the_projects_users_read_back() {
    let (_tmp, e, p) = open_copy();
    let k = keys();
    assert_eq!(e.organization_id().as_deref(), Some(k.org_id.as_str()));
    assert_eq!(k.org_id.len(), 24);
    let org = e.organization(&k.org).unwrap();
    assert_eq!(org.id().unwrap().as_deref(), Some(k.org_id.as_str()));
    let project = json!({
        "id": "compat", "name": "compat", "url": "/3.0/projects/compat",
        "events_url": "/3.0/projects/compat/events",
        "queries_url": "/3.0/projects/compat/queries",
        "events": [{"url": "/3.0/projects/compat/events/pageviews", "name": "pageviews"},
                   {"url": "/3.0/projects/compat/events/purchases", "name": "purchases"}],
        "saved_queries": ["mix", "revenue", "tenants-daily"],
        "users": users(),
    });
    assert_eq!(org.projects().unwrap(), vec![project.clone()]);
    assert_eq!(org.project("compat").unwrap(), project);
    assert_eq!(Value::Array(p.users()), users());
    // No project key opens the organization; the organization key still
    // updates the project.
    for key in [&k.master, &k.read, &k.write] {
        assert_eq!(e.organization(key).unwrap_err().error_code(), "InvalidApiKeyError");
    }
    let up = org.update_project("compat", &json!({"name": "renamed"})).unwrap();
    assert_eq!((up["name"].clone(), up["users"].clone()), (json!("renamed"), users()));
    // The project's keys from creation work as their kinds.
    assert!(p.with_key(&k.master).unwrap().describe().is_ok());
    let write = p.with_key(&k.write).unwrap();
    write.record("purchases", br#"{"tenant": "B", "price": 1}"#).unwrap();
    assert_eq!(
        write.query_json(&purchases("count", json!({}))).unwrap_err().error_code(),
        "InvalidApiKeyError"
    );
    let read = p.with_key(&k.read).unwrap();
    assert_eq!(
        read.query_json(&purchases("count", json!({}))).unwrap().into_json().unwrap()["result"],
        json!(30)
    );
    assert_eq!(
        read.delete_collection("purchases").unwrap_err().error_code(),
        "AdminOnlyEndpointError"
    );
    assert!(p.collection("purchases").is_some());
}

#[test]
fn the_frozen_files_keep_their_bytes() {
    let root = compat_dir().join("datadir");
    let k = keys();
    let files = files_under(&root);
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(total < 200_000, "the sample is {total} bytes");
    assert!(!root.join(tally::LOCK_FILE).exists(), "the lock file is not part of the sample");
    assert!(files.iter().all(|f| !f.to_string_lossy().contains(".deleted-")));
    let project = root.join("projects/compat");
    let colls: Vec<String> = std::fs::read_dir(project.join("collections"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!colls.contains(&SIGNUPS_DIR.to_string()), "{colls:?}");
    assert_eq!(colls.len(), 2, "{colls:?}");

    // Deletion vectors: "TLYDEL01", version 1, the segment id and the
    // generation of the name, a roaring bitmap, a crc32c. Generation 5: the
    // event delete on purchases; generation 0: the pageviews segment
    // rewritten (property delete) with its deletion vector.
    let coll = |f: &Path| f.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    let name = |f: &Path| f.file_name().unwrap().to_string_lossy().into_owned();
    let dels: Vec<(String, String)> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "del"))
        .map(|f| (coll(f), name(f)))
        .collect();
    assert_eq!(
        dels,
        [
            (PAGEVIEWS_DIR, "seg-0000000000000002-0000000000000000.del"),
            (PURCHASES_DIR, "seg-0000000000000002-0000000000000005.del"),
            (PURCHASES_DIR, "seg-0000000000000003-0000000000000005.del"),
        ]
        .map(|(c, n)| (c.to_string(), n.to_string()))
    );
    for (c, n) in &dels {
        let b = std::fs::read(project.join("collections").join(c).join(n)).unwrap();
        assert_eq!(&b[0..8], b"TLYDEL01", "{n}");
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 1, "{n}");
        let seg = u64::from_le_bytes(b[12..20].try_into().unwrap());
        let gen = u64::from_le_bytes(b[20..28].try_into().unwrap());
        assert_eq!(*n, format!("seg-{seg:016x}-{gen:016x}.del"));
        let len = u32::from_le_bytes(b[28..32].try_into().unwrap()) as usize;
        assert_eq!(b.len(), 32 + len + 4, "{n}");
        let crc = u32::from_le_bytes(b[b.len() - 4..].try_into().unwrap());
        assert_eq!(crc, crc32c(&b[..b.len() - 4]), "{n}");
        // Roaring's portable format: cookie 12346, or 12347 with runs.
        let cookie = u32::from_le_bytes(b[32..36].try_into().unwrap());
        assert!(cookie == 12_346 || cookie & 0xffff == 12_347, "{n}: cookie {cookie}");
    }
    assert_eq!(tally_ingest::DEL_MAGIC, b"TLYDEL01");

    // The manifests: the dropped columns kept by path and type, flagged.
    let manifest = |dir: &str| {
        let path = project.join("collections").join(dir).join("MANIFEST");
        let m = std::fs::read(&path).unwrap();
        assert_eq!(&m[0..8], b"TLYMANI1");
        assert_eq!(u32::from_le_bytes(m[8..12].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(m[12..16].try_into().unwrap()) as usize, m.len() - 20);
        assert_eq!(u32::from_le_bytes(m[16..20].try_into().unwrap()), crc32c(&m[20..]));
        // Every file it names is there, with the bytes and crc32c it records.
        let decoded = tally_ingest::Manifest::decode(&m, &path).unwrap();
        for seg in &decoded.segments {
            for f in
                [Some(&seg.parquet), Some(&seg.index), seg.deletes.as_ref()].into_iter().flatten()
            {
                let b = std::fs::read(path.with_file_name(&f.name)).unwrap();
                assert_eq!((b.len() as u64, crc32c(&b)), (f.bytes, f.crc32c), "{}", f.name);
            }
        }
        String::from_utf8(m[20..].to_vec()).unwrap()
    };
    for (dir, cols) in [
        (
            PURCHASES_DIR,
            &[
                r#"{"path":"secret.token","type":"string","#,
                r#"{"path":"secret.level","type":"num","#,
                r#"{"path":"secret.level","type":"string","#,
            ][..],
        ),
        (PAGEVIEWS_DIR, &[r#"{"path":"ref.src","type":"string","#][..]),
    ] {
        let text = manifest(dir);
        assert_eq!(text.matches(r#""dropped":true"#).count(), cols.len(), "{text}");
        for col in cols {
            let at = text.find(col).unwrap_or_else(|| panic!("{col} in {text}"));
            let end = at + text[at..].find('}').unwrap();
            assert!(text[at..end].ends_with(r#""dropped":true"#), "{}", &text[at..=end]);
        }
    }
    // Segment 1 of each collection was rewritten: no file of it is left.
    let seg_files: Vec<(String, String)> = files
        .iter()
        .filter(|f| name(f).starts_with("seg-") && !name(f).ends_with(".del"))
        .map(|f| (coll(f), name(f)))
        .collect();
    assert_eq!(
        seg_files,
        [
            (PAGEVIEWS_DIR, "seg-0000000000000002.idx"),
            (PAGEVIEWS_DIR, "seg-0000000000000002.parquet"),
            (PURCHASES_DIR, "seg-0000000000000002.idx"),
            (PURCHASES_DIR, "seg-0000000000000002.parquet"),
            (PURCHASES_DIR, "seg-0000000000000003.idx"),
            (PURCHASES_DIR, "seg-0000000000000003.parquet"),
        ]
        .map(|(c, n)| (c.to_string(), n.to_string()))
    );

    // The JSON resource files, member for member.
    let read_json =
        |p: PathBuf| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let org = read_json(root.join(tally::ORGANIZATION_FILE));
    let digest = hex::encode(Sha256::digest(k.org.expose().as_bytes()));
    assert_eq!(org, json!({"format_version": 1, "id": k.org_id, "key": digest}));
    let pf = read_json(project.join("project.json"));
    assert_eq!(pf["format_version"], 1);
    assert_eq!(pf["users"], users());
    assert_eq!(pf["keys"]["master"], hex::encode(Sha256::digest(k.master.expose().as_bytes())));
    let saved = read_json(project.join(tally::SAVED_QUERIES_FILE));
    assert_eq!(saved["format_version"], 1);
    let stored: Vec<Value> = saved["queries"].as_array().unwrap().clone();
    let names: Vec<&str> = stored.iter().map(|q| q["query_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mix", "revenue", "tenants-daily"]);
    for (q, want) in stored.iter().zip(saved_expected().as_array().unwrap()) {
        assert_eq!(
            json!([
                q["refresh_rate"],
                q["query"],
                q["metadata"],
                q["created_ms"],
                q["modified_ms"]
            ]),
            json!([want["refresh_rate"], want["query"], want["metadata"], NOW, NOW])
        );
    }
    let sets = read_json(project.join(tally::DATASETS_FILE));
    assert_eq!(
        sets,
        json!({"format_version": 1, "datasets": [{
            "dataset_name": "tenant-revenue",
            "display_name": "Revenue a day by tenant",
            "query": dataset_def()["query"],
            "index_by": ["tenant"],
            "created_ms": NOW,
        }]})
    );
    for f in [tally::ORGANIZATION_FILE, tally::SAVED_QUERIES_FILE, tally::DATASETS_FILE] {
        let path = if f == tally::ORGANIZATION_FILE { root.join(f) } else { project.join(f) };
        let b = std::fs::read(&path).unwrap();
        assert!(b.starts_with(b"{\n  \"format_version\": 1,"), "{f}");
    }
}
