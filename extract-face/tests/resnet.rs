//! dlib's ResNet face descriptor run by this crate against descriptors dlib itself computed
//! (`tests/fixtures/`, made by `scripts/face-fixtures.py`), and refusal of damaged models.
//!
//! Needs the model (`bash scripts/fetch-models.sh`). When it is missing the tests fail under
//! `CI=true` (CI installs it, so a miss there is a real fault) and are skipped with a printed
//! note elsewhere.

use abis_extract_face::{
    default_landmarks_5_path, default_resnet_path, FaceError, FaceNet, CHIP_SIZE, DESCRIPTOR_DIM,
    FETCH_COMMAND,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Largest difference accepted per descriptor element between this crate and dlib (both f32;
/// the order of additions differs, and the affine layers are folded into the convolutions).
/// Measured: at most 3.2e-7 on the fixtures (descriptor elements are of order 0.1).
const TOLERANCE: f32 = 1e-5;

#[derive(Deserialize)]
struct Fixtures {
    model_sha256: String,
    chips: Vec<Chip>,
}

#[derive(Deserialize)]
struct Chip {
    name: String,
    file: String,
    descriptor: Vec<f32>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixtures() -> Fixtures {
    let text = std::fs::read_to_string(fixtures_dir().join("descriptors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The model path, or `None` (with a SKIP line) when it is not installed outside CI.
fn model_path() -> Option<PathBuf> {
    let path = default_resnet_path().expect("a models folder (set ABIS_MODELS or HOME)");
    abis_test_data::required(path, FETCH_COMMAND)
}

/// The network, loaded once for all tests of this binary.
fn net() -> Option<&'static FaceNet> {
    static NET: OnceLock<FaceNet> = OnceLock::new();
    let path = model_path()?;
    Some(NET.get_or_init(|| FaceNet::load(path).expect("the published model loads")))
}

/// RGB bytes of a fixture PNG (8-bit RGB, as the script writes them).
fn read_chip(file: &str) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(fixtures_dir().join(file)).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width as usize, info.height as usize),
        (CHIP_SIZE, CHIP_SIZE)
    );
    assert_eq!(info.color_type, png::ColorType::Rgb, "{file}");
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{file}");
    buf.truncate(info.buffer_size());
    buf
}

#[test]
fn descriptors_match_dlib() {
    let Some(net) = net() else { return };
    let fx = fixtures();
    assert!(fx.chips.len() >= 5);
    let model = std::fs::read(model_path().unwrap()).unwrap();
    assert_eq!(
        sha256_hex(&model),
        fx.model_sha256,
        "fixtures were made with another model file"
    );
    let mut worst = 0f32;
    for chip in &fx.chips {
        assert_eq!(chip.descriptor.len(), DESCRIPTOR_DIM);
        let ours = net.descriptor(&read_chip(&chip.file)).unwrap();
        let diff = ours
            .iter()
            .zip(&chip.descriptor)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!("{}: max |ours - dlib| = {diff:.2e}", chip.name);
        assert!(diff <= TOLERANCE, "{}: {diff} > {TOLERANCE}", chip.name);
        worst = worst.max(diff);
    }
    println!("worst element difference over all chips: {worst:.2e}");
    assert!(
        (net.distance_threshold() - 0.6).abs() < 1e-6,
        "the published model's threshold"
    );
}

#[test]
fn same_face_is_closer_than_patterns() {
    // The descriptor is meaningful, not only equal to dlib's: the variants of the astronaut's
    // chip lie within dlib's 0.6 of the original, the synthetic patterns do not.
    let Some(net) = net() else { return };
    let d = |file: &str| net.descriptor(&read_chip(file)).unwrap();
    let dist = |a: &[f32; 128], b: &[f32; 128]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt()
    };
    let face = d("astronaut.png");
    for variant in [
        "astronaut-flipped.png",
        "astronaut-bright.png",
        "astronaut-rotated.png",
    ] {
        let dv = dist(&face, &d(variant));
        assert!(dv < net.distance_threshold(), "{variant}: {dv}");
    }
    for pattern in ["gradient.png", "checker.png", "noise.png"] {
        let dp = dist(&face, &d(pattern));
        assert!(dp > net.distance_threshold(), "{pattern}: {dp}");
    }
}

#[test]
fn damaged_models_are_refused_with_a_typed_error() {
    let Some(path) = model_path() else { return };
    let model = std::fs::read(path).unwrap();
    let refused = |bytes: &[u8], what: &str| match FaceNet::from_bytes(bytes) {
        Err(FaceError::DataCorruption { offset, reason }) => {
            assert!(offset <= bytes.len(), "{what}: offset {offset}");
            println!("{what}: refused at byte {offset}: {reason}");
        }
        Err(other) => panic!("{what}: wrong error {other}"),
        Ok(_) => panic!("{what}: accepted"),
    };
    // Truncated anywhere: in the headers, in the first filters, in the last layer, by one byte.
    for keep in [0, 100, 400, 5_000, model.len() / 2, model.len() - 1] {
        refused(&model[..keep], &format!("truncated to {keep} bytes"));
    }
    // A byte more at the end.
    let mut longer = model.clone();
    longer.push(0);
    refused(&longer, "one byte appended");
    // The first convolution's tag renamed ("con_4" -> "con_5").
    let at = find(&model, b"con_4") + 4;
    let mut renamed = model.clone();
    renamed[at] = b'5';
    refused(&renamed, "con_5 tag");
    // The first convolution said to have 33 filters.
    let mut filters = model.clone();
    let tensor = find(&model, b"con_4") + 5;
    let after_params = tensor + 11 + 4736 * 4; // version 2, dims 4736 1 1 1, the floats
    assert_eq!(&filters[after_params..after_params + 2], &[0x01, 32]);
    filters[after_params + 1] = 33;
    refused(&filters, "33 filters");
    // The input size changed from 150 to 151.
    let mut input = model.clone();
    let dims = find(&model, b"input_rgb_image_sized") + 21 + 3 * 6;
    assert_eq!(&input[dims..dims + 2], &[0x01, 150]);
    input[dims + 1] = 151;
    refused(&input, "151x151 input");

    // Another dlib model (the 5-point landmarks) is not the face network.
    if let Some(landmarks) = abis_test_data::required(
        default_landmarks_5_path().expect("a models folder"),
        FETCH_COMMAND,
    ) {
        match FaceNet::load(landmarks) {
            Err(FaceError::DataCorruption { offset, reason }) => {
                println!("5-point model: refused at byte {offset}: {reason}")
            }
            other => panic!("5-point model as a face network: {other:?}"),
        }
    }

    let missing = std::env::temp_dir().join("abis-no-such-face-model.dat");
    match FaceNet::load(&missing) {
        Err(e @ FaceError::ModelMissing { .. }) => {
            assert!(e.to_string().contains(FETCH_COMMAND), "{e}")
        }
        other => panic!("missing model: {other:?}"),
    }
}

#[test]
fn chips_of_the_wrong_size_are_refused() {
    let Some(net) = net() else { return };
    for len in [0, 150 * 150, 150 * 150 * 3 - 1, 151 * 150 * 3] {
        let err = net.descriptor(&vec![0u8; len]).unwrap_err();
        assert!(
            matches!(err, FaceError::InvalidInput(_)) && err.is_user_fault(),
            "{len}"
        );
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("tag present in the published model")
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
