//! Finger images as the rest of abis receives them (ISO/IEC 19794-4 records or plain image
//! files, decoded by `abis-imaging`) to minutiae templates.

use crate::{to_record, ExtractError, GreyImage, Leader, Minutia};
use abis_imaging::finger_record;
use abis_matchers::finger::format::MinutiaeRecord;

/// One finger image's extraction.
#[derive(Debug, Clone)]
pub struct ExtractedFinger {
    /// ISO finger position (0 when the input did not say).
    pub position: u8,
    /// The image the minutiae are on: the input brought to 500 ppi.
    pub image: abis_imaging::GreyImage,
    /// The minutiae, best first.
    pub minutiae: Vec<Minutia>,
    /// The finger's quality, 0..=100: LEADER's mean detection score over the minutiae kept
    /// (its own confidence, not NFIQ 2), stored in the template's view.
    pub quality: u8,
    /// The ISO/IEC 19794-2:2005 template: position, quality and minutiae on the 500 ppi grid.
    pub record: MinutiaeRecord,
}

/// Why a finger image gave no template: the image could not be read, or extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum FingerImageError {
    /// The bytes are not a readable finger image.
    #[error("{0}")]
    Image(#[from] abis_imaging::ImageError),
    /// Extraction failed.
    #[error("{0}")]
    Extract(#[from] ExtractError),
}

impl FingerImageError {
    /// Whether the caller's input is at fault (as opposed to the model or the service).
    pub fn is_user_fault(&self) -> bool {
        match self {
            Self::Image(_) => true,
            Self::Extract(e) => e.is_user_fault(),
        }
    }
}

impl Leader {
    /// Every view of an ISO/IEC 19794-4 record, or the one image of a plain image file
    /// (position 0) at the resolution it states, else `ppi`.
    pub fn extract_bytes(
        &self,
        bytes: &[u8],
        ppi: Option<f32>,
    ) -> std::result::Result<Vec<ExtractedFinger>, FingerImageError> {
        if finger_record::is_finger_image_record(bytes) {
            let record = finger_record::parse(bytes)?;
            return record
                .views
                .iter()
                .map(|view| self.extract_image(&view.decode()?, view.position))
                .collect();
        }
        let mut image = abis_imaging::decode(bytes)?;
        if image.resolution.is_none() {
            image.resolution = ppi.map(abis_imaging::Resolution::square);
        }
        Ok(vec![self.extract_image(&image, 0)?])
    }

    /// The template of one decoded finger image (brought to 500 ppi first).
    pub fn extract_image(
        &self,
        image: &abis_imaging::GreyImage,
        position: u8,
    ) -> std::result::Result<ExtractedFinger, FingerImageError> {
        let image = abis_imaging::resample_to(image, crate::LEADER_PPI as f32)?;
        let (width, height) = (image.width as usize, image.height as usize);
        let minutiae = self.extract(GreyImage::new(width, height, &image.pixels)?)?;
        let quality = finger_quality(&minutiae);
        let mut record = to_record(width, height, &minutiae)?;
        let view = &mut record.views[0];
        view.position = position;
        view.quality = quality;
        Ok(ExtractedFinger {
            position,
            image,
            minutiae,
            quality,
            record,
        })
    }
}

/// LEADER's mean detection score over `minutiae`, in percent (0 for none).
fn finger_quality(minutiae: &[Minutia]) -> u8 {
    if minutiae.is_empty() {
        return 0;
    }
    let mean = minutiae
        .iter()
        .map(|m| m.score.clamp(0.0, 1.0))
        .sum::<f32>()
        / minutiae.len() as f32;
    (mean * 100.0).round() as u8
}
