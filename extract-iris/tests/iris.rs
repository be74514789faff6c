//! The iris pipeline on MOSIP's test-vector irises (segmentation checked by eye, code
//! statistics, stability under rotation, shift, blur and JPEG 2000 recompression, left against
//! right) and on synthetic eyes and bad input, which need no shared data.

use abis_extract_iris::{
    analyse, Circle, IrisError, IrisExtractor, IrisTemplate, Measure, QualityGate, LAYOUT,
};
use abis_imaging::iris_record::{self, Eye};
use abis_imaging::GreyImage;
use abis_matchers::iris::{compare, IrisComparison, PreparedProbe, RotationSearch};
use abis_matchers::SimdLevel;
use abis_mosip::cbeff::{self, Modality};
use abis_mosip::datashare;
use abis_mosip::keys::DecryptionKey;
use opencv::core::{Mat, Point2f, Scalar, Size, Vector, BORDER_REPLICATE};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// The two iris records of MOSIP's test vector, left then right; `None` (SKIP) outside CI when
/// the shared data is missing.
fn mosip_irises() -> Option<Vec<(Eye, Vec<u8>)>> {
    let dir = abis_test_data::shared_data("mosip")?;
    let p12 = std::fs::read(dir.join("cbeff.p12")).unwrap();
    let key = DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff")).unwrap();
    let payload = std::fs::read(dir.join("encrypted-datashare.txt")).unwrap();
    let xml = datashare::decrypt(&payload, &key).unwrap();
    let mut irises: Vec<(Eye, Vec<u8>)> = cbeff::samples(&xml)
        .unwrap()
        .into_iter()
        .filter(|s| s.modality == Modality::Iris)
        .map(|s| {
            let record = iris_record::parse(&s.data).unwrap();
            (record.images[0].eye, s.data)
        })
        .collect();
    irises.sort_by_key(|(eye, _)| eye.code() == 1);
    Some(irises)
}

fn decode(record: &[u8]) -> GreyImage {
    iris_record::parse(record).unwrap().images[0]
        .decode()
        .unwrap()
}

/// The best comparison of `a` (probe) against `b` over the engine's default rotation search.
fn hd(a: &IrisTemplate, b: &IrisTemplate) -> IrisComparison {
    let probe = PreparedProbe::new(&LAYOUT, &a.code, &a.mask, &RotationSearch::default()).unwrap();
    let mut row = vec![0u8; LAYOUT.row_bytes()];
    LAYOUT.encode_row(&b.code, &b.mask, &mut row).unwrap();
    compare(SimdLevel::Scalar, &probe, &row)
}

fn mat(image: &GreyImage) -> Mat {
    Mat::new_rows_cols_with_data(image.height as i32, image.width as i32, &image.pixels)
        .unwrap()
        .try_clone()
        .unwrap()
}

fn grey(m: &Mat) -> GreyImage {
    GreyImage::new(
        m.cols() as u32,
        m.rows() as u32,
        m.data_bytes().unwrap().to_vec(),
        None,
    )
    .unwrap()
}

/// `image` rotated by `degrees` (counter-clockwise as displayed) about `centre` and moved by
/// (`dx`, `dy`), edges replicated.
fn warp(image: &GreyImage, centre: (f32, f32), degrees: f64, dx: f64, dy: f64) -> GreyImage {
    let mut m =
        imgproc::get_rotation_matrix_2d(Point2f::new(centre.0, centre.1), degrees, 1.0).unwrap();
    *m.at_2d_mut::<f64>(0, 2).unwrap() += dx;
    *m.at_2d_mut::<f64>(1, 2).unwrap() += dy;
    let mut out = Mat::default();
    let size = Size::new(image.width as i32, image.height as i32);
    imgproc::warp_affine(
        &mat(image),
        &mut out,
        &m,
        size,
        imgproc::INTER_LINEAR,
        BORDER_REPLICATE,
        Scalar::default(),
    )
    .unwrap();
    grey(&out)
}

fn blur(image: &GreyImage, sigma: f64) -> GreyImage {
    let mut out = Mat::default();
    imgproc::gaussian_blur(
        &mat(image),
        &mut out,
        Size::new(0, 0),
        sigma,
        sigma,
        BORDER_REPLICATE,
    )
    .unwrap();
    grey(&out)
}

/// `image` through OpenCV's JPEG 2000 encoder at `ratio_x1000` (1000 = lossless) and back.
fn jpeg2000(image: &GreyImage, ratio_x1000: i32) -> GreyImage {
    let mut bytes = Vector::<u8>::new();
    let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG2000_COMPRESSION_X1000, ratio_x1000]);
    imgcodecs::imencode(".jp2", &mat(image), &mut bytes, &params).unwrap();
    abis_imaging::decode(bytes.as_slice()).unwrap()
}

/// Fraction of cells whose bits `bits` equal those of the next column (wrapping).
fn adjacent_agreement(code: &[u8], bits: [usize; 2]) -> f64 {
    let bit = |i: usize| code[i / 8] >> (7 - i % 8) & 1;
    let mut same = 0;
    for row in 0..16 {
        for col in 0..200 {
            for b in bits {
                same += u32::from(
                    bit((row * 200 + col) * 4 + b) == bit((row * 200 + (col + 1) % 200) * 4 + b),
                );
            }
        }
    }
    f64::from(same) / (16.0 * 200.0 * 2.0)
}

fn assert_near(found: Circle, expected: (f32, f32, f32), tolerance: f32, what: &str) {
    let ok = (found.x - expected.0).abs() <= tolerance
        && (found.y - expected.1).abs() <= tolerance
        && (found.r - expected.2).abs() <= tolerance;
    assert!(ok, "{what}: found {found:?}, checked by eye {expected:?}");
}

#[test]
fn mosip_irises_segment_where_checked_by_eye() {
    let Some(irises) = mosip_irises() else { return };
    // (pupil x, y, r), (iris x, y, r), read off the overlays (docs/images/iris-*.png).
    let expected = [
        (Eye::Left, (204.0, 148.4, 33.7), (202.0, 153.4, 128.1)),
        (Eye::Right, (193.1, 143.2, 40.6), (202.1, 146.2, 129.1)),
    ];
    let mut found = Vec::new();
    for (eye, record) in &irises {
        let image = decode(record);
        let t = analyse(&image).unwrap();
        let s = &t.segmentation;
        let png = abis_extract_iris::overlay_png(&image, s).unwrap();
        let out = std::env::temp_dir().join(format!("iris-{eye:?}.png").to_lowercase());
        std::fs::write(&out, png).unwrap();
        println!(
            "{eye:?}: {}x{} pupil {:?} iris {:?} upper {:?} lower {:?} quality {:?} -> {}",
            image.width,
            image.height,
            s.pupil,
            s.iris,
            s.upper_eyelid,
            s.lower_eyelid,
            t.quality,
            out.display()
        );
        // The record goes through the gate.
        let templates = IrisExtractor::default().extract_record(record).unwrap();
        assert_eq!(templates[0].0, *eye);
        assert_eq!(templates[0].1.code, t.code);
        found.push((*eye, s.pupil, s.iris));
    }
    for ((eye, pupil, iris), (expected_eye, expected_pupil, expected_iris)) in
        found.into_iter().zip(expected)
    {
        assert_eq!(eye, expected_eye);
        assert_near(pupil, expected_pupil, 3.0, "pupil");
        assert_near(iris, expected_iris, 4.0, "iris");
    }
}

#[test]
fn codes_have_the_statistics_of_real_iris_codes() {
    let Some(irises) = mosip_irises() else { return };
    for (eye, record) in &irises {
        let t = analyse(&decode(record)).unwrap();
        let (first, second) = (
            adjacent_agreement(&t.code, [0, 1]),
            adjacent_agreement(&t.code, [2, 3]),
        );
        let ones: u32 = t.code.iter().map(|b| b.count_ones()).sum();
        let balance = f64::from(ones) / 12_800.0;
        println!(
            "{eye:?}: adjacent-column agreement {first:.4} / {second:.4} (open-iris real codes \
             ~0.91 / ~0.87), ones {balance:.3}, usable {:.3}",
            t.quality.usable_fraction
        );
        // Smooth along the angle like real codes (random bits agree half the time, 0.5 +- 0.01
        // over 6,400 pairs), the coarse wavelet more than the fine one, and balanced. The fine
        // wavelet (wavelength 8 of open-iris's 512 angles) advances about 1.2 rad per code column,
        // so its agreement depends on how much fine texture the capture holds.
        assert!((0.75..=0.97).contains(&first), "{eye:?} first {first}");
        assert!(
            (0.55..=0.95).contains(&second) && second < first,
            "{eye:?} second {second}"
        );
        assert!((0.4..=0.6).contains(&balance), "{eye:?} ones {balance}");
        // Mask: real and imaginary bits alike.
        for cell in 0..3200 {
            let bit = |i: usize| t.mask[i / 8] >> (7 - i % 8) & 1;
            assert_eq!(bit(cell * 4), bit(cell * 4 + 1));
            assert_eq!(bit(cell * 4 + 2), bit(cell * 4 + 3));
        }
    }
}

#[test]
fn perturbed_captures_match_their_original_and_the_two_eyes_do_not() {
    let Some(irises) = mosip_irises() else { return };
    let mut originals = Vec::new();
    for (eye, record) in &irises {
        let image = decode(record);
        let original = analyse(&image).unwrap();
        let c = (original.segmentation.pupil.x, original.segmentation.pupil.y);
        let centre = (image.width as f32 / 2.0, image.height as f32 / 2.0);
        let perturbed: Vec<(String, GreyImage)> = vec![
            ("rotated +3 deg".into(), warp(&image, c, 3.0, 0.0, 0.0)),
            ("rotated -3 deg".into(), warp(&image, c, -3.0, 0.0, 0.0)),
            ("rotated +6 deg".into(), warp(&image, centre, 6.0, 0.0, 0.0)),
            (
                "rotated -6 deg".into(),
                warp(&image, centre, -6.0, 0.0, 0.0),
            ),
            (
                "shifted (+4.5, -2.5) px".into(),
                warp(&image, c, 0.0, 4.5, -2.5),
            ),
            (
                "shifted (-3.5, +5.5) px".into(),
                warp(&image, c, 0.0, -3.5, 5.5),
            ),
            ("blurred sigma 1".into(), blur(&image, 1.0)),
            ("blurred sigma 2".into(), blur(&image, 2.0)),
            ("JPEG 2000 x1000=100".into(), jpeg2000(&image, 100)),
            ("JPEG 2000 x1000=50".into(), jpeg2000(&image, 50)),
            ("JPEG 2000 x1000=25".into(), jpeg2000(&image, 25)),
        ];
        for (what, img) in perturbed {
            let t = analyse(&img).unwrap_or_else(|e| panic!("{eye:?} {what}: {e}"));
            let cmp = hd(&t, &original);
            println!(
                "{eye:?} {what:<24} HD {:.4} (normalised {:.4}, {} bits, shift {:+})",
                cmp.hd_raw, cmp.hd_norm, cmp.bits_compared, cmp.shift
            );
            assert!(cmp.hd_raw < 0.30, "{eye:?} {what}: HD {}", cmp.hd_raw);
        }
        originals.push(original);
    }
    let cmp = hd(&originals[0], &originals[1]);
    println!(
        "left vs right HD {:.4} (normalised {:.4}, {} bits)",
        cmp.hd_raw, cmp.hd_norm, cmp.bits_compared
    );
    assert!(cmp.hd_raw > 0.40, "left vs right HD {}", cmp.hd_raw);
}

/// xorshift64*: a seeded source for synthetic images.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
    }
}

/// A synthetic eye: smooth random iris texture (grey 70..130) in a disc on a bright sclera, a dark
/// pupil, a highlight in the pupil.
fn synthetic_eye(seed: u64, pupil: (f32, f32, f32), iris: (f32, f32, f32)) -> GreyImage {
    let (w, h) = (320usize, 240usize);
    let mut rng = Rng(seed | 1);
    let noise: Vec<u8> = (0..w * h).map(|_| rng.next()).collect();
    let noise = grey(&{
        let mut out = Mat::default();
        let src = mat(&GreyImage::new(w as u32, h as u32, noise, None).unwrap());
        imgproc::gaussian_blur(&src, &mut out, Size::new(0, 0), 2.0, 2.0, BORDER_REPLICATE)
            .unwrap();
        out
    });
    let pixels = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let d = |c: (f32, f32, f32)| (x - c.0).hypot(y - c.1);
            if d(pupil) < 4.0 && (x - pupil.0 + 3.0).abs() < 3.0 {
                250 // a highlight
            } else if d(pupil) < pupil.2 {
                20
            } else if d(iris) < iris.2 {
                // Stretch the smoothed noise (about 128 +- 15) to about 100 +- 40.
                (100.0 + 2.6 * (f32::from(noise.pixels[i]) - 128.0)).clamp(60.0, 150.0) as u8
            } else {
                190
            }
        })
        .collect();
    GreyImage::new(w as u32, h as u32, pixels, None).unwrap()
}

#[test]
fn a_synthetic_eye_is_found_and_its_rotation_is_a_column_shift() {
    let (pupil, iris) = ((158.0, 122.0, 24.0), (160.0, 120.0, 70.0));
    let image = synthetic_eye(7, pupil, iris);
    let t = IrisExtractor::default().extract(&image).unwrap();
    let s = &t.segmentation;
    assert_near(s.pupil, pupil, 1.5, "synthetic pupil");
    assert_near(s.iris, iris, 2.0, "synthetic iris");
    assert!(
        s.upper_eyelid.is_none() && s.lower_eyelid.is_none(),
        "{s:?}"
    );
    assert!(t.quality.usable_fraction > 0.8, "{:?}", t.quality);

    // Rotated by 9 degrees counter-clockwise about the pupil: 5 columns of 200.
    let rotated = warp(&image, (pupil.0, pupil.1), 9.0, 0.0, 0.0);
    let r = analyse(&rotated).unwrap();
    let probe = PreparedProbe::new(
        &LAYOUT,
        &t.code,
        &t.mask,
        &RotationSearch {
            max_shift: 8,
            step: 1,
        },
    )
    .unwrap();
    let mut row = vec![0u8; LAYOUT.row_bytes()];
    LAYOUT.encode_row(&r.code, &r.mask, &mut row).unwrap();
    let cmp = compare(SimdLevel::Scalar, &probe, &row);
    assert_eq!(cmp.shift, 5, "{cmp:?}");
    assert!(cmp.hd_raw < 0.2, "{cmp:?}");

    // Another eye's texture is another code.
    let other = analyse(&synthetic_eye(99, pupil, iris)).unwrap();
    assert!(hd(&t, &other).hd_raw > 0.4);
}

#[test]
fn images_without_an_eye_are_typed_errors() {
    let uniform = GreyImage::new(200, 150, vec![128; 200 * 150], None).unwrap();
    assert!(
        matches!(analyse(&uniform), Err(IrisError::NoPupil(_))),
        "{:?}",
        analyse(&uniform).map(|t| t.segmentation)
    );
    for seed in [1, 2, 3] {
        let mut rng = Rng(seed);
        let noise: Vec<u8> = (0..320 * 240).map(|_| rng.next()).collect();
        let noise = GreyImage::new(320, 240, noise, None).unwrap();
        let result = IrisExtractor::default().extract(&noise);
        assert!(
            matches!(
                result,
                Err(IrisError::NoPupil(_) | IrisError::NoLimbus(_) | IrisError::Unusable { .. })
            ),
            "noise {seed}: {:?}",
            result.map(|t| t.segmentation)
        );
    }
    // A dark disc with no iris around it, filling the image.
    let disc = synthetic_eye(5, (160.0, 120.0, 60.0), (160.0, 120.0, 61.0));
    assert!(IrisExtractor::default().extract(&disc).is_err());
}

#[test]
fn bad_records_are_typed_errors() {
    let eye = synthetic_eye(11, (158.0, 122.0, 24.0), (160.0, 120.0, 70.0));
    let record = iris_record::write_raw_2011(&eye, Eye::Right).unwrap();
    let extractor = IrisExtractor::default();
    let good = extractor.extract_record(&record).unwrap();
    assert_eq!(good[0].0, Eye::Right);
    let old = iris_record::write_raw_2005(&eye, Eye::Left).unwrap();
    assert_eq!(
        extractor.extract_record(&old).unwrap()[0].1.code,
        good[0].1.code
    );
    for cut in [0, 10, 60, 68, 1000, record.len() - 1] {
        let result = extractor.extract_record(&record[..cut]);
        assert!(
            matches!(result, Err(IrisError::Image(_))),
            "cut {cut}: {result:?}"
        );
    }
    let mut corrupt = record.clone();
    corrupt[0] = b'X';
    assert!(matches!(
        extractor.extract_record(&corrupt),
        Err(IrisError::Image(_))
    ));
    // Image data replaced by garbage claiming to be JPEG 2000.
    let mut fake = record.clone();
    fake[16 + 4 + 9 + 5 + 1 + 4] = 10;
    fake[68..80].copy_from_slice(&[0, 0, 0, 12, b'j', b'P', b' ', b' ', 13, 10, 0x87, 10]);
    assert!(matches!(
        extractor.extract_record(&fake),
        Err(IrisError::Image(_))
    ));
    if let Some(irises) = mosip_irises() {
        for (_, record) in irises {
            let mut broken = record.clone();
            let n = broken.len();
            for b in &mut broken[200..n.min(4000)] {
                *b ^= 0x5a;
            }
            // Either a typed error or a template from whatever the codec made of it: the call
            // must return (a panic fails the test).
            let _ = extractor.extract_record(&broken);
            let result = extractor.extract_record(&record[..record.len().min(3000)]);
            assert!(result.is_err(), "a record cut to 3,000 bytes: {result:?}");
        }
    }
}

#[test]
fn the_gate_names_the_measure_that_fails() {
    let image = synthetic_eye(7, (158.0, 122.0, 24.0), (160.0, 120.0, 70.0));
    let quality = analyse(&image).unwrap().quality;
    let strict = |gate: QualityGate| IrisExtractor::new(gate).extract(&image);
    let refused = strict(QualityGate {
        min_iris_radius: 100.0,
        ..QualityGate::default()
    });
    assert!(
        matches!(refused, Err(IrisError::Unusable { measure: Measure::IrisRadius, value, min, .. })
            if value == quality.iris_radius && min == 100.0),
        "{refused:?}"
    );
    let refused = strict(QualityGate {
        max_pupil_iris_ratio: 0.2,
        ..QualityGate::default()
    });
    assert!(
        matches!(
            refused,
            Err(IrisError::Unusable {
                measure: Measure::PupilIrisRatio,
                ..
            })
        ),
        "{refused:?}"
    );
    let refused = strict(QualityGate {
        min_sharpness: quality.sharpness + 1.0,
        ..QualityGate::default()
    });
    assert!(
        matches!(
            refused,
            Err(IrisError::Unusable {
                measure: Measure::Sharpness,
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(IrisExtractor::new(QualityGate::off())
        .extract(&image)
        .is_ok());
}

#[test]
fn tiny_images_are_typed_errors() {
    for (w, h) in [(1, 1), (3, 2), (2, 40), (40, 3), (16, 16)] {
        let pixels = (0..w * h).map(|i| (i * 37 % 256) as u8).collect();
        let image = GreyImage::new(w, h, pixels, None).unwrap();
        let result = analyse(&image);
        assert!(
            matches!(result, Err(IrisError::NoPupil(_) | IrisError::NoLimbus(_))),
            "{w} x {h}: {:?}",
            result.map(|t| t.segmentation)
        );
    }
}
