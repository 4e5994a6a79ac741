//! Time: timezones, timeframes and interval units (keen-semantics §4–5).
//!
//! Parsing ([`TimeZone::parse`], [`Timeframe::parse`], [`Interval::parse`]),
//! resolution of relative timeframes against a clock
//! ([`Timeframe::resolve`]) and the splitting of a range into interval
//! buckets ([`Interval::buckets`]).
//!
//! Rules (keen-semantics §0, §4.3, §5.2): minutes and hours are elapsed
//! time; days, weeks (starting Sunday), months and years use the local
//! calendar of the query timezone. A local time that does not exist (a
//! spring-forward gap) moves forward by the gap; one that occurs twice
//! (fall-back) is the earlier instant. Month arithmetic clamps to the last
//! day of the month. Instants outside chrono's calendar range (about
//! ±262,000 years) are a `TimeframeDefinitionError`, never a panic.

use chrono::{
    DateTime, Datelike, Days, FixedOffset, LocalResult, Months, NaiveDate, NaiveDateTime, Offset,
    TimeZone as _, Utc,
};
use serde_json::Value;

use crate::error::{QueryError, Result};
use crate::model::Interval;

/// A query timezone (keen-semantics §4.4): an IANA zone, which follows
/// daylight saving, or a fixed offset in seconds east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// An IANA zone such as `US/Pacific`.
    Named(chrono_tz::Tz),
    /// A fixed offset, seconds east of UTC, within ±50,400.
    Fixed(i32),
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::Named(chrono_tz::UTC)
    }
}

impl TimeZone {
    /// The zone's offset from UTC at instant `ms`, in seconds.
    pub fn offset_at(&self, ms: i64) -> i32 {
        match self {
            TimeZone::Fixed(s) => *s,
            TimeZone::Named(tz) => match Utc.timestamp_millis_opt(ms).single() {
                Some(t) => tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc(),
                None => 0,
            },
        }
    }

    /// Renders instant `ms` in this zone's offset at that instant:
    /// `YYYY-MM-DDTHH:MM:SS.sss±HH:MM`, with `Z` when the offset is zero
    /// (keen-semantics §4.4).
    pub fn format_instant(&self, ms: i64) -> String {
        let offset = self.offset_at(ms);
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(ms) else {
            return String::new();
        };
        if offset == 0 {
            return utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        }
        let fixed = FixedOffset::east_opt(offset)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
        utc.with_timezone(&fixed).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
    }
}

/// Calendar units of relative timeframes and intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeUnit {
    /// Minutes (elapsed time).
    Minute,
    /// Hours (elapsed time).
    Hour,
    /// Local calendar days.
    Day,
    /// Local weeks starting Sunday 00:00.
    Week,
    /// Local calendar months.
    Month,
    /// Local calendar years.
    Year,
}

/// A timeframe as given (keen-semantics §4.1–4.2); relative forms are
/// resolved against a clock at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeframe {
    /// `{"start": ..., "end": ...}`, UTC milliseconds, start < end.
    Absolute {
        /// Inclusive start.
        start_ms: i64,
        /// Exclusive end.
        end_ms: i64,
    },
    /// `this_N_unit` (`previous == false`) or `previous_N_unit`
    /// (`today`, `yesterday` and `last_N_unit` normalise to these).
    Relative {
        /// `previous_` rather than `this_`.
        previous: bool,
        /// N, 1 … 1,000,000.
        n: u32,
        /// The unit.
        unit: TimeUnit,
    },
}

/// A resolved half-open time range `[start_ms, end_ms)` in UTC ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub start_ms: i64,
    /// Exclusive end.
    pub end_ms: i64,
}

/// Largest `N` of a relative timeframe (keen-semantics §4.2).
pub const MAX_RELATIVE_N: u32 = 1_000_000;

/// Largest magnitude of a timezone offset, seconds (keen-semantics §4.4).
pub const MAX_OFFSET_SECS: i64 = 50_400;

/// Most buckets one interval may produce (keen-semantics §5.2).
pub const MAX_BUCKETS: usize = 10_000;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

impl TimeZone {
    /// Parses a `timezone` parameter (keen-semantics §4.4): an IANA name
    /// (`"US/Pacific"`; matched exactly, else ignoring ASCII case), an
    /// integer offset in seconds east of UTC as a JSON number or numeric
    /// string (`-28800`, `"-28800"`), or `"+HH:MM"` / `"-HH:MM"`. `null`
    /// is the default, UTC. Offsets beyond ±50,400 s, unknown names and
    /// other JSON → `InvalidParameterError` naming `timezone`.
    ///
    /// ```
    /// use serde_json::json;
    /// use tally_query::TimeZone;
    /// assert_eq!(TimeZone::parse(&json!(-28800)).unwrap(), TimeZone::Fixed(-28800));
    /// assert_eq!(TimeZone::parse(&json!("+05:30")).unwrap(), TimeZone::Fixed(19800));
    /// assert_eq!(TimeZone::parse(&json!("US/Pacific")).unwrap(),
    ///            TimeZone::Named(chrono_tz::US::Pacific));
    /// ```
    pub fn parse(v: &Value) -> Result<TimeZone> {
        TimeZone::parse_at(v, "timezone")
    }

    /// [`TimeZone::parse`] with `field` naming the parameter in errors
    /// (for example `steps[1].timezone`).
    pub fn parse_at(v: &Value, field: &str) -> Result<TimeZone> {
        match v {
            Value::Null => Ok(TimeZone::default()),
            Value::Number(n) => {
                let secs = match n.as_i64() {
                    Some(i) => i,
                    None => match n.as_f64() {
                        Some(f) if f.fract() == 0.0 && f.abs() <= 1e15 => f as i64,
                        _ => {
                            return Err(QueryError::invalid(
                                field,
                                format!("offset {n} is not an integer number of seconds"),
                            ))
                        }
                    },
                };
                fixed(secs, field)
            }
            Value::String(s) => parse_tz_str(s, field),
            other => Err(QueryError::invalid(
                field,
                format!(
                    "expected an IANA zone name or an offset in seconds, got {}",
                    json_kind(other)
                ),
            )),
        }
    }

    /// The local wall-clock time at instant `ms`, if in chrono's range.
    fn local(&self, ms: i64) -> Option<NaiveDateTime> {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms)?.naive_utc();
        utc.checked_add_signed(chrono::TimeDelta::try_seconds(i64::from(self.offset_at(ms)))?)
    }

    /// The instant of local wall-clock time `t`: a nonexistent time moves
    /// forward by the gap, an ambiguous one is the earlier instant.
    fn instant(&self, t: NaiveDateTime) -> Option<i64> {
        let wall = t.and_utc().timestamp_millis();
        let ms = match self {
            TimeZone::Fixed(s) => wall.checked_sub(i64::from(*s) * 1000)?,
            TimeZone::Named(tz) => match tz.from_local_datetime(&t) {
                LocalResult::Single(dt) => dt.timestamp_millis(),
                LocalResult::Ambiguous(a, b) => a.timestamp_millis().min(b.timestamp_millis()),
                LocalResult::None => {
                    // In a gap: read `t` with the offset in force before the
                    // transition; the instant lies after it, where the wall
                    // clock reads `t` + the gap.
                    let before = wall.checked_sub(86_400_000)?;
                    let off = i64::from(self.offset_at(before));
                    wall.checked_sub(off * 1000)?
                }
            },
        };
        DateTime::<Utc>::from_timestamp_millis(ms).map(|_| ms)
    }
}

fn fixed(secs: i64, field: &str) -> Result<TimeZone> {
    if !(-MAX_OFFSET_SECS..=MAX_OFFSET_SECS).contains(&secs) {
        return Err(QueryError::invalid(
            field,
            format!("offset {secs} s is outside -{MAX_OFFSET_SECS}..={MAX_OFFSET_SECS} seconds"),
        ));
    }
    Ok(TimeZone::Fixed(secs as i32))
}

fn parse_tz_str(s: &str, field: &str) -> Result<TimeZone> {
    let b = s.as_bytes();
    // "+HH:MM" / "-HH:MM"
    if b.len() == 6 && (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
        let digits = |i: usize| -> Option<i64> {
            let (x, y) = (b[i], b[i + 1]);
            (x.is_ascii_digit() && y.is_ascii_digit())
                .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
        };
        return match (digits(1), digits(4)) {
            (Some(h), Some(m)) if m < 60 => {
                let secs = h * 3600 + m * 60;
                fixed(if b[0] == b'-' { -secs } else { secs }, field)
            }
            _ => Err(QueryError::invalid(field, format!("invalid offset {s:?}"))),
        };
    }
    // An integer number of seconds as a string.
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(secs) => fixed(secs, field),
            Err(_) => Err(QueryError::invalid(field, format!("offset {s} is out of range"))),
        };
    }
    if let Ok(tz) = s.parse::<chrono_tz::Tz>() {
        return Ok(TimeZone::Named(tz));
    }
    if !s.is_empty() && s.len() <= 64 {
        let lower = s.to_ascii_lowercase();
        if let Some(tz) =
            chrono_tz::TZ_VARIANTS.iter().find(|tz| tz.name().to_ascii_lowercase() == lower)
        {
            return Ok(TimeZone::Named(*tz));
        }
    }
    Err(QueryError::invalid(field, format!("unknown timezone {s:?}")))
}

/// The JSON type of `v`, for messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl TimeUnit {
    /// The unit's singular name (`"day"`).
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }

    /// Parses a unit name, singular or plural (`"day"`, `"days"`).
    pub fn from_name(s: &str) -> Option<TimeUnit> {
        let s = s.strip_suffix('s').unwrap_or(s);
        Some(match s {
            "minute" => TimeUnit::Minute,
            "hour" => TimeUnit::Hour,
            "day" => TimeUnit::Day,
            "week" => TimeUnit::Week,
            "month" => TimeUnit::Month,
            "year" => TimeUnit::Year,
            _ => return None,
        })
    }

    /// Length of an elapsed-time unit in ms (minutes and hours only).
    fn elapsed_ms(self) -> Option<i64> {
        match self {
            TimeUnit::Minute => Some(MINUTE_MS),
            TimeUnit::Hour => Some(HOUR_MS),
            _ => None,
        }
    }
}

/// Start of the calendar unit (day or longer) containing local time `t`.
fn floor_local(t: NaiveDateTime, unit: TimeUnit) -> Option<NaiveDateTime> {
    let d = t.date();
    let day = match unit {
        TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day => d,
        TimeUnit::Week => {
            d.checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_sunday())))?
        }
        TimeUnit::Month => d.with_day(1)?,
        TimeUnit::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1)?,
    };
    day.and_hms_opt(0, 0, 0)
}

/// Local time `t` moved by `k` calendar units (day or longer; negative
/// goes back). Months and years clamp to the last day of the month.
fn add_units(t: NaiveDateTime, unit: TimeUnit, k: i64) -> Option<NaiveDateTime> {
    let mag = k.unsigned_abs();
    match unit {
        TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day | TimeUnit::Week => {
            let days = if unit == TimeUnit::Week { mag.checked_mul(7)? } else { mag };
            if k >= 0 {
                t.checked_add_days(Days::new(days))
            } else {
                t.checked_sub_days(Days::new(days))
            }
        }
        TimeUnit::Month | TimeUnit::Year => {
            let months = if unit == TimeUnit::Year { mag.checked_mul(12)? } else { mag };
            let months = Months::new(u32::try_from(months).ok()?);
            if k >= 0 {
                t.checked_add_months(months)
            } else {
                t.checked_sub_months(months)
            }
        }
    }
}

/// Start of the elapsed unit (minute or hour) containing instant `ms`, on
/// the wall clock of the zone at `ms`.
fn floor_elapsed(ms: i64, unit_ms: i64, tz: &TimeZone) -> Option<i64> {
    let wall = ms.checked_add(i64::from(tz.offset_at(ms)) * 1000)?;
    ms.checked_sub(wall.rem_euclid(unit_ms))
}

/// An instant that chrono (and so rendering) can represent.
fn representable(ms: i64) -> Option<i64> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|_| ms)
}

fn out_of_range(what: impl std::fmt::Display) -> QueryError {
    QueryError::timeframe("timeframe", format!("{what} lies outside the representable time range"))
}

impl Timeframe {
    /// Parses a `timeframe` parameter (keen-semantics §4.1–4.2): a relative
    /// string, an object `{"start", "end"}` of ISO-8601 date-times (a
    /// missing zone is UTC; start < end), or a string holding that object
    /// as JSON (Keen's GET encoding). Missing (`null`) or malformed →
    /// `TimeframeDefinitionError` naming `timeframe`.
    ///
    /// ```
    /// use serde_json::json;
    /// use tally_query::{TimeUnit, Timeframe};
    /// assert_eq!(
    ///     Timeframe::parse(&json!("previous_24_hours")).unwrap(),
    ///     Timeframe::Relative { previous: true, n: 24, unit: TimeUnit::Hour }
    /// );
    /// let abs = json!({"start": "1970-01-01T00:00:00Z", "end": "1970-01-01T00:00:01"});
    /// assert_eq!(Timeframe::parse(&abs).unwrap(), Timeframe::Absolute { start_ms: 0, end_ms: 1000 });
    /// ```
    pub fn parse(v: &Value) -> Result<Timeframe> {
        Timeframe::parse_at(v, "timeframe")
    }

    /// [`Timeframe::parse`] with `field` naming the parameter in errors.
    pub fn parse_at(v: &Value, field: &str) -> Result<Timeframe> {
        match v {
            Value::Null => Err(QueryError::timeframe(field, "required parameter is missing")),
            Value::String(s) if s.trim_start().starts_with('{') => {
                match serde_json::from_str::<Value>(s) {
                    Ok(obj @ Value::Object(_)) => Timeframe::parse_at(&obj, field),
                    _ => Err(QueryError::timeframe(
                        field,
                        format!("{s:?} is neither a relative timeframe nor a JSON object"),
                    )),
                }
            }
            Value::String(s) => parse_relative(s).ok_or_else(|| {
                QueryError::timeframe(field, format!("invalid relative timeframe {s:?}"))
            }),
            Value::Object(o) => {
                let get = |name: &str| -> Result<i64> {
                    let sub = format!("{field}.{name}");
                    match o.get(name) {
                        None | Some(Value::Null) => {
                            Err(QueryError::timeframe(&sub, "required member is missing"))
                        }
                        Some(Value::String(s)) => {
                            tally_ingest::parse_timestamp(s).ok_or_else(|| {
                                QueryError::timeframe(
                                    &sub,
                                    format!("{s:?} is not an ISO-8601 date-time"),
                                )
                            })
                        }
                        Some(other) => Err(QueryError::timeframe(
                            &sub,
                            format!(
                                "expected an ISO-8601 date-time string, got {}",
                                json_kind(other)
                            ),
                        )),
                    }
                };
                let start_ms = get("start")?;
                let end_ms = get("end")?;
                if start_ms >= end_ms {
                    return Err(QueryError::timeframe(field, "start must be before end"));
                }
                Ok(Timeframe::Absolute { start_ms, end_ms })
            }
            other => Err(QueryError::timeframe(
                field,
                format!(
                    "expected a relative timeframe string or an object, got {}",
                    json_kind(other)
                ),
            )),
        }
    }

    /// Resolves the timeframe at instant `now_ms` in zone `tz`
    /// (keen-semantics §4.3): `this_N_u` = [floor_u(now) − (N−1)·u,
    /// floor_u(now) + u), `previous_N_u` = [floor_u(now) − N·u,
    /// floor_u(now)). An absolute timeframe resolves to itself. A range
    /// outside the representable instants → `TimeframeDefinitionError`.
    ///
    /// ```
    /// use tally_query::{TimeRange, TimeUnit, TimeZone, Timeframe};
    /// let now = 1_718_202_920_000; // 2024-06-12T14:35:20Z, a Wednesday
    /// let week = Timeframe::Relative { previous: false, n: 1, unit: TimeUnit::Week };
    /// assert_eq!(
    ///     week.resolve(now, &TimeZone::default()).unwrap(),
    ///     TimeRange { start_ms: 1_717_891_200_000, end_ms: 1_718_496_000_000 } // Sun 06-09, Sun 06-16
    /// );
    /// ```
    pub fn resolve(&self, now_ms: i64, tz: &TimeZone) -> Result<TimeRange> {
        let (previous, n, unit) = match *self {
            Timeframe::Absolute { start_ms, end_ms } => return Ok(TimeRange { start_ms, end_ms }),
            Timeframe::Relative { previous, n, unit } => (previous, i64::from(n), unit),
        };
        let name = self.describe();
        if n < 1 {
            return Err(QueryError::timeframe(
                "timeframe",
                format!("{name}: N must be at least 1"),
            ));
        }
        // Units back from the current one to the start, and forward to the end.
        let (back, forward) = if previous { (n, 0) } else { (n - 1, 1) };
        let range = if let Some(u) = unit.elapsed_ms() {
            (|| {
                let floor = floor_elapsed(now_ms, u, tz)?;
                let start = representable(floor.checked_sub(back.checked_mul(u)?)?)?;
                let end = representable(floor.checked_add(forward * u)?)?;
                Some((start, end))
            })()
        } else {
            (|| {
                let floor = floor_local(tz.local(now_ms)?, unit)?;
                let start = tz.instant(add_units(floor, unit, -back)?)?;
                let end = tz.instant(add_units(floor, unit, forward)?)?;
                Some((start, end))
            })()
        };
        match range {
            Some((start_ms, end_ms)) if start_ms < end_ms => Ok(TimeRange { start_ms, end_ms }),
            Some(_) => Err(QueryError::timeframe(
                "timeframe",
                format!("{name} resolves to an empty range"),
            )),
            None => Err(out_of_range(name)),
        }
    }

    /// The timeframe as Keen writes it: `this_7_days`, `previous_1_week`,
    /// or `start/end` in UTC for an absolute one.
    pub fn describe(&self) -> String {
        match *self {
            Timeframe::Absolute { start_ms, end_ms } => format!(
                "{}/{}",
                tally_ingest::format_datetime(start_ms),
                tally_ingest::format_datetime(end_ms)
            ),
            Timeframe::Relative { previous, n, unit } => format!(
                "{}_{n}_{}{}",
                if previous { "previous" } else { "this" },
                unit.name(),
                if n == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The §4.2 grammar; `None` when `s` does not match it.
fn parse_relative(s: &str) -> Option<Timeframe> {
    match s {
        "today" => return Some(Timeframe::Relative { previous: false, n: 1, unit: TimeUnit::Day }),
        "yesterday" => {
            return Some(Timeframe::Relative { previous: true, n: 1, unit: TimeUnit::Day })
        }
        _ => {}
    }
    let (previous, rest) = if let Some(r) = s.strip_prefix("this_") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("previous_") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("last_") {
        (true, r)
    } else {
        return None;
    };
    let (n, unit) = match rest.split_once('_') {
        Some((digits, unit)) => (parse_count(digits, MAX_RELATIVE_N)?, unit),
        None => (1, rest),
    };
    Some(Timeframe::Relative { previous, n, unit: TimeUnit::from_name(unit)? })
}

/// A decimal N without sign, 1 ≤ N ≤ `max`.
fn parse_count(digits: &str, max: u32) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    if n < 1 || n > u64::from(max) {
        return None;
    }
    u32::try_from(n).ok()
}

impl Interval {
    /// Parses an `interval` parameter (keen-semantics §5.1): `minutely`,
    /// `hourly`, `daily`, `weekly`, `monthly`, `yearly` (N = 1) or
    /// `every_N_unit` with N ≥ 1 and the unit singular or plural. Anything
    /// else → `InvalidParameterError` naming `interval`.
    ///
    /// ```
    /// use serde_json::json;
    /// use tally_query::{Interval, TimeUnit};
    /// assert_eq!(Interval::parse(&json!("every_6_hours")).unwrap(),
    ///            Interval::every(6, TimeUnit::Hour));
    /// assert_eq!(Interval::parse(&json!("daily")).unwrap(), Interval::named(TimeUnit::Day));
    /// ```
    pub fn parse(v: &Value) -> Result<Interval> {
        Interval::parse_at(v, "interval")
    }

    /// [`Interval::parse`] with `field` naming the parameter in errors.
    pub fn parse_at(v: &Value, field: &str) -> Result<Interval> {
        let Value::String(s) = v else {
            return Err(QueryError::invalid(
                field,
                format!("expected an interval name, got {}", json_kind(v)),
            ));
        };
        let named = match s.as_str() {
            "minutely" => Some(TimeUnit::Minute),
            "hourly" => Some(TimeUnit::Hour),
            "daily" => Some(TimeUnit::Day),
            "weekly" => Some(TimeUnit::Week),
            "monthly" => Some(TimeUnit::Month),
            "yearly" => Some(TimeUnit::Year),
            _ => None,
        };
        if let Some(unit) = named {
            return Ok(Interval::named(unit));
        }
        s.strip_prefix("every_")
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(digits, unit)| {
                Some(Interval::every(parse_count(digits, u32::MAX)?, TimeUnit::from_name(unit)?))
            })
            .ok_or_else(|| QueryError::invalid(field, format!("unknown interval {s:?}")))
    }

    /// Splits `range` into the interval's buckets in zone `tz`
    /// (keen-semantics §5.2), in time order, each half-open.
    ///
    /// With N = 1 (the named intervals, and `every_1_u`) buckets split at
    /// the unit boundaries of the zone's calendar (`weekly` at Sunday
    /// 00:00) and the first and last bucket are clipped to `range`. With
    /// N > 1, boundary k is the range start plus k·N units (months and
    /// years clamp to the month's last day) and the last bucket is clipped.
    /// More than [`MAX_BUCKETS`] buckets → `LimitExceededError`, found
    /// before they are allocated. An empty range has no buckets.
    ///
    /// ```
    /// use tally_query::{Interval, TimeRange, TimeUnit, TimeZone};
    /// let day = 86_400_000;
    /// let range = TimeRange { start_ms: day / 2, end_ms: 2 * day };
    /// let b = Interval::named(TimeUnit::Day).buckets(range, &TimeZone::default()).unwrap();
    /// assert_eq!(b, vec![TimeRange { start_ms: day / 2, end_ms: day },
    ///                    TimeRange { start_ms: day, end_ms: 2 * day }]);
    /// ```
    pub fn buckets(&self, range: TimeRange, tz: &TimeZone) -> Result<Vec<TimeRange>> {
        let TimeRange { start_ms, end_ms } = range;
        if start_ms >= end_ms {
            return Ok(Vec::new());
        }
        if self.n == 0 {
            return Err(QueryError::invalid("interval", "N must be at least 1"));
        }
        let n = i64::from(self.n);
        let unit = self.unit;
        let aligned = self.calendar;
        let oor = || {
            QueryError::timeframe(
                "interval",
                "a bucket boundary lies outside the representable time range",
            )
        };
        // boundary(k) for k = 0, 1, ...; boundary(0) ≤ start_ms.
        let boundary: Box<dyn Fn(i64) -> Option<i64>> = match unit.elapsed_ms() {
            Some(u) => {
                let origin = if aligned {
                    floor_elapsed(start_ms, u, tz).ok_or_else(oor)?
                } else {
                    start_ms
                };
                let step = n.checked_mul(u).ok_or_else(oor)?;
                Box::new(move |k| representable(origin.checked_add(k.checked_mul(step)?)?))
            }
            None => {
                let local = tz.local(start_ms).ok_or_else(oor)?;
                let origin =
                    if aligned { floor_local(local, unit).ok_or_else(oor)? } else { local };
                let tz = *tz;
                Box::new(move |k| {
                    if k == 0 && !aligned {
                        return Some(start_ms);
                    }
                    tz.instant(add_units(origin, unit, k.checked_mul(n)?)?)
                })
            }
        };
        let mut out = Vec::new();
        let mut cur = boundary(0).ok_or_else(oor)?.min(start_ms);
        let mut k = 0i64;
        // Each step is at least one minute of local time, so the count of
        // steps is bounded by the buckets it produces; the guard below only
        // protects against boundaries that fail to advance.
        let mut stalls = 0u32;
        while cur < end_ms {
            k += 1;
            let next = boundary(k).ok_or_else(oor)?;
            if next <= cur {
                stalls += 1;
                if stalls > 1_000 {
                    return Err(oor());
                }
                continue;
            }
            if next > start_ms {
                if out.len() == MAX_BUCKETS {
                    return Err(QueryError::limit(format!(
                        "interval: more than {MAX_BUCKETS} buckets in the timeframe"
                    )));
                }
                out.push(TimeRange { start_ms: cur.max(start_ms), end_ms: next.min(end_ms) });
            }
            cur = next;
        }
        Ok(out)
    }
}
