//! A picture of a segmentation: the image with the pupil (green) and limbus (cyan) circles, the
//! eyelid curves (yellow) and the iris pixels left out of the code tinted red.

use crate::segment::Segmentation;
use crate::Result;
use abis_imaging::GreyImage;
use opencv::core::{Mat, Point, Scalar, Vec3b, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// `image` with `seg` drawn on it, as PNG bytes. The segmentation must be of this image.
pub fn overlay_png(image: &GreyImage, seg: &Segmentation) -> Result<Vec<u8>> {
    if (image.width, image.height) != (seg.width, seg.height) {
        return Err(crate::IrisError::Processing(format!(
            "segmentation of a {} x {} image drawn on a {} x {} one",
            seg.width, seg.height, image.width, image.height
        )));
    }
    let w = image.width as usize;
    let pixels: Vec<Vec3b> = image
        .pixels
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            if seg.in_ring(x, y) && seg.usable[i] == 0 {
                let tint = |c: u8| ((u16::from(v) + u16::from(c)) / 2) as u8;
                Vec3b::from([tint(0), tint(0), tint(255)])
            } else {
                Vec3b::from([v, v, v])
            }
        })
        .collect();
    let mut canvas =
        Mat::new_rows_cols_with_data(image.height as i32, image.width as i32, &pixels)?
            .try_clone()?;
    // Coordinates in 1/16 px (shift 4) keep sub-pixel circles.
    let fixed = |v: f32| (v * 16.0).round() as i32;
    for (circle, colour) in [
        (seg.pupil, Scalar::new(0.0, 255.0, 0.0, 0.0)),
        (seg.iris, Scalar::new(255.0, 255.0, 0.0, 0.0)),
    ] {
        imgproc::circle(
            &mut canvas,
            Point::new(fixed(circle.x), fixed(circle.y)),
            fixed(circle.r),
            colour,
            1,
            imgproc::LINE_AA,
            4,
        )?;
    }
    for lid in [seg.upper_eyelid, seg.lower_eyelid].into_iter().flatten() {
        let (x0, x1) = (seg.iris.x - seg.iris.r, seg.iris.x + seg.iris.r);
        let points: Vector<Point> = (0..=64)
            .map(|k| {
                let x = x0 + (x1 - x0) * k as f32 / 64.0;
                Point::new(fixed(x), fixed(lid.y(x)))
            })
            .collect();
        imgproc::polylines(
            &mut canvas,
            &points,
            false,
            Scalar::new(0.0, 255.0, 255.0, 0.0),
            1,
            imgproc::LINE_AA,
            4,
        )?;
    }
    let mut png = Vector::<u8>::new();
    let smallest = Vector::from_slice(&[imgcodecs::IMWRITE_PNG_COMPRESSION, 9]);
    imgcodecs::imencode(".png", &canvas, &mut png, &smallest)?;
    Ok(png.to_vec())
}
