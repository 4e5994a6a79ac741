//! The head: a collection's mutable, not yet sealed rows, stored by column.
//!
//! Rows are appended in arrival order. `keen.timestamp`, `keen.created_at`
//! and `keen.id` are dense vectors; every other column is sparse: the head
//! rows that have a value of that column's type, plus the values. String and
//! list values are interned in the collection's [`Dicts`] as they arrive.
//! [`crate::build_segment`] turns any contiguous row range into a sorted,
//! indexed [`crate::Segment`].

use crate::dict::{list_elem_text, Dicts};
use crate::error::Result;
use crate::flat::{FlatBatch, FlatScalar, FlatValue};
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head {
    /// `keen.timestamp` per row (UTC ms).
    pub timestamps: Vec<i64>,
    /// `keen.created_at` per row (UTC ms).
    pub created_at: Vec<i64>,
    /// `keen.id` per row.
    pub ids: Vec<EventId>,
    columns: Vec<Option<HeadColumn>>,
}

/// A resolved value of one event, ready to push.
enum Pending {
    Prop(u32),
    Location([f64; 2]),
    Token,
}

impl Head {
    /// An empty head.
    pub fn new() -> Self {
        Head::default()
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
        let ev = &batch.events[event];
        let props = batch.props_of(event);
        // 1. Count the columns this event would add, without changing anything.
        let mut new_keys: Vec<(&str, ValueType)> = Vec::new();
        for p in props {
            let path = batch.str(p.path);
            let ty = p.value.value_type();
            if schema.id(path, ty).is_none() && !new_keys.contains(&(path, ty)) {
                new_keys.push((path, ty));
            }
        }
        if ev.location.is_some() && schema.id(LOCATION_PATH, ValueType::Geo).is_none() {
            new_keys.push((LOCATION_PATH, ValueType::Geo));
        }
        if ev.uniqueness_token.is_some()
            && schema.id(UNIQUENESS_TOKEN_PATH, ValueType::String).is_none()
        {
            new_keys.push((UNIQUENESS_TOKEN_PATH, ValueType::String));
        }
        schema.check_room(new_keys.len())?;
        drop(new_keys);

        // 2. Mutate: nothing below can fail.
        let row = u32::try_from(self.len()).expect("a head holds fewer than 2^32 rows");
        let ordinal = schema.next_event();
        let mut pending: Vec<(ColumnId, Pending)> = Vec::with_capacity(props.len() + 2);
        for (i, p) in props.iter().enumerate() {
            let cid = schema
                .get_or_insert(batch.str(p.path), p.value.value_type())
                .expect("room for new columns was checked");
            pending.push((cid, Pending::Prop(ev.props.start + i as u32)));
        }
        if let Some(loc) = ev.location {
            let cid =
                schema.get_or_insert(LOCATION_PATH, ValueType::Geo).expect("room was checked");
            pending.push((cid, Pending::Location(loc)));
        }
        if ev.uniqueness_token.is_some() {
            let cid = schema
                .get_or_insert(UNIQUENESS_TOKEN_PATH, ValueType::String)
                .expect("room was checked");
            pending.push((cid, Pending::Token));
        }
        let mut text = String::new();
        for (cid, what) in pending {
            schema.touch(cid, ordinal);
            let ty = schema.key(cid).expect("column exists").ty;
            if self.columns.len() <= cid as usize {
                self.columns.resize_with(cid as usize + 1, || None);
            }
            let col = self.columns[cid as usize].get_or_insert_with(|| HeadColumn {
                rows: Vec::new(),
                values: HeadValues::new(ty),
            });
            if col.rows.last() == Some(&row) {
                col.pop();
            }
            col.rows.push(row);
            match (&mut col.values, what) {
                (HeadValues::Geo(v), Pending::Location(loc)) => v.push(loc),
                (HeadValues::Str(v), Pending::Token) => {
                    let tok = batch.str(ev.uniqueness_token.expect("token is present"));
                    v.push(dicts.get_or_create(cid).intern(tok));
                }
                (values, Pending::Prop(pi)) => push_value(
                    values,
                    batch,
                    &batch.props[pi as usize].value,
                    cid,
                    dicts,
                    &mut text,
                ),
                _ => unreachable!("the column type matches the value type by construction"),
            }
        }
        schema.touch(TIMESTAMP_COLUMN, ordinal);
        schema.touch(CREATED_AT_COLUMN, ordinal);
        schema.touch(ID_COLUMN, ordinal);
        self.created_at.push(created_at);
        self.ids.push(id);
        self.timestamps.push(ev.timestamp.unwrap_or(created_at));
        Ok(())
    }
}

fn push_value(
    values: &mut HeadValues,
    batch: &FlatBatch,
    v: &FlatValue,
    cid: ColumnId,
    dicts: &mut Dicts,
    text: &mut String,
) {
    match (values, v) {
        (HeadValues::Str(out), FlatValue::Scalar(FlatScalar::Str(r))) => {
            out.push(dicts.get_or_create(cid).intern(batch.str(*r)));
        }
        (HeadValues::Num(out), FlatValue::Scalar(FlatScalar::Int(i))) => out.push(Num::Int(*i)),
        (HeadValues::Num(out), FlatValue::Scalar(FlatScalar::Float(f))) => out.push(Num::Float(*f)),
        (HeadValues::Bool(out), FlatValue::Scalar(FlatScalar::Bool(b))) => out.push(*b),
        (HeadValues::Datetime(out), FlatValue::Scalar(FlatScalar::Datetime(ms))) => out.push(*ms),
        (HeadValues::Null, FlatValue::Scalar(FlatScalar::Null)) => {}
        (HeadValues::Geo(out), FlatValue::Geo(g)) => out.push(*g),
        (HeadValues::List { offsets, elems }, FlatValue::List(r)) => {
            let dict = dicts.get_or_create(cid);
            for e in batch.list(r) {
                text.clear();
                list_elem_text(batch, e, text);
                elems.push(dict.intern(text));
            }
            offsets.push(
                u32::try_from(elems.len())
                    .expect("a head list column holds fewer than 2^32 elements"),
            );
        }
        _ => unreachable!("the column type matches the value type by construction"),
    }
}

/// True if `token` was already recorded as a `keen.uniqueness_token` in the
/// collection (the token column's dictionary is the collection's token set).
pub fn uniqueness_token_seen(schema: &Schema, dicts: &Dicts, token: &str) -> bool {
    schema
        .id(UNIQUENESS_TOKEN_PATH, ValueType::String)
        .and_then(|c| dicts.get(c))
        .is_some_and(|d| d.lookup(token).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
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
