//! The query crate's error type: a Keen error code plus a message that names
//! the offending field or limit (keen-semantics §7).

use std::fmt;

/// Keen error codes a query can produce (keen-semantics §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryErrorCode {
    /// Timeframe missing, malformed, or start ≥ end.
    TimeframeDefinitionError,
    /// `within` on a property other than `keen.location.coordinates`.
    InvalidPropertyNameForGeoFilter,
    /// A malformed filter (§3.1).
    FilterDefinitionError,
    /// A required parameter is absent.
    MissingParameterError,
    /// A parameter is present but invalid.
    InvalidParameterError,
    /// Too many groups, buckets, extracted events, or too much memory.
    LimitExceededError,
    /// The query ran past its time limit.
    QueryTimeoutError,
    /// A resource the query names does not exist.
    ResourceNotFoundError,
}

impl QueryErrorCode {
    /// Keen's name of the code, as it appears in `error_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryErrorCode::TimeframeDefinitionError => "TimeframeDefinitionError",
            QueryErrorCode::InvalidPropertyNameForGeoFilter => "InvalidPropertyNameForGeoFilter",
            QueryErrorCode::FilterDefinitionError => "FilterDefinitionError",
            QueryErrorCode::MissingParameterError => "MissingParameterError",
            QueryErrorCode::InvalidParameterError => "InvalidParameterError",
            QueryErrorCode::LimitExceededError => "LimitExceededError",
            QueryErrorCode::QueryTimeoutError => "QueryTimeoutError",
            QueryErrorCode::ResourceNotFoundError => "ResourceNotFoundError",
        }
    }
}

impl fmt::Display for QueryErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query error: Keen's code and a message naming the field or limit
/// (for example `filters[1].operator: unknown operator "equals"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct QueryError {
    /// Keen's error code.
    pub code: QueryErrorCode,
    /// Human-readable explanation naming the field or limit.
    pub message: String,
}

impl QueryError {
    /// An error with `code` and `message`.
    pub fn new(code: QueryErrorCode, message: impl Into<String>) -> Self {
        QueryError { code, message: message.into() }
    }

    /// `MissingParameterError` naming `field`.
    pub fn missing(field: &str) -> Self {
        QueryError::new(
            QueryErrorCode::MissingParameterError,
            format!("{field}: required parameter is missing"),
        )
    }

    /// `InvalidParameterError` for `field`.
    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        QueryError::new(QueryErrorCode::InvalidParameterError, format!("{field}: {why}"))
    }

    /// `FilterDefinitionError` for `field`.
    pub fn filter(field: &str, why: impl fmt::Display) -> Self {
        QueryError::new(QueryErrorCode::FilterDefinitionError, format!("{field}: {why}"))
    }

    /// `TimeframeDefinitionError` for `field`.
    pub fn timeframe(field: &str, why: impl fmt::Display) -> Self {
        QueryError::new(QueryErrorCode::TimeframeDefinitionError, format!("{field}: {why}"))
    }

    /// `LimitExceededError` naming the limit.
    pub fn limit(what: impl fmt::Display) -> Self {
        QueryError::new(QueryErrorCode::LimitExceededError, what.to_string())
    }
}

/// Result alias of the query crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// When a query must stop: checked before each segment's work, so a query
/// overruns its limit by at most one segment (≤ 1,048,576 rows) per
/// thread; past it the query fails with `QueryTimeoutError`
/// (keen-semantics §7.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline(Option<(std::time::Instant, std::time::Duration)>);

impl Deadline {
    /// No limit.
    pub fn none() -> Deadline {
        Deadline(None)
    }

    /// `limit` from now.
    pub fn after(limit: std::time::Duration) -> Deadline {
        let now = std::time::Instant::now();
        Deadline(Some((
            now.checked_add(limit).unwrap_or(now + std::time::Duration::from_secs(86_400 * 365)),
            limit,
        )))
    }

    /// `Err(QueryTimeoutError)` once the deadline has passed.
    pub fn check(&self) -> Result<()> {
        match self.0 {
            Some((at, limit)) if std::time::Instant::now() >= at => Err(QueryError::new(
                QueryErrorCode::QueryTimeoutError,
                format!("query ran past the time limit of {} s", limit.as_secs_f64()),
            )),
            _ => Ok(()),
        }
    }
}
