//! The facade's error: one variant per kind of failure, each mapping onto
//! exactly one Keen `error_code` (keen-semantics §7).

use tally_ingest::{ErrorCode, IngestError};

/// Everything a [`crate::Engine`] or [`crate::Project`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An ingest-side error (bad event, limit, storage, corruption).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// An invalid query, or a query that hit a limit (keen-semantics §7).
    #[error(transparent)]
    Query(#[from] tally_query::QueryError),
    /// No key, an unknown key, a revoked key, or a key not allowed to do this.
    #[error("invalid api key")]
    InvalidApiKey,
    /// A non-master key on a master-only operation.
    #[error("this operation needs the project's master key")]
    AdminOnly,
    /// An unknown project, collection or property.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A parameter present but invalid.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        /// Why.
        reason: String,
    },
    /// A malformed batch request.
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// An I/O error outside the ingest crate (project files, input files).
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A damaged project file.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Keen's `error_code` for this error.
    pub fn error_code(&self) -> &'static str {
        match self {
            Error::Ingest(e) => e.code().as_str(),
            Error::Query(e) => e.code.as_str(),
            Error::InvalidApiKey => "InvalidApiKeyError",
            Error::AdminOnly => "AdminOnlyEndpointError",
            Error::NotFound { .. } => ErrorCode::ResourceNotFound.as_str(),
            Error::InvalidParameter { .. } => ErrorCode::InvalidParameter.as_str(),
            Error::InvalidBatch(_) => ErrorCode::InvalidBatch.as_str(),
            Error::Io { .. } | Error::Corrupt { .. } => ErrorCode::InternalServer.as_str(),
        }
    }

    /// Keen's error body: `{"message": ..., "error_code": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"message": self.to_string(), "error_code": self.error_code()})
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io { path: path.display().to_string(), source }
    }
}

impl From<tally_keys::KeysError> for Error {
    fn from(e: tally_keys::KeysError) -> Self {
        use tally_keys::KeysError as K;
        match e {
            K::InvalidApiKey => Error::InvalidApiKey,
            K::AdminOnly => Error::AdminOnly,
            K::InvalidParameter { name, reason } => Error::InvalidParameter { name, reason },
            other => Error::Io {
                path: "os random source".into(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

/// The facade's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
