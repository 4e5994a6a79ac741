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

/// The groups of one bucket of one segment (or merged): key → states, one
/// partial per analysis.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    index: HashMap<Box<[Comp]>, u32>,
    /// Keys in insertion order.
    pub keys: Vec<Box<[Comp]>>,
    /// States per group, one per analysis.
    pub states: Vec<Vec<Partial>>,
}

impl Groups {
    /// The group id of `key`, inserting it with `empty` states.
    #[inline]
    pub fn id(&mut self, key: &[Comp], empty: &[Partial]) -> Result<u32> {
        if let Some(&g) = self.index.get(key) {
            return Ok(g);
        }
        if self.keys.len() >= MAX_GROUPS {
            return Err(too_many_groups());
        }
        let g = self.keys.len() as u32;
        let k: Box<[Comp]> = key.into();
        self.index.insert(k.clone(), g);
        self.keys.push(k);
        self.states.push(empty.to_vec());
        Ok(g)
    }

    /// The group id of `key`, if present.
    pub fn get(&self, key: &[Comp]) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: Groups, empty: &[Partial]) -> Result<()> {
        if self.keys.is_empty() {
            *self = other;
            return Ok(());
        }
        for (k, st) in other.keys.into_iter().zip(other.states) {
            let g = self.id(&k, empty)? as usize;
            for (a, b) in self.states[g].iter_mut().zip(&st) {
                a.merge(b);
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
pub(crate) enum GVal {
    /// A range or bucket group `{from, to}`.
    Range(Option<f64>, Option<f64>),
    /// A stored value (`Null` for the null group).
    Val(Scalar),
}

impl GVal {
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
            GVal::Val(s) => scalar_json(s),
        }
    }

    /// True for the null group.
    pub fn is_null(&self) -> bool {
        matches!(self, GVal::Val(Scalar::Null))
    }

    /// Canonical order: ranges (by from, open first; then to, open last)
    /// before values, values canonically, null last (§0, §6.2).
    pub fn cmp(&self, other: &GVal) -> Ordering {
        match (self, other) {
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
    /// The printable value of `c`.
    pub fn decode(&self, c: &Comp) -> GVal {
        GVal::Val(match c {
            Comp::Null => Scalar::Null,
            Comp::Num(n) => Scalar::Num(n.number()),
            Comp::Str(id) => match self.strs.as_ref().and_then(|d| d.value(*id)) {
                Some(s) => Scalar::Str(s.to_string()),
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
    }
}
