//! Every facade operation × every kind of key (RELIABILITY §6.5 item 16).
//!
//! `call` has one arm per [`Operation`] and no wildcard: an operation
//! added to the table without a row here fails to compile. Each arm calls
//! every `KeyedProject` entry point of that operation, and all of them
//! must agree.

use serde_json::{json, Value};
use tally::{ApiKey, Engine, Error, FixedClock, KeyedProject, NdjsonOptions, Operation, Project};

const NOW: i64 = 1_718_202_920_123;

struct World {
    _dir: tempfile::TempDir,
    project: Project,
    master: ApiKey,
    read: ApiKey,
    write: ApiKey,
    /// Every permission, with a query filter and an autofill.
    access_all: ApiKey,
    /// No permission at all.
    access_none: ApiKey,
    /// Every permission, revoked.
    revoked: ApiKey,
    /// A key the project never made.
    unknown: ApiKey,
    /// The selector of an access key the management calls work on.
    target: String,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (project, keys) = engine.create_project("entrypoints").unwrap();
    project.record("c", br#"{"tenant": "A", "n": 1}"#).unwrap();
    project.record("c", br#"{"tenant": "B", "n": 2}"#).unwrap();
    let key_of = |v: Value| ApiKey::from_text(v["key"].as_str().unwrap());
    let all = ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema"];
    let access_all = key_of(
        project
            .create_access_key(&json!({
                "name": "all", "permitted": all,
                "options": {
                    "writes": {"autofill": {"tenant": "A"}},
                    "queries": {"filters": [{"property_name": "tenant", "operator": "eq", "property_value": "A"}]}
                }
            }))
            .unwrap(),
    );
    let access_none =
        key_of(project.create_access_key(&json!({"name": "none", "permitted": []})).unwrap());
    let revoked =
        key_of(project.create_access_key(&json!({"name": "revoked", "permitted": all})).unwrap());
    project.revoke_access_key(revoked.expose()).unwrap();
    let target = key_of(project.create_access_key(&json!({"name": "target"})).unwrap());
    let count =
        json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_1_years"});
    project.put_saved_query("plain", &json!({"query": count})).unwrap();
    project.put_saved_query("cached", &json!({"query": count, "refresh_rate": 3600})).unwrap();
    let daily = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_7_days", "interval": "daily"});
    project.put_dataset("ds", &json!({"query": daily, "index_by": "tenant"})).unwrap();
    World {
        _dir: dir,
        project,
        master: keys.master,
        read: keys.read,
        write: keys.write,
        access_all,
        access_none,
        revoked,
        unknown: ApiKey::generate().unwrap(),
        target: target.expose().to_string(),
    }
}

/// `Ok(())`, or the error code, of a call.
fn code<T>(r: Result<T, Error>) -> Result<(), &'static str> {
    r.map(drop).map_err(|e| e.error_code())
}

/// Every entry point of `op` (`None` would mark an operation the facade
/// does not offer; there is none now).
fn call(w: &World, kp: &KeyedProject, op: Operation) -> Option<Vec<Result<(), &'static str>>> {
    use Operation::*;
    let count =
        json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_1_years"});
    Some(match op {
        RecordEvents => vec![
            code(kp.record("c", br#"{"tenant": "A"}"#)),
            code(kp.record_batch(br#"{"c": [{"tenant": "A"}]}"#)),
            code(kp.ingest_ndjson(
                &br#"{"c": {"tenant": "A"}}"#[..],
                &NdjsonOptions::default(),
                &mut |_| {},
            )),
            code(kp.flush()),
        ],
        Query => vec![
            code(kp.query_json(&count)),
            code(kp.query(&tally::parse_query(&count).unwrap())),
            code(kp.query_json_at(&count, NOW)),
        ],
        QueryListing => vec![code(kp.query_listing())],
        Schema => vec![
            code(kp.schema()),
            code(kp.collection_schema("c")),
            code(kp.property_schema("c", "tenant")),
        ],
        ProjectInfo => vec![code(kp.describe())],
        SavedQueryAdmin => vec![
            code(kp.saved_query_list()),
            code(kp.saved_query("plain")),
            match kp.put_saved_query("tmp", &json!({"query": count})) {
                Ok(_) => code(kp.delete_saved_query("tmp")),
                Err(e) => Err(e.error_code()),
            },
        ],
        SavedQueryResult => vec![code(kp.saved_query_result("plain"))],
        CachedQueryResult => vec![code(kp.saved_query_result("cached"))],
        ManageAccessKeys => vec![
            code(kp.access_keys()),
            code(kp.access_key(&w.target)),
            code(kp.update_access_key(&w.target, &json!({"name": "target"}))),
            code(kp.revoke_access_key(&w.target)),
            code(kp.unrevoke_access_key(&w.target)),
            // Create and delete its own key, so the world stays the same.
            match kp.create_access_key(&json!({"name": "tmp"})) {
                Ok(v) => code(kp.delete_access_key(v["key"].as_str().unwrap())),
                Err(e) => Err(e.error_code()),
            },
        ],
        DatasetRead => vec![code(kp.dataset("ds"))],
        DatasetList => vec![code(kp.datasets(None, None))],
        DatasetRetrieve => vec![code(kp.dataset_results("ds", &json!("A"), &json!("this_7_days")))],
        DatasetAdmin => vec![match kp.put_dataset("tmp", &json!({"query": {"analysis_type": "count",
                "event_collection": "c", "timeframe": "this_7_days", "interval": "daily"}, "index_by": "tenant"})) {
            Ok(_) => code(kp.delete_dataset("tmp")),
            Err(e) => Err(e.error_code()),
        }],
        DeleteEvents => {
            // A scratch collection, written by the trusted handle, so the
            // world of the other rows stays the same.
            w.project.record("scratch", br#"{"p": 1, "q": 2}"#).unwrap();
            let p_is_1 = json!({"filters": [{"property_name": "q", "operator": "eq", "property_value": 2}]});
            vec![
                code(kp.delete_property("scratch", "p")),
                code(kp.delete_events("scratch", &p_is_1)),
                code(kp.delete_events_at("scratch", &json!({"timeframe": "this_1_years"}), NOW)),
                code(kp.delete_collection("scratch")),
            ]
        }
    })
}

const OK: Result<(), &str> = Ok(());
const INVALID: Result<(), &str> = Err("InvalidApiKeyError");
const ADMIN: Result<(), &str> = Err("AdminOnlyEndpointError");

/// keen-semantics §8.2, per kind: master, read, write, access with the
/// permission (and filters), access without it.
fn expected(op: Operation) -> [Result<(), &'static str>; 5] {
    use Operation::*;
    match op {
        RecordEvents => [OK, INVALID, OK, OK, INVALID],
        Query | QueryListing | Schema | SavedQueryResult | CachedQueryResult | DatasetRead
        | DatasetList | DatasetRetrieve => [OK, OK, INVALID, OK, INVALID],
        SavedQueryAdmin | DatasetAdmin | DeleteEvents | ManageAccessKeys | ProjectInfo => {
            [OK, ADMIN, ADMIN, ADMIN, ADMIN]
        }
    }
}

#[test]
fn every_operation_answers_every_key_kind_per_the_table() {
    let w = world();
    let keyed = |k: &ApiKey| w.project.with_key(k).unwrap();
    let kinds = [
        keyed(&w.master),
        keyed(&w.read),
        keyed(&w.write),
        keyed(&w.access_all),
        keyed(&w.access_none),
    ];
    let mut rows = 0;
    for op in Operation::ALL {
        let want = expected(op);
        for (kp, want) in kinds.iter().zip(want) {
            let Some(got) = call(&w, kp, op) else { continue };
            rows += 1;
            for (i, g) in got.iter().enumerate() {
                assert_eq!(*g, want, "{op:?}, entry point {i}, as {kp:?}");
            }
        }
    }
    assert_eq!(rows, Operation::ALL.len() * 5, "every operation has facade entry points");
    // The trusted operator handle is the master key.
    let op = w.project.as_operator();
    for o in Operation::ALL {
        if let Some(got) = call(&w, &op, o) {
            assert!(got.iter().all(|g| g.is_ok()), "{o:?}: {got:?}");
        }
    }
}

#[test]
fn unknown_and_revoked_keys_are_refused_identically_everywhere() {
    let w = world();
    let unknown = w.project.with_key(&w.unknown).unwrap_err();
    let revoked = w.project.with_key(&w.revoked).unwrap_err();
    let malformed = w.project.with_key(&ApiKey::from_text("not a key")).unwrap_err();
    assert_eq!(unknown.to_json(), revoked.to_json());
    assert_eq!(unknown.to_json(), malformed.to_json());
    assert_eq!(unknown.to_string(), revoked.to_string());
    assert_eq!(unknown.error_code(), "InvalidApiKeyError");

    // A key revoked after its handle was made is refused from the next
    // call on, on every operation, master-only ones included.
    let kp = w.project.with_key(&w.access_all).unwrap();
    assert!(call(&w, &kp, Operation::Query).unwrap().iter().all(|r| r.is_ok()));
    w.project.revoke_access_key(w.access_all.expose()).unwrap();
    for op in Operation::ALL {
        if let Some(got) = call(&w, &kp, op) {
            assert!(got.iter().all(|g| *g == INVALID), "{op:?}: {got:?}");
        }
    }
    // Unrevoked, it works again; deleted, it is unknown.
    w.project.unrevoke_access_key(w.access_all.expose()).unwrap();
    assert!(call(&w, &kp, Operation::Query).unwrap().iter().all(|r| r.is_ok()));
    w.project.delete_access_key(w.access_all.expose()).unwrap();
    assert_eq!(
        w.project.with_key(&w.access_all).unwrap_err().to_json(),
        unknown.to_json(),
        "a deleted key reads like one never made"
    );
}

#[test]
fn a_refused_query_learns_nothing_from_its_body() {
    let w = world();
    let write = w.project.with_key(&w.write).unwrap();
    // The key check comes before the body is parsed.
    let bad = json!({"analysis_type": "count"});
    assert_eq!(write.query_json(&bad).unwrap_err().error_code(), "InvalidApiKeyError");
    let read = w.project.with_key(&w.read).unwrap();
    assert_eq!(read.query_json(&bad).unwrap_err().error_code(), "MissingParameterError");
}
