//! Value types (keen-semantics §0) and column identity.

use std::fmt;
use std::sync::Arc;

/// The type of one stored property value, named as the schema endpoints
/// name it (keen-semantics §0, §9.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// A JSON number.
    Num,
    /// A JSON string that is not a zoned ISO-8601 date-time.
    String,
    /// A JSON array of primitives.
    List,
    /// `true` / `false`.
    Bool,
    /// A zoned ISO-8601 date-time string, stored as UTC milliseconds.
    Datetime,
    /// JSON `null`.
    Null,
    /// `keen.location.coordinates`, a `[longitude, latitude]` pair.
    Geo,
}

impl ValueType {
    /// All types, in canonical order.
    pub const ALL: [ValueType; 7] = [
        ValueType::Num,
        ValueType::String,
        ValueType::List,
        ValueType::Bool,
        ValueType::Datetime,
        ValueType::Null,
        ValueType::Geo,
    ];

    /// The schema name (`"num"`, `"string"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Num => "num",
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Bool => "bool",
            ValueType::Datetime => "datetime",
            ValueType::Null => "null",
            ValueType::Geo => "geo",
        }
    }

    /// Parses a schema name back into a type.
    pub fn from_name(name: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// A stable one-byte tag used in on-disk formats.
    pub fn tag(self) -> u8 {
        match self {
            ValueType::Num => 1,
            ValueType::String => 2,
            ValueType::List => 3,
            ValueType::Bool => 4,
            ValueType::Datetime => 5,
            ValueType::Null => 6,
            ValueType::Geo => 7,
        }
    }

    /// Inverse of [`ValueType::tag`].
    pub fn from_tag(tag: u8) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.tag() == tag)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies a typed column: a flattened property path plus a value type.
///
/// A path written with two types has two columns; nothing is coerced.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnKey {
    /// Dotted property path (`user.address.city`).
    pub path: Arc<str>,
    /// The value type stored in this column.
    pub ty: ValueType,
}

impl ColumnKey {
    /// Builds a key.
    pub fn new(path: impl Into<Arc<str>>, ty: ValueType) -> Self {
        ColumnKey {
            path: path.into(),
            ty,
        }
    }

    /// The Parquet column name: `<path>::<type>`, e.g. `user.id::string`.
    ///
    /// Types never contain `:`, so the last `::` always separates path and type.
    pub fn parquet_name(&self) -> String {
        format!("{}::{}", self.path, self.ty.as_str())
    }

    /// Parses a Parquet column name made by [`ColumnKey::parquet_name`].
    pub fn from_parquet_name(name: &str) -> Option<ColumnKey> {
        let (path, ty) = name.rsplit_once("::")?;
        Some(ColumnKey::new(path, ValueType::from_name(ty)?))
    }
}

impl fmt::Display for ColumnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path, self.ty)
    }
}

/// Row index inside one segment.
pub type RowId = u32;
/// WAL sequence number; strictly increasing per collection.
pub type SeqNo = u64;
/// Segment number, unique within a collection.
pub type SegmentId = u64;
/// Index of a column in a collection's schema (stable for the collection's life).
pub type ColumnId = u32;
/// Id of a value in a collection-wide dictionary (stable, append-only).
pub type DictId = u32;

/// An engine-assigned `keen.id`: 12 bytes, printed as 24 lowercase hex chars.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub [u8; 12]);

impl EventId {
    /// Lowercase hex form, as stored in `keen.id`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.to_hex())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
