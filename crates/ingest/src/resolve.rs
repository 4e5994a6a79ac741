//! Resolving a parsed batch's column and dictionary ids ahead of the append.
//!
//! The single writer of a collection spends most of an append finding the
//! column of every property (a hash lookup of its path) and the dictionary
//! id of every string and list element (a hash lookup of its bytes). Both
//! maps are append-only: an id, once assigned, never changes. So any thread
//! can look ids up *before* the append, off the writer lock, against a
//! published view of the collection's schema and dictionaries
//! ([`crate::Collection::resolve`]); the append then only has to add what
//! was not there yet (new columns, new values) and copy the ids it was given.
//!
//! A [`Resolved`] is tied to one open collection (a process-unique instance
//! number) and to the exact batch it was made for (its sizes); an append
//! ignores it when either does not match, so a stale or foreign resolution
//! can only cost time, never store a wrong id.
//!
//! # Concurrency
//!
//! Only small dictionaries (at most `SMALL_DICT_VALUES` values) are
//! resolved ahead: their lookups hit the cache and they rarely grow. Large
//! ones (ids, URLs) are mostly cache misses on memory the writer has just
//! written; the writer looks those up itself.
//!
//! A resolving thread holds the read locks of the small dictionaries it
//! uses for a run of `GUARD_EVENTS` events and never waits for a lock: it
//! only *tries* to take one, and treats a dictionary that is write-locked
//! as unknown until its next release. The writer looks values up under a
//! dictionary's read lock, takes its write lock only to add values and
//! releases it after at most [`INTERN_BURST`] additions; it may wait for a
//! resolver's read lock, but a resolver never waits for anything, so
//! neither can deadlock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::dict::{list_elem_text, Dicts};
use crate::flat::{FlatBatch, FlatScalar, FlatValue, StrRef};
use crate::schema::{Schema, LOCATION_PATH, UNIQUENESS_TOKEN_PATH};
use crate::value::{ColumnId, DictId, ValueType};

/// Marks a column or value id that was not known when resolving.
pub(crate) const UNKNOWN: u32 = u32::MAX;

/// The writer adds at most this many values to one dictionary per write-lock
/// acquisition (see the module docs).
pub(crate) const INTERN_BURST: u32 = 64;

/// Dictionaries with at most this many values are resolved ahead: their
/// lookups hit the cache and they rarely grow, so holding their read lock
/// for [`GUARD_EVENTS`] events costs the writer nothing. Larger ones (ids,
/// URLs) are mostly cache misses on memory the writer just wrote, cheaper
/// for the writer itself to look up.
const SMALL_DICT_VALUES: usize = 1 << 16;

/// Read locks of small dictionaries are released every this many events.
const GUARD_EVENTS: usize = 128;

/// A column's dictionary as seen by one resolution.
enum Reader<'a> {
    /// Not looked at yet (or its lock was just released).
    Untried,
    /// Small: its read lock, held.
    Small(crate::dict::DictReader<'a>),
    /// Large or missing: not resolved ahead.
    Skip,
    /// Write-locked when tried: not resolved until the next release.
    Busy,
}

impl<'a> Reader<'a> {
    fn get(&mut self, dicts: &'a Dicts, cid: ColumnId) -> Option<&crate::dict::DictReader<'a>> {
        if matches!(self, Reader::Untried) {
            // Never wait for a lock while holding others: the writer may
            // hold this one while it waits for one of ours.
            *self = match dicts.get(cid).and_then(|d| d.try_reader()) {
                Some(g) if g.len() <= SMALL_DICT_VALUES => Reader::Small(g),
                Some(_) => Reader::Skip,
                // Busy: skip it until the next release of our locks.
                None => Reader::Busy,
            };
        }
        match self {
            Reader::Small(g) => Some(g),
            _ => None,
        }
    }
}

/// Leaves of the previous event tried past the expected one when matching
/// a leaf's path (see [`prev_leaf`]).
const LEAF_LOOKAHEAD: usize = 3;

/// The index and column of the previous event's leaf (from `cursor`, at
/// most [`LEAF_LOOKAHEAD`] past it) with path `path` and type `ty`. A path
/// the parser shared with the previous event is the same [`StrRef`], so
/// the lookahead compares references; only the expected leaf has its bytes
/// compared when the references differ.
fn prev_leaf(
    prev: &[(StrRef, ValueType, ColumnId)],
    cursor: usize,
    path: StrRef,
    ty: ValueType,
    batch: &FlatBatch,
) -> Option<(usize, ColumnId)> {
    let window = prev.get(cursor..)?;
    let window = &window[..window.len().min(1 + LEAF_LOOKAHEAD)];
    if let Some(k) = window.iter().position(|&(pp, pty, _)| pp == path && pty == ty) {
        return Some((cursor + k, window[k].2));
    }
    match window.first() {
        Some(&(pp, pty, pcid)) if pty == ty && batch.str(pp) == batch.str(path) => {
            Some((cursor, pcid))
        }
        _ => None,
    }
}

/// A column's values are looked up at least this many times per batch
/// before a low hit rate (under one in three) stops its lookups.
const SAMPLE_LOOKUPS: u32 = 256;

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// A process-unique number for one opened collection.
pub(crate) fn next_instance() -> u64 {
    NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed)
}

/// The read view resolution works against: the schema and dictionaries as
/// of the last append that added a column.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub(crate) schema: Arc<Schema>,
    pub(crate) dicts: Dicts,
    /// The collection instance these ids belong to: a new one whenever an
    /// id may stop being valid (a deleted property), so older resolutions
    /// are ignored.
    pub(crate) instance: u64,
}

/// The sizes of a [`FlatBatch`], to check that a [`Resolved`] belongs to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    events: usize,
    props: usize,
    list_elems: usize,
    arena: usize,
}

impl Shape {
    fn of(batch: &FlatBatch) -> Shape {
        Shape {
            events: batch.events.len(),
            props: batch.props.len(),
            list_elems: batch.list_elems.len(),
            arena: batch.arena.len(),
        }
    }
}

/// Column and dictionary ids of every value of one [`FlatBatch`], looked up
/// ahead of the append by [`crate::Collection::resolve`] (see the module
/// docs). Pass it to [`crate::Collection::append_resolved`] with the same
/// batch.
#[derive(Debug, Clone)]
pub struct Resolved {
    instance: u64,
    shape: Shape,
    /// Per event, the start of its slots in `cids` / `vals`; one more entry
    /// at the end. An event's slots are its properties in order, then its
    /// location, then its uniqueness token (as [`crate::BatchPlan`] counts).
    starts: Vec<u32>,
    /// Column id per slot, or [`UNKNOWN`].
    cids: Vec<ColumnId>,
    /// Per slot: a string's dictionary id, a list's first entry in `elems`,
    /// or [`UNKNOWN`].
    vals: Vec<u32>,
    /// Dictionary ids of list elements (or [`UNKNOWN`]).
    elems: Vec<DictId>,
    known: usize,
    looked_up: usize,
}

impl Resolved {
    /// `(known, looked up)`: how many string values and list elements were
    /// found in their column's dictionary, of how many looked up (for tests
    /// and benchmarks).
    pub fn hits(&self) -> (usize, usize) {
        (self.known, self.looked_up)
    }

    /// True when this was made by collection instance `instance` for `batch`.
    pub(crate) fn fits(&self, instance: u64, batch: &FlatBatch) -> bool {
        self.instance == instance && self.shape == Shape::of(batch)
    }

    /// The slots of event `ev`: `(column ids, values)`, or `None` when the
    /// event has a different number of slots than `n` (never for a fitting
    /// resolution).
    pub(crate) fn slots(&self, ev: usize, n: usize) -> Option<(&[ColumnId], &[u32])> {
        let lo = *self.starts.get(ev)? as usize;
        let hi = *self.starts.get(ev + 1)? as usize;
        (hi.checked_sub(lo) == Some(n)).then(|| (&self.cids[lo..hi], &self.vals[lo..hi]))
    }

    /// The element ids of a list slot whose value is `start`.
    pub(crate) fn elems(&self, start: u32, len: usize) -> Option<&[DictId]> {
        let start = start as usize;
        self.elems.get(start..start + len)
    }

    /// Resolves every event of `batch` against `catalog` (read-only).
    pub(crate) fn new(instance: u64, catalog: &Catalog, batch: &FlatBatch) -> Resolved {
        let slots = batch.props.len() + batch.events.len() / 4;
        let mut r = Resolved {
            instance,
            shape: Shape::of(batch),
            starts: Vec::with_capacity(batch.events.len() + 1),
            cids: Vec::with_capacity(slots),
            vals: Vec::with_capacity(slots),
            elems: Vec::new(),
            known: 0,
            looked_up: 0,
        };
        let schema = &*catalog.schema;
        let location = schema.id(LOCATION_PATH, ValueType::Geo).unwrap_or(UNKNOWN);
        let token = schema.id(UNIQUENESS_TOKEN_PATH, ValueType::String).unwrap_or(UNKNOWN);
        // Events of one collection mostly share their shape: reuse the
        // column of the previous event's leaf with the same path and type
        // (one comparison instead of a hash lookup). Leaves are matched in
        // order from a cursor with a short lookahead, like the parser's
        // paths, so a property missing from one of the two events (an
        // optional field) does not shift every later leaf off its match.
        let mut prev: Vec<(StrRef, ValueType, ColumnId)> = Vec::new();
        let mut cur: Vec<(StrRef, ValueType, ColumnId)> = Vec::new();
        let mut text = String::new();
        // Per column: (lookups, hits) in this batch. A miss is pure cost (the
        // writer looks the value up again to add it), so a column whose
        // values are mostly new stops being looked up after a sample.
        let mut tally: Vec<(u32, u32)> = vec![(0, 0); schema.len()];
        let worth = |t: &(u32, u32)| t.0 < SAMPLE_LOOKUPS || t.1.saturating_mul(3) >= t.0;
        // Per column: its dictionary's read lock, held for a run of
        // events, when the dictionary is small (see `SMALL_DICT_VALUES`).
        let mut readers: Vec<Reader<'_>> = (0..schema.len()).map(|_| Reader::Untried).collect();
        for ev_i in 0..batch.events.len() {
            if ev_i % GUARD_EVENTS == 0 {
                for rd in &mut readers {
                    if matches!(rd, Reader::Small(_) | Reader::Busy) {
                        *rd = Reader::Untried; // let a waiting writer in
                    }
                }
            }
            r.starts.push(u32::try_from(r.cids.len()).unwrap_or(u32::MAX));
            cur.clear();
            let mut cursor = 0usize;
            for p in batch.props_of(ev_i) {
                let ty = p.value.value_type();
                let cid = match prev_leaf(&prev, cursor, p.path, ty, batch) {
                    Some((k, pcid)) => {
                        cursor = k + 1;
                        pcid
                    }
                    None => schema.id(batch.str(p.path), ty).unwrap_or(UNKNOWN),
                };
                cur.push((p.path, ty, cid));
                r.cids.push(cid);
                let t = tally.get_mut(cid as usize).filter(|t| worth(t));
                let dict = match (&t, readers.get_mut(cid as usize)) {
                    (Some(_), Some(rd)) => rd.get(&catalog.dicts, cid),
                    _ => None,
                };
                let val = match (&p.value, dict) {
                    (FlatValue::Scalar(FlatScalar::Str(s)), Some(d)) => {
                        r.looked_up += 1;
                        let id = d.lookup(batch.str(*s)).unwrap_or(UNKNOWN);
                        r.known += usize::from(id != UNKNOWN);
                        if let Some(t) = t {
                            t.0 += 1;
                            t.1 += u32::from(id != UNKNOWN);
                        }
                        id
                    }
                    (FlatValue::List(l), Some(d)) => {
                        let start = u32::try_from(r.elems.len()).unwrap_or(UNKNOWN);
                        for e in batch.list(l) {
                            text.clear();
                            list_elem_text(batch, e, &mut text);
                            let id = d.lookup(&text).unwrap_or(UNKNOWN);
                            r.looked_up += 1;
                            r.known += usize::from(id != UNKNOWN);
                            r.elems.push(id);
                        }
                        if let Some(t) = t {
                            t.0 += 1;
                            let all = r
                                .elems
                                .get(start as usize..)
                                .is_some_and(|e| !e.contains(&UNKNOWN));
                            t.1 += u32::from(all);
                        }
                        start
                    }
                    _ => UNKNOWN,
                };
                r.vals.push(val);
            }
            std::mem::swap(&mut prev, &mut cur);
            let ev = &batch.events[ev_i];
            if ev.location.is_some() {
                r.cids.push(location);
                r.vals.push(UNKNOWN);
            }
            if ev.uniqueness_token.is_some() {
                // Tokens are checked against the token set under the writer
                // lock; nothing to resolve ahead.
                r.cids.push(token);
                r.vals.push(UNKNOWN);
            }
        }
        r.starts.push(u32::try_from(r.cids.len()).unwrap_or(u32::MAX));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dict::Dicts;
    use crate::event::EventParser;

    /// Every slot's column is the schema's column of its path and type,
    /// whatever the events' shapes: properties missing from one event and
    /// present in the next, reordered keys, a path that changes type, and
    /// paths the schema does not know.
    #[test]
    fn every_slot_gets_its_paths_column() {
        let mut schema = Schema::new();
        for (path, ty) in [
            ("a", ValueType::Num),
            ("b", ValueType::String),
            ("b", ValueType::Num),
            ("c.d", ValueType::Bool),
            ("e", ValueType::String),
            ("f", ValueType::List),
        ] {
            schema.get_or_insert(path, ty).unwrap();
        }
        let events = [
            r#"{"a":1,"b":"x","c":{"d":true},"e":"y","f":["p"]}"#,
            r#"{"a":2,"c":{"d":false},"e":"y","f":["q"]}"#,
            r#"{"a":3,"b":"z","c":{"d":true},"e":"w"}"#,
            r#"{"a":4,"b":7,"c":{"d":true},"e":"w","f":[]}"#,
            r#"{"e":"v","a":5,"b":"x","c":{"d":true}}"#,
            r#"{"a":6,"unknown":1,"b":"x","g":"h","c":{"d":true},"e":"y"}"#,
            r#"{"a":"now a string","b":"x","c":{"d":1},"e":"y"}"#,
            r#"{"a":8,"b":"x","c":{"d":true},"e":"y","f":["p"]}"#,
        ];
        let mut batch = FlatBatch::new();
        let mut parser = EventParser::new();
        for (i, e) in events.iter().enumerate() {
            parser.parse_at(e.as_bytes(), i, &mut batch, &Default::default()).unwrap();
        }
        let catalog =
            Catalog { schema: Arc::new(schema.clone()), dicts: Dicts::new(), instance: 1 };
        let r = Resolved::new(1, &catalog, &batch);
        for ev in 0..batch.events.len() {
            let props = batch.props_of(ev);
            let (cids, _) = r.slots(ev, props.len()).expect("one slot per property");
            for (p, &cid) in props.iter().zip(cids) {
                let want = schema.id(batch.str(p.path), p.value.value_type()).unwrap_or(UNKNOWN);
                assert_eq!(cid, want, "event {ev}, path {}", batch.str(p.path));
            }
        }
    }
}
