//! [`KeyedProject`]: a project as one API key sees it.
//!
//! A [`Project`] is the embedding service's own, trusted handle: it acts
//! as the master key. Requests on behalf of a key holder (a tenant, a
//! dashboard, the CLI's `--key`) go through a [`KeyedProject`]. Every one
//! of its entry points starts with the same step: resolve the key again
//! (so a revocation takes effect for the next request) and check the
//! operation against keen-semantics §8.2 with [`tally_keys::authorize`].
//! The answer's [`tally_keys::Scope`] is then applied: an access key's
//! `queries.filters` are ANDed onto every query path, its
//! `writes.autofill` is merged into every event it writes.
//!
//! A `KeyedProject` exposes no snapshot, collection or file handle: only
//! Keen's operations.
//!
//! ## What a filtered access key's answers never depend on
//!
//! An answer to a key with `queries.filters` must not change when other
//! tenants' events change (the noninterference property,
//! `tests/keys_noninterference.rs`). Two things the engine reports about
//! the whole collection are therefore re-scoped (our choices):
//!
//! - `execution_metadata`: `events_scanned` counts the timeframe's events
//!   that pass the key's filters; `properties_per_event` of a funnel or an
//!   extraction counts the paths the query reads (for an extraction
//!   without `property_names`, the paths of the events it returns), not
//!   the collection's schema.
//! - Extraction rows list their members `keen` first, then in byte order,
//!   not in the collection's first-seen column order.
//!
//! A known leak, kept on purpose: `keen.id` is seconds ‖ a per-open
//! random prefix ‖ a counter, so the ids of a key's own events show how
//! many events (of any tenant) the collection received between them.
//! Hiding the counter (a keyed permutation of it was built and measured)
//! makes the order of a key's own events with equal timestamps, which
//! keen-semantics §9.5 breaks by `keen.id`, depend on other tenants'
//! writes, so extraction rows would no longer be byte-identical across
//! worlds that differ only in other tenants' data: the noninterference
//! property the suite proves is worth more than hiding a write volume.
//! Latency is a timing channel, out of scope (RELIABILITY §3b).

use std::io::Read;

use serde_json::{Map, Value};
use tally_keys::{authorize, restrict_query, ApiKey, Operation, Scope};

use tally_query::{
    parse_query, Analysis, AnalysisKind, Common, Filter, Query, Response, TimeZone, Timeframe,
};

use crate::error::Result;
use crate::ingest::{BatchResponse, IngestSummary, NdjsonOptions};
use crate::project::Project;
use crate::schema::{CollectionSchema, PropertySchema};

/// A project seen through one API key; cheap to clone.
#[derive(Clone)]
pub struct KeyedProject {
    project: Project,
    caller: Caller,
}

/// Who a [`KeyedProject`] acts for.
#[derive(Clone, Debug)]
enum Caller {
    /// A key, resolved again on every call.
    Key(ApiKey),
    /// The embedding service or local operator, as the master key.
    Operator,
}

impl std::fmt::Debug for KeyedProject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedProject")
            .field("project", &self.project.id())
            .field("caller", &self.caller)
            .finish()
    }
}

impl Project {
    /// This project as `key` sees it. An unknown, malformed or revoked key
    /// is [`crate::Error::InvalidApiKey`].
    pub fn with_key(&self, key: &ApiKey) -> Result<KeyedProject> {
        self.principal(key)?;
        Ok(KeyedProject { project: self.clone(), caller: Caller::Key(key.clone()) })
    }

    /// This project as its master key sees it, for the embedding service's
    /// own code or a local operator who holds the data directory (the CLI
    /// without `--key`).
    pub fn as_operator(&self) -> KeyedProject {
        KeyedProject { project: self.clone(), caller: Caller::Operator }
    }
}

impl KeyedProject {
    /// Who is calling, resolved now (a revocation counts from here).
    fn principal(&self) -> Result<tally_keys::Principal> {
        match &self.caller {
            Caller::Key(key) => self.project.principal(key),
            Caller::Operator => Ok(tally_keys::Principal::Master),
        }
    }

    /// The one authorisation step of every entry point below.
    fn authorize(&self, op: Operation) -> Result<Scope> {
        Ok(authorize(&self.principal()?, op)?)
    }

    /// The project id.
    pub fn id(&self) -> &str {
        self.project.id()
    }

    /// Records one event ([`Operation::RecordEvents`]), the key's autofill
    /// merged in.
    pub fn record(&self, collection: &str, event: &[u8]) -> Result<()> {
        let scope = self.authorize(Operation::RecordEvents)?;
        match scope.autofill() {
            None => self.project.record(collection, event),
            Some(fill) => {
                let merged = self.project.autofilled(event, fill)?;
                self.project.record(collection, &merged)
            }
        }
    }

    /// Records a Keen batch document ([`Operation::RecordEvents`]), the
    /// key's autofill merged into every event.
    pub fn record_batch(&self, body: &[u8]) -> Result<BatchResponse> {
        let scope = self.authorize(Operation::RecordEvents)?;
        self.project.record_batch_with(body, scope.autofill())
    }

    /// Ingests NDJSON ([`Operation::RecordEvents`]), the key's autofill
    /// merged into every event.
    pub fn ingest_ndjson<R: Read>(
        &self,
        reader: R,
        opts: &NdjsonOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<IngestSummary> {
        let scope = self.authorize(Operation::RecordEvents)?;
        self.project.ingest_ndjson_with(reader, opts, scope.autofill(), progress)
    }

    /// Seals the project's heads ([`Operation::RecordEvents`]: a writer may
    /// make its own writes durable and sealed).
    pub fn flush(&self) -> Result<()> {
        self.authorize(Operation::RecordEvents)?;
        self.project.flush()
    }

    /// Runs a query ([`Operation::Query`]) with the key's filters ANDed on
    /// every path; "now" from the engine's clock.
    pub fn query(&self, query: &Query) -> Result<Response> {
        self.query_at(query, self.project.now_ms())
    }

    /// [`KeyedProject::query`] with "now" = `now_ms`.
    pub fn query_at(&self, query: &Query, now_ms: i64) -> Result<Response> {
        let scope = self.authorize(Operation::Query)?;
        let mut q = query.clone();
        let filters = scope.query_filters();
        restrict_query(&mut q, filters);
        let mut answer = self.project.query_at(&q, now_ms)?;
        if filters.is_empty() {
            return Ok(answer);
        }
        if let (Query::Extraction(_), Response::Json(body)) = (&q, &mut answer) {
            // Members in an order of the events' own (keen first, then
            // byte order), not the collection's first-seen column order,
            // which other tenants' writes decide.
            if let Some(rows) = body.get_mut("result").and_then(Value::as_array_mut) {
                rows.iter_mut().for_each(canonical_order);
            }
        }
        if !wants_metadata(&q) {
            return Ok(answer);
        }
        self.rescope_metadata(answer, &q, filters, now_ms)
    }

    /// `execution_metadata` as a filtered key may see it: what the engine
    /// looked at within the key's scope, never the collection as a whole
    /// (other tenants' event counts and property names). `events_scanned`
    /// counts the events of the timeframe that pass the key's filters;
    /// `properties_per_event` counts the paths the query reads (for an
    /// extraction without `property_names`, the paths of the events it
    /// returns).
    fn rescope_metadata(
        &self,
        answer: Response,
        q: &Query,
        filters: &[Filter],
        now_ms: i64,
    ) -> Result<Response> {
        let Some(mut body) = answer.into_json() else {
            return Err(crate::Error::InvalidParameter {
                name: "include_metadata".into(),
                reason: "metadata comes with JSON answers only".into(),
            });
        };
        let mut scanned = 0u64;
        let mut paths: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let count = |collection: &str, tf: Timeframe, tz: TimeZone| -> Result<u64> {
            let c = Query::Analysis {
                analysis: Analysis { kind: AnalysisKind::Count, target_property: None },
                common: Common {
                    event_collection: collection.to_string(),
                    timeframe: tf,
                    timezone: tz,
                    filters: filters.to_vec(),
                    interval: None,
                    group_by: Vec::new(),
                    order_by: Vec::new(),
                    limit: None,
                    max_age: None,
                    include_metadata: false,
                },
            };
            let r = self.project.query_at(&c, now_ms)?;
            Ok(r.json().and_then(|v| v["result"].as_u64()).unwrap_or(0))
        };
        let mut per_event = None;
        match q {
            Query::Analysis { common, .. } | Query::Multi { common, .. } => {
                scanned = count(&common.event_collection, common.timeframe, common.timezone)?;
            }
            Query::Funnel(f) => {
                for s in &f.steps {
                    scanned += count(&s.event_collection, s.timeframe, s.timezone)?;
                    paths.insert(s.actor_property.clone());
                    filter_paths(&s.filters, &mut paths);
                }
                per_event = Some(paths.len());
            }
            Query::Extraction(x) => {
                scanned = count(&x.event_collection, x.timeframe, x.timezone)?;
                match &x.property_names {
                    Some(names) => paths.extend(names.iter().cloned()),
                    None => {
                        for e in body["result"].as_array().into_iter().flatten() {
                            leaf_paths(e, "", &mut paths);
                        }
                    }
                }
                per_event = Some(paths.len());
            }
        }
        if let Some(m) = body.get_mut("execution_metadata").and_then(Value::as_object_mut) {
            m.insert("events_scanned".into(), Value::from(scanned));
            if let Some(n) = per_event {
                m.insert("properties_per_event".into(), Value::from(n as u64));
            }
        }
        Ok(Response::Json(body))
    }

    /// Parses and runs a Keen query body ([`Operation::Query`]).
    pub fn query_json(&self, body: &Value) -> Result<Response> {
        self.query_json_at(body, self.project.now_ms())
    }

    /// [`KeyedProject::query_json`] with "now" = `now_ms`. The key is
    /// checked before the body is parsed, so a refused key learns nothing
    /// from parse errors.
    pub fn query_json_at(&self, body: &Value, now_ms: i64) -> Result<Response> {
        self.authorize(Operation::Query)?;
        let q = parse_query(body)?;
        self.query_at(&q, now_ms)
    }

    /// The query resource listing ([`Operation::QueryListing`],
    /// keen-semantics §9.4).
    pub fn query_listing(&self) -> Result<Value> {
        self.authorize(Operation::QueryListing)?;
        Ok(self.project.query_listing())
    }

    /// Every collection's schema ([`Operation::Schema`]).
    pub fn schema(&self) -> Result<Vec<CollectionSchema>> {
        self.authorize(Operation::Schema)?;
        Ok(self.project.schema())
    }

    /// One collection's schema ([`Operation::Schema`]).
    pub fn collection_schema(&self, collection: &str) -> Result<CollectionSchema> {
        self.authorize(Operation::Schema)?;
        self.project.collection_schema(collection)
    }

    /// One property's schema ([`Operation::Schema`]).
    pub fn property_schema(&self, collection: &str, path: &str) -> Result<PropertySchema> {
        self.authorize(Operation::Schema)?;
        self.project.property_schema(collection, path)
    }

    /// Creates or replaces a saved query ([`Operation::SavedQueryAdmin`]).
    pub fn put_saved_query(&self, name: &str, body: &Value) -> Result<(bool, Value)> {
        self.authorize(Operation::SavedQueryAdmin)?;
        self.project.put_saved_query(name, body)
    }

    /// Lists saved-query definitions ([`Operation::SavedQueryAdmin`]).
    pub fn saved_query_list(&self) -> Result<Vec<Value>> {
        self.authorize(Operation::SavedQueryAdmin)?;
        Ok(self.project.saved_query_list())
    }

    /// One saved-query definition ([`Operation::SavedQueryAdmin`]).
    pub fn saved_query(&self, name: &str) -> Result<Value> {
        self.authorize(Operation::SavedQueryAdmin)?;
        self.project.saved_query(name)
    }

    /// Deletes a saved query ([`Operation::SavedQueryAdmin`]).
    pub fn delete_saved_query(&self, name: &str) -> Result<()> {
        self.authorize(Operation::SavedQueryAdmin)?;
        self.project.delete_saved_query(name)
    }

    /// A saved query's definition and result: [`Operation::SavedQueryResult`]
    /// for `refresh_rate` 0, [`Operation::CachedQueryResult`] otherwise,
    /// with the key's `saved_queries` or `cached_queries` rules.
    pub fn saved_query_result(&self, name: &str) -> Result<Value> {
        self.project.saved_query_result_for(&self.principal()?, name)
    }

    /// Creates or replaces a dataset ([`Operation::DatasetAdmin`]).
    pub fn put_dataset(&self, name: &str, body: &Value) -> Result<(bool, Value)> {
        self.authorize(Operation::DatasetAdmin)?;
        self.project.put_dataset(name, body)
    }

    /// Deletes a dataset ([`Operation::DatasetAdmin`]).
    pub fn delete_dataset(&self, name: &str) -> Result<()> {
        self.authorize(Operation::DatasetAdmin)?;
        self.project.delete_dataset(name)
    }

    /// One dataset's definition ([`Operation::DatasetRead`]; an access key
    /// sees only datasets its options allow).
    pub fn dataset(&self, name: &str) -> Result<Value> {
        self.project.dataset_for(&self.principal()?, name)
    }

    /// A page of the datasets the key may read ([`Operation::DatasetList`]).
    pub fn datasets(&self, limit: Option<u64>, after_name: Option<&str>) -> Result<Value> {
        self.project.datasets_for(&self.principal()?, limit, after_name)
    }

    /// Deletes the events matching `params` (`filters`, `timeframe`,
    /// `timezone`), or the collection when neither filters nor a timeframe
    /// is given ([`Operation::DeleteEvents`], master only; see
    /// [`Project::delete_events`]).
    pub fn delete_events(&self, collection: &str, params: &Value) -> Result<u64> {
        self.authorize(Operation::DeleteEvents)?;
        self.project.delete_events(collection, params)
    }

    /// [`KeyedProject::delete_events`] with relative timeframes resolved at
    /// `now_ms`.
    pub fn delete_events_at(&self, collection: &str, params: &Value, now_ms: i64) -> Result<u64> {
        self.authorize(Operation::DeleteEvents)?;
        self.project.delete_events_at(collection, params, now_ms)
    }

    /// Deletes a whole collection ([`Operation::DeleteEvents`], master only).
    pub fn delete_collection(&self, collection: &str) -> Result<u64> {
        self.authorize(Operation::DeleteEvents)?;
        self.project.delete_collection(collection)
    }

    /// Deletes a property from every event of a collection and from its
    /// schema ([`Operation::DeleteEvents`], master only).
    pub fn delete_property(&self, collection: &str, property: &str) -> Result<()> {
        self.authorize(Operation::DeleteEvents)?;
        self.project.delete_property(collection, property)
    }

    /// Dataset results ([`Operation::DatasetRetrieve`], with the key's
    /// `index_by` restrictions).
    pub fn dataset_results(
        &self,
        name: &str,
        index_by: &Value,
        timeframe: &Value,
    ) -> Result<Value> {
        self.project.dataset_results_for(&self.principal()?, name, index_by, timeframe)
    }

    /// The project's description ([`Operation::ProjectInfo`], keen-semantics
    /// §9.7).
    pub fn describe(&self) -> Result<Value> {
        self.authorize(Operation::ProjectInfo)?;
        Ok(self.project.describe())
    }

    /// Creates an access key ([`Operation::ManageAccessKeys`]).
    pub fn create_access_key(&self, definition: &Value) -> Result<Value> {
        self.authorize(Operation::ManageAccessKeys)?;
        self.project.create_access_key(definition)
    }

    /// Lists access keys ([`Operation::ManageAccessKeys`]).
    pub fn access_keys(&self) -> Result<Vec<Value>> {
        self.authorize(Operation::ManageAccessKeys)?;
        Ok(self.project.access_keys())
    }

    /// Gets one access key ([`Operation::ManageAccessKeys`]).
    pub fn access_key(&self, key: &str) -> Result<Value> {
        self.authorize(Operation::ManageAccessKeys)?;
        self.project.access_key(key)
    }

    /// Updates an access key ([`Operation::ManageAccessKeys`]).
    pub fn update_access_key(&self, key: &str, body: &Value) -> Result<Value> {
        self.authorize(Operation::ManageAccessKeys)?;
        self.project.update_access_key(key, body)
    }

    /// Revokes an access key ([`Operation::ManageAccessKeys`]).
    pub fn revoke_access_key(&self, key: &str) -> Result<Value> {
        self.authorize(Operation::ManageAccessKeys)?;
        self.project.revoke_access_key(key)
    }

    /// Reactivates an access key ([`Operation::ManageAccessKeys`]).
    pub fn unrevoke_access_key(&self, key: &str) -> Result<Value> {
        self.authorize(Operation::ManageAccessKeys)?;
        self.project.unrevoke_access_key(key)
    }

    /// Deletes an access key ([`Operation::ManageAccessKeys`]).
    pub fn delete_access_key(&self, key: &str) -> Result<()> {
        self.authorize(Operation::ManageAccessKeys)?;
        self.project.delete_access_key(key)
    }
}

impl Project {
    /// `event` with `autofill` merged in (keen-semantics §8.4). The event
    /// is checked by the event parser first, so an event the parser would
    /// refuse (a dotted or duplicate name, a bad value) is refused with
    /// the same error rather than repaired by the merge.
    pub(crate) fn autofilled(
        &self,
        event: &[u8],
        autofill: &Map<String, Value>,
    ) -> Result<Vec<u8>> {
        let mut batch = tally_ingest::FlatBatch::new();
        tally_ingest::parse_event(event, &mut batch, self.limits())?;
        Ok(merge_autofill(event, autofill).expect("a parsed event is a JSON object"))
    }

    /// The query resource listing (keen-semantics §9.4).
    pub fn query_listing(&self) -> Value {
        // The simple analyses, then the query kinds that are not one.
        let simple = tally_query::AnalysisKind::ALL.iter().map(|k| k.name());
        let types = simple.chain(["multi_analysis", "funnel", "extraction"]);
        let base = format!("/3.0/projects/{}/queries", self.id());
        let mut out = Map::new();
        for t in types {
            out.insert(format!("{t}_url"), Value::String(format!("{base}/{t}")));
        }
        out.insert("saved_url".into(), Value::String(format!("{base}/saved")));
        Value::Object(out)
    }

    /// The project's description in Keen's shape (keen-semantics §9.7).
    pub fn describe(&self) -> Value {
        let base = format!("/3.0/projects/{}", self.id());
        let events: Vec<Value> = self
            .collection_names()
            .into_iter()
            .map(|n| serde_json::json!({"url": format!("{base}/events/{n}"), "name": n}))
            .collect();
        serde_json::json!({
            "id": self.id(),
            "name": self.name(),
            "url": base,
            "events_url": format!("{base}/events"),
            "queries_url": format!("{base}/queries"),
            "events": events,
            "saved_queries": self.saved_query_names(),
        })
    }
}

/// Sorts an event's members, at every level: `keen` first, then by bytes.
fn canonical_order(v: &mut Value) {
    if let Value::Object(o) = v {
        let mut members: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
        members.sort_by(|(a, _), (b, _)| (a != "keen", a).cmp(&(b != "keen", b)));
        for (k, mut v) in members {
            canonical_order(&mut v);
            o.insert(k, v);
        }
    }
}

/// Whether a query asks for `execution_metadata`.
fn wants_metadata(q: &Query) -> bool {
    match q {
        Query::Analysis { common, .. } | Query::Multi { common, .. } => common.include_metadata,
        Query::Funnel(f) => f.include_metadata,
        Query::Extraction(x) => x.include_metadata && !x.csv && x.email.is_none(),
    }
}

/// The property paths `filters` read.
fn filter_paths(filters: &[Filter], out: &mut std::collections::BTreeSet<String>) {
    for f in filters {
        match f {
            Filter::Cmp { property, .. }
            | Filter::Exists { property, .. }
            | Filter::In { property, .. }
            | Filter::Contains { property, .. }
            | Filter::Regex { property, .. } => {
                out.insert(property.clone());
            }
            Filter::Within { .. } => {
                out.insert(tally_ingest::LOCATION_PATH.to_string());
            }
            Filter::Or(subs) => filter_paths(subs, out),
        }
    }
}

/// The dotted leaf paths of a nested JSON event.
fn leaf_paths(v: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaf_paths(v, &p, out);
            }
        }
        _ if !prefix.is_empty() => {
            out.insert(prefix.to_string());
        }
        _ => {}
    }
}

/// The bytes of `event` (a JSON object) with `autofill` merged in; `None`
/// if `event` is not a JSON object. The event's untouched members keep
/// their exact text ([`tally_keys::inject::autofill_text`]): re-printing
/// a number could move it by a rounding step.
pub(crate) fn merge_autofill(event: &[u8], autofill: &Map<String, Value>) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok()?;
    tally_keys::inject::autofill_text(text, autofill).map(String::into_bytes)
}
