//! Batched Hamming distances between binary (sign-bit) embedding codes.
//!
//! A 512-d embedding's signs fit in 64 bytes, a 32nd of its f32 form: the cheapest possible first
//! pass, and a single-probe scan of it is bound by memory bandwidth only. Distances are exact
//! integers, identical at every level. Layout, validation and cache blocking are those of the i8
//! kernels ([`batch_dot_i8`](super::batch_dot_i8)).

mod portable;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

use super::block::{for_each_block, validate};
use crate::{Result, SimdLevel};

/// Batched Hamming distances: `probes` is `p x bytes` (contiguous), `gallery` holds `n` codes
/// `row_stride` bytes apart (`>= bytes`; the last may omit its padding), and
/// `out[i * n + j] = popcount(probe_i ^ row_j)` (`out.len() == p * n`).
///
/// `level` is clamped to what the CPU supports. Errors are `WrongLength`, as for
/// [`batch_dot_i8`](super::batch_dot_i8).
pub fn batch_hamming(
    level: SimdLevel,
    probes: &[u8],
    bytes: usize,
    gallery: &[u8],
    row_stride: usize,
    out: &mut [u32],
) -> Result<()> {
    let whole = validate(
        "binary code bytes",
        probes.len(),
        bytes,
        gallery.len(),
        row_stride,
        out.len(),
    )?;
    let level = level.clamp_to_cpu();
    for_each_block(whole, |b, first| {
        let gallery = &gallery[first * b.stride..];
        let out = &mut out[first..];
        match level {
            SimdLevel::Scalar => scalar::batch_hamming(b, probes, gallery, out),
            SimdLevel::Portable => portable::batch_hamming(b, probes, gallery, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `clamp_to_cpu` returned Avx2, so the CPU has AVX2; `b` comes from
            // `validate` through `for_each_block` with the slices offset to its first row.
            SimdLevel::Avx2 => unsafe { x86_avx2::batch_hamming(b, probes, gallery, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `clamp_to_cpu` returned Avx512, which includes AVX-512 F/BW and
            // VPOPCNTDQ; `b` satisfies the Block contract as above.
            SimdLevel::Avx512 => unsafe { x86_avx512::batch_hamming(b, probes, gallery, out) },
            #[cfg(not(target_arch = "x86_64"))]
            SimdLevel::Avx2 | SimdLevel::Avx512 => portable::batch_hamming(b, probes, gallery, out),
        }
    });
    Ok(())
}
