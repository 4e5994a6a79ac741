//! Flattened events: the parser's output, stored in one arena per batch.
//!
//! The parser (`event.rs`) turns raw JSON bytes straight into a
//! [`FlatBatch`] with serde's streaming API — no `serde_json::Value` tree per
//! event. Paths and strings live in one byte arena; properties, list
//! elements and event headers are plain vectors of small `Copy` records, so
//! parsing a chunk of 10,000 events makes a handful of allocations.

use std::ops::Range;

use crate::value::ValueType;

/// A byte range of a [`FlatBatch`]'s arena holding UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StrRef {
    /// Offset in the arena.
    pub start: u32,
    /// Length in bytes.
    pub len: u32,
}

/// One primitive value (a leaf, or an element of a list).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlatScalar {
    /// A string that is not a zoned date-time.
    Str(StrRef),
    /// A number that is an integer in i64 range (`42` and `42.0` both land here).
    Int(i64),
    /// Any other number (finite, within ±2^63).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A zoned ISO-8601 date-time, as UTC milliseconds since the epoch.
    Datetime(i64),
    /// JSON `null`.
    Null,
}

impl FlatScalar {
    /// The value type of this scalar as a property (§0).
    pub fn value_type(&self) -> ValueType {
        match self {
            FlatScalar::Str(_) => ValueType::String,
            FlatScalar::Int(_) | FlatScalar::Float(_) => ValueType::Num,
            FlatScalar::Bool(_) => ValueType::Bool,
            FlatScalar::Datetime(_) => ValueType::Datetime,
            FlatScalar::Null => ValueType::Null,
        }
    }
}

/// The value of one flattened property. (`keen.location.coordinates` is
/// not a property: it is [`FlatEvent::location`].) 16 bytes, so a
/// [`FlatProp`] is 24: every stage after the parser walks these.
#[derive(Debug, Clone, PartialEq)]
pub enum FlatValue {
    /// A primitive leaf.
    Scalar(FlatScalar),
    /// A list: a range of [`FlatBatch::list_elems`].
    List(Range<u32>),
}

impl FlatValue {
    /// The column type this value goes to.
    pub fn value_type(&self) -> ValueType {
        match self {
            FlatValue::Scalar(s) => s.value_type(),
            FlatValue::List(_) => ValueType::List,
        }
    }
}

/// One flattened property: a dotted path and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatProp {
    /// The dotted path, in the arena.
    pub path: StrRef,
    /// The value.
    pub value: FlatValue,
}

/// Header of one parsed event inside a [`FlatBatch`].
///
/// `keen.timestamp`, `keen.uniqueness_token` and `keen.location` are pulled
/// out of the property list; `keen.created_at` and `keen.id` sent by the
/// writer are dropped (the engine assigns them); `keen.addons` is accepted
/// and dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatEvent {
    /// The event's properties, a range of [`FlatBatch::props`], in the order
    /// they appeared (depth-first).
    pub props: Range<u32>,
    /// `keen.timestamp` if the writer set it (UTC ms).
    pub timestamp: Option<i64>,
    /// `keen.uniqueness_token` if present.
    pub uniqueness_token: Option<StrRef>,
    /// `keen.location.coordinates` if present, `[longitude, latitude]`.
    pub location: Option<[f64; 2]>,
    /// The byte range of the raw event JSON in the input it was parsed from.
    pub raw: Range<usize>,
}

/// A batch of parsed events sharing one arena.
#[derive(Debug, Clone, Default)]
pub struct FlatBatch {
    /// Path and string bytes; every [`StrRef`] points in here.
    pub arena: String,
    /// All properties of all events.
    pub props: Vec<FlatProp>,
    /// All list elements of all events.
    pub list_elems: Vec<FlatScalar>,
    /// The events, in input order.
    pub events: Vec<FlatEvent>,
}

impl FlatBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text of a [`StrRef`].
    pub fn str(&self, r: StrRef) -> &str {
        &self.arena[r.start as usize..(r.start + r.len) as usize]
    }

    /// The properties of event `i`.
    pub fn props_of(&self, i: usize) -> &[FlatProp] {
        let r = &self.events[i].props;
        &self.props[r.start as usize..r.end as usize]
    }

    /// The elements of a list value.
    pub fn list(&self, r: &Range<u32>) -> &[FlatScalar] {
        &self.list_elems[r.start as usize..r.end as usize]
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Appends a string to the arena and returns its reference.
    pub fn push_str(&mut self, s: &str) -> StrRef {
        let start = self.arena.len() as u32;
        self.arena.push_str(s);
        StrRef { start, len: s.len() as u32 }
    }

    /// A mark to roll back to with [`FlatBatch::truncate`].
    pub fn mark(&self) -> BatchMark {
        BatchMark {
            arena: self.arena.len(),
            props: self.props.len(),
            list_elems: self.list_elems.len(),
            events: self.events.len(),
        }
    }

    /// Drops everything pushed after `mark` (used when an event is rejected
    /// half-way through parsing).
    pub fn truncate(&mut self, mark: BatchMark) {
        self.arena.truncate(mark.arena);
        self.props.truncate(mark.props);
        self.list_elems.truncate(mark.list_elems);
        self.events.truncate(mark.events);
    }
}

/// A position in a [`FlatBatch`] (see [`FlatBatch::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMark {
    arena: usize,
    props: usize,
    list_elems: usize,
    events: usize,
}

/// Per-event limits (keen-semantics §1.4–1.5, RELIABILITY §3c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLimits {
    /// Maximum serialized event size in bytes, as received.
    pub max_event_bytes: usize,
    /// Maximum object nesting depth below the root.
    pub max_depth: usize,
    /// Maximum leaf properties per event.
    pub max_properties: usize,
    /// Strings must have fewer than this many characters.
    pub max_string_chars: usize,
    /// Maximum characters in a property name.
    pub max_property_name_chars: usize,
    /// Maximum elements in one list.
    pub max_list_len: usize,
}

/// Default for [`EventLimits::max_event_bytes`] (Keen: 900,000 bytes).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 900_000;
/// Default for [`EventLimits::max_depth`] (keen-semantics §1.5).
pub const DEFAULT_MAX_DEPTH: usize = 32;
/// Default for [`EventLimits::max_properties`].
pub const DEFAULT_MAX_PROPERTIES: usize = 1_000;
/// Default for [`EventLimits::max_string_chars`]: strings have fewer than 10,000 characters.
pub const DEFAULT_MAX_STRING_CHARS: usize = 10_000;
/// Default for [`EventLimits::max_property_name_chars`].
pub const DEFAULT_MAX_PROPERTY_NAME_CHARS: usize = 255;
/// Default for [`EventLimits::max_list_len`].
pub const DEFAULT_MAX_LIST_LEN: usize = 10_000;

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_properties: DEFAULT_MAX_PROPERTIES,
            max_string_chars: DEFAULT_MAX_STRING_CHARS,
            max_property_name_chars: DEFAULT_MAX_PROPERTY_NAME_CHARS,
            max_list_len: DEFAULT_MAX_LIST_LEN,
        }
    }
}
