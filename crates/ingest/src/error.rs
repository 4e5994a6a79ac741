//! The ingest crate's error type and Keen's error codes.

use std::fmt;
use std::path::PathBuf;

/// Keen's named error codes (keen-semantics §7.2) that ingest can produce.
///
/// The facade maps every error onto one of these; `as_str` is the exact
/// `error_code` string Keen clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Event not a JSON object, too large, too deep, too many properties.
    InvalidEvent,
    /// Malformed batch or batch over its limits.
    InvalidBatch,
    /// Collection name breaks §1.4.
    InvalidCollectionName,
    /// Property name breaks §1.4.
    InvalidPropertyName,
    /// Value breaks §1.5, or a bad `keen.timestamp` / `keen.location`.
    InvalidPropertyValue,
    /// A list holding an object or another list.
    ListsOfNonPrimitivesNotAllowed,
    /// Root `keen` is not an object.
    NamespaceType,
    /// Unknown member inside `keen`.
    InvalidKeenNamespaceProperty,
    /// Unknown collection or property on schema/delete endpoints.
    ResourceNotFound,
    /// A parameter present but invalid (an ingest option, say).
    InvalidParameter,
    /// An engine fault, never bad input.
    InternalServer,
}

impl ErrorCode {
    /// The `error_code` string of Keen's error body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidEvent => "InvalidEventError",
            ErrorCode::InvalidBatch => "InvalidBatchError",
            ErrorCode::InvalidCollectionName => "InvalidCollectionNameError",
            ErrorCode::InvalidPropertyName => "InvalidPropertyNameError",
            ErrorCode::InvalidPropertyValue => "InvalidPropertyValueError",
            ErrorCode::ListsOfNonPrimitivesNotAllowed => "ListsOfNonPrimitivesNotAllowedError",
            ErrorCode::NamespaceType => "NamespaceTypeError",
            ErrorCode::InvalidKeenNamespaceProperty => "InvalidKeenNamespaceProperty",
            ErrorCode::ResourceNotFound => "ResourceNotFoundError",
            ErrorCode::InvalidParameter => "InvalidParameterError",
            ErrorCode::InternalServer => "InternalServerError",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named limit of keen-semantics §1.5 / RELIABILITY §3c.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Serialized event size in bytes, as received.
    EventSize,
    /// Object nesting depth below the root.
    NestingDepth,
    /// Leaf properties per event after flattening.
    PropertyCount,
    /// Characters in a string value.
    StringLength,
    /// Characters in a property name.
    PropertyNameLength,
    /// Characters in a collection name.
    CollectionNameLength,
    /// Elements in one list.
    ArrayLength,
    /// Typed columns per collection.
    ColumnCount,
    /// Events per batch.
    BatchEvents,
    /// Bytes per batch payload.
    BatchBytes,
    /// Characters in a `keen.uniqueness_token`.
    UniquenessTokenLength,
}

impl Limit {
    /// The limit's name as it appears in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Limit::EventSize => "event size",
            Limit::NestingDepth => "nesting depth",
            Limit::PropertyCount => "property count",
            Limit::StringLength => "string length",
            Limit::PropertyNameLength => "property name length",
            Limit::CollectionNameLength => "collection name length",
            Limit::ArrayLength => "list length",
            Limit::ColumnCount => "columns per collection",
            Limit::BatchEvents => "events per batch",
            Limit::BatchBytes => "batch size",
            Limit::UniquenessTokenLength => "uniqueness token length",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong in the ingest crate.
///
/// Caller mistakes name the field or limit; corruption names the file;
/// internal faults say they are bugs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The event is not acceptable; `code` is Keen's error code.
    #[error("{message}")]
    InvalidEvent {
        /// Keen's error code for this rejection.
        code: ErrorCode,
        /// Lowercase message naming the property or rule.
        message: String,
    },
    /// An event or batch breaks a size limit.
    #[error("{what} breaks the {limit} limit ({actual} > {max})")]
    LimitExceeded {
        /// Keen's error code (InvalidEventError, InvalidPropertyValueError, InvalidBatchError …).
        code: ErrorCode,
        /// What broke it (`event`, `property "a.b"`, `batch`).
        what: String,
        /// Which limit.
        limit: Limit,
        /// The maximum allowed.
        max: usize,
        /// What was seen (may be a lower bound when parsing stopped early).
        actual: usize,
    },
    /// The collection name breaks §1.4.
    #[error("invalid collection name {name:?}: {reason}")]
    InvalidCollectionName {
        /// The rejected name (lossy, truncated to 300 chars).
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A whole batch request is malformed.
    #[error("invalid batch: {reason}")]
    InvalidBatch {
        /// Why.
        reason: String,
    },
    /// No such collection or property.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A file under the data directory is damaged.
    #[error("{} is corrupt: {reason}", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error on a named file.
    #[error("i/o error on {}: {source}", file.display())]
    Io {
        /// The file or directory.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A previous fsync failed; the collection refuses writes until reopened.
    #[error("collection {collection:?} is poisoned after a failed sync; reopen the engine")]
    Poisoned {
        /// The poisoned collection.
        collection: String,
    },
    /// The collection was deleted ([`crate::Collection::delete_collection`]);
    /// this handle refuses everything. A new collection of the same name is
    /// a different one: open it again.
    #[error("collection {collection:?} was deleted")]
    Deleted {
        /// The deleted collection.
        collection: String,
    },
    /// A Parquet encode/decode failure on a named file.
    #[error("parquet error on {}: {source}", file.display())]
    Parquet {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An invalid option passed by the caller.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The option.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// An internal invariant broke: this is a bug.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl IngestError {
    /// Keen's error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            IngestError::InvalidEvent { code, .. } => *code,
            IngestError::LimitExceeded { code, .. } => *code,
            IngestError::InvalidCollectionName { .. } => ErrorCode::InvalidCollectionName,
            IngestError::InvalidBatch { .. } => ErrorCode::InvalidBatch,
            IngestError::NotFound { .. } | IngestError::Deleted { .. } => {
                ErrorCode::ResourceNotFound
            }
            IngestError::InvalidParameter { .. } => ErrorCode::InvalidParameter,
            IngestError::Corrupt { .. }
            | IngestError::Io { .. }
            | IngestError::Poisoned { .. }
            | IngestError::Parquet { .. }
            | IngestError::Internal(_) => ErrorCode::InternalServer,
        }
    }

    /// Shorthand for an [`IngestError::InvalidEvent`].
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        IngestError::InvalidEvent { code, message: message.into() }
    }

    /// Shorthand for an [`IngestError::Io`] naming `file`.
    pub fn io(file: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngestError::Io { file: file.into(), source }
    }

    /// Shorthand for an [`IngestError::Corrupt`] naming `file`.
    pub fn corrupt(file: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        IngestError::Corrupt { file: file.into(), reason: reason.into() }
    }
}

/// The ingest crate's result alias.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
