//! Quality measures of a segmented, encoded iris and the gate that refuses unusable captures.

use crate::normalise::rubber_sheet;
use crate::raster::{mat_u8, Plane};
use crate::segment::Segmentation;
use crate::{IrisError, Measure, Result};
use abis_imaging::GreyImage;
use opencv::core::{Mat, Size, BORDER_DEFAULT, CV_32F};
use opencv::imgproc;
use opencv::prelude::*;

/// What was measured on one capture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Fraction of the code's bits the mask keeps (0..=1).
    pub usable_fraction: f64,
    /// Pupil radius over iris radius (pupil dilation).
    pub pupil_iris_ratio: f64,
    /// Iris radius in pixels.
    pub iris_radius: f64,
    /// Distance between the pupil's and the iris's centres over the iris radius.
    pub concentricity: f64,
    /// open-iris's sharpness: the standard deviation of the 11 x 11 Laplacian of the 128 x 512
    /// normalised iris (grey levels scaled to 0..1), over its usable samples eroded by 29 rows x 15
    /// columns (`SharpnessEstimation`, MIT).
    pub sharpness: f64,
    /// Median iris grey level minus median pupil grey level.
    pub pupil_contrast: f64,
    /// Grey-level step across the limbus (2 px).
    pub limbus_contrast: f64,
}

/// The floors (and ceilings) a capture must meet. The defaults are published values:
/// - usable fraction >= 0.25: open-iris refuses irises with less than 25% visible
///   (`OcclusionValidator` `min_allowed_occlusion: 0.25` in its `pipeline.yaml`); the engine's own
///   floor (`MIN_IRIS_VALID_FRACTION`, 0.1) is below it;
/// - pupil/iris ratio within 0.1..=0.7: open-iris's `Pupil2IrisPropertyValidator`
///   (ISO/IEC 29794-6 recommends a pupil dilation of 20% to 70%);
/// - iris radius >= 25 px: open-iris's `min_iris_diameter: 50`;
/// - sharpness >= 461: open-iris's `SharpnessValidator` `min_sharpness`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityGate {
    /// Least usable fraction.
    pub min_usable_fraction: f64,
    /// Least pupil/iris ratio.
    pub min_pupil_iris_ratio: f64,
    /// Greatest pupil/iris ratio.
    pub max_pupil_iris_ratio: f64,
    /// Least iris radius in pixels.
    pub min_iris_radius: f64,
    /// Least sharpness.
    pub min_sharpness: f64,
}

impl Default for QualityGate {
    fn default() -> Self {
        Self {
            min_usable_fraction: 0.25,
            min_pupil_iris_ratio: 0.1,
            max_pupil_iris_ratio: 0.7,
            min_iris_radius: 25.0,
            min_sharpness: 461.0,
        }
    }
}

impl QualityGate {
    /// A gate that refuses nothing (every measure is still computed).
    pub fn off() -> Self {
        Self {
            min_usable_fraction: 0.0,
            min_pupil_iris_ratio: 0.0,
            max_pupil_iris_ratio: f64::INFINITY,
            min_iris_radius: 0.0,
            min_sharpness: 0.0,
        }
    }

    /// `Ok` when every measure is within its bounds, else the first one that is not.
    pub fn check(&self, q: &Quality) -> Result<()> {
        let checks = [
            (
                Measure::IrisRadius,
                q.iris_radius,
                self.min_iris_radius,
                f64::INFINITY,
            ),
            (
                Measure::PupilIrisRatio,
                q.pupil_iris_ratio,
                self.min_pupil_iris_ratio,
                self.max_pupil_iris_ratio,
            ),
            (
                Measure::UsableFraction,
                q.usable_fraction,
                self.min_usable_fraction,
                1.0,
            ),
            (
                Measure::Sharpness,
                q.sharpness,
                self.min_sharpness,
                f64::INFINITY,
            ),
        ];
        for (measure, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(IrisError::Unusable {
                    measure,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }
}

/// The measures of one capture; `mask` is the code's mask.
pub(crate) fn measure(image: &GreyImage, seg: &Segmentation, mask: &[u8]) -> Result<Quality> {
    let valid_bits: u32 = mask.iter().map(|b| b.count_ones()).sum();
    Ok(Quality {
        usable_fraction: f64::from(valid_bits) / (mask.len() * 8) as f64,
        pupil_iris_ratio: f64::from(seg.pupil.r / seg.iris.r),
        iris_radius: f64::from(seg.iris.r),
        concentricity: f64::from(seg.iris.distance(seg.pupil.x, seg.pupil.y) / seg.iris.r),
        sharpness: sharpness(image, seg)?,
        pupil_contrast: f64::from(seg.iris_level - seg.pupil_level),
        limbus_contrast: f64::from(seg.limbus_step),
    })
}

/// open-iris's sharpness (see [`Quality::sharpness`]), on its 128 x 512 nearest-neighbour strip.
fn sharpness(image: &GreyImage, seg: &Segmentation) -> Result<f64> {
    let strip = rubber_sheet(image, seg, 128, 512, true);
    let scaled = Plane {
        w: 512,
        h: 128,
        data: strip.pixels().iter().map(|p| p / 255.0).collect(),
    };
    let mut lap = Mat::default();
    imgproc::laplacian(
        &scaled.to_mat()?,
        &mut lap,
        CV_32F,
        11,
        1.0,
        0.0,
        BORDER_DEFAULT,
    )?;
    let lap = Plane::from_mat(&lap)?;
    let valid: Vec<u8> = strip.valid().iter().map(|&v| u8::from(v)).collect();
    let kernel = Mat::ones_size(Size::new(15, 29), opencv::core::CV_8U)?.to_mat()?;
    let mut eroded = Mat::default();
    imgproc::erode_def(&mat_u8(512, 128, &valid)?, &mut eroded, &kernel)?;
    let keep = eroded.data_bytes()?;
    let values: Vec<f64> = lap
        .data
        .iter()
        .zip(keep)
        .filter(|(_, &k)| k == 1)
        .map(|(&v, _)| f64::from(v))
        .collect();
    if values.is_empty() {
        return Ok(0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    Ok((values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt())
}
