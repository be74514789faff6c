//! What can be wrong with a minutiae record, as data.
//!
//! The crate has one error type, [`MatchError`](crate::MatchError); format faults are its
//! `Format { format, offset, kind }` variant, and `kind` is this enum so callers and tests can
//! match on the fault instead of parsing a message. `offset` is the byte offset in the record
//! (being read or written) where the fault was found.

/// The fault inside a [`MatchError::Format`](crate::MatchError::Format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatErrorKind {
    /// The first four bytes are not the format identifier `"FMR\0"`.
    #[error("format identifier \"{}\" is not \"FMR\\0\"", found.escape_ascii())]
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// A version other than `" 20\0"` (ISO 2005 / ANSI 2004) or `"030\0"` (ISO 2011).
    #[error("unknown version \"{}\"", found.escape_ascii())]
    UnknownVersion {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The record ends before a field that its structure announces.
    #[error("truncated: {needed} bytes needed, {available} left")]
    Truncated {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// Bytes after the last finger view that are not zero padding.
    #[error("{bytes} bytes after the last finger view are not zero padding")]
    TrailingData {
        /// How many bytes follow the structural end of the record.
        bytes: usize,
    },
    /// A minutia with the reserved type bits `0b11`.
    #[error("minutia type bits 0b11 are reserved")]
    ReservedMinutiaType,
    /// A field whose value the format does not allow.
    #[error("invalid {field}: {value}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// Extended data whose areas do not tile the extended data block.
    #[error("malformed extended data: {0}")]
    ExtendedData(&'static str),
    /// ISO 2011 finger representations with different image geometry, which a
    /// [`MinutiaeRecord`](super::MinutiaeRecord) (one canvas per record) cannot hold.
    #[error("finger representations disagree on {0}")]
    InconsistentViews(&'static str),
    /// Writing: a value that does not fit its field in the target format.
    #[error("{field} = {value} does not fit the format (max {max})")]
    Unrepresentable {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The largest value the field holds.
        max: u64,
    },
}
