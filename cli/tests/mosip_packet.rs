//! A whole MOSIP packet through abis: the test vector's ten finger images, two iris images and
//! face image (ISO/IEC 19794-4, -6 and -5 records, decrypted from its datashare) enrolled from an
//! applicant folder into a gallery made for images, then a re-capture made from them (small
//! rotations and shifts, blur, JPEG 2000 re-encoding) identified as that packet and not as the
//! other person enrolled beside it. `abis extract` on the packet's CBEFF writes every template
//! with its overlay.

mod common;

use abis_mosip::cbeff::{self, Modality, Sample};
use abis_mosip::datashare;
use abis_mosip::keys::DecryptionKey;
use common::{abis, shared, succeeds};
use opencv::core::{Mat, Point2f, Scalar, Size, Vector, BORDER_REPLICATE};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use std::path::{Path, PathBuf};

/// The test vector's samples; `None` outside CI when the data or a model is missing.
fn packet() -> Option<Vec<Sample>> {
    let dir = shared("mosip")?;
    if !common::model_installed() || !face_models_installed() {
        return None;
    }
    let p12 = std::fs::read(dir.join("cbeff.p12")).unwrap();
    let key = DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff")).unwrap();
    let payload = std::fs::read(dir.join("encrypted-datashare.txt")).unwrap();
    let xml = datashare::decrypt(&payload, &key).unwrap();
    Some(cbeff::samples(&xml).unwrap())
}

/// Whether dlib's face models and the detector are installed; under CI they must be.
fn face_models_installed() -> bool {
    let dir = abis_extract_face::models_dir().unwrap_or_default();
    [
        abis_extract_face::RESNET_FILE,
        abis_extract_face::LANDMARKS_5_FILE,
        abis_extract_face::detect::DETECTOR_FILE,
    ]
    .iter()
    .all(|f| abis_test_data::required(dir.join(f), "run scripts/fetch-models.sh").is_some())
}

/// An applicant folder: fingers by position, irises by eye name, an optional face.
fn applicant(
    root: &Path,
    id: &str,
    fingers: &[(u8, Vec<u8>)],
    irises: &[(&str, Vec<u8>)],
    face: Option<&[u8]>,
) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = serde_json::json!({ "packet_id": id });
    let mut entries = Vec::new();
    for (position, bytes) in fingers {
        let name = format!("finger-{position}.img");
        std::fs::write(dir.join(&name), bytes).unwrap();
        entries.push(serde_json::json!({ "position": position, "file": name }));
    }
    manifest["fingers"] = entries.into();
    let mut entries = Vec::new();
    for (eye, bytes) in irises {
        let name = format!("iris-{eye}.img");
        std::fs::write(dir.join(&name), bytes).unwrap();
        entries.push(serde_json::json!({ "eye": eye, "image": name }));
    }
    manifest["irises"] = entries.into();
    if let Some(bytes) = face {
        std::fs::write(dir.join("face.img"), bytes).unwrap();
        manifest["face_image"] = "face.img".into();
    }
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    dir
}

fn of(samples: &[Sample], modality: Modality) -> impl Iterator<Item = &Sample> {
    samples.iter().filter(move |s| s.modality == modality)
}

fn eye_of(sample: &Sample) -> &'static str {
    match sample.subtype.to_ascii_lowercase().contains("left") {
        true => "left",
        false => "right",
    }
}

/// `mat` rotated by `degrees` about its centre, moved by (`dx`, `dy`) and blurred (`sigma` 0:
/// not blurred).
fn recapture(mat: &Mat, degrees: f64, dx: f64, dy: f64, sigma: f64) -> Mat {
    let centre = Point2f::new(mat.cols() as f32 / 2.0, mat.rows() as f32 / 2.0);
    let mut m = imgproc::get_rotation_matrix_2d(centre, degrees, 1.0).unwrap();
    *m.at_2d_mut::<f64>(0, 2).unwrap() += dx;
    *m.at_2d_mut::<f64>(1, 2).unwrap() += dy;
    let mut moved = Mat::default();
    imgproc::warp_affine(
        mat,
        &mut moved,
        &m,
        mat.size().unwrap(),
        imgproc::INTER_LINEAR,
        BORDER_REPLICATE,
        Scalar::default(),
    )
    .unwrap();
    if sigma == 0.0 {
        return moved;
    }
    let mut blurred = Mat::default();
    imgproc::gaussian_blur(
        &moved,
        &mut blurred,
        Size::new(0, 0),
        sigma,
        sigma,
        BORDER_REPLICATE,
    )
    .unwrap();
    blurred
}

/// `mat` as a lossy JPEG 2000 file (compression ratio 1000 / `x1000`).
fn jpeg2000(mat: &Mat, x1000: i32) -> Vec<u8> {
    let mut bytes = Vector::<u8>::new();
    let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG2000_COMPRESSION_X1000, x1000]);
    assert!(imgcodecs::imencode(".jp2", mat, &mut bytes, &params).unwrap());
    bytes.to_vec()
}

fn grey_mat(image: &abis_imaging::GreyImage) -> Mat {
    Mat::new_rows_cols_with_data(image.height as i32, image.width as i32, &image.pixels)
        .unwrap()
        .try_clone()
        .unwrap()
}

/// A re-captured packet: fingers by position, irises by eye, the face.
type Packet = (Vec<(u8, Vec<u8>)>, Vec<(&'static str, Vec<u8>)>, Vec<u8>);

/// The re-capture of the packet's samples: fingers as raw ISO/IEC 19794-4 records at 500 ppi,
/// irises and face as JPEG 2000 files.
fn recaptured(samples: &[Sample]) -> Packet {
    let fingers = of(samples, Modality::Finger)
        .filter(|s| s.finger_position() != Some(8))
        .map(|s| {
            let record = abis_imaging::finger_record::parse(&s.data).unwrap();
            let view = &record.views[0];
            let image = view.decode().unwrap();
            let moved = recapture(&grey_mat(&image), 3.0, 2.0, -3.0, 0.7);
            let mut again = image.clone();
            again.pixels = moved.data_bytes().unwrap().to_vec();
            let bytes = abis_imaging::finger_record::write_raw_2005(&again, view.position);
            (view.position, bytes.unwrap())
        })
        .collect();
    let irises = of(samples, Modality::Iris)
        .map(|s| {
            let record = abis_imaging::iris_record::parse(&s.data).unwrap();
            let image = record.images[0].decode().unwrap();
            // Not blurred: the left eye's sharpness (531) is near the gate's floor (461), and
            // a blurred capture of it is refused, as it should be.
            let moved = recapture(&grey_mat(&image), -4.0, 3.0, 2.0, 0.0);
            (eye_of(s), jpeg2000(&moved, 300))
        })
        .collect();
    let face = of(samples, Modality::Face).next().unwrap();
    let image = abis_extract_face::decode(&face.data).unwrap();
    let rgb =
        Mat::new_rows_cols_with_data(image.height as i32, 3 * image.width as i32, &image.pixels)
            .unwrap()
            .reshape(3, image.height as i32)
            .unwrap()
            .try_clone()
            .unwrap();
    let mut bgr = Mat::default();
    imgproc::cvt_color_def(&rgb, &mut bgr, imgproc::COLOR_RGB2BGR).unwrap();
    let moved = recapture(&bgr, 3.0, -2.0, 2.0, 1.0);
    (fingers, irises, jpeg2000(&moved, 100))
}

#[test]
fn a_whole_packet_enrols_and_its_recapture_is_identified() {
    let Some(samples) = packet() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let gallery = tmp.path().join("gallery");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = abis()
            .args(args)
            .arg("--data-dir")
            .arg(&gallery)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let fingers: Vec<_> = of(&samples, Modality::Finger)
        .map(|s| (s.finger_position().unwrap(), s.data.clone()))
        .collect();
    let irises: Vec<_> = of(&samples, Modality::Iris)
        .map(|s| (eye_of(s), s.data.clone()))
        .collect();
    let face = of(&samples, Modality::Face).next().unwrap().data.clone();
    assert_eq!((fingers.len(), irises.len()), (10, 2));

    // The left middle finger is a 98 x 168 fragment with 9 minutiae: the quality gate refuses
    // the packet whole, naming it, and nothing is enrolled.
    let whole = applicant(tmp.path(), "whole", &fingers, &irises, Some(&face));
    let (code, _, err) = run(&[
        "enroll".as_ref(),
        "--gallery-shape".as_ref(),
        "images".as_ref(),
        whole.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("finger 8") && err.contains("minutiae"),
        "{err}"
    );
    let (code, out, err) = run(&["stats".as_ref()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().eq(["records", "0"])),
        "{out}"
    );

    // The packet as a registration client sends it once the fragment is marked an exception.
    let fingers: Vec<_> = fingers.into_iter().filter(|(p, _)| *p != 8).collect();
    let enrolled = applicant(tmp.path(), "packet", &fingers, &irises, Some(&face));

    // A gallery of the synthetic shape refuses iris and face images, saying what to do.
    let synthetic = tmp.path().join("synthetic");
    let out = abis()
        .arg("enroll")
        .arg(&enrolled)
        .arg("--data-dir")
        .arg(&synthetic)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--gallery-shape images"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Another person beside the packet: ten FVC2002 fingers.
    let other: Vec<(u8, Vec<u8>)> = match shared("fvc2002/DB1_B") {
        Some(db1) => (1..=10u8)
            .map(|p| (p, common::fvc_record(&db1, 100 + u32::from(p), 1, p)))
            .collect(),
        None => return,
    };
    let other = applicant(tmp.path(), "other", &other, &[], None);
    let (code, out, err) = run(&[
        "enroll".as_ref(),
        "--gallery-shape".as_ref(),
        "images".as_ref(),
        enrolled.as_os_str(),
        other.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("enrolled 2 new"), "{out}");

    let (fingers, irises, face) = recaptured(&samples);
    let probe = applicant(tmp.path(), "recapture", &fingers, &irises, Some(&face));
    let identify = |probe: &Path| {
        let (code, out, err) = run(&["identify".as_ref(), "--json".as_ref(), probe.as_os_str()]);
        assert_eq!(code, Some(0), "{err}");
        let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        eprintln!("{line}");
        line["result"]["candidates"].as_array().unwrap().clone()
    };
    let candidates = identify(&probe);
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    assert_eq!(candidates[0]["reference_id"], "packet");

    // Each modality of the re-capture alone still finds the packet.
    let alone = [
        applicant(tmp.path(), "fingers-only", &fingers, &[], None),
        applicant(tmp.path(), "irises-only", &[], &irises, None),
        applicant(tmp.path(), "face-only", &[], &[], Some(&face)),
    ];
    for probe in &alone {
        let candidates = identify(probe);
        assert_eq!(candidates.len(), 1, "{}: {candidates:?}", probe.display());
        assert_eq!(candidates[0]["reference_id"], "packet");
    }

    // The irises swapped (each eye presented as the other) match nothing.
    let swapped: Vec<_> = irises
        .iter()
        .map(|(eye, bytes)| (if *eye == "left" { "right" } else { "left" }, bytes.clone()))
        .collect();
    let swapped = applicant(tmp.path(), "swapped", &[], &swapped, None);
    assert_eq!(identify(&swapped), Vec::<serde_json::Value>::new());
}

#[test]
fn extract_writes_every_template_of_the_packet_and_refuses_bad_records() {
    let Some(samples) = packet() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let iris = of(&samples, Modality::Iris).next().unwrap();
    let face = of(&samples, Modality::Face).next().unwrap();
    let (iris_record, face_record) = (tmp.path().join("iris.iir"), tmp.path().join("face.fac"));
    std::fs::write(&iris_record, &iris.data).unwrap();
    std::fs::write(&face_record, &face.data).unwrap();

    let code = tmp.path().join("iris.code");
    let out = succeeds(
        abis()
            .arg("extract")
            .arg(&iris_record)
            .arg("--out")
            .arg(&code)
            .arg("--overlay")
            .arg(tmp.path().join("iris.png")),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pupil"));
    let layout = abis_matchers::iris::IrisLayout::OPEN_IRIS_12800;
    let (code, mask) = (
        std::fs::read(&code).unwrap(),
        std::fs::read(tmp.path().join("iris.mask")).unwrap(),
    );
    layout.check(&code, &mask).unwrap();
    assert!(std::fs::read(tmp.path().join("iris.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));

    let embedding = tmp.path().join("face.f32");
    succeeds(
        abis()
            .arg("extract")
            .arg(&face_record)
            .arg("--out")
            .arg(&embedding)
            .arg("--overlay")
            .arg(tmp.path().join("face.png")),
    );
    let bytes = std::fs::read(&embedding).unwrap();
    assert_eq!(bytes.len(), 128 * 4);
    let norm = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).powi(2))
        .sum::<f32>()
        .sqrt();
    assert!((0.5..3.0).contains(&norm), "{norm}");

    // Truncated records, an eye with nothing round in it and a blank face: exit 2, no file.
    let bad = |name: &str, bytes: &[u8], modality: &str| {
        let input = tmp.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let out_file = tmp.path().join(format!("{name}.out"));
        let out = abis()
            .arg("extract")
            .arg(&input)
            .arg("--out")
            .arg(&out_file)
            .args(["--modality", modality])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(!out_file.exists(), "{name}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    bad("iris-cut.iir", &iris.data[..600], "iris");
    bad("face-cut.fac", &face.data[..200], "face");
    let grey = Mat::new_rows_cols_with_default(240, 320, opencv::core::CV_8UC1, Scalar::all(128.0))
        .unwrap();
    let mut png = Vector::<u8>::new();
    imgcodecs::imencode(".png", &grey, &mut png, &Vector::new()).unwrap();
    let err = bad("blank-eye.png", png.as_slice(), "iris");
    assert!(err.contains("no pupil"), "{err}");
    let err = bad("blank-face.png", png.as_slice(), "face");
    assert!(err.contains("no face"), "{err}");
}
