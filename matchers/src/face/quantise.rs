//! Compact encodings of an embedding for the first search pass: f16, i8 and sign bits.
//!
//! - **f16** halves the bytes per record with ~3 significant digits, enough to rank almost
//!   exactly.
//! - **i8** uses one scale per vector (symmetric, no zero point): `q = round(v / s)` with
//!   `s = max|v| / 127`, so `|q| <= 127` and `<a, b> ~ dot_i8(qa, qb) * sa * sb`. A per-vector
//!   scale keeps the integer dot product exact and the rescale a single multiply per pair.
//! - **binary** keeps only the sign of each component (bit set when `v > 0`), most significant
//!   bit first; Hamming distance between two codes estimates the angle between the vectors
//!   (`angle ~ pi * hamming / dim` for random-like embeddings).
//!
//! These run once per enrolment or probe, not per pair, so they favour clarity over speed. Output
//! slices shorter or longer than the input are handled without panicking: only the common prefix
//! is written (debug builds assert the lengths match).

use half::f16;

/// Converts `v` to half precision into `out` (round to nearest even; values beyond the f16 range
/// become infinities).
pub fn to_f16(v: &[f32], out: &mut [f16]) {
    debug_assert_eq!(v.len(), out.len(), "to_f16: length mismatch");
    for (o, &x) in out.iter_mut().zip(v) {
        *o = f16::from_f32(x);
    }
}

/// Symmetric per-vector quantisation: `q = round(v / scale)`, `scale = max|v| / 127`; returns
/// `scale`. For unit vectors `cos(a, b) ~ dot_i8(qa, qb) * sa * sb`.
///
/// An all-zero vector gets scale 0 and an all-zero code. The input is expected to have passed
/// [`check_embedding`](super::check_embedding); non-finite components quantise to 0 (NaN) or
/// make the scale infinite (infinities) rather than panicking.
pub fn quantise_i8(v: &[f32], out: &mut [i8]) -> f32 {
    debug_assert_eq!(v.len(), out.len(), "quantise_i8: length mismatch");
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.iter_mut().for_each(|o| *o = 0);
        return 0.0;
    }
    let scale = max / 127.0;
    for (o, &x) in out.iter_mut().zip(v) {
        // `as` saturates (and maps NaN to 0); the clamp documents the symmetric range.
        *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// Sign bits of `v`, most significant bit first: bit `i` of the code is bit `7 - i % 8` of byte
/// `i / 8`, set when `v[i] > 0`. `out.len()` must be `v.len().div_ceil(8)`; unused low bits of
/// the last byte are zero.
pub fn binarise(v: &[f32], out: &mut [u8]) {
    debug_assert_eq!(
        out.len(),
        v.len().div_ceil(8),
        "binarise: wrong output length"
    );
    for (o, chunk) in out.iter_mut().zip(v.chunks(8)) {
        *o = chunk
            .iter()
            .enumerate()
            .fold(0u8, |b, (i, &x)| if x > 0.0 { b | (0x80 >> i) } else { b });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantise_uses_full_symmetric_range() {
        let v = [0.5f32, -1.0, 0.25, 0.0];
        let mut q = [0i8; 4];
        let s = quantise_i8(&v, &mut q);
        assert_eq!(s, 1.0 / 127.0);
        assert_eq!(q, [64, -127, 32, 0]);
        let mut z = [5i8; 3];
        assert_eq!(quantise_i8(&[0.0; 3], &mut z), 0.0);
        assert_eq!(z, [0; 3]);
    }

    #[test]
    fn binarise_is_msb_first_with_zero_tail() {
        let v = [1.0f32, -1.0, 0.0, 2.0, -0.0, 3.0, -3.0, 1.0, 0.5, -0.5];
        let mut b = [0xffu8; 2];
        binarise(&v, &mut b);
        assert_eq!(b, [0b1001_0101, 0b1000_0000]);
    }

    #[test]
    fn f16_round_trips_representable_values() {
        let v = [1.0f32, -0.5, 65504.0, 1e6];
        let mut h = [f16::ZERO; 4];
        to_f16(&v, &mut h);
        assert_eq!(h[0].to_f32(), 1.0);
        assert_eq!(h[1].to_f32(), -0.5);
        assert_eq!(h[2].to_f32(), 65504.0);
        assert!(h[3].to_f32().is_infinite());
    }
}
