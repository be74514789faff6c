//! abis-wsq against an independent decoder (NBIS, through PyPI's `wsq` and `wsq2`; see
//! `tests/fixtures/README.md`), and against hostile input.

use abis_wsq::{decode, decode_with, DecodeOptions, WsqError};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Fixture {
    name: String,
    wsq: Vec<u8>,
    width: usize,
    height: usize,
    /// NBIS's decoding of `wsq`.
    expected: Vec<u8>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wsq"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 6, "three images at two bit rates");
    paths
        .into_iter()
        .map(|path| {
            let wsq = std::fs::read(&path).expect("read .wsq");
            let (width, height, expected) = read_pgm(&path.with_extension("pgm"));
            Fixture {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                wsq,
                width,
                height,
                expected,
            }
        })
        .collect()
}

/// A binary PGM as written by `scripts/wsq-fixtures.py`: `P5\n<w> <h>\n255\n` and the pixels.
fn read_pgm(path: &Path) -> (usize, usize, Vec<u8>) {
    let data = std::fs::read(path).expect("read .pgm");
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        let end = pos
            + data[pos..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap();
        fields.push(String::from_utf8(data[pos..end].to_vec()).unwrap());
        pos = end + 1;
    }
    assert_eq!((fields[0].as_str(), fields[3].as_str()), ("P5", "255"));
    let (w, h) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    assert_eq!(data.len() - pos, w * h, "{}", path.display());
    (w, h, data[pos..].to_vec())
}

#[test]
fn pixels_match_the_independent_decoder() {
    let (mut equal, mut total) = (0usize, 0usize);
    for f in fixtures() {
        let image = decode(&f.wsq).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(image.pixels.len(), f.expected.len(), "{}", f.name);
        let same = image
            .pixels
            .iter()
            .zip(&f.expected)
            .filter(|(a, b)| a == b)
            .count();
        let max_diff = image
            .pixels
            .iter()
            .zip(&f.expected)
            .map(|(&a, &b)| a.abs_diff(b))
            .max()
            .unwrap();
        println!(
            "{}: {}x{}, {} of {} pixels equal ({:.4}%), max |diff| {max_diff}",
            f.name,
            f.width,
            f.height,
            same,
            f.expected.len(),
            100.0 * same as f64 / f.expected.len() as f64
        );
        assert!(max_diff <= 1, "{}: max |diff| {max_diff}", f.name);
        equal += same;
        total += f.expected.len();
    }
    let fraction = equal as f64 / total as f64;
    println!("all fixtures: {equal} of {total} pixels equal ({fraction:.6})");
    // Float rounding may tip a value sitting on .5; anything more is a decoding error.
    assert!(fraction > 0.999, "only {fraction} of pixels equal");
}

#[test]
fn header_facts() {
    for f in fixtures() {
        let image = decode(&f.wsq).unwrap();
        assert_eq!(
            (image.width as usize, image.height as usize),
            (f.width, f.height),
            "{}",
            f.name
        );
        // NBIS writes a NISTCOM comment with PPI 500 when the encoder is not told otherwise.
        assert_eq!(image.ppi, Some(500), "{}", f.name);
        assert!(image.comments[0].starts_with(b"NIST_COM"), "{}", f.name);
        assert_eq!(image.frame.encoder, 2, "{}: NBIS's encoder number", f.name);
        assert!(image.frame.scale > 0.0 && image.frame.shift > 0.0);
    }
}

#[test]
fn every_truncation_is_an_error() {
    for f in fixtures() {
        // Every cut in the headers and tables, then every 5th byte of the blocks.
        let cuts = (0..f.wsq.len()).filter(|&n| n < 1200 || n % 5 == 0);
        for n in cuts {
            assert!(
                decode(&f.wsq[..n]).is_err(),
                "{}: the first {n} bytes decoded",
                f.name
            );
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let fixtures = fixtures();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5753_5121);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let f = &fixtures[rng.gen_range(0..fixtures.len())];
        let mut bytes = f.wsq.clone();
        for _ in 0..rng.gen_range(1..=4) {
            let at = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..4) {
                0 => bytes[at] ^= 1 << rng.gen_range(0..8),
                1 => bytes[at] = rng.gen(),
                2 => bytes[at] = 0xFF,
                _ => {
                    bytes.remove(at);
                }
            }
        }
        match decode(&bytes) {
            Ok(image) => {
                assert_eq!(
                    image.pixels.len(),
                    image.width as usize * image.height as usize
                );
                ok += 1;
            }
            Err(_) => err += 1,
        }
    }
    println!("3000 mutations: {ok} decoded, {err} refused");
    assert!(err > 0 && ok > 0, "mutations should hit both outcomes");
}

/// Splits a fixture into its segments: `(offset of the marker, marker, end offset)`.
fn segments(wsq: &[u8]) -> Vec<(usize, u16, usize)> {
    let mut out = vec![(0, 0xFFA0, 2)];
    let mut pos = 2;
    while pos + 2 <= wsq.len() {
        let marker = u16::from_be_bytes([wsq[pos], wsq[pos + 1]]);
        if marker == 0xFFA1 {
            out.push((pos, marker, pos + 2));
            break;
        }
        let len = usize::from(u16::from_be_bytes([wsq[pos + 2], wsq[pos + 3]]));
        let mut end = pos + 2 + len;
        if marker == 0xFFA3 {
            // The entropy-coded data runs to the next marker that is not stuffing.
            while !(wsq[end] == 0xFF && wsq[end + 1] != 0) {
                end += 1;
            }
        }
        out.push((pos, marker, end));
        pos = end;
    }
    out
}

fn without(wsq: &[u8], marker: u16) -> Vec<u8> {
    let mut out = Vec::new();
    for (start, m, end) in segments(wsq) {
        if m != marker {
            out.extend_from_slice(&wsq[start..end]);
        }
    }
    out
}

/// The first fixture's WSQ bytes, read once.
fn sample() -> Vec<u8> {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(|| fixtures().remove(0).wsq).clone()
}

#[test]
fn fixture_segments_are_what_the_walker_expects() {
    let wsq = sample();
    let markers: Vec<u16> = segments(&wsq).iter().map(|s| s.1).collect();
    assert_eq!(
        markers,
        [0xFFA0, 0xFFA8, 0xFFA4, 0xFFA5, 0xFFA2, 0xFFA6, 0xFFA3, 0xFFA6, 0xFFA3, 0xFFA3, 0xFFA1]
    );
    assert_eq!(without(&wsq, 0).len(), wsq.len());
}

#[test]
fn missing_tables_are_named() {
    let wsq = sample();
    assert_eq!(
        decode(&without(&wsq, 0xFFA4)),
        Err(WsqError::Missing("transform table (DTT)"))
    );
    assert_eq!(
        decode(&without(&wsq, 0xFFA5)),
        Err(WsqError::Missing("quantization table (DQT)"))
    );
    assert!(matches!(
        decode(&without(&wsq, 0xFFA6)),
        Err(WsqError::BadHuffmanTable { .. })
    ));
    assert!(matches!(
        decode(&without(&wsq, 0xFFA2)),
        Err(WsqError::UnexpectedMarker { .. })
    ));
    assert_eq!(decode(&wsq[2..]), Err(WsqError::NotWsq));
    assert_eq!(decode(&[]), Err(WsqError::NotWsq));
}

#[test]
fn overfull_huffman_table_is_refused() {
    let mut wsq = sample();
    let (dht, _, _) = segments(&wsq)
        .into_iter()
        .find(|s| s.1 == 0xFFA6)
        .expect("a DHT segment");
    // The 16 counts follow the marker, the length and the table id. Move three codes to
    // length 1, keeping the number of symbols: three 1-bit codes cannot exist.
    let counts = dht + 5..dht + 21;
    let donor = counts
        .clone()
        .find(|&i| wsq[i] >= 3)
        .expect("a length with three codes");
    wsq[donor] -= 3;
    wsq[counts.start] += 3;
    assert!(matches!(
        decode(&wsq),
        Err(WsqError::BadHuffmanTable {
            reason: "more codes than fit in their length",
            ..
        })
    ));
}

#[test]
fn a_missing_block_loses_coefficients() {
    let wsq = sample();
    let segs = segments(&wsq);
    // Drop the last block (SOB segment and its data).
    let (start, _, end) = segs[segs.len() - 2];
    let cut = [&wsq[..start], &wsq[end..]].concat();
    assert!(matches!(
        decode(&cut),
        Err(WsqError::CoefficientCount { .. })
    ));
}

/// SOI and a frame header declaring `width` x `height`, then a huge zero run if decoding
/// were to go on: nothing that size may be allocated.
fn hostile(width: u16, height: u16) -> Vec<u8> {
    let mut b = vec![0xFF, 0xA0, 0xFF, 0xA2, 0x00, 0x11, 0, 255];
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&[0, 0, 128, 0, 0, 1, 2, 0, 0]);
    b.extend_from_slice(&[0xFF, 0xA1]);
    b
}

#[test]
fn hostile_sizes_are_refused_before_allocation() {
    assert_eq!(
        decode(&hostile(65535, 65535)),
        Err(WsqError::TooLarge {
            width: 65535,
            height: 65535,
            max_pixels: 4096 * 4096
        })
    );
    assert!(matches!(
        decode(&hostile(5000, 4000)),
        Err(WsqError::TooLarge { .. })
    ));
    // Within the limit the header is accepted, and the missing blocks are named.
    assert_eq!(
        decode(&hostile(4096, 4096)),
        Err(WsqError::Missing("block (SOB)"))
    );
    assert!(matches!(
        decode(&hostile(0, 10)),
        Err(WsqError::BadSegment { .. })
    ));
    // A lower limit refuses a real image.
    let small = DecodeOptions::default().max_pixels(10_000);
    assert!(matches!(
        decode_with(&sample(), &small),
        Err(WsqError::TooLarge { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_after_soi_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let bytes = [&[0xFF, 0xA0][..], &tail].concat();
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_tails_after_real_tables_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..2000),
        cut in 0usize..700,
    ) {
        let wsq = sample();
        let bytes = [&wsq[..cut.min(wsq.len())], &tail].concat();
        let _ = decode(&bytes);
    }
}

#[test]
fn overlong_filters_are_refused() {
    let mut wsq = sample();
    let (dtt, _, _) = segments(&wsq)
        .into_iter()
        .find(|s| s.1 == 0xFFA4)
        .expect("a DTT segment");
    // Lengths follow the marker and the segment length: claim 33 and 31 taps.
    wsq[dtt + 4] = 33;
    wsq[dtt + 5] = 31;
    assert!(matches!(decode(&wsq), Err(WsqError::Unsupported(_))));
}
