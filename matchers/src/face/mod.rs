//! Face embeddings: validation, compact encodings and the dot-product kernels that compare them.
//!
//! A face template is an L2-normalised embedding of a fixed dimension per gallery (128 or 512
//! typical), so similarity is a dot product (the cosine). The engine stores it in f32 for exact
//! scores and in compact forms for a first pass over the whole gallery:
//!
//! | form   | 512-d bytes | kernel                                    | exact?                   |
//! |--------|-------------|-------------------------------------------|--------------------------|
//! | f32    | 2,048       | [`batch_dot_f32`] (faer GEMM), [`dot_f32`] | yes                      |
//! | f16    | 1,024       | [`dot_f16`]                                | ~3 digits                |
//! | i8     | 512         | [`batch_dot_i8`] (VNNI), [`dot_i8`]        | exact integer, ~1% cosine |
//! | binary | 64          | [`batch_hamming`] (VPOPCNTDQ), [`hamming`] | angle estimate           |
//!
//! Per-pair functions ([`dot_f32`], [`dot_f16`], [`dot_i8`], [`hamming`]) go through simsimd and
//! serve 1:1 verification and re-ranking a shortlist. The batched functions are the 1:N hot path:
//! they compare a block of gallery rows with many probes while it is in cache, writing a
//! `probes x rows` score matrix. Gallery rows sit `row_stride` elements apart (see
//! [`padded_stride`]) so they can point straight into a 64-byte-aligned segment file.
//!
//! The integer block kernels come in one file per instruction set (`scalar.rs` is the reference,
//! `portable.rs`, `x86_avx2.rs`, `x86_avx512.rs`) under `dot/` and `hamming/`, dispatched on the
//! caller's [`SimdLevel`](crate::SimdLevel) once per call, and are bit-exact with each other.

mod block;
mod dot;
mod embedding;
mod gemm;
mod hamming;
mod pair;
mod quantise;

pub use dot::batch_dot_i8;
pub use embedding::{check_embedding, l2_normalise};
pub use gemm::batch_dot_f32;
/// The half-precision type of [`to_f16`] and [`dot_f16`] (re-exported from the `half` crate).
pub use half::f16;
pub use hamming::batch_hamming;
pub use pair::{dot_f16, dot_f32, dot_i8, hamming};
pub use quantise::{binarise, quantise_i8, to_f16};

/// Row alignment of gallery segments, in bytes.
pub const ROW_ALIGN: usize = 64;

/// Rounds a row of `dim_bytes` bytes up to a multiple of [`ROW_ALIGN`] (64 bytes), the row pitch
/// of gallery segments. Divide by the element size for a stride in elements (e.g. `/ 4` for f32).
pub fn padded_stride(dim_bytes: usize) -> usize {
    dim_bytes.div_ceil(ROW_ALIGN) * ROW_ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_stride_rounds_up_to_64() {
        assert_eq!(padded_stride(0), 0);
        assert_eq!(padded_stride(1), 64);
        assert_eq!(padded_stride(64), 64);
        assert_eq!(padded_stride(65), 128);
        assert_eq!(padded_stride(2048), 2048);
    }
}
