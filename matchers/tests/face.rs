//! Integration tests of the face kernels: every SIMD level against the scalar reference
//! (bit-exact for integers), f32 against an f64 reference, quantisation error, input checks and
//! property tests. All data comes from seeded ChaCha generators.

use abis_matchers::face::{self, padded_stride};
use abis_matchers::{MatchError, SimdLevel};
use half::f16;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Dimensions that hit every vector tail (16, 32 and 64 lanes).
const DIMS: [usize; 13] = [1, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 257, 513];
/// Probe counts around the 2- and 4-probe tiles.
const PROBES: [usize; 4] = [1, 3, 5, 17];
/// Gallery row counts that are not multiples of the 4-row tile.
const ROWS: [usize; 4] = [1, 6, 8, 13];

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A standard normal sample (Box-Muller).
fn gauss(r: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = r.gen_range(f64::EPSILON..1.0);
    let u2: f64 = r.gen();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn unit_vector(r: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| gauss(r)).collect();
    face::l2_normalise(&mut v).unwrap();
    v
}

/// Strides to lay rows out at: packed, 64-byte padded, and an odd pitch.
fn strides(len: usize) -> [usize; 3] {
    [len, padded_stride(len), len + 3]
}

/// `rows` random rows of `len` elements at `stride` (padding filled with junk the kernels must
/// ignore), the last row unpadded.
fn gallery<T: Copy>(
    r: &mut ChaCha8Rng,
    rows: usize,
    len: usize,
    stride: usize,
    mut sample: impl FnMut(&mut ChaCha8Rng) -> T,
) -> Vec<T> {
    let total = if rows == 0 {
        0
    } else {
        (rows - 1) * stride + len
    };
    (0..total).map(|_| sample(r)).collect()
}

/// Independent reference: exact i64 sums, row by row.
fn reference_dot_i8(
    probes: &[i8],
    dim: usize,
    gallery: &[i8],
    stride: usize,
    rows: usize,
) -> Vec<i32> {
    let mut out = Vec::new();
    for p in probes.chunks(dim) {
        for j in 0..rows {
            let row = &gallery[j * stride..j * stride + dim];
            let s: i64 = p
                .iter()
                .zip(row)
                .map(|(&a, &b)| i64::from(a) * i64::from(b))
                .sum();
            out.push(i32::try_from(s).unwrap());
        }
    }
    out
}

#[test]
fn batch_dot_i8_every_level_matches_scalar_and_exact_sums() {
    let mut r = rng(1);
    for dim in DIMS {
        for stride in strides(dim) {
            for p in PROBES {
                for n in ROWS {
                    let probes: Vec<i8> = (0..p * dim).map(|_| r.gen()).collect();
                    let g = gallery(&mut r, n, dim, stride, |r| r.gen::<i8>());
                    let want = reference_dot_i8(&probes, dim, &g, stride, n);
                    let mut scalar = vec![0i32; p * n];
                    face::batch_dot_i8(SimdLevel::Scalar, &probes, dim, &g, stride, &mut scalar)
                        .unwrap();
                    assert_eq!(scalar, want, "scalar dim {dim} stride {stride} p {p} n {n}");
                    for level in SimdLevel::supported() {
                        let mut out = vec![i32::MIN; p * n];
                        face::batch_dot_i8(level, &probes, dim, &g, stride, &mut out).unwrap();
                        assert_eq!(out, scalar, "{level} dim {dim} stride {stride} p {p} n {n}");
                    }
                }
            }
        }
    }
}

#[test]
fn batch_dot_i8_extreme_values_are_exact() {
    // All -128 against all -128 and against all 127: the largest magnitudes, where a saturating
    // or unsigned-offset mistake shows.
    for dim in [63, 64, 512, 1000] {
        for (a, b) in [(-128i8, -128i8), (-128, 127), (127, 127)] {
            let probes = vec![a; 5 * dim];
            let g = vec![b; 7 * dim];
            for level in SimdLevel::supported() {
                let mut out = vec![0i32; 35];
                face::batch_dot_i8(level, &probes, dim, &g, dim, &mut out).unwrap();
                let want = i32::from(a) * i32::from(b) * dim as i32;
                assert!(
                    out.iter().all(|&x| x == want),
                    "{level} dim {dim} {a}x{b}: {out:?}"
                );
            }
        }
    }
}

#[test]
fn batched_kernels_span_several_cache_blocks() {
    // 512-byte rows give blocks of 512 rows; 1,100 rows cross two block boundaries.
    let mut r = rng(2);
    let (dim, p, n) = (512, 5, 1100);
    let probes: Vec<i8> = (0..p * dim).map(|_| r.gen()).collect();
    let g: Vec<i8> = (0..n * dim).map(|_| r.gen()).collect();
    let want = reference_dot_i8(&probes, dim, &g, dim, n);
    let bits: Vec<u8> = g.iter().map(|&x| x as u8).collect();
    let pbits: Vec<u8> = probes.iter().map(|&x| x as u8).collect();
    let mut want_h = vec![0u32; p * n];
    face::batch_hamming(SimdLevel::Scalar, &pbits, dim, &bits, dim, &mut want_h).unwrap();
    for level in SimdLevel::supported() {
        let mut out = vec![0i32; p * n];
        face::batch_dot_i8(level, &probes, dim, &g, dim, &mut out).unwrap();
        assert_eq!(out, want, "{level}");
        let mut h = vec![0u32; p * n];
        face::batch_hamming(level, &pbits, dim, &bits, dim, &mut h).unwrap();
        assert_eq!(h, want_h, "{level}");
        for i in [0, p - 1] {
            for j in [0, 511, 512, n - 1] {
                let pair = face::hamming(
                    &pbits[i * dim..(i + 1) * dim],
                    &bits[j * dim..(j + 1) * dim],
                );
                assert_eq!(h[i * n + j], pair);
            }
        }
    }
}

#[test]
fn batch_hamming_every_level_matches_scalar_and_pairs() {
    let mut r = rng(3);
    for bytes in DIMS {
        for stride in strides(bytes) {
            for p in PROBES {
                for n in ROWS {
                    let probes: Vec<u8> = (0..p * bytes).map(|_| r.gen()).collect();
                    let g = gallery(&mut r, n, bytes, stride, |r| r.gen::<u8>());
                    let mut scalar = vec![0u32; p * n];
                    face::batch_hamming(SimdLevel::Scalar, &probes, bytes, &g, stride, &mut scalar)
                        .unwrap();
                    for i in 0..p {
                        for j in 0..n {
                            let d = face::hamming(
                                &probes[i * bytes..(i + 1) * bytes],
                                &g[j * stride..j * stride + bytes],
                            );
                            assert_eq!(scalar[i * n + j], d, "bytes {bytes} p {i} row {j}");
                        }
                    }
                    for level in SimdLevel::supported() {
                        let mut out = vec![u32::MAX; p * n];
                        face::batch_hamming(level, &probes, bytes, &g, stride, &mut out).unwrap();
                        assert_eq!(
                            out, scalar,
                            "{level} bytes {bytes} stride {stride} p {p} n {n}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn batch_dot_f32_matches_f64_reference() {
    let mut r = rng(4);
    for dim in DIMS {
        for stride in strides(dim) {
            for p in PROBES {
                for n in [1, 6, 13, 70] {
                    let probes: Vec<f32> = (0..p * dim).map(|_| r.gen_range(-1.0..1.0)).collect();
                    let g = gallery(&mut r, n, dim, stride, |r| r.gen_range(-1.0f32..1.0));
                    let mut out = vec![f32::NAN; p * n];
                    face::batch_dot_f32(&probes, dim, &g, stride, &mut out).unwrap();
                    for i in 0..p {
                        for j in 0..n {
                            let (a, b) = (
                                &probes[i * dim..(i + 1) * dim],
                                &g[j * stride..j * stride + dim],
                            );
                            let exact: f64 = a
                                .iter()
                                .zip(b)
                                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                                .sum();
                            let mag: f64 =
                                a.iter().zip(b).map(|(&x, &y)| f64::from(x * y).abs()).sum();
                            let tol = 2.0 * dim as f64 * f64::from(f32::EPSILON) * mag + 1e-30;
                            let got = f64::from(out[i * n + j]);
                            assert!(
                                (got - exact).abs() <= tol,
                                "dim {dim} p {p} n {n} ({i},{j}): {got} vs {exact}"
                            );
                            // The per-pair simsimd path agrees within the same bound.
                            assert!((f64::from(face::dot_f32(a, b)) - exact).abs() <= tol);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn batch_dot_f32_spans_several_scratch_blocks() {
    // 100 probes give scratch blocks of 655 rows; 1,500 rows need three, the last partial.
    let mut r = rng(8);
    let (dim, stride, p, n) = (33, 48, 100, 1500);
    let probes: Vec<f32> = (0..p * dim).map(|_| r.gen_range(-1.0..1.0)).collect();
    let g = gallery(&mut r, n, dim, stride, |r| r.gen_range(-1.0f32..1.0));
    let mut out = vec![f32::NAN; p * n];
    face::batch_dot_f32(&probes, dim, &g, stride, &mut out).unwrap();
    for i in 0..p {
        for j in 0..n {
            let (a, b) = (
                &probes[i * dim..(i + 1) * dim],
                &g[j * stride..j * stride + dim],
            );
            let exact: f64 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let mag: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x * y).abs()).sum();
            let tol = 2.0 * dim as f64 * f64::from(f32::EPSILON) * mag;
            assert!(
                (f64::from(out[i * n + j]) - exact).abs() <= tol,
                "({i},{j})"
            );
        }
    }
}

#[test]
fn pair_dots_match_scalar_references() {
    let mut r = rng(5);
    for dim in DIMS {
        let a: Vec<f32> = (0..dim).map(|_| r.gen_range(-2.0..2.0)).collect();
        let b: Vec<f32> = (0..dim).map(|_| r.gen_range(-2.0..2.0)).collect();
        let mag: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x * y).abs())
            .sum();
        let tol = 2.0 * dim as f64 * f64::from(f32::EPSILON) * mag;

        // f16: compare against the f64 dot of the f16-rounded values.
        let (mut ha, mut hb) = (vec![f16::ZERO; dim], vec![f16::ZERO; dim]);
        face::to_f16(&a, &mut ha);
        face::to_f16(&b, &mut hb);
        let exact16: f64 = ha
            .iter()
            .zip(&hb)
            .map(|(x, y)| f64::from(x.to_f32()) * f64::from(y.to_f32()))
            .sum();
        assert!(
            (f64::from(face::dot_f16(&ha, &hb)) - exact16).abs() <= tol,
            "f16 dim {dim}"
        );

        let qa: Vec<i8> = (0..dim).map(|_| r.gen()).collect();
        let qb: Vec<i8> = (0..dim).map(|_| r.gen()).collect();
        let exact8: i32 = qa
            .iter()
            .zip(&qb)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        assert_eq!(face::dot_i8(&qa, &qb), exact8, "i8 dim {dim}");
    }
    // Longest exact case of the per-pair i8 path, and one beyond it (scalar fallback).
    for dim in [1 << 17, (1 << 17) + 1] {
        let a = vec![-128i8; dim];
        assert_eq!(face::dot_i8(&a, &a), (16384i64 * dim as i64) as i32);
    }
}

#[test]
fn i8_quantisation_approximates_cosine_of_unit_vectors() {
    let mut r = rng(6);
    let dim = 512;
    let mut worst = 0.0f32;
    for k in 0..200 {
        let a = unit_vector(&mut r, dim);
        // Half the pairs are related (a genuine-like match), half independent.
        let b = if k % 2 == 0 {
            let mut b: Vec<f32> = a
                .iter()
                .map(|&x| x + 0.5 * gauss(&mut r) / (dim as f32).sqrt())
                .collect();
            face::l2_normalise(&mut b).unwrap();
            b
        } else {
            unit_vector(&mut r, dim)
        };
        let cos = face::dot_f32(&a, &b);
        let (mut qa, mut qb) = (vec![0i8; dim], vec![0i8; dim]);
        let sa = face::quantise_i8(&a, &mut qa);
        let sb = face::quantise_i8(&b, &mut qb);
        let approx = face::dot_i8(&qa, &qb) as f32 * sa * sb;
        worst = worst.max((cos - approx).abs());
    }
    assert!(worst < 0.01, "worst i8 cosine error {worst}");
    assert!(
        worst > 0.0,
        "quantisation should not be lossless on random data"
    );
}

#[test]
fn binary_codes_estimate_the_angle() {
    let mut r = rng(7);
    let dim = 512;
    let a = unit_vector(&mut r, dim);
    let neg: Vec<f32> = a.iter().map(|x| -x).collect();
    let (mut ba, mut bn) = (vec![0u8; 64], vec![0u8; 64]);
    face::binarise(&a, &mut ba);
    face::binarise(&neg, &mut bn);
    assert_eq!(face::hamming(&ba, &ba), 0);
    assert_eq!(
        face::hamming(&ba, &bn),
        512,
        "opposite vectors differ in every sign"
    );
    // Independent vectors: about half the bits differ.
    let b = unit_vector(&mut r, dim);
    let mut bb = vec![0u8; 64];
    face::binarise(&b, &mut bb);
    let d = face::hamming(&ba, &bb);
    assert!(
        (200..312).contains(&d),
        "independent codes differ in {d} bits"
    );
}

#[test]
fn check_embedding_refuses_bad_vectors() {
    let good = vec![0.5f32; 4];
    assert_eq!(face::check_embedding(&good, 4), Ok(()));
    assert_eq!(
        face::check_embedding(&good, 5),
        Err(MatchError::WrongLength {
            what: "embedding",
            expected: 5,
            actual: 4
        })
    );
    let mut nan = good.clone();
    nan[2] = f32::NAN;
    assert!(
        matches!(face::check_embedding(&nan, 4), Err(MatchError::NonFinite { index: 2, value }) if value.is_nan())
    );
    let mut inf = good.clone();
    inf[3] = f32::NEG_INFINITY;
    assert_eq!(
        face::check_embedding(&inf, 4),
        Err(MatchError::NonFinite {
            index: 3,
            value: f32::NEG_INFINITY
        })
    );
    assert_eq!(
        face::check_embedding(&[0.0; 4], 4),
        Err(MatchError::ZeroNorm)
    );
    assert_eq!(
        face::check_embedding(&[1e-39; 4], 4),
        Err(MatchError::ZeroNorm)
    );
    assert_eq!(face::check_embedding(&[], 0), Err(MatchError::ZeroNorm));
}

#[test]
fn batch_entry_points_refuse_bad_shapes() {
    let level = SimdLevel::get();
    let mut out = vec![0i32; 4];
    let wrong = |e: Result<(), MatchError>, what: &str| {
        assert!(
            matches!(e, Err(MatchError::WrongLength { what: w, .. }) if w == what),
            "{what}: {e:?}"
        );
    };
    wrong(
        face::batch_dot_i8(level, &[0; 8], 4, &[0; 8], 4, &mut out[..3]),
        "scores",
    );
    wrong(
        face::batch_dot_i8(level, &[0; 7], 4, &[0; 8], 4, &mut out),
        "probes",
    );
    wrong(
        face::batch_dot_i8(level, &[0; 8], 4, &[0; 8], 3, &mut out),
        "gallery row stride",
    );
    wrong(
        face::batch_dot_i8(level, &[0; 8], 4, &[0; 10], 8, &mut out),
        "gallery",
    );
    wrong(
        face::batch_dot_i8(level, &[0; 8], 0, &[0; 8], 4, &mut out),
        "embedding dimension",
    );
    let mut outu = vec![0u32; 4];
    wrong(
        face::batch_hamming(level, &[0; 8], 4, &[0; 8], 4, &mut outu[..1]),
        "scores",
    );
    wrong(
        face::batch_hamming(level, &[0; 8], 0, &[0; 8], 4, &mut outu),
        "binary code bytes",
    );
    let mut outf = vec![0f32; 4];
    wrong(
        face::batch_dot_f32(&[0.0; 8], 4, &[0.0; 8], 4, &mut outf[..2]),
        "scores",
    );
    wrong(
        face::batch_dot_f32(&[0.0; 8], 4, &[0.0; 5], 2, &mut outf),
        "gallery row stride",
    );
    // Empty galleries and empty batches are fine and write nothing.
    face::batch_dot_f32(&[], 4, &[0.0; 8], 4, &mut []).unwrap();
    face::batch_dot_i8(level, &[1; 4], 4, &[], 4, &mut []).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any shape: every level equals the scalar reference for both integer kernels, and i8
    /// scores equal the per-pair dot product.
    #[test]
    fn integer_kernels_agree_on_any_shape(
        dim in 1usize..300, pad in 0usize..70, p in 1usize..9, n in 1usize..23, seed in any::<u64>()
    ) {
        let mut r = rng(seed);
        let stride = dim + pad;
        let probes: Vec<i8> = (0..p * dim).map(|_| r.gen()).collect();
        let g = gallery(&mut r, n, dim, stride, |r| r.gen::<i8>());
        let mut want = vec![0i32; p * n];
        face::batch_dot_i8(SimdLevel::Scalar, &probes, dim, &g, stride, &mut want).unwrap();
        prop_assert_eq!(want[p * n - 1], face::dot_i8(&probes[(p - 1) * dim..], &g[(n - 1) * stride..(n - 1) * stride + dim]));
        let pb: Vec<u8> = probes.iter().map(|&x| x as u8).collect();
        let gb: Vec<u8> = g.iter().map(|&x| x as u8).collect();
        let mut want_h = vec![0u32; p * n];
        face::batch_hamming(SimdLevel::Scalar, &pb, dim, &gb, stride, &mut want_h).unwrap();
        for level in SimdLevel::supported() {
            let mut out = vec![0i32; p * n];
            face::batch_dot_i8(level, &probes, dim, &g, stride, &mut out).unwrap();
            prop_assert_eq!(&out, &want, "{}", level);
            let mut h = vec![0u32; p * n];
            face::batch_hamming(level, &pb, dim, &gb, stride, &mut h).unwrap();
            prop_assert_eq!(&h, &want_h, "{}", level);
        }
    }

    /// Quantisation keeps every component within half a step of the original and never exceeds
    /// the symmetric range; binarisation keeps the signs.
    #[test]
    fn quantise_and_binarise_keep_values_and_signs(v in prop::collection::vec(-100.0f32..100.0, 1..600)) {
        let mut q = vec![0i8; v.len()];
        let s = face::quantise_i8(&v, &mut q);
        let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        prop_assert!((s - max / 127.0).abs() <= f32::EPSILON * s);
        for (&x, &y) in v.iter().zip(&q) {
            prop_assert!(y != i8::MIN);
            if s > 0.0 {
                // Half a step, plus f32 rounding of the division and the product.
                prop_assert!((x - f32::from(y) * s).abs() <= 0.5 * s + 4.0 * f32::EPSILON * x.abs());
            }
        }
        let mut b = vec![0u8; v.len().div_ceil(8)];
        face::binarise(&v, &mut b);
        for (i, &x) in v.iter().enumerate() {
            prop_assert_eq!(b[i / 8] >> (7 - i % 8) & 1 == 1, x > 0.0);
        }
    }
}
