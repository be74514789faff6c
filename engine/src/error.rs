//! The one error type of the engine, and the split between caller faults and service faults.

use abis_matchers::MatchError;

/// Everything the engine refuses or fails at.
///
/// Callers (the CLI, the gRPC servers) map these to exit codes or status codes in one place; use
/// [`EngineError::is_user_fault`] to tell "fix your request" from "the service is unhealthy".
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A reference id that is empty or longer than [`crate::MAX_REFERENCE_ID_BYTES`].
    #[error("invalid reference id: {0}")]
    InvalidReferenceId(String),
    /// A template the gallery cannot hold: wrong length, wrong dimension, NaN, duplicate position.
    #[error("invalid template ({modality}): {reason}")]
    InvalidTemplate {
        /// Which template ("iris left", "face", "finger 3", ...).
        modality: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request that is malformed as a whole (no templates, k = 0, FPIR out of range, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The reference id is enrolled with different content; inserts are idempotent only for
    /// identical content.
    #[error("reference id {0:?} already exists with different content")]
    AlreadyExists(String),
    /// The reference id is not enrolled (or was deleted).
    #[error("reference id {0:?} not found")]
    NotFound(String),
    /// The data directory is unusable: not a directory, not an abis gallery, created with
    /// another configuration.
    #[error("bad data directory {path}: {reason}")]
    BadDataDir {
        /// The directory.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Stored data failed a checksum or consistency check and could not be repaired.
    #[error("data corruption in {what}: {detail}")]
    DataCorruption {
        /// Which file or key space.
        what: String,
        /// What was found.
        detail: String,
    },
    /// The search was stopped because whoever asked for it went away (a deadline passed, the
    /// connection closed).
    #[error("search cancelled: the caller gave up")]
    Cancelled,
    /// RocksDB failed.
    #[error("storage error: {0}")]
    Storage(#[from] rocksdb::Error),
    /// File I/O failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl EngineError {
    /// True when the request was at fault (a client should fix it, retrying will not help);
    /// false when the service failed (retry later, page an operator).
    pub fn is_user_fault(&self) -> bool {
        matches!(
            self,
            Self::InvalidReferenceId(_)
                | Self::InvalidTemplate { .. }
                | Self::InvalidRequest(_)
                | Self::AlreadyExists(_)
                | Self::NotFound(_)
                | Self::BadDataDir { .. }
        )
    }

    pub(crate) fn template(modality: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::InvalidTemplate {
            modality: modality.into(),
            reason: err.to_string(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn corruption(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::DataCorruption {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl From<(&'static str, MatchError)> for EngineError {
    fn from((modality, err): (&'static str, MatchError)) -> Self {
        Self::template(modality, err)
    }
}

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
