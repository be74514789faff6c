//! The one error type of this crate: why a message cannot become an engine value.
//!
//! Conversions from the wire refuse rather than guess: a missing required field, an enum value
//! this version does not know, a finger record that does not parse or a value that does not fit
//! are each a typed [`ProtoError`]. All of them are the caller's fault and become
//! `INVALID_ARGUMENT` ([`crate::status`]).

use abis_matchers::MatchError;

/// Why a protobuf message cannot be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtoError {
    /// A required field is absent (or empty).
    #[error("missing required field {field}")]
    MissingField {
        /// The field's path in the request, e.g. `record.fingers[2].template`.
        field: String,
    },
    /// A reference id (or job id) the engine refuses.
    #[error("invalid reference id: {reason}")]
    InvalidReferenceId {
        /// Why.
        reason: String,
    },
    /// An enum field holds `*_UNSPECIFIED` or a value this version does not know.
    #[error("field {field}: enum value {value} is unspecified or unknown")]
    InvalidEnum {
        /// The field's path.
        field: String,
        /// The value received.
        value: i32,
    },
    /// A finger position outside 1..=10.
    #[error("finger position {position} outside 1..=10")]
    InvalidFingerPosition {
        /// The position received.
        position: u32,
    },
    /// ISO/ANSI finger bytes that do not parse.
    #[error("finger {position}: bad finger minutiae record: {source}")]
    BadFingerRecord {
        /// The message's finger position.
        position: u8,
        /// The parser's error.
        source: MatchError,
    },
    /// A finger record with no finger view.
    #[error("finger {position}: the finger minutiae record has no finger view")]
    NoFingerView {
        /// The message's finger position.
        position: u8,
    },
    /// A finger record whose first view names another finger.
    #[error("finger {position}: the record's view is for finger position {record_position}")]
    FingerPositionMismatch {
        /// The message's finger position.
        position: u8,
        /// The position the record's first view states.
        record_position: u8,
    },
    /// An image where only templates are taken: images are extracted by the service that
    /// receives them from clients (coordinator, `abis serve`), never by a shard node.
    #[error(
        "{of}: an image reached a service that takes templates only; send images to the \
         coordinator or `abis serve`, which extract them"
    )]
    ImageNotExtracted {
        /// Whose image.
        of: ImageOf,
    },
    /// An image that gives no template: it cannot be read, states no usable resolution, holds
    /// no view for the finger or eye, or the extractor found nothing usable in it (too few
    /// minutiae, no pupil, no face, a capture under the quality gate).
    #[error("{of}: bad image: {reason}")]
    BadImage {
        /// Whose image.
        of: ImageOf,
        /// Why, as the image reader or extractor said it.
        reason: String,
    },
    /// An iris or face carrying both an image and a template: which one was meant is unknown.
    #[error("{of}: both an image and a template; send one")]
    ImageAndTemplate {
        /// Whose image.
        of: ImageOf,
    },
    /// A minutia value out of its range (x or y above 16383, also after scaling to 500 ppi;
    /// angle above 255; quality above 100).
    #[error("finger {position}, minutia {index}: {field} = {value} out of range")]
    MinutiaOutOfRange {
        /// The finger position.
        position: u8,
        /// The minutia's index in the template.
        index: usize,
        /// Which value (`x`, `y`, `angle`, `quality`).
        field: &'static str,
        /// The value, at 500 ppi.
        value: u64,
    },
    /// An iris layout that cannot describe a code, or a code / mask not of the layout's size.
    #[error("iris {eye}: {source}")]
    BadIris {
        /// `left` or `right`.
        eye: &'static str,
        /// What the layout check found.
        source: MatchError,
    },
    /// An iris in a layout other than the gallery's.
    #[error(
        "iris {eye}: layout {found:?} (rows, cols, bits per cell) differs from the gallery's {expected:?}"
    )]
    IrisLayoutMismatch {
        /// `left` or `right`.
        eye: &'static str,
        /// The gallery's layout.
        expected: (u32, u32, u32),
        /// The template's layout.
        found: (u32, u32, u32),
    },
    /// A numeric value outside its domain.
    #[error("field {field}: {reason}")]
    OutOfRange {
        /// The field's path.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ProtoError {
    /// A [`ProtoError::MissingField`].
    pub fn missing(field: impl Into<String>) -> Self {
        Self::MissingField {
            field: field.into(),
        }
    }

    /// Whether the error concerns a template (as opposed to the request's structure or ids).
    pub fn is_template_error(&self) -> bool {
        matches!(
            self,
            Self::InvalidFingerPosition { .. }
                | Self::BadFingerRecord { .. }
                | Self::NoFingerView { .. }
                | Self::FingerPositionMismatch { .. }
                | Self::ImageNotExtracted { .. }
                | Self::BadImage { .. }
                | Self::ImageAndTemplate { .. }
                | Self::MinutiaOutOfRange { .. }
                | Self::BadIris { .. }
                | Self::IrisLayoutMismatch { .. }
        )
    }
}

/// Which template an image stands for, for errors and logs: `finger 3`, `left iris`, `face`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageOf {
    /// The finger at this ISO position (1..=10).
    Finger(u8),
    /// The iris of this eye.
    Iris(abis_engine::Eye),
    /// The face.
    Face,
}

impl std::fmt::Display for ImageOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Finger(position) => write!(f, "finger {position}"),
            Self::Iris(eye) => write!(f, "{} iris", eye.name()),
            Self::Face => f.write_str("face"),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ProtoError> = std::result::Result<T, E>;
