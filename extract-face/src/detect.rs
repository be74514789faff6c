//! Face detection: SeetaFace's frontal detector (Wu et al., "Funnel-structured cascade for
//! multi-view face detection with alignment awareness", BSD-2), run by the `rustface` crate, a
//! pure Rust port. Its model, `seeta_fd_frontal_v1.0.bin` (1.2 MB), ships inside the published
//! `rustface` 0.1.7 crate; `scripts/fetch-models.sh` takes it from there (SHA-256 pinned) into the
//! models folder, like the other models, and it is never committed.
//!
//! The detector runs on grey levels (ITU-R BT.601 luma of the RGB image). Its boxes are square
//! and sit a little differently on the face than the boxes of dlib's HOG detector, which dlib's
//! landmark model was trained with (intersection over union 0.85 and 0.61 on the two faces of
//! `extract-face/tests/front.rs`). The landmark model does not mind: on MOSIP's face the
//! landmarks placed in SeetaFace's box are within 0.5 px of those placed in dlib's box, so the
//! box is used as it is (two faces are too few to fit a correction that would not be noise).

use crate::landmarks::FaceBox;
use crate::{FaceError, Result};
use abis_imaging::RgbImage;
use std::path::PathBuf;

/// The detector model's file name in the models folder.
pub const DETECTOR_FILE: &str = "seeta_fd_frontal_v1.0.bin";

/// The default path of the detector model (see [`crate::models_dir`]).
pub fn default_detector_path() -> Option<PathBuf> {
    crate::models_dir().map(|d| d.join(DETECTOR_FILE))
}

/// The smallest face looked for, in pixels (the detector cannot go below 20).
pub const MIN_FACE: u32 = 40;
/// The detector's score threshold: rustface's default 2.0 lets through textures that are no
/// face; real frontal faces score well above 10.
pub const SCORE_THRESHOLD: f64 = 5.0;

/// One face found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// The detector's box (square), corners included.
    pub face: FaceBox,
    /// The detector's score (higher is more face-like; [`SCORE_THRESHOLD`] and up are kept).
    pub score: f64,
}

/// SeetaFace's frontal face detector with its model loaded.
#[derive(Clone)]
pub struct FaceDetector {
    model: rustface::Model,
}

impl std::fmt::Debug for FaceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceDetector").finish_non_exhaustive()
    }
}

impl FaceDetector {
    /// The detector from the bytes of `seeta_fd_frontal_v1.0.bin`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        // rustface panics on some malformed models (an unknown classifier kind) rather than
        // returning an error; the model is a pinned file, but a corrupt copy must still be an
        // error, not a crash.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rustface::read_model(std::io::Cursor::new(bytes))
        }));
        match read {
            Ok(Ok(model)) => Ok(Self { model }),
            Ok(Err(e)) => Err(FaceError::DataCorruption {
                offset: 0,
                reason: format!("face detector model: {e}"),
            }),
            Err(_) => Err(FaceError::DataCorruption {
                offset: 0,
                reason: "face detector model: not a SeetaFace model".into(),
            }),
        }
    }

    /// Every face found in `image`, best score first.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Detection>> {
        let (w, h) = (image.width, image.height);
        if w < MIN_FACE || h < MIN_FACE {
            return Ok(Vec::new());
        }
        let grey: Vec<u8> = image
            .pixels
            .chunks_exact(3)
            .map(|p| {
                ((299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]) + 500)
                    / 1000) as u8
            })
            .collect();
        let model = self.model.clone();
        // rustface asserts on images it cannot scan; a caller's image must not crash the service.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut detector = rustface::create_detector_with_model(model);
            detector.set_min_face_size(MIN_FACE);
            detector.set_score_thresh(SCORE_THRESHOLD);
            detector.set_pyramid_scale_factor(0.8);
            detector.set_slide_window_step(4, 4);
            detector.detect(&rustface::ImageData::new(&grey, w, h))
        }));
        let faces = run.map_err(|_| {
            FaceError::InvalidInput(format!("the face detector failed on a {w} x {h} image"))
        })?;
        let mut found: Vec<Detection> = faces
            .iter()
            .map(|f| {
                let b = f.bbox();
                let (left, top) = (i64::from(b.x()), i64::from(b.y()));
                Detection {
                    face: FaceBox {
                        left,
                        top,
                        right: left + i64::from(b.width()) - 1,
                        bottom: top + i64::from(b.height()) - 1,
                    },
                    score: f.score(),
                }
            })
            .collect();
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(found)
    }

    /// The largest face in `image` ([`FaceError::NoFace`] when there is none).
    pub fn largest(&self, image: &RgbImage) -> Result<Detection> {
        self.detect(image)?
            .into_iter()
            .max_by_key(|d| d.face.width() * d.face.height())
            .ok_or(FaceError::NoFace {
                width: image.width,
                height: image.height,
            })
    }
}
