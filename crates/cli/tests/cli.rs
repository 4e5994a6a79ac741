//! The `tally` binary's contracts: commands, flags, JSON shapes, exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tally(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tally"));
    cmd.args(args)
        .env("TALLY_DATA_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut sin = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        sin.write_all(input).unwrap();
    }
    drop(sin);
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&out.stdout);
    let last = s
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(last).unwrap()
}

#[test]
fn ingest_reports_counts_errors_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let ok = tally(
        dir.path(),
        &["ingest", "-"],
        Some(b"{\"a\": {\"x\": 1}}\n{\"b\": {\"y\": [1, 2]}}\n"),
    );
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(json(&ok), serde_json::json!({"accepted": 2, "rejected": 0, "errors": []}));

    let some_bad = tally(
        dir.path(),
        &["ingest", "-"],
        Some(b"{\"a\": {\"x\": 1}}\n{oops\n{\"a\": {\"bad.name\": 1}}\n"),
    );
    assert_eq!(some_bad.status.code(), Some(3));
    let j = json(&some_bad);
    assert_eq!(j["accepted"], 1);
    assert_eq!(j["rejected"], 2);
    assert_eq!(j["errors"][0]["line"], 2);
    assert_eq!(j["errors"][0]["error_code"], "InvalidEventError");
    assert_eq!(j["errors"][1]["line"], 3);
    assert_eq!(j["errors"][1]["error_code"], "InvalidPropertyNameError");
    assert!(j["errors"][1]["message"].is_string());

    let missing = tally(dir.path(), &["ingest", "/definitely/not/here.jsonl"], None);
    assert_eq!(missing.status.code(), Some(1));
    let usage = tally(dir.path(), &["ingest", "--no-such-flag"], None);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn collection_and_batch_modes() {
    let dir = tempfile::tempdir().unwrap();
    let out = tally(
        dir.path(),
        &["ingest", "--collection", "bare", "-"],
        Some(b"{\"x\": 1}\n{\"x\": 2}\n"),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["accepted"], 2);

    let body = br#"{"sign_ups": [{"username": "ada"}, {"username": "bob", "bad.name": 1}], "purchases": [{"price": 5}]}"#;
    let out = tally(dir.path(), &["ingest", "--batch", "-"], Some(body));
    assert_eq!(out.status.code(), Some(3));
    let j = json(&out);
    assert_eq!(j["sign_ups"][0], serde_json::json!({"success": true}));
    assert_eq!(j["sign_ups"][1]["error"]["name"], "InvalidPropertyNameError");
    assert_eq!(j["purchases"][0], serde_json::json!({"success": true}));

    let out = tally(dir.path(), &["schema", "--collection", "bare"], None);
    assert_eq!(out.status.code(), Some(0));
    let j = json(&out);
    assert_eq!(j["name"], "bare");
    assert_eq!(j["properties"]["x"], "num");
    let out = tally(dir.path(), &["schema"], None);
    let names: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["bare", "purchases", "sign_ups"]);
}

#[test]
fn global_flags_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    let d = other.to_str().unwrap();
    let a = tally(
        dir.path(),
        &["--data-dir", d, "--project", "p9", "ingest", "--collection", "c", "-"],
        Some(b"{\"x\": 1}\n"),
    );
    assert_eq!(a.status.code(), Some(0));
    let b = tally(
        dir.path(),
        &["schema", "--data-dir", d, "--project", "p9", "--collection", "c"],
        None,
    );
    assert_eq!(b.status.code(), Some(0), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(json(&b)["properties"]["x"], "num");
    assert!(other.join("projects").join("p9").exists());
}

#[test]
fn project_create_show_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = tally(dir.path(), &["project", "create", "Shop"], None);
    assert_eq!(out.status.code(), Some(0));
    let j = json(&out);
    let id = j["id"].as_str().unwrap().to_string();
    assert_eq!(j["name"], "Shop");
    for k in ["master", "write", "read"] {
        let key = j["keys"][k].as_str().unwrap();
        assert_eq!(key.len(), 64);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    }
    let show = tally(dir.path(), &["project", "show", "--project", &id], None);
    assert_eq!(show.status.code(), Some(0));
    let s = json(&show);
    assert_eq!(s["id"], id.as_str());
    assert!(s.get("keys").is_none(), "keys are shown only on create");

    let write = j["keys"]["write"].as_str().unwrap();
    let read = j["keys"]["read"].as_str().unwrap();
    let w = tally(
        dir.path(),
        &["--project", &id, "--key", write, "ingest", "--collection", "c", "-"],
        Some(b"{\"x\": 1}\n"),
    );
    assert_eq!(w.status.code(), Some(0));
    let r = tally(
        dir.path(),
        &["--project", &id, "--key", read, "ingest", "--collection", "c", "-"],
        Some(b"{\"x\": 1}\n"),
    );
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(json(&r)["error_code"], "InvalidApiKeyError");
    let s = tally(dir.path(), &["--project", &id, "--key", read, "schema"], None);
    assert_eq!(s.status.code(), Some(0));
    let bad = tally(dir.path(), &["--project", &id, "--key", "00", "schema"], None);
    assert_eq!(json(&bad)["error_code"], "InvalidApiKeyError");
    let admin = tally(dir.path(), &["--project", &id, "--key", read, "project", "show"], None);
    assert_eq!(json(&admin)["error_code"], "AdminOnlyEndpointError");

    // No plaintext key anywhere under the data directory.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                for k in ["master", "write", "read"] {
                    let key = j["keys"][k].as_str().unwrap().as_bytes();
                    assert!(
                        !bytes.windows(key.len()).any(|w| w == key),
                        "plaintext key in {}",
                        p.display()
                    );
                }
            }
        }
    }
}

fn events_for_queries(dir: &std::path::Path) {
    let lines = concat!(
        "{\"purchases\": {\"keen\": {\"timestamp\": \"2024-06-10T10:00:00Z\"}, \"price\": 2, \"user\": {\"id\": \"u1\"}}}\n",
        "{\"purchases\": {\"keen\": {\"timestamp\": \"2024-06-11T10:00:00Z\"}, \"price\": 3.5, \"user\": {\"id\": \"u2\"}}}\n",
        "{\"purchases\": {\"keen\": {\"timestamp\": \"2024-06-12T10:00:00Z\"}, \"price\": 4, \"user\": {\"id\": \"u1\"}}}\n",
    );
    let out = tally(dir, &["ingest", "-"], Some(lines.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn query_prints_keen_bodies_and_uses_now_for_relative_timeframes() {
    let dir = tempfile::tempdir().unwrap();
    events_for_queries(dir.path());
    let q = r#"{"analysis_type": "sum", "event_collection": "purchases", "target_property": "price", "timeframe": "previous_2_days"}"#;
    let out = tally(dir.path(), &["query", "--now", "2024-06-12T14:35:20Z", q], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out), serde_json::json!({"result": 5.5}));
    // global flags after the subcommand, and a fixed now without a zone
    let q = r#"{"analysis_type": "count_unique", "event_collection": "purchases", "target_property": "user.id", "timeframe": "this_3_days"}"#;
    let out = tally(
        std::path::Path::new("/nonexistent"),
        &["query", q, "--now", "2024-06-12T00:00:00", "--data-dir", dir.path().to_str().unwrap()],
        None,
    );
    assert_eq!(json(&out), serde_json::json!({"result": 2}));
}

#[test]
fn query_file_answers_line_by_line_with_errors_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    events_for_queries(dir.path());
    let file = dir.path().join("q.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"analysis_type\": \"count\", \"event_collection\": \"purchases\", \"timeframe\": {\"start\": \"2024-06-01T00:00:00Z\", \"end\": \"2024-07-01T00:00:00Z\"}, \"interval\": \"weekly\"}\n",
            "{\"analysis_type\": \"count\", \"event_collection\": \"purchases\"}\n",
            "not json\n",
            "{\"analysis_type\": \"maximum\", \"event_collection\": \"nothing\", \"target_property\": \"x\", \"timeframe\": \"this_day\"}\n",
        ),
    )
    .unwrap();
    let out = tally(
        dir.path(),
        &["query", "--file", file.to_str().unwrap(), "--time", "--repeat", "3"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0]["result"].as_array().unwrap().len(),
        6,
        "June 2024 starts on a Saturday: 6 weekly buckets"
    );
    assert_eq!(lines[0]["result"][2]["value"], 3);
    assert_eq!(lines[0]["result"][1]["value"], 0);
    assert_eq!(lines[1]["error_code"], "TimeframeDefinitionError");
    assert!(lines[1]["message"].as_str().unwrap().contains("timeframe"));
    assert_eq!(lines[2]["error_code"], "InvalidParameterError");
    assert_eq!(lines[3], serde_json::json!({"result": null}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let times: Vec<&str> = stderr.lines().filter(|l| l.starts_with("time_ms ")).collect();
    assert_eq!(times.len(), 4, "{stderr}");
    for (i, t) in times.iter().enumerate() {
        let parts: Vec<&str> = t.split(' ').collect();
        assert_eq!(parts[1], (i + 1).to_string());
        assert!(parts[2].parse::<f64>().unwrap() >= 0.0);
    }
}

#[test]
fn query_checks_the_key_kind() {
    let dir = tempfile::tempdir().unwrap();
    let created = tally(dir.path(), &["project", "create", "shop"], None);
    let p = json(&created);
    let id = p["id"].as_str().unwrap();
    let q = r#"{"analysis_type": "count", "event_collection": "x", "timeframe": "this_day"}"#;
    let read = tally(
        dir.path(),
        &["--project", id, "--key", p["keys"]["read"].as_str().unwrap(), "query", q],
        None,
    );
    assert_eq!(json(&read), serde_json::json!({"result": 0}));
    let write = tally(
        dir.path(),
        &["query", q, "--project", id, "--key", p["keys"]["write"].as_str().unwrap()],
        None,
    );
    assert_eq!(write.status.code(), Some(1));
    assert_eq!(json(&write)["error_code"], "InvalidApiKeyError");
}

#[test]
fn demo_ingests_and_answers_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = tally(
        dir.path(),
        &["demo", "--events", "3000", "--seed", "7", "--data-dir", data.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ingested 3000 events (0 rejected)"), "{stdout}");
    let answers: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"result\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 14, "{stdout}");
    assert!(!stdout.contains("error_code"), "{stdout}");
    let total: u64 = answers[0]["result"].as_u64().unwrap();
    assert!(total > 1000 && total < 3000, "pageviews are about 70% of events: {total}");
    // the data directory was kept (--data-dir) and answers the same query
    let q = r#"{"analysis_type": "count", "event_collection": "pageviews", "timeframe": {"start": "2023-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}}"#;
    let again = tally(&data, &["query", q], None);
    assert_eq!(json(&again)["result"].as_u64(), Some(total));
}

#[test]
fn keys_commands_manage_access_keys_and_scope_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let p = json(&tally(dir.path(), &["project", "create", "shop"], None));
    let id = p["id"].as_str().unwrap();
    let master = p["keys"]["master"].as_str().unwrap();
    let read = p["keys"]["read"].as_str().unwrap();
    let def = r#"{"name": "tenant A", "permitted": ["writes", "queries"],
                  "options": {"writes": {"autofill": {"tenant": "A"}},
                              "queries": {"filters": [{"property_name": "tenant", "operator": "eq", "property_value": "A"}]}}}"#;
    // Master key (or the local operator) only.
    let refused =
        tally(dir.path(), &["--project", id, "--key", read, "keys", "create", "--json", def], None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(json(&refused)["error_code"], "AdminOnlyEndpointError");
    let created = tally(
        dir.path(),
        &["keys", "create", "--json", def, "--project", id, "--key", master],
        None,
    );
    assert_eq!(created.status.code(), Some(0), "{}", String::from_utf8_lossy(&created.stderr));
    let k = json(&created);
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    assert_eq!(k["project_id"], id);
    assert_eq!(k["options"]["datasets"], serde_json::Value::Null);
    let prefix = k["key_prefix"].as_str().unwrap().to_string();

    // The key writes (autofilled) and queries (filtered).
    let w = tally(
        dir.path(),
        &["--project", id, "--key", &key, "ingest", "-"],
        Some(b"{\"c\": {\"tenant\": \"B\"}}\n{\"c\": {\"x\": 1}}\n"),
    );
    assert_eq!(json(&w)["accepted"], 2);
    tally(dir.path(), &["--project", id, "ingest", "-"], Some(b"{\"c\": {\"tenant\": \"B\"}}\n"));
    let q = r#"{"analysis_type": "count", "event_collection": "c", "timeframe": "this_10_years", "group_by": "tenant"}"#;
    let scoped = json(&tally(dir.path(), &["--project", id, "--key", &key, "query", q], None));
    assert_eq!(scoped["result"], serde_json::json!([{"tenant": "A", "result": 2}]));
    let all = json(&tally(dir.path(), &["--project", id, "query", q], None));
    assert_eq!(all["result"].as_array().unwrap().len(), 2);
    // Without the schema permission, schema is refused.
    let schema = tally(dir.path(), &["--project", id, "--key", &key, "schema"], None);
    assert_eq!(json(&schema)["error_code"], "InvalidApiKeyError");

    // list / get / update / revoke / unrevoke / delete.
    let list = json(&tally(dir.path(), &["--project", id, "keys", "list"], None));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["key"], serde_json::Value::Null);
    assert_eq!(list[0]["key_prefix"], prefix.as_str());
    let got = json(&tally(dir.path(), &["--project", id, "keys", "get", &prefix], None));
    assert_eq!(got["name"], "tenant A");
    let up = json(&tally(
        dir.path(),
        &[
            "--project",
            id,
            "keys",
            "update",
            &key,
            "--json",
            r#"{"name": "renamed", "permitted": ["queries", "schema"]}"#,
        ],
        None,
    ));
    assert_eq!(up["name"], "renamed");
    assert_eq!(
        up["options"]["queries"]["filters"][0]["property_value"], "A",
        "options omitted stay"
    );
    let schema = tally(dir.path(), &["--project", id, "--key", &key, "schema"], None);
    assert_eq!(schema.status.code(), Some(0));
    let revoked = json(&tally(dir.path(), &["--project", id, "keys", "revoke", &key], None));
    assert_eq!(revoked["is_active"], false);
    let after = tally(dir.path(), &["--project", id, "--key", &key, "query", q], None);
    let unknown = tally(dir.path(), &["--project", id, "--key", &"0".repeat(64), "query", q], None);
    assert_eq!(after.stdout, unknown.stdout, "revoked reads exactly like unknown");
    assert_eq!(after.status.code(), unknown.status.code());
    let back = json(&tally(dir.path(), &["--project", id, "keys", "unrevoke", &key], None));
    assert_eq!(back["is_active"], true);
    let del = tally(dir.path(), &["--project", id, "keys", "delete", &key], None);
    assert_eq!(del.status.code(), Some(0));
    let gone = tally(dir.path(), &["--project", id, "keys", "get", &key], None);
    assert_eq!(json(&gone)["error_code"], "ResourceNotFoundError");
    let bad = tally(
        dir.path(),
        &["--project", id, "keys", "create", "--json", r#"{"name": "x", "permitted": ["nope"]}"#],
        None,
    );
    assert_eq!(json(&bad)["error_code"], "InvalidParameterError");
    assert!(json(&bad)["message"].as_str().unwrap().contains("permitted[0]"));
}

#[test]
fn org_commands_manage_projects_with_the_organization_key() {
    let dir = tempfile::tempdir().unwrap();
    let created = json(&tally(dir.path(), &["org", "create"], None));
    let key = created["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    let again = tally(dir.path(), &["org", "create"], None);
    assert_eq!(again.status.code(), Some(1));
    let add = tally(
        dir.path(),
        &[
            "org",
            "add-project",
            "--json",
            r#"{"name": "Shop", "users": [{"email": "a@example.com"}]}"#,
            "--key",
            &key,
        ],
        None,
    );
    assert_eq!(add.status.code(), Some(0), "{}", String::from_utf8_lossy(&add.stderr));
    let p = json(&add);
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["api_keys"]["master"].as_str().unwrap().len(), 64);
    let list = json(&tally(dir.path(), &["--key", &key, "org", "projects"], None));
    assert_eq!(list[0]["id"], id.as_str());
    let up = json(&tally(
        dir.path(),
        &["--key", &key, "org", "update-project", &id, "--json", r#"{"name": "Renamed"}"#],
        None,
    ));
    assert_eq!(up["name"], "Renamed");
    let got = json(&tally(dir.path(), &["--key", &key, "org", "get-project", &id], None));
    assert_eq!(got["users"][0]["email"], "a@example.com");
    // Another key is refused; key management is for the local operator.
    let master = p["api_keys"]["master"].as_str().unwrap();
    let wrong = tally(dir.path(), &["--key", master, "org", "projects"], None);
    assert_eq!(json(&wrong)["error_code"], "InvalidApiKeyError");
    let regen = tally(dir.path(), &["--key", &key, "org", "regenerate-key"], None);
    assert_eq!(json(&regen)["error_code"], "AdminOnlyEndpointError");
    let fresh = json(&tally(dir.path(), &["org", "regenerate-key"], None));
    let old = tally(dir.path(), &["--key", &key, "org", "projects"], None);
    assert_eq!(json(&old)["error_code"], "InvalidApiKeyError");
    let new =
        tally(dir.path(), &["--key", fresh["key"].as_str().unwrap(), "org", "projects"], None);
    assert_eq!(new.status.code(), Some(0));
}

#[test]
fn saved_commands_put_list_run_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let p = json(&tally(dir.path(), &["project", "create", "shop"], None));
    let id = p["id"].as_str().unwrap();
    tally(
        dir.path(),
        &["--project", id, "ingest", "-"],
        Some(b"{\"c\": {\"price\": 2}}\n{\"c\": {\"price\": 3}}\n"),
    );
    let q = r#"{"query": {"analysis_type": "sum", "event_collection": "c", "target_property": "price", "timeframe": "this_10_years"}}"#;
    let put =
        json(&tally(dir.path(), &["--project", id, "saved", "put", "total", "--json", q], None));
    assert_eq!(put["query_name"], "total");
    assert_eq!(put["query"]["group_by"], serde_json::Value::Null);
    let read = p["keys"]["read"].as_str().unwrap();
    let r = json(&tally(
        dir.path(),
        &["--project", id, "--key", read, "saved", "result", "total"],
        None,
    ));
    assert_eq!(r["result"], 5);
    let refused = tally(dir.path(), &["--project", id, "--key", read, "saved", "list"], None);
    assert_eq!(json(&refused)["error_code"], "AdminOnlyEndpointError");
    let list = json(&tally(dir.path(), &["--project", id, "saved", "list"], None));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        tally(dir.path(), &["--project", id, "saved", "delete", "total"], None).status.code(),
        Some(0)
    );
    let gone = tally(dir.path(), &["--project", id, "saved", "get", "total"], None);
    assert_eq!(json(&gone)["error_code"], "ResourceNotFoundError");
}

#[test]
fn datasets_commands_put_list_and_retrieve() {
    let dir = tempfile::tempdir().unwrap();
    let p = json(&tally(dir.path(), &["project", "create", "shop"], None));
    let id = p["id"].as_str().unwrap();
    tally(
        dir.path(),
        &["--project", id, "ingest", "-"],
        Some(b"{\"c\": {\"tenant\": \"A\"}}\n{\"c\": {\"tenant\": \"B\"}}\n"),
    );
    let def = r#"{"query": {"analysis_type": "count", "event_collection": "c", "timeframe": "this_2_days", "interval": "daily"}, "index_by": "tenant"}"#;
    let put = json(&tally(
        dir.path(),
        &["--project", id, "datasets", "put", "daily", "--json", def],
        None,
    ));
    assert_eq!(put["index_by"], serde_json::json!(["tenant"]));
    let read = p["keys"]["read"].as_str().unwrap();
    let r = json(&tally(
        dir.path(),
        &[
            "--project",
            id,
            "--key",
            read,
            "datasets",
            "results",
            "daily",
            "--index-by",
            "A",
            "--timeframe",
            "this_2_days",
        ],
        None,
    ));
    let total: u64 =
        r["result"].as_array().unwrap().iter().map(|b| b["value"].as_u64().unwrap()).sum();
    assert_eq!(total, 1);
    let list =
        json(&tally(dir.path(), &["--project", id, "--key", read, "datasets", "list"], None));
    assert_eq!(list["count"], 1);
    let refused =
        tally(dir.path(), &["--project", id, "--key", read, "datasets", "delete", "daily"], None);
    assert_eq!(json(&refused)["error_code"], "AdminOnlyEndpointError");
}

#[test]
fn delete_commands_remove_events_properties_and_collections() {
    let dir = tempfile::tempdir().unwrap();
    let p = json(&tally(dir.path(), &["project", "create", "shop"], None));
    let id = p["id"].as_str().unwrap();
    let input = b"{\"c\": {\"t\": \"A\", \"o\": {\"x\": 1}}}\n{\"c\": {\"t\": \"B\", \"o\": {\"x\": 2}}}\n{\"c\": {\"t\": \"A\"}}\n";
    tally(dir.path(), &["--project", id, "ingest", "-"], Some(input));
    let count = |dir: &std::path::Path| {
        let q =
            r#"{"analysis_type": "count", "event_collection": "c", "timeframe": "this_1_years"}"#;
        json(&tally(dir, &["--project", id, "query", q], None))["result"].clone()
    };
    let filters = r#"[{"property_name": "t", "operator": "eq", "property_value": "A"}]"#;
    // A read key may not delete: exit 1 with Keen's error body.
    let read = p["keys"]["read"].as_str().unwrap();
    let refused =
        tally(dir.path(), &["--project", id, "--key", read, "delete", "events", "c"], None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(json(&refused)["error_code"], "AdminOnlyEndpointError");
    let out =
        tally(dir.path(), &["delete", "events", "c", "--filters", filters, "--project", id], None);
    assert_eq!(json(&out), serde_json::json!({"deleted": 2}));
    assert_eq!(count(dir.path()), serde_json::json!(1));
    let out = tally(dir.path(), &["--project", id, "delete", "property", "c", "o"], None);
    assert_eq!(out.status.code(), Some(0));
    let schema = json(&tally(dir.path(), &["--project", id, "schema", "--collection", "c"], None));
    assert!(schema["properties"].get("o.x").is_none(), "{schema}");
    let again = tally(dir.path(), &["--project", id, "delete", "property", "c", "o"], None);
    assert_eq!(json(&again)["error_code"], "ResourceNotFoundError");
    let out = tally(
        dir.path(),
        &[
            "--project",
            id,
            "delete",
            "events",
            "c",
            "--timeframe",
            "this_1_days",
            "--timezone",
            "UTC",
            "--now",
            "2000-01-01T00:00:00Z",
        ],
        None,
    );
    assert_eq!(json(&out), serde_json::json!({"deleted": 0}), "nothing in that timeframe");
    let out = tally(dir.path(), &["--project", id, "delete", "collection", "c"], None);
    assert_eq!(json(&out), serde_json::json!({"deleted": 1}));
    let schema = json(&tally(dir.path(), &["--project", id, "schema"], None));
    assert_eq!(schema, serde_json::json!([]));
    let gone = tally(dir.path(), &["--project", id, "delete", "events", "c"], None);
    assert_eq!(json(&gone)["error_code"], "ResourceNotFoundError");
}
