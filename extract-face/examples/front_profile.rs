//! Per-stage timing of the face front end on one core: decode, detect, landmarks, chip.
//!
//! `cargo run --release -p abis-extract-face --example front_profile -- [--reps N]
//! [--overlay OUT.png] FILE...`
//! Each FILE is an ISO/IEC 19794-5 face record or an image file; models from the models folder
//! (`scripts/fetch-models.sh`). Prints the median milliseconds of each stage per file, and with
//! `--overlay` writes the first file's face box and landmarks drawn over it (docs/images/face.png).

use abis_extract_face::detect::{default_detector_path, FaceDetector};
use abis_extract_face::landmarks::ShapePredictor;
use abis_extract_face::{default_landmarks_5_path, front};
use anyhow::{bail, Context, Result};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut reps = 20;
    let mut overlay = None;
    loop {
        match args.first().map(String::as_str) {
            Some("--reps") => reps = args.get(1).context("--reps needs a number")?.parse()?,
            Some("--overlay") => {
                overlay = Some(args.get(1).context("--overlay needs a path")?.clone())
            }
            _ => break,
        }
        args.drain(..2);
    }
    if args.is_empty() {
        bail!("usage: front_profile [--reps N] FILE...");
    }
    let detector_path = default_detector_path().context("no models folder")?;
    let detector = FaceDetector::from_bytes(
        &std::fs::read(&detector_path).with_context(|| detector_path.display().to_string())?,
    )?;
    let predictor_path = default_landmarks_5_path().context("no models folder")?;
    let predictor = ShapePredictor::from_bytes(
        &std::fs::read(&predictor_path).with_context(|| predictor_path.display().to_string())?,
    )?;
    println!("file\tsize\tdecode_ms\tdetect_ms\tlandmarks_ms\tchip_ms\t(median of {reps})");
    for file in &args {
        let bytes = std::fs::read(file).with_context(|| file.clone())?;
        let mut times = [vec![], vec![], vec![], vec![]];
        let mut size = (0, 0);
        for _ in 0..reps {
            let t = Instant::now();
            let image = abis_extract_face::decode(&bytes)?;
            times[0].push(t.elapsed().as_secs_f64() * 1e3);
            size = (image.width, image.height);
            let t = Instant::now();
            let detection = detector.largest(&image)?;
            times[1].push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let landmarks = predictor.predict(&image, detection.face);
            times[2].push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let (_, chip) = front::chip_at(&image, &landmarks)?;
            times[3].push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(chip.width, 150);
        }
        if let Some(out) = overlay.take() {
            let image = abis_extract_face::decode(&bytes)?;
            let detection = detector.largest(&image)?;
            let landmarks = predictor.predict(&image, detection.face);
            let png = abis_extract_face::overlay::overlay_png(&image, detection.face, &landmarks)?;
            std::fs::write(&out, png).with_context(|| out.clone())?;
            println!(
                "overlay of {file} written to {out} (box score {:.1})",
                detection.score
            );
        }
        let [d, f, l, c] = times.map(median);
        println!(
            "{file}\t{}x{}\t{d:.2}\t{f:.2}\t{l:.3}\t{c:.3}",
            size.0, size.1
        );
    }
    Ok(())
}
