//! Bulk ingest: NDJSON streams and Keen batch documents.
//!
//! NDJSON is read in blocks of [`NDJSON_BLOCK_BYTES`] as a three-stage
//! pipeline: the calling thread reads and splits block i + 1 while the
//! rayon pool parses block i straight into flattened batches (and encodes
//! their WAL parts and resolves their ids), and an appender thread appends
//! the blocks before, one WAL record (and one fsync) per collection per
//! block. The appender's queue holds one parsed block, so neither a slow
//! append nor a slow parse leaves the other stage idle.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use tally_ingest::{
    format_datetime, infer_timestamp, parse_event, sanitize_collection_name,
    validate_collection_name, AppendPart, EventLimits, EventParser, FlatBatch, IngestError,
    Resolved,
};

use crate::error::{Error, Result};
use crate::keyed::merge_autofill;
use crate::project::Project;
use serde_json::Map;

/// Bytes read per NDJSON block (split at a line end).
pub const NDJSON_BLOCK_BYTES: usize = 8 << 20;
/// Collections of one NDJSON block are appended by at most this many
/// threads at once (their WAL fsyncs overlap).
const APPEND_THREADS: usize = 8;
/// At most this many line errors are kept in an [`IngestSummary`].
pub const MAX_REPORTED_ERRORS: usize = 100;
/// Largest Keen batch document, in bytes (keen-semantics §1.2).
pub const MAX_BATCH_BYTES: usize = 10_000_000;
/// Most events in one Keen batch document (keen-semantics §1.2).
pub const MAX_BATCH_EVENTS: usize = 5_000;

/// Options for [`Project::ingest_ndjson`].
#[derive(Debug, Clone, Default)]
pub struct NdjsonOptions {
    /// Every line is a bare event for this collection (instead of
    /// `{"<collection>": {event}}`).
    pub collection: Option<String>,
    /// Sanitise collection names as the Airbyte destination does
    /// (keen-semantics §11.2) before validating them.
    pub sanitize_collection_names: bool,
    /// Infer `keen.timestamp` from this (dotted) property when the event
    /// does not set one (keen-semantics §11.3 rules).
    pub infer_timestamp_from: Option<String>,
}

/// One rejected NDJSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// Keen's error code.
    pub error_code: String,
    /// What was wrong, naming the property or limit.
    pub message: String,
}

/// The outcome of an NDJSON ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// Events acknowledged (stored or suppressed as duplicates).
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The first [`MAX_REPORTED_ERRORS`] rejections.
    pub errors: Vec<LineError>,
}

impl IngestSummary {
    fn reject(&mut self, line: u64, e: &Error) {
        self.rejected += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError {
                line,
                error_code: e.error_code().to_string(),
                message: e.to_string(),
            });
        }
    }
}

/// The result of one event in a batch (Keen's shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventResult {
    /// Stored (or a suppressed duplicate).
    Success,
    /// Rejected with Keen's error `name` and a `description`.
    Failure {
        /// Keen's error code.
        name: String,
        /// Message.
        description: String,
    },
}

impl Serialize for EventResult {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            EventResult::Success => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("success", &true)?;
                m.end()
            }
            EventResult::Failure { name, description } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("success", &false)?;
                m.serialize_entry(
                    "error",
                    &serde_json::json!({"name": name, "description": description}),
                )?;
                m.end()
            }
        }
    }
}

/// Keen's batch answer: per collection, in request order, one result per event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResponse {
    /// (collection, results) in request order.
    pub collections: Vec<(String, Vec<EventResult>)>,
}

impl BatchResponse {
    /// Total events that failed.
    pub fn failed(&self) -> usize {
        self.collections
            .iter()
            .flat_map(|(_, r)| r)
            .filter(|r| matches!(r, EventResult::Failure { .. }))
            .count()
    }
}

impl Serialize for BatchResponse {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.collections.len()))?;
        for (name, results) in &self.collections {
            m.serialize_entry(name, results)?;
        }
        m.end()
    }
}

fn failure(e: &Error) -> EventResult {
    EventResult::Failure { name: e.error_code().to_string(), description: e.to_string() }
}

/// The member name of a one-member line `{"<collection>": <value>}`; only
/// for ranking errors once [`EventParser::parse_wrapped_at`] has failed.
struct OneMember(String);

impl<'de> serde::Deserialize<'de> for OneMember {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneMember;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with exactly one member: {\"<collection>\": {event}}")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let key: String =
                    map.next_key()?.ok_or_else(|| de::Error::custom("empty object"))?;
                map.next_value::<de::IgnoredAny>()?;
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("more than one member"));
                }
                Ok(OneMember(key))
            }
        }
        d.deserialize_map(V)
    }
}

/// Batch document: collection name -> array of raw events, in order.
struct BatchDoc<'a>(Vec<(&'a str, Vec<&'a RawValue>)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for BatchDoc<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BatchDoc<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping collection names to arrays of events")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out: Vec<(&'de str, Vec<&'de RawValue>)> = Vec::new();
                let mut seen = HashSet::new();
                while let Some(key) = map.next_key::<&'de str>()? {
                    if !seen.insert(key) {
                        return Err(de::Error::custom(format!("duplicate collection {key:?}")));
                    }
                    let events: Vec<&'de RawValue> = map.next_value().map_err(|_| {
                        de::Error::custom(format!(
                            "the value of collection {key:?} must be an array of events"
                        ))
                    })?;
                    out.push((key, events));
                }
                Ok(BatchDoc(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The events of one collection in one parsed slice of an NDJSON block.
struct Group {
    /// The collection (sanitised when asked to).
    collection: String,
    batch: FlatBatch,
    /// The WAL encoding of the whole batch, made here in parallel so the
    /// append writes it without copying ([`tally_ingest::AppendPart::wal`]).
    wal: Vec<u8>,
    /// Per event: its line number.
    lines: Vec<u64>,
    /// `0..batch.len()`: every event is appended.
    idx: Vec<usize>,
    /// Ids looked up ahead against the collection, when it existed.
    resolved: Option<Resolved>,
}

impl Group {
    fn new(collection: String) -> Group {
        Group {
            collection,
            batch: FlatBatch::new(),
            wal: Vec::new(),
            lines: Vec::new(),
            idx: Vec::new(),
            resolved: None,
        }
    }
}

/// What appending one collection's part of a block gave.
struct CollectionAppend {
    accepted: u64,
    errors: Vec<(u64, Error)>,
    /// A failed WAL write (nothing of this collection's part is stored).
    result: Result<()>,
}

/// One parsed slice of an NDJSON block.
struct Parsed {
    groups: Vec<Group>,
    errors: Vec<(u64, Error)>,
}

/// The member name of a line `{"<name>": ...` when it needs no unescaping
/// (nearly always): picks the collection's batch before parsing. The
/// parser still checks the whole line.
fn peek_member(line: &[u8]) -> Option<&str> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while line.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    if line.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let end = start + memchr::memchr2(b'"', b'\\', line.get(start..)?)?;
    if line[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&line[start..end]).ok()
}

fn set_path(root: &serde_json::Value, path: &str) -> Option<serde_json::Value> {
    let mut cur = root;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur.clone())
}

/// Applies timestamp inference to one event, returning rewritten bytes when
/// it set `keen.timestamp`.
fn infer_into(event: &[u8], from: &str) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(event).ok()?;
    if v.get("keen").and_then(|k| k.get("timestamp")).is_some() {
        return None;
    }
    let ms = infer_timestamp(&set_path(&v, from)?)?;
    let obj = v.as_object_mut()?;
    let keen = obj.entry("keen").or_insert_with(|| serde_json::json!({}));
    keen.as_object_mut()?
        .insert("timestamp".into(), serde_json::Value::String(format_datetime(ms)));
    serde_json::to_vec(&v).ok()
}

/// Parses one line into `batch`; returns its collection (sanitised when
/// asked to). On error nothing is appended.
/// Parses one NDJSON line into `batch` and returns its collection's name
/// (borrowed from the line or the options unless sanitised). The name is
/// validated unless it equals `valid`, a name already accepted.
fn parse_line<'l>(
    parser: &mut EventParser,
    line: &'l [u8],
    batch: &mut FlatBatch,
    opts: &'l NdjsonOptions,
    limits: &EventLimits,
    valid: Option<&str>,
) -> std::result::Result<Cow<'l, str>, Error> {
    let collection_name = |name: Cow<'l, str>| {
        if opts.sanitize_collection_names {
            Cow::Owned(sanitize_collection_name(&name))
        } else {
            name
        }
    };
    let before = batch.mark();
    let collection =
        match &opts.collection {
            // Validated once, before the first line.
            Some(c) => {
                return Ok(parser.parse_at(line, 0, batch, limits).map(|()| c.as_str().into())?)
            }
            // One pass: the collection name and the event together.
            None => parser.parse_wrapped_at(line, 0, batch, limits).map(collection_name).map_err(
                |e| match serde_json::from_slice::<OneMember>(line) {
                    // A bad name outranks a bad event (a bad line outranks both).
                    Ok(OneMember(name)) => {
                        validate_collection_name(&collection_name(name.into())).err().unwrap_or(e)
                    }
                    Err(_) => e,
                },
            )?,
        };
    if valid != Some(&*collection) {
        if let Err(e) = validate_collection_name(&collection) {
            batch.truncate(before);
            return Err(e.into());
        }
    }
    Ok(collection)
}

/// The group's batch, and its collection name when the group holds
/// events: it was validated then, so lines naming it skip the check.
fn batch_and_valid_name(g: &mut Group) -> (&mut FlatBatch, Option<&str>) {
    let valid = (!g.lines.is_empty()).then_some(g.collection.as_str());
    (&mut g.batch, valid)
}

/// The group of `collection` in `groups`, added if new.
fn group_of(groups: &mut Vec<Group>, collection: &str) -> usize {
    match groups.iter().position(|g| g.collection == collection) {
        Some(i) => i,
        None => {
            groups.push(Group::new(collection.to_string()));
            groups.len() - 1
        }
    }
}

impl Project {
    fn parse_lines(
        &self,
        block: &[u8],
        lines: &[(u64, Range<usize>)],
        opts: &NdjsonOptions,
        autofill: Option<&Map<String, serde_json::Value>>,
        limits: &EventLimits,
    ) -> Parsed {
        let mut p = Parsed { groups: Vec::new(), errors: Vec::new() };
        let mut parser = EventParser::new();
        let mut spare = FlatBatch::new();
        let empty = spare.mark();
        let mut last = usize::MAX;
        for (n, (line_no, range)) in lines.iter().enumerate() {
            let (line_no, line) = (*line_no, &block[range.clone()]);
            // The collection's batch, picked before parsing when the name is
            // plain (else found by a first parse into a spare batch).
            let guess: Option<Cow<'_, str>> = match &opts.collection {
                Some(c) => Some(c.as_str().into()),
                None => peek_member(line).map(|name| {
                    if opts.sanitize_collection_names {
                        sanitize_collection_name(name).into()
                    } else {
                        name.into()
                    }
                }),
            };
            let mut gi = match &guess {
                Some(c) if p.groups.get(last).is_some_and(|g| g.collection == *c) => Some(last),
                Some(c) => Some(group_of(&mut p.groups, c)),
                None => None,
            };
            let mut before = gi.map(|g| p.groups[g].batch.mark());
            let parsed = match gi {
                Some(g) => {
                    let (batch, valid) = batch_and_valid_name(&mut p.groups[g]);
                    parse_line(&mut parser, line, batch, opts, limits, valid)
                }
                None => {
                    spare.truncate(empty);
                    parse_line(&mut parser, line, &mut spare, opts, limits, None)
                }
            };
            let collection = match parsed {
                Ok(c) => c,
                Err(e) => {
                    p.errors.push((line_no, e));
                    continue;
                }
            };
            if let (Some(g), Some(mark)) = (gi, before) {
                if p.groups[g].collection != collection {
                    // The guess was wrong: undo, and parse into the right batch.
                    p.groups[g].batch.truncate(mark);
                    gi = None;
                }
            }
            let g = match gi {
                Some(g) => g,
                None => {
                    let g = group_of(&mut p.groups, &collection);
                    let (batch, valid) = batch_and_valid_name(&mut p.groups[g]);
                    before = Some(batch.mark());
                    if let Err(e) = parse_line(&mut parser, line, batch, opts, limits, valid) {
                        p.errors.push((line_no, e));
                        continue;
                    }
                    g
                }
            };
            last = g;
            let group = &mut p.groups[g];
            let before = before.expect("a mark is taken before every parse into a group");
            let ev = group.batch.events.last().expect("the parser pushed one event");
            let event = &line[ev.raw.clone()];
            // An access key's autofill first (it wins on its paths, also as
            // the source of an inferred timestamp), then the inference.
            let mut rewritten = autofill.and_then(|fill| merge_autofill(event, fill));
            if let Some(from) = &opts.infer_timestamp_from {
                if ev.timestamp.is_none() {
                    let base = rewritten.as_deref().unwrap_or(event);
                    if let Some(r) = infer_into(base, from) {
                        rewritten = Some(r);
                    }
                }
            }
            if let Some(rewritten) = rewritten {
                group.batch.truncate(before);
                if let Err(e) = parser.parse_at(&rewritten, 0, &mut group.batch, limits) {
                    p.errors.push((line_no, e.into()));
                    continue;
                }
            }
            if group.lines.is_empty() {
                let rest = lines[n..].iter().map(|(_, r)| r.len()).sum();
                reserve_like_first(group, line.len(), rest);
            }
            group.idx.push(group.batch.len() - 1);
            group.lines.push(line_no);
        }
        // Encode the WAL part and look the ids of known columns and values
        // up here, in parallel, rather than in the serial append.
        for g in &mut p.groups {
            if g.batch.is_empty() {
                continue;
            }
            let b = &g.batch;
            g.wal.reserve(b.arena.len() + 4 * b.props.len() + 2 * b.list_elems.len() + 16);
            tally_ingest::encode_wal_part(b, &g.idx, &mut g.wal);
            if let Some(c) = self.collection(&g.collection) {
                g.resolved = Some(c.resolve(&g.batch));
            }
        }
        p
    }
}

/// Line numbers and byte ranges of a block's lines (see [`split_lines`]).
type Lines = Vec<(u64, Range<usize>)>;

/// The non-blank lines of `block` (without `\n` or `\r\n`) as byte ranges,
/// numbered on from `line_no`.
fn split_lines(block: &[u8], line_no: &mut u64) -> Lines {
    let mut lines = Vec::new();
    if block.is_empty() {
        return lines;
    }
    let body = block.strip_suffix(b"\n").unwrap_or(block);
    // memchr finds line ends with SIMD; a byte-by-byte split was a serial
    // scan of the whole input.
    let mut start = 0usize;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        let mut l = start..end;
        start = end + 1;
        *line_no += 1;
        if body[..l.end].ends_with(b"\r") && l.end > l.start {
            l.end -= 1;
        }
        if body[l.clone()].iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        lines.push((*line_no, l));
    }
    lines
}

/// Reserves room for `rest` more bytes of input shaped like the group's
/// first event (a line of `first` bytes), so the arena and value vectors
/// are not regrown (and copied) while parsing. Several collections share a
/// slice, so only half of it is reserved up front.
fn reserve_like_first(g: &mut Group, first: usize, rest: usize) {
    let events = rest / first.max(1) / 2;
    let batch = &mut g.batch;
    batch.arena.reserve(batch.arena.len().saturating_mul(events));
    batch.props.reserve(batch.props.len().saturating_mul(events));
    batch.list_elems.reserve(batch.list_elems.len().saturating_mul(events));
    batch.events.reserve(events);
    g.lines.reserve(events);
    g.idx.reserve(events);
}

impl Project {
    fn append_parsed(&self, parsed: Vec<Parsed>, summary: &mut IngestSummary) -> Result<()> {
        // Per collection, its groups in block order: one WAL record (and
        // one fsync) per collection per block.
        let mut by_collection: BTreeMap<&str, Vec<&Group>> = BTreeMap::new();
        for p in &parsed {
            for g in p.groups.iter().filter(|g| !g.batch.is_empty()) {
                by_collection.entry(g.collection.as_str()).or_default().push(g);
            }
        }
        // Collections are independent (own lock, WAL, head): append them
        // side by side, so their fsyncs overlap instead of queueing.
        let jobs: Vec<(&str, Vec<&Group>)> = by_collection.into_iter().collect();
        let outcomes: Vec<CollectionAppend> = if jobs.len() <= 1 {
            jobs.iter().map(|(name, groups)| self.append_collection(name, groups)).collect()
        } else {
            // At most APPEND_THREADS threads take the collections in turn
            // (a block may name thousands of collections).
            let next = AtomicUsize::new(0);
            let work = || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((name, groups)) = jobs.get(i) else { break done };
                    done.push((i, self.append_collection(name, groups)));
                }
            };
            let mut done = std::thread::scope(|s| {
                let helpers: Vec<_> =
                    (1..jobs.len().min(APPEND_THREADS)).map(|_| s.spawn(work)).collect();
                let mut done = work();
                for h in helpers {
                    done.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                }
                done
            });
            done.sort_by_key(|(i, _)| *i);
            done.into_iter().map(|(_, o)| o).collect()
        };
        let mut errors: Vec<(u64, Error)> = Vec::new();
        let mut failed = None;
        for o in outcomes {
            summary.accepted += o.accepted;
            errors.extend(o.errors);
            if let (None, Err(e)) = (&failed, o.result) {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        drop(jobs);
        for p in parsed {
            errors.extend(p.errors);
        }
        errors.sort_by_key(|(l, _)| *l);
        for (line, e) in &errors {
            summary.reject(*line, e);
        }
        Ok(())
    }

    /// Appends one collection's groups of a block as one WAL record.
    fn append_collection(&self, name: &str, groups: &[&Group]) -> CollectionAppend {
        let mut out = CollectionAppend { accepted: 0, errors: Vec::new(), result: Ok(()) };
        let coll = match self.collection_or_create(name) {
            Ok(c) => c,
            Err(e) => {
                for &line in groups.iter().flat_map(|g| &g.lines) {
                    out.errors.push((
                        line,
                        Error::InvalidParameter {
                            name: "collection".into(),
                            reason: e.to_string(),
                        },
                    ));
                }
                return out;
            }
        };
        let parts: Vec<AppendPart<'_>> = groups
            .iter()
            .map(|g| AppendPart {
                batch: &g.batch,
                wal: &g.wal,
                events: &g.idx,
                resolved: g.resolved.as_ref(),
            })
            .collect();
        let appended = match coll.append_resolved(&parts) {
            // Deleted since the lookup: the name starts a new collection.
            Err(IngestError::Deleted { .. }) => {
                self.with_live_collection(name, |c| c.append_resolved(&parts))
            }
            other => other.map_err(Error::from),
        };
        match appended {
            Ok(outs) => {
                for (o, g) in outs.into_iter().zip(groups) {
                    for (r, &line) in o.results.into_iter().zip(&g.lines) {
                        match r {
                            Ok(()) => out.accepted += 1,
                            Err(e) => out.errors.push((line, e.into())),
                        }
                    }
                }
            }
            Err(e) => out.result = Err(e),
        }
        out
    }

    /// Ingests NDJSON from `reader` (see [`NdjsonOptions`] for the line
    /// format). Bad lines are reported with their line numbers and the rest
    /// of the input proceeds. `progress` is called with the bytes consumed
    /// so far after each block.
    pub fn ingest_ndjson<R: Read>(
        &self,
        reader: R,
        opts: &NdjsonOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<IngestSummary> {
        self.ingest_ndjson_with(reader, opts, None, progress)
    }

    /// [`Project::ingest_ndjson`] with an access key's autofill merged into
    /// every event.
    pub(crate) fn ingest_ndjson_with<R: Read>(
        &self,
        reader: R,
        opts: &NdjsonOptions,
        autofill: Option<&Map<String, serde_json::Value>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<IngestSummary> {
        if let Some(c) = &opts.collection {
            validate_collection_name(c)?;
        }
        let limits = self.limits().clone();
        let mut input =
            BlockReader { reader, block: NDJSON_BLOCK_BYTES, carry: Vec::new(), eof: false };
        // Three stages at once, each on its own thread: this thread reads
        // block i + 1 while the rayon pool parses block i and the appender
        // appends the blocks before (one WAL record and fsync per collection
        // per block). The appender's queue holds one parsed block, so a
        // slow append (an fsync, a big collection) does not leave the
        // parsers idle, nor a slow parse the appender; at most three parsed
        // blocks are in memory.
        let (to_appender, parsed_blocks) = std::sync::mpsc::sync_channel::<Vec<Parsed>>(1);
        let (fed, appended) = std::thread::scope(|s| {
            let appender = s.spawn(move || -> Result<IngestSummary> {
                let mut summary = IngestSummary::default();
                for parsed in parsed_blocks {
                    let mut block = IngestSummary::default();
                    self.append_parsed(parsed, &mut block)?;
                    merge_summary(&mut summary, block);
                }
                Ok(summary)
            });
            let fed = self.feed_ndjson(&mut input, opts, autofill, &limits, &to_appender, progress);
            // The appender ends once the queue is closed and drained (or at
            // its first error, which also ends the feeding: `send` fails).
            drop(to_appender);
            let appended = appender.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (fed, appended)
        });
        // An append error is the cause of a feeding stop; report it first.
        let summary = appended?;
        fed?;
        Ok(summary)
    }

    /// Reads, splits and parses the blocks of `input`, handing each parsed
    /// block to the appender (see [`Project::ingest_ndjson_with`]); stops
    /// early when the appender has stopped.
    fn feed_ndjson<R: Read>(
        &self,
        input: &mut BlockReader<R>,
        opts: &NdjsonOptions,
        autofill: Option<&Map<String, serde_json::Value>>,
        limits: &EventLimits,
        to_appender: &std::sync::mpsc::SyncSender<Vec<Parsed>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let mut line_no: u64 = 0;
        let mut consumed: u64 = 0;
        // Two buffers: one block is parsed while the next is read into the
        // other (reading, and the page faults of a fresh buffer, used to
        // stall both cores between blocks).
        let mut spare: Vec<u8> = Vec::new();
        let mut read = |buf: Vec<u8>| -> Result<Option<(Vec<u8>, Lines)>> {
            let Some(block) = input.read_block(buf)? else { return Ok(None) };
            let lines = split_lines(&block, &mut line_no);
            Ok(Some((block, lines)))
        };
        let mut next = read(Vec::new());
        loop {
            let Some((block, lines)) = next? else { break };
            consumed += block.len() as u64;
            let parts = (rayon::current_num_threads() * 4).max(1);
            let per = lines.len().div_ceil(parts).max(1);
            let (lines, body) = (&lines, &block[..]);
            let buf = std::mem::take(&mut spare);
            // The rayon pool parses this block while this thread reads and
            // splits the next one.
            let (parsed, read_next) = std::thread::scope(|s| {
                let parser = s.spawn(move || {
                    lines
                        .par_chunks(per)
                        .map(|chunk| self.parse_lines(body, chunk, opts, autofill, limits))
                        .collect::<Vec<Parsed>>()
                });
                let read_next = read(buf);
                let parsed = parser.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                (parsed, read_next)
            });
            if to_appender.send(parsed).is_err() {
                return Ok(()); // the appender stopped at an error: it reports it
            }
            progress(consumed);
            spare = block;
            next = read_next;
        }
        Ok(())
    }

    /// Records a Keen batch document (keen-semantics §1.2):
    /// `{"<collection>": [event, ...], ...}`. Events fail individually; a
    /// malformed document or one over the batch limits fails as a whole
    /// with nothing stored.
    pub fn record_batch(&self, body: &[u8]) -> Result<BatchResponse> {
        self.record_batch_with(body, None)
    }

    /// [`Project::record_batch`] with an access key's autofill merged into
    /// every event.
    pub(crate) fn record_batch_with(
        &self,
        body: &[u8],
        autofill: Option<&Map<String, serde_json::Value>>,
    ) -> Result<BatchResponse> {
        if body.len() > MAX_BATCH_BYTES {
            return Err(Error::InvalidBatch(format!(
                "payload breaks the batch size limit ({} > {MAX_BATCH_BYTES} bytes)",
                body.len()
            )));
        }
        let doc: BatchDoc = serde_json::from_slice(body)
            .map_err(|e| Error::InvalidBatch(format!("malformed batch: {e}")))?;
        let total: usize = doc.0.iter().map(|(_, v)| v.len()).sum();
        if total > MAX_BATCH_EVENTS {
            return Err(Error::InvalidBatch(format!(
                "batch breaks the events per batch limit ({total} > {MAX_BATCH_EVENTS})"
            )));
        }
        let limits = self.limits().clone();
        let mut response = BatchResponse::default();
        for (name, events) in doc.0 {
            let mut results: Vec<EventResult> = Vec::with_capacity(events.len());
            if let Err(e) = validate_collection_name(name) {
                let e: Error = e.into();
                results.resize(events.len(), failure(&e));
                response.collections.push((name.to_string(), results));
                continue;
            }
            let mut batch = FlatBatch::new();
            let mut slots: HashMap<usize, usize> = HashMap::new();
            let mut idxs = Vec::new();
            for (pos, ev) in events.iter().enumerate() {
                let given = ev.get().as_bytes();
                let mark = batch.mark();
                let mut parsed = parse_event(given, &mut batch, &limits);
                if let (Ok(()), Some(fill)) = (&parsed, autofill) {
                    // Checked as sent first, then stored as merged (the
                    // limits apply to the merged event).
                    batch.truncate(mark);
                    let merged = merge_autofill(given, fill).unwrap_or_else(|| given.to_vec());
                    parsed = parse_event(&merged, &mut batch, &limits);
                }
                match parsed {
                    Ok(()) => {
                        slots.insert(batch.events.len() - 1, pos);
                        idxs.push(batch.events.len() - 1);
                        results.push(EventResult::Success);
                    }
                    Err(e) => results.push(failure(&e.into())),
                }
            }
            if !idxs.is_empty() {
                let out = self.with_live_collection(name, |c| c.append(&batch, &idxs))?;
                for (r, i) in out.results.into_iter().zip(idxs) {
                    if let Err(e) = r {
                        results[slots[&i]] = failure(&e.into());
                    }
                }
            }
            response.collections.push((name.to_string(), results));
        }
        Ok(response)
    }
}

/// Reads NDJSON input in blocks that end at a line end.
struct BlockReader<R> {
    reader: R,
    /// Bytes read per block ([`NDJSON_BLOCK_BYTES`]).
    block: usize,
    /// Bytes read past the last line end of the previous block.
    carry: Vec<u8>,
    eof: bool,
}

impl<R: Read> BlockReader<R> {
    /// The next block (about `block` bytes, ending at a line end,
    /// or the rest at end of input), read into `buf`; `None` when the input
    /// is done.
    fn read_block(&mut self, mut buf: Vec<u8>) -> Result<Option<Vec<u8>>> {
        if self.eof {
            return Ok(None);
        }
        buf.clear();
        buf.append(&mut self.carry);
        loop {
            let want = self.block as u64;
            // read_to_end fills spare capacity without zeroing it first.
            let n = (&mut self.reader)
                .take(want)
                .read_to_end(&mut buf)
                .map_err(|e| Error::Io { path: "input".into(), source: e })?;
            if (n as u64) < want {
                self.eof = true;
                return Ok(Some(buf));
            }
            if let Some(i) = memchr::memrchr(b'\n', &buf) {
                self.carry.extend_from_slice(&buf[i + 1..]);
                buf.truncate(i + 1);
                return Ok(Some(buf));
            }
            // One line longer than a block: keep reading.
        }
    }
}

fn merge_summary(into: &mut IngestSummary, s: IngestSummary) {
    into.accepted += s.accepted;
    into.rejected += s.rejected;
    for e in s.errors {
        if into.errors.len() < MAX_REPORTED_ERRORS {
            into.errors.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most 3 bytes per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn blocks(input: &[u8], block: usize) -> Vec<Vec<u8>> {
        let mut r = BlockReader { reader: Trickle(input), block, carry: Vec::new(), eof: false };
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(b) = r.read_block(std::mem::take(&mut buf)).unwrap() {
            out.push(b.clone());
            buf = b; // recycled, as ingest_ndjson does
        }
        out
    }

    #[test]
    fn blocks_end_at_line_ends_and_keep_long_lines_whole() {
        let input = b"a\nbb\nccc\nthis line is longer than a block\nd\ne";
        let got = blocks(input, 8);
        assert_eq!(got.concat(), input.to_vec());
        for b in &got[..got.len() - 1] {
            assert_eq!(b.last(), Some(&b'\n'), "{:?}", String::from_utf8_lossy(b));
        }
        // The long line made one block grow past 8 bytes, to the end here.
        assert_eq!(got.last().unwrap(), b"this line is longer than a block\nd\ne");
        assert_eq!(got[..2], [b"a\nbb\n".to_vec(), b"ccc\n".to_vec()]);
        assert_eq!(blocks(b"", 8), vec![Vec::<u8>::new()]);
        assert_eq!(blocks(b"x\n", 2), vec![b"x\n".to_vec(), Vec::new()]);
    }
}
