//! The one error type of abis-extract.

use std::path::PathBuf;
use tract_onnx::prelude::TractError;

/// What can go wrong loading LEADER or extracting minutiae.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The model file is not where it was looked for (a set-up step was skipped).
    #[error(
        "LEADER model not found at {path}: run `bash scripts/fetch-models.sh` (from the abis \
         repository root) to download it, or set ABIS_MODELS to the folder holding LEADER.onnx"
    )]
    ModelMissing {
        /// The path looked for.
        path: PathBuf,
    },
    /// Neither `$ABIS_MODELS` nor a user data folder is known, so there is nowhere to look.
    #[error(
        "no models folder: set ABIS_MODELS, or HOME so that the user data folder can be found, \
         then run `bash scripts/fetch-models.sh`"
    )]
    NoModelsDir,
    /// The model file exists but could not be read.
    #[error("cannot read the LEADER model {path}: {source}")]
    ModelUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the LEADER graph this crate knows how to prepare (not ONNX, or its
    /// upsampling chains are not the ones the load-time rewrite expects).
    #[error("the LEADER model is not as expected: {0}")]
    DataCorruption(String),
    /// tract failed to load, optimise or run the network.
    #[error("tract failed to {stage}: {source}")]
    Inference {
        /// What was being done.
        stage: &'static str,
        /// tract's error.
        #[source]
        source: TractError,
    },
    /// The caller's image or options are unusable (sizes that do not match the pixels, an empty
    /// image, a resolution out of range, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The minutiae could not be written as a template (a coordinate or count a field cannot
    /// hold).
    #[error("cannot build the minutiae record: {0}")]
    Template(#[from] abis_matchers::MatchError),
}

impl ExtractError {
    /// Whether the caller can fix this by changing the request (as opposed to a set-up or
    /// service fault).
    pub fn is_user_fault(&self) -> bool {
        matches!(
            self,
            ExtractError::InvalidInput(_) | ExtractError::Template(_)
        )
    }
}

/// Result of abis-extract.
pub type Result<T> = std::result::Result<T, ExtractError>;
