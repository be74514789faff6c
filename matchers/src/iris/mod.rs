//! Iris codes: layouts, rotation, masked fractional Hamming distance, Daugman normalisation.
//!
//! An iris template is a code and a mask of the same [`IrisLayout`] (`rows x cols x bits_per_cell`
//! bits, most significant bit first; mask bit 1 = valid). Two templates are compared by the
//! fractional Hamming distance over the bits both masks keep,
//! `hd_raw = popcount((codeA ^ codeB) & maskA & maskB) / popcount(maskA & maskB)`, at several
//! circular column shifts ([`RotationSearch`]), keeping the shift with the smallest
//! [`normalise_hd`] (Daugman's correction for the number of bits compared).
//!
//! How the work is shaped:
//! - The probe is rotated once, up front ([`PreparedProbe`]), into gallery row format; the gallery
//!   is never rotated.
//! - A gallery row is the code, the mask and zero padding to a multiple of 64 bytes
//!   ([`IrisLayout::row_bytes`]; 512 bytes for Daugman's 2,048 bits), so a segment of rows is one
//!   aligned, contiguous array the kernels stream through.
//! - [`scan`] is the block kernel: tiles of gallery rows against every probe and rotation while the
//!   tile is in cache, writing the best normalised distance per (probe, row) as f32
//!   ([`scan_score`]). [`compare`] reports one pair in full ([`IrisComparison`]).
//! - [`scan_interleaved`] does what [`scan`] does over rows stored eight at a time, word by word
//!   ([`interleaved`]), the engine's segment format: on AVX-512 each vector lane holds one gallery
//!   row, so no lane idles and no reduction across lanes is needed (about 1.3x [`scan`] per core).
//! - Kernels (in `hamming/`, one instruction set per file) produce integer bit counts only; the
//!   distances are computed from them by the shared functions of `score.rs`, so every SIMD level
//!   gives bit-identical results.

mod hamming;
pub mod interleaved;
mod layout;
mod probe;
mod rotation;
mod score;

pub use hamming::{compare, scan, scan_interleaved};
pub use layout::{IrisLayout, MAX_CODE_BITS};
pub use probe::PreparedProbe;
pub use rotation::RotationSearch;
pub use score::{normalise_hd, raw_hd, scan_score, IrisComparison, DAUGMAN_REFERENCE_BITS};
