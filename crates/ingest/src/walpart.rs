//! The binary form of flattened events in a WAL record (payload version 3).
//!
//! A WAL record used to hold each event's raw JSON, which replay parsed
//! again. It now holds the parser's output, flattened events, in a compact
//! binary form (57 % of the bytes of the JSON for the seeded generator's
//! events), written by the parsing threads in parallel and decoded on
//! replay without running the JSON parser or the event rules again (an
//! event accepted once is never refused on replay because limits changed).
//!
//! # Byte layout
//!
//! Integers are little-endian; `varint` is unsigned LEB128 (7 bits per
//! byte, low group first, at most 10 bytes) and `zigzag` a signed value
//! mapped to unsigned (`(v << 1) ^ (v >> 63)`) before the varint.
//!
//! ```text
//! part:
//!   u32      len        bytes of the part after this field
//!   varint   events     number of events
//!   varint   props      number of properties of all events
//!   event × events
//!
//! event:
//!   u8       flags      bit 0: timestamp, bit 1: uniqueness token,
//!                       bit 2: location; other bits 0
//!   zigzag   timestamp  keen.timestamp, UTC ms        (if bit 0)
//!   varint n, n bytes   keen.uniqueness_token, UTF-8  (if bit 1)
//!   f64 × 2             keen.location [lon, lat]      (if bit 2)
//!   varint   props      properties of this event
//!   prop × props
//!
//! prop:
//!   varint   path       0: a new path follows (varint n, n bytes UTF-8);
//!                       k ≥ 1: the path of property k-1 of the previous
//!                       event of this part
//!   value
//!
//! value (u8 tag, then):
//!   0 string    varint n, n bytes UTF-8
//!   1 integer   zigzag
//!   2 float     f64
//!   3 false     -
//!   4 true      -
//!   5 datetime  zigzag, UTC ms
//!   6 null      -
//!   7 list      varint n, then n values with tags 0–6
//! ```
//!
//! Events of one collection mostly share their shape, so nearly every
//! path is a one-byte reference to the previous event's.

use std::ops::Range;

use crate::flat::{FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue, StrRef};

const TAG_STR: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_FALSE: u8 = 3;
const TAG_TRUE: u8 = 4;
const TAG_DATETIME: u8 = 5;
const TAG_NULL: u8 = 6;
const TAG_LIST: u8 = 7;

const HAS_TIMESTAMP: u8 = 1;
const HAS_TOKEN: u8 = 2;
const HAS_LOCATION: u8 = 4;

/// Previous-event paths tried past the one after the last match.
const PATH_LOOKAHEAD: usize = 4;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_scalar(out: &mut Vec<u8>, arena: &[u8], s: &FlatScalar) {
    match *s {
        FlatScalar::Str(r) => {
            out.push(TAG_STR);
            put_bytes(out, &arena[r.start as usize..(r.start + r.len) as usize]);
        }
        FlatScalar::Int(i) => {
            out.push(TAG_INT);
            put_zigzag(out, i);
        }
        FlatScalar::Float(f) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        FlatScalar::Bool(b) => out.push(if b { TAG_TRUE } else { TAG_FALSE }),
        FlatScalar::Datetime(ms) => {
            out.push(TAG_DATETIME);
            put_zigzag(out, ms);
        }
        FlatScalar::Null => out.push(TAG_NULL),
    }
}

/// Appends the part encoding events `events` of `batch`, in that order, to
/// `out` (see the module docs).
pub fn encode_wal_part(batch: &FlatBatch, events: &[usize], out: &mut Vec<u8>) {
    // Byte slices of the arena: `FlatBatch::str` checks char boundaries.
    let arena = batch.arena.as_bytes();
    let text = |r: StrRef| &arena[r.start as usize..(r.start + r.len) as usize];
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    put_varint(out, events.len() as u64);
    let props: usize = events.iter().map(|&i| batch.props_of(i).len()).sum();
    put_varint(out, props as u64);
    let mut prev: &[FlatProp] = &[];
    for &i in events {
        let ev = &batch.events[i];
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        let flags = flag(ev.timestamp.is_some(), HAS_TIMESTAMP)
            | flag(ev.uniqueness_token.is_some(), HAS_TOKEN)
            | flag(ev.location.is_some(), HAS_LOCATION);
        out.push(flags);
        if let Some(ts) = ev.timestamp {
            put_zigzag(out, ts);
        }
        if let Some(tok) = ev.uniqueness_token {
            put_bytes(out, text(tok));
        }
        if let Some([lon, lat]) = ev.location {
            out.extend_from_slice(&lon.to_le_bytes());
            out.extend_from_slice(&lat.to_le_bytes());
        }
        let props = batch.props_of(i);
        put_varint(out, props.len() as u64);
        // Paths are matched in order from a cursor (after the last match),
        // so a property missing from or added to one of the two events
        // does not shift the later ones off their references.
        let mut cursor = 0usize;
        for p in props {
            let same = |q: &FlatProp| {
                q.path == p.path || (q.path.len == p.path.len && text(q.path) == text(p.path))
            };
            let window = cursor..prev.len().min(cursor + 1 + PATH_LOOKAHEAD);
            let path_ref = window.into_iter().find(|&k| same(&prev[k]));
            if let Some(k) = path_ref {
                cursor = k + 1;
            }
            match (path_ref.map(|k| k + 1), &p.value) {
                // The common case in one append: a one-byte path reference,
                // the tag and a one-byte length, then the string's bytes
                // (the bytes the general path writes, 10 % faster).
                (Some(k), FlatValue::Scalar(FlatScalar::Str(r))) if k < 0x80 && r.len < 0x80 => {
                    out.extend_from_slice(&[k as u8, TAG_STR, r.len as u8]);
                    out.extend_from_slice(text(*r));
                    continue;
                }
                (Some(k), _) => put_varint(out, k as u64),
                (None, _) => {
                    out.push(0);
                    put_bytes(out, text(p.path));
                }
            }
            match &p.value {
                FlatValue::Scalar(s) => put_scalar(out, arena, s),
                FlatValue::List(r) => {
                    out.push(TAG_LIST);
                    let elems = batch.list(r);
                    put_varint(out, elems.len() as u64);
                    for e in elems {
                        put_scalar(out, arena, e);
                    }
                }
            }
        }
        prev = props;
    }
    let len = u32::try_from(out.len() - at - 4).expect("a WAL part is under 4 GiB");
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// What is wrong with a part that does not decode.
pub(crate) type DecodeError = &'static str;

/// A cursor over the bytes of one part.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let v = *self.b.get(self.pos).ok_or("truncated")?;
        self.pos += 1;
        Ok(v)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or("truncated")?;
        let v = self.b.get(self.pos..end).ok_or("truncated")?;
        self.pos = end;
        Ok(v)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes")
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.varint()?).map_err(|_| "length out of range")
    }

    fn zigzag(&mut self) -> Result<i64, DecodeError> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.bytes(8)?;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.len()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| "string is not UTF-8")
    }
}

fn scalar(r: &mut Reader<'_>, tag: u8, batch: &mut FlatBatch) -> Result<FlatScalar, DecodeError> {
    Ok(match tag {
        TAG_STR => {
            let s = r.str()?;
            FlatScalar::Str(batch.push_str(s))
        }
        TAG_INT => FlatScalar::Int(r.zigzag()?),
        TAG_FLOAT => FlatScalar::Float(r.f64()?),
        TAG_FALSE => FlatScalar::Bool(false),
        TAG_TRUE => FlatScalar::Bool(true),
        TAG_DATETIME => FlatScalar::Datetime(r.zigzag()?),
        TAG_NULL => FlatScalar::Null,
        _ => return Err("unknown value tag"),
    })
}

/// Decodes one part (its `u32` length field included) at the start of
/// `bytes`, appending its events to `batch`. Returns the part's length in
/// bytes and the number of events. Nothing is appended on error.
pub(crate) fn decode_wal_part(
    bytes: &[u8],
    batch: &mut FlatBatch,
) -> Result<(usize, usize), DecodeError> {
    let mark = batch.mark();
    let r = decode_into(bytes, batch);
    if r.is_err() {
        batch.truncate(mark);
    }
    r
}

/// A part's header: its body (after the `u32` length) with a reader
/// placed after the two counts, and the event and property counts.
fn part_header(bytes: &[u8]) -> Result<(Reader<'_>, usize, usize), DecodeError> {
    let len = bytes.get(..4).ok_or("truncated part length")?;
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let body = bytes.get(4..4 + len).ok_or("part longer than the payload")?;
    let mut r = Reader { b: body, pos: 0 };
    let events = r.len()?;
    let props = r.len()?;
    Ok((r, events, props))
}

fn decode_into(bytes: &[u8], batch: &mut FlatBatch) -> Result<(usize, usize), DecodeError> {
    let (mut r, events, props) = part_header(bytes)?;
    let len = r.b.len();
    // Every event and property takes at least one byte: bound what to reserve.
    batch.events.reserve(events.min(len));
    batch.props.reserve(props.min(len));
    let mut prev: Range<usize> = 0..0;
    let mut total = 0usize;
    for _ in 0..events {
        let flags = r.u8()?;
        if flags & !(HAS_TIMESTAMP | HAS_TOKEN | HAS_LOCATION) != 0 {
            return Err("unknown event flags");
        }
        let timestamp = if flags & HAS_TIMESTAMP != 0 { Some(r.zigzag()?) } else { None };
        let uniqueness_token = if flags & HAS_TOKEN != 0 {
            let s = r.str()?;
            Some(batch.push_str(s))
        } else {
            None
        };
        let location = if flags & HAS_LOCATION != 0 { Some([r.f64()?, r.f64()?]) } else { None };
        let n = r.len()?;
        let start = batch.props.len();
        for _ in 0..n {
            let path = match r.len()? {
                0 => {
                    let s = r.str()?;
                    batch.push_str(s)
                }
                k => {
                    let k = prev.start.checked_add(k - 1).filter(|&k| k < prev.end);
                    batch.props[k.ok_or("path reference past the previous event")?].path
                }
            };
            let value = match r.u8()? {
                TAG_LIST => {
                    let m = r.len()?;
                    let from = batch.list_elems.len();
                    for _ in 0..m {
                        let tag = r.u8()?;
                        if tag == TAG_LIST {
                            return Err("list element is not a scalar");
                        }
                        let s = scalar(&mut r, tag, batch)?;
                        batch.list_elems.push(s);
                    }
                    let to = batch.list_elems.len();
                    FlatValue::List(
                        u32::try_from(from).map_err(|_| "too many list elements")?
                            ..u32::try_from(to).map_err(|_| "too many list elements")?,
                    )
                }
                tag => FlatValue::Scalar(scalar(&mut r, tag, batch)?),
            };
            batch.props.push(FlatProp { path, value });
        }
        total += n;
        let end = batch.props.len();
        let range = |a: usize, b: usize| -> Result<Range<u32>, DecodeError> {
            Ok(u32::try_from(a).map_err(|_| "too many properties")?
                ..u32::try_from(b).map_err(|_| "too many properties")?)
        };
        batch.events.push(FlatEvent {
            props: range(start, end)?,
            timestamp,
            uniqueness_token,
            location,
            raw: 0..0,
        });
        prev = start..end;
    }
    if total != props {
        return Err("property count does not match the part header");
    }
    if r.pos != len {
        return Err("trailing bytes in part");
    }
    if u32::try_from(batch.arena.len()).is_err() {
        return Err("part arena over 4 GiB");
    }
    Ok((4 + len, events))
}

/// The number of events and properties a part declares, if its header
/// reads (a cheap check that it was made for a given batch).
pub(crate) fn part_counts(bytes: &[u8]) -> Option<(usize, usize, usize)> {
    let (r, events, props) = part_header(bytes).ok()?;
    Some((4 + r.b.len(), events, props))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;
    use crate::flat::EventLimits;

    fn parsed(events: &[&str]) -> FlatBatch {
        let mut b = FlatBatch::new();
        for e in events {
            parse_event(e.as_bytes(), &mut b, &EventLimits::default()).unwrap();
        }
        b
    }

    /// Events as comparable values: paths as text, strings as text.
    fn view(b: &FlatBatch) -> Vec<String> {
        (0..b.len())
            .map(|i| {
                let ev = &b.events[i];
                let scalar = |s: &FlatScalar| match s {
                    FlatScalar::Str(r) => format!("s:{}", b.str(*r)),
                    FlatScalar::Float(f) => format!("f:{:?}", f.to_bits()),
                    other => format!("{other:?}"),
                };
                let props: Vec<String> = b
                    .props_of(i)
                    .iter()
                    .map(|p| {
                        let v = match &p.value {
                            FlatValue::Scalar(s) => scalar(s),
                            FlatValue::List(r) => {
                                let l: Vec<String> = b.list(r).iter().map(scalar).collect();
                                format!("[{}]", l.join(","))
                            }
                        };
                        format!("{}={v}", b.str(p.path))
                    })
                    .collect();
                format!(
                    "ts={:?} tok={:?} loc={:?} {}",
                    ev.timestamp,
                    ev.uniqueness_token.map(|t| b.str(t)),
                    ev.location,
                    props.join(" ")
                )
            })
            .collect()
    }

    /// Strings at the one-byte length boundary, written by the short path
    /// and the general one, decode alike; the encoding of a 127-byte string
    /// is `ref, tag, 127, bytes`.
    #[test]
    fn string_lengths_around_one_length_byte() {
        let (a, b) = ("a".repeat(127), "b".repeat(128));
        let e1 = format!(r#"{{"s":"{a}","t":"{b}"}}"#);
        let e2 = format!(r#"{{"s":"{b}","t":"{a}"}}"#);
        let batch = parsed(&[&e1, &e2]);
        let mut out = Vec::new();
        encode_wal_part(&batch, &[0, 1], &mut out);
        let mut back = FlatBatch::new();
        decode_wal_part(&out, &mut back).unwrap();
        assert_eq!(view(&back), view(&batch));
        let second =
            [&[1u8, TAG_STR, 128, 1][..], b.as_bytes(), &[2, TAG_STR, 127], a.as_bytes()].concat();
        assert!(out.ends_with(&second), "event 2 refers to event 1's paths");
    }

    /// A property added to the front of an event does not cost the later
    /// ones their references: each path's bytes are written once.
    #[test]
    fn an_added_property_keeps_later_paths_referenced() {
        let batch = parsed(&[
            r#"{"alpha_path":1,"beta_path":"x","gamma_path":true}"#,
            r#"{"extra_path":0,"alpha_path":2,"beta_path":"y","gamma_path":false}"#,
            r#"{"alpha_path":3,"gamma_path":true}"#,
            r#"{"alpha_path":4,"beta_path":"z","gamma_path":true}"#,
        ]);
        let mut out = Vec::new();
        encode_wal_part(&batch, &[0, 1, 2, 3], &mut out);
        let mut back = FlatBatch::new();
        decode_wal_part(&out, &mut back).unwrap();
        assert_eq!(view(&back), view(&batch));
        let count = |needle: &[u8]| out.windows(needle.len()).filter(|w| *w == needle).count();
        assert_eq!(count(b"alpha_path"), 1);
        assert_eq!(count(b"gamma_path"), 1);
        assert_eq!(count(b"extra_path"), 1);
        // beta_path comes back after an event without it: written again.
        assert_eq!(count(b"beta_path"), 2);
    }

    #[test]
    fn round_trips_every_value_kind_and_shared_paths() {
        let b = parsed(&[
            r#"{"keen":{"timestamp":"2024-01-02T03:04:05.678Z","uniqueness_token":"t1","location":{"coordinates":[-1.5,2.25]}},"a":{"b":"x","c":-7},"f":1.5,"t":true,"n":null,"d":"2024-05-01T00:00:00Z","l":["q",1,2.5,false,null,"2024-05-01T00:00:00Z"],"u":"ünï\u0000"}"#,
            r#"{"a":{"b":"y","c":9223372036854775807},"f":-0.0,"t":false}"#,
            r#"{"f":2,"a":{"c":-9223372036854775808,"b":""},"new":{"deep":{"x":[]}}}"#,
            r#"{}"#,
        ]);
        let mut out = vec![9, 9];
        encode_wal_part(&b, &[0, 1, 2, 3], &mut out);
        assert_eq!(&out[..2], &[9, 9]);
        let (len, events, props) = part_counts(&out[2..]).unwrap();
        assert_eq!((len, events, props), (out.len() - 2, 4, b.props.len()));
        let mut back = FlatBatch::new();
        assert_eq!(decode_wal_part(&out[2..], &mut back).unwrap(), (out.len() - 2, 4));
        assert_eq!(view(&back), view(&b));
        // A subset, out of order.
        let mut sub = Vec::new();
        encode_wal_part(&b, &[2, 0], &mut sub);
        let mut back = FlatBatch::new();
        decode_wal_part(&sub, &mut back).unwrap();
        let want = view(&b);
        assert_eq!(view(&back), vec![want[2].clone(), want[0].clone()]);
    }

    #[test]
    fn typical_events_take_about_half_their_json() {
        let lines: Vec<String> = {
            let mut g = crate::generator::Generator::new(Default::default());
            let mut text = String::new();
            (0..1000)
                .map(|_| {
                    text.clear();
                    let c = g.next_line(&mut text);
                    let t = text.trim_end();
                    t[c.len() + 4..t.len() - 1].to_owned()
                })
                .collect()
        };
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let b = parsed(&refs);
        let mut out = Vec::new();
        encode_wal_part(&b, &(0..b.len()).collect::<Vec<_>>(), &mut out);
        let json: usize = lines.iter().map(String::len).sum();
        assert!(out.len() * 100 < json * 60, "{} bytes for {json} bytes of JSON", out.len());
        let mut back = FlatBatch::new();
        decode_wal_part(&out, &mut back).unwrap();
        assert_eq!(view(&back), view(&b));
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let primitive = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            (-1e12f64..1e12).prop_map(|f| serde_json::json!(f)),
            any::<String>().prop_map(Value::String),
            "[a-z]{0,3}".prop_map(Value::String),
            Just(Value::String("2024-06-12T14:35:20.5+02:00".into())),
        ];
        let leaf = prop_oneof![
            4 => primitive.clone(),
            1 => proptest::collection::vec(primitive, 0..4).prop_map(Value::Array),
        ];
        // Few distinct names, so paths repeat across events and positions.
        leaf.prop_recursive(3, 24, 4, |inner| {
            proptest::collection::btree_map("[abc]", inner, 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        })
    }

    fn json_event() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let keen = (
            proptest::option::of(0i64..4_000_000_000_000),
            proptest::option::of("[a-z0-9]{1,8}"),
            proptest::option::of((-180.0f64..180.0, -90.0f64..90.0)),
        );
        (proptest::collection::btree_map("[abcd]", json_value(), 0..6), keen).prop_map(
            |(props, (ts, tok, loc))| {
                let mut m: serde_json::Map<String, serde_json::Value> = props.into_iter().collect();
                let mut k = serde_json::Map::new();
                if let Some(ts) = ts {
                    k.insert("timestamp".into(), crate::datetime::format_datetime(ts).into());
                }
                if let Some(tok) = tok {
                    k.insert("uniqueness_token".into(), tok.into());
                }
                if let Some((lon, lat)) = loc {
                    k.insert("location".into(), serde_json::json!({"coordinates": [lon, lat]}));
                }
                if !k.is_empty() {
                    m.insert("keen".into(), serde_json::Value::Object(k));
                }
                serde_json::Value::Object(m).to_string()
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            if std::env::var_os("TALLY_FULL").is_some_and(|v| v == "1") { 5_000 } else { 128 }
        ))]
        /// Any parsed events, all of them or any subset in any order, decode
        /// to exactly what was encoded.
        #[test]
        fn any_events_round_trip(
            events in proptest::collection::vec(json_event(), 1..12),
            pick in proptest::collection::vec(0usize..64, 0..12),
        ) {
            let refs: Vec<&str> = events.iter().map(String::as_str).collect();
            let b = parsed(&refs);
            let all: Vec<usize> = (0..b.len()).collect();
            let subset: Vec<usize> = pick.iter().map(|&i| i % b.len()).collect();
            for idx in [all, subset] {
                let mut out = Vec::new();
                encode_wal_part(&b, &idx, &mut out);
                let mut back = FlatBatch::new();
                let (len, n) = decode_wal_part(&out, &mut back).unwrap();
                proptest::prop_assert_eq!((len, n), (out.len(), idx.len()));
                let full = view(&b);
                let want: Vec<String> = idx.iter().map(|&i| full[i].clone()).collect();
                proptest::prop_assert_eq!(view(&back), want);
            }
        }
    }

    #[test]
    fn damaged_parts_are_errors_and_append_nothing() {
        let b = parsed(&[r#"{"a":"x","l":[1,"y"]}"#, r#"{"a":"z","g":2.5}"#]);
        let mut out = Vec::new();
        encode_wal_part(&b, &[0, 1], &mut out);
        let mut back = parsed(&[r#"{"keep":1}"#]);
        let before = view(&back);
        // Every truncation, and every single-byte change, either fails
        // cleanly or decodes to some batch; none panics or half-appends.
        for cut in 0..out.len() {
            assert!(decode_wal_part(&out[..cut], &mut back).is_err(), "cut at {cut}");
            assert_eq!(view(&back), before);
        }
        for i in 0..out.len() {
            for bit in 0..8 {
                let mut bad = out.clone();
                bad[i] ^= 1 << bit;
                let mark = back.len();
                if decode_wal_part(&bad, &mut back).is_err() {
                    assert_eq!(back.len(), mark);
                    assert_eq!(view(&back), before);
                } else {
                    back = parsed(&[r#"{"keep":1}"#]);
                }
            }
        }
    }
}
