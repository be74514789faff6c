//! The face front end in one call: the largest face of an image found, its five landmarks
//! placed, and the 150 x 150 chip the descriptor network takes cut out, aligned as dlib aligns
//! it.

use crate::align::{extract_chip, face_chip_details, ChipDetails, CHIP_PADDING, CHIP_SIZE};
use crate::detect::{Detection, FaceDetector};
use crate::landmarks::{Point, ShapePredictor};
use crate::{FaceError, Result};
use abis_imaging::RgbImage;

/// What the front end found in an image.
#[derive(Debug, Clone)]
pub struct FaceFound {
    /// The detector's box and score.
    pub detection: Detection,
    /// The five landmarks in image pixels: outer and inner corner of the subject's left eye,
    /// of the right eye, and the base of the nose.
    pub landmarks: Vec<Point>,
    /// Where the chip was cut.
    pub chip_details: ChipDetails,
    /// The aligned 150 x 150 RGB chip.
    pub chip: RgbImage,
}

/// The face detector and the 5-point landmark model, loaded once and used for every image.
#[derive(Debug, Clone)]
pub struct FrontEnd {
    detector: FaceDetector,
    predictor: ShapePredictor,
}

impl FrontEnd {
    /// The front end from its two models; the landmark model must place 5 points.
    pub fn new(detector: FaceDetector, predictor: ShapePredictor) -> Result<Self> {
        if predictor.parts() != 5 {
            return Err(FaceError::DataCorruption {
                offset: 0,
                reason: format!(
                    "the landmark model places {} points, the face chip needs dlib's 5",
                    predictor.parts()
                ),
            });
        }
        Ok(Self {
            detector,
            predictor,
        })
    }

    /// The detector.
    pub fn detector(&self) -> &FaceDetector {
        &self.detector
    }

    /// The landmark model.
    pub fn predictor(&self) -> &ShapePredictor {
        &self.predictor
    }

    /// The largest face of `image`, its landmarks and its chip ([`FaceError::NoFace`] when the
    /// detector finds none).
    pub fn chip_from_image(&self, image: &RgbImage) -> Result<FaceFound> {
        let detection = self.detector.largest(image)?;
        let landmarks = self.predictor.predict(image, detection.face);
        let (chip_details, chip) = chip_at(image, &landmarks)?;
        Ok(FaceFound {
            detection,
            landmarks,
            chip_details,
            chip,
        })
    }
}

/// The chip of `image` aligned on five `landmarks`, as dlib cuts it (landmarks rounded to whole
/// pixels first, as dlib's `full_object_detection` holds them).
pub fn chip_at(image: &RgbImage, landmarks: &[Point]) -> Result<(ChipDetails, RgbImage)> {
    let rounded: Vec<Point> = landmarks.iter().map(|p| p.rounded()).collect();
    let details = face_chip_details(&rounded, CHIP_SIZE, CHIP_PADDING)?;
    let chip = extract_chip(image, &details)?;
    Ok((details, chip))
}
