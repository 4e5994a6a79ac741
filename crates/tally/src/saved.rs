//! Saved and cached queries (keen-semantics §9.1–9.2).
//!
//! A saved query is a named, validated query definition. Its result is
//! computed on request (relative timeframes resolved then); with a
//! `refresh_rate` of 3,600–86,400 seconds it is a cached query, whose
//! result is served from a cache at most `refresh_rate` seconds old and
//! recomputed lazily when older (our choice, §9.2). The cache lives in
//! memory: after a reopen the first request computes it again.
//!
//! Definitions are kept in `saved_queries.json`, format version 1:
//! `{"format_version": 1, "queries": [<definition>, ...]}` in name order,
//! each definition as `GET` answers it, replaced atomically on every
//! change.
//!
//! Access keys (keen-semantics §8.4): a result with `refresh_rate` 0 needs
//! `saved_queries`, passes its `allowed`/`blocked` lists and gets its
//! `filters` ANDed on; a cached result needs `cached_queries` and passes
//! its lists, and is served as computed (no filters: §8.4). A key that may
//! run neither kind under a name gets `InvalidApiKeyError` without a
//! lookup; one that may run the name as one kind only gets
//! `ResourceNotFoundError` both when it is missing and when it exists as
//! the other kind, so no refusal tells which names exist.
//!
//! A key's `queries.filters` do not reach saved, cached or dataset results
//! (§8.4 applies them to ad-hoc analyses only): a tenant key that may run
//! saved queries needs its own `saved_queries.filters`, and cached queries
//! and datasets should be allowed to it only by name (`allowed`,
//! `index_by`), as in Keen.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_keys::{authorize, restrict_query, Operation, Principal, Scope};
use tally_query::Query;

use crate::error::{Error, Result};
use crate::project::Project;
use crate::versioned_json::{self, Versioned};

/// The saved-query file inside a project directory.
pub const SAVED_QUERIES_FILE: &str = "saved_queries.json";
/// Smallest non-zero `refresh_rate`, in seconds.
pub const MIN_REFRESH_RATE: u64 = 3_600;
/// Largest `refresh_rate`, in seconds.
pub const MAX_REFRESH_RATE: u64 = 86_400;

/// One stored definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    query_name: String,
    refresh_rate: u64,
    query: Value,
    metadata: Value,
    created_ms: i64,
    modified_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct File {
    format_version: u32,
    queries: Vec<Saved>,
}

impl Versioned for File {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

/// A project's saved queries and the cache of their results.
#[derive(Debug, Default)]
pub(crate) struct SavedQueries {
    defs: RwLock<BTreeMap<String, Saved>>,
    /// name → (computed at, Unix ms; the `result` member).
    cache: Mutex<HashMap<String, (i64, Value)>>,
}

fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: name.into(), reason: reason.into() }
}

fn not_found(name: &str) -> Error {
    Error::NotFound { what: format!("saved query {name:?}") }
}

/// Members of a simple or multi analysis echoed as `null` when unset.
const ECHOED: [&str; 8] = [
    "timezone",
    "interval",
    "group_by",
    "target_property",
    "percentile",
    "order_by",
    "limit",
    "filters",
];

impl SavedQueries {
    pub(crate) fn load(storage: &dyn tally_ingest::Storage, dir: &std::path::Path) -> Result<Self> {
        let Some(file) = versioned_json::load::<File>(storage, dir, SAVED_QUERIES_FILE)? else {
            return Ok(SavedQueries::default());
        };
        let defs = file.queries.into_iter().map(|q| (q.query_name.clone(), q)).collect();
        Ok(SavedQueries { defs: RwLock::new(defs), cache: Mutex::new(HashMap::new()) })
    }

    /// Forgets every cached result (after a delete: a deleted event must
    /// leave cached answers too); the next request recomputes.
    pub(crate) fn forget_results(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Saved {
    fn to_json(&self, run: Option<i64>) -> Value {
        let date = |ms: i64| Value::String(tally_ingest::format_datetime(ms));
        let run_information = match run {
            Some(ms) if self.refresh_rate > 0 => serde_json::json!({
                "last_run_date": tally_ingest::format_datetime(ms),
                "next_run_date": tally_ingest::format_datetime(ms + self.refresh_rate as i64 * 1000),
            }),
            _ => Value::Null,
        };
        serde_json::json!({
            "query_name": self.query_name,
            "refresh_rate": self.refresh_rate,
            "query": self.query,
            "metadata": self.metadata,
            "created_date": date(self.created_ms),
            "last_modified_date": date(self.modified_ms),
            "user_last_modified_date": date(self.modified_ms),
            "run_information": run_information,
        })
    }

    fn parsed(&self) -> Result<Query> {
        Ok(tally_query::parse_query(&self.query)?)
    }
}

/// Validates a PUT body; answers (new name, refresh_rate, query, metadata).
fn parse_body(path_name: &str, body: &Value) -> Result<(String, u64, Value, Value)> {
    let o = body.as_object().ok_or_else(|| invalid("saved query", "must be a JSON object"))?;
    const KNOWN: [&str; 8] = [
        "query_name",
        "refresh_rate",
        "query",
        "metadata",
        // Echo members of a GET answer, accepted and ignored.
        "created_date",
        "last_modified_date",
        "user_last_modified_date",
        "run_information",
    ];
    if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(invalid(k, "is not a member of a saved query"));
    }
    let name = match o.get("query_name") {
        None | Some(Value::Null) => path_name.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid("query_name", "must be a string")),
    };
    tally_keys::access::validate_resource_name(&name, "query_name")?;
    let refresh_rate = match o.get("refresh_rate") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_u64() {
            Some(0) => 0,
            Some(r) if (MIN_REFRESH_RATE..=MAX_REFRESH_RATE).contains(&r) => r,
            _ => {
                return Err(invalid(
                    "refresh_rate",
                    format!("must be 0 or {MIN_REFRESH_RATE} to {MAX_REFRESH_RATE} seconds"),
                ))
            }
        },
    };
    let query = o
        .get("query")
        .filter(|q| !q.is_null())
        .ok_or_else(|| Error::from(tally_query::QueryError::missing("query")))?;
    let parsed = tally_query::parse_query(query)?;
    if matches!(parsed, Query::Extraction(_)) {
        return Err(invalid("query.analysis_type", "an extraction cannot be saved"));
    }
    let mut query = query.clone();
    if let (Some(q), false) = (query.as_object_mut(), matches!(parsed, Query::Funnel(_))) {
        for m in ECHOED {
            if matches!(parsed, Query::Multi { .. })
                && (m == "target_property" || m == "percentile")
            {
                continue;
            }
            q.entry(m).or_insert(Value::Null);
        }
    }
    let metadata = match o.get("metadata") {
        None => Value::Null,
        Some(m @ (Value::Object(_) | Value::Null)) => m.clone(),
        Some(_) => return Err(invalid("metadata", "must be an object")),
    };
    Ok((name, refresh_rate, query, metadata))
}

/// What `principal` may do to run a saved query's result: its scope for a
/// saved one (`refresh_rate` 0) and for a cached one, each checked alone.
fn result_scopes(principal: &Principal) -> (tally_keys::Result<Scope>, tally_keys::Result<Scope>) {
    let [plain, cached] = [Operation::SavedQueryResult, Operation::CachedQueryResult]
        .map(|op| authorize(principal, op));
    (plain, cached)
}

impl Project {
    /// Creates or replaces saved query `name` (`PUT …/queries/saved/{name}`).
    /// A `query_name` in the body that differs renames it. Answers whether
    /// it was created, and the definition.
    pub fn put_saved_query(&self, name: &str, body: &Value) -> Result<(bool, Value)> {
        tally_keys::access::validate_resource_name(name, "query_name")?;
        let (new_name, refresh_rate, query, metadata) = parse_body(name, body)?;
        let now = self.now_ms();
        let saved = self.saved_queries();
        let mut defs = saved.defs.write().unwrap_or_else(|p| p.into_inner());
        let (created, def) = self.change_saved(&mut defs, |next| {
            let old = next.remove(name);
            if new_name != name && next.contains_key(&new_name) {
                return Err(invalid("query_name", format!("a saved query {new_name:?} exists")));
            }
            let def = Saved {
                query_name: new_name.clone(),
                refresh_rate,
                query,
                metadata,
                created_ms: old.as_ref().map_or(now, |o| o.created_ms),
                modified_ms: now,
            };
            next.insert(new_name.clone(), def.clone());
            Ok((old.is_none(), def))
        })?;
        let mut cache = saved.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(name);
        cache.remove(&new_name);
        Ok((created, def.to_json(None)))
    }

    /// Every saved query's definition, by name.
    pub fn saved_query_list(&self) -> Vec<Value> {
        let saved = self.saved_queries();
        let defs = saved.defs.read().unwrap_or_else(|p| p.into_inner());
        let cache = saved.cache.lock().unwrap_or_else(|p| p.into_inner());
        defs.values().map(|d| d.to_json(cache.get(&d.query_name).map(|c| c.0))).collect()
    }

    /// One saved query's definition.
    pub fn saved_query(&self, name: &str) -> Result<Value> {
        let saved = self.saved_queries();
        let defs = saved.defs.read().unwrap_or_else(|p| p.into_inner());
        let d = defs.get(name).ok_or_else(|| not_found(name))?;
        let run = saved.cache.lock().unwrap_or_else(|p| p.into_inner()).get(name).map(|c| c.0);
        Ok(d.to_json(run))
    }

    /// Deletes a saved query.
    pub fn delete_saved_query(&self, name: &str) -> Result<()> {
        let saved = self.saved_queries();
        let mut defs = saved.defs.write().unwrap_or_else(|p| p.into_inner());
        self.change_saved(&mut defs, |next| match next.remove(name) {
            Some(_) => Ok(()),
            None => Err(not_found(name)),
        })?;
        saved.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
        Ok(())
    }

    /// The definition plus `"result"` (`GET …/saved/{name}/result`), as
    /// the master key sees it.
    pub fn saved_query_result(&self, name: &str) -> Result<Value> {
        self.saved_query_result_for(&Principal::Master, name)
    }

    /// [`Project::saved_query_result`] for `principal`, with the access
    /// rules of the module docs.
    pub(crate) fn saved_query_result_for(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<Value> {
        // May it run either kind, under this name? If not, nothing is
        // looked up: a key learns nothing about names it may not run.
        let (plain, cached) = result_scopes(principal);
        let runs_plain = plain.as_ref().is_ok_and(|s| s.saved_query(name).is_ok());
        let runs_cached = cached.as_ref().is_ok_and(|s| s.cached_query(name).is_ok());
        if !runs_plain && !runs_cached {
            return Err(Error::InvalidApiKey);
        }
        let def = {
            let saved = self.saved_queries();
            let defs = saved.defs.read().unwrap_or_else(|p| p.into_inner());
            defs.get(name).cloned().ok_or_else(|| not_found(name))?
        };
        let now = self.now_ms();
        // A query the key may not run as the kind it is answers as a
        // missing name does for this key (which may run that name as the
        // other kind), so refusals do not tell which names exist.
        if def.refresh_rate == 0 {
            if !runs_plain {
                return Err(not_found(name));
            }
            let scope: Scope = plain?;
            let filters = scope.saved_query(name)?;
            let mut q = def.parsed()?;
            restrict_query(&mut q, filters);
            let answer = self.query_at(&q, now)?;
            let result = answer.into_json().map(|v| v["result"].clone()).unwrap_or(Value::Null);
            let mut out = def.to_json(None);
            out["result"] = result;
            return Ok(out);
        }
        if !runs_cached {
            return Err(not_found(name));
        }
        let scope: Scope = cached?;
        scope.cached_query(name)?;
        let saved = self.saved_queries();
        let hit = {
            let cache = saved.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.get(name).filter(|(at, _)| now - at < def.refresh_rate as i64 * 1000).cloned()
        };
        let (at, result) = match hit {
            Some(h) => h,
            None => {
                let answer = self.query_at(&def.parsed()?, now)?;
                let result = answer.into_json().map(|v| v["result"].clone()).unwrap_or(Value::Null);
                saved
                    .cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_string(), (now, result.clone()));
                (now, result)
            }
        };
        let mut out = def.to_json(Some(at));
        out["result"] = result;
        Ok(out)
    }

    /// The names of the saved queries (for the project description).
    pub(crate) fn saved_query_names(&self) -> Vec<String> {
        let saved = self.saved_queries();
        let defs = saved.defs.read().unwrap_or_else(|p| p.into_inner());
        defs.keys().cloned().collect()
    }

    /// Changes a copy of the definitions (held under their write lock),
    /// writes it, then makes it current; on any error nothing changes.
    fn change_saved<R>(
        &self,
        defs: &mut BTreeMap<String, Saved>,
        change: impl FnOnce(&mut BTreeMap<String, Saved>) -> Result<R>,
    ) -> Result<R> {
        versioned_json::change(defs, change, |next| {
            let file = File {
                format_version: versioned_json::FORMAT_VERSION,
                queries: next.values().cloned().collect(),
            };
            versioned_json::save(self.storage(), self.dir(), SAVED_QUERIES_FILE, &file)
        })
    }
}
