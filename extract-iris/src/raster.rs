//! A float image with bilinear sampling, and the few OpenCV calls the pipeline makes on it.

use crate::Result;
use opencv::core::{Mat, Size, BORDER_REPLICATE};
use opencv::imgproc;
use opencv::prelude::*;

/// A row-major f32 image.
#[derive(Clone, Debug)]
pub(crate) struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn from_u8(w: usize, h: usize, pixels: &[u8]) -> Self {
        Self {
            w,
            h,
            data: pixels.iter().map(|&p| f32::from(p)).collect(),
        }
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.w + x]
    }

    /// Bilinear sample at (`x`, `y`); `None` outside the image.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> Option<f32> {
        let (wm, hm) = ((self.w - 1) as f32, (self.h - 1) as f32);
        if !(x >= 0.0 && y >= 0.0 && x <= wm && y <= hm) {
            return None;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let top = self.get(x0, y0) * (1.0 - fx) + self.get(x1, y0) * fx;
        let bottom = self.get(x0, y1) * (1.0 - fx) + self.get(x1, y1) * fx;
        Some(top * (1.0 - fy) + bottom * fy)
    }

    /// A copy as an OpenCV matrix (CV_32F).
    pub fn to_mat(&self) -> Result<Mat> {
        let m = Mat::new_rows_cols_with_data(self.h as i32, self.w as i32, &self.data)?;
        Ok(m.try_clone()?)
    }

    /// A CV_32F matrix's pixels.
    pub fn from_mat(mat: &Mat) -> Result<Self> {
        Ok(Self {
            w: mat.cols() as usize,
            h: mat.rows() as usize,
            data: mat.data_typed::<f32>()?.to_vec(),
        })
    }

    /// Gaussian smoothing with standard deviation `sigma` (edges replicated).
    pub fn gaussian(&self, sigma: f64) -> Result<Self> {
        let src = self.to_mat()?;
        let mut dst = Mat::default();
        let k = (2.0 * (3.0 * sigma).ceil() + 1.0) as i32;
        imgproc::gaussian_blur(
            &src,
            &mut dst,
            Size::new(k, k),
            sigma,
            sigma,
            BORDER_REPLICATE,
        )?;
        Self::from_mat(&dst)
    }

    /// The image at half size, each pixel the mean of a 2 x 2 block (a last odd row or column
    /// dropped).
    pub fn half(&self) -> Self {
        let (w, h) = (self.w / 2, self.h / 2);
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (a, b) = (self.get(2 * x, 2 * y), self.get(2 * x + 1, 2 * y));
                let (c, d) = (self.get(2 * x, 2 * y + 1), self.get(2 * x + 1, 2 * y + 1));
                data.push((a + b + c + d) / 4.0);
            }
        }
        Self { w, h, data }
    }

    /// Pixels rounded to u8.
    pub fn to_u8(&self) -> Vec<u8> {
        self.data
            .iter()
            .map(|&v| v.round().clamp(0.0, 255.0) as u8)
            .collect()
    }
}

/// An 8-bit single-channel matrix holding a copy of `pixels`.
pub(crate) fn mat_u8(w: usize, h: usize, pixels: &[u8]) -> Result<Mat> {
    let m = Mat::new_rows_cols_with_data(h as i32, w as i32, pixels)?;
    Ok(m.try_clone()?)
}

/// An elliptic structuring element of diameter `d` (odd).
pub(crate) fn disc(d: i32) -> Result<Mat> {
    Ok(imgproc::get_structuring_element_def(
        imgproc::MORPH_ELLIPSE,
        Size::new(d, d),
    )?)
}
