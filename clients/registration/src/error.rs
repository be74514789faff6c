//! The crate's error type.
//!
//! Two families, kept apart on purpose: [`Error`] is what this crate's own steps can get wrong
//! (an applicant folder that cannot be read, the durable store, an adjudication decision that
//! breaks a rule), while [`crate::DedupError`] classifies what the de-dup *service* answered
//! (retry later, or refused for good). A service error never surfaces as an [`Error`] from
//! [`crate::Registrar::register`]: it becomes a recorded `Failed` outcome instead.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in registration and adjudication (besides the service's answers).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file named by an applicant manifest (or the manifest itself) cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("manifest {path}: {source}")]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A template file or manifest field is wrong: a corrupt finger record, an iris code of the
    /// wrong size, a face file that is not whole little-endian f32 values, a repeated position.
    #[error("applicant {packet_id}: {reason}")]
    InvalidApplicant {
        /// The packet concerned (empty when the manifest names none).
        packet_id: String,
        /// What is wrong.
        reason: String,
    },
    /// The registration store failed (RocksDB).
    #[error("registration store: {0}")]
    Store(#[from] rocksdb::Error),
    /// A stored value failed to decode: the store is corrupt or of an unknown format version.
    #[error("registration store corrupt at {key}: {reason}")]
    DataCorruption {
        /// The key whose value is bad.
        key: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// No packet with this id is known to the store.
    #[error("unknown packet {0}")]
    UnknownPacket(String),
    /// No adjudication case with this id.
    #[error("unknown adjudication case {0}")]
    UnknownCase(String),
    /// A decision the case does not allow (a reference id that is not among its candidates, a
    /// "different people" verdict on an incomplete search, a decision on a superseded case).
    #[error("case {case_id}: {reason}")]
    DecisionNotAllowed {
        /// The case.
        case_id: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The case was already decided differently; decisions are final.
    #[error("case {case_id} was already decided: {existing}")]
    AlreadyDecided {
        /// The case.
        case_id: String,
        /// The decision on record.
        existing: String,
    },
    /// A packet that already has a verdict was registered again with other biometrics.
    #[error("packet {0} already has a verdict for other biometrics")]
    PacketContentChanged(String),
    /// The registrar was given two applicants with the same packet id in one call.
    #[error("packet {0} appears twice in one registration")]
    DuplicatePacket(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn applicant(packet_id: &str, reason: impl Into<String>) -> Self {
        Self::InvalidApplicant {
            packet_id: packet_id.to_owned(),
            reason: reason.into(),
        }
    }

    /// True when the caller's input is at fault (fix it and call again); false for a failure
    /// of the store (an operator's problem).
    pub fn is_user_fault(&self) -> bool {
        !matches!(self, Self::Store(_) | Self::DataCorruption { .. })
    }
}
