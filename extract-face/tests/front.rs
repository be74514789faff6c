//! The face front end against dlib itself (fixtures made by `scripts/face-front-fixtures.py`
//! with dlib 20.0.1): landmarks on the same boxes, chip geometry and chip pixels; the whole
//! front end on MOSIP's test-vector face; refusals of what is no face or no record.

use abis_extract_face::align::{extract_chip, face_chip_details, CHIP_PADDING, CHIP_SIZE};
use abis_extract_face::detect::{default_detector_path, FaceDetector};
use abis_extract_face::landmarks::{FaceBox, Point, ShapePredictor};
use abis_extract_face::{default_landmarks_5_path, FaceError, FrontEnd, FETCH_COMMAND};
use abis_imaging::{face_record, ImageError, RgbImage};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/front")
}

fn dlib_fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("dlib.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["faces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap()
        .clone()
}

fn model(path: Option<PathBuf>) -> Option<Vec<u8>> {
    let path = abis_test_data::required(path?, FETCH_COMMAND)?;
    Some(std::fs::read(path).unwrap())
}

fn predictor() -> Option<ShapePredictor> {
    Some(ShapePredictor::from_bytes(&model(default_landmarks_5_path())?).unwrap())
}

fn front_end() -> Option<FrontEnd> {
    let detector = FaceDetector::from_bytes(&model(default_detector_path())?).unwrap();
    Some(FrontEnd::new(detector, predictor()?).unwrap())
}

/// MOSIP's test-vector face record, from its datashare (`../shared/data/mosip`).
fn mosip_face_record() -> Option<Vec<u8>> {
    use abis_mosip::cbeff::{self, Modality};
    let dir = abis_test_data::shared_data("mosip")?;
    let p12 = std::fs::read(dir.join("cbeff.p12")).unwrap();
    let key =
        abis_mosip::keys::DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff")).unwrap();
    let payload = std::fs::read(dir.join("encrypted-datashare.txt")).unwrap();
    let xml = abis_mosip::datashare::decrypt(&payload, &key).unwrap();
    let samples = cbeff::samples(&xml).unwrap();
    let face = samples
        .iter()
        .find(|s| s.modality == Modality::Face)
        .unwrap();
    Some(face.data.clone())
}

fn mosip_face() -> Option<RgbImage> {
    let record = face_record::parse(&mosip_face_record()?).unwrap();
    Some(record.images[0].decode_rgb().unwrap())
}

fn astronaut(repeat: usize) -> RgbImage {
    let png = std::fs::read(fixtures().join("astronaut_face.png")).unwrap();
    let image = abis_imaging::decode_rgb(&png).unwrap();
    if repeat == 1 {
        return image;
    }
    let (w, h) = (image.width as usize, image.height as usize);
    let mut pixels = Vec::with_capacity(3 * w * h * repeat * repeat);
    for y in 0..h * repeat {
        for x in 0..w * repeat {
            let i = 3 * ((y / repeat) * w + x / repeat);
            pixels.extend_from_slice(&image.pixels[i..i + 3]);
        }
    }
    RgbImage::new((w * repeat) as u32, (h * repeat) as u32, pixels, None).unwrap()
}

fn rect(v: &Value) -> FaceBox {
    let r: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    FaceBox {
        left: r[0],
        top: r[1],
        right: r[2],
        bottom: r[3],
    }
}

fn points(v: &Value) -> Vec<Point> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| Point {
            x: p[0].as_f64().unwrap() as f32,
            y: p[1].as_f64().unwrap() as f32,
        })
        .collect()
}

fn channel_means(image: &RgbImage) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for p in image.pixels.chunks_exact(3) {
        for c in 0..3 {
            sum[c] += f64::from(p[c]);
        }
    }
    let n = f64::from(image.width * image.height);
    sum.map(|s| s / n)
}

/// Our landmarks on dlib's box and our chip on dlib's landmarks, against dlib's; returns the
/// largest landmark difference (pixels) and the chip's mean channel difference.
fn check_against_dlib(name: &str, image: &RgbImage, predictor: &ShapePredictor) -> (f32, f64) {
    let fixture = dlib_fixture(name);
    let ours = predictor.predict(image, rect(&fixture["rect"]));
    let theirs = points(&fixture["landmarks"]);
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| {
            let a = a.rounded();
            (a.x - b.x).abs().max((a.y - b.y).abs())
        })
        .fold(0.0f32, f32::max);
    assert!(worst <= 1.0, "{name}: ours {ours:?}, dlib {theirs:?}");

    // The chip from dlib's own landmarks: geometry and pixels.
    let details = face_chip_details(&theirs, CHIP_SIZE, CHIP_PADDING).unwrap();
    let want: Vec<f64> = fixture["chip_rect"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (got, want) in details.rect.iter().zip(&want) {
        assert!((got - want).abs() < 1e-6, "{name}: {details:?} vs {want:?}");
    }
    let angle = fixture["chip_angle"].as_f64().unwrap();
    assert!(
        (details.angle - angle).abs() < 1e-9,
        "{name}: {details:?} vs {angle}"
    );
    let chip = extract_chip(image, &details).unwrap();
    let means = channel_means(&chip);
    let dlib_means: Vec<f64> = fixture["chip_mean"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mean_diff = means
        .iter()
        .zip(&dlib_means)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        mean_diff < 0.5,
        "{name}: chip means {means:?}, dlib {dlib_means:?}"
    );
    if let Some(png) = fixture["chip_png"].as_str() {
        let dlib_chip =
            abis_imaging::decode_rgb(&std::fs::read(fixtures().join(png)).unwrap()).unwrap();
        let mad = chip
            .pixels
            .iter()
            .zip(&dlib_chip.pixels)
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / chip.pixels.len() as f64;
        eprintln!("{name}: mean absolute difference to dlib's chip {mad:.4} grey levels");
        assert!(
            mad < 1.0,
            "{name}: chip differs from dlib's by {mad} on average"
        );
    }
    eprintln!(
        "{name}: landmarks within {worst} px of dlib's, chip channel means within {mean_diff:.4}"
    );
    (worst, mean_diff)
}

#[test]
fn landmarks_and_chips_agree_with_dlib_on_the_public_domain_face() {
    let Some(predictor) = predictor() else { return };
    check_against_dlib("astronaut", &astronaut(1), &predictor);
    // Three times larger: dlib's image pyramid reduces it before sampling.
    check_against_dlib("astronaut_x3", &astronaut(3), &predictor);
}

#[test]
fn landmarks_and_chips_agree_with_dlib_on_the_mosip_face() {
    let (Some(predictor), Some(image)) = (predictor(), mosip_face()) else {
        return;
    };
    check_against_dlib("mosip", &image, &predictor);
}

#[test]
fn the_front_end_finds_the_mosip_face_with_plausible_landmarks() {
    let (Some(front), Some(image)) = (front_end(), mosip_face()) else {
        return;
    };
    assert_eq!((image.width, image.height), (240, 320));
    let found = front.chip_from_image(&image).unwrap();
    let face = found.detection.face;
    assert!(face.width() >= 80 && face.width() <= 240, "{found:?}");
    let l = &found.landmarks;
    for p in l {
        assert!(face.contains(p.x, p.y), "{p:?} outside {found:?}");
    }
    // Eyes above the nose; the subject's left eye (points 0, 1) on the image's right.
    assert!(l[4].y > l[0].y.max(l[1].y).max(l[2].y).max(l[3].y), "{l:?}");
    assert!(
        l[0].x > l[1].x && l[1].x > l[3].x && l[3].x > l[2].x,
        "{l:?}"
    );
    // Against dlib's landmarks with dlib's own detector's box.
    let theirs = points(&dlib_fixture("mosip")["landmarks"]);
    let worst = l
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a.x - b.x).hypot(a.y - b.y))
        .fold(0.0f32, f32::max);
    eprintln!(
        "mosip: detector box {face:?} score {:.1}, landmarks within {worst:.2} px of dlib's (HOG box)",
        found.detection.score
    );
    assert!(worst < 4.0, "ours {l:?}, dlib {theirs:?}");
    assert_eq!((found.chip.width, found.chip.height), (150, 150));
}

#[test]
fn uniform_and_noise_images_have_no_face() {
    let Some(front) = front_end() else { return };
    let grey = RgbImage::new(320, 240, vec![128; 3 * 320 * 240], None).unwrap();
    let err = front.chip_from_image(&grey).unwrap_err();
    assert!(matches!(err, FaceError::NoFace { .. }), "{err}");
    // A seeded xorshift: the same noise every run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..3 * 320 * 240)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    let noise = RgbImage::new(320, 240, noise, None).unwrap();
    let err = front.chip_from_image(&noise).unwrap_err();
    assert!(matches!(err, FaceError::NoFace { .. }), "{err}");
    // Too small to hold a face at all.
    let tiny = RgbImage::new(16, 16, vec![0; 3 * 16 * 16], None).unwrap();
    assert!(matches!(
        front.chip_from_image(&tiny),
        Err(FaceError::NoFace { .. })
    ));
}

#[test]
fn the_mosip_record_parses_and_its_damaged_copies_are_typed_errors() {
    let Some(bytes) = mosip_face_record() else {
        return;
    };
    let record = face_record::parse(&bytes).unwrap();
    assert_eq!(record.version, face_record::Version::Iso2011);
    assert_eq!(record.images.len(), 1);
    let image = &record.images[0];
    assert_eq!((image.width, image.height), (240, 320));
    assert_eq!(
        image.data_type,
        face_record::ImageDataType::Jpeg2000Lossless
    );
    // The image ends where its codestream ends (EOC), as declared; 48,977 bytes follow the
    // record, which are no part of it.
    assert_eq!(image.data.len(), 23_015);
    assert_eq!(bytes.len(), 73 + 23_015 + 48_977);
    // More trailing junk changes nothing.
    let mut junk = bytes.clone();
    junk.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
    assert_eq!(face_record::parse(&junk).unwrap(), record);
    // Cut anywhere in the headers: a truncation error naming the field.
    for cut in [0, 5, 12, 16, 20, 36, 50, 60, 72] {
        let err = face_record::parse(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, ImageError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
    }
    // Cut inside the image: the record parses only if the cut image still delimits itself,
    // and it must then fail to decode, never panic.
    for cut in [200, 5_000, 73 + 23_015 - 3] {
        match face_record::parse(&bytes[..cut]) {
            Ok(r) => assert!(r.images[0].decode_rgb().is_err(), "cut at {cut}"),
            Err(e) => assert!(
                matches!(e, ImageError::Truncated { .. }),
                "cut at {cut}: {e}"
            ),
        }
    }
    // A declared size other than the image's.
    let mut wrong = bytes.clone();
    wrong[60..62].copy_from_slice(&200u16.to_be_bytes());
    let err = face_record::parse(&wrong).unwrap().images[0]
        .decode_rgb()
        .unwrap_err();
    assert!(matches!(err, ImageError::SizeMismatch { .. }), "{err}");
    // A hostile landmark count.
    let mut points = bytes.clone();
    points[41..43].copy_from_slice(&u16::MAX.to_be_bytes());
    assert!(face_record::parse(&points).is_err());
}

#[test]
fn damaged_models_are_refused() {
    let Some(bytes) = model(default_landmarks_5_path()) else {
        return;
    };
    for cut in [0, 1, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = ShapePredictor::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, FaceError::DataCorruption { .. }),
            "cut at {cut}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ShapePredictor::from_bytes(&longer).is_err());
    let Some(seeta) = model(default_detector_path()) else {
        return;
    };
    for cut in [0, 10, seeta.len() / 2] {
        let err = FaceDetector::from_bytes(&seeta[..cut]).unwrap_err();
        assert!(
            matches!(err, FaceError::DataCorruption { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn the_overlay_is_a_png_of_the_image() {
    let image = astronaut(1);
    let face = rect(&dlib_fixture("astronaut")["rect"]);
    let png = abis_extract_face::overlay::overlay_png(
        &image,
        face,
        &points(&dlib_fixture("astronaut")["landmarks"]),
    )
    .unwrap();
    let back = abis_imaging::decode_rgb(&png).unwrap();
    assert_eq!((back.width, back.height), (image.width, image.height));
    // The box's top-left corner is drawn (green), where the image is not green.
    let [r, g, b] = back.at(face.left as u32, face.top as u32 + 10);
    assert!(g > 150 && r < 100 && b < 100, "{r} {g} {b}");
}

fn iou(a: FaceBox, b: FaceBox) -> f64 {
    let w = (a.right.min(b.right) - a.left.max(b.left) + 1).max(0);
    let h = (a.bottom.min(b.bottom) - a.top.max(b.top) + 1).max(0);
    let inter = (w * h) as f64;
    inter / ((a.width() * a.height() + b.width() * b.height()) as f64 - inter)
}

#[test]
fn the_detector_box_overlaps_dlibs_box() {
    let Some(front) = front_end() else { return };
    let mut faces = vec![("astronaut", astronaut(1))];
    faces.extend(mosip_face().map(|m| ("mosip", m)));
    for (name, image) in faces {
        let found = front.detector().largest(&image).unwrap();
        let dlib = rect(&dlib_fixture(name)["rect"]);
        let overlap = iou(found.face, dlib);
        eprintln!(
            "{name}: SeetaFace {:?} (score {:.1}), dlib HOG {dlib:?}, IoU {overlap:.3}",
            found.face, found.score
        );
        assert!(overlap > 0.55, "{name}: IoU {overlap}");
    }
}
