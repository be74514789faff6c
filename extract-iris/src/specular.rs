//! Specular highlights: the illuminators' reflections on the cornea, small saturated spots that
//! would otherwise break the pupil blob and put false edges on the boundaries. Found with a white
//! top-hat (bright, small and much brighter than their surroundings), grown by two pixels and
//! filled from their neighbourhood by normalised convolution (a Gaussian average of the pixels
//! around them that are not highlights).

use crate::raster::{disc, mat_u8, Plane};
use crate::Result;
use opencv::core::Mat;
use opencv::imgproc;
use opencv::prelude::*;

/// A top-hat response at least this far above the surroundings marks a highlight...
const TOPHAT_MIN: u8 = 50;
/// ...when the pixel is at least this bright (reflections are near saturation; bright iris
/// texture is not).
const BRIGHT_MIN: u8 = 200;

/// The image with highlights filled, and the highlight mask (1 = highlight).
pub(crate) fn fill(image: &Plane, pixels: &[u8]) -> Result<(Plane, Vec<u8>)> {
    let (w, h) = (image.w, image.h);
    // A structuring element larger than any highlight: about a twentieth of the short side.
    let side = w.min(h) as i32;
    let d = ((side / 20) | 1).clamp(7, 41);
    let src = mat_u8(w, h, pixels)?;
    let mut tophat = Mat::default();
    imgproc::morphology_ex_def(&src, &mut tophat, imgproc::MORPH_TOPHAT, &disc(d)?)?;
    let th = tophat.data_bytes()?;
    let seed: Vec<u8> = th
        .iter()
        .zip(pixels)
        .map(|(&t, &p)| u8::from(t >= TOPHAT_MIN && p >= BRIGHT_MIN) * 255)
        .collect();
    let mut grown = Mat::default();
    imgproc::dilate_def(&mat_u8(w, h, &seed)?, &mut grown, &disc(5)?)?;
    let mask: Vec<u8> = grown
        .data_bytes()?
        .iter()
        .map(|&v| u8::from(v > 0))
        .collect();
    if !mask.contains(&1) {
        return Ok((image.clone(), mask));
    }
    // Normalised convolution: blur(I * keep) / blur(keep), widening until every hole is reached.
    let keep = Plane {
        w,
        h,
        data: mask.iter().map(|&m| f32::from(1 - m)).collect(),
    };
    let weighted = Plane {
        w,
        h,
        data: image
            .data
            .iter()
            .zip(&keep.data)
            .map(|(v, k)| v * k)
            .collect(),
    };
    let mut filled = image.clone();
    let mut todo: Vec<usize> = (0..w * h).filter(|&i| mask[i] == 1).collect();
    let mut sigma = f64::from(d) / 2.0;
    for _ in 0..4 {
        let (num, den) = (weighted.gaussian(sigma)?, keep.gaussian(sigma)?);
        todo.retain(|&i| {
            if den.data[i] > 1e-3 {
                filled.data[i] = num.data[i] / den.data[i];
                false
            } else {
                true
            }
        });
        if todo.is_empty() {
            break;
        }
        sigma *= 2.0;
    }
    Ok((filled, mask))
}
