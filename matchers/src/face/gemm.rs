//! Batched exact f32 scores through faer's matrix multiply.
//!
//! `p` probes against `n` gallery rows is the matrix product `P (p x dim) * G^T (dim x n)`. faer
//! runs it with packed, register-blocked AVX-512/AVX2 micro-kernels chosen at run time, which a
//! hand-written dot-product loop cannot match once there are more than a few probes. The gallery
//! is used in place: a row-major matrix with a padded row stride, transposed as a view (no copy).
//! faer runs single-threaded ([`Par::Seq`]): the engine parallelises over gallery chunks itself.

use super::block::validate;
use crate::Result;
use faer::{linalg::matmul::matmul, Accum, MatMut, MatRef, Par};

/// Batched exact f32: `probes` is `p x dim` row-major, `gallery` holds `n` rows `row_stride`
/// floats apart (`>= dim`; rows padded for 64-byte alignment, the last may omit its padding), and
/// `out` is `p x n` row-major with `out[i * n + j] = <probe_i, row_j>`.
///
/// Errors are `WrongLength`, as for [`batch_dot_i8`](super::batch_dot_i8).
pub fn batch_dot_f32(
    probes: &[f32],
    dim: usize,
    gallery: &[f32],
    row_stride: usize,
    out: &mut [f32],
) -> Result<()> {
    let b = validate(
        "embedding dimension",
        probes.len(),
        dim,
        gallery.len(),
        row_stride,
        out.len(),
    )?;
    if b.probes == 0 || b.rows == 0 {
        return Ok(());
    }
    let lhs = MatRef::from_row_major_slice(probes, b.probes, dim);
    let rhs =
        MatRef::from_row_major_slice_with_stride(gallery, b.rows, dim, row_stride).transpose();
    let dst = MatMut::from_row_major_slice_mut(out, b.probes, b.rows);
    matmul(dst, Accum::Replace, lhs, rhs, 1.0f32, Par::Seq);
    Ok(())
}
