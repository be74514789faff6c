//! Finger images as the rest of abis receives them (ISO/IEC 19794-4 records or plain image
//! files, decoded by `abis-imaging`) to minutiae templates.

use crate::{to_record, ExtractError, GreyImage, Leader, Minutia};
use abis_imaging::finger_record;
use abis_matchers::finger::format::{self, MinutiaeRecord, RecordFormat};

/// The capture resolutions [`Leader::extract_finger`] takes, in ppi: from half to four times
/// LEADER's 500 ppi (finger scanners capture at 500 or 1,000 ppi).
pub const FINGER_PPI_RANGE: std::ops::RangeInclusive<f32> = 250.0..=2_000.0;

/// The largest side, in pixels at 500 ppi, of an image [`Leader::extract_finger`] takes: 2
/// inches, more than a rolled impression (1.6 x 1.5 in). LEADER's memory and time grow with the
/// area (about 0.8 s and 40 MB a layer at 388 x 374), so a service must not run it on a
/// slap or a page-sized image sent as one finger.
pub const MAX_FINGER_SIDE: u32 = 1024;

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

impl ExtractedFinger {
    /// The template as ISO/IEC 19794-2:2005 bytes.
    pub fn iso_bytes(&self) -> std::result::Result<Vec<u8>, ExtractError> {
        Ok(format::write(&self.record, RecordFormat::Iso19794_2_2005)?)
    }
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

    /// The template of the finger at `position` (1..=10) from an image as a service receives
    /// it: an ISO/IEC 19794-4 record (its view for `position`, or its only view when that one
    /// states no position) or a plain image file whose header states its resolution. Only a
    /// resolution a finger scanner produces is taken ([`FINGER_PPI_RANGE`]): an office image at
    /// 72 or 96 dpi would be blown up into ridges that are not there.
    pub fn extract_finger(
        &self,
        bytes: &[u8],
        position: u8,
    ) -> std::result::Result<ExtractedFinger, FingerImageError> {
        let image = if finger_record::is_finger_image_record(bytes) {
            let record = finger_record::parse(bytes)?;
            let view = match record.views.as_slice() {
                [only] if only.position == 0 || only.position == position => only,
                views => views
                    .iter()
                    .find(|v| v.position == position)
                    .ok_or_else(|| {
                        let stated: Vec<String> =
                            views.iter().map(|v| v.position.to_string()).collect();
                        ExtractError::InvalidInput(format!(
                            "the finger image record holds no view of finger {position} (its \
                             views are of positions {})",
                            stated.join(", ")
                        ))
                    })?,
            };
            view.decode()?
        } else {
            abis_imaging::decode(bytes)?
        };
        let resolution = image
            .resolution
            .ok_or(abis_imaging::ImageError::NoResolution)?;
        if ![resolution.horizontal, resolution.vertical]
            .iter()
            .all(|r| FINGER_PPI_RANGE.contains(r))
        {
            return Err(ExtractError::InvalidInput(format!(
                "a resolution of {} x {} ppi is not a finger scanner's ({} to {} ppi)",
                resolution.horizontal,
                resolution.vertical,
                FINGER_PPI_RANGE.start(),
                FINGER_PPI_RANGE.end()
            ))
            .into());
        }
        let at_500 =
            |pixels: u32, ppi: f32| (pixels as f32 * crate::LEADER_PPI as f32 / ppi).round();
        let (width, height) = (
            at_500(image.width, resolution.horizontal),
            at_500(image.height, resolution.vertical),
        );
        if width.max(height) > MAX_FINGER_SIDE as f32 {
            return Err(ExtractError::InvalidInput(format!(
                "a {width} x {height} pixel image at 500 ppi is larger than one finger (at most \
                 {MAX_FINGER_SIDE} pixels a side)"
            ))
            .into());
        }
        self.extract_image(&image, position)
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
