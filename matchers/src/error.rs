//! The one error type of this crate.

/// What a kernel refuses. Every variant is a caller fault: kernels do no I/O.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatchError {
    /// An iris layout that cannot describe a code (zero size, or not a whole number of 64-bit words).
    #[error("invalid iris layout {rows}x{cols}x{bits_per_cell}: {reason}")]
    InvalidIrisLayout {
        /// Rows (radial bands).
        rows: u32,
        /// Columns (angular samples); rotation shifts these.
        cols: u32,
        /// Bits per cell.
        bits_per_cell: u32,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A code or mask whose length does not match the layout.
    #[error("{what} is {actual} bytes, the layout needs {expected}")]
    WrongLength {
        /// Which buffer ("iris code", "iris mask", "embedding", ...).
        what: &'static str,
        /// Bytes or elements expected.
        expected: usize,
        /// Bytes or elements given.
        actual: usize,
    },
    /// An embedding with a NaN or infinite component.
    #[error("embedding component {index} is not finite ({value})")]
    NonFinite {
        /// Index of the first bad component.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// An embedding of (near) zero norm, which cannot be normalised.
    #[error("embedding has zero norm")]
    ZeroNorm,
    /// A rotation search that does not make sense for the layout.
    #[error("invalid rotation search: {0}")]
    InvalidRotation(&'static str),
    /// A finger minutiae record that cannot be read, or a record that cannot be written, in an
    /// interchange format.
    #[error("{format} record, byte {offset}: {kind}")]
    Format {
        /// The format being read or written ("ISO 19794-2:2005", ...).
        format: &'static str,
        /// Byte offset in the record where the fault was found.
        offset: usize,
        /// What is wrong.
        kind: crate::finger::format::FormatErrorKind,
    },
    /// A stored template whose bytes contradict themselves (a header that disagrees with its body).
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// Which template ("finger code", ...).
        what: &'static str,
        /// What is inconsistent.
        reason: &'static str,
    },
}

/// Result alias of this crate.
pub type Result<T, E = MatchError> = std::result::Result<T, E>;
