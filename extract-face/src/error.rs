//! The one error type of abis-extract-face.

use std::path::PathBuf;

/// What can go wrong loading a face model or computing a face template.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// The model file is not where it was looked for (a set-up step was skipped).
    #[error(
        "face model not found at {path}: run `{fetch}` (from the abis repository root) to \
         download it, or set ABIS_MODELS to the folder holding it",
        fetch = abis_extract::FETCH_COMMAND
    )]
    ModelMissing {
        /// The path looked for.
        path: PathBuf,
    },
    /// Neither `$ABIS_MODELS` nor a user data folder is known, so there is nowhere to look.
    #[error(
        "no models folder: set ABIS_MODELS, or HOME so that the user data folder can be found, \
         then run `{fetch}`",
        fetch = abis_extract::FETCH_COMMAND
    )]
    NoModelsDir,
    /// The model file exists but could not be read.
    #[error("cannot read the face model {path}: {source}")]
    ModelUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A model file is not what this crate expects: truncated, not in dlib's serialisation
    /// format, or a network of another shape. `offset` is the byte where reading stopped.
    #[error("the face model is not as expected at byte {offset}: {reason}")]
    DataCorruption {
        /// Byte offset in the file where the fault was found.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// No face was found in the image.
    #[error("no face found in the {width} x {height} image")]
    NoFace {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// The image (or face image record) could not be read.
    #[error(transparent)]
    Image(#[from] abis_imaging::ImageError),
    /// The caller's image is unusable (a chip of the wrong size, pixels that do not match the
    /// stated dimensions, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl FaceError {
    /// Whether the caller can fix this by changing the request (as opposed to a set-up or
    /// service fault).
    pub fn is_user_fault(&self) -> bool {
        matches!(
            self,
            FaceError::InvalidInput(_) | FaceError::NoFace { .. } | FaceError::Image(_)
        )
    }
}

/// Result of abis-extract-face.
pub type Result<T> = std::result::Result<T, FaceError>;
