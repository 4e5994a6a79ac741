//! A deliberately naive reference evaluator of Keen queries over plain JSON
//! events: the test oracle the engine (tally-query) is checked against.
//!
//! It is written straight from `docs/keen-semantics.md` and shares no code
//! with the engine: every event is a `serde_json::Value`, every query is a
//! loop over a `Vec` of events, and every rule is spelled out where it is
//! used, with the section of the spec it comes from:
//!
//! - §0 value types, type strictness, canonical order, rendering
//!   ([`V`], [`canon_cmp`], [`render_num`]);
//! - §1.3 `keen.timestamp`, §1.6 flattening ([`flatten`]);
//! - §2 analyses, empty results, shapes, funnel, multi-analysis
//!   ([`metric_value`], [`eval_funnel`], [`eval_grouped`]);
//! - §3 filters ([`parse_filter`], [`filter_matches`]);
//! - §4 timeframes and timezones ([`Zone`], [`parse_timeframe`]);
//! - §5 intervals ([`buckets`]);
//! - §6 group_by, order_by, limit ([`group_keys`], [`order_rows`]);
//! - §7 error codes ([`RefError`]);
//! - §9.5 extraction ([`eval_extraction`]).
//!
//! Clarity wins over speed everywhere: nothing is indexed, cached or
//! pre-aggregated. Where the spec leaves a detail open the choice made here
//! is written next to the code (search for "choice:").

use std::cmp::Ordering;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Number, Value};

/// A query error as Keen reports it (§7): the `error_code` name and a
/// human-readable message naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    /// Keen's error code, e.g. `"TimeframeDefinitionError"`.
    pub code: String,
    /// Explanation naming the field or limit.
    pub message: String,
}

impl RefError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        RefError { code: code.to_string(), message: message.into() }
    }
}

type R<T> = Result<T, RefError>;

fn missing(field: &str) -> RefError {
    RefError::new("MissingParameterError", format!("{field}: required parameter is missing"))
}
fn invalid(field: &str, why: impl std::fmt::Display) -> RefError {
    RefError::new("InvalidParameterError", format!("{field}: {why}"))
}
fn bad_filter(field: &str, why: impl std::fmt::Display) -> RefError {
    RefError::new("FilterDefinitionError", format!("{field}: {why}"))
}
fn bad_timeframe(field: &str, why: impl std::fmt::Display) -> RefError {
    RefError::new("TimeframeDefinitionError", format!("{field}: {why}"))
}
fn limit_exceeded(why: impl Into<String>) -> RefError {
    RefError::new("LimitExceededError", why)
}

/// Most buckets one query may have (§5.2).
pub const MAX_BUCKETS: usize = 10_000;
/// Most groups one query may have, per bucket (§6.1).
pub const MAX_GROUPS: usize = 1_000_000;
/// Most events a synchronous extraction returns (§9.5).
pub const MAX_EXTRACTION: usize = 100_000;
/// Most filters per query, nested ones included (§3.1).
pub const MAX_FILTERS: usize = 100;
/// Most `group_by` paths (§6.1).
pub const MAX_GROUP_PATHS: usize = 10;
/// Most funnel steps (§2.5).
pub const MAX_STEPS: usize = 25;
/// Path of the only `geo` property (§0).
pub const GEO_PATH: &str = "keen.location.coordinates";

// ---------------------------------------------------------------------------
// §0 values
// ---------------------------------------------------------------------------

/// A `num` (§0): integers in i64 kept exact, everything else an f64.
/// `42` and `42.0` are both `I(42)`.
#[derive(Debug, Clone, Copy)]
pub enum Num {
    /// An integral number within i64.
    I(i64),
    /// Any other number.
    F(f64),
}

impl Num {
    /// From an f64, folding integral values within i64 into `I`.
    pub fn from_f64(f: f64) -> Num {
        // 9_223_372_036_854_775_808.0 is 2^63, the first value outside i64.
        if f.fract() == 0.0
            && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
        {
            Num::I(f as i64)
        } else {
            Num::F(f)
        }
    }

    fn from_json(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::I(i)
        } else {
            Num::from_f64(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// The value as f64 (rounding large integers).
    pub fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

fn num_cmp(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x.cmp(&y),
        _ => a.f().partial_cmp(&b.f()).unwrap_or(Ordering::Equal),
    }
}

/// One typed value of a stored property or list element (§0).
#[derive(Debug, Clone)]
pub enum V {
    /// `num`.
    Num(Num),
    /// `string` (not a zoned date-time).
    Str(String),
    /// `list` of primitives (elements keep their own types, may be `Null`).
    List(Vec<V>),
    /// `bool`.
    Bool(bool),
    /// `datetime`, as UTC milliseconds.
    Dt(i64),
    /// `geo`: `keen.location.coordinates` as (longitude, latitude).
    Geo(f64, f64),
    /// `null` (only as a list element; a null property is stored as absent).
    Null,
}

fn type_rank(v: &V) -> u8 {
    // §0 canonical order: num < string < list < bool < datetime, null last.
    // choice: geo (not named there) sorts after datetime, before null.
    match v {
        V::Num(_) => 0,
        V::Str(_) => 1,
        V::List(_) => 2,
        V::Bool(_) => 3,
        V::Dt(_) => 4,
        V::Geo(..) => 5,
        V::Null => 6,
    }
}

/// The canonical order of §0 (also a total order used for distinctness).
pub fn canon_cmp(a: &V, b: &V) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (V::Num(x), V::Num(y)) => num_cmp(*x, *y),
        (V::Str(x), V::Str(y)) => x.cmp(y), // UTF-8 byte order = code point order
        (V::List(x), V::List(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let o = canon_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (V::Dt(x), V::Dt(y)) => x.cmp(y),
        (V::Geo(a1, a2), V::Geo(b1, b2)) => a1
            .partial_cmp(b1)
            .unwrap_or(Ordering::Equal)
            .then(a2.partial_cmp(b2).unwrap_or(Ordering::Equal)),
        _ => Ordering::Equal,
    }
}

/// Renders a number per §0: integral values without a fraction.
pub fn render_num(n: Num) -> Value {
    match n {
        Num::I(i) => Value::from(i),
        Num::F(f) => match Num::from_f64(f) {
            Num::I(i) => Value::from(i),
            Num::F(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        },
    }
}

fn render_f64(f: f64) -> Value {
    render_num(Num::F(f))
}

/// Renders a stored value the way results print it (§0, §1.7): datetimes
/// as `YYYY-MM-DDTHH:MM:SS.sssZ`, geo as `[lon, lat]`.
pub fn render_value(v: &V) -> Value {
    match v {
        V::Num(n) => render_num(*n),
        V::Str(s) => Value::String(s.clone()),
        V::List(l) => Value::Array(l.iter().map(render_value).collect()),
        V::Bool(b) => Value::Bool(*b),
        V::Dt(ms) => Value::String(format_utc(*ms)),
        V::Geo(lon, lat) => Value::Array(vec![render_f64(*lon), render_f64(*lat)]),
        V::Null => Value::Null,
    }
}

// ---------------------------------------------------------------------------
// §0 / §1.3 date-times
// ---------------------------------------------------------------------------

fn days_in_month(y: i32, m: u32) -> u32 {
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    match (NaiveDate::from_ymd_opt(y, m, 1), next) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DDTHH:MM[:SS[.fraction]][zone]` into UTC ms; the zone
/// (`Z`, `±HH:MM`, `±HHMM`) is required when `zone_required`, and seconds
/// are then required too (the §0 `datetime` form). The fraction is cut to
/// milliseconds (ms precision, §0).
fn parse_iso(s: &str, zone_required: bool) -> Option<i64> {
    static ZONED: OnceLock<regex::Regex> = OnceLock::new();
    static LOOSE: OnceLock<regex::Regex> = OnceLock::new();
    let re = if zone_required {
        ZONED.get_or_init(|| {
            regex::Regex::new(
                r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$",
            )
            .expect("valid pattern")
        })
    } else {
        LOOSE.get_or_init(|| {
            regex::Regex::new(
                r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$",
            )
            .expect("valid pattern")
        })
    };
    let c = re.captures(s)?;
    let num =
        |i: usize| -> Option<u32> { c.get(i).map(|m| m.as_str().parse().ok()).unwrap_or(Some(0)) };
    let (y, mo, d, h, mi, se) = (num(1)? as i32, num(2)?, num(3)?, num(4)?, num(5)?, num(6)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let mut ms: i64 = 0;
    if let Some(f) = c.get(7) {
        let digits: String = f.as_str().chars().chain("000".chars()).take(3).collect();
        ms = digits.parse().ok()?;
    }
    let off_secs: i64 = match c.get(8).map(|m| m.as_str()) {
        None | Some("Z") => 0,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z[1..].chars().filter(|c| c.is_ascii_digit()).collect();
            let oh: i64 = digits[0..2].parse().ok()?;
            let om: i64 = digits[2..4].parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let date = NaiveDate::from_ymd_opt(y, mo, d)?;
    let secs = date.and_hms_opt(h, mi, se)?.and_utc().timestamp() - off_secs;
    Some(secs * 1000 + ms)
}

/// §0: a string that is a zoned ISO-8601 date-time is a `datetime`.
pub fn parse_zoned(s: &str) -> Option<i64> {
    parse_iso(s, true)
}

/// §1.3 / §3.2 / §4.1: an ISO-8601 date-time whose zone is optional (UTC).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_iso(s, false)
}

/// UTC milliseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn format_utc(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// §1.6 flattening
// ---------------------------------------------------------------------------

/// Types one primitive JSON value (a leaf or a list element) per §0.
fn prim(v: &Value) -> Option<V> {
    Some(match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(*b),
        Value::Number(n) => V::Num(Num::from_json(n)),
        Value::String(s) => match parse_zoned(s) {
            Some(ms) => V::Dt(ms),
            None => V::Str(s.clone()),
        },
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// One stored event as the reference sees it.
#[derive(Debug, Clone)]
struct Ev {
    /// `keen.timestamp` in UTC ms.
    ts: i64,
    /// `keen.id`, for the extraction tie-break.
    id: String,
    /// Leaf path → value; null leaves are left out (null ≡ missing, §3.3).
    props: Vec<(String, V)>,
    /// The stored JSON, for extraction.
    raw: Value,
}

impl Ev {
    fn get(&self, path: &str) -> Option<&V> {
        self.props.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }
}

/// Flattens a JSON object into (dotted path, typed value) leaves (§1.6).
/// Null leaves are kept as `V::Null` here; callers drop them.
pub fn flatten(obj: &Map<String, Value>) -> R<Vec<(String, V)>> {
    let mut out = Vec::new();
    flatten_into("", obj, &mut out)?;
    Ok(out)
}

fn flatten_into(prefix: &str, obj: &Map<String, Value>, out: &mut Vec<(String, V)>) -> R<()> {
    for (k, v) in obj {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(inner) => flatten_into(&path, inner, out)?,
            Value::Array(items) => {
                let mut elems = Vec::new();
                for it in items {
                    match prim(it) {
                        Some(p) => elems.push(p),
                        None => {
                            return Err(RefError::new(
                                "ListsOfNonPrimitivesNotAllowedError",
                                format!("{path}: lists may hold primitives only"),
                            ))
                        }
                    }
                }
                // §0: keen.location.coordinates is geo.
                let geo = match (path.as_str(), elems.as_slice()) {
                    (GEO_PATH, [V::Num(a), V::Num(b)]) => Some(V::Geo(a.f(), b.f())),
                    _ => None,
                };
                out.push((path, geo.unwrap_or(V::List(elems))));
            }
            other => out.push((path, prim(other).unwrap_or(V::Null))),
        }
    }
    Ok(())
}

fn load_events(events: &[(String, Value)], collection: &str) -> R<Vec<Ev>> {
    let mut out = Vec::new();
    for (c, e) in events {
        if c != collection {
            continue;
        }
        out.push(load_event(e)?);
    }
    Ok(out)
}

fn load_event(e: &Value) -> R<Ev> {
    let Some(obj) = e.as_object() else {
        return Err(RefError::new("InvalidEventError", "event is not a JSON object"));
    };
    let ts =
        e.pointer("/keen/timestamp").and_then(Value::as_str).and_then(parse_timestamp).ok_or_else(
            || RefError::new("InvalidPropertyValueError", "keen.timestamp missing or bad"),
        )?;
    let id = e.pointer("/keen/id").and_then(Value::as_str).unwrap_or("").to_string();
    let mut props = flatten(obj)?;
    props.retain(|(_, v)| !matches!(v, V::Null));
    // keen.timestamp is a datetime even when written without a zone (§0).
    for (p, v) in props.iter_mut() {
        if p == "keen.timestamp" {
            *v = V::Dt(ts);
        }
    }
    Ok(Ev { ts, id, props, raw: e.clone() })
}

/// Normalises a JSON value the way the engine stores it (§0, §1.6, §1.7):
/// datetimes as `YYYY-MM-DDTHH:MM:SS.sssZ`, integral numbers without a
/// fraction, empty objects dropped (`None` when nothing is left). A
/// zone-less `keen.timestamp` counts as UTC (§1.3).
pub fn normalise(v: &Value) -> Option<Value> {
    normalise_at("", v)
}

fn normalise_at(path: &str, v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                if let Some(n) = normalise_at(&p, x) {
                    out.insert(k.clone(), n);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(items) => Some(Value::Array(
            items.iter().map(|x| normalise_at("", x).unwrap_or(Value::Null)).collect(),
        )),
        Value::String(s) if path == "keen.timestamp" => match parse_timestamp(s) {
            Some(ms) => Some(Value::String(format_utc(ms))),
            None => Some(v.clone()),
        },
        other => Some(match prim(other) {
            Some(p) => render_value(&p),
            None => other.clone(),
        }),
    }
}

// ---------------------------------------------------------------------------
// §4.4 timezones
// ---------------------------------------------------------------------------

/// A query timezone (§4.4).
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    /// An IANA zone (follows daylight saving).
    Named(Tz),
    /// A fixed offset in seconds east of UTC.
    Fixed(i32),
}

impl Zone {
    /// Offset from UTC in seconds at instant `ms`.
    pub fn offset_at(&self, ms: i64) -> i32 {
        match self {
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => match DateTime::<Utc>::from_timestamp_millis(ms) {
                Some(t) => tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc(),
                None => 0,
            },
        }
    }

    /// Local wall-clock time at instant `ms`.
    fn local(&self, ms: i64) -> Option<NaiveDateTime> {
        let local_ms = ms.checked_add(i64::from(self.offset_at(ms)) * 1000)?;
        DateTime::<Utc>::from_timestamp_millis(local_ms).map(|t| t.naive_utc())
    }

    /// The instant of a local wall-clock time (§0 edge cases): a time in a
    /// spring-forward gap moves forward by the gap (it is read with the
    /// offset in force before the gap); a time that occurs twice is the
    /// earlier one.
    fn resolve(&self, local: NaiveDateTime) -> Option<i64> {
        let as_utc = local.and_utc().timestamp_millis();
        match self {
            Zone::Fixed(s) => as_utc.checked_sub(i64::from(*s) * 1000),
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => Some(t.timestamp_millis()),
                chrono::LocalResult::Ambiguous(a, b) => {
                    Some(a.timestamp_millis().min(b.timestamp_millis()))
                }
                chrono::LocalResult::None => {
                    // The offset before the gap: the one in force a day earlier.
                    let before = self.offset_at(as_utc.checked_sub(86_400_000)?);
                    as_utc.checked_sub(i64::from(before) * 1000)
                }
            },
        }
    }

    /// Renders an instant in this zone's offset at that instant (§4.4):
    /// `...sss±HH:MM`, `Z` for a zero offset.
    pub fn render(&self, ms: i64) -> String {
        let off = self.offset_at(ms);
        if off == 0 {
            return format_utc(ms);
        }
        let Some(local) = self.local(ms) else { return String::new() };
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        let mut s = format!(
            "{}{}{:02}:{:02}",
            local.format("%Y-%m-%dT%H:%M:%S%.3f"),
            sign,
            a / 3600,
            (a % 3600) / 60
        );
        // choice: an offset with seconds prints them (`-07:52:58`).
        if !a.is_multiple_of(60) {
            s.push_str(&format!(":{:02}", a % 60));
        }
        s
    }
}

/// Parses the `timezone` parameter (§4.4); absent or null means UTC.
pub fn parse_zone(v: Option<&Value>, field: &str) -> R<Zone> {
    let bad = || invalid(field, "unknown timezone or offset out of range");
    let check = |secs: i64| -> R<Zone> {
        if (-50_400..=50_400).contains(&secs) {
            Ok(Zone::Fixed(secs as i32))
        } else {
            Err(bad())
        }
    };
    match v {
        None | Some(Value::Null) => Ok(Zone::Named(chrono_tz::UTC)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => check(i),
            None => Err(bad()),
        },
        Some(Value::String(s)) => {
            let digits_re = regex::Regex::new(r"^[+-]?\d{1,6}$").map_err(|_| bad())?;
            let hhmm_re = regex::Regex::new(r"^([+-])(\d{2}):(\d{2})$").map_err(|_| bad())?;
            if digits_re.is_match(s) {
                check(s.parse::<i64>().map_err(|_| bad())?)
            } else if let Some(c) = hhmm_re.captures(s) {
                let h: i64 = c[2].parse().map_err(|_| bad())?;
                let m: i64 = c[3].parse().map_err(|_| bad())?;
                if m > 59 {
                    return Err(bad());
                }
                let secs = h * 3600 + m * 60;
                check(if &c[1] == "-" { -secs } else { secs })
            } else {
                s.parse::<Tz>().map(Zone::Named).map_err(|_| bad())
            }
        }
        Some(_) => Err(bad()),
    }
}

// ---------------------------------------------------------------------------
// §4 timeframes, §5 intervals
// ---------------------------------------------------------------------------

/// Calendar units (§4.2, §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Minute (elapsed time).
    Minute,
    /// Hour (elapsed time).
    Hour,
    /// Local calendar day.
    Day,
    /// Local week starting Sunday.
    Week,
    /// Local calendar month.
    Month,
    /// Local calendar year.
    Year,
}

fn parse_unit(s: &str) -> Option<Unit> {
    let s = s.strip_suffix('s').unwrap_or(s);
    Some(match s {
        "minute" => Unit::Minute,
        "hour" => Unit::Hour,
        "day" => Unit::Day,
        "week" => Unit::Week,
        "month" => Unit::Month,
        "year" => Unit::Year,
        _ => return None,
    })
}

fn elapsed_ms(u: Unit) -> Option<i64> {
    match u {
        Unit::Minute => Some(60_000),
        Unit::Hour => Some(3_600_000),
        _ => None,
    }
}

/// floor_u(t) for day and longer units, as a local wall-clock time (§4.3):
/// local midnight, Sunday midnight, the 1st, 1 January.
fn floor_local(zone: &Zone, u: Unit, t: i64) -> Option<NaiveDateTime> {
    let d = zone.local(t)?.date();
    let day = match u {
        Unit::Day | Unit::Minute | Unit::Hour => d,
        Unit::Week => {
            d.checked_sub_days(chrono::Days::new(u64::from(d.weekday().num_days_from_sunday())))?
        }
        Unit::Month => NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?,
        Unit::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1)?,
    };
    day.and_hms_opt(0, 0, 0)
}

/// floor_u(t) for minutes and hours: second 0 / minute 0 of the local time
/// at t, with the offset in force at t.
fn floor_elapsed(zone: &Zone, unit_ms: i64, t: i64) -> Option<i64> {
    let off = i64::from(zone.offset_at(t)) * 1000;
    let local = t.checked_add(off)?;
    Some(local.div_euclid(unit_ms) * unit_ms - off)
}

/// Local calendar arithmetic: `local` plus `k` units (k may be negative);
/// months and years clamp to the month's last day.
fn add_local(local: NaiveDateTime, u: Unit, k: i64) -> Option<NaiveDateTime> {
    let days = |n: i64| -> Option<NaiveDateTime> {
        if n >= 0 {
            local.checked_add_days(chrono::Days::new(n as u64))
        } else {
            local.checked_sub_days(chrono::Days::new(n.unsigned_abs()))
        }
    };
    let months = |n: i64| -> Option<NaiveDateTime> {
        let m = u32::try_from(n.unsigned_abs()).ok()?;
        if n >= 0 {
            local.checked_add_months(Months::new(m))
        } else {
            local.checked_sub_months(Months::new(m))
        }
    };
    match u {
        Unit::Day => days(k),
        Unit::Week => days(k.checked_mul(7)?),
        Unit::Month => months(k),
        Unit::Year => months(k.checked_mul(12)?),
        Unit::Minute | Unit::Hour => local.checked_add_signed(chrono::TimeDelta::try_milliseconds(
            k.checked_mul(elapsed_ms(u)?)?,
        )?),
    }
}

/// A parsed timeframe (§4.1, §4.2), resolved later against `now`.
#[derive(Debug, Clone)]
enum Tf {
    Absolute(i64, i64),
    Relative { this: bool, n: i64, unit: Unit },
}

fn parse_timeframe(v: Option<&Value>, field: &str) -> R<Tf> {
    match v {
        None | Some(Value::Null) => Err(bad_timeframe(field, "timeframe is required")),
        Some(Value::Object(m)) => {
            let get = |k: &str| -> R<i64> {
                m.get(k).and_then(Value::as_str).and_then(parse_timestamp).ok_or_else(|| {
                    bad_timeframe(&format!("{field}.{k}"), "not an ISO-8601 date-time")
                })
            };
            let (s, e) = (get("start")?, get("end")?);
            if s >= e {
                return Err(bad_timeframe(field, "start must be before end"));
            }
            Ok(Tf::Absolute(s, e))
        }
        Some(Value::String(s)) => parse_relative(s)
            .ok_or_else(|| bad_timeframe(field, format!("bad relative timeframe {s:?}"))),
        Some(_) => Err(bad_timeframe(field, "must be a string or an object")),
    }
}

fn parse_relative(s: &str) -> Option<Tf> {
    match s {
        "today" => return Some(Tf::Relative { this: true, n: 1, unit: Unit::Day }),
        "yesterday" => return Some(Tf::Relative { this: false, n: 1, unit: Unit::Day }),
        _ => {}
    }
    let re = regex::Regex::new(r"^(this|previous|last)_(?:(\d+)_)?([a-z]+)$").ok()?;
    let c = re.captures(s)?;
    let this = &c[1] == "this";
    let n = match c.get(2) {
        Some(m) => m.as_str().parse::<i64>().ok()?,
        None => 1,
    };
    if !(1..=1_000_000).contains(&n) {
        return None;
    }
    let unit = parse_unit(&c[3])?;
    Some(Tf::Relative { this, n, unit })
}

/// Resolves a timeframe to `[start, end)` UTC ms (§4.3).
fn resolve_timeframe(tf: &Tf, zone: &Zone, now: i64, field: &str) -> R<(i64, i64)> {
    let overflow = || bad_timeframe(field, "timeframe out of the representable range");
    match *tf {
        Tf::Absolute(s, e) => Ok((s, e)),
        Tf::Relative { this, n, unit } => {
            let (start, end) = if let Some(ums) = elapsed_ms(unit) {
                let f = floor_elapsed(zone, ums, now).ok_or_else(overflow)?;
                let back = if this { n - 1 } else { n };
                let start =
                    back.checked_mul(ums).and_then(|b| f.checked_sub(b)).ok_or_else(overflow)?;
                let end = if this { f.checked_add(ums).ok_or_else(overflow)? } else { f };
                (start, end)
            } else {
                let f = floor_local(zone, unit, now).ok_or_else(overflow)?;
                let back = if this { n - 1 } else { n };
                let s =
                    add_local(f, unit, -back).and_then(|l| zone.resolve(l)).ok_or_else(overflow)?;
                let e = if this { add_local(f, unit, 1) } else { Some(f) };
                let e = e.and_then(|l| zone.resolve(l)).ok_or_else(overflow)?;
                (s, e)
            };
            if start >= end {
                return Err(bad_timeframe(field, "empty timeframe"));
            }
            Ok((start, end))
        }
    }
}

/// An interval (§5.1): a named calendar interval or `every_N_units`.
#[derive(Debug, Clone, Copy)]
enum Interval {
    Named(Unit),
    Every(i64, Unit),
}

fn parse_interval(v: &Value) -> R<Interval> {
    let bad = || invalid("interval", format!("unknown interval {v}"));
    let s = v.as_str().ok_or_else(bad)?;
    let named = match s {
        "minutely" => Some(Unit::Minute),
        "hourly" => Some(Unit::Hour),
        "daily" => Some(Unit::Day),
        "weekly" => Some(Unit::Week),
        "monthly" => Some(Unit::Month),
        "yearly" => Some(Unit::Year),
        _ => None,
    };
    if let Some(u) = named {
        return Ok(Interval::Named(u));
    }
    let re = regex::Regex::new(r"^every_(\d+)_([a-z]+)$").map_err(|_| bad())?;
    let c = re.captures(s).ok_or_else(bad)?;
    let n: i64 = c[1].parse().map_err(|_| bad())?;
    let u = parse_unit(&c[2]).ok_or_else(bad)?;
    if n < 1 {
        return Err(bad());
    }
    Ok(Interval::Every(n, u))
}

/// The buckets of an interval over `[start, end)` (§5.2), in time order.
fn buckets(iv: Interval, zone: &Zone, start: i64, end: i64) -> R<Vec<(i64, i64)>> {
    let overflow = || limit_exceeded("interval boundaries out of range");
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut cur = start;
    let mut k: i64 = 0;
    let local_start = zone.local(start).ok_or_else(overflow)?;
    while cur < end {
        if out.len() >= MAX_BUCKETS {
            return Err(limit_exceeded(format!("more than {MAX_BUCKETS} interval buckets")));
        }
        k += 1;
        let next = match iv {
            Interval::Named(u) => match elapsed_ms(u) {
                Some(ums) => floor_elapsed(zone, ums, cur).and_then(|f| f.checked_add(ums)),
                None => floor_local(zone, u, cur)
                    .and_then(|f| add_local(f, u, 1))
                    .and_then(|l| zone.resolve(l)),
            },
            // every_N_u: boundary k = start + k·N units (§0, §5.2).
            Interval::Every(n, u) => match (k.checked_mul(n), elapsed_ms(u)) {
                (None, _) => None,
                (Some(steps), Some(ums)) => {
                    steps.checked_mul(ums).and_then(|d| start.checked_add(d))
                }
                (Some(steps), None) => {
                    add_local(local_start, u, steps).and_then(|l| zone.resolve(l))
                }
            },
        }
        // A boundary past the representable range lies past `end`: clip.
        .unwrap_or(end);
        if next <= cur {
            if matches!(iv, Interval::Named(_)) {
                // Cannot happen with real zone data: a calendar unit always ends
                // after the instant it contains. Fail instead of looping.
                return Err(RefError::new(
                    "InternalServerError",
                    "interval boundary does not advance",
                ));
            }
            // every_N_u: a boundary that falls before the previous one (a
            // clamped or DST-shifted local time) is skipped.
            continue;
        }
        let next = next.min(end);
        out.push((cur, next));
        cur = next;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// §3 filters
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug)]
enum Op {
    Eq(V),
    Ne(V),
    Cmp(CmpOp, V),
    Exists(bool),
    In(Vec<V>),
    Contains(V),
    NotContains(V),
    Regex(regex::Regex),
    Within(f64, f64, f64),
    Or(Vec<Filter>),
}

#[derive(Debug)]
struct Filter {
    path: String,
    op: Op,
}

/// Types a filter value: like a stored value, except that strings stay
/// strings (the datetime bridge of §3.2 is applied when comparing).
fn filter_prim(v: &Value) -> Option<V> {
    Some(match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(*b),
        Value::Number(n) => V::Num(Num::from_json(n)),
        Value::String(s) => V::Str(s.clone()),
        _ => return None,
    })
}

/// §3.1 `property_type`: coerces the filter value before comparison.
fn coerce(v: &Value, ptype: Option<&str>, field: &str) -> R<Value> {
    match (ptype, v) {
        (Some("Number"), Value::String(s)) => {
            let f: f64 = s.trim().parse().map_err(|_| bad_filter(field, "not a number"))?;
            if !f.is_finite() {
                return Err(bad_filter(field, "not a number"));
            }
            Ok(match Num::from_f64(f) {
                Num::I(i) => Value::from(i),
                Num::F(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
            })
        }
        (Some("Boolean"), Value::String(s)) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad_filter(field, "not a boolean")),
        },
        _ => Ok(v.clone()),
    }
}

fn count_filters(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(count_filters).sum(),
        Value::Object(m) => {
            1 + match (m.get("operator").and_then(Value::as_str), m.get("property_value")) {
                (Some("or"), Some(sub)) => count_filters(sub),
                _ => 0,
            }
        }
        _ => 1,
    }
}

fn parse_filters(v: Option<&Value>, field: &str) -> R<Vec<Filter>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if count_filters(&Value::Array(items.clone())) > MAX_FILTERS {
                return Err(bad_filter(field, format!("more than {MAX_FILTERS} filters")));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, f)| parse_filter(f, &format!("{field}[{i}]")))
                .collect()
        }
        Some(_) => Err(bad_filter(field, "must be an array of filters")),
    }
}

fn parse_filter(v: &Value, field: &str) -> R<Filter> {
    let m = v.as_object().ok_or_else(|| bad_filter(field, "a filter must be an object"))?;
    let op = m
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_filter(&format!("{field}.operator"), "missing or not a string"))?;
    let value = m
        .get("property_value")
        .ok_or_else(|| bad_filter(&format!("{field}.property_value"), "missing"))?;
    if op == "or" {
        let subs = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
            bad_filter(&format!("{field}.property_value"), "or needs a non-empty array of filters")
        })?;
        let subs = subs
            .iter()
            .enumerate()
            .map(|(i, f)| parse_filter(f, &format!("{field}.property_value[{i}]")))
            .collect::<R<Vec<_>>>()?;
        return Ok(Filter { path: String::new(), op: Op::Or(subs) });
    }
    let path = m
        .get("property_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_filter(&format!("{field}.property_name"), "missing or not a string"))?
        .to_string();
    let vfield = format!("{field}.property_value");
    let ptype = match m.get("property_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.as_str() {
            "String" | "Number" | "Boolean" | "Datetime" | "List" | "Geo" | "Null" => {
                Some(s.as_str())
            }
            _ => {
                return Err(bad_filter(&format!("{field}.property_type"), "unknown property type"))
            }
        },
        Some(_) => return Err(bad_filter(&format!("{field}.property_type"), "must be a string")),
    };
    let value = coerce(value, ptype, &vfield)?;
    // property_type "Datetime" requires an ISO-8601 string and makes the
    // value a datetime.
    let prim_of = |x: &Value| -> R<V> {
        if ptype == Some("Datetime") {
            return match x {
                Value::String(s) => parse_timestamp(s)
                    .map(V::Dt)
                    .ok_or_else(|| bad_filter(&vfield, "not an ISO-8601 date-time")),
                _ => Err(bad_filter(&vfield, "Datetime needs an ISO-8601 string")),
            };
        }
        filter_prim(x).ok_or_else(|| bad_filter(&vfield, "must be a primitive"))
    };
    let op = match op {
        "eq" | "ne" => {
            let fv = match &value {
                Value::Array(items) => V::List(items.iter().map(&prim_of).collect::<R<Vec<_>>>()?),
                Value::Object(_) => {
                    return Err(bad_filter(&vfield, "an object is not a filter value"))
                }
                x => prim_of(x)?,
            };
            if op == "eq" {
                Op::Eq(fv)
            } else {
                Op::Ne(fv)
            }
        }
        "lt" | "lte" | "gt" | "gte" => {
            let fv = prim_of(&value)?;
            if !matches!(fv, V::Num(_) | V::Str(_) | V::Dt(_)) {
                return Err(bad_filter(&vfield, "must be a number, string or date-time"));
            }
            let c = match op {
                "lt" => CmpOp::Lt,
                "lte" => CmpOp::Lte,
                "gt" => CmpOp::Gt,
                _ => CmpOp::Gte,
            };
            Op::Cmp(c, fv)
        }
        "exists" => match value {
            Value::Bool(b) => Op::Exists(b),
            _ => return Err(bad_filter(&vfield, "exists needs true or false")),
        },
        "in" => {
            let items = value
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad_filter(&vfield, "in needs a non-empty array"))?;
            Op::In(items.iter().map(&prim_of).collect::<R<Vec<_>>>()?)
        }
        "contains" | "not_contains" => {
            let fv = prim_of(&value)?;
            if op == "contains" {
                Op::Contains(fv)
            } else {
                Op::NotContains(fv)
            }
        }
        "regex" => {
            let s = value.as_str().ok_or_else(|| bad_filter(&vfield, "regex needs a string"))?;
            if s.chars().count() > 1000 {
                return Err(bad_filter(&vfield, "pattern longer than 1000 characters"));
            }
            let re = regex::Regex::new(s)
                .map_err(|e| bad_filter(&vfield, format!("bad pattern: {e}")))?;
            Op::Regex(re)
        }
        "within" => {
            if path != GEO_PATH {
                return Err(RefError::new(
                    "InvalidPropertyNameForGeoFilter",
                    format!("{field}.property_name: within applies only to {GEO_PATH}"),
                ));
            }
            let bad = || {
                bad_filter(
                    &vfield,
                    "within needs {\"coordinates\": [lon, lat], \"max_distance_miles\": d}",
                )
            };
            let o = value.as_object().ok_or_else(bad)?;
            let c = o.get("coordinates").and_then(Value::as_array).ok_or_else(bad)?;
            let (lon, lat) = match c.as_slice() {
                [a, b] => (a.as_f64().ok_or_else(bad)?, b.as_f64().ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            let d = o.get("max_distance_miles").and_then(Value::as_f64).ok_or_else(bad)?;
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) || d < 0.0 {
                return Err(bad());
            }
            Op::Within(lon, lat, d)
        }
        other => {
            return Err(bad_filter(
                &format!("{field}.operator"),
                format!("unknown operator {other:?}"),
            ))
        }
    };
    Ok(Filter { path, op })
}

/// §3.2 "equal": type-strict, with the datetime bridge (a string filter
/// value parsable as ISO-8601 equals a stored datetime at that instant).
/// A null list element matches nothing (§0 edge cases).
fn scalar_eq(stored: &V, fv: &V) -> bool {
    match (stored, fv) {
        (V::Num(a), V::Num(b)) => num_cmp(*a, *b) == Ordering::Equal,
        (V::Str(a), V::Str(b)) => a == b,
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Dt(a), V::Dt(b)) => a == b,
        (V::Dt(a), V::Str(s)) => parse_timestamp(s) == Some(*a),
        _ => false,
    }
}

/// Element-for-element equality of a stored list and an array filter value
/// (§3.2 notes). choice: here a null element equals a null element.
fn list_eq(stored: &[V], fv: &[V]) -> bool {
    stored.len() == fv.len()
        && stored
            .iter()
            .zip(fv)
            .all(|(a, b)| matches!((a, b), (V::Null, V::Null)) || scalar_eq(a, b))
}

fn eq_matches(stored: Option<&V>, fv: &V) -> bool {
    match (stored, fv) {
        (None, V::Null) => true,
        (None, _) | (Some(_), V::Null) => false,
        (Some(V::List(l)), V::List(f)) => list_eq(l, f),
        (Some(_), V::List(_)) => false,
        (Some(V::List(l)), f) => l.iter().any(|e| scalar_eq(e, f)),
        (Some(s), f) => scalar_eq(s, f),
    }
}

fn cmp_scalar(stored: &V, op: CmpOp, fv: &V) -> bool {
    let ord = match (stored, fv) {
        (V::Num(a), V::Num(b)) => num_cmp(*a, *b),
        (V::Str(a), V::Str(b)) => a.cmp(b),
        (V::Dt(a), V::Dt(b)) => a.cmp(b),
        (V::Dt(a), V::Str(s)) => match parse_timestamp(s) {
            Some(b) => a.cmp(&b),
            None => return false,
        },
        _ => return false,
    };
    match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Lte => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Gte => ord != Ordering::Less,
    }
}

fn contains_matches(stored: Option<&V>, fv: &V) -> bool {
    match (stored, fv) {
        (None, _) => false,
        // On a list: membership (some element equal).
        (Some(V::List(l)), f) => l.iter().any(|e| scalar_eq(e, f)),
        // On a scalar: substring of a string value only (never a datetime).
        (Some(V::Str(s)), V::Str(t)) => s.contains(t.as_str()),
        _ => false,
    }
}

fn haversine_miles(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    let c = 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    3958.8 * c
}

fn filter_matches(f: &Filter, ev: &Ev) -> bool {
    let stored = ev.get(&f.path);
    match &f.op {
        Op::Eq(v) => eq_matches(stored, v),
        Op::Ne(v) => !eq_matches(stored, v),
        Op::Cmp(op, v) => match stored {
            None => false,
            Some(V::List(l)) => l.iter().any(|e| cmp_scalar(e, *op, v)),
            Some(s) => cmp_scalar(s, *op, v),
        },
        Op::Exists(b) => stored.is_some() == *b,
        Op::In(members) => match stored {
            None => members.iter().any(|m| matches!(m, V::Null)),
            Some(V::List(l)) => l.iter().any(|e| members.iter().any(|m| scalar_eq(e, m))),
            Some(s) => members.iter().any(|m| scalar_eq(s, m)),
        },
        Op::Contains(v) => contains_matches(stored, v),
        Op::NotContains(v) => !contains_matches(stored, v),
        Op::Regex(re) => match stored {
            Some(V::Str(s)) => re.is_match(s),
            Some(V::List(l)) => l.iter().any(|e| matches!(e, V::Str(s) if re.is_match(s))),
            _ => false,
        },
        Op::Within(lon, lat, d) => match stored {
            Some(V::Geo(elon, elat)) => haversine_miles(*lon, *lat, *elon, *elat) <= *d,
            _ => false,
        },
        Op::Or(subs) => subs.iter().any(|s| filter_matches(s, ev)),
    }
}

// ---------------------------------------------------------------------------
// §2 analyses
// ---------------------------------------------------------------------------

/// One analysis over a set of events (§2.2).
#[derive(Debug, Clone)]
enum Metric {
    Count,
    CountUnique(String),
    Min(String),
    Max(String),
    Sum(String),
    Average(String),
    /// Percentile with p·100 as an integer (p has at most two decimals).
    Percentile(String, i64),
    SelectUnique(String),
    StdDev(String),
}

const SIMPLE_TYPES: [&str; 10] = [
    "count",
    "count_unique",
    "minimum",
    "maximum",
    "sum",
    "average",
    "median",
    "percentile",
    "select_unique",
    "standard_deviation",
];

/// Parses an analysis type and its own parameters from `m` (the query body
/// or one member of `analyses`); `field` prefixes error field names
/// (`""` or `"analyses.<label>."`).
fn parse_metric(kind: &str, m: &Map<String, Value>, field: &str) -> R<Metric> {
    let target = || -> R<String> {
        let f = format!("{field}target_property");
        match m.get("target_property") {
            None | Some(Value::Null) => Err(missing(&f)),
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(invalid(&f, "must be a non-empty string")),
        }
    };
    Ok(match kind {
        "count" => Metric::Count,
        "count_unique" => Metric::CountUnique(target()?),
        "minimum" => Metric::Min(target()?),
        "maximum" => Metric::Max(target()?),
        "sum" => Metric::Sum(target()?),
        "average" => Metric::Average(target()?),
        "median" => Metric::Percentile(target()?, 5000),
        "percentile" => {
            let t = target()?;
            let f = format!("{field}percentile");
            let p = match m.get("percentile") {
                None | Some(Value::Null) => return Err(missing(&f)),
                Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
                Some(_) => return Err(invalid(&f, "must be a number")),
            };
            let p100 = (p * 100.0).round();
            if !(p > 0.0 && p <= 100.0) || (p * 100.0 - p100).abs() > 1e-6 {
                return Err(invalid(&f, "must be in (0, 100] with at most two decimals"));
            }
            Metric::Percentile(t, p100 as i64)
        }
        "select_unique" => Metric::SelectUnique(target()?),
        "standard_deviation" => Metric::StdDev(target()?),
        other => {
            return Err(invalid(
                &format!("{field}analysis_type"),
                format!("unknown analysis type {other:?}"),
            ))
        }
    })
}

/// The numeric values of `path` (§2.1: only `num` values count).
fn numbers(events: &[&Ev], path: &str) -> Vec<Num> {
    events
        .iter()
        .filter_map(|e| match e.get(path) {
            Some(V::Num(n)) => Some(*n),
            _ => None,
        })
        .collect()
}

/// Distinct non-null values, list elements counted one by one (§2.2),
/// sorted in canonical order.
fn distinct_values(events: &[&Ev], path: &str) -> Vec<V> {
    let mut all: Vec<V> = Vec::new();
    for e in events {
        match e.get(path) {
            None => {}
            Some(V::List(l)) => all.extend(l.iter().filter(|x| !matches!(x, V::Null)).cloned()),
            Some(v) => all.push(v.clone()),
        }
    }
    all.sort_by(canon_cmp);
    all.dedup_by(|a, b| canon_cmp(a, b) == Ordering::Equal);
    all
}

/// Σ of numbers: exact in 128 bits while every value is an integer; the
/// float part with Neumaier compensated summation (§2.2, §0).
fn sum_of(nums: &[Num]) -> Num {
    let mut int_sum: i128 = 0;
    let (mut fsum, mut comp) = (0.0f64, 0.0f64);
    let mut any_float = false;
    for n in nums {
        match n {
            Num::I(i) => int_sum += i128::from(*i),
            Num::F(f) => {
                any_float = true;
                let t = fsum + f;
                if fsum.abs() >= f.abs() {
                    comp += (fsum - t) + f;
                } else {
                    comp += (f - t) + fsum;
                }
                fsum = t;
            }
        }
    }
    if !any_float {
        return match i64::try_from(int_sum) {
            Ok(i) => Num::I(i),
            Err(_) => Num::F(int_sum as f64),
        };
    }
    Num::F(int_sum as f64 + (fsum + comp))
}

/// One analysis over the matching events of one group/bucket (§2.2, §2.3).
fn metric_value(m: &Metric, events: &[&Ev]) -> Value {
    match m {
        Metric::Count => Value::from(events.len() as u64),
        Metric::CountUnique(p) => Value::from(distinct_values(events, p).len() as u64),
        Metric::SelectUnique(p) => {
            Value::Array(distinct_values(events, p).iter().map(render_value).collect())
        }
        Metric::Min(p) | Metric::Max(p) => {
            let nums = numbers(events, p);
            let pick = nums.into_iter().reduce(|a, b| {
                let o = num_cmp(a, b);
                let take_b = if matches!(m, Metric::Min(_)) {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                };
                if take_b {
                    b
                } else {
                    a
                }
            });
            pick.map(render_num).unwrap_or(Value::Null)
        }
        Metric::Sum(p) => render_num(sum_of(&numbers(events, p))),
        Metric::Average(p) => {
            let nums = numbers(events, p);
            if nums.is_empty() {
                return Value::Null;
            }
            render_f64(sum_of(&nums).f() / nums.len() as f64)
        }
        Metric::Percentile(p, p100) => {
            let mut nums = numbers(events, p);
            if nums.is_empty() {
                return Value::Null;
            }
            nums.sort_by(|a, b| num_cmp(*a, *b));
            // rank r = p/100·(n−1), kept exact as (p·100)·(n−1) / 10000.
            let scaled = *p100 * (nums.len() as i64 - 1);
            let i = (scaled / 10_000) as usize;
            let rem = scaled % 10_000;
            if rem == 0 || i + 1 >= nums.len() {
                return render_num(nums[i.min(nums.len() - 1)]);
            }
            let f = rem as f64 / 10_000.0;
            let (a, b) = (nums[i].f(), nums[i + 1].f());
            render_f64(a + f * (b - a))
        }
        Metric::StdDev(p) => {
            let nums = numbers(events, p);
            if nums.is_empty() {
                return Value::Null;
            }
            let n = nums.len() as f64;
            let mean = sum_of(&nums).f() / n;
            let ss: f64 = nums.iter().map(|x| (x.f() - mean).powi(2)).sum();
            render_f64((ss / n).sqrt())
        }
    }
}

// ---------------------------------------------------------------------------
// §6 group_by, order_by, limit
// ---------------------------------------------------------------------------

/// One element of `group_by` (§6.1, §6.2).
#[derive(Debug, Clone)]
enum GroupSpec {
    Path(String),
    Buckets { path: String, size: f64, offset: f64 },
    Ranges { path: String, ranges: Vec<(Option<Num>, Option<Num>)> },
}

impl GroupSpec {
    fn name(&self) -> &str {
        match self {
            GroupSpec::Path(p)
            | GroupSpec::Buckets { path: p, .. }
            | GroupSpec::Ranges { path: p, .. } => p,
        }
    }
}

/// A group value: a stored value, a numeric range, or the null group.
#[derive(Debug, Clone)]
enum G {
    Range(Option<Num>, Option<Num>),
    Val(V),
    Null,
}

fn opt_num_cmp(a: Option<Num>, b: Option<Num>, open_first: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => {
            if open_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Some(_), None) => {
            if open_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(x), Some(y)) => num_cmp(x, y),
    }
}

/// Canonical order of group values: ranges (by from, open first, then to,
/// open last) before any other value (§0 edge cases), null last.
fn g_cmp(a: &G, b: &G) -> Ordering {
    match (a, b) {
        (G::Range(f1, t1), G::Range(f2, t2)) => {
            opt_num_cmp(*f1, *f2, true).then(opt_num_cmp(*t1, *t2, false))
        }
        (G::Range(..), _) => Ordering::Less,
        (_, G::Range(..)) => Ordering::Greater,
        (G::Val(x), G::Val(y)) => canon_cmp(x, y),
        (G::Val(_), G::Null) => Ordering::Less,
        (G::Null, G::Val(_)) => Ordering::Greater,
        (G::Null, G::Null) => Ordering::Equal,
    }
}

fn render_g(g: &G) -> Value {
    match g {
        G::Null => Value::Null,
        G::Val(v) => render_value(v),
        G::Range(f, t) => {
            let mut m = Map::new();
            if let Some(f) = f {
                m.insert("from".into(), render_num(*f));
            }
            if let Some(t) = t {
                m.insert("to".into(), render_num(*t));
            }
            Value::Object(m)
        }
    }
}

fn parse_group_by(v: &Value) -> R<Vec<GroupSpec>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        x => vec![x],
    };
    if items.is_empty() || items.len() > MAX_GROUP_PATHS {
        return Err(invalid("group_by", format!("needs 1 to {MAX_GROUP_PATHS} properties")));
    }
    let mut specs: Vec<GroupSpec> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let field = format!("group_by[{i}]");
        let spec = match it {
            Value::String(s) if !s.is_empty() => GroupSpec::Path(s.clone()),
            Value::Object(m) => {
                let path = m
                    .get("property_name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| invalid(&format!("{field}.property_name"), "missing"))?
                    .to_string();
                match (m.get("buckets"), m.get("ranges")) {
                    (Some(b), None) => {
                        let size = b.get("size").and_then(Value::as_f64).filter(|s| *s > 0.0);
                        let size = size.ok_or_else(|| {
                            invalid(&format!("{field}.buckets.size"), "must be a number > 0")
                        })?;
                        let offset = match b.get("offset") {
                            None | Some(Value::Null) => 0.0,
                            Some(o) => o.as_f64().ok_or_else(|| {
                                invalid(&format!("{field}.buckets.offset"), "must be a number")
                            })?,
                        };
                        GroupSpec::Buckets { path, size, offset }
                    }
                    (None, Some(r)) => {
                        let arr = r.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                            invalid(&format!("{field}.ranges"), "must be a non-empty array")
                        })?;
                        let mut ranges = Vec::new();
                        for (j, rg) in arr.iter().enumerate() {
                            let rf = format!("{field}.ranges[{j}]");
                            let o =
                                rg.as_object().ok_or_else(|| invalid(&rf, "must be an object"))?;
                            let side = |k: &str| -> R<Option<Num>> {
                                match o.get(k) {
                                    None | Some(Value::Null) => Ok(None),
                                    Some(Value::Number(n)) => Ok(Some(Num::from_json(n))),
                                    Some(_) => {
                                        Err(invalid(&format!("{rf}.{k}"), "must be a number"))
                                    }
                                }
                            };
                            ranges.push((side("from")?, side("to")?));
                        }
                        GroupSpec::Ranges { path, ranges }
                    }
                    _ => return Err(invalid(&field, "needs exactly one of buckets or ranges")),
                }
            }
            _ => return Err(invalid(&field, "must be a property name or a bucket/range object")),
        };
        if spec.name() == "result" {
            return Err(invalid(&field, "a group property may not be named result"));
        }
        // choice: the same property twice is invalid (the group object
        // could not hold both).
        if specs.iter().any(|s| s.name() == spec.name()) {
            return Err(invalid(&field, "property repeated in group_by"));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// The group values of one event for one spec (§6.1, §6.2): one value for a
/// path or buckets, one per containing range for ranges.
fn group_values(spec: &GroupSpec, ev: &Ev) -> Vec<G> {
    match spec {
        GroupSpec::Path(p) => vec![ev.get(p).map(|v| G::Val(v.clone())).unwrap_or(G::Null)],
        GroupSpec::Buckets { path, size, offset } => match ev.get(path) {
            Some(V::Num(n)) => {
                let k = ((n.f() - offset) / size).floor();
                let from = offset + k * size;
                let to = offset + (k + 1.0) * size;
                if from.is_finite() && to.is_finite() {
                    vec![G::Range(Some(Num::from_f64(from)), Some(Num::from_f64(to)))]
                } else {
                    vec![G::Null]
                }
            }
            _ => vec![G::Null],
        },
        GroupSpec::Ranges { path, ranges } => {
            let x = match ev.get(path) {
                Some(V::Num(n)) => *n,
                _ => return vec![G::Null],
            };
            let hits: Vec<G> = ranges
                .iter()
                .filter(|(f, t)| {
                    f.is_none_or(|f| num_cmp(x, f) != Ordering::Less)
                        && t.is_none_or(|t| num_cmp(x, t) == Ordering::Less)
                })
                .map(|(f, t)| G::Range(*f, *t))
                .collect();
            if hits.is_empty() {
                vec![G::Null]
            } else {
                hits
            }
        }
    }
}

/// Every group key of one event: the cartesian product of its values per
/// spec (a range group may hold the event several times).
fn group_keys(specs: &[GroupSpec], ev: &Ev) -> Vec<Vec<G>> {
    let mut keys: Vec<Vec<G>> = vec![Vec::new()];
    for s in specs {
        let vals = group_values(s, ev);
        let mut next = Vec::new();
        for k in &keys {
            for v in &vals {
                let mut k2 = k.clone();
                k2.push(v.clone());
                next.push(k2);
            }
        }
        keys = next;
    }
    keys
}

fn key_cmp(a: &[G], b: &[G]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = g_cmp(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// What an `order_by` entry sorts by.
#[derive(Debug, Clone)]
enum OrderKey {
    /// The analysis result (or a multi-analysis label).
    Result(String),
    /// The group value of group_by position i.
    Group(usize),
}

fn parse_order_by(
    v: &Value,
    specs: &[GroupSpec],
    labels: Option<&[String]>,
) -> R<Vec<(OrderKey, bool)>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        x => vec![x],
    };
    if items.is_empty() {
        return Err(invalid("order_by", "must name at least one property"));
    }
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let field = format!("order_by[{i}]");
        let (name, desc) = match it {
            Value::String(s) => (s.clone(), false),
            Value::Object(o) => {
                let name = o
                    .get("property_name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&format!("{field}.property_name"), "missing"))?;
                let desc = match o.get("direction") {
                    None | Some(Value::Null) => false,
                    Some(Value::String(d)) if d.eq_ignore_ascii_case("asc") => false,
                    Some(Value::String(d)) if d.eq_ignore_ascii_case("desc") => true,
                    Some(_) => {
                        return Err(invalid(&format!("{field}.direction"), "must be ASC or DESC"))
                    }
                };
                (name.to_string(), desc)
            }
            _ => return Err(invalid(&field, "must be a string or an object")),
        };
        let key = if let Some(pos) = specs.iter().position(|s| s.name() == name) {
            OrderKey::Group(pos)
        } else {
            match labels {
                None if name == "result" => OrderKey::Result(name),
                Some(ls) if ls.contains(&name) => OrderKey::Result(name),
                _ => return Err(invalid(&field, format!("cannot order by {name:?}"))),
            }
        };
        out.push((key, desc));
    }
    Ok(out)
}

/// Types a rendered result value back for ordering (§6.3 canonical order).
fn result_as_v(v: &Value) -> Option<V> {
    match v {
        Value::Null => None,
        Value::Array(a) => Some(V::List(a.iter().filter_map(prim).collect())),
        x => prim(x),
    }
}

/// One output row before rendering: group key and analysis results by label.
struct Row {
    key: Vec<G>,
    results: Vec<(String, Value)>,
}

/// Sorts rows (§6.3): by the order_by entries, nulls last in both
/// directions, ties by group values ascending; without order_by by group
/// values in canonical order. Then applies limit.
fn order_rows(rows: &mut Vec<Row>, order: &[(OrderKey, bool)], limit: Option<usize>) {
    rows.sort_by(|a, b| {
        for (k, desc) in order {
            let (x, y) = match k {
                OrderKey::Group(i) => {
                    let (gx, gy) = (&a.key[*i], &b.key[*i]);
                    match (gx, gy) {
                        (G::Null, G::Null) => continue,
                        (G::Null, _) => return Ordering::Greater,
                        (_, G::Null) => return Ordering::Less,
                        _ => {
                            let o = g_cmp(gx, gy);
                            let o = if *desc { o.reverse() } else { o };
                            if o != Ordering::Equal {
                                return o;
                            }
                            continue;
                        }
                    }
                }
                OrderKey::Result(label) => {
                    let get = |r: &Row| {
                        r.results.iter().find(|(l, _)| l == label).and_then(|(_, v)| result_as_v(v))
                    };
                    (get(a), get(b))
                }
            };
            match (x, y) {
                (None, None) => {}
                (None, Some(_)) => return Ordering::Greater,
                (Some(_), None) => return Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = canon_cmp(&x, &y);
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
            }
        }
        key_cmp(&a.key, &b.key)
    });
    if let Some(n) = limit {
        rows.truncate(n);
    }
}

// ---------------------------------------------------------------------------
// Query evaluation
// ---------------------------------------------------------------------------

fn opt<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    match m.get(k) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    }
}

fn collection_of(m: &Map<String, Value>, field: &str) -> R<String> {
    match opt(m, "event_collection") {
        None => Err(missing(field)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// Evaluates one Keen query over `events` with the clock at `now_ms`.
///
/// `events` are `(collection, stored event)` pairs, each event carrying
/// `keen.timestamp`; `query` is Keen's POST body plus `analysis_type`.
/// Returns the whole response body (`{"result": ...}`, plus `steps` and
/// `actors` for funnels) or the Keen error the query deserves.
pub fn evaluate(events: &[(String, Value)], query: &Value, now_ms: i64) -> Result<Value, RefError> {
    let m = query.as_object().ok_or_else(|| invalid("query", "must be a JSON object"))?;
    let kind = match m.get("analysis_type") {
        None | Some(Value::Null) => return Err(missing("analysis_type")),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid("analysis_type", "must be a string")),
    };
    // §2.1: max_age is validated, then has no effect on an answer computed now.
    if let Some(v) = opt(m, "max_age") {
        match v.as_i64() {
            Some(s) if s > 30 && s <= 129_600 => {}
            _ => return Err(invalid("max_age", "must be an integer in (30, 129600]")),
        }
    }
    let with_metadata = match opt(m, "include_metadata") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("include_metadata", "must be true or false")),
    };
    let started = std::time::Instant::now();
    let mut out = evaluate_kind(events, m, kind, now_ms)?;
    if with_metadata {
        out["execution_metadata"] = execution_metadata(events, m, started);
    }
    Ok(out)
}

/// §2.1 `include_metadata`. Only its shape is meaningful for comparison:
/// the time is measured, `events_scanned` counts the stored events of the
/// queried collection(s) (the reference scans them all) and
/// `properties_per_event` their distinct leaf paths.
fn execution_metadata(
    events: &[(String, Value)],
    m: &Map<String, Value>,
    started: std::time::Instant,
) -> Value {
    let mut collections: Vec<&str> = Vec::new();
    if let Some(c) = m.get("event_collection").and_then(Value::as_str) {
        collections.push(c);
    }
    for s in m.get("steps").and_then(Value::as_array).into_iter().flatten() {
        if let Some(c) = s.get("event_collection").and_then(Value::as_str) {
            collections.push(c);
        }
    }
    let scanned: Vec<&Value> =
        events.iter().filter(|(c, _)| collections.contains(&c.as_str())).map(|(_, e)| e).collect();
    let mut paths: Vec<String> = scanned
        .iter()
        .filter_map(|e| e.as_object())
        .filter_map(|o| flatten(o).ok())
        .flat_map(|props| props.into_iter().map(|(p, _)| p))
        .collect();
    paths.sort();
    paths.dedup();
    serde_json::json!({
        "total_processing_time": started.elapsed().as_secs_f64(),
        "events_scanned": scanned.len(),
        "properties_per_event": paths.len(),
    })
}

fn evaluate_kind(
    events: &[(String, Value)],
    m: &Map<String, Value>,
    kind: &str,
    now_ms: i64,
) -> R<Value> {
    match kind {
        "funnel" => eval_funnel(events, m, now_ms),
        "extraction" => eval_extraction(events, m, now_ms),
        "multi_analysis" => {
            let collection = collection_of(m, "event_collection")?;
            let analyses = match opt(m, "analyses") {
                None => return Err(missing("analyses")),
                Some(Value::Object(a)) if !a.is_empty() => a,
                Some(_) => return Err(invalid("analyses", "must be a non-empty object")),
            };
            let mut metrics = Vec::new();
            for (label, def) in analyses {
                let f = format!("analyses.{label}");
                let d = def.as_object().ok_or_else(|| invalid(&f, "must be an object"))?;
                let sub = match opt(d, "analysis_type") {
                    None => return Err(missing(&format!("{f}.analysis_type"))),
                    Some(Value::String(s)) if SIMPLE_TYPES.contains(&s.as_str()) => s.clone(),
                    Some(_) => {
                        return Err(invalid(
                            &format!("{f}.analysis_type"),
                            "not allowed in multi_analysis",
                        ))
                    }
                };
                metrics.push((label.clone(), parse_metric(&sub, d, &format!("{f}."))?));
            }
            eval_grouped(events, m, now_ms, collection, metrics, true)
        }
        k if SIMPLE_TYPES.contains(&k) => {
            let collection = collection_of(m, "event_collection")?;
            let metric = parse_metric(k, m, "")?;
            eval_grouped(events, m, now_ms, collection, vec![("result".to_string(), metric)], false)
        }
        other => Err(invalid("analysis_type", format!("unknown analysis type {other:?}"))),
    }
}

/// The events of `collection` inside `[start, end)` that pass `filters`.
fn matching<'a>(evs: &'a [Ev], start: i64, end: i64, filters: &[Filter]) -> Vec<&'a Ev> {
    evs.iter()
        .filter(|e| e.ts >= start && e.ts < end && filters.iter().all(|f| filter_matches(f, e)))
        .collect()
}

fn results_of(metrics: &[(String, Metric)], events: &[&Ev]) -> Vec<(String, Value)> {
    metrics.iter().map(|(l, m)| (l.clone(), metric_value(m, events))).collect()
}

/// Plain, grouped, interval and grouped+interval analyses and
/// multi-analyses (§2.4, §2.6, §5, §6).
fn eval_grouped(
    events: &[(String, Value)],
    m: &Map<String, Value>,
    now: i64,
    collection: String,
    metrics: Vec<(String, Metric)>,
    multi: bool,
) -> R<Value> {
    let tf = parse_timeframe(m.get("timeframe"), "timeframe")?;
    let zone = parse_zone(m.get("timezone"), "timezone")?;
    let filters = parse_filters(m.get("filters"), "filters")?;
    let interval = opt(m, "interval").map(parse_interval).transpose()?;
    let specs = opt(m, "group_by").map(parse_group_by).transpose()?;
    let labels: Vec<String> = metrics.iter().map(|(l, _)| l.clone()).collect();
    if let Some(specs) = &specs {
        if multi {
            if let Some(s) = specs.iter().find(|s| labels.iter().any(|l| l == s.name())) {
                return Err(invalid(
                    "group_by",
                    format!("{:?} is also an analysis label", s.name()),
                ));
            }
        }
    }
    let order = match opt(m, "order_by") {
        None => Vec::new(),
        Some(v) => {
            let Some(specs) = &specs else {
                return Err(invalid("order_by", "order_by requires group_by"));
            };
            parse_order_by(v, specs, if multi { Some(&labels) } else { None })?
        }
    };
    let limit = match opt(m, "limit") {
        None => None,
        Some(v) => {
            if order.is_empty() {
                return Err(invalid("limit", "limit requires order_by"));
            }
            match v.as_u64() {
                Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => return Err(invalid("limit", "must be an integer >= 1")),
            }
        }
    };
    let (start, end) = resolve_timeframe(&tf, &zone, now, "timeframe")?;
    let bks = interval.map(|iv| buckets(iv, &zone, start, end)).transpose()?;

    let evs = load_events(events, &collection)?;
    let matched = matching(&evs, start, end, &filters);

    let render_results = |rs: Vec<(String, Value)>| -> Value {
        if multi {
            Value::Object(rs.into_iter().collect())
        } else {
            rs.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null)
        }
    };

    // The groups of the whole timeframe with their events (§5.4 zero-fill
    // lists every group that occurs anywhere in the timeframe).
    let grouped: Option<Vec<(Vec<G>, Vec<&Ev>)>> = specs.as_ref().map(|specs| {
        let mut groups: Vec<(Vec<G>, Vec<&Ev>)> = Vec::new();
        for e in &matched {
            for k in group_keys(specs, e) {
                match groups.iter_mut().find(|(g, _)| key_cmp(g, &k) == Ordering::Equal) {
                    Some((_, list)) => list.push(e),
                    None => groups.push((k, vec![*e])),
                }
            }
        }
        groups
    });
    if let Some(g) = &grouped {
        if g.len() > MAX_GROUPS {
            return Err(limit_exceeded(format!("more than {MAX_GROUPS} groups")));
        }
    }

    // One value: the plain result or the ordered group list of `in_range`.
    let value_for = |in_range: &dyn Fn(&Ev) -> bool| -> Value {
        match (&grouped, &specs) {
            (Some(groups), Some(specs)) => {
                let mut rows: Vec<Row> = groups
                    .iter()
                    .map(|(k, list)| {
                        let sel: Vec<&Ev> = list.iter().copied().filter(|e| in_range(e)).collect();
                        Row { key: k.clone(), results: results_of(&metrics, &sel) }
                    })
                    .collect();
                order_rows(&mut rows, &order, limit);
                Value::Array(
                    rows.into_iter()
                        .map(|r| {
                            let mut o = Map::new();
                            for (s, g) in specs.iter().zip(&r.key) {
                                o.insert(s.name().to_string(), render_g(g));
                            }
                            for (l, v) in r.results {
                                o.insert(l, v);
                            }
                            Value::Object(o)
                        })
                        .collect(),
                )
            }
            _ => {
                let sel: Vec<&Ev> = matched.iter().copied().filter(|e| in_range(e)).collect();
                render_results(results_of(&metrics, &sel))
            }
        }
    };

    let result = match &bks {
        None => value_for(&|_| true),
        Some(bks) => Value::Array(
            bks.iter()
                .map(|(s, e)| {
                    let mut tfo = Map::new();
                    tfo.insert("start".into(), Value::String(zone.render(*s)));
                    tfo.insert("end".into(), Value::String(zone.render(*e)));
                    let mut o = Map::new();
                    o.insert("timeframe".into(), Value::Object(tfo));
                    o.insert("value".into(), value_for(&|ev: &Ev| ev.ts >= *s && ev.ts < *e));
                    Value::Object(o)
                })
                .collect(),
        ),
    };
    let mut out = Map::new();
    out.insert("result".into(), result);
    Ok(Value::Object(out))
}

/// §2.5 funnel.
fn eval_funnel(events: &[(String, Value)], m: &Map<String, Value>, now: i64) -> R<Value> {
    let steps = match opt(m, "steps") {
        None => return Err(missing("steps")),
        Some(Value::Array(s)) if !s.is_empty() && s.len() <= MAX_STEPS => s,
        Some(_) => {
            return Err(invalid("steps", format!("must be an array of 1 to {MAX_STEPS} steps")))
        }
    };
    let mut echo = Vec::new();
    let mut parsed = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let f = format!("steps[{i}]");
        let s = st.as_object().ok_or_else(|| invalid(&f, "a step must be an object"))?;
        let collection = collection_of(s, &format!("{f}.event_collection"))?;
        let actor = match opt(s, "actor_property") {
            None => return Err(missing(&format!("{f}.actor_property"))),
            Some(Value::String(a)) if !a.is_empty() => a.clone(),
            Some(_) => {
                return Err(invalid(&format!("{f}.actor_property"), "must be a non-empty string"))
            }
        };
        let tf_json = opt(s, "timeframe").or_else(|| opt(m, "timeframe"));
        let tf = parse_timeframe(tf_json, &format!("{f}.timeframe"))?;
        let tz_json = opt(s, "timezone").or_else(|| opt(m, "timezone"));
        let zone = parse_zone(tz_json, &format!("{f}.timezone"))?;
        let filters = parse_filters(s.get("filters"), &format!("{f}.filters"))?;
        let flag = |k: &str| -> R<bool> {
            match opt(s, k) {
                None => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(invalid(&format!("{f}.{k}"), "must be true or false")),
            }
        };
        let (optional, inverted, with_actors) =
            (flag("optional")?, flag("inverted")?, flag("with_actors")?);
        if i == 0 && (optional || inverted) {
            return Err(invalid(&f, "the first step may be neither optional nor inverted"));
        }
        let (start, end) = resolve_timeframe(&tf, &zone, now, &format!("{f}.timeframe"))?;
        let mut e = Map::new();
        e.insert("event_collection".into(), Value::String(collection.clone()));
        e.insert("actor_property".into(), Value::String(actor.clone()));
        e.insert("timeframe".into(), tf_json.cloned().unwrap_or(Value::Null));
        e.insert(
            "timezone".into(),
            tz_json.cloned().unwrap_or_else(|| Value::String("UTC".into())),
        );
        e.insert(
            "filters".into(),
            opt(s, "filters").cloned().unwrap_or_else(|| Value::Array(Vec::new())),
        );
        e.insert("optional".into(), Value::Bool(optional));
        e.insert("inverted".into(), Value::Bool(inverted));
        e.insert("with_actors".into(), Value::Bool(with_actors));
        echo.push(Value::Object(e));
        parsed.push((collection, actor, start, end, filters, optional, inverted, with_actors));
    }
    let mut results = Vec::new();
    let mut actors = Vec::new();
    let mut running: Vec<V> = Vec::new();
    for (k, (collection, actor, start, end, filters, optional, inverted, with_actors)) in
        parsed.iter().enumerate()
    {
        let evs = load_events(events, collection)?;
        let matched = matching(&evs, *start, *end, filters);
        // A_k: distinct non-null actor values (choice: a list value is one actor).
        let mut a_k: Vec<V> = matched.iter().filter_map(|e| e.get(actor).cloned()).collect();
        a_k.sort_by(canon_cmp);
        a_k.dedup_by(|a, b| canon_cmp(a, b) == Ordering::Equal);
        let in_a = |v: &V| a_k.iter().any(|x| canon_cmp(x, v) == Ordering::Equal);
        let s_k: Vec<V> = if k == 0 {
            a_k.clone()
        } else if *inverted {
            running.iter().filter(|v| !in_a(v)).cloned().collect()
        } else {
            running.iter().filter(|v| in_a(v)).cloned().collect()
        };
        results.push(Value::from(s_k.len() as u64));
        actors.push(if *with_actors {
            Value::Array(s_k.iter().map(render_value).collect())
        } else {
            Value::Null
        });
        if k == 0 || !*optional {
            running = s_k;
        }
    }
    let mut out = Map::new();
    out.insert("result".into(), Value::Array(results));
    if parsed.iter().any(|p| p.7) {
        out.insert("actors".into(), Value::Array(actors));
    }
    out.insert("steps".into(), Value::Array(echo));
    Ok(Value::Object(out))
}

/// Keeps only the listed leaf paths of an event, nesting preserved (§9.5).
fn project(v: &Value, prefix: &str, keep: &[String]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if let Some(y) = project(x, &p, keep) {
                    out.insert(k.clone(), y);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        leaf => keep.contains(&prefix.to_string()).then(|| leaf.clone()),
    }
}

/// §9.5 extraction.
fn eval_extraction(events: &[(String, Value)], m: &Map<String, Value>, now: i64) -> R<Value> {
    let collection = collection_of(m, "event_collection")?;
    let tf = parse_timeframe(m.get("timeframe"), "timeframe")?;
    let zone = parse_zone(m.get("timezone"), "timezone")?;
    let filters = parse_filters(m.get("filters"), "filters")?;
    let latest = match opt(m, "latest") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(invalid("latest", "must be an integer >= 1")),
        },
    };
    let names: Option<Vec<String>> = match opt(m, "property_names") {
        None => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid("property_names", "must be strings"))
                })
                .collect::<R<Vec<_>>>()?,
        ),
        Some(_) => return Err(invalid("property_names", "must be an array of paths")),
    };
    if let Some(v) = opt(m, "email") {
        if !v.is_string() {
            return Err(invalid("email", "must be a string"));
        }
    }
    let (start, end) = resolve_timeframe(&tf, &zone, now, "timeframe")?;
    let evs = load_events(events, &collection)?;
    let mut matched = matching(&evs, start, end, &filters);
    // Ascending keen.timestamp, ties by keen.id (stable otherwise).
    matched.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.id.cmp(&b.id)));
    if let Some(n) = latest {
        let skip = matched.len().saturating_sub(n);
        matched.drain(..skip);
    }
    if opt(m, "email").is_some() {
        // The extraction runs in the background; the immediate answer is a
        // short acknowledgement whose wording is the engine's (§9.5).
        let mut out = Map::new();
        out.insert("result".into(), Value::String("extraction request accepted".into()));
        return Ok(Value::Object(out));
    }
    if matched.len() > MAX_EXTRACTION {
        return Err(limit_exceeded(format!("more than {MAX_EXTRACTION} events to extract")));
    }
    let rows: Vec<Value> = matched
        .iter()
        .map(|e| {
            let stored = normalise(&e.raw).unwrap_or_else(|| Value::Object(Map::new()));
            match &names {
                None => stored,
                Some(keep) => {
                    project(&stored, "", keep).unwrap_or_else(|| Value::Object(Map::new()))
                }
            }
        })
        .collect();
    let mut out = Map::new();
    out.insert("result".into(), Value::Array(rows));
    Ok(Value::Object(out))
}
