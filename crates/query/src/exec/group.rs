//! Group keys (keen-semantics §6.1–6.2): per row, one component per
//! group_by element, made of collection-wide ids (dictionary ids, numbers,
//! element id lists), never of strings; decoded into printable, canonically
//! ordered group values only when the result is rendered.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::partial::Partial;
use super::value::{decode_elem_scalar, NumKey};
use crate::error::{QueryError, Result};
use crate::model::{Number, Scalar};
use crate::render::{f64_json, scalar_json};

/// At most this many groups per query (per bucket with intervals), §6.1.
pub const MAX_GROUPS: usize = 1_000_000;

/// One group_by element's value for a row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Comp {
    /// Missing or null.
    Null,
    /// A number.
    Num(NumKey),
    /// A string: id in the property's string dictionary.
    Str(u32),
    /// A string without dictionary (`keen.id`).
    Owned(String),
    /// A whole list: element ids in the property's list dictionary.
    List(Box<[u32]>),
    /// A boolean.
    Bool(bool),
    /// A datetime, UTC ms.
    Dt(i64),
    /// A geo pair (bits of longitude, latitude).
    Geo([u64; 2]),
    /// Index of a `ranges` entry.
    Range(u32),
    /// Index k of a `buckets` bucket.
    Bucket(i64),
}

/// A fast hasher for group keys (FxHash's multiply-rotate; keys are ids
/// and numbers chosen by the data, not by an adversary who could only
/// slow their own query down).
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type KeyMap = HashMap<Box<[Comp]>, u32, std::hash::BuildHasherDefault<KeyHasher>>;

/// The groups of one bucket of one segment (or merged): key → states, one
/// partial per analysis.
///
/// Counts of single-string keys (`[Comp::Str(id)]`) may also sit in a dense
/// table by dictionary id ([`Groups::add_dense`]) while segments fold and
/// merge; [`Groups::flush_dense`] turns them into groups before rendering.
/// The key → group map is kept up to date lazily: keys appended without it
/// (by `flush_dense`) are indexed on the next lookup.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    index: KeyMap,
    /// `keys[..indexed]` are in `index`.
    indexed: usize,
    /// Keys in insertion order.
    pub keys: Vec<Box<[Comp]>>,
    /// States per group, one per analysis.
    pub states: Vec<Vec<Partial>>,
    /// Counts of `[Comp::Str(id)]` by id, added to every count analysis.
    dense: Vec<u64>,
}

impl Groups {
    /// Indexes the keys appended since the last lookup.
    fn sync(&mut self) {
        if self.indexed < self.keys.len() {
            self.index.reserve(self.keys.len() - self.indexed);
            for (g, k) in self.keys.iter().enumerate().skip(self.indexed) {
                self.index.insert(k.clone(), g as u32);
            }
            self.indexed = self.keys.len();
        }
    }

    /// The group id of `key`, inserting it with `empty` states.
    #[inline]
    pub fn id(&mut self, key: &[Comp], empty: &[Partial]) -> Result<u32> {
        self.sync();
        if let Some(&g) = self.index.get(key) {
            return Ok(g);
        }
        self.insert(key.into(), empty.to_vec())
    }

    /// Inserts a key known to be absent (the index is in sync).
    fn insert(&mut self, k: Box<[Comp]>, states: Vec<Partial>) -> Result<u32> {
        if self.keys.len() >= MAX_GROUPS {
            return Err(too_many_groups());
        }
        let g = self.keys.len() as u32;
        self.index.insert(k.clone(), g);
        self.keys.push(k);
        self.states.push(states);
        self.indexed = self.keys.len();
        Ok(g)
    }

    /// The group id of `key`, if present.
    pub fn get(&mut self, key: &[Comp]) -> Option<u32> {
        self.sync();
        self.index.get(key).copied()
    }

    /// Adds `n` rows to the count of the string key `[Comp::Str(id)]`
    /// (every analysis is a count), in the dense table.
    pub fn add_dense(&mut self, id: u32, n: u64) {
        let i = id as usize;
        if self.dense.len() <= i {
            self.dense.resize(i + 1, 0);
        }
        self.dense[i] += n;
    }

    /// Turns the dense counts into groups (ascending id, after the hashed
    /// groups), without hashing them: a hashed `[Comp::Str(id)]` group
    /// takes its dense count, every other id with rows becomes a new group.
    pub fn flush_dense(&mut self, empty: &[Partial]) -> Result<()> {
        let mut dense = std::mem::take(&mut self.dense);
        if dense.is_empty() {
            return Ok(());
        }
        let add = |st: &mut [Partial], n: u64| {
            for p in st {
                if let Partial::Count(x) = p {
                    *x += n;
                }
            }
        };
        for (k, st) in self.keys.iter().zip(&mut self.states) {
            if let [Comp::Str(id)] = **k {
                if let Some(n) = dense.get_mut(id as usize) {
                    add(st, std::mem::take(n));
                }
            }
        }
        let fresh = dense.iter().filter(|&&n| n > 0).count();
        if self.keys.len() + fresh > MAX_GROUPS {
            return Err(too_many_groups());
        }
        self.sync();
        self.keys.reserve(fresh);
        self.states.reserve(fresh);
        for (id, n) in dense.into_iter().enumerate() {
            if n > 0 {
                let mut st = empty.to_vec();
                add(&mut st, n);
                self.keys.push(Box::new([Comp::Str(id as u32)]));
                self.states.push(st);
            }
        }
        Ok(())
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, mut other: Groups, _empty: &[Partial]) -> Result<()> {
        if self.keys.is_empty() && self.dense.is_empty() {
            *self = other;
            return Ok(());
        }
        if self.dense.len() < other.dense.len() {
            std::mem::swap(&mut self.dense, &mut other.dense);
        }
        self.dense.iter_mut().zip(&other.dense).for_each(|(a, b)| *a += b);
        self.sync();
        for (k, st) in other.keys.into_iter().zip(other.states) {
            match self.index.get(&k) {
                Some(&g) => {
                    for (a, b) in self.states[g as usize].iter_mut().zip(&st) {
                        a.merge(b);
                    }
                }
                None => {
                    self.insert(k, st)?;
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn too_many_groups() -> QueryError {
    QueryError::limit(format!("group_by: more than {MAX_GROUPS} groups"))
}

/// A printable group value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GVal<'a> {
    /// A range or bucket group `{from, to}`.
    Range(Option<f64>, Option<f64>),
    /// A string borrowed from its dictionary (orders as `Val(Str)`).
    Str(&'a str),
    /// A stored value (`Null` for the null group).
    Val(Scalar),
}

impl GVal<'_> {
    /// The group value's JSON.
    pub fn json(&self) -> Value {
        match self {
            GVal::Range(from, to) => {
                let mut m = Map::new();
                if let Some(f) = from {
                    m.insert("from".into(), f64_json(*f));
                }
                if let Some(t) = to {
                    m.insert("to".into(), f64_json(*t));
                }
                Value::Object(m)
            }
            GVal::Str(s) => Value::String((*s).to_owned()),
            GVal::Val(s) => scalar_json(s),
        }
    }

    /// Appends the group value's JSON text (the bytes of [`GVal::json`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            GVal::Str(s) => crate::render::write_str(out, s),
            GVal::Val(s) => crate::render::write_scalar(out, s),
            range => crate::render::write_value(out, &range.json()),
        }
    }

    /// True for the null group.
    pub fn is_null(&self) -> bool {
        matches!(self, GVal::Val(Scalar::Null))
    }

    /// Canonical order: ranges (by from, open first; then to, open last)
    /// before values, values canonically, null last (§0, §6.2).
    pub fn cmp(&self, other: &GVal<'_>) -> Ordering {
        match (self, other) {
            (GVal::Str(a), GVal::Str(b)) => a.cmp(b),
            (GVal::Str(a), GVal::Val(Scalar::Str(b))) => (*a).cmp(b.as_str()),
            (GVal::Val(Scalar::Str(a)), GVal::Str(b)) => a.as_str().cmp(b),
            (GVal::Str(_), GVal::Val(v)) => Scalar::Str(String::new()).canonical_cmp(v),
            (GVal::Val(v), GVal::Str(_)) => v.canonical_cmp(&Scalar::Str(String::new())),
            (GVal::Str(_), GVal::Range(..)) => Ordering::Greater,
            (GVal::Range(..), GVal::Str(_)) => Ordering::Less,
            (GVal::Range(f1, t1), GVal::Range(f2, t2)) => {
                let from = match (f1, f2) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(a), Some(b)) => a.total_cmp(b),
                };
                from.then_with(|| match (t1, t2) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(a), Some(b)) => a.total_cmp(b),
                })
            }
            (GVal::Range(..), GVal::Val(_)) => Ordering::Less,
            (GVal::Val(_), GVal::Range(..)) => Ordering::Greater,
            (GVal::Val(a), GVal::Val(b)) => a.canonical_cmp(b),
        }
    }
}

/// What a group_by element needs to decode its components.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decoder {
    /// The string dictionary's values by id (only those needed are read).
    pub strs: Option<std::sync::Arc<tally_ingest::Dictionary>>,
    /// The list dictionary.
    pub elems: Option<std::sync::Arc<tally_ingest::Dictionary>>,
    /// `ranges` of the element.
    pub ranges: Vec<(Option<f64>, Option<f64>)>,
    /// `buckets` (size, offset) of the element.
    pub buckets: Option<(f64, f64)>,
}

impl Decoder {
    /// The printable value of `c`, with the string dictionary's reader
    /// held by the caller (one lock for many values).
    /// Strings are borrowed from `strs`.
    pub fn decode_with<'r>(
        &self,
        c: &Comp,
        strs: Option<&'r tally_ingest::DictReader<'_>>,
    ) -> GVal<'r> {
        GVal::Val(match c {
            Comp::Null => Scalar::Null,
            Comp::Num(n) => Scalar::Num(n.number()),
            Comp::Str(id) => match strs.and_then(|d| d.value(*id)) {
                Some(s) => return GVal::Str(s),
                None => Scalar::Null,
            },
            Comp::Owned(s) => Scalar::Str(s.clone()),
            Comp::List(ids) => match &self.elems {
                Some(d) => {
                    let r = d.reader();
                    Scalar::List(
                        ids.iter()
                            .map(|&id| r.value(id).map_or(Scalar::Null, decode_elem_scalar))
                            .collect(),
                    )
                }
                None => Scalar::List(Vec::new()),
            },
            Comp::Bool(b) => Scalar::Bool(*b),
            Comp::Dt(ms) => Scalar::Datetime(*ms),
            Comp::Geo([lon, lat]) => Scalar::List(vec![
                Scalar::Num(Number::from_f64(f64::from_bits(*lon))),
                Scalar::Num(Number::from_f64(f64::from_bits(*lat))),
            ]),
            Comp::Range(i) => {
                let (f, t) = self.ranges.get(*i as usize).copied().unwrap_or((None, None));
                return GVal::Range(f, t);
            }
            Comp::Bucket(k) => {
                let (size, offset) = self.buckets.unwrap_or((1.0, 0.0));
                let from = offset + *k as f64 * size;
                let to = offset + (*k as f64 + 1.0) * size;
                return GVal::Range(Some(from), Some(to));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_limit_stops_at_one_million() {
        let empty = [Partial::Count(0)];
        let mut g = Groups::default();
        for i in 0..MAX_GROUPS as u32 {
            g.id(&[Comp::Str(i)], &empty).unwrap();
        }
        assert_eq!(g.id(&[Comp::Str(7)], &empty).unwrap(), 7, "existing groups still resolve");
        let err = g.id(&[Comp::Str(MAX_GROUPS as u32)], &empty).unwrap_err();
        assert_eq!(err.code, crate::QueryErrorCode::LimitExceededError);
        let mut other = Groups::default();
        other.id(&[Comp::Null], &empty).unwrap();
        assert!(g.merge(other, &empty).is_err());
    }

    #[test]
    fn dense_counts_merge_with_hashed_groups() {
        let empty = [Partial::Count(0), Partial::Count(0)];
        let mut a = Groups::default();
        a.add_dense(3, 5);
        a.add_dense(0, 1);
        let g = a.id(&[Comp::Null], &empty).unwrap() as usize;
        a.states[g] = vec![Partial::Count(2), Partial::Count(2)];
        let mut b = Groups::default();
        let g = b.id(&[Comp::Str(3)], &empty).unwrap() as usize;
        b.states[g] = vec![Partial::Count(10), Partial::Count(10)];
        b.add_dense(7, 4);
        a.merge(b, &empty).unwrap();
        a.flush_dense(&empty).unwrap();
        let mut count = |k: Comp| {
            let g = a.get(&[k]).unwrap() as usize;
            a.states[g].clone()
        };
        assert_eq!(count(Comp::Str(3)), vec![Partial::Count(15), Partial::Count(15)]);
        assert_eq!(count(Comp::Str(0)), vec![Partial::Count(1), Partial::Count(1)]);
        assert_eq!(count(Comp::Str(7)), vec![Partial::Count(4), Partial::Count(4)]);
        assert_eq!(count(Comp::Null), vec![Partial::Count(2), Partial::Count(2)]);
        assert_eq!(a.keys.len(), 4, "no group for ids without rows");
        // Merging into an empty state that only has dense counts keeps both.
        let mut c = Groups::default();
        c.add_dense(1, 2);
        let mut d = Groups::default();
        d.id(&[Comp::Str(1)], &empty[..1]).unwrap();
        d.states[0] = vec![Partial::Count(3)];
        c.merge(d, &empty[..1]).unwrap();
        c.flush_dense(&empty[..1]).unwrap();
        assert_eq!(c.states, vec![vec![Partial::Count(5)]]);
    }

    #[test]
    fn range_groups_order_before_values_with_open_sides() {
        let open_from = GVal::Range(None, Some(10.0));
        let a = GVal::Range(Some(0.0), Some(10.0));
        let open_to = GVal::Range(Some(0.0), None);
        let v = GVal::Val(Scalar::Num(Number::Int(-5)));
        let null = GVal::Val(Scalar::Null);
        let mut all = vec![null.clone(), v.clone(), open_to.clone(), a.clone(), open_from.clone()];
        all.sort_by(|x, y| x.cmp(y));
        assert_eq!(all, vec![open_from, a, open_to, v, null]);
        assert_eq!(GVal::Range(Some(1.5), None).json(), serde_json::json!({"from": 1.5}));
        // Borrowed strings order exactly as owned ones.
        let owned = |s: &str| GVal::Val(Scalar::Str(s.into()));
        let mut mixed = vec![
            GVal::Val(Scalar::Null),
            GVal::Str("b"),
            owned("c"),
            GVal::Val(Scalar::Bool(false)),
            GVal::Str("a"),
            GVal::Val(Scalar::Num(Number::Int(9))),
            GVal::Range(None, None),
            owned("a"),
        ];
        mixed.sort_by(|x, y| x.cmp(y));
        assert_eq!(
            mixed,
            vec![
                GVal::Range(None, None),
                GVal::Val(Scalar::Num(Number::Int(9))),
                GVal::Str("a"),
                owned("a"),
                GVal::Str("b"),
                owned("c"),
                GVal::Val(Scalar::Bool(false)),
                GVal::Val(Scalar::Null),
            ]
        );
        assert_eq!(GVal::Str("a").cmp(&owned("a")), Ordering::Equal);
        assert_eq!(GVal::Str("x\"").json(), owned("x\"").json());
    }
}
