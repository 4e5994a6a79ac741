//! Rendering merged states into Keen's response shapes: buckets, group
//! lists ordered and limited (§6.3), labels, metadata; and the checks of
//! names that order_by and multi_analysis labels must satisfy.

use std::collections::BTreeSet;
use std::time::Instant;

use rayon::prelude::*;
use serde_json::{Map, Value};

use super::group::{Comp, GVal, Groups};
use super::partial::{DistinctDicts, Partial};
use crate::error::{QueryError, Result};
use crate::model::{Analysis, AnalysisKind, Common, Scalar};
use crate::render::scalar_json;
use crate::time::TimeRange;

pub(super) fn metadata(
    started: Instant,
    scanned: u64,
    analyses: &[(Option<&str>, &Analysis)],
    common: &Common,
) -> Value {
    let mut paths: BTreeSet<&str> = BTreeSet::new();
    for (_, a) in analyses {
        if let Some(t) = &a.target_property {
            paths.insert(t);
        }
    }
    for g in &common.group_by {
        paths.insert(g.property());
    }
    fn filter_paths<'a>(fs: &'a [crate::model::Filter], out: &mut BTreeSet<&'a str>) {
        use crate::model::Filter as F;
        for f in fs {
            match f {
                F::Cmp { property, .. }
                | F::Exists { property, .. }
                | F::In { property, .. }
                | F::Contains { property, .. }
                | F::Regex { property, .. } => {
                    out.insert(property);
                }
                F::Within { .. } => {
                    out.insert(tally_ingest::LOCATION_PATH);
                }
                F::Or(subs) => filter_paths(subs, out),
            }
        }
    }
    filter_paths(&common.filters, &mut paths);
    let mut m = Map::new();
    m.insert(
        "total_processing_time".into(),
        crate::render::f64_json(started.elapsed().as_secs_f64()),
    );
    m.insert("events_scanned".into(), Value::from(scanned));
    m.insert("properties_per_event".into(), Value::from(paths.len() as u64));
    Value::Object(m)
}

pub(super) fn check_names(
    analyses: &[(Option<&str>, &Analysis)],
    common: &Common,
    multi: bool,
) -> Result<()> {
    for g in &common.group_by {
        if g.property() == "result" {
            return Err(QueryError::invalid(
                "group_by",
                "a group property may not be named result",
            ));
        }
        if multi && analyses.iter().any(|(l, _)| *l == Some(g.property())) {
            return Err(QueryError::invalid(
                "analyses",
                format!("label {:?} equals a group_by property", g.property()),
            ));
        }
    }
    for o in &common.order_by {
        let p = o.property.as_str();
        let is_group = common.group_by.iter().any(|g| g.property() == p);
        let is_result =
            if multi { analyses.iter().any(|(l, _)| *l == Some(p)) } else { p == "result" };
        if !is_group && !is_result {
            return Err(QueryError::invalid(
                "order_by",
                format!("property_name {p:?} is neither a group_by property nor a result"),
            ));
        }
    }
    Ok(())
}

pub(super) fn wrap_buckets(
    common: &Common,
    buckets: Option<&[TimeRange]>,
    values: Vec<Value>,
) -> Value {
    match buckets {
        None => values.into_iter().next().unwrap_or(Value::Null),
        Some(bs) => Value::Array(
            bs.iter()
                .zip(values)
                .map(|(b, v)| {
                    let mut tf = Map::new();
                    tf.insert("start".into(), common.timezone.format_instant(b.start_ms).into());
                    tf.insert("end".into(), common.timezone.format_instant(b.end_ms).into());
                    let mut m = Map::new();
                    m.insert("timeframe".into(), Value::Object(tf));
                    m.insert("value".into(), v);
                    Value::Object(m)
                })
                .collect(),
        ),
    }
}

pub(super) struct Render<'a> {
    pub(super) common: &'a Common,
    pub(super) kinds: &'a [AnalysisKind],
    pub(super) labels: &'a [&'a str],
    pub(super) multi: bool,
    pub(super) dicts: &'a [DistinctDicts],
}

impl Render<'_> {
    fn results(&self, states: &mut [Partial]) -> Vec<Scalar> {
        states
            .iter_mut()
            .zip(self.kinds)
            .zip(self.dicts)
            .map(|((s, &k), d)| s.finish_in_place(k, d))
            .collect()
    }

    /// The value without group_by: a scalar, or the label object.
    pub(super) fn values(&self, states: &mut [Partial]) -> Value {
        let r = self.results(states);
        if self.multi {
            let mut m = Map::new();
            for (l, v) in self.labels.iter().zip(&r) {
                m.insert((*l).to_owned(), scalar_json(v));
            }
            Value::Object(m)
        } else {
            r.first().map_or(Value::Null, scalar_json)
        }
    }

    /// The group list of one bucket: every group of `universe`, ordered and
    /// limited (§6.3).
    pub(super) fn groups(
        &self,
        g: &mut Groups,
        universe: &[Box<[Comp]>],
        decoded: &[Vec<GVal>],
        empty: &[Partial],
    ) -> Result<Value> {
        let rows: Vec<(usize, Vec<Scalar>)> = universe
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let r = match g.get(k) {
                    Some(id) => self.results(&mut g.states[id as usize]),
                    None => self.results(&mut empty.to_vec()),
                };
                (i, r)
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let by_values = |a: usize, b: usize| {
            for (x, y) in decoded[a].iter().zip(&decoded[b]) {
                let o = x.cmp(y);
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        };
        let keys: Vec<(bool, bool, usize)> = self
            .common
            .order_by
            .iter()
            .map(|o| {
                let group = self.common.group_by.iter().position(|gb| gb.property() == o.property);
                let result = if self.multi {
                    self.labels.iter().position(|l| *l == o.property)
                } else {
                    (o.property == "result").then_some(0)
                };
                // check_names made sure one of the two exists; a label
                // never equals a group path.
                match (result, group) {
                    (Some(r), _) => (true, o.descending, r),
                    (None, g) => (false, o.descending, g.unwrap_or(0)),
                }
            })
            .collect();
        if keys.is_empty() && string_order(decoded, &mut order) {
            // Sorted by the fast path.
        } else {
            // Stable (ties keep universe order), in parallel for many groups.
            order.par_sort_by(|&a, &b| {
                for &(is_result, desc, i) in &keys {
                    let o = if is_result {
                        let (x, y) = (&rows[a].1[i], &rows[b].1[i]);
                        match (x == &Scalar::Null, y == &Scalar::Null) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            (false, false) => {
                                let o = x.canonical_cmp(y);
                                if desc {
                                    o.reverse()
                                } else {
                                    o
                                }
                            }
                        }
                    } else {
                        let (x, y) = (&decoded[a][i], &decoded[b][i]);
                        match (x.is_null(), y.is_null()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            (false, false) => {
                                let o = x.cmp(y);
                                if desc {
                                    o.reverse()
                                } else {
                                    o
                                }
                            }
                        }
                    };
                    if o.is_ne() {
                        return o;
                    }
                }
                by_values(a, b)
            });
        }
        if let Some(limit) = self.common.limit {
            order.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        let out = order
            .into_par_iter()
            .map(|i| {
                let mut m = Map::new();
                for (gb, v) in self.common.group_by.iter().zip(&decoded[i]) {
                    m.insert(gb.property().to_owned(), v.json());
                }
                for (l, v) in self.labels.iter().zip(&rows[i].1) {
                    m.insert((*l).to_owned(), scalar_json(v));
                }
                Value::Object(m)
            })
            .collect();
        Ok(Value::Array(out))
    }
}

/// The canonical order of single string (or null) group values, as the
/// general stable sort would give it, comparing the strings' bytes
/// directly; false (order untouched) when the values are not all such.
fn string_order(decoded: &[Vec<GVal>], order: &mut [usize]) -> bool {
    let mut strs: Vec<(&str, usize)> = Vec::with_capacity(order.len());
    let mut nulls: Vec<usize> = Vec::new();
    for &i in order.iter() {
        match decoded[i].as_slice() {
            [GVal::Val(Scalar::Str(s))] => strs.push((s.as_str(), i)),
            [g] if g.is_null() => nulls.push(i),
            _ => return false,
        }
    }
    // (string, universe index) is unique: unstable sorting gives the
    // stable order of equal strings.
    strs.par_sort_unstable();
    let null_last = GVal::Val(Scalar::Null).cmp(&GVal::Val(Scalar::Str(String::new()))).is_gt();
    let s = strs.iter().map(|&(_, i)| i);
    let all: Vec<usize> =
        if null_last { s.chain(nulls).collect() } else { nulls.into_iter().chain(s).collect() };
    order.copy_from_slice(&all);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_order_equals_the_general_stable_sort() {
        let vals = ["b", "a", "", "ab", "b", "\u{e9}", "B"];
        let mut decoded: Vec<Vec<GVal>> =
            vals.iter().map(|s| vec![GVal::Val(Scalar::Str((*s).into()))]).collect();
        decoded.insert(2, vec![GVal::Val(Scalar::Null)]);
        decoded.push(vec![GVal::Val(Scalar::Null)]);
        let mut want: Vec<usize> = (0..decoded.len()).collect();
        want.sort_by(|&a, &b| decoded[a][0].cmp(&decoded[b][0]));
        let mut got: Vec<usize> = (0..decoded.len()).collect();
        assert!(string_order(&decoded, &mut got));
        assert_eq!(got, want);
        assert_eq!(got.last(), Some(&(decoded.len() - 1)), "null last");
        let mut mixed = decoded.clone();
        mixed.push(vec![GVal::Val(Scalar::Bool(true))]);
        let mut order: Vec<usize> = (0..mixed.len()).collect();
        assert!(!string_order(&mixed, &mut order));
        assert_eq!(order, (0..mixed.len()).collect::<Vec<_>>());
    }
}
