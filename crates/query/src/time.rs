//! Time: timezones, timeframes and interval units (keen-semantics §4–5).

use chrono::{DateTime, FixedOffset, Offset, TimeZone as _, Utc};

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
