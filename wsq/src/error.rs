//! The one error type of the crate.

/// What is wrong with a WSQ file. Every variant is a fault of the input (the decoder has no
/// I/O and no state), named precisely enough to tell a truncated file from a corrupt one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsqError {
    /// The file ends inside a marker, a segment or the entropy-coded data.
    #[error("truncated at offset {offset}: {what} runs past the end of the data")]
    Truncated {
        /// Byte offset at which the missing item starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// The file does not start with the SOI marker (0xFFA0).
    #[error("not a WSQ file: expected the SOI marker 0xFFA0 at offset 0")]
    NotWsq,
    /// A marker that is unknown or not allowed where it stands.
    #[error("unexpected marker {marker:#06x} at offset {offset}: expected {expected}")]
    UnexpectedMarker {
        /// Byte offset of the marker.
        offset: usize,
        /// The two marker bytes, big-endian.
        marker: u16,
        /// What was allowed there.
        expected: &'static str,
    },
    /// A table or header segment whose content breaks the specification.
    #[error("bad {segment} segment at offset {offset}: {reason}")]
    BadSegment {
        /// Byte offset of the segment's marker.
        offset: usize,
        /// The segment kind (SOF, DTT, DQT, DHT, DRT, SOB).
        segment: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A Huffman table that cannot be a prefix code, or a block naming an undefined table.
    #[error("bad Huffman table {table} at offset {offset}: {reason}")]
    BadHuffmanTable {
        /// Byte offset of the DHT or SOB segment concerned.
        offset: usize,
        /// The table id.
        table: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// Entropy-coded data that does not decode: an unassigned code, an invalid symbol, an
    /// escape cut by a marker, or more coefficients than the subbands hold.
    #[error("bad entropy-coded data at offset {offset}: {reason}")]
    BadEntropyData {
        /// Byte offset near which decoding failed.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A segment the decoder needs never came (no frame header, no transform table, ...).
    #[error("missing {0}")]
    Missing(&'static str),
    /// Valid WSQ syntax using something this decoder does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The frame header declares an image larger than the configured limit; refused before
    /// anything of that size is allocated.
    #[error("image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit in force ([`crate::DecodeOptions::max_pixels`]).
        max_pixels: u64,
    },
    /// The blocks carried another number of coefficients than the coded subbands hold.
    #[error("coefficient count: the coded subbands hold {expected}, the blocks carried {found}")]
    CoefficientCount {
        /// Sum of the areas of the subbands with a non-zero quantizer step.
        expected: usize,
        /// Coefficients decoded from all blocks.
        found: usize,
    },
}

/// Result with [`WsqError`].
pub type Result<T> = std::result::Result<T, WsqError>;
