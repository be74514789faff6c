//! A decoder of WSQ (Wavelet Scalar Quantization) grey-scale fingerprint images, written from
//! the FBI's *WSQ Gray-scale Fingerprint Image Compression Specification* (IAFIS-IC-0110,
//! version 3), the format in which legacy AFIS, livescan and police systems exchange 8-bit
//! fingerprint images (ANSI/NIST-ITL type-4 and type-14 records).
//!
//! ```no_run
//! let bytes = std::fs::read("finger.wsq").unwrap();
//! let image = abis_wsq::decode(&bytes).unwrap();
//! assert_eq!(image.pixels.len(), (image.width * image.height) as usize);
//! ```
//!
//! # What the decoder does
//! 1. Walks the markers (SOI, then tables and blocks in any order the specification allows,
//!    then EOI): the frame header (SOF: size, the shift `M` and scale `R`), the transform
//!    table (DTT: the analysis filters' halves), the quantization table (DQT: bin centre `C`
//!    and each subband's step `Q` and zero bin `Z`), Huffman tables (DHT, up to eight),
//!    restart intervals (DRT) and comments (COM; a NISTCOM comment gives the resolution).
//! 2. Decodes each block (SOB) with the Huffman table it names: JPEG-style canonical codes
//!    over byte-stuffed data, restart markers honoured, the WSQ symbols for zero runs, small
//!    coefficients and 8/16-bit escapes (module `entropy`).
//! 3. Dequantizes the coefficients into the 60 coded subbands of the specification's
//!    64-subband layout (`subbands`), computed for the image size.
//! 4. Inverts the 20 two-dimensional wavelet splits with synthesis filters derived from the
//!    transmitted ones, extending each subband at its ends by the symmetry the analysis gave
//!    it (whole- or half-sample, for odd- or even-length filters; `wavelet`).
//! 5. Maps each value `v` to grey `v * R + M`, rounded and clamped to 0..=255.
//!
//! # Design choices
//! - Input is untrusted. Every read is bounds-checked and reports its offset; every table
//!   index is checked; the image size is refused above [`DecodeOptions::max_pixels`] before
//!   anything that size is allocated, and the coefficient buffer never grows past the image's
//!   pixel count; filters longer than 32 taps are refused. No `unsafe`; no panic on any input
//!   (a fuzz target in `fuzz/`, a mutation test and property tests check this).
//! - The reconstruction runs in `f32`, as the NIST reference implementation (NBIS) does; on
//!   images encoded by NBIS the decoded pixels match NBIS's own decoder: on the six test
//!   fixtures 397,240 of 397,250 pixels are equal and the other 10 differ by one grey level
//!   (a value within float rounding of .5). A 388x374 image decodes in about 3 ms.
//! - Each 1-D synthesis is precomputed as a list of weights per output sample (the symmetric
//!   extension folded in), so the column pass adds whole rows at a time.
//! - Odd-length filters (the FBI's 9/7 pair, which every certified encoder uses) are checked
//!   against an independent decoder. Even-length filters follow the same symmetric-extension
//!   rules and are checked by a perfect-reconstruction test against the analysis written out
//!   in the tests, as no available encoder produces them.

#![forbid(unsafe_code)]

mod bits;
mod decoder;
mod entropy;
mod error;
mod huffman;
mod markers;
mod reader;
mod subbands;
mod tables;
mod wavelet;

pub use error::{Result, WsqError};
pub use subbands::{CODED_SUBBANDS, MAX_SUBBANDS};
pub use tables::FrameHeader;

/// A decoded image: 8-bit grey, row-major, `width * height` pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct WsqImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Resolution in pixels per inch from the NISTCOM comment's `PPI` field, when the file has
    /// one and it is known (NBIS writes `-1` for unknown).
    pub ppi: Option<u32>,
    /// The pixels, row by row from the top; 0 is black.
    pub pixels: Vec<u8>,
    /// The comment segments (COM) in file order, as their raw bytes.
    pub comments: Vec<Vec<u8>>,
    /// The frame header as transmitted.
    pub frame: FrameHeader,
}

/// Limits for [`decode_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The most pixels (width x height) an image may declare; larger ones are refused with
    /// [`WsqError::TooLarge`] before any allocation of that size. The default, 4096 x 4096,
    /// covers a 1000 ppi four-finger slap; decoding allocates about 13 bytes per pixel.
    pub max_pixels: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_pixels: 4096 * 4096,
        }
    }
}

impl DecodeOptions {
    /// Sets [`DecodeOptions::max_pixels`].
    pub fn max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }
}

/// Decodes a WSQ file with the default limits ([`DecodeOptions::default`]).
pub fn decode(bytes: &[u8]) -> Result<WsqImage> {
    decode_with(bytes, &DecodeOptions::default())
}

/// Decodes a WSQ file under the given limits.
pub fn decode_with(bytes: &[u8], options: &DecodeOptions) -> Result<WsqImage> {
    decoder::decode(bytes, options)
}
