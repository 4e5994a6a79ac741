//! The head: a collection's mutable, not yet sealed rows, stored by column.
//!
//! Rows are appended in arrival order. `keen.timestamp`, `keen.created_at`
//! and `keen.id` are dense vectors; every other column is sparse: the head
//! rows that have a value of that column's type, plus the values. String and
//! list values are interned in the collection's [`Dicts`] as they arrive.
//! [`crate::build_segment`] turns any contiguous row range into a sorted,
//! indexed [`crate::Segment`].

use crate::dict::{list_elem_text, BurstInterner, Dicts};
use crate::error::Result;
use crate::flat::{FlatBatch, FlatScalar, FlatValue};
use crate::resolve::{Resolved, INTERN_BURST, UNKNOWN as UNKNOWN_VALUE};
use crate::schema::{
    Schema, CREATED_AT_COLUMN, ID_COLUMN, LOCATION_PATH, TIMESTAMP_COLUMN, UNIQUENESS_TOKEN_PATH,
};
use crate::value::{ColumnId, DictId, EventId, ValueType};

/// A number as stored: integers exact, others as f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer in i64 range.
    Int(i64),
    /// Any other number.
    Float(f64),
}

impl Num {
    /// The value as f64 (integers beyond 2^53 round).
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// The values of one [`HeadColumn`], one per entry of its `rows`.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadValues {
    /// Dictionary ids of string values.
    Str(Vec<DictId>),
    /// Numbers.
    Num(Vec<Num>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Datetimes, UTC milliseconds.
    Datetime(Vec<i64>),
    /// Lists: value `i` is `elems[offsets[i]..offsets[i + 1]]` (element dict
    /// ids of the list column's dictionary); `offsets` starts with 0.
    List {
        /// `rows.len() + 1` offsets into `elems`.
        offsets: Vec<u32>,
        /// Element dictionary ids.
        elems: Vec<DictId>,
    },
    /// `null` values: presence only.
    Null,
    /// `[longitude, latitude]` pairs.
    Geo(Vec<[f64; 2]>),
}

impl HeadValues {
    fn new(ty: ValueType) -> Self {
        match ty {
            ValueType::String => HeadValues::Str(Vec::new()),
            ValueType::Num => HeadValues::Num(Vec::new()),
            ValueType::Bool => HeadValues::Bool(Vec::new()),
            ValueType::Datetime => HeadValues::Datetime(Vec::new()),
            ValueType::List => HeadValues::List { offsets: vec![0], elems: Vec::new() },
            ValueType::Null => HeadValues::Null,
            ValueType::Geo => HeadValues::Geo(Vec::new()),
        }
    }

    /// [`make_room`] for one more value (lists: one more offset).
    fn make_room(&mut self, entries: usize, rows: usize, hint: usize) {
        match self {
            HeadValues::Str(v) => make_room(v, entries, rows, hint),
            HeadValues::Num(v) => make_room(v, entries, rows, hint),
            HeadValues::Bool(v) => make_room(v, entries, rows, hint),
            HeadValues::Datetime(v) => make_room(v, entries, rows, hint),
            HeadValues::List { offsets, .. } => make_room(offsets, entries + 1, rows, hint),
            HeadValues::Null => {}
            HeadValues::Geo(v) => make_room(v, entries, rows, hint),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            HeadValues::Str(v) => v.capacity() * 4,
            HeadValues::Num(v) => v.capacity() * std::mem::size_of::<Num>(),
            HeadValues::Bool(v) => v.capacity(),
            HeadValues::Datetime(v) => v.capacity() * 8,
            HeadValues::List { offsets, elems } => offsets.capacity() * 4 + elems.capacity() * 4,
            HeadValues::Null => 0,
            HeadValues::Geo(v) => v.capacity() * 16,
        }
    }
}

/// One sparse column of the head.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadColumn {
    /// Head rows holding a value, strictly increasing.
    pub rows: Vec<u32>,
    /// The values, one per entry of `rows`.
    pub values: HeadValues,
}

impl HeadColumn {
    /// The entries whose row lies in `rows`, as a range of entry indexes.
    pub fn entries_in(&self, rows: &std::ops::Range<usize>) -> std::ops::Range<usize> {
        let lo = self.rows.partition_point(|&r| (r as usize) < rows.start);
        let hi = self.rows.partition_point(|&r| (r as usize) < rows.end);
        lo..hi
    }

    /// Removes the last entry (a path written twice in one event: last wins).
    fn pop(&mut self) {
        self.rows.pop();
        match &mut self.values {
            HeadValues::Str(v) => drop(v.pop()),
            HeadValues::Num(v) => drop(v.pop()),
            HeadValues::Bool(v) => drop(v.pop()),
            HeadValues::Datetime(v) => drop(v.pop()),
            HeadValues::List { offsets, elems } => {
                offsets.pop();
                let end = *offsets.last().expect("offsets keep their leading 0") as usize;
                elems.truncate(end);
            }
            HeadValues::Null => {}
            HeadValues::Geo(v) => drop(v.pop()),
        }
    }
}

/// The mutable rows of one collection (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// `keen.timestamp` per row (UTC ms).
    pub timestamps: Vec<i64>,
    /// `keen.created_at` per row (UTC ms).
    pub created_at: Vec<i64>,
    /// `keen.id` per row.
    pub ids: Vec<EventId>,
    columns: Vec<Option<HeadColumn>>,
    /// Rows the head is expected to reach (its collection's segment size;
    /// 0 = unknown): see [`Head::set_row_hint`].
    row_hint: usize,
}

impl PartialEq for Head {
    /// Equal rows and columns (the row hint is tuning, not content).
    fn eq(&self, other: &Self) -> bool {
        self.timestamps == other.timestamps
            && self.created_at == other.created_at
            && self.ids == other.ids
            && self.columns == other.columns
    }
}

/// Vectors of at least this many entries grow to their expected final
/// size at once (see [`Head::set_row_hint`]) rather than by doubling.
const HINTED_GROWTH_MIN: usize = 1 << 16;

/// Makes room for one more entry in `v`, a vector of a column that had
/// `entries` values in the head's first `rows` rows: once it is large, to
/// the size its density so far gives it at `hint` rows (an eighth more, at
/// most 8× its length), else as `Vec::push` would.
#[inline]
fn make_room<T>(v: &mut Vec<T>, entries: usize, rows: usize, hint: usize) {
    if v.len() < v.capacity() {
        return;
    }
    let len = v.len();
    if len < HINTED_GROWTH_MIN || hint <= rows {
        v.reserve(1);
        return;
    }
    let expected = entries as u128 * hint as u128 / rows.max(1) as u128;
    let padded = usize::try_from(expected + expected / 8).unwrap_or(usize::MAX);
    let target = padded.clamp(len.saturating_mul(2), len.saturating_mul(8));
    v.reserve_exact(target - len);
}

impl Head {
    /// An empty head.
    pub fn new() -> Self {
        Head::default()
    }

    /// Tells the head how many rows it is expected to reach (the segment
    /// size it is sealed at). Large columns then grow once to their
    /// expected size instead of doubling: each doubling copied the column
    /// into fresh pages. Only capacity changes; memory is touched as rows
    /// arrive.
    pub fn set_row_hint(&mut self, rows: usize) {
        self.row_hint = rows;
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// True when the head holds no row.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The sparse column `id` (never the three fixed `keen.*` columns).
    pub fn column(&self, id: ColumnId) -> Option<&HeadColumn> {
        self.columns.get(id as usize)?.as_ref()
    }

    /// All sparse columns with their ids, in id order.
    pub fn columns(&self) -> impl Iterator<Item = (ColumnId, &HeadColumn)> + '_ {
        self.columns.iter().enumerate().filter_map(|(i, c)| Some((i as ColumnId, c.as_ref()?)))
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.timestamps.capacity() * 16
            + self.ids.capacity() * 12
            + self.columns.capacity() * std::mem::size_of::<Option<HeadColumn>>()
            + self
                .columns()
                .map(|(_, c)| c.rows.capacity() * 4 + c.values.memory_bytes())
                .sum::<usize>()
    }

    /// Drops every row from `rows` on (a no-op when the head is shorter):
    /// undoes an append whose WAL write failed after the rows were added.
    pub fn truncate(&mut self, rows: usize) {
        if rows >= self.len() {
            return;
        }
        self.timestamps.truncate(rows);
        self.created_at.truncate(rows);
        self.ids.truncate(rows);
        for col in self.columns.iter_mut().flatten() {
            let keep = col.rows.partition_point(|&r| (r as usize) < rows);
            col.rows.truncate(keep);
            match &mut col.values {
                HeadValues::Str(v) => v.truncate(keep),
                HeadValues::Num(v) => v.truncate(keep),
                HeadValues::Bool(v) => v.truncate(keep),
                HeadValues::Datetime(v) => v.truncate(keep),
                HeadValues::List { offsets, elems } => {
                    offsets.truncate(keep + 1);
                    let end = *offsets.last().expect("offsets keep their leading 0") as usize;
                    elems.truncate(end);
                }
                HeadValues::Null => {}
                HeadValues::Geo(v) => v.truncate(keep),
            }
        }
    }

    /// Appends many events of `batch` as new rows, in order: `rows[k] =
    /// (event index, created_at, id)`. Equivalent to calling
    /// [`Head::append`] for each, but resolves each property's column once
    /// and holds every dictionary's write lock for the whole batch, walking
    /// the batch in row order (its memory is read once, front to back).
    ///
    /// All or nothing: if the new columns of all events together break the
    /// column limit, nothing changes and the error is returned.
    pub fn append_batch(
        &mut self,
        batch: &FlatBatch,
        rows: &[(usize, i64, EventId)],
        schema: &mut Schema,
        dicts: &mut Dicts,
    ) -> Result<()> {
        let events: Vec<usize> = rows.iter().map(|r| r.0).collect();
        let plan = BatchPlan::new(batch, &events, schema);
        schema.check_room(plan.new_columns)?;
        self.apply_batch(batch, rows, plan, schema, dicts);
        Ok(())
    }

    /// Appends `rows` with a [`BatchPlan`] made for exactly these events
    /// (`rows[k].0 == events[k]`) against this schema; the caller has
    /// checked the column limit for [`BatchPlan::new_columns`].
    pub fn apply_batch(
        &mut self,
        batch: &FlatBatch,
        rows: &[(usize, i64, EventId)],
        plan: BatchPlan,
        schema: &mut Schema,
        dicts: &mut Dicts,
    ) {
        self.apply_batch_resolved(batch, rows, plan, None, schema, dicts);
    }

    /// [`Head::apply_batch`] taking the dictionary ids of string values and
    /// list elements from `resolved` where it knows them (only the rest is
    /// interned). `resolved` must have been made for `batch` by
    /// [`crate::Collection::resolve`] of the collection this head belongs to
    /// (the collection checks that before calling); the plan may come from
    /// [`BatchPlan::with_resolved`] with the same resolution.
    pub fn apply_batch_resolved(
        &mut self,
        batch: &FlatBatch,
        rows: &[(usize, i64, EventId)],
        plan: BatchPlan,
        resolved: Option<&Resolved>,
        schema: &mut Schema,
        dicts: &mut Dicts,
    ) {
        const UNKNOWN: ColumnId = ColumnId::MAX;
        let mut cids = plan.cids;
        let any_new = plan.new_columns > 0;

        // 2. Nothing below fails. Dictionaries of every string and list
        //    column, write-locked once for the batch.
        let row0 = u32::try_from(self.len()).expect("a head holds fewer than 2^32 rows");
        let mut at = 0usize;
        let mut text = String::new();
        if any_new {
            // Add the new columns first (in first-seen order, as one-by-one
            // appends would), so every dictionary exists before locking.
            let mut k = 0usize;
            for &(ev_i, _, _) in rows {
                let ev = &batch.events[ev_i];
                for p in batch.props_of(ev_i) {
                    if cids[k] == UNKNOWN {
                        cids[k] = schema
                            .get_or_insert(batch.str(p.path), p.value.value_type())
                            .expect("room for new columns was checked");
                    }
                    k += 1;
                }
                if ev.location.is_some() {
                    if cids[k] == UNKNOWN {
                        cids[k] =
                            schema.get_or_insert(LOCATION_PATH, ValueType::Geo).expect("room");
                    }
                    k += 1;
                }
                if ev.uniqueness_token.is_some() {
                    if cids[k] == UNKNOWN {
                        cids[k] = schema
                            .get_or_insert(UNIQUENESS_TOKEN_PATH, ValueType::String)
                            .expect("room");
                    }
                    k += 1;
                }
            }
        }
        let arcs: Vec<Option<std::sync::Arc<crate::dict::Dictionary>>> = (0..schema.len())
            .map(|cid| {
                // keen.id is a fixed column stored beside the rows, never
                // through a dictionary; a dropped column gets no values.
                let ty = schema.key(cid as ColumnId).expect("column exists").ty;
                (cid as ColumnId != ID_COLUMN
                    && matches!(ty, ValueType::String | ValueType::List)
                    && !schema.is_dropped(cid as ColumnId))
                .then(|| dicts.dict_mut(cid as ColumnId).clone())
            })
            .collect();
        let mut writers: Vec<Option<BurstInterner<'_>>> = arcs
            .iter()
            .map(|a| a.as_deref().map(|d| BurstInterner::new(d, INTERN_BURST)))
            .collect();
        if self.columns.len() < schema.len() {
            self.columns.resize_with(schema.len(), || None);
        }

        let hint = self.row_hint;
        // 3. Row by row, push every value.
        for (k, &(ev_i, created_at, id)) in rows.iter().enumerate() {
            let row = row0 + k as u32;
            let ev = &batch.events[ev_i];
            let ordinal = schema.next_event();
            let props = batch.props_of(ev_i);
            let n = props.len()
                + usize::from(ev.location.is_some())
                + usize::from(ev.uniqueness_token.is_some());
            let known = resolved.and_then(|r| r.slots(ev_i, n)).map(|(_, v)| v);
            for (j, &cid) in cids[at..at + n].iter().enumerate() {
                schema.touch(cid, ordinal);
                let ty = schema.key(cid).expect("column exists").ty;
                let col = self.columns[cid as usize].get_or_insert_with(|| HeadColumn {
                    rows: Vec::new(),
                    values: HeadValues::new(ty),
                });
                if col.rows.last() == Some(&row) {
                    col.pop(); // a path written twice in one event: last wins
                }
                let (entries, seen) = (col.rows.len(), row as usize + 1);
                make_room(&mut col.rows, entries, seen, hint);
                col.rows.push(row);
                col.values.make_room(entries, seen, hint);
                let value = if j < props.len() { Some(&props[j].value) } else { None };
                match (&mut col.values, value) {
                    (HeadValues::Str(out), Some(FlatValue::Scalar(FlatScalar::Str(r)))) => {
                        match known.map(|k| k[j]) {
                            Some(id) if id != UNKNOWN_VALUE => out.push(id),
                            _ => out.push(interner(&mut writers, cid).intern(batch.str(*r))),
                        }
                    }
                    (HeadValues::Str(out), None) => {
                        // keen.uniqueness_token (location is never a string column)
                        let tok = ev.uniqueness_token.expect("the extra string value is the token");
                        out.push(interner(&mut writers, cid).intern(batch.str(tok)));
                    }
                    (HeadValues::List { offsets, elems }, Some(FlatValue::List(r))) => {
                        let list = batch.list(r);
                        let ids = match known.map(|k| k[j]) {
                            Some(start) if start != UNKNOWN_VALUE => {
                                resolved.and_then(|res| res.elems(start, list.len()))
                            }
                            _ => None,
                        };
                        for (q, e) in list.iter().enumerate() {
                            match ids.map(|ids| ids[q]) {
                                Some(id) if id != UNKNOWN_VALUE => elems.push(id),
                                _ => {
                                    text.clear();
                                    list_elem_text(batch, e, &mut text);
                                    elems.push(interner(&mut writers, cid).intern(&text));
                                }
                            }
                        }
                        offsets.push(
                            u32::try_from(elems.len())
                                .expect("a head list column holds fewer than 2^32 elements"),
                        );
                    }
                    (HeadValues::Geo(out), None) => {
                        out.push(ev.location.expect("the extra geo value is the location"));
                    }
                    (HeadValues::Num(out), Some(FlatValue::Scalar(FlatScalar::Int(i)))) => {
                        out.push(Num::Int(*i))
                    }
                    (HeadValues::Num(out), Some(FlatValue::Scalar(FlatScalar::Float(f)))) => {
                        out.push(Num::Float(*f))
                    }
                    (HeadValues::Bool(out), Some(FlatValue::Scalar(FlatScalar::Bool(b)))) => {
                        out.push(*b)
                    }
                    (
                        HeadValues::Datetime(out),
                        Some(FlatValue::Scalar(FlatScalar::Datetime(ms))),
                    ) => out.push(*ms),
                    (HeadValues::Null, Some(FlatValue::Scalar(FlatScalar::Null))) => {}
                    _ => unreachable!("the column type matches the value type by construction"),
                }
            }
            at += n;
            let seen = row as usize + 1;
            make_room(&mut self.created_at, seen - 1, seen, hint);
            make_room(&mut self.ids, seen - 1, seen, hint);
            make_room(&mut self.timestamps, seen - 1, seen, hint);
            schema.touch(TIMESTAMP_COLUMN, ordinal);
            schema.touch(CREATED_AT_COLUMN, ordinal);
            schema.touch(ID_COLUMN, ordinal);
            self.created_at.push(created_at);
            self.ids.push(id);
            self.timestamps.push(ev.timestamp.unwrap_or(created_at));
        }
        drop(writers);
    }

    /// Appends event `event` of `batch` as a new row.
    ///
    /// The row's `keen.timestamp` is the event's timestamp or `created_at`;
    /// `keen.location.coordinates` goes to a geo column and
    /// `keen.uniqueness_token` to a string column (whose dictionary is then
    /// the collection's token set, see [`uniqueness_token_seen`]). Atomic:
    /// the column limit is checked for all new columns first, so on error
    /// nothing changed.
    pub fn append(
        &mut self,
        batch: &FlatBatch,
        event: usize,
        created_at: i64,
        id: EventId,
        schema: &mut Schema,
        dicts: &mut Dicts,
    ) -> Result<()> {
        self.append_batch(batch, &[(event, created_at, id)], schema, dicts)
    }
}

/// The interner of string or list column `cid`.
fn interner<'w, 'a>(
    writers: &'w mut [Option<BurstInterner<'a>>],
    cid: ColumnId,
) -> &'w mut BurstInterner<'a> {
    writers[cid as usize].as_mut().expect("string and list columns have a dictionary")
}

/// True if `token` was already recorded as a `keen.uniqueness_token` in the
/// collection (the token column's dictionary is the collection's token set).
pub fn uniqueness_token_seen(schema: &Schema, dicts: &Dicts, token: &str) -> bool {
    schema
        .id(UNIQUENESS_TOKEN_PATH, ValueType::String)
        .and_then(|c| dicts.get(c))
        .is_some_and(|d| d.lookup(token).is_some())
}

/// The columns of a batch's values, resolved once against the schema
/// (see [`Head::apply_batch`]); columns not in the schema yet are
/// counted in `new_columns` and added when the plan is applied.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    cids: Vec<ColumnId>,
    /// Distinct columns the batch would add.
    pub new_columns: usize,
}

impl BatchPlan {
    /// Resolves the columns of `events` (indexes into `batch`); read-only.
    pub fn new(batch: &FlatBatch, events: &[usize], schema: &Schema) -> BatchPlan {
        BatchPlan::with_resolved(batch, events, schema, None)
    }

    /// [`BatchPlan::new`] taking the column ids `resolved` (made for `batch`
    /// by this collection) knows, looking up only the others.
    pub fn with_resolved(
        batch: &FlatBatch,
        events: &[usize],
        schema: &Schema,
        resolved: Option<&Resolved>,
    ) -> BatchPlan {
        const UNKNOWN: ColumnId = ColumnId::MAX;
        let mut cids: Vec<ColumnId> = Vec::with_capacity(events.len() * 16);
        let mut new: Vec<(&str, ValueType)> = Vec::new();
        for &ev_i in events {
            let ev = &batch.events[ev_i];
            let props = batch.props_of(ev_i);
            if let Some(res) = resolved {
                let n = props.len()
                    + usize::from(ev.location.is_some())
                    + usize::from(ev.uniqueness_token.is_some());
                if let Some((known, _)) = res.slots(ev_i, n) {
                    if !known.contains(&UNKNOWN) {
                        cids.extend_from_slice(known);
                        continue;
                    }
                }
            }
            for p in props {
                let (path, ty) = (batch.str(p.path), p.value.value_type());
                let id = schema.id(path, ty);
                if id.is_none() && !new.contains(&(path, ty)) {
                    new.push((path, ty));
                }
                cids.push(id.unwrap_or(UNKNOWN));
            }
            if ev.location.is_some() {
                let id = schema.id(LOCATION_PATH, ValueType::Geo);
                if id.is_none() && !new.contains(&(LOCATION_PATH, ValueType::Geo)) {
                    new.push((LOCATION_PATH, ValueType::Geo));
                }
                cids.push(id.unwrap_or(UNKNOWN));
            }
            if ev.uniqueness_token.is_some() {
                let id = schema.id(UNIQUENESS_TOKEN_PATH, ValueType::String);
                if id.is_none() && !new.contains(&(UNIQUENESS_TOKEN_PATH, ValueType::String)) {
                    new.push((UNIQUENESS_TOKEN_PATH, ValueType::String));
                }
                cids.push(id.unwrap_or(UNKNOWN));
            }
        }
        BatchPlan { cids, new_columns: new.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large vector grows once to its density's share of the hinted
    /// rows (an eighth more), within 2× and 8× its length; a small one, or
    /// one without a usable hint, grows as `push` would.
    #[test]
    fn make_room_grows_large_vectors_to_their_expected_size() {
        let n = HINTED_GROWTH_MIN;
        let full = || {
            let mut v: Vec<u32> = vec![0; n];
            v.shrink_to_fit();
            assert_eq!(v.capacity(), n);
            v
        };
        // Dense: n entries in n rows, 4n rows expected.
        let mut v = full();
        make_room(&mut v, n, n, 4 * n);
        assert_eq!(v.capacity(), 4 * n + n / 2);
        // Half dense: 2n expected entries, but at least doubled.
        let mut v = full();
        make_room(&mut v, n, 2 * n, 3 * n);
        assert_eq!(v.capacity(), 2 * n);
        // A hint far away is capped at 8×.
        let mut v = full();
        make_room(&mut v, n, n, usize::MAX);
        assert_eq!(v.capacity(), 8 * n);
        // No hint (or past it): ordinary growth; room left: nothing.
        let mut v = full();
        make_room(&mut v, n, n, 0);
        assert!(v.capacity() > n && v.capacity() <= 2 * n);
        let mut v: Vec<u32> = Vec::with_capacity(10);
        make_room(&mut v, 0, 0, 1 << 20);
        assert_eq!(v.capacity(), 10);
    }
    use crate::error::{IngestError, Limit};
    use crate::flat::{FlatEvent, FlatProp};

    pub(crate) fn event(batch: &mut FlatBatch, ts: Option<i64>, props: &[(&str, FlatValue)]) {
        let start = batch.props.len() as u32;
        for (p, v) in props {
            let path = batch.push_str(p);
            batch.props.push(FlatProp { path, value: v.clone() });
        }
        let end = batch.props.len() as u32;
        batch.events.push(FlatEvent {
            props: start..end,
            timestamp: ts,
            uniqueness_token: None,
            location: None,
            raw: 0..0,
        });
    }

    /// `append_batch` is `append` event by event: same rows, columns,
    /// schema (ordinals included) and dictionary ids, on generated events
    /// with conflicts, nulls, lists, locations, tokens and a path written
    /// twice in one event.
    #[test]
    fn append_batch_equals_appending_one_by_one() {
        for seed in [1u64, 2, 3] {
            let mut g =
                crate::Generator::new(crate::GeneratorConfig { seed, ..Default::default() });
            let mut batch = FlatBatch::new();
            let extra: [&[u8]; 3] = [
                br#"{"a": 1, "a": 2}"#,
                br#"{"keen": {"location": {"coordinates": [10.5, 59.9]}, "uniqueness_token": "t1"}, "x": "y"}"#,
                br#"{"tags": ["a", 1, true, null, "2024-06-12T14:35:20Z"], "n": null}"#,
            ];
            for (k, raw) in extra.iter().enumerate() {
                // The duplicate-key event is rejected by the parser; build it by hand.
                if k == 0 {
                    let p = batch.push_str("a");
                    let q = batch.push_str("a");
                    let start = batch.props.len() as u32;
                    batch
                        .props
                        .push(FlatProp { path: p, value: FlatValue::Scalar(FlatScalar::Int(1)) });
                    batch
                        .props
                        .push(FlatProp { path: q, value: FlatValue::Scalar(FlatScalar::Int(2)) });
                    batch.events.push(FlatEvent {
                        props: start..start + 2,
                        timestamp: None,
                        uniqueness_token: None,
                        location: None,
                        raw: 0..0,
                    });
                } else {
                    crate::parse_event(raw, &mut batch, &Default::default()).unwrap();
                }
            }
            let mut line = String::new();
            for _ in 0..1_500 {
                line.clear();
                g.next_event(&mut line);
                crate::parse_event(line.as_bytes(), &mut batch, &Default::default()).unwrap();
            }
            let rows: Vec<(usize, i64, EventId)> =
                (0..batch.len()).map(|i| (i, 1_000 + i as i64, EventId([i as u8; 12]))).collect();
            let (mut h1, mut s1, mut d1) = (Head::new(), Schema::new(), Dicts::new());
            for &(i, c, id) in &rows {
                h1.append(&batch, i, c, id, &mut s1, &mut d1).unwrap();
            }
            let (mut h2, mut s2, mut d2) = (Head::new(), Schema::new(), Dicts::new());
            let (first, rest) = rows.split_at(700);
            h2.append_batch(&batch, first, &mut s2, &mut d2).unwrap();
            h2.append_batch(&batch, rest, &mut s2, &mut d2).unwrap();
            assert_eq!(h1, h2);
            assert_eq!(s1, s2);
            for (cid, d) in d1.iter() {
                assert_eq!(**d, **d2.get(cid).unwrap(), "dictionary of column {cid}");
            }
        }
    }

    #[test]
    fn append_types_and_conflicts() {
        let mut b = FlatBatch::new();
        let s = b.push_str("x");
        event(
            &mut b,
            Some(5),
            &[
                ("v", FlatValue::Scalar(FlatScalar::Int(1))),
                ("s", FlatValue::Scalar(FlatScalar::Str(s))),
            ],
        );
        event(&mut b, None, &[("v", FlatValue::Scalar(FlatScalar::Str(s)))]);
        b.events[1].location = Some([1.0, 2.0]);
        b.events[1].uniqueness_token = Some(s);
        let (mut h, mut schema, mut dicts) = (Head::new(), Schema::new(), Dicts::new());
        h.append(&b, 0, 100, EventId([1; 12]), &mut schema, &mut dicts).unwrap();
        h.append(&b, 1, 200, EventId([2; 12]), &mut schema, &mut dicts).unwrap();
        assert_eq!(h.timestamps, vec![5, 200]);
        assert_eq!(h.created_at, vec![100, 200]);
        let vn = schema.id("v", ValueType::Num).unwrap();
        let vs = schema.id("v", ValueType::String).unwrap();
        assert_eq!(h.column(vn).unwrap().rows, vec![0]);
        assert_eq!(h.column(vs).unwrap().rows, vec![1]);
        assert_eq!(schema.latest_type("v"), Some(ValueType::String));
        let geo = schema.id(LOCATION_PATH, ValueType::Geo).unwrap();
        assert_eq!(h.column(geo).unwrap().values, HeadValues::Geo(vec![[1.0, 2.0]]));
        assert!(uniqueness_token_seen(&schema, &dicts, "x"));
        assert!(!uniqueness_token_seen(&schema, &dicts, "y"));
    }

    #[test]
    fn append_is_atomic_at_column_limit() {
        let mut b = FlatBatch::new();
        event(&mut b, None, &[("a", FlatValue::Scalar(FlatScalar::Int(1)))]);
        event(
            &mut b,
            None,
            &[
                ("a", FlatValue::Scalar(FlatScalar::Int(2))),
                ("b", FlatValue::Scalar(FlatScalar::Null)),
                ("c", FlatValue::Scalar(FlatScalar::Null)),
            ],
        );
        let (mut h, mut schema, mut dicts) =
            (Head::new(), Schema::new().with_max_columns(5), Dicts::new());
        h.append(&b, 0, 1, EventId([0; 12]), &mut schema, &mut dicts).unwrap();
        let (h0, s0) = (h.clone(), schema.clone());
        let err = h.append(&b, 1, 2, EventId([0; 12]), &mut schema, &mut dicts).unwrap_err();
        assert!(matches!(
            err,
            IngestError::LimitExceeded { limit: Limit::ColumnCount, actual: 6, .. }
        ));
        assert_eq!(h, h0);
        assert_eq!(schema, s0);
    }

    #[test]
    fn duplicate_path_in_one_event_last_wins() {
        let mut b = FlatBatch::new();
        let l1 = b.list_elems.len() as u32;
        b.list_elems.extend([FlatScalar::Int(1), FlatScalar::Int(2)]);
        let l2 = b.list_elems.len() as u32;
        b.list_elems.push(FlatScalar::Bool(true));
        event(&mut b, None, &[("l", FlatValue::List(l1..l2)), ("l", FlatValue::List(l2..l2 + 1))]);
        let (mut h, mut schema, mut dicts) = (Head::new(), Schema::new(), Dicts::new());
        h.append(&b, 0, 1, EventId([0; 12]), &mut schema, &mut dicts).unwrap();
        let c = schema.id("l", ValueType::List).unwrap();
        let col = h.column(c).unwrap();
        assert_eq!(col.rows, vec![0]);
        let HeadValues::List { offsets, elems } = &col.values else { panic!() };
        assert_eq!(offsets, &vec![0, 1]);
        assert_eq!(dicts.get(c).unwrap().value(elems[0]).as_deref(), Some("true"));
    }
}
