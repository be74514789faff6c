//! The record model: one enrolled person.
//!
//! A record is a reference id plus whatever biometrics were captured: up to ten fingers (ISO
//! finger positions 1..=10), up to two irises (left, right) and at most one face. Any modality may
//! be missing (amputees, eye conditions, a capture that failed), but a record carries at least one
//! template. Validation against the gallery's configuration ([`crate::GalleryConfig`]) happens
//! before anything is stored, so a bad template never reaches disk.

use crate::config::GalleryConfig;
use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};

/// Longest reference id accepted, in bytes (MOSIP's are UUIDs, 36 bytes).
pub const MAX_REFERENCE_ID_BYTES: usize = 64;

/// An opaque reference id: 1..=64 bytes of UTF-8 without control characters. Not required to be
/// a well-formed UUID. Every way in (the API, files, stored records) goes through
/// [`ReferenceId::new`]: deserialising an invalid id fails.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct ReferenceId(String);

impl TryFrom<String> for ReferenceId {
    type Error = EngineError;

    fn try_from(id: String) -> Result<Self> {
        Self::new(id)
    }
}

impl ReferenceId {
    /// Validates and wraps a reference id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() {
            return Err(EngineError::InvalidReferenceId("empty".into()));
        }
        if id.len() > MAX_REFERENCE_ID_BYTES {
            return Err(EngineError::InvalidReferenceId(format!(
                "{} bytes, at most {MAX_REFERENCE_ID_BYTES} allowed",
                id.len()
            )));
        }
        if id.chars().any(char::is_control) {
            return Err(EngineError::InvalidReferenceId(
                "contains control characters".into(),
            ));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReferenceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which eye an iris template was captured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Eye {
    /// The subject's left eye.
    Left,
    /// The subject's right eye.
    Right,
}

impl Eye {
    /// Both eyes, left first.
    pub const BOTH: [Eye; 2] = [Eye::Left, Eye::Right];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Eye::Left => "left",
            Eye::Right => "right",
        }
    }
}

/// An iris code and its mask in the gallery's layout ([`abis_matchers::iris::IrisLayout`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrisTemplate {
    /// Which eye.
    pub eye: Eye,
    /// Code bits, MSB first, `layout.code_bytes()` long.
    pub code: Vec<u8>,
    /// Mask bits (1 = valid), same length as the code.
    pub mask: Vec<u8>,
}

/// A face embedding of the gallery's dimension. Stored L2-normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceTemplate {
    /// The embedding.
    pub embedding: Vec<f32>,
}

pub use abis_matchers::finger::{Minutia, MinutiaKind};

/// A finger's minutiae, in ISO 19794-2:2005 terms at 500 ppi (197 pixels per centimetre): the
/// engine prepares them for the matcher as a record of that resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerTemplate {
    /// ISO finger position, 1 (right thumb) ..= 10 (left little).
    pub position: u8,
    /// The minutiae.
    pub minutiae: Vec<Minutia>,
}

/// Most minutiae accepted per finger (ISO 19794-2 counts them in one byte).
pub const MAX_MINUTIAE: usize = 255;

/// Fewest minutiae a finger template needs to be accepted (the quality gate). Sparser captures
/// (a fingertip, a smudge) carry no usable evidence: with a handful of minutiae the matcher finds
/// a few geometrically consistent pairs in almost any finger, and such impostor scores reach
/// genuine levels (measured on generated captures of 7-11 minutiae: raw scores 0.1-0.27 against
/// strangers, far past the calibration's FMR 1e-10 knot). Twelve is the usual forensic floor.
pub const MIN_FINGER_MINUTIAE: usize = 12;

/// Least fraction of an iris code's bits its mask must mark valid (the quality gate). Eyelids,
/// lashes and reflections typically leave 40-85% of a code valid (the synthetic occlusion model:
/// median 56%, 1st percentile 25%); a capture under this floor (an all-zero mask, an eye nearly
/// shut) is refused rather than searched as a comparison of almost nothing: 10% of a Daugman
/// code is about 200 bits, a fifth of the degrees of freedom of a typical comparison.
pub const MIN_IRIS_VALID_FRACTION: f64 = 0.1;

/// Largest minutia coordinate, in pixels at 500 ppi: every minutiae format stores 14 bits (a
/// canvas of 16,383 pixels is 83 cm, far beyond any finger).
pub const MAX_MINUTIA_COORDINATE: u16 = (1 << 14) - 1;

/// One person's biometrics under a reference id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Who this is, in the caller's id space.
    pub reference_id: ReferenceId,
    /// Up to ten fingers, distinct positions.
    pub fingers: Vec<FingerTemplate>,
    /// Up to two irises, distinct eyes.
    pub irises: Vec<IrisTemplate>,
    /// At most one face.
    pub face: Option<FaceTemplate>,
}

impl Record {
    /// A record with no templates yet.
    pub fn new(reference_id: ReferenceId) -> Self {
        Self {
            reference_id,
            fingers: Vec::new(),
            irises: Vec::new(),
            face: None,
        }
    }

    /// Whether two records carry the same biometrics under the same id, as insert idempotency
    /// judges it: fingers and irises bit for bit, face embeddings component by component within
    /// 1e-6 (an embedding normalised twice, or by another build, may differ in its last bits).
    pub fn same_content(&self, other: &Record) -> bool {
        let faces = match (&self.face, &other.face) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.embedding.len() == b.embedding.len()
                    && a.embedding
                        .iter()
                        .zip(&b.embedding)
                        .all(|(x, y)| (x - y).abs() <= 1e-6)
            }
            _ => false,
        };
        self.reference_id == other.reference_id
            && self.fingers == other.fingers
            && self.irises == other.irises
            && faces
    }

    /// The iris of one eye, if captured.
    pub fn iris(&self, eye: Eye) -> Option<&IrisTemplate> {
        self.irises.iter().find(|i| i.eye == eye)
    }

    /// Checks every template against the gallery configuration and normalises the face
    /// embedding in place. Nothing is stored by this call; the engine calls it before storing.
    pub fn validate_and_normalise(&mut self, config: &GalleryConfig) -> Result<()> {
        if self.fingers.is_empty() && self.irises.is_empty() && self.face.is_none() {
            return Err(EngineError::InvalidRequest(format!(
                "record {} carries no template",
                self.reference_id
            )));
        }
        self.validate_fingers()?;
        if self.irises.len() > 2 {
            return Err(EngineError::template(
                "iris",
                format!("{} irises, at most 2", self.irises.len()),
            ));
        }
        for (i, iris) in self.irises.iter().enumerate() {
            let name = format!("iris {}", iris.eye.name());
            if self.irises[..i].iter().any(|o| o.eye == iris.eye) {
                return Err(EngineError::template(name, "eye given twice"));
            }
            config
                .iris_layout
                .check(&iris.code, &iris.mask)
                .map_err(|e| EngineError::template(&name, e))?;
            let valid: u32 = iris.mask.iter().map(|b| b.count_ones()).sum();
            let bits = iris.mask.len() * 8;
            if f64::from(valid) < MIN_IRIS_VALID_FRACTION * bits as f64 {
                return Err(EngineError::template(
                    name,
                    format!(
                        "no usable iris: its mask marks {valid} of {bits} bits valid, at least \
                         {:.0}% are needed",
                        MIN_IRIS_VALID_FRACTION * 100.0
                    ),
                ));
            }
        }
        if let Some(face) = &mut self.face {
            abis_matchers::face::check_embedding(&face.embedding, config.face_dim)
                .and_then(|()| abis_matchers::face::l2_normalise(&mut face.embedding))
                .map_err(|e| EngineError::template("face", e))?;
        }
        Ok(())
    }

    fn validate_fingers(&self) -> Result<()> {
        if self.fingers.len() > 10 {
            return Err(EngineError::template(
                "finger",
                format!("{} fingers, at most 10", self.fingers.len()),
            ));
        }
        for (i, finger) in self.fingers.iter().enumerate() {
            let name = format!("finger {}", finger.position);
            if !(1..=10).contains(&finger.position) {
                return Err(EngineError::template(name, "position must be 1..=10"));
            }
            if self.fingers[..i]
                .iter()
                .any(|o| o.position == finger.position)
            {
                return Err(EngineError::template(name, "position given twice"));
            }
            if finger.minutiae.len() < MIN_FINGER_MINUTIAE {
                return Err(EngineError::template(
                    name,
                    format!(
                        "no usable finger: {} minutiae, at least {MIN_FINGER_MINUTIAE} are needed",
                        finger.minutiae.len()
                    ),
                ));
            }
            if finger.minutiae.len() > MAX_MINUTIAE {
                return Err(EngineError::template(
                    name,
                    format!("{} minutiae, at most {MAX_MINUTIAE}", finger.minutiae.len()),
                ));
            }
            if finger.minutiae.iter().any(|m| m.quality > 100) {
                return Err(EngineError::template(name, "minutia quality above 100"));
            }
            if let Some(m) = finger
                .minutiae
                .iter()
                .find(|m| m.x.max(m.y) > MAX_MINUTIA_COORDINATE)
            {
                return Err(EngineError::template(
                    name,
                    format!(
                        "minutia at ({}, {}): coordinates are at most {MAX_MINUTIA_COORDINATE}",
                        m.x, m.y
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_tolerates_float_noise_in_faces_only() {
        let mut a = Record::new(ReferenceId::new("x").unwrap());
        a.face = Some(FaceTemplate {
            embedding: vec![0.6, 0.8],
        });
        let mut b = a.clone();
        b.face.as_mut().unwrap().embedding[0] += 5e-8;
        assert!(a.same_content(&b));
        b.face.as_mut().unwrap().embedding[0] += 1e-3;
        assert!(!a.same_content(&b), "another face");
        let mut c = a.clone();
        c.face = None;
        assert!(!a.same_content(&c), "a face removed");
        let mut d = a.clone();
        d.reference_id = ReferenceId::new("y").unwrap();
        assert!(!a.same_content(&d), "another id");
    }
}
