//! The keys crate's error.

/// Why a key, a key definition or a request under a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// No key, an unknown key, a revoked key, or a key without the
    /// permission (Keen's `InvalidApiKeyError`). Its message never says
    /// which, so an unknown and a revoked key read the same.
    #[error("invalid api key")]
    InvalidApiKey,
    /// A non-master key on a master-only operation (Keen's
    /// `AdminOnlyEndpointError`).
    #[error("this operation needs the project's master key")]
    AdminOnly,
    /// An access-key definition member that is present but invalid.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The member, as a dotted path (`options.queries.filters`).
        name: String,
        /// Why.
        reason: String,
    },
    /// The OS random source failed.
    #[error("the os random source failed: {0}")]
    Random(String),
}

impl KeysError {
    /// An [`KeysError::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> KeysError {
        KeysError::InvalidParameter { name: name.into(), reason: reason.into() }
    }
}

/// The keys crate's result alias.
pub type Result<T, E = KeysError> = std::result::Result<T, E>;
