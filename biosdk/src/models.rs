//! The extractors, loaded once: templates for `/match` and `/extract-template` (through
//! [`ImageExtractor`], the way every abis service extracts) and the quality measures of
//! `/check-quality`, mapped to MOSIP's 0-100 scale:
//!
//! - **finger**: LEADER's quality (0..=100, its mean minutia detection score over the minutiae
//!   kept, not NFIQ 2) times `min(1, minutiae / 12)`: a finger with fewer minutiae than the
//!   engine's gate (12) scores proportionally lower, and says so in `errors`;
//! - **iris**: 100 x the fraction of the iris code the mask keeps (eyelids, lashes and
//!   reflections removed); a capture under any of open-iris's published floors (usable
//!   fraction 0.25, pupil/iris ratio 0.1..0.7, iris radius 25 px, sharpness 461) scores at most
//!   24 and names the floor in `errors`; the measures go to `analyticsInfo`;
//! - **face**: the SeetaFace detector's confidence `s` of the largest face mapped
//!   monotonically, `100 (s - 5) / (s + 5)` (0 at the detection threshold 5, 50 at 15, 75 at
//!   35); no face found scores 0. A confidence of detection, not an ISO/IEC 29794-5 quality.
//!
//! A modality whose model is missing is refused with the loader's message, which names
//! `scripts/fetch-models.sh`.

use abis_coordinator::images::{iris_eye, Extractors};
use abis_engine::Eye;
use abis_extract::Leader;
use abis_extract_face::FaceExtractor;
use abis_extract_iris::{IrisExtractor, QualityGate};
use abis_proto::{ImageExtractor, ImageRefusal, IrisCode};
use std::collections::BTreeMap;
use std::path::Path;

/// Fewest minutiae a finger needs to be matched (the engine's gate).
const MIN_MINUTIAE: usize = abis_engine::record::MIN_FINGER_MINUTIAE;

/// Every modality's extractor (the coordinator's [`Extractors`], as every abis service
/// extracts), and the quality measures on top.
pub struct Models {
    extractors: Extractors,
}

/// One sample's quality on MOSIP's scale, with why it is low and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleQuality {
    /// 0..=100.
    pub score: f64,
    /// Why the sample cannot be used, or what lowers its score.
    pub errors: Vec<String>,
    /// What was measured.
    pub analytics: BTreeMap<String, String>,
}

impl SampleQuality {
    fn refused(reason: String) -> Self {
        Self {
            score: 0.0,
            errors: vec![reason],
            analytics: BTreeMap::new(),
        }
    }
}

impl Models {
    /// The models from `dir` (else the default models folder). A model that cannot be loaded is
    /// logged, and its modality's images refused with the reason.
    pub fn load(dir: Option<&Path>) -> Self {
        Self {
            extractors: Extractors::load(dir),
        }
    }

    /// Which modalities can be extracted.
    pub fn available(&self) -> Vec<crate::record::Modality> {
        use crate::record::Modality;
        let mut out = Vec::new();
        if self.extractors.leader().is_ok() {
            out.push(Modality::Finger);
        }
        out.push(Modality::Iris);
        if self.extractors.face_extractor().is_ok() {
            out.push(Modality::Face);
        }
        out
    }

    fn leader(&self) -> Result<&Leader, ImageRefusal> {
        self.extractors.leader()
    }

    fn face_extractor(&self) -> Result<&FaceExtractor, ImageRefusal> {
        self.extractors.face_extractor()
    }

    /// The quality of the finger at `position` in `image`; `Err` only for a missing model or
    /// a failure of the service.
    pub fn finger_quality(&self, image: &[u8], position: u8) -> Result<SampleQuality, String> {
        let leader = self.leader().map_err(|e| e.to_string())?;
        match leader.extract_finger(image, position) {
            Ok(f) => {
                let count = f.minutiae.len();
                let scale = (count as f64 / MIN_MINUTIAE as f64).min(1.0);
                let mut errors = Vec::new();
                if count < MIN_MINUTIAE {
                    errors.push(format!(
                        "{count} minutiae found, fewer than the {MIN_MINUTIAE} matching needs"
                    ));
                }
                Ok(SampleQuality {
                    score: f64::from(f.quality) * scale,
                    errors,
                    analytics: BTreeMap::from([
                        ("minutiae".into(), count.to_string()),
                        ("leaderQuality".into(), f.quality.to_string()),
                    ]),
                })
            }
            Err(e) if e.is_user_fault() => Ok(SampleQuality::refused(e.to_string())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The quality of the `eye` iris in `image`.
    pub fn iris_quality(&self, image: &[u8], eye: Eye) -> Result<SampleQuality, String> {
        let ungated = IrisExtractor::new(QualityGate::off());
        match ungated.extract_bytes(image, iris_eye(eye)) {
            Ok(t) => {
                let q = t.quality;
                let mut score = 100.0 * q.usable_fraction.clamp(0.0, 1.0);
                let mut errors = Vec::new();
                if let Err(e) = self.extractors.iris_extractor().gate.check(&q) {
                    score = score.min(24.0);
                    errors.push(e.to_string());
                }
                Ok(SampleQuality {
                    score,
                    errors,
                    analytics: BTreeMap::from([
                        ("usableFraction".into(), format!("{:.3}", q.usable_fraction)),
                        (
                            "pupilIrisRatio".into(),
                            format!("{:.3}", q.pupil_iris_ratio),
                        ),
                        ("irisRadius".into(), format!("{:.1}", q.iris_radius)),
                        ("sharpness".into(), format!("{:.0}", q.sharpness)),
                    ]),
                })
            }
            Err(e) if e.is_user_fault() => Ok(SampleQuality::refused(e.to_string())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The quality of the face in `image`.
    pub fn face_quality(&self, image: &[u8]) -> Result<SampleQuality, String> {
        let face = self.face_extractor().map_err(|e| e.to_string())?;
        match face.extract_bytes(image) {
            Ok(found) => {
                let s = found.found.detection.score;
                Ok(SampleQuality {
                    score: face_score(s),
                    errors: Vec::new(),
                    analytics: BTreeMap::from([("detectionScore".into(), format!("{s:.2}"))]),
                })
            }
            Err(e) if e.is_user_fault() => Ok(SampleQuality::refused(e.to_string())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A face detection confidence on the 0-100 scale (see the module doc).
pub fn face_score(s: f64) -> f64 {
    let t = abis_extract_face::detect::SCORE_THRESHOLD;
    if s <= t {
        0.0
    } else {
        (100.0 * (s - t) / (s + t)).clamp(0.0, 100.0)
    }
}

impl ImageExtractor for Models {
    fn finger(&self, image: &[u8], position: u8) -> Result<Vec<u8>, ImageRefusal> {
        self.extractors.finger(image, position)
    }

    fn iris(&self, image: &[u8], eye: Eye) -> Result<IrisCode, ImageRefusal> {
        self.extractors.iris(image, eye)
    }

    fn face(&self, image: &[u8]) -> Result<Vec<f32>, ImageRefusal> {
        self.extractors.face(image)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn face_scores_rise_from_the_detection_threshold() {
        assert_eq!(super::face_score(4.0), 0.0);
        assert_eq!(super::face_score(5.0), 0.0);
        assert!((super::face_score(15.0) - 50.0).abs() < 1e-9);
        assert!((super::face_score(35.0) - 75.0).abs() < 1e-9);
        assert!(super::face_score(1e9) <= 100.0);
    }
}
