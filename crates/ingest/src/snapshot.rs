//! `Snapshot`: the immutable read view of a collection handed to queries.

use std::sync::Arc;

use crate::dict::{Dictionary, Dicts};
use crate::schema::Schema;
use crate::segment::Segment;
use crate::value::{ColumnId, ColumnKey};

/// An immutable view of one collection: its sealed segments plus the
/// acknowledged head rows (frozen into in-memory segments), the schema and
/// the dictionaries as of the moment it was taken.
///
/// A snapshot never changes; it includes every event acknowledged before
/// it was taken (read-your-writes). Dictionaries only grow, so ids seen in
/// the snapshot's segments always resolve.
#[derive(Debug, Clone)]
pub struct Snapshot {
    collection: String,
    segments: Vec<Arc<Segment>>,
    schema: Arc<Schema>,
    dicts: Dicts,
}

impl Snapshot {
    /// Assembles a snapshot (used by [`crate::Collection::snapshot`]).
    pub fn new(
        collection: String,
        segments: Vec<Arc<Segment>>,
        schema: Arc<Schema>,
        dicts: Dicts,
    ) -> Self {
        Snapshot { collection, segments, schema, dicts }
    }

    /// The collection's name.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The segments, sealed ones first, then head parts; each is sorted by
    /// `keen.timestamp` internally.
    pub fn segments(&self) -> &[Arc<Segment>] {
        &self.segments
    }

    /// The schema as of this snapshot.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The column id of `key`, if the collection has that column.
    pub fn column_id(&self, key: &ColumnKey) -> Option<ColumnId> {
        self.schema.id_of(key)
    }

    /// The dictionary of a string or list column.
    pub fn dictionary(&self, column: ColumnId) -> Option<&Arc<Dictionary>> {
        self.dicts.get(column)
    }

    /// All dictionaries.
    pub fn dicts(&self) -> &Dicts {
        &self.dicts
    }

    /// Total rows (including rows marked deleted).
    pub fn rows(&self) -> usize {
        self.segments.iter().map(|s| s.len()).sum()
    }

    /// Rows not deleted.
    pub fn live_rows(&self) -> u64 {
        self.segments.iter().map(|s| s.len() as u64 - s.deleted().len()).sum()
    }
}
