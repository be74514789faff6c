//! Pure matching kernels for the abis biometric engine.
//!
//! This crate holds the arithmetic of comparing two biometric templates and nothing else: no I/O,
//! no threads, no async, no storage. The engine feeds it slices that point straight into
//! memory-mapped segment files, so every kernel works on plain `&[u8]` / `&[f32]` / `&[i8]` rows.
//!
//! Design rules, shared by every modality:
//! - **A scalar reference beside every SIMD kernel.** Each kernel family lives in a folder with one
//!   file per instruction set (`scalar.rs`, `portable.rs`, `x86_avx2.rs`, `x86_avx512.rs`) and a
//!   `mod.rs` that is its only safe entry point. Parity tests compare every level the CPU supports
//!   with the scalar one: bit-exact for integer results, dimension-scaled tolerance for floats.
//! - **Dispatch once.** [`SimdLevel::get`] is detected once per process (overridable with
//!   `ABIS_SIMD`) and passed down per batch; no kernel tests CPU features per pair.
//! - **Blocks, not pairs.** The hot entry points compare a block of gallery rows against many
//!   probes (and rotations) so each row is read from memory once per batch.
//!
//! Modalities: [`iris`] (masked fractional Hamming distance with rotation search over a
//! rows x columns x bits layout, Daugman normalisation), [`face`] (dot products of
//! L2-normalised embeddings in f32, f16, i8 and binary, batched through faer for f32) and
//! [`finger`] (ISO 19794-2:2005/2011 and ANSI 378-2004 minutiae records, and a Minutia
//! Cylinder-Code 1:1 matcher with a calibrated score).

pub mod error;
pub mod face;
pub mod finger;
pub mod iris;
pub mod simd;

pub use error::{MatchError, Result};
pub use simd::SimdLevel;
