//! Access-key definitions (keen-semantics §8.3–8.4): parsed, validated,
//! and written back in Keen's shape.
//!
//! Validation is strict: an unknown member anywhere in a definition is an
//! `InvalidParameterError` naming it. A silently ignored typo (`"filter"`
//! for `"filters"`) would hand a tenant an unrestricted key.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tally_query::Filter;

use crate::error::{KeysError, Result};

/// Longest access-key name, in characters (keen-semantics §8.3).
pub const MAX_KEY_NAME_CHARS: usize = 256;
/// Longest saved-query, cached-query or dataset name in an allow or block
/// list, in characters (keen-semantics §9.1).
pub const MAX_RESOURCE_NAME_CHARS: usize = 256;

/// What an access key may be permitted (keen-semantics §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Record events.
    Writes,
    /// Ad-hoc analyses, funnels, multi-analyses, extractions, the query
    /// resource listing.
    Queries,
    /// Saved-query results with `refresh_rate` 0.
    SavedQueries,
    /// Saved-query results with `refresh_rate` > 0.
    CachedQueries,
    /// Dataset definitions, listing and results.
    Datasets,
    /// Collection and property schema.
    Schema,
}

impl Permission {
    /// Every permission, in Keen's order.
    pub const ALL: [Permission; 6] = [
        Permission::Writes,
        Permission::Queries,
        Permission::SavedQueries,
        Permission::CachedQueries,
        Permission::Datasets,
        Permission::Schema,
    ];

    /// Keen's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Writes => "writes",
            Permission::Queries => "queries",
            Permission::SavedQueries => "saved_queries",
            Permission::CachedQueries => "cached_queries",
            Permission::Datasets => "datasets",
            Permission::Schema => "schema",
        }
    }

    /// The permission named `name`.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A dataset operation an access key may be given (keen-semantics §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetOp {
    /// Get a dataset's definition.
    Read,
    /// List datasets.
    List,
    /// Retrieve results.
    Retrieve,
}

impl DatasetOp {
    /// Every operation.
    pub const ALL: [DatasetOp; 3] = [DatasetOp::Read, DatasetOp::List, DatasetOp::Retrieve];

    /// Keen's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetOp::Read => "read",
            DatasetOp::List => "list",
            DatasetOp::Retrieve => "retrieve",
        }
    }

    fn parse(name: &str) -> Option<DatasetOp> {
        DatasetOp::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// A validated filter list with the JSON it was given as (echoed back).
#[derive(Debug, Clone)]
pub struct FilterSet {
    raw: Value,
    filters: Vec<Filter>,
}

impl FilterSet {
    /// Validates `raw` as a query `filters` list, naming errors `field`.
    fn parse(raw: &Value, field: &str) -> Result<FilterSet> {
        if !raw.is_array() {
            return Err(KeysError::invalid(field, "must be an array of filters"));
        }
        let filters = tally_query::parse::parse_filters(raw, field)
            .map_err(|e| KeysError::invalid(field, e.message))?;
        Ok(FilterSet { raw: raw.clone(), filters })
    }

    /// The filters.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// The filters as given.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

/// Names allowed and blocked for saved or cached queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameLists {
    /// Names the key may run; `None` or empty = all.
    pub allowed: Option<Vec<String>>,
    /// Names the key may never run (wins over `allowed`).
    pub blocked: Option<Vec<String>>,
}

impl NameLists {
    /// Whether `name` passes both lists (exact byte comparison).
    pub fn permits(&self, name: &str) -> bool {
        let blocked = self.blocked.as_ref().is_some_and(|b| b.iter().any(|n| n == name));
        let allowed = match &self.allowed {
            Some(a) if !a.is_empty() => a.iter().any(|n| n == name),
            _ => true,
        };
        allowed && !blocked
    }
}

/// `options.writes` (keen-semantics §8.4).
#[derive(Debug, Clone, Default)]
pub struct WritesOptions {
    /// Merged into every event the key writes; it wins on every path it
    /// sets.
    pub autofill: Option<Map<String, Value>>,
}

/// `options.queries`.
#[derive(Debug, Clone, Default)]
pub struct QueriesOptions {
    /// ANDed onto every ad-hoc query the key runs.
    pub filters: Option<FilterSet>,
}

/// `options.saved_queries`.
#[derive(Debug, Clone, Default)]
pub struct SavedQueriesOptions {
    /// Which saved queries the key may run.
    pub names: NameLists,
    /// ANDed onto a saved query when it is computed for this key.
    pub filters: Option<FilterSet>,
}

/// One dataset an access key may read: any index value, or only the
/// listed values of each listed index property.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetAllowance {
    /// `index_by`: property path → the values the key may request.
    pub index_by: Option<BTreeMap<String, Vec<Value>>>,
}

/// `options.datasets`.
#[derive(Debug, Clone, Default)]
pub struct DatasetsOptions {
    /// The operations permitted; `None` = all.
    pub operations: Option<Vec<DatasetOp>>,
    /// When present, only these datasets, each with its allowance.
    pub allowed: Option<BTreeMap<String, DatasetAllowance>>,
    /// Never these datasets.
    pub blocked: Option<Vec<String>>,
}

/// The `options` of an access key; unset members are `None` (and `null`
/// in JSON).
#[derive(Debug, Clone, Default)]
pub struct AccessOptions {
    /// `writes`.
    pub writes: Option<WritesOptions>,
    /// `queries`.
    pub queries: Option<QueriesOptions>,
    /// `saved_queries`.
    pub saved_queries: Option<SavedQueriesOptions>,
    /// `cached_queries`.
    pub cached_queries: Option<NameLists>,
    /// `datasets`.
    pub datasets: Option<DatasetsOptions>,
}

/// A validated access-key definition: everything but the secret.
#[derive(Debug, Clone)]
pub struct AccessKeyDef {
    /// `name`, 1–256 characters.
    pub name: String,
    /// `is_active` (default true); an inactive key is refused like an
    /// unknown one.
    pub is_active: bool,
    /// `permitted`, without repeats, in the order given.
    pub permitted: Vec<Permission>,
    /// `options`.
    pub options: AccessOptions,
    /// The options as given (validated), echoed back member by member.
    options_raw: Map<String, Value>,
}

/// Members of a key definition a caller may send.
const DEF_MEMBERS: [&str; 4] = ["name", "is_active", "permitted", "options"];
/// Members of a full key JSON (as answered) accepted and ignored on input,
/// so an answer can be sent back as an update.
const ECHO_MEMBERS: [&str; 3] = ["key", "project_id", "key_prefix"];
/// The members of `options`, in Keen's order.
const OPTION_MEMBERS: [&str; 5] =
    ["writes", "queries", "saved_queries", "cached_queries", "datasets"];

impl AccessKeyDef {
    /// Validates a creation body (keen-semantics §8.3): `name` is
    /// required; `is_active` defaults to true, `permitted` to none.
    pub fn from_json(body: &Value) -> Result<AccessKeyDef> {
        let obj = object(body, "key")?;
        check_members(obj)?;
        let name = match obj.get("name") {
            Some(v) => parse_name(v)?,
            None => return Err(KeysError::invalid("name", "is required")),
        };
        let mut def = AccessKeyDef {
            name,
            is_active: true,
            permitted: Vec::new(),
            options: AccessOptions::default(),
            options_raw: Map::new(),
        };
        def.apply(obj)?;
        Ok(def)
    }

    /// The definition after an update body (keen-semantics §8.5): members
    /// sent replace the stored ones (`options` as a whole), members omitted
    /// stay.
    pub fn updated(&self, body: &Value) -> Result<AccessKeyDef> {
        let obj = object(body, "key")?;
        check_members(obj)?;
        let mut def = self.clone();
        if let Some(v) = obj.get("name") {
            def.name = parse_name(v)?;
        }
        if obj.contains_key("options") {
            def.options = AccessOptions::default();
            def.options_raw = Map::new();
        }
        def.apply(obj)?;
        Ok(def)
    }

    /// Reads `is_active`, `permitted` and `options` from `obj`.
    fn apply(&mut self, obj: &Map<String, Value>) -> Result<()> {
        if let Some(v) = obj.get("is_active") {
            self.is_active =
                v.as_bool().ok_or_else(|| KeysError::invalid("is_active", "must be a boolean"))?;
        }
        if let Some(v) = obj.get("permitted") {
            self.permitted = parse_permitted(v)?;
        }
        match obj.get("options") {
            None | Some(Value::Null) => {}
            Some(v) => {
                let (options, raw) = parse_options(v)?;
                self.options = options;
                self.options_raw = raw;
            }
        }
        Ok(())
    }

    /// Whether `p` is permitted.
    pub fn permits(&self, p: Permission) -> bool {
        self.permitted.contains(&p)
    }

    /// `{"name", "is_active", "permitted", "options"}` with all five
    /// option members (unset ones `null`), as Keen answers them.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("name".into(), Value::String(self.name.clone()));
        out.insert("is_active".into(), Value::Bool(self.is_active));
        out.insert(
            "permitted".into(),
            Value::Array(self.permitted.iter().map(|p| Value::from(p.as_str())).collect()),
        );
        let mut options = Map::new();
        for m in OPTION_MEMBERS {
            options.insert(m.into(), self.options_raw.get(m).cloned().unwrap_or(Value::Null));
        }
        out.insert("options".into(), Value::Object(options));
        out
    }
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| KeysError::invalid(field, "must be a JSON object"))
}

fn check_members(obj: &Map<String, Value>) -> Result<()> {
    for (k, v) in obj {
        if DEF_MEMBERS.contains(&k.as_str()) {
            continue;
        }
        if ECHO_MEMBERS.contains(&k.as_str()) {
            // A key is generated by the engine, never chosen by a caller.
            if k == "key" && !v.is_null() {
                return Err(KeysError::invalid(
                    "key",
                    "keys are generated by the engine; send the definition only",
                ));
            }
            continue;
        }
        return Err(KeysError::invalid(k.as_str(), "is not a member of an access key"));
    }
    Ok(())
}

fn parse_name(v: &Value) -> Result<String> {
    let s = v.as_str().ok_or_else(|| KeysError::invalid("name", "must be a string"))?;
    let n = s.chars().count();
    if n == 0 || n > MAX_KEY_NAME_CHARS {
        return Err(KeysError::invalid(
            "name",
            format!("must be 1 to {MAX_KEY_NAME_CHARS} characters, got {n}"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(KeysError::invalid("name", "may not contain control characters"));
    }
    Ok(s.to_string())
}

fn parse_permitted(v: &Value) -> Result<Vec<Permission>> {
    let arr = v
        .as_array()
        .ok_or_else(|| KeysError::invalid("permitted", "must be an array of permission names"))?;
    let mut out = Vec::new();
    for (i, p) in arr.iter().enumerate() {
        let field = format!("permitted[{i}]");
        let name = p.as_str().ok_or_else(|| KeysError::invalid(&field, "must be a string"))?;
        let perm = Permission::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            KeysError::invalid(&field, format!("unknown permission; one of {}", known.join(", ")))
        })?;
        if !out.contains(&perm) {
            out.push(perm);
        }
    }
    Ok(out)
}

/// Parses `options`; returns the typed options and the members as given.
fn parse_options(v: &Value) -> Result<(AccessOptions, Map<String, Value>)> {
    let obj = object(v, "options")?;
    let mut options = AccessOptions::default();
    let mut raw = Map::new();
    for (k, v) in obj {
        let field = format!("options.{k}");
        if !OPTION_MEMBERS.contains(&k.as_str()) {
            return Err(KeysError::invalid(&field, "is not an access-key option"));
        }
        if v.is_null() {
            continue;
        }
        let o = object(v, &field)?;
        match k.as_str() {
            "writes" => options.writes = Some(parse_writes(o, &field)?),
            "queries" => options.queries = Some(parse_queries(o, &field)?),
            "saved_queries" => options.saved_queries = Some(parse_saved(o, &field)?),
            "cached_queries" => {
                only_members(o, &field, &["allowed", "blocked"])?;
                options.cached_queries = Some(parse_names(o, &field)?);
            }
            _ => options.datasets = Some(parse_datasets(o, &field)?),
        }
        raw.insert(k.clone(), v.clone());
    }
    Ok((options, raw))
}

fn only_members(o: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<()> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(KeysError::invalid(
            format!("{field}.{k}"),
            format!("is not a member; expected {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn parse_writes(o: &Map<String, Value>, field: &str) -> Result<WritesOptions> {
    only_members(o, field, &["autofill"])?;
    let autofill = match o.get("autofill") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_autofill(v, &format!("{field}.autofill"))?),
    };
    Ok(WritesOptions { autofill })
}

/// An autofill object: a valid event fragment (every name rule and limit
/// of keen-semantics §1.4–1.5) without `keen`.
fn parse_autofill(v: &Value, field: &str) -> Result<Map<String, Value>> {
    let o = object(v, field)?;
    if o.contains_key("keen") {
        return Err(KeysError::invalid(field, "may not set the engine-owned `keen` object"));
    }
    let bytes = serde_json::to_vec(v).map_err(|e| KeysError::invalid(field, e.to_string()))?;
    let mut batch = tally_ingest::FlatBatch::new();
    tally_ingest::parse_event(&bytes, &mut batch, &tally_ingest::EventLimits::default())
        .map_err(|e| KeysError::invalid(field, e.to_string()))?;
    Ok(o.clone())
}

fn parse_queries(o: &Map<String, Value>, field: &str) -> Result<QueriesOptions> {
    only_members(o, field, &["filters"])?;
    Ok(QueriesOptions { filters: parse_filter_member(o, field)? })
}

fn parse_filter_member(o: &Map<String, Value>, field: &str) -> Result<Option<FilterSet>> {
    match o.get("filters") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => FilterSet::parse(v, &format!("{field}.filters")).map(Some),
    }
}

fn parse_saved(o: &Map<String, Value>, field: &str) -> Result<SavedQueriesOptions> {
    only_members(o, field, &["allowed", "blocked", "filters"])?;
    Ok(SavedQueriesOptions {
        names: parse_names(o, field)?,
        filters: parse_filter_member(o, field)?,
    })
}

fn parse_names(o: &Map<String, Value>, field: &str) -> Result<NameLists> {
    let list = |m: &str| -> Result<Option<Vec<String>>> {
        match o.get(m) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => name_list(v, &format!("{field}.{m}")).map(Some),
        }
    };
    Ok(NameLists { allowed: list("allowed")?, blocked: list("blocked")? })
}

/// A resource name: 1–256 characters of `[A-Za-z0-9_-]` (keen-semantics
/// §9.1), so case, Unicode and path tricks never alias (RELIABILITY T8).
pub fn validate_resource_name(name: &str, field: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_RESOURCE_NAME_CHARS {
        return Err(KeysError::invalid(
            field,
            format!("names are 1 to {MAX_RESOURCE_NAME_CHARS} characters, got {n}"),
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(KeysError::invalid(field, "names may hold only A-Z, a-z, 0-9, '_' and '-'"));
    }
    Ok(())
}

fn name_list(v: &Value, field: &str) -> Result<Vec<String>> {
    let arr = v.as_array().ok_or_else(|| KeysError::invalid(field, "must be an array of names"))?;
    arr.iter()
        .enumerate()
        .map(|(i, n)| {
            let f = format!("{field}[{i}]");
            let s = n.as_str().ok_or_else(|| KeysError::invalid(&f, "must be a string"))?;
            validate_resource_name(s, &f)?;
            Ok(s.to_string())
        })
        .collect()
}

fn parse_datasets(o: &Map<String, Value>, field: &str) -> Result<DatasetsOptions> {
    only_members(o, field, &["operations", "allowed", "blocked"])?;
    let operations = match o.get("operations") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let f = format!("{field}.operations");
            let arr = v.as_array().ok_or_else(|| KeysError::invalid(&f, "must be an array"))?;
            let mut ops = Vec::new();
            for (i, op) in arr.iter().enumerate() {
                let fi = format!("{f}[{i}]");
                let op = op.as_str().and_then(DatasetOp::parse).ok_or_else(|| {
                    KeysError::invalid(&fi, "must be one of read, list, retrieve")
                })?;
                if !ops.contains(&op) {
                    ops.push(op);
                }
            }
            Some(ops)
        }
    };
    let allowed = match o.get("allowed") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let f = format!("{field}.allowed");
            let m = object(v, &f)?;
            let mut out = BTreeMap::new();
            for (name, a) in m {
                let fi = format!("{f}.{name}");
                validate_resource_name(name, &fi)?;
                out.insert(name.clone(), parse_allowance(a, &fi)?);
            }
            Some(out)
        }
    };
    let blocked = match o.get("blocked") {
        None | Some(Value::Null) => None,
        Some(v) => Some(name_list(v, &format!("{field}.blocked"))?),
    };
    Ok(DatasetsOptions { operations, allowed, blocked })
}

fn parse_allowance(v: &Value, field: &str) -> Result<DatasetAllowance> {
    let o = object(v, field)?;
    only_members(o, field, &["index_by"])?;
    let index_by = match o.get("index_by") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let f = format!("{field}.index_by");
            let m = object(v, &f)?;
            let mut out = BTreeMap::new();
            for (prop, vals) in m {
                let fp = format!("{f}.{prop}");
                let arr = vals.as_array().ok_or_else(|| {
                    KeysError::invalid(&fp, "must be an array of permitted values")
                })?;
                if arr.iter().any(|x| x.is_array() || x.is_object()) {
                    return Err(KeysError::invalid(&fp, "index values are primitives"));
                }
                out.insert(prop.clone(), arr.clone());
            }
            Some(out)
        }
    };
    Ok(DatasetAllowance { index_by })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invalid_at(body: Value) -> String {
        match AccessKeyDef::from_json(&body) {
            Err(KeysError::InvalidParameter { name, .. }) => name,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn the_spec_example_round_trips() {
        let body = json!({
          "name": "Customer 93 dashboard",
          "is_active": true,
          "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets", "schema"],
          "options": {
            "writes": {"autofill": {"customer": {"id": "93iskds39kd93id", "name": "Ada Corp."}}},
            "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
            "saved_queries": {"allowed": ["my_saved_query", "my_other_one"],
                              "blocked": ["my_sensitive_query"],
                              "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "93iskds39kd93id"}]},
            "cached_queries": {"allowed": ["my_cached_query"], "blocked": ["my_sensitive_query"]},
            "datasets": {"operations": ["read", "list", "retrieve"],
                         "allowed": {"my_single_index_dataset": {"index_by": {"customer.id": ["93iskds39kd93id"]}},
                                     "my_other_dataset_unlimited_access": {}},
                         "blocked": ["my_sensitive_dataset"]}
          }
        });
        let def = AccessKeyDef::from_json(&body).unwrap();
        assert_eq!(Value::Object(def.to_json()), body);
        assert_eq!(def.permitted.len(), 6);
        assert_eq!(
            def.options.queries.as_ref().unwrap().filters.as_ref().unwrap().filters().len(),
            1
        );
        let saved = def.options.saved_queries.as_ref().unwrap();
        assert!(saved.names.permits("my_saved_query"));
        assert!(!saved.names.permits("my_sensitive_query"));
        assert!(!saved.names.permits("other"));
        let ds = def.options.datasets.as_ref().unwrap();
        assert_eq!(ds.operations.as_deref(), Some(&DatasetOp::ALL[..]));
        assert_eq!(ds.allowed.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn defaults_and_null_options() {
        let def = AccessKeyDef::from_json(&json!({"name": "k"})).unwrap();
        assert!(def.is_active);
        assert!(def.permitted.is_empty());
        assert_eq!(
            Value::Object(def.to_json()),
            json!({"name": "k", "is_active": true, "permitted": [],
                   "options": {"writes": null, "queries": null, "saved_queries": null,
                               "cached_queries": null, "datasets": null}})
        );
        // Echo members of an answer are accepted (and ignored).
        let echoed = json!({"name": "k", "key": null, "project_id": "p", "key_prefix": "ABCD1234"});
        assert!(AccessKeyDef::from_json(&echoed).is_ok());
    }

    #[test]
    fn every_bad_member_is_named() {
        assert_eq!(invalid_at(json!({})), "name");
        assert_eq!(invalid_at(json!({"name": ""})), "name");
        assert_eq!(invalid_at(json!({"name": "x".repeat(257)})), "name");
        assert!(AccessKeyDef::from_json(&json!({"name": "é".repeat(256)})).is_ok());
        assert_eq!(invalid_at(json!({"name": "k", "key": "ABC"})), "key");
        assert_eq!(invalid_at(json!({"name": "k", "colour": 1})), "colour");
        assert_eq!(invalid_at(json!({"name": "k", "is_active": "yes"})), "is_active");
        assert_eq!(invalid_at(json!({"name": "k", "permitted": ["query"]})), "permitted[0]");
        assert_eq!(invalid_at(json!({"name": "k", "options": {"query": {}}})), "options.query");
        assert_eq!(
            invalid_at(json!({"name": "k", "options": {"queries": {"filter": []}}})),
            "options.queries.filter"
        );
        assert_eq!(
            invalid_at(
                json!({"name": "k", "options": {"queries": {"filters": [{"property_name": "a", "operator": "eqq", "property_value": 1}]}}})
            ),
            "options.queries.filters"
        );
        assert_eq!(
            invalid_at(
                json!({"name": "k", "options": {"queries": {"filters": {"property_name": "a"}}}})
            ),
            "options.queries.filters"
        );
        assert_eq!(
            invalid_at(
                json!({"name": "k", "options": {"writes": {"autofill": {"keen": {"timestamp": "2020-01-01T00:00:00Z"}}}}})
            ),
            "options.writes.autofill"
        );
        assert_eq!(
            invalid_at(json!({"name": "k", "options": {"writes": {"autofill": {"a.b": 1}}}})),
            "options.writes.autofill"
        );
        assert_eq!(
            invalid_at(json!({"name": "k", "options": {"saved_queries": {"blocked": ["../x"]}}})),
            "options.saved_queries.blocked[0]"
        );
        assert_eq!(
            invalid_at(json!({"name": "k", "options": {"cached_queries": {"filters": []}}})),
            "options.cached_queries.filters"
        );
        assert_eq!(
            invalid_at(json!({"name": "k", "options": {"datasets": {"operations": ["write"]}}})),
            "options.datasets.operations[0]"
        );
        assert_eq!(
            invalid_at(
                json!({"name": "k", "options": {"datasets": {"allowed": {"d": {"index_by": {"p": [[1]]}}}}}})
            ),
            "options.datasets.allowed.d.index_by.p"
        );
    }

    #[test]
    fn updates_replace_sent_members_only() {
        let def = AccessKeyDef::from_json(&json!({
            "name": "k", "permitted": ["queries"],
            "options": {"queries": {"filters": [{"property_name": "t", "operator": "eq", "property_value": "A"}]}}
        }))
        .unwrap();
        let renamed = def.updated(&json!({"name": "k2"})).unwrap();
        assert_eq!(renamed.name, "k2");
        assert!(renamed.options.queries.is_some(), "options omitted stay");
        let cleared = def.updated(&json!({"options": {}})).unwrap();
        assert!(cleared.options.queries.is_none(), "options sent replace the whole object");
        let off = def.updated(&json!({"is_active": false})).unwrap();
        assert!(!off.is_active);
        assert!(def.updated(&json!({"permitted": ["nope"]})).is_err());
    }

    #[test]
    fn name_lists_compare_exact_bytes() {
        let l = NameLists { allowed: None, blocked: Some(vec!["revenue".into()]) };
        assert!(!l.permits("revenue"));
        assert!(l.permits("Revenue"));
        assert!(l.permits("revenue "));
        let only = NameLists { allowed: Some(vec!["a".into()]), blocked: Some(vec!["a".into()]) };
        assert!(!only.permits("a"), "blocked wins over allowed");
        let empty = NameLists { allowed: Some(vec![]), blocked: None };
        assert!(empty.permits("anything"), "an empty allowed list allows all");
        for bad in ["", "a b", "naïve", "a/b", "a\0b"] {
            assert!(validate_resource_name(bad, "n").is_err(), "{bad:?}");
        }
        assert!(validate_resource_name(&"x".repeat(257), "n").is_err());
        assert!(validate_resource_name("Good_name-1", "n").is_ok());
    }
}
