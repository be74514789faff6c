//! What can go wrong between an iris image and its code.

use abis_imaging::ImageError;

/// A quality measure the gate checks (see [`crate::QualityGate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// Fraction of the code's bits the mask keeps.
    UsableFraction,
    /// Pupil radius over iris radius.
    PupilIrisRatio,
    /// Iris radius in pixels.
    IrisRadius,
    /// open-iris's sharpness of the normalised iris.
    Sharpness,
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Measure::UsableFraction => "usable iris fraction",
            Measure::PupilIrisRatio => "pupil/iris radius ratio",
            Measure::IrisRadius => "iris radius (pixels)",
            Measure::Sharpness => "sharpness",
        })
    }
}

/// Why no iris code was made. Every variant says which stage failed and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IrisError {
    /// The image or record could not be read.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// No dark, round, sharply bounded blob that could be a pupil.
    #[error("no pupil found: {0}")]
    NoPupil(String),
    /// No iris/sclera boundary around the pupil.
    #[error("no limbus found: {0}")]
    NoLimbus(String),
    /// The capture was segmented but a quality measure is outside what the gate accepts.
    #[error("unusable capture: {measure} is {value:.3}, outside [{min}, {max}]")]
    Unusable {
        /// The measure that failed.
        measure: Measure,
        /// Its value.
        value: f64,
        /// The least value accepted.
        min: f64,
        /// The greatest value accepted.
        max: f64,
    },
    /// A record holds no image of the eye asked for (and more than one image, or its only
    /// image is of the other eye).
    #[error("the iris record holds no image of the {wanted} eye (it holds: {held})")]
    NoSuchEye {
        /// The eye asked for.
        wanted: &'static str,
        /// The eyes of the record's images.
        held: String,
    },
    /// An image-processing call failed (OpenCV's message).
    #[error("image processing failed: {0}")]
    Processing(String),
}

impl IrisError {
    /// Whether the caller's image is at fault (everything but a failed processing call).
    pub fn is_user_fault(&self) -> bool {
        !matches!(self, Self::Processing(_))
    }
}

impl From<opencv::Error> for IrisError {
    fn from(e: opencv::Error) -> Self {
        IrisError::Processing(e.message)
    }
}

/// The result of this crate's functions.
pub type Result<T> = std::result::Result<T, IrisError>;
