//! # tally-query: Keen analyses over indexed segments
//!
//! ## Data flow
//!
//! ```text
//! Keen query JSON ──parse──▶ Query (model.rs: typed, validated)
//!      ──resolve (time.rs: clock, timezone)──▶ time range, buckets
//!      ──exec: per segment in parallel (rayon)──▶ filter bitmaps ──▶ partial states
//!      ──merge (associative)──▶ render ──▶ Keen result JSON
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod exec;
pub mod extract;
pub mod model;
pub mod parse;
pub mod render;
pub mod run;
pub mod time;

pub use error::{QueryError, QueryErrorCode, Result};
pub use model::*;
pub use parse::{parse_analysis, parse_query, parse_query_str};
pub use run::{execute, extract_events, Response, SnapshotSource};
pub use time::{TimeRange, TimeUnit, TimeZone, Timeframe};
