//! Daugman's rubber sheet: the iris ring unwrapped to a rectangle of fixed size, whatever the
//! pupil's dilation and the iris's size in the image.
//!
//! Column `j` of `cols` is the angle `360 * j / cols` degrees counter-clockwise from the image's
//! +x axis (as seen with y up), the same origin and direction for every image, so an in-plane
//! rotation of the eye is a circular shift of the columns. Row `i` of `rows` is the point a
//! fraction `i / (rows - 1)` of the way from the pupil boundary (row 0) to the limbus (last row)
//! along that angle, between the two circles' points (they need not be concentric), as open-iris's
//! `LinearNormalization` does.

use crate::segment::Segmentation;
use abis_imaging::GreyImage;

/// Rows of the normalised iris: open-iris's `res_in_r` (128).
pub const STRIP_ROWS: usize = 128;
/// Columns of the normalised iris that is encoded: three per code column (200), so every code
/// column sits on a strip column. open-iris samples 512 angles (0.703125 degrees); its Gabor
/// parameters are scaled by 600 / 512 here.
pub const STRIP_COLS: usize = 600;

/// An iris unwrapped to `rows x cols` grey levels, with the usable ones marked.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalisedIris {
    rows: usize,
    cols: usize,
    pixels: Vec<f32>,
    valid: Vec<bool>,
}

impl NormalisedIris {
    /// Rows (radial samples, pupil to limbus).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (angular samples).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Grey levels, row-major.
    pub fn pixels(&self) -> &[f32] {
        &self.pixels
    }

    /// Whether each sample is usable iris, row-major.
    pub fn valid(&self) -> &[bool] {
        &self.valid
    }

    /// The fraction of usable samples.
    pub fn usable_fraction(&self) -> f64 {
        self.valid.iter().filter(|&&v| v).count() as f64 / self.valid.len().max(1) as f64
    }
}

/// The iris of `image` as segmented, unwrapped to [`STRIP_ROWS`] x [`STRIP_COLS`] by bilinear
/// interpolation.
pub fn normalise(image: &GreyImage, seg: &Segmentation) -> NormalisedIris {
    rubber_sheet(image, seg, STRIP_ROWS, STRIP_COLS, false)
}

/// The rubber sheet at any size; `nearest` samples the nearest pixel instead of interpolating.
pub(crate) fn rubber_sheet(
    image: &GreyImage,
    seg: &Segmentation,
    rows: usize,
    cols: usize,
    nearest: bool,
) -> NormalisedIris {
    let (w, h) = (image.width as usize, image.height as usize);
    let px = |x: usize, y: usize| f32::from(image.pixels[y * w + x]);
    let mut pixels = vec![0f32; rows * cols];
    let mut valid = vec![false; rows * cols];
    for j in 0..cols {
        let theta = std::f32::consts::TAU * j as f32 / cols as f32;
        let (px0, py0) = seg.pupil.point(theta);
        let (px1, py1) = seg.iris.point(theta);
        for i in 0..rows {
            let t = i as f32 / (rows - 1) as f32;
            let (x, y) = (px0 + t * (px1 - px0), py0 + t * (py1 - py0));
            if !(x >= 0.0 && y >= 0.0 && x <= (w - 1) as f32 && y <= (h - 1) as f32) {
                continue;
            }
            let k = i * cols + j;
            pixels[k] = if nearest {
                px(x.round() as usize, y.round() as usize)
            } else {
                let (x0, y0) = (x.floor() as usize, y.floor() as usize);
                let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                let (fx, fy) = (x - x0 as f32, y - y0 as f32);
                let top = px(x0, y0) * (1.0 - fx) + px(x1, y0) * fx;
                let bottom = px(x0, y1) * (1.0 - fx) + px(x1, y1) * fx;
                top * (1.0 - fy) + bottom * fy
            };
            valid[k] = seg.is_usable(x, y);
        }
    }
    NormalisedIris {
        rows,
        cols,
        pixels,
        valid,
    }
}
