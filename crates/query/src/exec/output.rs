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

/// [`wrap_buckets`] for group lists already written as JSON text.
pub(super) fn wrap_bucket_texts(
    common: &Common,
    buckets: Option<&[TimeRange]>,
    values: Vec<Vec<u8>>,
) -> Vec<u8> {
    match buckets {
        None => values.into_iter().next().unwrap_or_else(|| b"null".to_vec()),
        Some(bs) => {
            let mut out = Vec::with_capacity(values.iter().map(|v| v.len() + 96).sum());
            out.push(b'[');
            for (i, (b, v)) in bs.iter().zip(values).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"timeframe\":{\"start\":");
                crate::render::write_str(&mut out, &common.timezone.format_instant(b.start_ms));
                out.extend_from_slice(b",\"end\":");
                crate::render::write_str(&mut out, &common.timezone.format_instant(b.end_ms));
                out.extend_from_slice(b"},\"value\":");
                out.extend_from_slice(&v);
                out.push(b'}');
            }
            out.push(b']');
            out
        }
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

    /// The group list of one bucket as JSON text: every group of
    /// `universe`, ordered and limited (§6.3). `decoded` holds the group
    /// values, `group_by.len()` per universe key; with `aligned`,
    /// `g.states[i]` are the states of `universe[i]` (no lookup).
    /// `strs` is the string dictionary of a single group_by property.
    pub(super) fn groups(
        &self,
        g: &mut Groups,
        universe: &[Box<[Comp]>],
        aligned: bool,
        decoded: &[GVal<'_>],
        strs: Option<&tally_ingest::DictReader<'_>>,
        empty: &[Partial],
    ) -> Result<Vec<u8>> {
        let nk = self.common.group_by.len().max(1);
        let na = self.kinds.len();
        let dec = |i: usize| &decoded[i * nk..(i + 1) * nk];
        let mut rows: Vec<Scalar> = Vec::with_capacity(universe.len() * na);
        for (i, k) in universe.iter().enumerate() {
            let id = if aligned { Some(i as u32) } else { g.get(k) };
            let finish = |states: &mut [Partial], rows: &mut Vec<Scalar>| {
                let r = states.iter_mut().zip(self.kinds).zip(self.dicts);
                rows.extend(r.map(|((s, &k), d)| s.finish_in_place(k, d)));
            };
            match id {
                Some(id) => finish(&mut g.states[id as usize], &mut rows),
                None => finish(&mut empty.to_vec(), &mut rows),
            }
        }
        let res = |i: usize| &rows[i * na..(i + 1) * na];

        let mut order: Vec<usize> = (0..universe.len()).collect();
        let by_values = |a: usize, b: usize| {
            for (x, y) in dec(a).iter().zip(dec(b)) {
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
        if keys.is_empty()
            && nk == 1
            && (dict_order(universe, strs, &mut order) || string_order(decoded, &mut order))
        {
            // Sorted by a fast path.
        } else {
            // Stable (ties keep universe order), in parallel for many groups.
            order.par_sort_by(|&a, &b| {
                for &(is_result, desc, i) in &keys {
                    let o = if is_result {
                        let (x, y) = (&res(a)[i], &res(b)[i]);
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
                        let (x, y) = (&dec(a)[i], &dec(b)[i]);
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
        // Member names, written once.
        let name = |s: &str| {
            let mut b = Vec::new();
            crate::render::write_str(&mut b, s);
            b.push(b':');
            b
        };
        let group_names: Vec<Vec<u8>> =
            self.common.group_by.iter().map(|gb| name(gb.property())).collect();
        let label_names: Vec<Vec<u8>> = self.labels.iter().map(|l| name(l)).collect();
        // Groups are written in universe order (their values, states and
        // dictionary strings then sit in memory in the order they are
        // read), then copied out in the sorted order: the gathering is of
        // independent copies, not of chains of dependent loads.
        let sel: Vec<usize> = if order.len() == universe.len() {
            (0..universe.len()).collect()
        } else {
            let mut sel = order.clone();
            sel.sort_unstable();
            sel
        };
        const CHUNK: usize = 4096;
        let parts: Vec<(Vec<u8>, Vec<u32>)> = sel
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut out = Vec::with_capacity(chunk.len() * 64);
                let mut ends = Vec::with_capacity(chunk.len());
                for &i in chunk {
                    out.push(b'{');
                    let mut first = true;
                    for (n, v) in group_names.iter().zip(dec(i)) {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.extend_from_slice(n);
                        v.write(&mut out);
                    }
                    for (n, v) in label_names.iter().zip(res(i)) {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.extend_from_slice(n);
                        crate::render::write_scalar(&mut out, v);
                    }
                    out.push(b'}');
                    // Chunks hold at most 4,096 groups of bounded size.
                    ends.push(u32::try_from(out.len()).unwrap_or(u32::MAX));
                }
                (out, ends)
            })
            .collect();
        // Universe index → slot in `sel`.
        let mut slot = vec![u32::MAX; universe.len()];
        for (k, &i) in sel.iter().enumerate() {
            slot[i] = k as u32;
        }
        let total: usize = parts.iter().map(|p| p.0.len() + p.1.len()).sum();
        let mut out = Vec::with_capacity(total + 2);
        out.push(b'[');
        for (k, &i) in order.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            let s = slot[i] as usize;
            let (bytes, ends) = &parts[s / CHUNK];
            let j = s % CHUNK;
            let from = if j == 0 { 0 } else { ends[j - 1] as usize };
            out.extend_from_slice(&bytes[from..ends[j] as usize]);
        }
        out.push(b']');
        Ok(out)
    }
}

/// [`string_order`] read off the dictionary's sorted ids (no string is
/// compared) when the groups are single dictionary strings (or null) and
/// at least a sixteenth of the dictionary; false (order untouched)
/// otherwise.
fn dict_order(
    universe: &[Box<[Comp]>],
    strs: Option<&tally_ingest::DictReader<'_>>,
    order: &mut [usize],
) -> bool {
    let Some(strs) = strs else { return false };
    let n = strs.len();
    if universe.len().saturating_mul(16) < n {
        return false;
    }
    let mut at = vec![u32::MAX; n];
    let mut nulls: Vec<usize> = Vec::new();
    for &i in order.iter() {
        match *universe[i] {
            [Comp::Str(id)] if (id as usize) < n && at[id as usize] == u32::MAX => {
                at[id as usize] = i as u32;
            }
            [Comp::Null] => nulls.push(i),
            _ => return false,
        }
    }
    let sorted = strs.sorted_ids();
    let s = sorted.iter().filter_map(|&id| {
        let i = at.get(id as usize).copied().unwrap_or(u32::MAX);
        (i != u32::MAX).then_some(i as usize)
    });
    let all = with_nulls(s, nulls);
    if all.len() != order.len() {
        return false;
    }
    order.copy_from_slice(&all);
    true
}

/// The canonical order of single string (or null) group values, as the
/// general stable sort would give it; false (order untouched) when the
/// values are not all such.
fn string_order(decoded: &[GVal<'_>], order: &mut [usize]) -> bool {
    let mut strs: Vec<(u64, &[u8], usize)> = Vec::with_capacity(order.len());
    let mut nulls: Vec<usize> = Vec::new();
    for &i in order.iter() {
        match &decoded[i] {
            GVal::Val(Scalar::Str(s)) => strs.push((0, s.as_bytes(), i)),
            GVal::Str(s) => strs.push((0, s.as_bytes(), i)),
            g if g.is_null() => nulls.push(i),
            _ => return false,
        }
    }
    sort_bytes(&mut strs);
    let all = with_nulls(strs.iter().map(|&(_, _, i)| i), nulls);
    order.copy_from_slice(&all);
    true
}

/// Sorted string groups and the null groups, the nulls placed where the
/// canonical order puts null against strings.
fn with_nulls(strs: impl Iterator<Item = usize>, nulls: Vec<usize>) -> Vec<usize> {
    let null_last = GVal::Val(Scalar::Null).cmp(&GVal::Val(Scalar::Str(String::new()))).is_gt();
    if null_last {
        strs.chain(nulls).collect()
    } else {
        nulls.into_iter().chain(strs).collect()
    }
}

/// Sorts `(_, bytes, index)` by bytes, then index: most significant
/// digit first, a digit being the next 8 bytes (zero-padded, big-endian)
/// after the longest common prefix, so that compares are of integers (URLs
/// share long prefixes). The first member is scratch space.
fn sort_bytes(items: &mut [(u64, &[u8], usize)]) {
    // Past this depth (or once every string of a run has ended) the rest
    // of a run is sorted by comparing bytes.
    const MAX_DEPTH: usize = 256;
    fn digits(items: &mut [(u64, &[u8], usize)], depth: usize) {
        let Some(&(_, first, _)) = items.first() else { return };
        // Skip the run's longest common prefix.
        let mut lcp = first.len().min(MAX_DEPTH);
        for &(_, s, _) in items.iter() {
            if lcp <= depth {
                break;
            }
            let same = first[depth..lcp]
                .iter()
                .zip(s.get(depth..).unwrap_or(&[]))
                .take_while(|(a, b)| a == b)
                .count();
            lcp = depth + same;
        }
        let depth = lcp.max(depth);
        if depth >= MAX_DEPTH || items.iter().all(|x| x.1.len() <= depth) {
            items.sort_unstable_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)));
            return;
        }
        for (k, s, _) in items.iter_mut() {
            let tail = s.get(depth..).unwrap_or(&[]);
            let mut w = [0u8; 8];
            let n = tail.len().min(8);
            w[..n].copy_from_slice(&tail[..n]);
            // Zero-padded big-endian bytes order like the bytes: a
            // string that ended ties with real zero bytes, and the tie
            // goes to the next digit.
            *k = u64::from_be_bytes(w);
        }
        if items.len() > 1 << 14 {
            items.par_sort_unstable_by_key(|x| (x.0, x.2));
        } else {
            items.sort_unstable_by_key(|x| (x.0, x.2));
        }
        let mut i = 0;
        while i < items.len() {
            let mut j = i + 1;
            while j < items.len() && items[j].0 == items[i].0 {
                j += 1;
            }
            if j - i > 1 {
                digits(&mut items[i..j], depth + 8);
            }
            i = j;
        }
    }
    digits(items, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_order_equals_the_general_stable_sort() {
        let sets: [&[&str]; 2] = [
            &["b", "a", "", "ab", "b", "\u{e9}", "B"],
            &[
                "https://x.com/p/1",
                "https://x.com/p/10",
                "https://x.com/p/",
                "https://x.com/p/1\0",
                "https://x.com/p/1\0a",
                "https://x.com/p/123456789b",
                "https://x.com/p/123456789a",
                "https://x.com/p/12345678",
                "https://x.com/p/1",
            ],
        ];
        // And a seeded set of long strings over a small alphabet with
        // a shared prefix, many ties in the first key bytes.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<String> = (0..500)
            .map(|_| {
                let mut s = String::from("https://example.com/");
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                for i in 0..(state % 14) {
                    s.push(['a', 'b', '\0'][((state >> (i * 2)) % 3) as usize]);
                }
                s
            })
            .collect();
        let random: Vec<&str> = random.iter().map(String::as_str).collect();
        for vals in sets.iter().copied().chain([random.as_slice()]) {
            let mut decoded: Vec<GVal> =
                vals.iter().map(|s| GVal::Val(Scalar::Str((*s).into()))).collect();
            decoded.insert(2, GVal::Val(Scalar::Null));
            decoded.push(GVal::Val(Scalar::Null));
            let mut want: Vec<usize> = (0..decoded.len()).collect();
            want.sort_by(|&a, &b| decoded[a].cmp(&decoded[b]));
            let mut got: Vec<usize> = (0..decoded.len()).collect();
            assert!(string_order(&decoded, &mut got));
            assert_eq!(got, want);
            assert_eq!(got.last(), Some(&(decoded.len() - 1)), "null last");
        }
        let vals = sets[0];
        let mut decoded: Vec<GVal> =
            vals.iter().map(|s| GVal::Val(Scalar::Str((*s).into()))).collect();
        decoded.push(GVal::Val(Scalar::Null));
        let mut mixed = decoded.clone();
        mixed.push(GVal::Val(Scalar::Bool(true)));
        let mut order: Vec<usize> = (0..mixed.len()).collect();
        assert!(!string_order(&mixed, &mut order));
        assert_eq!(order, (0..mixed.len()).collect::<Vec<_>>());
    }
}
