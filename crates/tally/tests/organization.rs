//! The organization key and its projects (keen-semantics §9.7).

use serde_json::json;
use tally::{ApiKey, Engine};

#[test]
fn the_organization_key_lists_creates_reads_and_updates_projects() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    assert!(engine.organization_id().is_none());
    let (org_id, key) = engine.create_organization().unwrap();
    assert_eq!(org_id.len(), 24);
    assert!(key.is_well_formed());
    assert_eq!(engine.create_organization().unwrap_err().error_code(), "InvalidParameterError");
    assert_eq!(
        engine.organization(&ApiKey::generate().unwrap()).unwrap_err().error_code(),
        "InvalidApiKeyError"
    );
    let org = engine.organization(&key).unwrap();
    assert_eq!(org.id().unwrap().as_deref(), Some(org_id.as_str()));

    let created = org
        .create_project(&json!({"name": "Shop", "users": [{"email": "ada@example.com"}]}))
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "Shop");
    assert_eq!(created["users"], json!([{"email": "ada@example.com"}]));
    let master = ApiKey::from_text(created["api_keys"]["master"].as_str().unwrap());
    assert!(master.is_well_formed());
    // The new project's keys work.
    let p = engine.project(&id).unwrap();
    assert!(p.with_key(&master).unwrap().describe().is_ok());

    let got = org.project(&id).unwrap();
    assert!(got.get("api_keys").is_none(), "keys are shown only on create");
    assert_eq!(got["users"], created["users"]);
    let list = org.projects().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    let up = org.update_project(&id, &json!({"name": "Shop 2"})).unwrap();
    assert_eq!(up["name"], "Shop 2");
    assert_eq!(up["users"], created["users"], "users omitted stay");
    let up = org.update_project(&id, &json!({"users": []})).unwrap();
    assert_eq!(
        (up["name"].as_str(), up["users"].as_array().map(Vec::len)),
        (Some("Shop 2"), Some(0))
    );

    for (bad, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "colour": 1}), "colour"),
        (json!({"name": "x", "users": [{"mail": "a"}]}), "users[0]"),
        (json!({"name": "x", "users": "ada"}), "users"),
    ] {
        let e = org.create_project(&bad).unwrap_err();
        assert_eq!(e.error_code(), "InvalidParameterError", "{bad}");
        assert!(e.to_string().contains(field), "{bad}: {e}");
    }
    assert_eq!(org.project("nope").unwrap_err().error_code(), "ResourceNotFoundError");

    // A regenerated key replaces the old one at the old handle's next call.
    let (_, new_key) = engine.regenerate_organization_key().unwrap();
    assert_eq!(org.projects().unwrap_err().error_code(), "InvalidApiKeyError");
    let org2 = engine.organization(&new_key).unwrap();
    assert_eq!(org2.projects().unwrap().len(), 1);

    // Persisted: names, users and the key digest survive a reopen; no
    // plaintext key is on disk.
    drop((org, org2, p, engine));
    let engine = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    let org = engine.organization(&new_key).unwrap();
    assert_eq!(org.project(&id).unwrap()["name"], "Shop 2");
    assert!(engine.organization(&key).is_err());
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for k in [&key, &new_key, &master] {
                for form in [k.expose().to_string(), k.expose().to_lowercase()] {
                    assert!(
                        !bytes.windows(64).any(|w| w == form.as_bytes()),
                        "plaintext key in {}",
                        path.display()
                    );
                }
            }
        }
    }
}

#[test]
fn the_operator_handle_needs_no_key_and_project_keys_are_not_organization_keys() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    let op = engine.organization_as_operator();
    let created = op.create_project(&json!({"name": "p"})).unwrap();
    let master = ApiKey::from_text(created["api_keys"]["master"].as_str().unwrap());
    assert_eq!(op.projects().unwrap().len(), 1);
    // Before an organization exists, no key opens it; a project's master
    // key never does.
    assert!(engine.organization(&master).is_err());
    engine.create_organization().unwrap();
    assert_eq!(engine.organization(&master).unwrap_err().error_code(), "InvalidApiKeyError");
}
