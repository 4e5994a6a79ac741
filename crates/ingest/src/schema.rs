//! The per-collection schema: an append-only map [`ColumnKey`] ↔ [`ColumnId`].
//!
//! Column ids are dense, assigned in first-seen order and never reused, so
//! they are stable for the collection's life and can name columns in every
//! segment file. Ids 0, 1 and 2 are fixed: [`TIMESTAMP_COLUMN`]
//! (`keen.timestamp`, datetime), [`CREATED_AT_COLUMN`] (`keen.created_at`,
//! datetime) and [`ID_COLUMN`] (`keen.id`, string).
//!
//! For the schema endpoint (keen-semantics §9.8) every column remembers the
//! ordinal of the last event that wrote it; [`Schema::latest_type`] is then
//! "the most recently written type" of a path and [`Schema::types_of`] lists
//! all of them.
//!
//! A deleted property's columns are *dropped* ([`Schema::drop_columns`]):
//! their ids stay taken (dictionary files and segments name columns by
//! id), but the path no longer resolves to them, they do not count against
//! the column limit, and a later event with the same path and type gets a
//! new column.
//!
//! The schema serializes (serde) as
//! `{"max_columns": N, "events": E, "columns": [{"path": P, "type": T, "last_written": O}, ...]}`
//! with columns in id order; a dropped column carries `"dropped": true`
//! (absent otherwise, so schemas without drops read and write exactly as
//! before). The path index is rebuilt on load.

use hashbrown::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, IngestError, Limit, Result};
use crate::value::{ColumnId, ColumnKey, ValueType};

/// Default for [`Schema::with_max_columns`]: typed columns per collection.
pub const DEFAULT_MAX_COLUMNS: usize = 10_000;

/// Column id of `keen.timestamp` (datetime).
pub const TIMESTAMP_COLUMN: ColumnId = 0;
/// Column id of `keen.created_at` (datetime).
pub const CREATED_AT_COLUMN: ColumnId = 1;
/// Column id of `keen.id` (string).
pub const ID_COLUMN: ColumnId = 2;

/// Path of the geo column fed by `keen.location.coordinates`.
pub const LOCATION_PATH: &str = "keen.location.coordinates";
/// Path of the string column fed by `keen.uniqueness_token`.
pub const UNIQUENESS_TOKEN_PATH: &str = "keen.uniqueness_token";

/// One column of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaColumn {
    /// The column's key (path and type).
    pub key: ColumnKey,
    /// Ordinal (see [`Schema::events`]) of the last event that wrote this
    /// column; 0 if no event wrote it yet.
    pub last_written: u64,
    /// True once the column's property was deleted (see the module docs).
    pub dropped: bool,
}

/// Append-only map between column keys and ids (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SchemaRepr", into = "SchemaRepr")]
pub struct Schema {
    columns: Vec<SchemaColumn>,
    /// path -> (type, id), in id order.
    by_path: HashMap<Arc<str>, Vec<(ValueType, ColumnId)>>,
    max_columns: usize,
    events: u64,
}

impl Default for Schema {
    fn default() -> Self {
        Schema::new()
    }
}

impl Schema {
    /// A schema holding only the three fixed `keen.*` columns, with
    /// [`DEFAULT_MAX_COLUMNS`].
    pub fn new() -> Self {
        let mut s = Schema {
            columns: Vec::new(),
            by_path: HashMap::new(),
            max_columns: DEFAULT_MAX_COLUMNS,
            events: 0,
        };
        s.push(ColumnKey::new("keen.timestamp", ValueType::Datetime), 0);
        s.push(ColumnKey::new("keen.created_at", ValueType::Datetime), 0);
        s.push(ColumnKey::new("keen.id", ValueType::String), 0);
        s
    }

    /// Sets the column limit (default [`DEFAULT_MAX_COLUMNS`]). The three
    /// fixed columns count against it. Existing columns are kept even if
    /// there are more than `max`.
    pub fn with_max_columns(mut self, max: usize) -> Self {
        self.max_columns = max;
        self
    }

    /// The column limit.
    pub fn max_columns(&self) -> usize {
        self.max_columns
    }

    fn push(&mut self, key: ColumnKey, last_written: u64) -> ColumnId {
        let id =
            ColumnId::try_from(self.columns.len()).expect("column count is bounded by max_columns");
        self.by_path.entry(key.path.clone()).or_default().push((key.ty, id));
        self.columns.push(SchemaColumn { key, last_written, dropped: false });
        id
    }

    /// Columns that are not dropped (the fixed ones included): what the
    /// column limit counts.
    pub fn live_len(&self) -> usize {
        self.columns.iter().filter(|c| !c.dropped).count()
    }

    /// True when column `id` was dropped.
    pub fn is_dropped(&self, id: ColumnId) -> bool {
        self.columns.get(id as usize).is_some_and(|c| c.dropped)
    }

    /// The live columns of property `path`: every type of `path` itself and
    /// of every path below it (`path.` + anything), in id order.
    pub fn columns_under(&self, path: &str) -> Vec<ColumnId> {
        let mut ids: Vec<ColumnId> = self
            .by_path
            .iter()
            .filter(|(p, _)| {
                p.len() >= path.len()
                    && p.starts_with(path)
                    && (p.len() == path.len() || p.as_bytes()[path.len()] == b'.')
            })
            .flat_map(|(_, v)| v.iter().map(|(_, id)| *id))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Drops columns `ids` (see the module docs); the fixed columns and
    /// unknown ids are left alone.
    pub fn drop_columns(&mut self, ids: &[ColumnId]) {
        for &id in ids {
            if id <= ID_COLUMN {
                continue;
            }
            let Some(c) = self.columns.get_mut(id as usize) else { continue };
            if c.dropped {
                continue;
            }
            c.dropped = true;
            let path = c.key.path.clone();
            if let Some(v) = self.by_path.get_mut(&path) {
                v.retain(|(_, i)| *i != id);
                if v.is_empty() {
                    self.by_path.remove(&path);
                }
            }
        }
    }

    /// Number of columns (including the fixed ones).
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Always false: the fixed columns are always there.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The key of a column.
    pub fn key(&self, id: ColumnId) -> Option<&ColumnKey> {
        self.columns.get(id as usize).map(|c| &c.key)
    }

    /// A column with its bookkeeping.
    pub fn column(&self, id: ColumnId) -> Option<&SchemaColumn> {
        self.columns.get(id as usize)
    }

    /// The id of `(path, ty)` if the column exists. Does not allocate.
    pub fn id(&self, path: &str, ty: ValueType) -> Option<ColumnId> {
        self.by_path.get(path)?.iter().find(|(t, _)| *t == ty).map(|(_, id)| *id)
    }

    /// The id of a key if the column exists.
    pub fn id_of(&self, key: &ColumnKey) -> Option<ColumnId> {
        self.id(&key.path, key.ty)
    }

    /// Fails with [`IngestError::LimitExceeded`] (`Limit::ColumnCount`) if
    /// adding `new` columns would break the limit. Changes nothing.
    pub fn check_room(&self, new: usize) -> Result<()> {
        let actual = self.live_len() + new;
        if new > 0 && actual > self.max_columns {
            return Err(IngestError::LimitExceeded {
                code: ErrorCode::InvalidEvent,
                what: "collection".to_owned(),
                limit: Limit::ColumnCount,
                max: self.max_columns,
                actual,
            });
        }
        Ok(())
    }

    /// The id of `(path, ty)`, adding the column if it is new.
    ///
    /// Fails with [`IngestError::LimitExceeded`] (`Limit::ColumnCount`,
    /// `ErrorCode::InvalidEvent`) when the column is new and the schema is
    /// full; then nothing changes.
    pub fn get_or_insert(&mut self, path: &str, ty: ValueType) -> Result<ColumnId> {
        if let Some(id) = self.id(path, ty) {
            return Ok(id);
        }
        self.check_room(1)?;
        Ok(self.push(ColumnKey::new(path, ty), 0))
    }

    /// Starts a new event and returns its ordinal (1, 2, 3, …); columns the
    /// event writes are then [`Schema::touch`]ed with it.
    pub fn next_event(&mut self) -> u64 {
        self.events += 1;
        self.events
    }

    /// Number of events started with [`Schema::next_event`].
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Records that event `ordinal` wrote column `id`.
    pub fn touch(&mut self, id: ColumnId, ordinal: u64) {
        if let Some(c) = self.columns.get_mut(id as usize) {
            c.last_written = c.last_written.max(ordinal);
        }
    }

    /// All live (not dropped) columns in id order, with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnId, &SchemaColumn)> + '_ {
        self.columns.iter().enumerate().filter(|(_, c)| !c.dropped).map(|(i, c)| (i as ColumnId, c))
    }

    /// Distinct paths, sorted by code point.
    pub fn paths(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self.by_path.keys().map(|k| &**k).collect();
        p.sort_unstable();
        p
    }

    /// Every type of a path in canonical type order (empty if unknown).
    pub fn types_of(&self, path: &str) -> Vec<ValueType> {
        let mut t: Vec<ValueType> =
            self.by_path.get(path).map(|v| v.iter().map(|(t, _)| *t).collect()).unwrap_or_default();
        t.sort_unstable();
        t
    }

    /// The most recently written type of a path (ties, e.g. never written,
    /// go to the column added last).
    pub fn latest_type(&self, path: &str) -> Option<ValueType> {
        self.by_path
            .get(path)?
            .iter()
            .max_by_key(|(_, id)| (self.columns[*id as usize].last_written, *id))
            .map(|(t, _)| *t)
    }
}

#[derive(Serialize, Deserialize)]
struct SchemaRepr {
    max_columns: usize,
    events: u64,
    columns: Vec<ColumnRepr>,
}

#[derive(Serialize, Deserialize)]
struct ColumnRepr {
    path: String,
    #[serde(rename = "type")]
    ty: String,
    last_written: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    dropped: bool,
}

impl From<Schema> for SchemaRepr {
    fn from(s: Schema) -> Self {
        SchemaRepr {
            max_columns: s.max_columns,
            events: s.events,
            columns: s
                .columns
                .into_iter()
                .map(|c| ColumnRepr {
                    path: c.key.path.to_string(),
                    ty: c.key.ty.as_str().to_owned(),
                    last_written: c.last_written,
                    dropped: c.dropped,
                })
                .collect(),
        }
    }
}

impl TryFrom<SchemaRepr> for Schema {
    type Error = String;
    fn try_from(r: SchemaRepr) -> std::result::Result<Self, String> {
        let mut s = Schema {
            columns: Vec::new(),
            by_path: HashMap::new(),
            max_columns: r.max_columns,
            events: r.events,
        };
        for c in r.columns {
            let ty = ValueType::from_name(&c.ty)
                .ok_or_else(|| format!("unknown column type {:?}", c.ty))?;
            if c.dropped {
                s.columns.push(SchemaColumn {
                    key: ColumnKey::new(c.path, ty),
                    last_written: c.last_written,
                    dropped: true,
                });
                continue;
            }
            if s.id(&c.path, ty).is_some() {
                return Err(format!("duplicate column {}::{}", c.path, c.ty));
            }
            s.push(ColumnKey::new(c.path, ty), c.last_written);
        }
        let fixed = Schema::new();
        if s.columns.len() < 3
            || s.columns[..3].iter().zip(&fixed.columns).any(|(a, b)| a.key != b.key || a.dropped)
        {
            return Err("the first three columns must be keen.timestamp, keen.created_at, keen.id"
                .to_owned());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_columns_and_types() {
        let mut s = Schema::new();
        assert_eq!(s.id("keen.timestamp", ValueType::Datetime), Some(TIMESTAMP_COLUMN));
        assert_eq!(s.id("keen.created_at", ValueType::Datetime), Some(CREATED_AT_COLUMN));
        assert_eq!(s.id("keen.id", ValueType::String), Some(ID_COLUMN));
        let a = s.get_or_insert("v", ValueType::Num).unwrap();
        let b = s.get_or_insert("v", ValueType::String).unwrap();
        assert_eq!((a, b), (3, 4));
        assert_eq!(s.get_or_insert("v", ValueType::Num).unwrap(), 3);
        let e1 = s.next_event();
        s.touch(b, e1);
        let e2 = s.next_event();
        s.touch(a, e2);
        assert_eq!(s.latest_type("v"), Some(ValueType::Num));
        assert_eq!(s.types_of("v"), vec![ValueType::Num, ValueType::String]);
        let e3 = s.next_event();
        s.touch(b, e3);
        assert_eq!(s.latest_type("v"), Some(ValueType::String));
    }

    #[test]
    fn column_limit() {
        let mut s = Schema::new().with_max_columns(4);
        s.get_or_insert("a", ValueType::Num).unwrap();
        let err = s.get_or_insert("b", ValueType::Num).unwrap_err();
        assert!(matches!(
            err,
            IngestError::LimitExceeded {
                limit: Limit::ColumnCount,
                max: 4,
                actual: 5,
                code: ErrorCode::InvalidEvent,
                ..
            }
        ));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn serde_round_trip() {
        let mut s = Schema::new().with_max_columns(77);
        s.get_or_insert("a.b", ValueType::List).unwrap();
        let e = s.next_event();
        s.touch(3, e);
        let json = serde_json::to_string(&s).unwrap();
        let back: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(
            serde_json::from_str::<Schema>(r#"{"max_columns":1,"events":0,"columns":[]}"#).is_err()
        );
    }

    #[test]
    fn dropped_columns_keep_their_ids_and_free_their_paths() {
        let mut s = Schema::new().with_max_columns(6);
        let a = s.get_or_insert("a", ValueType::Num).unwrap();
        let ab = s.get_or_insert("a.b", ValueType::String).unwrap();
        let ax = s.get_or_insert("ax", ValueType::Num).unwrap();
        assert_eq!(s.columns_under("a"), vec![a, ab]);
        assert_eq!(s.columns_under("a.b"), vec![ab]);
        assert!(s.check_room(1).is_err(), "6 of 6 columns");
        s.drop_columns(&[a, ab, ID_COLUMN]);
        assert!(s.is_dropped(a) && !s.is_dropped(ID_COLUMN) && !s.is_dropped(ax));
        assert_eq!((s.len(), s.live_len()), (6, 4));
        assert_eq!(s.id("a", ValueType::Num), None);
        assert_eq!(s.paths(), vec!["ax", "keen.created_at", "keen.id", "keen.timestamp"]);
        assert!(s.check_room(2).is_ok(), "dropped columns leave room");
        let again = s.get_or_insert("a", ValueType::Num).unwrap();
        assert_eq!(again, 6, "a new id, never the dropped one");
        // Round trip, and the member is absent for live columns.
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json.matches("\"dropped\":true").count(), 2, "{json}");
        assert_eq!(json.matches("dropped").count(), 2, "{json}");
        let back: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.id("a", ValueType::Num), Some(6));
    }
}
