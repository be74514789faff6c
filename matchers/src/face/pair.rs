//! One-to-one comparisons (1:1 verify, re-ranking a shortlist, scalar references) through simsimd.
//!
//! simsimd picks its own best kernel once per process, so these are the right tool when pairs
//! come one at a time. The 1:N hot path uses the block kernels instead, which read each gallery
//! row once for many probes. Mismatched lengths never panic: the common prefix is compared (debug
//! builds assert equal lengths).

use simsimd::{BinarySimilarity, SpatialSimilarity};

/// simsimd's i8 kernels accumulate in i32; with |a_i * b_i| <= 2^14 the sum cannot overflow below
/// this many components, so its result is the exact integer dot product.
const I8_EXACT_MAX_LEN: usize = 1 << 17;

/// Dot product of two f32 vectors (simsimd accumulates in f32 SIMD lanes, summed at the end).
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "dot_f32: length mismatch");
    let n = a.len().min(b.len());
    <f32 as SpatialSimilarity>::dot(&a[..n], &b[..n]).unwrap_or(0.0) as f32
}

/// Dot product of two f16 vectors, accumulated in f32 or wider.
pub fn dot_f16(a: &[half::f16], b: &[half::f16]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "dot_f16: length mismatch");
    let n = a.len().min(b.len());
    let a = as_simsimd_f16(&a[..n]);
    let b = as_simsimd_f16(&b[..n]);
    <simsimd::f16 as SpatialSimilarity>::dot(a, b).unwrap_or(0.0) as f32
}

/// Views `half::f16` values as simsimd's own f16 type.
fn as_simsimd_f16(v: &[half::f16]) -> &[simsimd::f16] {
    // SAFETY: both `half::f16` and `simsimd::f16` are `#[repr(transparent)]` wrappers of a `u16`
    // holding IEEE binary16 bits, so they have the same size, alignment and validity; the new
    // slice covers exactly the same memory and borrows it for the same lifetime.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<simsimd::f16>(), v.len()) }
}

/// Exact integer dot product of two i8 vectors (wrapping to i32 only for vectors longer than
/// 131,072 components, where the true value may exceed i32).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len(), "dot_i8: length mismatch");
    let n = a.len().min(b.len());
    if n <= I8_EXACT_MAX_LEN {
        // simsimd returns the i32 sum converted to f64: exact, so the cast back is too.
        <i8 as SpatialSimilarity>::dot(&a[..n], &b[..n]).unwrap_or(0.0) as i32
    } else {
        a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
            s.wrapping_add(i32::from(x) * i32::from(y))
        })
    }
}

/// Number of differing bits between two binary codes.
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
    debug_assert_eq!(a.len(), b.len(), "hamming: length mismatch");
    let n = a.len().min(b.len());
    <u8 as BinarySimilarity>::hamming(&a[..n], &b[..n]).unwrap_or(0.0) as u32
}
