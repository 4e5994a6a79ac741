//! The organization key and its projects (keen-semantics §9.7).
//!
//! A data directory is one organization. Its key (64 uppercase hex, shown
//! once, stored as a SHA-256 digest in `organization.json`) lists,
//! creates, reads and updates projects through an [`Organization`]
//! handle, which checks the key again on every call: a regenerated key
//! stops the old one at the next call.
//!
//! `organization.json`, format version 1:
//! `{"format_version": 1, "id": "<24 lowercase hex>", "key": "<64 lowercase hex: SHA-256 of the key>"}`.
//!
//! Bodies (ours; Keen's paths): create takes `{"name", "users"}` and
//! answers the project with its `api_keys` (`master`, `write`, `read`),
//! the only time they are shown; get, list and update answer the project
//! without keys. `users` is an array of `{"email": "..."}` objects kept as
//! given: Tally has no user directory, so no user is ever unknown.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tally_keys::{ApiKey, KeyDigest};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::versioned_json::{self, Versioned};

/// The organization file in a data directory.
pub const ORGANIZATION_FILE: &str = "organization.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OrganizationFile {
    format_version: u32,
    id: String,
    key: KeyDigest,
}

impl Versioned for OrganizationFile {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

/// An organization as its key sees it: projects to list, create, read and
/// update.
#[derive(Clone)]
pub struct Organization {
    engine: Engine,
    /// `None`: the local operator who holds the data directory.
    key: Option<ApiKey>,
}

impl std::fmt::Debug for Organization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organization").field("key", &self.key).finish_non_exhaustive()
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: name.into(), reason: reason.into() }
}

impl Engine {
    /// Creates the data directory's organization and answers its id and
    /// key (shown only here). Fails if it already has one.
    pub fn create_organization(&self) -> Result<(String, ApiKey)> {
        let mut org = self.organization_file();
        if org.is_some() {
            return Err(invalid("organization", "this data directory already has an organization"));
        }
        let mut id = [0u8; 12];
        getrandom::fill(&mut id).map_err(|e| Error::Io {
            path: "os random source".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let key = ApiKey::generate()?;
        let file = OrganizationFile {
            format_version: versioned_json::FORMAT_VERSION,
            id: hex::encode(id),
            key: key.digest(),
        };
        self.write_organization(&file)?;
        let id = file.id.clone();
        *org = Some(file);
        Ok((id, key))
    }

    /// Replaces the organization's key (the old one stops working at its
    /// next call) and answers the new one, shown only here.
    pub fn regenerate_organization_key(&self) -> Result<(String, ApiKey)> {
        let mut org = self.organization_file();
        let Some(current) = org.as_ref() else {
            return Err(Error::NotFound { what: "organization".into() });
        };
        let key = ApiKey::generate()?;
        let file = OrganizationFile { key: key.digest(), ..current.clone() };
        self.write_organization(&file)?;
        let id = file.id.clone();
        *org = Some(file);
        Ok((id, key))
    }

    /// The organization's id, if it has been created.
    pub fn organization_id(&self) -> Option<String> {
        self.organization_file().as_ref().map(|o| o.id.clone())
    }

    /// The organization as `key` sees it; any other key is
    /// [`Error::InvalidApiKey`].
    pub fn organization(&self, key: &ApiKey) -> Result<Organization> {
        let org = Organization { engine: self.clone(), key: Some(key.clone()) };
        org.check()?;
        Ok(org)
    }

    /// The organization API for the embedding service or a local operator
    /// who holds the data directory (no key needed).
    pub fn organization_as_operator(&self) -> Organization {
        Organization { engine: self.clone(), key: None }
    }
}

impl Organization {
    /// Checks the key against the current organization key.
    fn check(&self) -> Result<()> {
        let Some(key) = &self.key else { return Ok(()) };
        let org = self.engine.organization_file();
        match org.as_ref() {
            Some(o) if o.key.ct_eq(&key.digest()) => Ok(()),
            _ => Err(Error::InvalidApiKey),
        }
    }

    /// The organization's id (`None` before it is created).
    pub fn id(&self) -> Result<Option<String>> {
        self.check()?;
        Ok(self.engine.organization_id())
    }

    /// Every project, by id (`GET /organizations/{org}/projects`).
    pub fn projects(&self) -> Result<Vec<Value>> {
        self.check()?;
        let mut out = Vec::new();
        for info in self.engine.projects() {
            out.push(project_json(&self.engine.project(&info.id)?));
        }
        Ok(out)
    }

    /// Creates a project from `{"name", "users"}` and answers it with its
    /// `api_keys`, shown only here.
    pub fn create_project(&self, body: &Value) -> Result<Value> {
        self.check()?;
        let (name, users) = parse_body(body, true)?;
        let name = name.expect("required on create");
        let (project, keys) = self.engine.create_project(&name)?;
        if let Some(users) = users {
            project.update_meta(None, Some(users))?;
        }
        let mut out = project_json(&project);
        if let Value::Object(o) = &mut out {
            o.insert(
                "api_keys".into(),
                serde_json::json!({
                    "master": keys.master.expose(),
                    "write": keys.write.expose(),
                    "read": keys.read.expose(),
                }),
            );
        }
        Ok(out)
    }

    /// One project (`GET /organizations/{org}/projects/{p}`).
    pub fn project(&self, id: &str) -> Result<Value> {
        self.check()?;
        Ok(project_json(&self.engine.project(id)?))
    }

    /// Updates a project's `name` and/or `users`.
    pub fn update_project(&self, id: &str, body: &Value) -> Result<Value> {
        self.check()?;
        let project = self.engine.project(id)?;
        let (name, users) = parse_body(body, false)?;
        project.update_meta(name, users)?;
        Ok(project_json(&project))
    }
}

/// A project in the organization API: its description plus `users`.
fn project_json(p: &Project) -> Value {
    let mut v = p.describe();
    if let Value::Object(o) = &mut v {
        o.insert("users".into(), Value::Array(p.users()));
    }
    v
}

/// `{"name", "users"}`: `name` 1–256 characters (required on create),
/// `users` an array of objects with a string `email`.
fn parse_body(body: &Value, create: bool) -> Result<(Option<String>, Option<Vec<Value>>)> {
    let o: &Map<String, Value> =
        body.as_object().ok_or_else(|| invalid("project", "must be a JSON object"))?;
    if let Some(k) = o.keys().find(|k| *k != "name" && *k != "users") {
        return Err(invalid(k, "is not a member of a project; expected name, users"));
    }
    let name = match o.get("name") {
        None if create => return Err(invalid("name", "is required")),
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 256 => Some(s.clone()),
        Some(_) => return Err(invalid("name", "must be a string of 1-256 characters")),
    };
    let users = match o.get("users") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            for (i, u) in list.iter().enumerate() {
                let email_ok =
                    u.as_object().is_some_and(|m| m.get("email").is_some_and(Value::is_string));
                if !email_ok {
                    return Err(invalid(
                        &format!("users[{i}]"),
                        "must be an object with a string email",
                    ));
                }
            }
            Some(list.clone())
        }
        Some(_) => return Err(invalid("users", "must be an array")),
    };
    Ok((name, users))
}

/// Reads the organization file, if there is one.
pub(crate) fn load(
    storage: &dyn tally_ingest::Storage,
    dir: &std::path::Path,
) -> Result<Option<OrganizationFile>> {
    versioned_json::load(storage, dir, ORGANIZATION_FILE)
}

impl Engine {
    fn write_organization(&self, file: &OrganizationFile) -> Result<()> {
        versioned_json::save(self.storage(), self.data_dir(), ORGANIZATION_FILE, file)
    }
}
