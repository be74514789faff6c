//! The formats OpenCV's imgcodecs decodes for us (JPEG 2000 through OpenJPEG, PNG, JPEG, TIFF),
//! and resizing with imgproc.

use crate::{GreyImage, ImageError, ImageFormat, Result, RgbImage};
use opencv::core::{Mat, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// Decodes `bytes` (already probed as `format`, within the size limits) to 8-bit grey.
pub fn decode(format: ImageFormat, bytes: &[u8]) -> Result<GreyImage> {
    let failed = |reason: String| ImageError::Decode { format, reason };
    let buffer = Vector::<u8>::from_slice(bytes);
    let mat =
        imgcodecs::imdecode(&buffer, imgcodecs::IMREAD_GRAYSCALE).map_err(|e| failed(e.message))?;
    if mat.empty() {
        return Err(failed("the codec found no image in the data".into()));
    }
    let (width, height) = (mat.cols(), mat.rows());
    let pixels = mat.data_bytes().map_err(|e| failed(e.message))?.to_vec();
    GreyImage::new(width as u32, height as u32, pixels, None)
}

/// Decodes `bytes` (already probed as `format`, within the size limits) to 8-bit RGB.
pub fn decode_rgb(format: ImageFormat, bytes: &[u8]) -> Result<RgbImage> {
    let failed = |reason: String| ImageError::Decode { format, reason };
    let buffer = Vector::<u8>::from_slice(bytes);
    let bgr =
        imgcodecs::imdecode(&buffer, imgcodecs::IMREAD_COLOR).map_err(|e| failed(e.message))?;
    if bgr.empty() {
        return Err(failed("the codec found no image in the data".into()));
    }
    let mut rgb = Mat::default();
    imgproc::cvt_color_def(&bgr, &mut rgb, imgproc::COLOR_BGR2RGB)
        .map_err(|e| failed(e.message))?;
    let (width, height) = (rgb.cols(), rgb.rows());
    let pixels = rgb.data_bytes().map_err(|e| failed(e.message))?.to_vec();
    RgbImage::new(width as u32, height as u32, pixels, None)
}

/// `image`'s pixels resized to `width` x `height`: area averaging when shrinking (no aliasing of
/// ridges), bilinear when growing.
pub fn resize(image: &GreyImage, width: u32, height: u32) -> Result<Vec<u8>> {
    let failed = |e: opencv::Error| ImageError::Invalid {
        field: "resampling",
        value: e.message,
    };
    let src = Mat::new_rows_cols_with_data(image.height as i32, image.width as i32, &image.pixels)
        .map_err(failed)?;
    let shrinking =
        u64::from(width) * u64::from(height) < u64::from(image.width) * u64::from(image.height);
    let interpolation = if shrinking {
        imgproc::INTER_AREA
    } else {
        imgproc::INTER_LINEAR
    };
    let mut dst = Mat::default();
    let size = Size::new(width as i32, height as i32);
    imgproc::resize(&src, &mut dst, size, 0.0, 0.0, interpolation).map_err(failed)?;
    Ok(dst.data_bytes().map_err(failed)?.to_vec())
}

/// `image` in colour with `marks` drawn on it, as PNG bytes.
pub fn overlay_png(image: &GreyImage, marks: &[crate::Mark]) -> Result<Vec<u8>> {
    use opencv::core::{Point, Scalar};
    let failed = |e: opencv::Error| ImageError::Invalid {
        field: "overlay",
        value: e.message,
    };
    let grey = Mat::new_rows_cols_with_data(image.height as i32, image.width as i32, &image.pixels)
        .map_err(failed)?;
    let mut colour = Mat::default();
    imgproc::cvt_color_def(&grey, &mut colour, imgproc::COLOR_GRAY2BGR).map_err(failed)?;
    for mark in marks {
        let [r, g, b] = mark.colour;
        let colour_bgr = Scalar::new(f64::from(b), f64::from(g), f64::from(r), 0.0);
        let at = Point::new(mark.x.round() as i32, mark.y.round() as i32);
        imgproc::circle(&mut colour, at, 4, colour_bgr, 1, imgproc::LINE_AA, 0).map_err(failed)?;
        if let Some(direction) = mark.direction {
            // Image rows grow downwards; a direction is counter-clockwise with y up.
            let tip = Point::new(
                (mark.x + 10.0 * direction.cos()).round() as i32,
                (mark.y - 10.0 * direction.sin()).round() as i32,
            );
            imgproc::line(&mut colour, at, tip, colour_bgr, 1, imgproc::LINE_AA, 0)
                .map_err(failed)?;
        }
    }
    let mut png = Vector::<u8>::new();
    imgcodecs::imencode_def(".png", &colour, &mut png).map_err(failed)?;
    Ok(png.to_vec())
}
