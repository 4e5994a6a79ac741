//! Cached datasets (keen-semantics §9.3).
//!
//! A dataset is a query with an `interval` and a relative `this_N_units`
//! timeframe, indexed by 1–5 property paths. Tally keeps datasets current
//! by computing them on request, as the spec states the semantics: the
//! answer equals the dataset's query run now with extra filters
//! `index_path eq value`, restricted to the buckets of its grid whose
//! start lies inside the requested timeframe (and so inside the dataset's
//! own). `milliseconds_behind` is therefore 0, and
//! `latest_subtimeframe_available` the end of the current bucket.
//!
//! Definitions are kept in `datasets.json`, format version 1:
//! `{"format_version": 1, "datasets": [<stored definition>, ...]}` in name
//! order, replaced atomically on every change.
//!
//! Access keys (§8.4): `datasets` with the operation (`read`, `list`,
//! `retrieve`); `allowed`, `blocked` and `index_by` restrictions; a
//! listing shows only the datasets the key may read.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tally_keys::{authorize, Operation, Principal};
use tally_query::{Query, Timeframe};

use crate::error::{Error, Result};
use crate::project::Project;
use crate::versioned_json::{self, Versioned};

/// The dataset file inside a project directory.
pub const DATASETS_FILE: &str = "datasets.json";
/// Most index paths of a dataset.
pub const MAX_INDEX_PATHS: usize = 5;
/// Largest page of a dataset listing.
pub const MAX_DATASET_PAGE: u64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Dataset {
    dataset_name: String,
    display_name: Value,
    query: Value,
    index_by: Vec<String>,
    created_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct File {
    format_version: u32,
    datasets: Vec<Dataset>,
}

impl Versioned for File {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

/// A project's datasets.
#[derive(Debug, Default)]
pub(crate) struct Datasets {
    defs: RwLock<BTreeMap<String, Dataset>>,
}

fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter { name: name.into(), reason: reason.into() }
}

fn not_found(name: &str) -> Error {
    Error::NotFound { what: format!("dataset {name:?}") }
}

impl Datasets {
    pub(crate) fn load(storage: &dyn tally_ingest::Storage, dir: &std::path::Path) -> Result<Self> {
        let Some(file) = versioned_json::load::<File>(storage, dir, DATASETS_FILE)? else {
            return Ok(Datasets::default());
        };
        let defs = file.datasets.into_iter().map(|d| (d.dataset_name.clone(), d)).collect();
        Ok(Datasets { defs: RwLock::new(defs) })
    }
}

/// The parsed query and what a dataset needs of it.
fn checked_query(q: &Value, index_by: &[String]) -> Result<Query> {
    let parsed = tally_query::parse_query(q)?;
    let common = match &parsed {
        Query::Analysis { common, .. } | Query::Multi { common, .. } => common,
        Query::Funnel(_) | Query::Extraction(_) => {
            return Err(invalid(
                "query.analysis_type",
                "a dataset cannot be a funnel or an extraction",
            ))
        }
    };
    if common.interval.is_none() {
        return Err(invalid("query.interval", "a dataset needs an interval"));
    }
    if !matches!(common.timeframe, Timeframe::Relative { previous: false, .. }) {
        return Err(invalid(
            "query.timeframe",
            "a dataset needs a relative this_N_units timeframe",
        ));
    }
    for p in index_by {
        if common.group_by.iter().any(|g| g.property() == p) {
            return Err(invalid("index_by", format!("{p:?} is also in group_by")));
        }
    }
    Ok(parsed)
}

fn parse_index_by(v: Option<&Value>) -> Result<Vec<String>> {
    let paths: Vec<String> = match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid("index_by", "paths are strings"))
            })
            .collect::<Result<_>>()?,
        None | Some(Value::Null) => {
            return Err(Error::from(tally_query::QueryError::missing("index_by")))
        }
        Some(_) => return Err(invalid("index_by", "a path or an array of paths")),
    };
    if paths.is_empty() || paths.len() > MAX_INDEX_PATHS {
        return Err(invalid("index_by", format!("1 to {MAX_INDEX_PATHS} paths")));
    }
    for (i, p) in paths.iter().enumerate() {
        if p.is_empty() || paths[..i].contains(p) {
            return Err(invalid("index_by", format!("path {p:?} is empty or repeated")));
        }
    }
    Ok(paths)
}

impl Dataset {
    fn to_json(&self, project: &Project, now_ms: i64) -> Value {
        let mut query = self.query.clone();
        if let Some(q) = query.as_object_mut() {
            q.insert("project_id".into(), Value::from(project.id()));
        }
        let latest = checked_query(&self.query, &self.index_by).ok().and_then(|q| match q {
            Query::Analysis { common, .. } | Query::Multi { common, .. } => {
                let range = common.timeframe.resolve(now_ms, &common.timezone).ok()?;
                let buckets = common.interval?.buckets(range, &common.timezone).ok()?;
                let current = buckets.iter().find(|b| b.start_ms <= now_ms && now_ms < b.end_ms);
                Some(current.map_or(range.end_ms, |b| b.end_ms))
            }
            _ => None,
        });
        serde_json::json!({
            "project_id": project.id(),
            "dataset_name": self.dataset_name,
            "display_name": self.display_name,
            "query": query,
            "index_by": self.index_by,
            "last_scheduled_date": tally_ingest::format_datetime(now_ms),
            "latest_subtimeframe_available": latest.map(tally_ingest::format_datetime),
            "milliseconds_behind": 0,
        })
    }
}

impl Project {
    /// Creates or replaces dataset `name` (`PUT …/datasets/{name}`) from
    /// `{"display_name", "query", "index_by"}`; answers whether it was
    /// created, and the definition.
    pub fn put_dataset(&self, name: &str, body: &Value) -> Result<(bool, Value)> {
        tally_keys::access::validate_resource_name(name, "dataset_name")?;
        let o = body.as_object().ok_or_else(|| invalid("dataset", "must be a JSON object"))?;
        const KNOWN: [&str; 8] = [
            "display_name",
            "query",
            "index_by",
            // Echo members of a GET answer, accepted and ignored.
            "project_id",
            "dataset_name",
            "last_scheduled_date",
            "latest_subtimeframe_available",
            "milliseconds_behind",
        ];
        if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(invalid(k, "is not a member of a dataset"));
        }
        let display_name = match o.get("display_name") {
            None => Value::Null,
            Some(v @ (Value::String(_) | Value::Null)) => v.clone(),
            Some(_) => return Err(invalid("display_name", "must be a string")),
        };
        let index_by = parse_index_by(o.get("index_by"))?;
        let mut query = o
            .get("query")
            .filter(|q| !q.is_null())
            .cloned()
            .ok_or_else(|| Error::from(tally_query::QueryError::missing("query")))?;
        if let Some(q) = query.as_object_mut() {
            q.remove("project_id"); // an echoed answer carries it
        }
        checked_query(&query, &index_by)?;
        let now = self.now_ms();
        let sets = self.dataset_store();
        let mut defs = sets.defs.write().unwrap_or_else(|p| p.into_inner());
        let (created, def) = self.change_datasets(&mut defs, |next| {
            let old = next.get(name).map(|d| d.created_ms);
            let def = Dataset {
                dataset_name: name.to_string(),
                display_name,
                query,
                index_by,
                created_ms: old.unwrap_or(now),
            };
            next.insert(name.to_string(), def.clone());
            Ok((old.is_none(), def))
        })?;
        Ok((created, def.to_json(self, now)))
    }

    /// Deletes a dataset.
    pub fn delete_dataset(&self, name: &str) -> Result<()> {
        let sets = self.dataset_store();
        let mut defs = sets.defs.write().unwrap_or_else(|p| p.into_inner());
        self.change_datasets(&mut defs, |next| match next.remove(name) {
            Some(_) => Ok(()),
            None => Err(not_found(name)),
        })
    }

    fn dataset_def(&self, name: &str) -> Result<Dataset> {
        let sets = self.dataset_store();
        let defs = sets.defs.read().unwrap_or_else(|p| p.into_inner());
        defs.get(name).cloned().ok_or_else(|| not_found(name))
    }

    /// One dataset's definition (`GET …/datasets/{name}`).
    pub fn dataset(&self, name: &str) -> Result<Value> {
        self.dataset_for(&Principal::Master, name)
    }

    pub(crate) fn dataset_for(&self, principal: &Principal, name: &str) -> Result<Value> {
        let scope = authorize(principal, Operation::DatasetRead)?;
        if !scope.dataset_visible(name) {
            return Err(Error::InvalidApiKey);
        }
        Ok(self.dataset_def(name)?.to_json(self, self.now_ms()))
    }

    /// A page of datasets (`GET …/datasets?limit=N&after_name=X`): names in
    /// ascending order after `after_name`; `limit` 1–100, default 10.
    pub fn datasets(&self, limit: Option<u64>, after_name: Option<&str>) -> Result<Value> {
        self.datasets_for(&Principal::Master, limit, after_name)
    }

    pub(crate) fn datasets_for(
        &self,
        principal: &Principal,
        limit: Option<u64>,
        after_name: Option<&str>,
    ) -> Result<Value> {
        let scope = authorize(principal, Operation::DatasetList)?;
        let limit = limit.unwrap_or(10);
        if !(1..=MAX_DATASET_PAGE).contains(&limit) {
            return Err(invalid("limit", format!("must be 1 to {MAX_DATASET_PAGE}")));
        }
        let now = self.now_ms();
        let sets = self.dataset_store();
        let defs = sets.defs.read().unwrap_or_else(|p| p.into_inner());
        let visible: Vec<&Dataset> =
            defs.values().filter(|d| scope.dataset_visible(&d.dataset_name)).collect();
        let rest: Vec<&&Dataset> = visible
            .iter()
            .filter(|d| after_name.is_none_or(|a| d.dataset_name.as_str() > a))
            .collect();
        let page: Vec<Value> =
            rest.iter().take(limit as usize).map(|d| d.to_json(self, now)).collect();
        let next = (rest.len() > page.len()).then(|| {
            let last = page.last().and_then(|d| d["dataset_name"].as_str()).unwrap_or_default();
            format!("/3.0/projects/{}/datasets?limit={limit}&after_name={last}", self.id())
        });
        Ok(serde_json::json!({"datasets": page, "next_page_url": next, "count": visible.len()}))
    }

    /// Dataset results (`GET …/datasets/{name}/results?index_by=…&timeframe=…`).
    /// `index_by` is the plain value with one index path, or an object
    /// giving a value for every path; `timeframe` is relative or absolute.
    pub fn dataset_results(
        &self,
        name: &str,
        index_by: &Value,
        timeframe: &Value,
    ) -> Result<Value> {
        self.dataset_results_for(&Principal::Master, name, index_by, timeframe)
    }

    pub(crate) fn dataset_results_for(
        &self,
        principal: &Principal,
        name: &str,
        index_by: &Value,
        timeframe: &Value,
    ) -> Result<Value> {
        let scope = authorize(principal, Operation::DatasetRetrieve)?;
        if !scope.dataset_visible(name) {
            return Err(Error::InvalidApiKey);
        }
        let def = self.dataset_def(name)?;
        let index: Map<String, Value> = match (def.index_by.as_slice(), index_by) {
            ([one], Value::Object(o)) if o.len() == 1 && o.contains_key(one) => o.clone(),
            ([one], v) if !v.is_object() && !v.is_array() => {
                Map::from_iter([(one.clone(), v.clone())])
            }
            (paths, Value::Object(o))
                if paths.iter().all(|p| o.contains_key(p)) && o.len() == paths.len() =>
            {
                o.clone()
            }
            (paths, _) => {
                return Err(invalid(
                    "index_by",
                    format!("give a value for every index path: {}", paths.join(", ")),
                ))
            }
        };
        if index.values().any(|v| v.is_object() || v.is_array()) {
            return Err(invalid("index_by", "index values are primitives"));
        }
        scope.dataset(name, &index)?;
        let mut query = def.query.clone();
        let filters: Vec<Value> = index
            .iter()
            .map(|(p, v)| serde_json::json!({"property_name": p, "operator": "eq", "property_value": v}))
            .collect();
        let list =
            query.as_object_mut().map(|q| q.entry("filters").or_insert(Value::Array(Vec::new())));
        match list {
            Some(Value::Array(a)) => a.extend(filters),
            Some(slot @ Value::Null) => *slot = Value::Array(filters),
            _ => return Err(invalid("query.filters", "the stored filters are not a list")),
        }
        let parsed = checked_query(&query, &def.index_by)?;
        let tz = match &parsed {
            Query::Analysis { common, .. } | Query::Multi { common, .. } => common.timezone,
            _ => unreachable!("checked_query admits analyses only"),
        };
        let now = self.now_ms();
        let range = Timeframe::parse(timeframe)?.resolve(now, &tz)?;
        let answer = self.query_at(&parsed, now)?;
        let body = answer.into_json().unwrap_or(Value::Null);
        let buckets: Vec<Value> = body["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| {
                let start =
                    b["timeframe"]["start"].as_str().and_then(tally_ingest::parse_timestamp);
                start.is_some_and(|s| range.start_ms <= s && s < range.end_ms)
            })
            .cloned()
            .collect();
        Ok(serde_json::json!({
            "result": buckets,
            "metadata": {
                "dataset": def.to_json(self, now),
                "request": {"index_by": index, "timeframe": timeframe},
            },
        }))
    }

    /// Changes a copy of the definitions (held under their write lock),
    /// writes it, then makes it current; on any error nothing changes.
    fn change_datasets<R>(
        &self,
        defs: &mut BTreeMap<String, Dataset>,
        change: impl FnOnce(&mut BTreeMap<String, Dataset>) -> Result<R>,
    ) -> Result<R> {
        versioned_json::change(defs, change, |next| {
            let file = File {
                format_version: versioned_json::FORMAT_VERSION,
                datasets: next.values().cloned().collect(),
            };
            versioned_json::save(self.storage(), self.dir(), DATASETS_FILE, &file)
        })
    }
}
