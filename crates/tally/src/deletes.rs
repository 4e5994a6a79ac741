//! Deletes (keen-semantics §9.6): events by filters and timeframe, a
//! property, a whole collection. Master key only ([`crate::Operation::DeleteEvents`]
//! on [`crate::KeyedProject`]); the storage side is described at
//! [`tally_ingest::Collection::delete_events`].
//!
//! Choices the spec leaves open:
//! - `delete_events` takes the endpoint's parameters as one JSON object
//!   (`filters`, `timeframe`, `timezone`; each may also be a JSON string,
//!   as query parameters arrive). Without `filters` (absent, `null` or `[]`)
//!   and without `timeframe` it deletes the collection, as the endpoint does.
//! - Deleting property `p` removes every type of `p` and every property
//!   below it (`p.x`, `p.x.y`, ...). `keen` and `keen.*` cannot be deleted
//!   (`InvalidParameterError`): they are the event's identity and time.
//! - No cap on how many events one call deletes.
//! - Cached query results are forgotten on every delete, so a deleted event
//!   leaves every later answer at once (cached queries included).

use serde_json::Value;
use tally_ingest::{Collection, IngestError};
use tally_query::{matching_rows, parse_filters, TimeRange, TimeZone, Timeframe};

use crate::error::{Error, Result};
use crate::project::Project;

/// The members `delete_events` accepts.
const DELETE_PARAMS: [&str; 3] = ["filters", "timeframe", "timezone"];

impl Project {
    /// `DELETE .../events/{collection}` (keen-semantics §9.6): deletes the
    /// events matching `params.filters` within `params.timeframe` (in
    /// `params.timezone`), or the whole collection when neither filters nor
    /// a timeframe is given. Returns the number of events deleted. An
    /// unknown collection is `ResourceNotFoundError`.
    pub fn delete_events(&self, collection: &str, params: &Value) -> Result<u64> {
        self.delete_events_at(collection, params, self.now_ms())
    }

    /// [`Project::delete_events`] with relative timeframes resolved at
    /// `now_ms`.
    pub fn delete_events_at(&self, collection: &str, params: &Value, now_ms: i64) -> Result<u64> {
        let obj = match params {
            Value::Object(m) => m,
            Value::Null => &serde_json::Map::new(),
            _ => {
                return Err(Error::InvalidParameter {
                    name: "params".into(),
                    reason: "must be a JSON object with filters, timeframe and timezone".into(),
                })
            }
        };
        if let Some(k) = obj.keys().find(|k| !DELETE_PARAMS.contains(&k.as_str())) {
            return Err(Error::InvalidParameter {
                name: k.clone(),
                reason: "unknown parameter of a delete (filters, timeframe, timezone)".into(),
            });
        }
        let null = Value::Null;
        let filters = parse_filters(obj.get("filters").unwrap_or(&null), "filters")?;
        let timezone = match obj.get("timezone") {
            Some(v) if !v.is_null() => TimeZone::parse_at(v, "timezone")?,
            _ => TimeZone::default(),
        };
        let timeframe = match obj.get("timeframe") {
            Some(v) if !v.is_null() => Some(Timeframe::parse_at(v, "timeframe")?),
            _ => None,
        };
        let coll = self.existing(collection)?;
        let range = match &timeframe {
            None if filters.is_empty() => return self.delete_collection(collection),
            None => TimeRange { start_ms: i64::MIN, end_ms: i64::MAX },
            Some(t) => t.resolve(now_ms, &timezone)?,
        };
        let deleted =
            coll.delete_events(|snap| matching_rows(snap, &filters, range).map_err(Error::from));
        let deleted = match deleted {
            Err(Error::Ingest(IngestError::Deleted { .. })) => return Err(not_found(collection)),
            other => other?,
        };
        self.saved_queries().forget_results();
        Ok(deleted)
    }

    /// Deletes a whole collection: its events, schema and uniqueness tokens
    /// (keen-semantics §9.6). Returns the number of live events it held.
    /// The next event written to the name starts a new, empty collection.
    pub fn delete_collection(&self, collection: &str) -> Result<u64> {
        let mut map = self.collections_mut();
        let Some(coll) = map.get(collection).cloned() else {
            return Err(not_found(collection));
        };
        let live = coll.snapshot().live_rows();
        // The map stays locked, so no writer can reopen the directory
        // before it is renamed away.
        match coll.delete_collection() {
            Ok(()) | Err(IngestError::Deleted { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        map.remove(collection);
        drop(map);
        self.saved_queries().forget_results();
        Ok(live)
    }

    /// `DELETE .../events/{collection}/properties/{property}` (keen-semantics
    /// §9.6): removes `property` (every type, and every property below it)
    /// from every event of the collection and from its schema. An unknown
    /// collection or property is `ResourceNotFoundError`; `keen.*` is
    /// `InvalidParameterError`.
    pub fn delete_property(&self, collection: &str, property: &str) -> Result<()> {
        if property.is_empty() {
            return Err(Error::InvalidParameter {
                name: "property".into(),
                reason: "must not be empty".into(),
            });
        }
        if property == "keen" || property.starts_with("keen.") {
            return Err(Error::InvalidParameter {
                name: "property".into(),
                reason: format!("{property:?}: keen.* properties cannot be deleted"),
            });
        }
        let coll = self.existing(collection)?;
        match coll.delete_property(property) {
            Ok(_) => {}
            Err(IngestError::Deleted { .. }) => return Err(not_found(collection)),
            Err(IngestError::NotFound { .. }) => {
                return Err(Error::NotFound {
                    what: format!("property {property:?} of collection {collection:?}"),
                })
            }
            Err(e) => return Err(e.into()),
        }
        self.saved_queries().forget_results();
        Ok(())
    }

    fn existing(&self, collection: &str) -> Result<Collection> {
        self.collection(collection).ok_or_else(|| not_found(collection))
    }
}

fn not_found(collection: &str) -> Error {
    Error::NotFound { what: format!("collection {collection:?}") }
}
