//! Batched exact i8 dot products: `p` probes against a block of gallery rows.
//!
//! This is the first pass of a face search: quantised 512-d embeddings are 512 bytes, a quarter
//! of f32, and integer multiply-adds are several times denser than f32 FMAs. Results are exact
//! i32 sums, identical at every level, so the re-ranking pass sees the same shortlist whatever
//! the CPU. One file per instruction set; this module validates shapes once, cuts the gallery
//! into cache blocks and dispatches on the caller's [`SimdLevel`].

mod portable;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

use super::block::{for_each_block, validate};
use crate::{Result, SimdLevel};

/// Batched exact i8 dot products: `probes` is `p x dim` (contiguous), `gallery` holds `n` rows
/// `row_stride` bytes apart (`>= dim`; the last row may omit its padding), and
/// `out[i * n + j] = <probe_i, row_j>` as an exact i32 (`out.len() == p * n`).
///
/// `level` is clamped to what the CPU supports, so any level is safe to pass. Errors are
/// `WrongLength` for a zero `dim`, probes not a whole number of vectors, a stride below `dim`, a
/// truncated last row or a wrongly sized `out`.
pub fn batch_dot_i8(
    level: SimdLevel,
    probes: &[i8],
    dim: usize,
    gallery: &[i8],
    row_stride: usize,
    out: &mut [i32],
) -> Result<()> {
    let whole = validate(
        "embedding dimension",
        probes.len(),
        dim,
        gallery.len(),
        row_stride,
        out.len(),
    )?;
    let level = level.clamp_to_cpu();
    for_each_block(whole, |b, first| {
        let gallery = &gallery[first * b.stride..];
        let out = &mut out[first..];
        match level {
            SimdLevel::Scalar => scalar::batch_dot_i8(b, probes, gallery, out),
            SimdLevel::Portable => portable::batch_dot_i8(b, probes, gallery, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `clamp_to_cpu` returned Avx2, so the CPU has AVX2; `b` comes from
            // `validate` through `for_each_block` with the slices offset to its first row.
            SimdLevel::Avx2 => unsafe { x86_avx2::batch_dot_i8(b, probes, gallery, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `clamp_to_cpu` returned Avx512, which includes AVX-512 F/BW and VNNI;
            // `b` satisfies the Block contract as above.
            SimdLevel::Avx512 => unsafe { x86_avx512::batch_dot_i8(b, probes, gallery, out) },
            #[cfg(not(target_arch = "x86_64"))]
            SimdLevel::Avx2 | SimdLevel::Avx512 => portable::batch_dot_i8(b, probes, gallery, out),
        }
    });
    Ok(())
}
