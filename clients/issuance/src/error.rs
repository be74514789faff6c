//! Errors of the issuance crate: one enum for issuance ([`IssuanceError`]), one for a rules
//! configuration that cannot be used ([`RulesError`]).
//!
//! A UIN that breaks a rule is not an error of this crate: [`crate::UinRules::validate`] returns
//! a [`crate::RuleViolation`], which is an answer, not a failure. User faults (a bad registration
//! id, a link that contradicts what is stored, rules that admit no UIN) are told apart from
//! service faults ([`IssuanceError::Storage`], [`IssuanceError::DataCorruption`]) by
//! [`IssuanceError::is_user_fault`].

use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = IssuanceError> = std::result::Result<T, E>;

/// A [`crate::UinRules`] configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RulesError {
    /// `length` below 2 (one body digit and the check digit) or above [`crate::MAX_UIN_LENGTH`].
    #[error("uin length {length} is out of range {min}..={max}")]
    Length {
        /// The configured length.
        length: usize,
        /// Smallest allowed length.
        min: usize,
        /// Largest allowed length.
        max: usize,
    },
    /// A `not-start-with` entry that is not a decimal digit.
    #[error("not-start-with entry {0} is not a decimal digit")]
    NotStartWithDigit(u8),
    /// `not-start-with` names all ten digits, so no UIN can start.
    #[error("not-start-with excludes every digit 0-9")]
    NoFirstDigit,
    /// `sequence-limit` of 1 would reject every UIN (every digit is a run of one).
    #[error("sequence limit 1 rejects every uin (use 0 to disable, or >= 2)")]
    SequenceLimitOne,
    /// A restricted number that is empty or holds a non-digit.
    #[error("restricted number {0:?} is not a non-empty string of digits")]
    RestrictedNumber(String),
}

/// Why an issuance call failed.
#[derive(Debug, Error)]
pub enum IssuanceError {
    /// The registration id is empty, longer than 64 bytes, or holds a control character.
    #[error("bad registration id {id:?}: {reason}")]
    BadRegistrationId {
        /// The id as given (truncated to 80 characters for display).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The rules configuration cannot be used.
    #[error("invalid uin rules: {0}")]
    Rules(#[from] RulesError),
    /// No candidate passed the rules in `tries` random draws: the rules admit (almost) no UIN.
    #[error("uin rules exhausted: no valid uin in {tries} random candidates")]
    RulesExhausted {
        /// Candidates drawn.
        tries: u32,
    },
    /// `tries` valid candidates in a row were already issued: the UIN space of these rules is
    /// (nearly) used up.
    #[error("uin space exhausted: {tries} valid candidates in a row were already issued")]
    SpaceExhausted {
        /// Valid candidates drawn, all already issued.
        tries: u32,
    },
    /// `link` names an existing registration that has no UIN.
    #[error("registration {0:?} has no uin to link to")]
    NoUinToLink(String),
    /// `link` would give a registration that already has a UIN a different one.
    #[error(
        "registration {registration_id:?} already has uin {has}, cannot link it to uin {wanted}"
    )]
    LinkConflict {
        /// The registration being linked.
        registration_id: String,
        /// The UIN it already has.
        has: String,
        /// The UIN of the existing registration it was to be linked to.
        wanted: String,
    },
    /// RocksDB failed (I/O, lock held by another process, ...).
    #[error("issuance storage: {0}")]
    Storage(#[from] rocksdb::Error),
    /// The store holds something this version cannot read.
    #[error("issuance store corrupt: {0}")]
    DataCorruption(String),
}

impl IssuanceError {
    /// Whether the caller's input caused the error (as opposed to the service or its storage).
    pub fn is_user_fault(&self) -> bool {
        matches!(
            self,
            Self::BadRegistrationId { .. }
                | Self::Rules(_)
                | Self::RulesExhausted { .. }
                | Self::NoUinToLink(_)
                | Self::LinkConflict { .. }
        )
    }
}
