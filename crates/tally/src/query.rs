//! Queries on a project (keen-semantics §2–6, §9.5): every acknowledged
//! event is visible, sealed or still in the head.

use serde_json::Value;
use tally_query::{parse_query, Query, Response};

use crate::error::Result;
use crate::project::Project;

impl Project {
    /// Runs a validated query, "now" read once from the engine's clock.
    pub fn query(&self, query: &Query) -> Result<Response> {
        self.query_at(query, self.now_ms())
    }

    /// Runs a validated query with "now" = `now_ms` (Unix ms) for relative
    /// timeframes.
    pub fn query_at(&self, query: &Query, now_ms: i64) -> Result<Response> {
        let source = |c: &str| self.snapshot(c);
        Ok(tally_query::execute(query, now_ms, &source)?)
    }

    /// Parses and runs a Keen query body: the POST body of keen-semantics
    /// §2 plus an `analysis_type` member.
    pub fn query_json(&self, body: &Value) -> Result<Response> {
        self.query_json_at(body, self.now_ms())
    }

    /// [`Project::query_json`] with "now" = `now_ms`.
    pub fn query_json_at(&self, body: &Value, now_ms: i64) -> Result<Response> {
        let q = parse_query(body)?;
        self.query_at(&q, now_ms)
    }
}
