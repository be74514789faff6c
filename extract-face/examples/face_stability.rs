//! How far a face's descriptor moves under the perturbations of a re-capture: each one applied
//! alone to the image, the whole pipeline run again (detection, landmarks, chip, descriptor), and
//! the distance to the original's descriptor printed.
//!
//! `cargo run --release -p abis-extract-face --example face_stability -- FILE...`
//! Each FILE is an ISO/IEC 19794-5 face record or an image file; models from the models folder
//! (`scripts/fetch-models.sh`). Prints, per file and perturbation, the Euclidean distance of the
//! raw descriptors (dlib's "same person" is below 0.6) and the cosine of the normalised ones
//! (what the engine compares), and the same between every pair of files (different people when
//! the files are).

use abis_extract_face::FaceExtractor;
use abis_imaging::RgbImage;
use anyhow::{Context, Result};
use opencv::core::{Mat, Point2f, Scalar, Size, Vector, BORDER_REPLICATE};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// `image` as an OpenCV BGR matrix.
fn bgr(image: &RgbImage) -> Result<Mat> {
    let flat =
        Mat::new_rows_cols_with_data(image.height as i32, 3 * image.width as i32, &image.pixels)?;
    let rgb = flat.reshape(3, image.height as i32)?.try_clone()?;
    let mut out = Mat::default();
    imgproc::cvt_color_def(&rgb, &mut out, imgproc::COLOR_RGB2BGR)?;
    Ok(out)
}

/// A BGR matrix back as an RGB image.
fn rgb(mat: &Mat) -> Result<RgbImage> {
    let mut out = Mat::default();
    imgproc::cvt_color_def(mat, &mut out, imgproc::COLOR_BGR2RGB)?;
    Ok(RgbImage::new(
        out.cols() as u32,
        out.rows() as u32,
        out.data_bytes()?.to_vec(),
        None,
    )?)
}

fn warp(mat: &Mat, degrees: f64, dx: f64, dy: f64) -> Result<Mat> {
    let centre = Point2f::new(mat.cols() as f32 / 2.0, mat.rows() as f32 / 2.0);
    let mut m = imgproc::get_rotation_matrix_2d(centre, degrees, 1.0)?;
    *m.at_2d_mut::<f64>(0, 2)? += dx;
    *m.at_2d_mut::<f64>(1, 2)? += dy;
    let mut out = Mat::default();
    let size = mat.size()?;
    imgproc::warp_affine(
        mat,
        &mut out,
        &m,
        size,
        imgproc::INTER_LINEAR,
        BORDER_REPLICATE,
        Scalar::default(),
    )?;
    Ok(out)
}

fn blur(mat: &Mat, sigma: f64) -> Result<Mat> {
    let mut out = Mat::default();
    imgproc::gaussian_blur(
        mat,
        &mut out,
        Size::new(0, 0),
        sigma,
        sigma,
        BORDER_REPLICATE,
    )?;
    Ok(out)
}

/// Through OpenCV's JPEG 2000 encoder at compression `x1000` (1000 = lossless) and back.
fn jpeg2000(mat: &Mat, x1000: i32) -> Result<Mat> {
    let mut bytes = Vector::<u8>::new();
    let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG2000_COMPRESSION_X1000, x1000]);
    imgcodecs::imencode(".jp2", mat, &mut bytes, &params)?;
    Ok(imgcodecs::imdecode(&bytes, imgcodecs::IMREAD_COLOR)?)
}

fn compare(a: &[f32; 128], b: &[f32; 128]) -> (f32, f32) {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32; 128]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let distance = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt();
    (distance, dot / (norm(a) * norm(b)))
}

fn main() -> Result<()> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(!files.is_empty(), "usage: face_stability FILE...");
    let extractor = FaceExtractor::load(None)?;
    let mut originals = Vec::new();
    println!("| file | perturbation | distance | cosine |");
    println!("|---|---|---|---|");
    for file in &files {
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
        let image = abis_extract_face::decode(&bytes)?;
        let original = extractor.extract(&image)?.descriptor;
        let mat = bgr(&image)?;
        type Perturb = Box<dyn Fn(&Mat) -> Result<Mat>>;
        let perturbations: Vec<(&str, Perturb)> = vec![
            ("rotated +3 degrees", Box::new(|m| warp(m, 3.0, 0.0, 0.0))),
            ("rotated -6 degrees", Box::new(|m| warp(m, -6.0, 0.0, 0.0))),
            ("shifted (4, -3) px", Box::new(|m| warp(m, 0.0, 4.0, -3.0))),
            ("blur sigma 1", Box::new(|m| blur(m, 1.0))),
            ("blur sigma 2", Box::new(|m| blur(m, 2.0))),
            ("JPEG 2000 10:1", Box::new(|m| jpeg2000(m, 100))),
            ("JPEG 2000 40:1", Box::new(|m| jpeg2000(m, 25))),
        ];
        for (name, perturb) in &perturbations {
            let perturbed = rgb(&perturb(&mat)?)?;
            match extractor.extract(&perturbed) {
                Ok(face) => {
                    let (d, c) = compare(&original, &face.descriptor);
                    println!("| {file} | {name} | {d:.4} | {c:.4} |");
                }
                Err(e) => println!("| {file} | {name} | refused: {e} | |"),
            }
        }
        originals.push((file, original));
    }
    for (i, (a, da)) in originals.iter().enumerate() {
        for (b, db) in &originals[i + 1..] {
            let (d, c) = compare(da, db);
            println!("| {a} vs {b} | other file | {d:.4} | {c:.4} |");
        }
    }
    Ok(())
}
