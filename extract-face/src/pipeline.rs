//! The whole face pipeline in one value: an image (an ISO/IEC 19794-5 record or an image file)
//! to the descriptor of its largest face, with what was found on the way. This is what a
//! service does with a face image it is sent.

use crate::detect::{FaceDetector, DETECTOR_FILE};
use crate::front::{FaceFound, FrontEnd};
use crate::landmarks::ShapePredictor;
use crate::models::{self, LANDMARKS_5_FILE, RESNET_FILE};
use crate::resnet::{FaceNet, DESCRIPTOR_DIM};
use crate::{FaceError, Result};
use abis_imaging::{face_record, RgbImage};
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest any of the front end's model files may be (the detector is 1.2 MB, the 5-point
/// landmark model 9 MB).
const MAX_FRONT_MODEL_BYTES: u64 = 32 << 20;

/// A face found and embedded.
#[derive(Debug, Clone)]
pub struct Face {
    /// What the front end found: box, landmarks, chip.
    pub found: FaceFound,
    /// dlib's descriptor of the chip (not normalised).
    pub descriptor: [f32; DESCRIPTOR_DIM],
    /// Time spent in each stage.
    pub timings: FaceTimings,
}

/// Time spent in each stage of one face.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaceTimings {
    /// Reading the record and decoding the image.
    pub decode: Duration,
    /// Detection, landmarks and the chip.
    pub front: Duration,
    /// The descriptor network.
    pub descriptor: Duration,
}

/// The detector, the landmark model and the descriptor network, loaded once.
#[derive(Debug, Clone)]
pub struct FaceExtractor {
    front: FrontEnd,
    net: FaceNet,
}

impl FaceExtractor {
    /// The three models from `dir` (else the default models folder, [`crate::models_dir`]). A
    /// missing file is [`FaceError::ModelMissing`], whose message names the fetch command.
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => models::models_dir().ok_or(FaceError::NoModelsDir)?,
        };
        let read = |name: &str| models::read_model(&dir.join(name), MAX_FRONT_MODEL_BYTES);
        let detector = FaceDetector::from_bytes(&read(DETECTOR_FILE)?)?;
        let predictor = ShapePredictor::from_bytes(&read(LANDMARKS_5_FILE)?)?;
        let net = FaceNet::load(dir.join(RESNET_FILE))?;
        Ok(Self {
            front: FrontEnd::new(detector, predictor)?,
            net,
        })
    }

    /// The front end.
    pub fn front(&self) -> &FrontEnd {
        &self.front
    }

    /// The largest face of `image` and its descriptor ([`FaceError::NoFace`] when there is
    /// none).
    pub fn extract(&self, image: &RgbImage) -> Result<Face> {
        let started = Instant::now();
        let found = self.front.chip_from_image(image)?;
        let front = started.elapsed();
        let descriptor = self.net.descriptor(&found.chip.pixels)?;
        Ok(Face {
            found,
            descriptor,
            timings: FaceTimings {
                decode: Duration::ZERO,
                front,
                descriptor: started.elapsed() - front,
            },
        })
    }

    /// The face of `bytes`: an ISO/IEC 19794-5 record (its first image) or a PNG, JPEG or JPEG
    /// 2000 file.
    pub fn extract_bytes(&self, bytes: &[u8]) -> Result<Face> {
        let started = Instant::now();
        let image = decode(bytes)?;
        let decode = started.elapsed();
        let mut face = self.extract(&image)?;
        face.timings.decode = decode;
        Ok(face)
    }
}

/// The colour image of a face record's first image, or of an image file.
pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
    if !face_record::is_face_image_record(bytes) {
        return Ok(abis_imaging::decode_rgb(bytes)?);
    }
    let record = face_record::parse(bytes)?;
    let first = record.images.first().ok_or_else(|| {
        FaceError::Image(abis_imaging::ImageError::Invalid {
            field: "number of face images",
            value: "0".into(),
        })
    })?;
    Ok(first.decode_rgb()?)
}
