//! Checking one JSON event and flattening it into a [`FlatBatch`].
//!
//! [`parse_event`] runs serde's streaming API over the raw bytes
//! (`serde_json::Deserializer::from_slice` driven by our own
//! `DeserializeSeed`/`Visitor`s): there is no `serde_json::Value` tree. While
//! the JSON is read, each leaf's dotted path is joined in a reusable prefix
//! buffer and copied into the batch arena once, strings go straight into the
//! arena, and every rule of keen-semantics §1.3–1.6 is checked on the way, so a
//! bad event stops at its first offence. On error the batch is rolled back to
//! where it was ([`FlatBatch::mark`] / [`FlatBatch::truncate`]).
//!
//! # Rules and the errors they raise
//!
//! | rule | error |
//! |---|---|
//! | more than `max_event_bytes` bytes (checked before parsing) | `LimitExceeded` `InvalidEvent` / `EventSize` |
//! | not JSON, invalid UTF-8, lone surrogate, trailing characters, root not an object | `InvalidEvent` |
//! | object nested more than `max_depth` below the root | `LimitExceeded` `InvalidEvent` / `NestingDepth` |
//! | more than `max_properties` leaves (stops at the first one over) | `LimitExceeded` `InvalidEvent` / `PropertyCount` |
//! | a name empty, longer than `max_property_name_chars`, with `.`, a control character, or a leading `$` | `InvalidPropertyName` |
//! | the same key twice in one object (exact bytes after unescaping) | `InvalidEvent` |
//! | a string of `max_string_chars` characters or more | `LimitExceeded` `InvalidPropertyValue` / `StringLength` |
//! | a number outside −2^63 … 2^63−1 (or too large for f64) | `InvalidPropertyValue` |
//! | an object or list inside a list | `ListsOfNonPrimitivesNotAllowed` |
//! | more than `max_list_len` list elements | `LimitExceeded` `InvalidPropertyValue` / `ArrayLength` |
//! | root `keen` not an object | `NamespaceType` |
//! | unknown `keen.*` member | `InvalidKeenNamespaceProperty` |
//! | bad `keen.timestamp`, `keen.location`, `keen.uniqueness_token` | `InvalidPropertyValue` (`UniquenessTokenLength` when too long) |
//!
//! Depth: the root object is depth 0 and every object value one level deeper
//! than its parent; lists are leaves and do not count. Inside the ignored
//! `keen.addons`, `keen.id` and `keen.created_at` values, lists count as levels
//! too. serde_json's own recursion limit (128 levels) stays in force, so the
//! effective maximum depth is `min(max_depth, 126)` and a 100,000-deep input
//! never reaches our recursion at all.
//!
//! The ignored `keen` values are only checked for depth and JSON validity:
//! their keys are not validated nor checked for duplicates, since nothing of
//! them is stored. Integers beyond i64 that serde_json reads as f64 are
//! range-checked after rounding (so `-9223372036854775809` rounds to −2^63
//! and is accepted as `i64::MIN`).
//!
//! The input is UTF-8-checked once as a whole and then read as a `&str`, so
//! serde_json does not validate each string again.
//!
//! NDJSON lines `{"<collection>": {event}}` go through
//! [`EventParser::parse_wrapped_at`] in the same single pass: the wrapper's
//! one member name is returned, its value is the event above, and the event's
//! raw range is found from the bytes around it. A line that is not such a
//! wrapper is `InvalidEvent` ("malformed line: …"), ranked before any rule
//! its event breaks; the size limit counts the event's bytes, and the
//! wrapper takes one of serde_json's 128 levels (effective depth
//! `min(max_depth, 125)`).
//!
//! Typing (§0): integral numbers in i64 range (`42`, `42.0`, `1e3`) become
//! [`FlatScalar::Int`], other numbers [`FlatScalar::Float`]; strings that are
//! exactly a zoned ISO-8601 date-time become [`FlatScalar::Datetime`] (also as
//! list elements); `null` is [`FlatScalar::Null`]; an empty object produces no
//! property.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::datetime::{parse_timestamp, parse_zoned_datetime};
use crate::dict::same_bytes;
use crate::error::{ErrorCode, IngestError, Limit, Result};
use crate::flat::{EventLimits, FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue, StrRef};

/// Most characters of a name or path quoted in an error message.
const QUOTE_CHARS: usize = 100;
/// Objects with this many keys switch duplicate detection from a linear scan
/// to a hash set.
const WIDE_OBJECT: usize = 24;
/// Longest `keen.uniqueness_token`, in characters (keen-semantics §1.8).
pub const MAX_UNIQUENESS_TOKEN_CHARS: usize = 256;
/// serde_json refuses input nested deeper than this many containers.
const SERDE_RECURSION_LIMIT: usize = 128;
/// Containers the NDJSON wrapper `{"<collection>": …}` adds around an event.
const WRAPPER_LEVELS: usize = 1;
/// What an NDJSON line must look like, for error messages.
const WRAPPER_SHAPE: &str = "an object with exactly one member: {\"<collection>\": {event}}";

/// Parses one raw JSON event, validates it and appends its flattened form to
/// `batch`. On error nothing is appended.
///
/// The new [`FlatEvent::raw`] is `0..raw.len()`; use [`parse_event_at`] when
/// `raw` is a slice of a larger buffer. Scratch buffers are kept per thread;
/// [`EventParser`] holds them explicitly.
///
/// ```
/// use tally_ingest::{parse_event, EventLimits, FlatBatch, FlatScalar, FlatValue};
/// let mut batch = FlatBatch::new();
/// parse_event(br#"{"user": {"id": 7}, "ok": true}"#, &mut batch, &EventLimits::default())?;
/// let props = batch.props_of(0);
/// assert_eq!(batch.str(props[0].path), "user.id");
/// assert_eq!(props[0].value, FlatValue::Scalar(FlatScalar::Int(7)));
/// assert!(parse_event(br#"{"a.b": 1}"#, &mut batch, &EventLimits::default()).is_err());
/// assert_eq!(batch.len(), 1);
/// # Ok::<(), tally_ingest::IngestError>(())
/// ```
pub fn parse_event(raw: &[u8], batch: &mut FlatBatch, limits: &EventLimits) -> Result<()> {
    parse_event_at(raw, 0, batch, limits)
}

/// Like [`parse_event`], for an event found at byte `offset` of a larger
/// input: [`FlatEvent::raw`] becomes `offset..offset + raw.len()`.
pub fn parse_event_at(
    raw: &[u8],
    offset: usize,
    batch: &mut FlatBatch,
    limits: &EventLimits,
) -> Result<()> {
    thread_local! {
        static PARSER: RefCell<EventParser> = RefCell::new(EventParser::new());
    }
    PARSER.with(|p| match p.try_borrow_mut() {
        Ok(mut p) => p.parse_at(raw, offset, batch, limits),
        // Only reachable if called re-entrantly; use fresh scratch then.
        Err(_) => EventParser::new().parse_at(raw, offset, batch, limits),
    })
}

/// A reusable event parser: [`parse_event`] with explicit scratch buffers
/// (the path prefix and the keys of the objects being read).
///
/// ```
/// use tally_ingest::{EventLimits, EventParser, FlatBatch};
/// let mut parser = EventParser::new();
/// let mut batch = FlatBatch::new();
/// let input = br#"{"a":1}{"b":2}"#;
/// parser.parse_at(&input[..7], 0, &mut batch, &EventLimits::default())?;
/// parser.parse_at(&input[7..], 7, &mut batch, &EventLimits::default())?;
/// assert_eq!(batch.events[1].raw, 7..14);
/// # Ok::<(), tally_ingest::IngestError>(())
/// ```
pub struct EventParser {
    scratch: Scratch,
}

impl fmt::Debug for EventParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventParser").finish_non_exhaustive()
    }
}

impl Default for EventParser {
    fn default() -> Self {
        Self::new()
    }
}

struct Scratch {
    /// The dotted path of the value being read.
    path: String,
    /// Keys of the objects on the current path, for duplicate detection.
    key_bytes: String,
    /// `(start, len, fingerprint)` of each key in `key_bytes`.
    keys: Vec<(usize, usize, u64)>,
    /// Seeds the hashes of wide objects' keys.
    hasher: RandomState,
}

impl EventParser {
    /// A parser with empty scratch buffers.
    pub fn new() -> Self {
        EventParser {
            scratch: Scratch {
                path: String::with_capacity(128),
                key_bytes: String::with_capacity(256),
                keys: Vec::with_capacity(32),
                hasher: RandomState::new(),
            },
        }
    }

    /// Parses `raw` (found at byte `offset` of the caller's input) into
    /// `batch`, exactly like [`parse_event_at`].
    pub fn parse_at(
        &mut self,
        raw: &[u8],
        offset: usize,
        batch: &mut FlatBatch,
        limits: &EventLimits,
    ) -> Result<()> {
        check_size(raw.len(), limits)?;
        // One UTF-8 check of the whole event; serde_json then reads a `&str`
        // and skips its per-string validation.
        let text = std::str::from_utf8(raw).map_err(|e| {
            let msg = format!("invalid json: invalid UTF-8 at byte {}", e.valid_up_to());
            IngestError::invalid(ErrorCode::InvalidEvent, msg)
        })?;
        let mark = batch.mark();
        let raw_range = offset..offset.saturating_add(raw.len());
        let result = self.parse_text(text, false, raw_range, batch, limits);
        if result.is_err() {
            batch.truncate(mark);
        }
        result.map(drop)
    }

    /// Parses one NDJSON line `{"<collection>": {event}}` in a single pass:
    /// returns the collection name (borrowed from `line` unless it holds
    /// escapes) and appends the inner event to `batch` exactly as
    /// [`EventParser::parse_at`] would parse the inner object's bytes. The
    /// new [`FlatEvent::raw`] is the inner object's byte range in `line`,
    /// shifted by `offset`; `max_event_bytes` applies to those bytes.
    ///
    /// A line that is not an object with exactly one member whose value is
    /// an object fails with `InvalidEvent` ("malformed line: …"), also when
    /// the inner event breaks a rule as well. On error nothing is appended.
    ///
    /// ```
    /// use tally_ingest::{EventLimits, EventParser, FlatBatch};
    /// let mut parser = EventParser::new();
    /// let mut batch = FlatBatch::new();
    /// let line = br#"{"clicks": {"x": 1}}"#;
    /// let name = parser.parse_wrapped_at(line, 100, &mut batch, &EventLimits::default())?;
    /// assert_eq!(name, "clicks");
    /// assert_eq!(batch.events[0].raw, 111..119);
    /// let two = br#"{"a": {}, "b": {}}"#;
    /// assert!(parser.parse_wrapped_at(two, 0, &mut batch, &EventLimits::default()).is_err());
    /// assert_eq!(batch.len(), 1);
    /// # Ok::<(), tally_ingest::IngestError>(())
    /// ```
    pub fn parse_wrapped_at<'l>(
        &mut self,
        line: &'l [u8],
        offset: usize,
        batch: &mut FlatBatch,
        limits: &EventLimits,
    ) -> Result<Cow<'l, str>> {
        let Some(inner) = wrapped_event_range(line) else {
            return Err(wrapper_problem(line).unwrap_or_else(not_an_event_object));
        };
        if let Err(e) = check_size(inner.len(), limits) {
            return Err(wrapper_problem(line).unwrap_or(e));
        }
        let text = std::str::from_utf8(line)
            .map_err(|e| malformed(format_args!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        let mark = batch.mark();
        let raw_range = offset.saturating_add(inner.start)..offset.saturating_add(inner.end);
        let result = self.parse_text(text, true, raw_range, batch, limits);
        if let Err(e) = result {
            batch.truncate(mark);
            // Keep the precedence of a wrapper check run first: a bad line
            // is reported as such even when its event is bad too.
            return Err(wrapper_problem(line).unwrap_or(e));
        }
        result
    }

    /// Runs one serde pass over `text` (an event, or a wrapped line when
    /// `wrapped`) and pushes the event header; returns the collection name
    /// of a wrapped line (empty otherwise). The caller rolls back on error.
    fn parse_text<'de>(
        &mut self,
        text: &'de str,
        wrapped: bool,
        raw: Range<usize>,
        batch: &mut FlatBatch,
        limits: &EventLimits,
    ) -> Result<Cow<'de, str>> {
        self.scratch.path.clear();
        self.scratch.key_bytes.clear();
        self.scratch.keys.clear();
        let props_start = batch.props.len();
        let prev = batch_prev_props(batch);
        let mut ctx = Ctx {
            batch,
            limits,
            s: &mut self.scratch,
            props: 0,
            err: None,
            timestamp: None,
            token: None,
            location: None,
            outer_levels: if wrapped { WRAPPER_LEVELS } else { 0 },
            cursor: prev.start,
            prev,
            matched: None,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = if wrapped {
            Wrapper(&mut ctx).deserialize(&mut de)
        } else {
            Root(&mut ctx).deserialize(&mut de).map(|()| Cow::Borrowed(""))
        };
        let name = match parsed.and_then(|name| de.end().map(|()| name)) {
            Ok(name) => name,
            Err(e) => return Err(ctx.map_serde_error(&e)),
        };
        let Ctx { batch, timestamp, token, location, .. } = ctx;
        let fits = |n: usize| u32::try_from(n).is_ok();
        if !fits(batch.arena.len()) || !fits(batch.props.len()) || !fits(batch.list_elems.len()) {
            return Err(IngestError::InvalidBatch {
                reason: "batch arena outgrew 4 GiB (or 2^32 values); split the batch".into(),
            });
        }
        batch.events.push(FlatEvent {
            props: props_start as u32..batch.props.len() as u32,
            timestamp,
            uniqueness_token: token,
            location,
            raw,
        });
        Ok(name)
    }
}

/// The props of the batch's last event: most events of a batch share
/// their shape, so their leaf paths are found there (and not copied again).
fn batch_prev_props(batch: &FlatBatch) -> Range<usize> {
    batch.events.last().map_or(0..0, |e| e.props.start as usize..e.props.end as usize)
}

/// The event size rule (checked before parsing).
fn check_size(len: usize, limits: &EventLimits) -> Result<()> {
    if len > limits.max_event_bytes {
        return Err(IngestError::LimitExceeded {
            code: ErrorCode::InvalidEvent,
            what: "event".into(),
            limit: Limit::EventSize,
            max: limits.max_event_bytes,
            actual: len,
        });
    }
    Ok(())
}

fn malformed(what: impl fmt::Display) -> IngestError {
    IngestError::invalid(ErrorCode::InvalidEvent, format!("malformed line: {what}"))
}

fn not_an_event_object() -> IngestError {
    malformed(format_args!("the member's value must be an event object: expected {WRAPPER_SHAPE}"))
}

/// JSON whitespace.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The byte range of the inner object of `{"<name>": {…}}`, found by looking
/// only at the bytes around it: `ws { ws "name" ws : ws` before and
/// `ws } ws` after. Exact for every line the serde pass accepts; `None`
/// when those bytes do not have that shape.
fn wrapped_event_range(line: &[u8]) -> Option<Range<usize>> {
    let skip_ws = |mut i: usize| {
        while line.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        i
    };
    let trim_end = |mut end: usize| {
        while end > 0 && is_ws(line[end - 1]) {
            end -= 1;
        }
        end
    };
    let mut i = skip_ws(0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(i + 1);
    if line.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    // The end of the name: the first quote not escaped by a backslash.
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', line.get(i..)?)?;
        if line[j] == b'"' {
            i = j + 1;
            break;
        }
        i = j + 2;
    }
    i = skip_ws(i);
    if line.get(i) != Some(&b':') {
        return None;
    }
    let start = skip_ws(i + 1);
    if line.get(start) != Some(&b'{') {
        return None;
    }
    let outer_end = trim_end(line.len());
    if outer_end <= start + 1 || line[outer_end - 1] != b'}' {
        return None;
    }
    let end = trim_end(outer_end - 1);
    if end <= start + 1 || line[end - 1] != b'}' {
        return None;
    }
    Some(start..end)
}

/// Why `line` is not `{"<collection>": {event}}`, or `None` when it is (its
/// event may still be bad). A cheap structural pass for error paths only:
/// the value is skipped, not parsed.
fn wrapper_problem(line: &[u8]) -> Option<IngestError> {
    struct Shape;
    impl<'de> Visitor<'de> for Shape {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(WRAPPER_SHAPE)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            if map.next_key::<de::IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(format_args!(
                    "empty object: expected {WRAPPER_SHAPE}"
                )));
            }
            map.next_value::<de::IgnoredAny>()?;
            if map.next_key::<de::IgnoredAny>()?.is_some() {
                return Err(de::Error::custom(format_args!(
                    "more than one member: expected {WRAPPER_SHAPE}"
                )));
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    match de.deserialize_map(Shape).and_then(|()| de.end()) {
        Err(e) => Some(malformed(e)),
        Ok(()) if wrapped_event_range(line).is_none() => Some(not_an_event_object()),
        Ok(()) => None,
    }
}

/// The NDJSON wrapper `{"<collection>": {event}}`: yields the name.
struct Wrapper<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for Wrapper<'_, '_> {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Wrapper<'_, '_> {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(WRAPPER_SHAPE)
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let Some(name) = map.next_key_seed(CollectionName)? else {
            return Err(de::Error::custom(format_args!("empty object: expected {WRAPPER_SHAPE}")));
        };
        map.next_value_seed(Root(&mut *self.0))?;
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format_args!(
                "more than one member: expected {WRAPPER_SHAPE}"
            )));
        }
        Ok(name)
    }
}

/// The member name of the wrapper, borrowed when it has no escapes.
struct CollectionName;

impl<'de> DeserializeSeed<'de> for CollectionName {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CollectionName {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a collection name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Quotes at most [`QUOTE_CHARS`] characters of `s` for an error message.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_CHARS) {
        None => format!("{s:?}"),
        Some((i, _)) => format!("{:?}…", &s[..i]),
    }
}

/// Per-byte classes for property names: 1 = `.`, 2 = ASCII control,
/// 4 = non-ASCII (needs a char-level look for C1 controls).
static NAME_BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i == b'.' as usize {
            1
        } else if i < 0x20 || i == 0x7f {
            2
        } else if i >= 0x80 {
            4
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Why a property name is invalid (keen-semantics §1.4, RELIABILITY §3c).
fn name_problem(name: &str, max_chars: usize) -> Option<&'static str> {
    let b = name.as_bytes();
    match b.first() {
        None => return Some("property names may not be empty"),
        Some(b'$') => return Some("property names may not start with '$'"),
        Some(_) => {}
    }
    // One branch-free pass for the common, clean ASCII name.
    let class = b.iter().fold(0u8, |acc, &c| acc | NAME_BYTE_CLASS[usize::from(c)]);
    if class & 1 != 0 {
        return Some("property names may not contain '.'");
    }
    if class & 2 != 0 || (class & 4 != 0 && name.chars().any(char::is_control)) {
        return Some("property names may not contain control characters");
    }
    if b.len() > max_chars && name.chars().count() > max_chars {
        return Some(NAME_TOO_LONG);
    }
    None
}

const NAME_TOO_LONG: &str = "property name too long";

/// Key bytes held in a [`fingerprint`].
const FINGERPRINT_BYTES: usize = 7;

/// A cheap key fingerprint (first 7 bytes and the length) compared before
/// the bytes themselves in duplicate detection; for keys of at most
/// [`FINGERPRINT_BYTES`] bytes it is the whole key.
fn fingerprint(k: &[u8]) -> u64 {
    // Built in a register: copying a short key into a stack buffer and
    // reading it back as a u64 stalls on store forwarding.
    const LOW_7: u64 = (1 << 56) - 1;
    let bytes = match k.first_chunk::<8>() {
        Some(head) => u64::from_le_bytes(*head) & LOW_7,
        None => k.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    };
    bytes | (k.len() as u64 & 0xff) << 56
}

/// Parse state shared by all visitors of one event.
struct Ctx<'a> {
    batch: &'a mut FlatBatch,
    limits: &'a EventLimits,
    s: &'a mut Scratch,
    /// Leaf properties so far.
    props: usize,
    /// The real error behind a serde error raised by one of our visitors.
    err: Option<IngestError>,
    timestamp: Option<i64>,
    token: Option<StrRef>,
    location: Option<[f64; 2]>,
    /// serde_json containers around the event (the NDJSON wrapper).
    outer_levels: usize,
    /// The previous event of the batch, whose leaf paths this event's are
    /// matched against (see [`Ctx::match_path`]).
    prev: Range<usize>,
    /// Prop index (within `prev`) where the next leaf is expected.
    cursor: usize,
    /// The previous event's path equal to the current path, if the last
    /// key matched one: the leaf reuses its bytes instead of a copy.
    matched: Option<StrRef>,
}

impl Ctx<'_> {
    /// Records `e` and returns the serde error that unwinds the parse.
    fn fail<E: de::Error>(&mut self, e: IngestError) -> E {
        self.err = Some(e);
        E::custom("event rejected")
    }

    fn fail_code<E: de::Error>(&mut self, code: ErrorCode, message: String) -> E {
        self.fail(IngestError::invalid(code, message))
    }

    fn path_quoted(&self) -> String {
        quote(&self.s.path)
    }

    fn map_serde_error(&mut self, e: &serde_json::Error) -> IngestError {
        if let Some(err) = self.err.take() {
            return err;
        }
        let msg = e.to_string();
        if msg.starts_with("recursion limit exceeded") {
            return IngestError::LimitExceeded {
                code: ErrorCode::InvalidEvent,
                what: "event".into(),
                limit: Limit::NestingDepth,
                max: self.limits.max_depth.min(SERDE_RECURSION_LIMIT - 2 - self.outer_levels),
                actual: SERDE_RECURSION_LIMIT,
            };
        }
        if msg.starts_with("number out of range") {
            return IngestError::invalid(
                ErrorCode::InvalidPropertyValue,
                format!("property {}: number out of range", self.path_quoted()),
            );
        }
        let short: String = msg.chars().take(2 * QUOTE_CHARS).collect();
        IngestError::invalid(ErrorCode::InvalidEvent, format!("invalid json: {short}"))
    }

    /// Counts one more leaf property, failing once the limit is crossed.
    fn count_prop<E: de::Error>(&mut self) -> std::result::Result<(), E> {
        self.props += 1;
        if self.props > self.limits.max_properties {
            let max = self.limits.max_properties;
            let actual = self.props;
            return Err(self.fail(IngestError::LimitExceeded {
                code: ErrorCode::InvalidEvent,
                what: "event".into(),
                limit: Limit::PropertyCount,
                max,
                actual,
            }));
        }
        Ok(())
    }

    /// Appends a property at the current path (already counted).
    fn push_prop(&mut self, value: FlatValue) {
        let path = match self.matched.take() {
            Some(path) => path,
            None => self.batch.push_str(&self.s.path),
        };
        self.batch.props.push(FlatProp { path, value });
    }

    /// Looks for the current path among the next few leaf paths of the
    /// previous event (from `cursor`); on a match the key was validated
    /// then (under the same rules) and the leaf will share its bytes.
    fn match_path(&mut self) -> bool {
        /// Leaves of the previous event tried past the expected one (a
        /// property missing from one of the two events).
        const LOOKAHEAD: usize = 3;
        self.matched = None;
        let path = self.s.path.as_bytes();
        let arena = self.batch.arena.as_bytes();
        for i in self.cursor..self.prev.end.min(self.cursor + LOOKAHEAD) {
            let r = self.batch.props[i].path;
            // Lengths first; then the bytes, without `str` slicing's
            // char-boundary checks.
            if r.len as usize == path.len()
                && arena
                    .get(r.start as usize..(r.start + r.len) as usize)
                    .is_some_and(|b| same_bytes(b, path))
            {
                self.matched = Some(r);
                self.cursor = i + 1;
                return true;
            }
        }
        false
    }

    fn str_scalar<E: de::Error>(&mut self, v: &str) -> std::result::Result<FlatScalar, E> {
        let max = self.limits.max_string_chars;
        if v.len() >= max {
            let n = v.chars().count();
            if n >= max {
                let what = format!("property {}", self.path_quoted());
                return Err(self.fail(IngestError::LimitExceeded {
                    code: ErrorCode::InvalidPropertyValue,
                    what,
                    limit: Limit::StringLength,
                    max: max.saturating_sub(1),
                    actual: n,
                }));
            }
        }
        if let Some(ms) = parse_zoned_datetime(v) {
            return Ok(FlatScalar::Datetime(ms));
        }
        Ok(FlatScalar::Str(self.batch.push_str(v)))
    }

    fn u64_scalar<E: de::Error>(&mut self, v: u64) -> std::result::Result<FlatScalar, E> {
        match i64::try_from(v) {
            Ok(i) => Ok(FlatScalar::Int(i)),
            Err(_) => Err(self.out_of_range()),
        }
    }

    fn f64_scalar<E: de::Error>(&mut self, v: f64) -> std::result::Result<FlatScalar, E> {
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        if !(-TWO_63..TWO_63).contains(&v) {
            return Err(self.out_of_range());
        }
        if v.fract() == 0.0 {
            // In range and integral, so the cast is exact.
            Ok(FlatScalar::Int(v as i64))
        } else {
            Ok(FlatScalar::Float(v))
        }
    }

    fn out_of_range<E: de::Error>(&mut self) -> E {
        let msg =
            format!("property {}: numbers must be within -2^63 and 2^63-1", self.path_quoted());
        self.fail_code(ErrorCode::InvalidPropertyValue, msg)
    }

    fn too_deep<E: de::Error>(&mut self, depth: usize) -> E {
        let what = format!("property {}", self.path_quoted());
        let max = self.limits.max_depth;
        self.fail(IngestError::LimitExceeded {
            code: ErrorCode::InvalidEvent,
            what,
            limit: Limit::NestingDepth,
            max,
            actual: depth,
        })
    }

    /// Reads the members of an object at `depth` (0 = the root).
    fn object<'de, A: MapAccess<'de>>(
        &mut self,
        mut map: A,
        depth: usize,
    ) -> std::result::Result<(), A::Error> {
        let prefix = self.s.path.len();
        let keys_start = self.s.keys.len();
        let key_bytes_start = self.s.key_bytes.len();
        let mut siblings = Siblings { wide: None, unmatched: 0 };
        while let Some(kind) = map.next_key_seed(KeySeed {
            ctx: self,
            prefix,
            keys_start,
            siblings: &mut siblings,
            root: depth == 0,
        })? {
            match kind {
                KeyKind::Keen => map.next_value_seed(KeenSeed(self))?,
                KeyKind::Prop => map.next_value_seed(ValueSeed { ctx: self, depth })?,
            }
        }
        self.s.path.truncate(prefix);
        self.s.keys.truncate(keys_start);
        self.s.key_bytes.truncate(key_bytes_start);
        Ok(())
    }

    /// Handles one object key: extends the path, checks the name and
    /// duplicates, remembers the key.
    fn key<E: de::Error>(
        &mut self,
        k: &str,
        prefix: usize,
        keys_start: usize,
        siblings: &mut Siblings,
        root: bool,
    ) -> std::result::Result<KeyKind, E> {
        let path = &mut self.s.path;
        path.truncate(prefix);
        if prefix > 0 {
            path.push('.');
        }
        path.push_str(k);
        let mut matched = false;
        let kind = if root && k == "keen" {
            self.matched = None;
            KeyKind::Keen
        } else {
            // A key that ends a leaf path of the previous event passed the
            // name rules there, provided it is that path's last segment (a
            // key with a dot would spell the same path from two keys) and
            // within this call's length limit.
            // (An inline scan: `contains` calls memchr, slow on short keys.)
            let known = self.match_path()
                && k.len() <= self.limits.max_property_name_chars
                && !k.bytes().any(|b| b == b'.');
            matched = known;
            let problem =
                if known { None } else { name_problem(k, self.limits.max_property_name_chars) };
            if let Some(problem) = problem {
                if problem == NAME_TOO_LONG {
                    let what = format!("property name {}", self.path_quoted());
                    let max = self.limits.max_property_name_chars;
                    return Err(self.fail(IngestError::LimitExceeded {
                        code: ErrorCode::InvalidPropertyName,
                        what,
                        limit: Limit::PropertyNameLength,
                        max,
                        actual: k.chars().count(),
                    }));
                }
                let msg = format!("{problem}: {}", self.path_quoted());
                return Err(self.fail_code(ErrorCode::InvalidPropertyName, msg));
            }
            KeyKind::Prop
        };
        let fp = fingerprint(k.as_bytes());
        // Two keys that each matched a leaf of the previous event are
        // distinct: that event's leaf paths are distinct and each is matched
        // at most once (the cursor only moves forward). So a matched key can
        // only repeat an unmatched sibling, and only needs a look when the
        // object has one.
        let check = !matched || siblings.unmatched > 0;
        if !matched {
            siblings.unmatched += 1;
        }
        if check && self.is_duplicate(k.as_bytes(), fp, keys_start, &mut siblings.wide) {
            let msg = format!("duplicate key in object: {}", self.path_quoted());
            return Err(self.fail_code(ErrorCode::InvalidEvent, msg));
        }
        let start = self.s.key_bytes.len();
        if k.len() > FINGERPRINT_BYTES {
            self.s.key_bytes.push_str(k);
        }
        self.s.keys.push((start, k.len(), fp));
        Ok(kind)
    }

    fn is_duplicate(
        &self,
        k: &[u8],
        fp: u64,
        keys_start: usize,
        wide: &mut Option<HashSet<u64>>,
    ) -> bool {
        let s = &*self.s;
        let siblings = &s.keys[keys_start..];
        let bytes = s.key_bytes.as_bytes();
        // A short key is all in its fingerprint; a longer one is confirmed
        // on its bytes.
        let same = |&(st, len, f): &(usize, usize, u64)| {
            f == fp && (len <= FINGERPRINT_BYTES || bytes.get(st..st + len) == Some(k))
        };
        if siblings.len() < WIDE_OBJECT {
            return siblings.iter().any(same);
        }
        let hash = |k: &[u8], fp: u64| {
            if k.len() <= FINGERPRINT_BYTES {
                s.hasher.hash_one(fp)
            } else {
                s.hasher.hash_one(k)
            }
        };
        let set = wide.get_or_insert_with(|| {
            siblings
                .iter()
                .map(|&(st, len, f)| {
                    if len <= FINGERPRINT_BYTES {
                        s.hasher.hash_one(f)
                    } else {
                        s.hasher.hash_one(bytes.get(st..st + len).unwrap_or(&[]))
                    }
                })
                .collect()
        });
        // A repeated hash is only a candidate: confirm on the exact key.
        !set.insert(hash(k, fp)) && siblings.iter().any(same)
    }
}

enum KeyKind {
    /// The root `keen` object.
    Keen,
    /// An ordinary property.
    Prop,
}

/// Rejects the listed value kinds by calling `self.reject()`.
macro_rules! reject {
    ($($kind:ident),*) => { $(reject!(@ $kind);)* };
    (@ bool) => { fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> { Err(self.reject()) } };
    (@ i64) => { fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> { Err(self.reject()) } };
    (@ u64) => { fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> { Err(self.reject()) } };
    (@ f64) => { fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> { Err(self.reject()) } };
    (@ str) => { fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Self::Value, E> { Err(self.reject()) } };
    (@ unit) => { fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> { Err(self.reject()) } };
    (@ seq) => { fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> std::result::Result<Self::Value, A::Error> { Err(self.reject()) } };
    (@ map) => { fn visit_map<A: MapAccess<'de>>(self, _: A) -> std::result::Result<Self::Value, A::Error> { Err(self.reject()) } };
}

/// The whole event: must be an object.
struct Root<'c, 'a>(&'c mut Ctx<'a>);

impl Root<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        self.0.fail_code(ErrorCode::InvalidEvent, "an event must be a JSON object".into())
    }
}

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    reject!(bool, i64, u64, f64, str, unit, seq);
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        self.0.object(map, 0)
    }
}

/// One object key.
struct KeySeed<'c, 'a, 'w> {
    ctx: &'c mut Ctx<'a>,
    prefix: usize,
    keys_start: usize,
    siblings: &'w mut Siblings,
    root: bool,
}

/// Duplicate-detection state of one object's keys.
struct Siblings {
    /// Hashes of the keys of a wide object, built on first need.
    wide: Option<HashSet<u64>>,
    /// Keys so far that did not match a leaf of the previous event.
    unmatched: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_, '_> {
    type Value = KeyKind;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<KeyKind, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_, '_> {
    type Value = KeyKind;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }
    fn visit_str<E: de::Error>(self, k: &str) -> std::result::Result<KeyKind, E> {
        self.ctx.key(k, self.prefix, self.keys_start, self.siblings, self.root)
    }
}

/// A property value at the current path, inside an object at `depth`.
struct ValueSeed<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn leaf<E: de::Error>(self, v: FlatScalar) -> std::result::Result<(), E> {
        self.ctx.count_prop()?;
        self.ctx.push_prop(FlatValue::Scalar(v));
        Ok(())
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
        self.leaf(FlatScalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        self.leaf(FlatScalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        let v = self.ctx.u64_scalar(v)?;
        self.leaf(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        let v = self.ctx.f64_scalar(v)?;
        self.leaf(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        // Count first: a string over the property limit is never copied.
        self.ctx.count_prop()?;
        let v = self.ctx.str_scalar(v)?;
        self.ctx.push_prop(FlatValue::Scalar(v));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.leaf(FlatScalar::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        let depth = self.depth + 1;
        if depth > self.ctx.limits.max_depth {
            return Err(self.ctx.too_deep(depth));
        }
        self.ctx.object(map, depth)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let ctx = self.ctx;
        ctx.count_prop()?;
        let start = ctx.batch.list_elems.len();
        let max = ctx.limits.max_list_len;
        let mut n = 0usize;
        while let Some(elem) = seq.next_element_seed(ElemSeed(&mut *ctx))? {
            n += 1;
            if n > max {
                let what = format!("property {}", ctx.path_quoted());
                return Err(ctx.fail(IngestError::LimitExceeded {
                    code: ErrorCode::InvalidPropertyValue,
                    what,
                    limit: Limit::ArrayLength,
                    max,
                    actual: n,
                }));
            }
            ctx.batch.list_elems.push(elem);
        }
        let end = ctx.batch.list_elems.len();
        ctx.push_prop(FlatValue::List(start as u32..end as u32));
        Ok(())
    }
}

/// One list element: a primitive.
struct ElemSeed<'c, 'a>(&'c mut Ctx<'a>);

impl ElemSeed<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        let msg = format!(
            "property {}: lists may hold only strings, numbers, booleans and nulls",
            self.0.path_quoted()
        );
        self.0.fail_code(ErrorCode::ListsOfNonPrimitivesNotAllowed, msg)
    }
}

impl<'de> DeserializeSeed<'de> for ElemSeed<'_, '_> {
    type Value = FlatScalar;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<FlatScalar, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ElemSeed<'_, '_> {
    type Value = FlatScalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a primitive list element")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<FlatScalar, E> {
        Ok(FlatScalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<FlatScalar, E> {
        Ok(FlatScalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<FlatScalar, E> {
        self.0.u64_scalar(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<FlatScalar, E> {
        self.0.f64_scalar(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<FlatScalar, E> {
        self.0.str_scalar(v)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<FlatScalar, E> {
        Ok(FlatScalar::Null)
    }
    reject!(seq, map);
}

/// The members of the root `keen` object (keen-semantics §1.3).
#[derive(Clone, Copy)]
enum KeenMember {
    Timestamp,
    CreatedAt,
    Id,
    Location,
    UniquenessToken,
    Addons,
}

impl KeenMember {
    fn name(self) -> &'static str {
        match self {
            KeenMember::Timestamp => "timestamp",
            KeenMember::CreatedAt => "created_at",
            KeenMember::Id => "id",
            KeenMember::Location => "location",
            KeenMember::UniquenessToken => "uniqueness_token",
            KeenMember::Addons => "addons",
        }
    }
}

/// The root `keen` value: must be an object.
struct KeenSeed<'c, 'a>(&'c mut Ctx<'a>);

impl KeenSeed<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        self.0
            .fail_code(ErrorCode::NamespaceType, "the root keen property must be an object".into())
    }
}

impl<'de> DeserializeSeed<'de> for KeenSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeenSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the keen object")
    }
    reject!(bool, i64, u64, f64, str, unit, seq);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let ctx = self.0;
        let mut seen = 0u8;
        while let Some(member) = map.next_key_seed(KeenKey(&mut *ctx))? {
            let bit = 1u8 << (member as u8);
            if seen & bit != 0 {
                let msg = format!("duplicate key in object: \"keen.{}\"", member.name());
                return Err(ctx.fail_code(ErrorCode::InvalidEvent, msg));
            }
            seen |= bit;
            match member {
                KeenMember::Timestamp => map.next_value_seed(Timestamp(&mut *ctx))?,
                KeenMember::Location => map.next_value_seed(Location(&mut *ctx))?,
                KeenMember::UniquenessToken => map.next_value_seed(Token(&mut *ctx))?,
                KeenMember::CreatedAt | KeenMember::Id | KeenMember::Addons => {
                    map.next_value_seed(Ignore { ctx: &mut *ctx, depth: 1 })?
                }
            }
        }
        Ok(())
    }
}

/// A key of the `keen` object.
struct KeenKey<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for KeenKey<'_, '_> {
    type Value = KeenMember;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<KeenMember, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeenKey<'_, '_> {
    type Value = KeenMember;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a keen property name")
    }
    fn visit_str<E: de::Error>(self, k: &str) -> std::result::Result<KeenMember, E> {
        Ok(match k {
            "timestamp" => KeenMember::Timestamp,
            "created_at" => KeenMember::CreatedAt,
            "id" => KeenMember::Id,
            "location" => KeenMember::Location,
            "uniqueness_token" => KeenMember::UniquenessToken,
            "addons" => KeenMember::Addons,
            other => {
                let msg = format!("unknown keen property: {}", quote(&format!("keen.{other}")));
                return Err(self.0.fail_code(ErrorCode::InvalidKeenNamespaceProperty, msg));
            }
        })
    }
}

/// `keen.timestamp`: an ISO-8601 date-time string, zone optional.
struct Timestamp<'c, 'a>(&'c mut Ctx<'a>);

impl Timestamp<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        self.0.fail_code(
            ErrorCode::InvalidPropertyValue,
            "keen.timestamp must be an ISO-8601 date-time string".into(),
        )
    }
}

impl<'de> DeserializeSeed<'de> for Timestamp<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Timestamp<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ISO-8601 date-time")
    }
    reject!(bool, i64, u64, f64, unit, seq, map);
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        match parse_timestamp(v) {
            Some(ms) => {
                self.0.timestamp = Some(ms);
                Ok(())
            }
            None => Err(self.reject()),
        }
    }
}

/// `keen.uniqueness_token`: a string of 1 to 256 characters.
struct Token<'c, 'a>(&'c mut Ctx<'a>);

impl Token<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        self.0.fail_code(
            ErrorCode::InvalidPropertyValue,
            "keen.uniqueness_token must be a non-empty string".into(),
        )
    }
}

impl<'de> DeserializeSeed<'de> for Token<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Token<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a uniqueness token string")
    }
    reject!(bool, i64, u64, f64, unit, seq, map);
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        if v.is_empty() {
            return Err(self.reject());
        }
        if v.len() > MAX_UNIQUENESS_TOKEN_CHARS {
            let n = v.chars().count();
            if n > MAX_UNIQUENESS_TOKEN_CHARS {
                return Err(self.0.fail(IngestError::LimitExceeded {
                    code: ErrorCode::InvalidPropertyValue,
                    what: "property \"keen.uniqueness_token\"".into(),
                    limit: Limit::UniquenessTokenLength,
                    max: MAX_UNIQUENESS_TOKEN_CHARS,
                    actual: n,
                }));
            }
        }
        self.0.token = Some(self.0.batch.push_str(v));
        Ok(())
    }
}

/// `keen.location`: exactly `{"coordinates": [longitude, latitude]}`.
struct Location<'c, 'a>(&'c mut Ctx<'a>);

fn bad_location<E: de::Error>(ctx: &mut Ctx<'_>) -> E {
    ctx.fail_code(
        ErrorCode::InvalidPropertyValue,
        "keen.location must be {\"coordinates\": [longitude, latitude]} with longitude in \
         [-180, 180] and latitude in [-90, 90]"
            .into(),
    )
}

impl Location<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        bad_location(self.0)
    }
}

impl<'de> DeserializeSeed<'de> for Location<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Location<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a keen.location object")
    }
    reject!(bool, i64, u64, f64, str, unit, seq);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let ctx = self.0;
        let mut coords = None;
        while let Some(is_coords) = map.next_key_seed(LocationKey)? {
            if !is_coords {
                return Err(bad_location(ctx));
            }
            if coords.is_some() {
                let msg = "duplicate key in object: \"keen.location.coordinates\"".into();
                return Err(ctx.fail_code(ErrorCode::InvalidEvent, msg));
            }
            coords = Some(map.next_value_seed(Coordinates(&mut *ctx))?);
        }
        match coords {
            Some(c) => {
                ctx.location = Some(c);
                Ok(())
            }
            None => Err(bad_location(ctx)),
        }
    }
}

/// A key of `keen.location`: `true` for `coordinates`.
struct LocationKey;

impl<'de> DeserializeSeed<'de> for LocationKey {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for LocationKey {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("coordinates")
    }
    fn visit_str<E: de::Error>(self, k: &str) -> std::result::Result<bool, E> {
        Ok(k == "coordinates")
    }
}

/// `keen.location.coordinates`: `[longitude, latitude]`.
struct Coordinates<'c, 'a>(&'c mut Ctx<'a>);

impl Coordinates<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        bad_location(self.0)
    }
}

impl<'de> DeserializeSeed<'de> for Coordinates<'_, '_> {
    type Value = [f64; 2];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<[f64; 2], D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Coordinates<'_, '_> {
    type Value = [f64; 2];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[longitude, latitude]")
    }
    reject!(bool, i64, u64, f64, str, unit, map);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<[f64; 2], A::Error> {
        let ctx = self.0;
        let mut out = [0.0; 2];
        let mut n = 0;
        while let Some(v) = seq.next_element_seed(Degree(&mut *ctx))? {
            if n == 2 {
                return Err(bad_location(ctx));
            }
            out[n] = v;
            n += 1;
        }
        let [lon, lat] = out;
        if n != 2 || !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(bad_location(ctx));
        }
        Ok(out)
    }
}

/// One coordinate: a JSON number.
struct Degree<'c, 'a>(&'c mut Ctx<'a>);

impl Degree<'_, '_> {
    fn reject<E: de::Error>(self) -> E {
        bad_location(self.0)
    }
}

impl<'de> DeserializeSeed<'de> for Degree<'_, '_> {
    type Value = f64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<f64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Degree<'_, '_> {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of degrees")
    }
    reject!(bool, str, unit, seq, map);
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<f64, E> {
        Ok(v)
    }
}

/// Any JSON value, skipped (`keen.addons`, `keen.id`, `keen.created_at`),
/// with objects and lists counted against the depth limit.
struct Ignore<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    /// Depth of the container holding this value.
    depth: usize,
}

impl Ignore<'_, '_> {
    fn enter<E: de::Error>(&mut self) -> std::result::Result<usize, E> {
        let depth = self.depth + 1;
        if depth > self.ctx.limits.max_depth {
            return Err(self.ctx.too_deep(depth));
        }
        Ok(depth)
    }
}

impl<'de> DeserializeSeed<'de> for Ignore<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Ignore<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> std::result::Result<(), A::Error> {
        let depth = self.enter()?;
        while seq.next_element_seed(Ignore { ctx: &mut *self.ctx, depth })?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> std::result::Result<(), A::Error> {
        let depth = self.enter()?;
        while map.next_key::<de::IgnoredAny>()?.is_some() {
            map.next_value_seed(Ignore { ctx: &mut *self.ctx, depth })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", r#"{"a":"#.repeat(depth + 1), "}".repeat(depth + 1))
    }

    /// Names are checked even where the path repeats the previous event's
    /// (whose bytes the parser reuses): a dotted key spells a nested path,
    /// and a tighter length limit applies to a name seen before.
    #[test]
    fn shared_paths_still_check_every_name() {
        let limits = EventLimits::default();
        let mut b = FlatBatch::new();
        parse_event(br#"{"a": {"b": 1}, "c": 2}"#, &mut b, &limits).expect("valid");
        let dotted = parse_event(br#"{"a.b": 1, "c": 2}"#, &mut b, &limits);
        assert!(
            matches!(&dotted, Err(e) if e.code() == ErrorCode::InvalidPropertyName),
            "{dotted:?}"
        );
        parse_event(br#"{"long_name": 1}"#, &mut b, &limits).expect("valid");
        let tight = EventLimits { max_property_name_chars: 4, ..limits };
        let long = parse_event(br#"{"long_name": 1}"#, &mut b, &tight);
        assert!(matches!(long, Err(IngestError::LimitExceeded { .. })), "{long:?}");
        // Shared paths read back as written.
        parse_event(br#"{"long_name": 2}"#, &mut b, &limits).expect("valid");
        assert_eq!(b.len(), 3);
        let last = &b.props_of(2)[0];
        assert_eq!(b.str(last.path), "long_name");
        assert_eq!(b.props_of(1)[0].path, last.path, "the path bytes are shared");
    }

    #[test]
    fn keys_matching_the_previous_event_are_still_checked_for_duplicates() {
        let limits = EventLimits::default();
        let dup = |b: &mut FlatBatch, event: &str| {
            let r = parse_event(event.as_bytes(), b, &limits);
            assert!(
                matches!(&r, Err(e) if e.code() == ErrorCode::InvalidEvent
                    && e.to_string().contains("duplicate key")),
                "{event}: {r:?}"
            );
        };
        let mut b = FlatBatch::new();
        parse_event(br#"{"p": 1, "q": 1, "r": 1, "a": 1}"#, &mut b, &limits).expect("valid");
        // Both keys match the previous event's leaf "a" in turn...
        dup(&mut b, r#"{"a": 1, "a": 2}"#);
        // ...or the first is an object (not a leaf) and the second, reached
        // after the cursor moved on, matches "a".
        dup(&mut b, r#"{"a": {"z": 1}, "p": 1, "q": 1, "a": 1}"#);
        dup(&mut b, r#"{"p": 1, "q": 1, "r": 1, "a": 1, "p": 2}"#);
        // Nested objects whose keys all match, then one repeats.
        parse_event(br#"{"o": {"x": 1, "y": 2}}"#, &mut b, &limits).expect("valid");
        dup(&mut b, r#"{"o": {"x": 1, "y": 2, "x": 3}}"#);
        parse_event(br#"{"o": {"x": 1, "y": 2}}"#, &mut b, &limits).expect("valid");
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn serde_recursion_limit_caps_depth() {
        let limits = EventLimits { max_depth: 10_000, ..EventLimits::default() };
        let mut b = FlatBatch::new();
        let deepest = (0..200)
            .take_while(|&d| parse_event(nested(d).as_bytes(), &mut b, &limits).is_ok())
            .last();
        assert_eq!(deepest, Some(SERDE_RECURSION_LIMIT - 2));
        match parse_event(nested(SERDE_RECURSION_LIMIT - 1).as_bytes(), &mut b, &limits) {
            Err(IngestError::LimitExceeded { limit: Limit::NestingDepth, max, .. }) => {
                assert_eq!(max, SERDE_RECURSION_LIMIT - 2)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names() {
        let p = |n: &str| name_problem(n, 255);
        assert_eq!(p("abc"), None);
        assert_eq!(p("ünï"), None);
        assert_eq!(p(""), Some("property names may not be empty"));
        assert_eq!(p("$a"), Some("property names may not start with '$'"));
        assert_eq!(p("a.b"), Some("property names may not contain '.'"));
        assert_eq!(p("é.b"), Some("property names may not contain '.'"));
        assert_eq!(p("a\u{7f}"), Some("property names may not contain control characters"));
        assert_eq!(p("é\u{9f}"), Some("property names may not contain control characters"));
        assert_eq!(p(&"é".repeat(255)), None);
        assert_eq!(p(&"é".repeat(256)), Some(NAME_TOO_LONG));
    }

    #[test]
    fn quoting_is_bounded() {
        assert_eq!(quote("a.b"), "\"a.b\"");
        let q = quote(&"é".repeat(1_000));
        assert_eq!(q.chars().count(), QUOTE_CHARS + 3);
        assert!(q.ends_with('…'));
    }

    #[test]
    fn fingerprints_are_the_first_bytes_and_the_length() {
        let naive = |k: &[u8]| {
            let mut buf = [0u8; 8];
            let n = k.len().min(FINGERPRINT_BYTES);
            buf[..n].copy_from_slice(&k[..n]);
            buf[7] = k.len() as u8;
            u64::from_le_bytes(buf)
        };
        let long = [0xa5u8; 300];
        for n in 0..300 {
            assert_eq!(fingerprint(&long[..n]), naive(&long[..n]), "{n}");
        }
        for k in [&b""[..], b"a", b"keen", b"abcdefg", b"abcdefgh", "é日本".as_bytes()] {
            assert_eq!(fingerprint(k), naive(k));
        }
    }

    #[test]
    fn fingerprints_separate_lengths() {
        assert_ne!(fingerprint(b"abcdefg"), fingerprint(b"abcdefgh"));
        assert_eq!(fingerprint(b"abcdefgX"), fingerprint(b"abcdefgY"));
    }
}
