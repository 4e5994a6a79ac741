//! # tally-query: Keen analyses over indexed segments
//!
//! ## Data flow
//!
//! ```text
//! Keen query JSON ──parse──▶ Query (model.rs: typed, validated)
//!      ──resolve (time.rs: clock, timezone)──▶ time range, buckets
//!      ──exec: per segment in parallel (rayon)──▶ filter bitmaps ──▶ partial states
//!      ──merge (associative)──▶ render ──▶ Keen result JSON (a tree, or text for group_by)
//! ```
//!
//! - [`parse`]: Keen query JSON → [`Query`], every rule of §2–6 and §9.5,
//!   errors with Keen's codes naming the field ([`QueryError`]).
//! - [`time`]: timezones (IANA via chrono-tz, offsets), relative
//!   timeframes resolved against an injected "now" (§4.3), interval
//!   buckets (§5.2), DST-correct.
//! - [`exec`]: per segment in parallel with rayon. A timeframe or bucket is
//!   a binary search on the time-sorted segment; filters become
//!   `RoaringBitmap`s (eq/in/ne/exists on string, bool and list columns are
//!   dictionary lookups plus bitmap unions; ranges are column scans);
//!   analyses fold into mergeable partial states keyed by collection-wide
//!   dictionary ids; median/percentile select, never sort everything.
//! - [`extract`]: extraction rows rebuilt as JSON or CSV (§9.5).
//! - [`run`]: [`execute`] ties them together for one query.
//! - [`render`]: Keen's number and value rendering (§0), as trees and as
//!   text. Answers with `group_by` are written straight to JSON text
//!   ([`Response::JsonText`]): one map per group cost more than the query
//!   at tens of thousands of groups. The text is byte for byte what
//!   serializing the tree gives; [`Response`] compares bodies as JSON and
//!   [`Response::json`] parses text on demand. Group lists are ordered by
//!   the string dictionary's cached sorted ids when they cover much of it.
//!
//! The engine is checked against a naive reference evaluator written from
//! the spec (`crates/tally/tests/query_reference.rs`) and golden answers
//! (`testdata/queries/`).
//!
//! ## Choices the spec leaves open
//!
//! Parser choices are listed in [`parse`]; these concern results:
//!
//! - `execution_metadata` (`include_metadata`): `total_processing_time`
//!   in seconds, `events_scanned` = events inside the timeframe before
//!   filters, `properties_per_event` = the paths the query reads (analyses)
//!   or the collection's paths (funnels, extractions).
//! - An integer sum beyond i64 prints as an f64 (JSON integers are i64).
//! - A list-valued funnel actor contributes each element, as count_unique
//!   does.
//! - `max_age` is accepted and validated; every answer is computed fresh
//!   (always within any `max_age`).
//! - Extractions: members in first-seen column order, `keen` first;
//!   `email` extractions go to the facade's sink (up to 10,000,000
//!   events), synchronous ones stop at 100,000 without `latest`.
#![deny(missing_docs)]

pub mod error;
pub mod exec;
pub mod extract;
pub mod model;
pub mod parse;
pub mod render;
pub mod run;
pub mod time;

pub use error::{Deadline, QueryError, QueryErrorCode, Result};
pub use model::*;
pub use parse::{parse_analysis, parse_filters, parse_query, parse_query_str};
pub use run::{
    execute, execute_until, extract_events, extract_events_until, matching_rows, Response,
    SnapshotSource,
};
pub use time::{TimeRange, TimeUnit, TimeZone, Timeframe};
