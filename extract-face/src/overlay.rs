//! A picture of what the front end found: the face box and the landmarks drawn over the image,
//! as PNG (for documentation and for a person checking a doubtful capture).

use crate::landmarks::{FaceBox, Point};
use crate::{FaceError, Result};
use abis_imaging::RgbImage;
use opencv::core::{Mat, Point as CvPoint, Rect, Scalar, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// `image` with `face` drawn in green and each landmark as a red ring, as PNG bytes.
pub fn overlay_png(image: &RgbImage, face: FaceBox, landmarks: &[Point]) -> Result<Vec<u8>> {
    let failed = |e: opencv::Error| FaceError::InvalidInput(format!("overlay: {}", e.message));
    let flat =
        Mat::new_rows_cols_with_data(image.height as i32, 3 * image.width as i32, &image.pixels)
            .map_err(failed)?;
    let rgb = flat.reshape(3, image.height as i32).map_err(failed)?;
    let mut bgr = Mat::default();
    imgproc::cvt_color_def(&rgb, &mut bgr, imgproc::COLOR_RGB2BGR).map_err(failed)?;
    // Lines a little thicker on large images, so they show once the picture is scaled down.
    let thickness = (image.width.max(image.height) / 400).max(1) as i32;
    let green = Scalar::new(0.0, 200.0, 0.0, 0.0);
    let red = Scalar::new(0.0, 0.0, 255.0, 0.0);
    let to_i32 = |v: i64| v.clamp(-(1 << 20), 1 << 20) as i32;
    let rect = Rect::new(
        to_i32(face.left),
        to_i32(face.top),
        to_i32(face.width()),
        to_i32(face.height()),
    );
    imgproc::rectangle(&mut bgr, rect, green, thickness, imgproc::LINE_AA, 0).map_err(failed)?;
    for p in landmarks {
        let at = CvPoint::new(p.x.round() as i32, p.y.round() as i32);
        imgproc::circle(
            &mut bgr,
            at,
            2 + thickness,
            red,
            thickness,
            imgproc::LINE_AA,
            0,
        )
        .map_err(failed)?;
    }
    let mut png = Vector::<u8>::new();
    imgcodecs::imencode_def(".png", &bgr, &mut png).map_err(failed)?;
    Ok(png.to_vec())
}
