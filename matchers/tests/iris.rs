//! Iris kernels: every SIMD level against the scalar reference, rotation, normalisation, errors and
//! the real open-iris sample codes.

use abis_matchers::iris::{
    compare, interleaved, normalise_hd, raw_hd, scan, scan_interleaved, scan_score, IrisComparison,
    IrisLayout, PreparedProbe, RotationSearch, DAUGMAN_REFERENCE_BITS,
};
use abis_matchers::{MatchError, SimdLevel};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many entries [`layouts`] has.
const LAYOUTS: usize = 13;

/// Layouts that exercise every path: the two standard ones, word tails of every kernel (AVX-512
/// works on 64-byte words, AVX2 on 32-byte ones), the register-resident AVX-512 kernel (1 to 4
/// whole words), many rotations, and rows whose bit length is not a whole byte.
fn layouts() -> Vec<(IrisLayout, RotationSearch)> {
    let l = |r, c, b| IrisLayout::new(r, c, b).unwrap();
    let rs = |max_shift, step| RotationSearch { max_shift, step };
    vec![
        (IrisLayout::DAUGMAN_2048, RotationSearch::default()),
        (IrisLayout::OPEN_IRIS_12800, RotationSearch::default()),
        (IrisLayout::DAUGMAN_2048, rs(20, 1)), // 41 rotations: several groups of 8
        (IrisLayout::OPEN_IRIS_12800, rs(9, 3)),
        (l(1, 64, 1), rs(3, 1)),  // 8-byte code: only tails
        (l(3, 96, 2), rs(5, 2)),  // 72 bytes: one word plus a tail
        (l(1, 128, 3), rs(0, 1)), // 48 bytes, a single rotation
        (l(64, 5, 1), rs(1, 1)),  // 5-bit rows: the bit-at-a-time rotation path
        (l(5, 40, 8), rs(4, 1)),  // 200 bytes: 3 words + 1 lane (AVX-512), 6 words + 1 lane (AVX2)
        (l(2, 128, 2), rs(3, 1)), // 64, 128, 192 bytes: the register-resident AVX-512 kernel
        (l(4, 128, 2), rs(7, 2)),
        (l(6, 128, 2), rs(9, 1)),
        (IrisLayout::OPEN_IRIS_12800, rs(12, 1)), // 25 rotations: groups of 8, 8, 8 and 1
    ]
}

/// A random code and a mask whose density depends on `kind` (all-zero, all-one, or random).
fn template(rng: &mut ChaCha8Rng, layout: &IrisLayout, kind: u32) -> (Vec<u8>, Vec<u8>) {
    let cb = layout.code_bytes();
    let code: Vec<u8> = (0..cb).map(|_| rng.gen()).collect();
    let mask: Vec<u8> = match kind % 5 {
        0 => vec![0; cb],
        1 => vec![0xff; cb],
        2 => (0..cb)
            .map(|_| rng.gen::<u8>() | rng.gen::<u8>() | rng.gen::<u8>())
            .collect(),
        _ => (0..cb).map(|_| rng.gen()).collect(),
    };
    (code, mask)
}

/// `n` gallery rows at `stride`, starting `offset` bytes into the returned buffer (to test
/// misaligned rows). Some rows are rotated copies of `near` (so distances near 0 occur).
fn gallery(
    rng: &mut ChaCha8Rng,
    layout: &IrisLayout,
    n: usize,
    stride: usize,
    offset: usize,
    near: &(Vec<u8>, Vec<u8>),
) -> Vec<u8> {
    let mut buf = vec![0u8; offset + n * stride];
    let rb = layout.row_bytes();
    let mut row = vec![0u8; rb];
    for r in 0..n {
        let (mut code, mask) = template(rng, layout, r as u32);
        if r % 4 == 3 {
            layout.rotate(&near.0, (r % 7) as i32 - 3, &mut code);
        }
        layout.encode_row(&code, &mask, &mut row).unwrap();
        buf[offset + r * stride..][..rb].copy_from_slice(&row);
        // Bytes between rows (stride > row_bytes) must be ignored: fill them with noise.
        for b in &mut buf[offset + r * stride + rb..offset + (r + 1) * stride] {
            *b = rng.gen();
        }
    }
    buf
}

fn probes(
    rng: &mut ChaCha8Rng,
    layout: &IrisLayout,
    rot: &RotationSearch,
    count: usize,
) -> Vec<PreparedProbe> {
    (0..count)
        .map(|i| {
            let (code, mask) = template(rng, layout, i as u32 + 1);
            PreparedProbe::new(layout, &code, &mask, rot).unwrap()
        })
        .collect()
}

/// Runs `scan` on every supported level and checks it against the scalar level bit for bit, and
/// against `compare` of each pair.
fn check_scan_parity(
    layout: &IrisLayout,
    rot: &RotationSearch,
    n_probes: usize,
    n_rows: usize,
    extra: usize,
    offset: usize,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ps = probes(&mut rng, layout, rot, n_probes);
    let near = template(&mut rng, layout, 1);
    let stride = layout.row_bytes() + extra;
    let buf = gallery(&mut rng, layout, n_rows, stride, offset, &near);
    let rows = &buf[offset..];
    let mut reference = vec![f32::NAN; n_probes * n_rows];
    scan(SimdLevel::Scalar, &ps, rows, stride, &mut reference).unwrap();
    for level in SimdLevel::supported() {
        let mut out = vec![f32::NAN; n_probes * n_rows];
        scan(level, &ps, rows, stride, &mut out).unwrap();
        for (i, (a, b)) in out.iter().zip(&reference).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{level} {layout:?} {rot:?} p={} r={}: {a} vs {b}",
                i / n_rows,
                i % n_rows
            );
        }
    }
    let blocks = interleave(&mut rng, layout, rows, stride, n_rows);
    for level in SimdLevel::supported() {
        let mut out = vec![f32::NAN; n_probes * n_rows];
        scan_interleaved(level, &ps, &blocks, n_rows, &mut out).unwrap();
        for (i, (a, b)) in out.iter().zip(&reference).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "interleaved {level} {layout:?} {rot:?} p={} r={}: {a} vs {b}",
                i / n_rows,
                i % n_rows
            );
        }
    }
    for (p, probe) in ps.iter().enumerate() {
        for r in 0..n_rows {
            let row = &rows[r * stride..][..layout.row_bytes()];
            let reference_cmp = compare(SimdLevel::Scalar, probe, row);
            for level in SimdLevel::supported() {
                assert_eq!(
                    compare(level, probe, row),
                    reference_cmp,
                    "{level} compare {layout:?} p={p} r={r}"
                );
            }
            let s = reference[p * n_rows + r] as f64;
            assert!(
                (s - reference_cmp.hd_norm).abs() < 1e-6,
                "scan {s} vs compare {reference_cmp:?}"
            );
        }
    }
}

/// The first `n` rows (at `stride`) in the interleaved format; the lanes of the last block past
/// row `n - 1` hold noise, which every kernel must ignore.
fn interleave(
    rng: &mut ChaCha8Rng,
    layout: &IrisLayout,
    rows: &[u8],
    stride: usize,
    n: usize,
) -> Vec<u8> {
    let (rb, bb) = (layout.row_bytes(), interleaved::block_bytes(layout));
    let mut blocks = vec![0u8; n.div_ceil(interleaved::BLOCK_ROWS) * bb];
    rng.fill(&mut blocks[..]);
    for r in 0..n {
        let block = &mut blocks[r / interleaved::BLOCK_ROWS * bb..][..bb];
        interleaved::put_row(
            block,
            r % interleaved::BLOCK_ROWS,
            &rows[r * stride..][..rb],
        );
    }
    blocks
}

#[test]
fn scan_and_compare_match_scalar_on_every_level_and_layout() {
    assert_eq!(layouts().len(), LAYOUTS);
    for (i, (layout, rot)) in layouts().iter().enumerate() {
        for (n_probes, n_rows) in [(1, 1), (1, 37), (3, 45), (32, 7)] {
            check_scan_parity(layout, rot, n_probes, n_rows, 0, 0, 100 + i as u64);
        }
    }
}

#[test]
fn scan_accepts_misaligned_rows_and_wider_strides() {
    for (layout, rot) in layouts().iter().take(2) {
        check_scan_parity(layout, rot, 3, 41, 24, 1, 7);
        check_scan_parity(layout, rot, 2, 9, 0, 3, 8);
    }
}

#[test]
fn scalar_reference_matches_bit_level_definition() {
    // Independent of the kernels: count bit by bit straight from the definition.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (layout, rot) in layouts() {
        let a = template(&mut rng, &layout, 3);
        let b = template(&mut rng, &layout, 2);
        let probe = PreparedProbe::new(&layout, &a.0, &a.1, &rot).unwrap();
        let mut row = vec![0u8; layout.row_bytes()];
        layout.encode_row(&b.0, &b.1, &mut row).unwrap();
        let best = compare(SimdLevel::Scalar, &probe, &row);
        let mut expected: Option<IrisComparison> = None;
        for s in rot.shifts() {
            let (mut diff, mut n) = (0u32, 0u32);
            for i in 0..layout.code_bits() {
                let j = rotated_index(&layout, i, s);
                if bit(&a.1, i) && bit(&b.1, j) {
                    n += 1;
                    diff += (bit(&a.0, i) != bit(&b.0, j)) as u32;
                }
            }
            let c = IrisComparison::from_counts(diff, n, s);
            if expected.is_none_or(|e| {
                c.hd_norm < e.hd_norm || (c.hd_norm == e.hd_norm && s.abs() < e.shift.abs())
            }) {
                expected = Some(c);
            }
        }
        assert_eq!(Some(best), expected, "{layout:?}");
    }
}

fn bit(buf: &[u8], i: usize) -> bool {
    buf[i / 8] >> (7 - i % 8) & 1 == 1
}

/// Where bit `i` lands when its cell's column moves by `shift`.
fn rotated_index(layout: &IrisLayout, i: usize, shift: i32) -> usize {
    let (cols, bpc) = (layout.cols() as usize, layout.bits_per_cell() as usize);
    let (cell, b) = (i / bpc, i % bpc);
    let (row, col) = (cell / cols, cell % cols);
    let to = (col as i64 + shift as i64).rem_euclid(cols as i64) as usize;
    (row * cols + to) * bpc + b
}

#[test]
fn rotation_moves_whole_cells_and_inverts() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (layout, _) in layouts() {
        let (code, _) = template(&mut rng, &layout, 3);
        let cols = layout.cols() as i32;
        let mut there = vec![0u8; code.len()];
        let mut back = vec![0u8; code.len()];
        for s in [-cols - 1, -3, -1, 0, 1, 2, 5, cols - 1, cols, 2 * cols + 3] {
            layout.rotate(&code, s, &mut there);
            for i in 0..layout.code_bits() {
                assert_eq!(
                    bit(&there, rotated_index(&layout, i, s)),
                    bit(&code, i),
                    "{layout:?} shift {s} bit {i}"
                );
            }
            layout.rotate(&there, -s, &mut back);
            assert_eq!(back, code, "{layout:?}: rotate {s} then {}", -s);
        }
        layout.rotate(&code, cols, &mut there);
        assert_eq!(there, code, "rotating by cols is the identity");
    }
}

#[test]
fn rotated_copy_matches_at_its_shift() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for layout in [IrisLayout::DAUGMAN_2048, IrisLayout::OPEN_IRIS_12800] {
        let (code, mask) = template(&mut rng, &layout, 3);
        let rot = RotationSearch::default();
        let probe = PreparedProbe::new(&layout, &code, &mask, &rot).unwrap();
        let mut row = vec![0u8; layout.row_bytes()];
        for k in rot.shifts() {
            let (mut c, mut m) = (vec![0u8; code.len()], vec![0u8; code.len()]);
            layout.rotate(&code, k, &mut c);
            layout.rotate(&mask, k, &mut m);
            layout.encode_row(&c, &m, &mut row).unwrap();
            for level in SimdLevel::supported() {
                let best = compare(level, &probe, &row);
                assert_eq!((best.hd_raw, best.shift), (0.0, k), "{level} {layout:?}");
                assert_eq!(
                    best.bits_compared,
                    mask.iter().map(|b| b.count_ones()).sum::<u32>()
                );
                let mut out = [0f32];
                scan(
                    level,
                    std::slice::from_ref(&probe),
                    &row,
                    row.len(),
                    &mut out,
                )
                .unwrap();
                assert_eq!(out[0], scan_score(0, best.bits_compared));
            }
        }
    }
}

#[test]
fn normalisation_follows_daugman() {
    for hd in [0.0, 0.1, 0.32, 0.5, 0.7, 1.0] {
        assert!((normalise_hd(hd, DAUGMAN_REFERENCE_BITS as u32) - hd).abs() < 1e-15);
        assert_eq!(normalise_hd(hd, 0), 0.5);
    }
    // Fewer bits pull towards 0.5; more push away from it.
    assert!((normalise_hd(0.3, 400) - (0.5 - 0.2 * (400.0f64 / 911.0).sqrt())).abs() < 1e-15);
    assert!(normalise_hd(0.3, 400) > 0.3 && normalise_hd(0.3, 2000) < 0.3);
    assert_eq!(raw_hd(0, 0), 0.5);
    assert_eq!(raw_hd(3, 12), 0.25);
    assert_eq!(scan_score(0, 0), 0.5);
    assert!((scan_score(100, 911) as f64 - normalise_hd(100.0 / 911.0, 911)).abs() < 1e-6);
}

#[test]
fn all_zero_masks_give_one_half() {
    let layout = IrisLayout::DAUGMAN_2048;
    let zero = vec![0u8; layout.code_bytes()];
    let probe =
        PreparedProbe::new(&layout, &vec![0xAA; 256], &zero, &RotationSearch::default()).unwrap();
    let mut row = vec![0u8; layout.row_bytes()];
    layout
        .encode_row(&vec![0x55; 256], &vec![0xff; 256], &mut row)
        .unwrap();
    for level in SimdLevel::supported() {
        let c = compare(level, &probe, &row);
        assert_eq!(
            (c.hd_raw, c.bits_compared, c.hd_norm, c.shift),
            (0.5, 0, 0.5, 0)
        );
        let mut out = [0f32];
        scan(level, std::slice::from_ref(&probe), &row, 512, &mut out).unwrap();
        assert_eq!(out[0], 0.5);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let d = IrisLayout::DAUGMAN_2048;
    let rot = RotationSearch::default();
    let ok = vec![0u8; 256];
    assert_eq!(
        PreparedProbe::new(&d, &ok[..255], &ok, &rot).unwrap_err(),
        MatchError::WrongLength {
            what: "iris code",
            expected: 256,
            actual: 255
        }
    );
    assert_eq!(
        d.check(&ok, &[0u8; 300]).unwrap_err(),
        MatchError::WrongLength {
            what: "iris mask",
            expected: 256,
            actual: 300
        }
    );
    assert!(matches!(
        d.encode_row(&ok, &ok, &mut [0u8; 500]),
        Err(MatchError::WrongLength { .. })
    ));
    for (r, c, b) in [
        (0, 128, 2),
        (8, 0, 2),
        (8, 128, 0),
        (64, 1, 1),
        (3, 5, 1),
        (256, 256, 2),
    ] {
        assert!(
            matches!(
                IrisLayout::new(r, c, b),
                Err(MatchError::InvalidIrisLayout { .. })
            ),
            "{r}x{c}x{b}"
        );
    }
    for bad in [
        RotationSearch {
            max_shift: 3,
            step: 0,
        },
        RotationSearch {
            max_shift: 64,
            step: 1,
        },
    ] {
        assert!(matches!(bad.check(&d), Err(MatchError::InvalidRotation(_))));
        assert!(matches!(
            PreparedProbe::new(&d, &ok, &ok, &bad),
            Err(MatchError::InvalidRotation(_))
        ));
    }
    assert!(RotationSearch {
        max_shift: 63,
        step: 1
    }
    .check(&d)
    .is_ok());

    let p2048 = PreparedProbe::new(&d, &ok, &ok, &rot).unwrap();
    let o = IrisLayout::OPEN_IRIS_12800;
    let big = vec![0u8; o.code_bytes()];
    let p12800 = PreparedProbe::new(&o, &big, &big, &rot).unwrap();
    let rows = vec![0u8; 4 * 512];
    let mut out = vec![0f32; 8];
    let lvl = SimdLevel::get();
    assert!(matches!(
        scan(lvl, &[p2048.clone(), p12800], &rows, 512, &mut out),
        Err(MatchError::InvalidIrisLayout { .. })
    ));
    assert!(matches!(
        scan(lvl, std::slice::from_ref(&p2048), &rows, 512, &mut out),
        Err(MatchError::WrongLength { .. })
    ));
    assert!(matches!(
        scan(lvl, std::slice::from_ref(&p2048), &rows, 500, &mut out[..4]),
        Err(MatchError::WrongLength { .. })
    ));
    assert!(matches!(
        scan(
            lvl,
            std::slice::from_ref(&p2048),
            &rows[..2000],
            512,
            &mut out[..4]
        ),
        Err(MatchError::WrongLength { .. })
    ));
    assert!(matches!(
        scan(lvl, &[], &rows, 512, &mut out),
        Err(MatchError::WrongLength { .. })
    ));
    assert_eq!(scan(lvl, &[], &rows, 512, &mut []), Ok(()));
    assert_eq!(
        scan(lvl, std::slice::from_ref(&p2048), &rows, 512, &mut out[..4]),
        Ok(())
    );
    // Interleaved blocks: whole blocks for the rows asked, an output per (probe, row).
    let blocks = vec![0u8; 2 * interleaved::block_bytes(&d)];
    let one = std::slice::from_ref(&p2048);
    for level in SimdLevel::supported() {
        assert!(matches!(
            scan_interleaved(level, one, &blocks, 8, &mut out[..8]),
            Err(MatchError::WrongLength {
                what: "interleaved iris blocks",
                ..
            })
        ));
        assert!(matches!(
            scan_interleaved(level, one, &blocks, 12, &mut out[..8]),
            Err(MatchError::WrongLength {
                what: "iris scan output",
                ..
            })
        ));
        let mut twelve = vec![f32::NAN; 12];
        assert_eq!(
            scan_interleaved(level, one, &blocks, 12, &mut twelve),
            Ok(())
        );
        // All-zero rows and code: no bit compared anywhere, so every score is one half.
        assert!(twelve.iter().all(|&s| s == 0.5), "{level}: {twelve:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn scan_parity_property(which in 0usize..LAYOUTS, n_probes in 1usize..5, n_rows in 1usize..40, extra in 0usize..3, seed in any::<u64>()) {
        let (layout, rot) = layouts()[which];
        check_scan_parity(&layout, &rot, n_probes, n_rows, extra * 8, extra, seed);
    }
}

/// The open-iris sample codes of World's iris-mpc (16 x 200 x 4 bits, two wavelets, real and
/// imaginary part each), both eyes of one person.
#[test]
fn real_open_iris_codes_behave_like_iris_codes() {
    use base64::Engine as _;
    let Some(path) = abis_test_data::shared_data("iris/iris_mpc_sample_codes.json") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("the sample codes are readable");
    let json: serde_json::Value = serde_json::from_str(&text).expect("sample file is JSON");
    let layout = IrisLayout::OPEN_IRIS_12800;
    let decode = |key: &str| {
        let s = json[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing"));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .expect("base64");
        assert_eq!(bytes.len(), layout.code_bytes(), "{key}");
        bytes
    };
    let left = (decode("left_iris_code"), decode("left_mask_code"));
    let right = (decode("right_iris_code"), decode("right_mask_code"));
    let cell_bit =
        |buf: &[u8], row: usize, col: usize, b: usize| bit(buf, (row * 200 + col % 200) * 4 + b);

    for (eye, (code, mask)) in [("left", &left), ("right", &right)] {
        for row in 0..16 {
            for col in 0..200 {
                assert_eq!(
                    cell_bit(mask, row, col, 0),
                    cell_bit(mask, row, col, 1),
                    "{eye} mask re/im"
                );
                assert_eq!(
                    cell_bit(mask, row, col, 2),
                    cell_bit(mask, row, col, 3),
                    "{eye} mask re/im"
                );
            }
        }
        let agreement = |bits: [usize; 2]| {
            let mut same = 0;
            for row in 0..16 {
                for col in 0..200 {
                    for b in bits {
                        same +=
                            (cell_bit(code, row, col, b) == cell_bit(code, row, col + 1, b)) as u32;
                    }
                }
            }
            same as f64 / (16.0 * 200.0 * 2.0)
        };
        let (first, second) = (agreement([0, 1]), agreement([2, 3]));
        println!("{eye}: adjacent-column agreement, first wavelet {first:.4}, second wavelet {second:.4}");
        assert!(
            (0.88..=0.94).contains(&first),
            "{eye}: first wavelet agreement {first}"
        );

        // The code against itself rotated by 2 columns either way: found at that shift, distance 0.
        let rot = RotationSearch::default();
        let probe = PreparedProbe::new(&layout, code, mask, &rot).unwrap();
        for k in [-2, 2] {
            let (mut c, mut m) = (vec![0u8; 1600], vec![0u8; 1600]);
            layout.rotate(code, k, &mut c);
            layout.rotate(mask, k, &mut m);
            let mut row = vec![0u8; layout.row_bytes()];
            layout.encode_row(&c, &m, &mut row).unwrap();
            for level in SimdLevel::supported() {
                let best = compare(level, &probe, &row);
                assert_eq!((best.hd_raw, best.shift), (0.0, k), "{eye} {level}");
            }
        }
    }

    let probe = PreparedProbe::new(&layout, &left.0, &left.1, &RotationSearch::default()).unwrap();
    let mut row = vec![0u8; layout.row_bytes()];
    layout.encode_row(&right.0, &right.1, &mut row).unwrap();
    let reference = compare(SimdLevel::Scalar, &probe, &row);
    println!("left vs right: {reference:?}");
    // Left and right eyes are different irises: the raw distance is impostor-like. (The normalised
    // one, ~0.31, is pushed far from 0.5 because Daugman's 911-bit reference suits 2,048-bit codes,
    // while about 10,000 bits are compared here; see the module docs of `score.rs`.)
    assert!(
        (0.35..=0.55).contains(&reference.hd_raw),
        "left vs right eye should look like an impostor: {reference:?}"
    );
    assert!(reference.bits_compared > 8000, "{reference:?}");
    for level in SimdLevel::supported() {
        assert_eq!(compare(level, &probe, &row), reference, "{level}");
    }
}
