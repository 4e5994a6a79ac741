//! The typed, validated query model (keen-semantics §2–6).
//!
//! the `parse` module builds these values from Keen query JSON; the executor
//! (the `exec` module) runs them. Every value here is already validated:
//! ranges are in bounds, regexes compiled, filter values coerced by
//! `property_type`, and the defaults of the spec filled in.

use std::cmp::Ordering;

use regex::Regex;

use crate::time::{TimeZone, Timeframe};

/// A number in Keen's value space: integers in i64 are kept exact; `42`
/// and `42.0` are the same number, so a float with an integral value that
/// fits in i64 is always stored as `Int` (use [`Number::from_f64`]).
#[derive(Debug, Clone, Copy)]
pub enum Number {
    /// An integer.
    Int(i64),
    /// A non-integral (or out of i64 range) finite float.
    Float(f64),
}

impl Number {
    /// The canonical number for `f` (integral values in i64 become `Int`).
    pub fn from_f64(f: f64) -> Number {
        if f.fract() == 0.0
            && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
        {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }

    /// The value as f64 (integers beyond 2^53 round).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    /// Numeric comparison, exact between integers.
    pub fn cmp_num(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.cmp_num(*other) == Ordering::Equal
    }
}

/// A primitive or list value: a filter operand, a group value, a
/// select_unique element. Type-strict: values of different variants are
/// never equal.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A number.
    Num(Number),
    /// A string (not a datetime).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A datetime, UTC milliseconds.
    Datetime(i64),
    /// A list of primitives (elements are never lists).
    List(Vec<Scalar>),
    /// `null` (also stands for a missing value).
    Null,
}

impl Scalar {
    /// Rank of the variant in the canonical order of keen-semantics §0:
    /// num < string < list < bool < datetime < null.
    pub fn type_rank(&self) -> u8 {
        match self {
            Scalar::Num(_) => 0,
            Scalar::Str(_) => 1,
            Scalar::List(_) => 2,
            Scalar::Bool(_) => 3,
            Scalar::Datetime(_) => 4,
            Scalar::Null => 5,
        }
    }

    /// The canonical order of keen-semantics §0 (a total order).
    pub fn canonical_cmp(&self, other: &Scalar) -> Ordering {
        match (self, other) {
            (Scalar::Num(a), Scalar::Num(b)) => a.cmp_num(*b),
            (Scalar::Str(a), Scalar::Str(b)) => a.cmp(b),
            (Scalar::List(a), Scalar::List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let o = x.canonical_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
            (Scalar::Datetime(a), Scalar::Datetime(b)) => a.cmp(b),
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

/// A filter operand: the value as given (after `property_type` coercion)
/// and, when it is a string that parses as an ISO-8601 date-time (zone
/// optional, UTC if absent), the instant it compares as against stored
/// `datetime` values (keen-semantics §3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// The value.
    pub value: Scalar,
    /// The instant, for strings that parse as date-times.
    pub as_datetime: Option<i64>,
}

/// Comparison operators of keen-semantics §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
    /// `gt`
    Gt,
    /// `gte`
    Gte,
}

/// One validated filter (keen-semantics §3). All filters of a query are
/// ANDed.
#[derive(Debug, Clone)]
pub enum Filter {
    /// `eq`, `ne`, `lt`, `lte`, `gt`, `gte`. An `eq`/`ne` operand may be a
    /// `Scalar::List` (element-for-element list equality) or `Null`.
    Cmp {
        /// Dotted property path.
        property: String,
        /// The operator.
        op: CmpOp,
        /// The operand.
        operand: Operand,
    },
    /// `exists: true/false`.
    Exists {
        /// Dotted property path.
        property: String,
        /// `true` ⇔ present and not null.
        exists: bool,
    },
    /// `in` a non-empty list of primitives (may contain `Null`).
    In {
        /// Dotted property path.
        property: String,
        /// The members.
        operands: Vec<Operand>,
    },
    /// `contains` (`negated == false`) or `not_contains`.
    Contains {
        /// Dotted property path.
        property: String,
        /// The primitive operand.
        operand: Operand,
        /// `not_contains`.
        negated: bool,
    },
    /// `regex`: unanchored search on string values.
    Regex {
        /// Dotted property path.
        property: String,
        /// The compiled pattern.
        regex: Regex,
    },
    /// `within`: great-circle distance from `keen.location.coordinates`.
    Within {
        /// Longitude of the centre.
        lon: f64,
        /// Latitude of the centre.
        lat: f64,
        /// Maximum distance in miles.
        max_distance_miles: f64,
    },
    /// `or`: any of the sub-filters.
    Or(Vec<Filter>),
}

/// The analyses of keen-semantics §2.2 that a simple query or a
/// multi-analysis member can run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnalysisKind {
    /// `count`
    Count,
    /// `count_unique`
    CountUnique,
    /// `minimum`
    Minimum,
    /// `maximum`
    Maximum,
    /// `sum`
    Sum,
    /// `average`
    Average,
    /// `median`
    Median,
    /// `percentile` with p in (0, 100].
    Percentile(f64),
    /// `select_unique`
    SelectUnique,
    /// `standard_deviation` (population form).
    StandardDeviation,
}

impl AnalysisKind {
    /// Every kind once, in the spec's order (§2.2). `Percentile` carries a
    /// placeholder `p` (50): only the kind is meant.
    ///
    /// ```
    /// use tally_query::AnalysisKind;
    /// let names: Vec<&str> = AnalysisKind::ALL.iter().map(|k| k.name()).collect();
    /// assert_eq!(names[..3], ["count", "count_unique", "minimum"]);
    /// assert_eq!(names.len(), 10);
    /// ```
    pub const ALL: &'static [AnalysisKind] = &[
        AnalysisKind::Count,
        AnalysisKind::CountUnique,
        AnalysisKind::Minimum,
        AnalysisKind::Maximum,
        AnalysisKind::Sum,
        AnalysisKind::Average,
        AnalysisKind::Median,
        AnalysisKind::Percentile(50.0),
        AnalysisKind::SelectUnique,
        AnalysisKind::StandardDeviation,
    ];

    /// Keen's `analysis_type` name.
    pub fn name(self) -> &'static str {
        match self {
            AnalysisKind::Count => "count",
            AnalysisKind::CountUnique => "count_unique",
            AnalysisKind::Minimum => "minimum",
            AnalysisKind::Maximum => "maximum",
            AnalysisKind::Sum => "sum",
            AnalysisKind::Average => "average",
            AnalysisKind::Median => "median",
            AnalysisKind::Percentile(_) => "percentile",
            AnalysisKind::SelectUnique => "select_unique",
            AnalysisKind::StandardDeviation => "standard_deviation",
        }
    }
}

/// One analysis: its kind and target property (`None` only for count).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// What to compute.
    pub kind: AnalysisKind,
    /// The property it reads (`None` for count).
    pub target_property: Option<String>,
}

/// One `group_by` element (keen-semantics §6.1–6.2).
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// Group by the value of a property path.
    Property(String),
    /// Numeric buckets `[offset + k·size, offset + (k+1)·size)`.
    Buckets {
        /// Dotted property path.
        property: String,
        /// Bucket width, > 0.
        size: f64,
        /// Offset, default 0.
        offset: f64,
    },
    /// Explicit ranges, `from` inclusive, `to` exclusive, either open.
    Ranges {
        /// Dotted property path.
        property: String,
        /// The ranges, in the order given.
        ranges: Vec<(Option<f64>, Option<f64>)>,
    },
}

impl GroupBy {
    /// The property path the element reads (also its key in results).
    pub fn property(&self) -> &str {
        match self {
            GroupBy::Property(p) => p,
            GroupBy::Buckets { property, .. } | GroupBy::Ranges { property, .. } => property,
        }
    }
}

/// One `order_by` element (keen-semantics §6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// `"result"`, a group_by path, or (multi_analysis) a label.
    pub property: String,
    /// `DESC`.
    pub descending: bool,
}

/// A time interval (keen-semantics §5): `every_N_unit`, or a named one
/// (`daily` = N 1, day, `calendar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// N ≥ 1.
    pub n: u32,
    /// The unit.
    pub unit: crate::time::TimeUnit,
    /// A named interval (`hourly`, `daily`, ...): buckets split at the
    /// calendar boundaries of the query timezone. `every_N_unit` (also with
    /// N = 1) steps from the timeframe start instead (§5.2).
    pub calendar: bool,
}

impl Interval {
    /// `every_N_unit`.
    pub fn every(n: u32, unit: crate::time::TimeUnit) -> Interval {
        Interval { n, unit, calendar: false }
    }

    /// The named interval of `unit` (`daily` for days, ...).
    pub fn named(unit: crate::time::TimeUnit) -> Interval {
        Interval { n: 1, unit, calendar: true }
    }
}

/// The parameters every analysis query shares (keen-semantics §2.1).
#[derive(Debug, Clone)]
pub struct Common {
    /// `event_collection`.
    pub event_collection: String,
    /// `timeframe` (resolved against the clock at run time).
    pub timeframe: Timeframe,
    /// `timezone` (default UTC).
    pub timezone: TimeZone,
    /// `filters`, ANDed.
    pub filters: Vec<Filter>,
    /// `interval`.
    pub interval: Option<Interval>,
    /// `group_by` (empty = none), 1–10 elements when present.
    pub group_by: Vec<GroupBy>,
    /// `order_by` (empty = none; requires group_by).
    pub order_by: Vec<OrderBy>,
    /// `limit` (requires order_by), ≥ 1.
    pub limit: Option<u64>,
    /// `max_age` seconds, 30 < max_age ≤ 129,600.
    pub max_age: Option<u32>,
    /// `include_metadata`.
    pub include_metadata: bool,
}

/// One funnel step (keen-semantics §2.5), with defaults filled in.
#[derive(Debug, Clone)]
pub struct FunnelStep {
    /// `event_collection`.
    pub event_collection: String,
    /// `actor_property`.
    pub actor_property: String,
    /// The step's timeframe (its own, else the funnel's).
    pub timeframe: Timeframe,
    /// The step's timezone (its own, else the funnel's, else UTC).
    pub timezone: TimeZone,
    /// `filters`.
    pub filters: Vec<Filter>,
    /// `optional`.
    pub optional: bool,
    /// `inverted`.
    pub inverted: bool,
    /// `with_actors`.
    pub with_actors: bool,
    /// The step as the response echoes it: as given, every field present
    /// (`timezone` "UTC", `filters` [], `optional`/`inverted`/`with_actors`
    /// false where absent).
    pub echo: serde_json::Value,
}

/// A funnel (keen-semantics §2.5): 1–25 steps.
#[derive(Debug, Clone)]
pub struct Funnel {
    /// The steps.
    pub steps: Vec<FunnelStep>,
    /// `include_metadata`.
    pub include_metadata: bool,
}

/// An extraction (keen-semantics §9.5).
#[derive(Debug, Clone)]
pub struct Extraction {
    /// `event_collection`.
    pub event_collection: String,
    /// `timeframe`.
    pub timeframe: Timeframe,
    /// `timezone`.
    pub timezone: TimeZone,
    /// `filters`.
    pub filters: Vec<Filter>,
    /// `latest`: only the N most recent matching events.
    pub latest: Option<u64>,
    /// `property_names`: only these leaf paths.
    pub property_names: Option<Vec<String>>,
    /// `content_type: "text/csv"`.
    pub csv: bool,
    /// `email` (asynchronous extraction to a sink).
    pub email: Option<String>,
    /// `include_metadata`.
    pub include_metadata: bool,
}

/// A validated query (keen-semantics §2).
#[derive(Debug, Clone)]
pub enum Query {
    /// One analysis with the common parameters.
    Analysis {
        /// The analysis.
        analysis: Analysis,
        /// The common parameters.
        common: Common,
    },
    /// `multi_analysis`: labelled analyses sharing the common parameters,
    /// labels in the order given.
    Multi {
        /// Label → analysis, in request order.
        analyses: Vec<(String, Analysis)>,
        /// The common parameters.
        common: Common,
    },
    /// `funnel`.
    Funnel(Funnel),
    /// `extraction`.
    Extraction(Extraction),
}
