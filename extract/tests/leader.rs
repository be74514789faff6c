//! LEADER through tract against onnxruntime on the original graph, on real FVC2002 images.
//!
//! Needs the model (`bash scripts/fetch-models.sh`) and `../shared/data`. When either is
//! missing the tests fail under `CI=true` (CI installs both, so a miss there is a real fault)
//! and are skipped with a printed note elsewhere.

use abis_extract::{
    resample_to_500ppi, to_iso_bytes, ExtractError, ExtractOptions, GreyImage, Leader,
    LeaderOutput, FETCH_COMMAND,
};
use abis_matchers::finger::format::{self, MinutiaKind};
use abis_matchers::finger::matcher;
use abis_matchers::SimdLevel;
use serde::Deserialize;
use std::f32::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Largest differences accepted between tract and onnxruntime (both f32; tract fuses and
/// reorders operations, so results agree to rounding, not bit for bit). Measured: see
/// `extract/README.md`.
const DIRECTION_TOLERANCE: f32 = 1e-4;
const VALUE_TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Fixture {
    threshold: f32,
    max_minutiae: usize,
    images: Vec<ReferenceImage>,
}

#[derive(Deserialize)]
struct ReferenceImage {
    file: String,
    ppi: f64,
    width: usize,
    height: usize,
    pixels_fnv1a64: String,
    minutiae: Vec<ReferenceMinutia>,
    grid: Grid,
}

#[derive(Deserialize)]
struct ReferenceMinutia {
    x: u16,
    y: u16,
    direction: f32,
    ending: bool,
    nms: f32,
    probability: f32,
}

#[derive(Deserialize)]
struct Grid {
    stride: usize,
    offset: usize,
    probability: Vec<Vec<f32>>,
    r#type: Vec<Vec<f32>>,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns `None`) outside CI, fails in CI.
fn missing<T>(what: String) -> Option<T> {
    assert!(!in_ci(), "CI=true and {what}");
    eprintln!("SKIP: {what}; LEADER tests not run");
    None
}

fn fvc_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fvc2002");
    if root.is_dir() {
        Some(root)
    } else {
        missing(format!("{} not found", root.display()))
    }
}

/// The model, loaded once for all tests of this binary.
fn leader() -> Option<&'static Leader> {
    static LEADER: OnceLock<Option<Leader>> = OnceLock::new();
    LEADER
        .get_or_init(|| match Leader::load_default() {
            Ok(leader) => Some(leader),
            Err(e @ (ExtractError::ModelMissing { .. } | ExtractError::NoModelsDir)) => {
                missing(e.to_string())
            }
            Err(e) => panic!("LEADER failed to load: {e}"),
        })
        .as_ref()
}

/// The image at 500 ppi, as the reference script prepares it.
fn image_500ppi(root: &Path, file: &str, ppi: f64) -> (usize, usize, Vec<u8>) {
    let image = abis_imaging::decode(&std::fs::read(root.join(file)).unwrap()).unwrap();
    let (w, h) = (image.width as usize, image.height as usize);
    resample_to_500ppi(&image.pixels, w, h, ppi).unwrap()
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/leader-reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn angle_gap(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(2.0 * PI);
    d.min(2.0 * PI - d)
}

#[test]
fn minutiae_and_maps_match_onnxruntime_on_the_original_graph() {
    let (Some(root), Some(leader)) = (fvc_root(), leader()) else {
        return;
    };
    let fixture = fixture();
    let options = ExtractOptions {
        threshold: fixture.threshold,
        max_minutiae: fixture.max_minutiae,
    };
    // The fixture's own parameters are ours.
    assert_eq!(options, ExtractOptions::default());
    let (mut max_direction, mut max_value) = (0f32, 0f32);
    for reference in &fixture.images {
        let (w, h, pixels) = image_500ppi(&root, &reference.file, reference.ppi);
        assert_eq!(
            (w, h),
            (reference.width, reference.height),
            "{}",
            reference.file
        );
        assert_eq!(
            format!("{:016x}", fnv1a64(&pixels)),
            reference.pixels_fnv1a64,
            "{}: resampled pixels differ from the reference script's",
            reference.file
        );
        let output: LeaderOutput = leader
            .infer(GreyImage::new(w, h, &pixels).unwrap())
            .unwrap();
        let ours = output.minutiae(&options);

        // Same minutiae, except that one whose score is within rounding of the threshold may
        // fall on either side of it (none does on these images; the check keeps the test
        // honest if the fixture is remade).
        let near_threshold = |s: f32| (s - options.threshold).abs() <= VALUE_TOLERANCE;
        for r in &reference.minutiae {
            let [probability, direction, typ, nms] = output.at(r.x.into(), r.y.into());
            let Some(m) = ours.iter().find(|m| (m.x, m.y) == (r.x, r.y)) else {
                assert!(
                    near_threshold(r.nms),
                    "{}: reference minutia at ({}, {}) not found",
                    reference.file,
                    r.x,
                    r.y
                );
                continue;
            };
            assert_eq!(
                m.kind == MinutiaKind::RidgeEnding,
                r.ending,
                "{}: type at ({}, {}), ours {typ}",
                reference.file,
                r.x,
                r.y
            );
            max_direction = max_direction.max(angle_gap(direction, r.direction));
            max_value = max_value
                .max((nms - r.nms).abs())
                .max((probability - r.probability).abs());
        }
        for m in &ours {
            assert!(
                near_threshold(m.score)
                    || reference.minutiae.iter().any(|r| (r.x, r.y) == (m.x, m.y)),
                "{}: minutia at ({}, {}) (score {}) is not in the reference",
                reference.file,
                m.x,
                m.y,
                m.score
            );
        }

        // The whole map, on a grid: the rewritten upsampling changes nothing anywhere.
        let grid = &reference.grid;
        for (gy, (p_row, t_row)) in grid.probability.iter().zip(&grid.r#type).enumerate() {
            for (gx, (&p, &t)) in p_row.iter().zip(t_row).enumerate() {
                let (x, y) = (
                    grid.offset + gx * grid.stride,
                    grid.offset + gy * grid.stride,
                );
                let [probability, _, typ, _] = output.at(x, y);
                // The fixture rounds to 6 decimals.
                max_value = max_value
                    .max((probability - p).abs() - 5e-7)
                    .max((typ - t).abs() - 5e-7);
            }
        }
        println!(
            "{}: {} minutiae (reference {})",
            reference.file,
            ours.len(),
            reference.minutiae.len()
        );
    }
    println!(
        "max direction difference {max_direction:.2e} rad, max value difference {max_value:.2e}"
    );
    assert!(
        max_direction <= DIRECTION_TOLERANCE,
        "direction {max_direction}"
    );
    assert!(max_value <= VALUE_TOLERANCE, "value {max_value}");
}

#[test]
fn templates_feed_the_matcher() {
    let (Some(root), Some(leader)) = (fvc_root(), leader()) else {
        return;
    };
    let template = |file: &str| {
        let (w, h, pixels) = image_500ppi(&root, file, 500.0);
        let minutiae = leader
            .extract(GreyImage::new(w, h, &pixels).unwrap())
            .unwrap();
        let bytes = to_iso_bytes(w, h, &minutiae).unwrap();
        let record = format::parse(&bytes).unwrap();
        assert_eq!((record.width, record.height), (w as u16, h as u16));
        assert_eq!(record.views[0].minutiae.len(), minutiae.len());
        record
    };
    let probe = template("DB1_B/101_1.tif");
    let mate = template("DB1_B/101_2.tif");
    let other = template("DB1_B/102_1.tif");
    let score = |a: &format::MinutiaeRecord, b: &format::MinutiaeRecord| {
        let prepare = |r: &format::MinutiaeRecord| matcher::prepare_view(r, &r.views[0]);
        matcher::compare(SimdLevel::get(), &prepare(a), &prepare(b))
    };
    let (genuine, impostor) = (score(&probe, &mate), score(&probe, &other));
    println!("genuine {genuine:.3}, impostor {impostor:.3}");
    assert!(
        genuine > impostor,
        "genuine {genuine} <= impostor {impostor}"
    );
}

#[test]
fn a_missing_model_names_the_path_and_the_command() {
    let path = Path::new("/nonexistent/abis-models/LEADER.onnx");
    let err = Leader::load(path).unwrap_err();
    assert!(matches!(err, ExtractError::ModelMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/abis-models/LEADER.onnx"),
        "{message}"
    );
    assert!(message.contains(FETCH_COMMAND), "{message}");
    assert!(!err.is_user_fault());
}

#[test]
fn a_file_that_is_not_onnx_is_refused() {
    let dir = std::env::temp_dir().join(format!("abis-extract-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("LEADER.onnx");
    std::fs::write(&path, b"not a model").unwrap();
    let err = Leader::load(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(err, ExtractError::DataCorruption(_)), "{err:?}");
}
