//! Who may do what (keen-semantics §8.2): one table, one function.
//!
//! [`authorize`] is the single authorisation step of every facade entry
//! point. It answers a [`Scope`]: what the caller may see and what must be
//! added to its request (filters to AND on, an autofill to merge).

use std::sync::Arc;

use serde_json::{Map, Value};
use tally_query::Filter;

use crate::access::{AccessKeyDef, DatasetOp, Permission};
use crate::error::{KeysError, Result};

/// Every operation of the facade, one row each of keen-semantics §8.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Record events: single, batch, NDJSON.
    RecordEvents,
    /// Ad-hoc analyses, funnels, multi-analyses, extractions.
    Query,
    /// A saved query's result, `refresh_rate` 0.
    SavedQueryResult,
    /// A saved (cached) query's result, `refresh_rate` > 0.
    CachedQueryResult,
    /// Create, update, delete, list or get saved-query definitions.
    SavedQueryAdmin,
    /// Get a dataset definition.
    DatasetRead,
    /// List datasets.
    DatasetList,
    /// Retrieve dataset results.
    DatasetRetrieve,
    /// Create or delete datasets.
    DatasetAdmin,
    /// List collections, inspect a collection or a property.
    Schema,
    /// The query resource listing.
    QueryListing,
    /// Delete events, a collection or a property.
    DeleteEvents,
    /// Create, list, get, update, revoke, unrevoke and delete access keys.
    ManageAccessKeys,
    /// The project's description.
    ProjectInfo,
}

impl Operation {
    /// Every operation. The authorisation table test walks this list, and
    /// its `match` has no wildcard: a new operation without a row fails the
    /// build.
    pub const ALL: [Operation; 14] = [
        Operation::RecordEvents,
        Operation::Query,
        Operation::SavedQueryResult,
        Operation::CachedQueryResult,
        Operation::SavedQueryAdmin,
        Operation::DatasetRead,
        Operation::DatasetList,
        Operation::DatasetRetrieve,
        Operation::DatasetAdmin,
        Operation::Schema,
        Operation::QueryListing,
        Operation::DeleteEvents,
        Operation::ManageAccessKeys,
        Operation::ProjectInfo,
    ];

    /// What §8.2 asks of each key kind: `(read, write, access permission)`;
    /// the master key may do everything, `None` = master only.
    fn rule(self) -> Option<(bool, bool, Permission)> {
        use Operation::*;
        Some(match self {
            RecordEvents => (false, true, Permission::Writes),
            Query | QueryListing => (true, false, Permission::Queries),
            SavedQueryResult => (true, false, Permission::SavedQueries),
            CachedQueryResult => (true, false, Permission::CachedQueries),
            DatasetRead | DatasetList | DatasetRetrieve => (true, false, Permission::Datasets),
            Schema => (true, false, Permission::Schema),
            SavedQueryAdmin | DatasetAdmin | DeleteEvents | ManageAccessKeys | ProjectInfo => {
                return None
            }
        })
    }

    /// The dataset operation an access key's `datasets.operations` must
    /// list for this operation.
    fn dataset_op(self) -> Option<DatasetOp> {
        match self {
            Operation::DatasetRead => Some(DatasetOp::Read),
            Operation::DatasetList => Some(DatasetOp::List),
            Operation::DatasetRetrieve => Some(DatasetOp::Retrieve),
            _ => None,
        }
    }
}

/// Who is calling: a resolved, active key.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The project's master key (or the embedding service itself).
    Master,
    /// The project's write key.
    Write,
    /// The project's read key.
    Read,
    /// An active access key.
    Access(Arc<AccessKeyDef>),
}

/// What an authorised caller may see, and what is added to its request.
#[derive(Debug, Clone)]
pub struct Scope {
    access: Option<Arc<AccessKeyDef>>,
    op: Operation,
}

/// Checks `principal` against the §8.2 row of `op`.
///
/// Errors: a master-only operation answers [`KeysError::AdminOnly`] to any
/// other key; otherwise a key without the kind or the permission answers
/// [`KeysError::InvalidApiKey`].
pub fn authorize(principal: &Principal, op: Operation) -> Result<Scope> {
    let Some((read, write, permission)) = op.rule() else {
        return match principal {
            Principal::Master => Ok(Scope { access: None, op }),
            _ => Err(KeysError::AdminOnly),
        };
    };
    let allowed = match principal {
        Principal::Master => true,
        Principal::Read => read,
        Principal::Write => write,
        Principal::Access(def) => {
            def.is_active
                && def.permits(permission)
                && op.dataset_op().is_none_or(|o| {
                    let ops = def.options.datasets.as_ref().and_then(|d| d.operations.as_ref());
                    ops.is_none_or(|ops| ops.contains(&o))
                })
        }
    };
    if !allowed {
        return Err(KeysError::InvalidApiKey);
    }
    let access = match principal {
        Principal::Access(def) => Some(def.clone()),
        _ => None,
    };
    Ok(Scope { access, op })
}

impl Scope {
    /// The operation this scope was granted for.
    pub fn operation(&self) -> Operation {
        self.op
    }

    /// Whether the caller is an access key (its results are restricted).
    pub fn is_access_key(&self) -> bool {
        self.access.is_some()
    }

    /// The filters ANDed onto every ad-hoc query (`options.queries.filters`).
    pub fn query_filters(&self) -> &[Filter] {
        self.access
            .as_deref()
            .and_then(|d| d.options.queries.as_ref())
            .and_then(|q| q.filters.as_ref())
            .map_or(&[], |f| f.filters())
    }

    /// The object merged into every event written (`options.writes.autofill`).
    pub fn autofill(&self) -> Option<&Map<String, Value>> {
        self.access
            .as_deref()
            .and_then(|d| d.options.writes.as_ref())
            .and_then(|w| w.autofill.as_ref())
    }

    /// May the caller run saved query `name`, and with which filters
    /// (`options.saved_queries.filters`)? A refusal is
    /// [`KeysError::InvalidApiKey`].
    pub fn saved_query(&self, name: &str) -> Result<&[Filter]> {
        let Some(def) = self.access.as_deref() else { return Ok(&[]) };
        let Some(opts) = def.options.saved_queries.as_ref() else { return Ok(&[]) };
        if !opts.names.permits(name) {
            return Err(KeysError::InvalidApiKey);
        }
        Ok(opts.filters.as_ref().map_or(&[], |f| f.filters()))
    }

    /// May the caller fetch cached query `name`?
    pub fn cached_query(&self, name: &str) -> Result<()> {
        let Some(def) = self.access.as_deref() else { return Ok(()) };
        match def.options.cached_queries.as_ref() {
            Some(lists) if !lists.permits(name) => Err(KeysError::InvalidApiKey),
            _ => Ok(()),
        }
    }

    /// Whether dataset `name` is visible to the caller (listing shows only
    /// these).
    pub fn dataset_visible(&self, name: &str) -> bool {
        let Some(def) = self.access.as_deref() else { return true };
        let Some(opts) = def.options.datasets.as_ref() else { return true };
        if opts.blocked.as_ref().is_some_and(|b| b.iter().any(|n| n == name)) {
            return false;
        }
        opts.allowed.as_ref().is_none_or(|a| a.contains_key(name))
    }

    /// May the caller read dataset `name` with index values `index` (index
    /// path → requested value)? Each property of the allowance's
    /// `index_by` must be requested with one of its listed values.
    pub fn dataset(&self, name: &str, index: &Map<String, Value>) -> Result<()> {
        if !self.dataset_visible(name) {
            return Err(KeysError::InvalidApiKey);
        }
        let Some(def) = self.access.as_deref() else { return Ok(()) };
        let allowance = def
            .options
            .datasets
            .as_ref()
            .and_then(|d| d.allowed.as_ref())
            .and_then(|a| a.get(name))
            .and_then(|a| a.index_by.as_ref());
        let Some(index_by) = allowance else { return Ok(()) };
        for (prop, values) in index_by {
            match index.get(prop) {
                Some(v) if values.contains(v) => {}
                _ => return Err(KeysError::InvalidApiKey),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access(def: Value) -> Principal {
        Principal::Access(Arc::new(AccessKeyDef::from_json(&def).unwrap()))
    }

    /// The expected answer of `op` for each kind, spelled out row by row
    /// from keen-semantics §8.2. No wildcard: a new operation fails to
    /// compile until it has a row here.
    fn expected(op: Operation) -> [&'static str; 5] {
        // master, read, write, access with the permission, access without
        use Operation::*;
        const QUERY_LIKE: [&str; 5] = ["ok", "ok", "invalid", "ok", "invalid"];
        const ADMIN: [&str; 5] = ["ok", "admin", "admin", "admin", "admin"];
        match op {
            RecordEvents => ["ok", "invalid", "ok", "ok", "invalid"],
            Query => QUERY_LIKE,
            SavedQueryResult => QUERY_LIKE,
            CachedQueryResult => QUERY_LIKE,
            SavedQueryAdmin => ADMIN,
            DatasetRead => QUERY_LIKE,
            DatasetList => QUERY_LIKE,
            DatasetRetrieve => QUERY_LIKE,
            DatasetAdmin => ADMIN,
            Schema => QUERY_LIKE,
            QueryListing => QUERY_LIKE,
            DeleteEvents => ADMIN,
            ManageAccessKeys => ADMIN,
            ProjectInfo => ADMIN,
        }
    }

    fn outcome(r: Result<Scope>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(KeysError::InvalidApiKey) => "invalid",
            Err(KeysError::AdminOnly) => "admin",
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn every_operation_follows_its_row() {
        let all: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        let everything = access(json!({"name": "all", "permitted": all}));
        let nothing = access(json!({"name": "none", "permitted": []}));
        for op in Operation::ALL {
            let got = [
                outcome(authorize(&Principal::Master, op)),
                outcome(authorize(&Principal::Read, op)),
                outcome(authorize(&Principal::Write, op)),
                outcome(authorize(&everything, op)),
                outcome(authorize(&nothing, op)),
            ];
            assert_eq!(got, expected(op), "{op:?}");
        }
    }

    #[test]
    fn each_permission_opens_only_its_rows() {
        for p in Permission::ALL {
            let key = access(json!({"name": "one", "permitted": [p.as_str()]}));
            for op in Operation::ALL {
                let ok = authorize(&key, op).is_ok();
                assert_eq!(ok, op.rule().is_some_and(|r| r.2 == p), "{p:?} {op:?}");
            }
        }
    }

    #[test]
    fn an_inactive_key_is_refused_like_an_unknown_one() {
        let key = access(json!({"name": "off", "is_active": false, "permitted": ["queries"]}));
        assert_eq!(authorize(&key, Operation::Query).unwrap_err(), KeysError::InvalidApiKey);
        assert_eq!(authorize(&key, Operation::ManageAccessKeys).unwrap_err(), KeysError::AdminOnly);
    }

    #[test]
    fn scopes_carry_filters_autofill_and_resource_rules() {
        let key = access(json!({
            "name": "t", "permitted": ["writes", "queries", "saved_queries", "cached_queries", "datasets"],
            "options": {
                "writes": {"autofill": {"tenant": "A"}},
                "queries": {"filters": [{"property_name": "tenant", "operator": "eq", "property_value": "A"}]},
                "saved_queries": {"blocked": ["secret"], "filters": [{"property_name": "x", "operator": "exists", "property_value": true}]},
                "cached_queries": {"allowed": ["c1"]},
                "datasets": {"operations": ["retrieve"],
                             "allowed": {"d": {"index_by": {"tenant": ["A"]}}, "free": {}},
                             "blocked": ["free"]}
            }
        }));
        let q = authorize(&key, Operation::Query).unwrap();
        assert_eq!(q.query_filters().len(), 1);
        assert!(q.is_access_key());
        let w = authorize(&key, Operation::RecordEvents).unwrap();
        assert_eq!(w.autofill().unwrap()["tenant"], "A");
        let s = authorize(&key, Operation::SavedQueryResult).unwrap();
        assert_eq!(s.saved_query("mine").unwrap().len(), 1);
        assert_eq!(s.saved_query("secret").unwrap_err(), KeysError::InvalidApiKey);
        let c = authorize(&key, Operation::CachedQueryResult).unwrap();
        assert!(c.cached_query("c1").is_ok());
        assert!(c.cached_query("c2").is_err());
        assert!(authorize(&key, Operation::DatasetRead).is_err(), "operations lists retrieve only");
        let d = authorize(&key, Operation::DatasetRetrieve).unwrap();
        let idx = |v: Value| v.as_object().unwrap().clone();
        assert!(d.dataset("d", &idx(json!({"tenant": "A"}))).is_ok());
        assert!(d.dataset("d", &idx(json!({"tenant": "B"}))).is_err());
        assert!(d.dataset("d", &idx(json!({}))).is_err());
        assert!(d.dataset("free", &idx(json!({}))).is_err(), "blocked wins");
        assert!(d.dataset("other", &idx(json!({}))).is_err(), "not in allowed");
        assert!(!d.dataset_visible("other"));
        // The master key is never restricted.
        let m = authorize(&Principal::Master, Operation::Query).unwrap();
        assert!(m.query_filters().is_empty() && m.autofill().is_none() && !m.is_access_key());
    }
}
