//! Biometric images in: the bytes a registration or authentication system sends, decoded to an
//! 8-bit grey raster with the resolution it was captured at.
//!
//! - [`finger_record`]: ISO/IEC 19794-4 finger image records (2005 and 2011), every view, with
//!   the tolerance real senders need (wrong length fields, zero padding after a JPEG 2000
//!   codestream, extended data after the image).
//! - [`iris_record`]: ISO/IEC 19794-6 iris image records (2005 and 2011), every eye and image,
//!   with the same tolerance.
//! - [`decode`]: one image file or image field, its format told by its first bytes: JPEG 2000
//!   (JP2 or a bare codestream), WSQ, PNG, JPEG, TIFF. Dimensions and the stated resolution are
//!   read from the headers by [`probe`] first, so a hostile size is refused before anything is
//!   allocated.
//! - [`resample_to`]: to the matcher's 500 ppi.
//! - [`face_record`]: ISO/IEC 19794-5 face image records (2005 and 2011), decoded in colour by
//!   [`decode_rgb`] (same probe-first size checks as [`decode`]).
//!
//! JPEG 2000, PNG, JPEG and TIFF are decoded by OpenCV's imgcodecs (Debian's OpenCV 4.6, which
//! reads JPEG 2000 through OpenJPEG); WSQ by `abis-wsq`, our decoder of the FBI specification.

mod bytes;
pub mod face_record;
pub mod finger_record;
pub mod iris_record;
mod opencv_codec;
mod probe;
mod raster;

pub use probe::{probe, ImageFormat, Probe};
pub use raster::{resample_to, GreyImage, Resolution, RgbImage};

/// The largest side accepted, in pixels: a four-finger slap at 1,000 ppi is about 3,200 pixels
/// wide; anything larger is not a biometric capture.
pub const MAX_SIDE: u32 = 8_192;
/// The most pixels accepted in one image (the memory a decode may take: 32 MiB of grey).
pub const MAX_PIXELS: u64 = 32 << 20;

/// Why an image or image record could not be read. Every variant names what was wrong.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ImageError {
    /// The bytes end before a field the format requires.
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, {available} there")]
    Truncated {
        /// The field or block being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The first bytes are not any supported image format.
    #[error("not a supported image (first bytes {0})")]
    UnknownFormat(String),
    /// A record header that is not the format it claims or a version not supported.
    #[error("not an ISO/IEC 19794-4 finger image record: {0}")]
    NotARecord(String),
    /// A field holds a value the format does not allow.
    #[error("invalid {field}: {value}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What it held.
        value: String,
    },
    /// A compression code the record format does not define.
    #[error("unsupported compression code {0}")]
    UnsupportedCompression(u8),
    /// Dimensions past [`MAX_SIDE`] or [`MAX_PIXELS`] (or zero).
    #[error("image of {width} x {height} pixels refused (at most {MAX_SIDE} a side and {MAX_PIXELS} pixels)")]
    BadSize {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
    },
    /// The codec could not decode the image data.
    #[error("{format} data could not be decoded: {reason}")]
    Decode {
        /// The format tried.
        format: ImageFormat,
        /// The codec's reason.
        reason: String,
    },
    /// The decoded image is not the size its header or record declared.
    #[error("decoded {decoded:?} pixels where {declared:?} were declared")]
    SizeMismatch {
        /// Width and height declared.
        declared: (u32, u32),
        /// Width and height decoded.
        decoded: (u32, u32),
    },
    /// Nothing says at what resolution the image was captured.
    #[error("the image states no resolution: give it (e.g. --ppi 500)")]
    NoResolution,
}

/// A point to draw on an image by [`overlay_png`]: a circle, and a stroke along `direction`
/// (radians, counter-clockwise with y up, the ISO 19794-2 convention) when given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Direction of the stroke, if any.
    pub direction: Option<f32>,
    /// Red, green, blue.
    pub colour: [u8; 3],
}

/// `image` in colour with `marks` drawn on it, as PNG bytes (e.g. minutiae over a finger).
pub fn overlay_png(image: &GreyImage, marks: &[Mark]) -> Result<Vec<u8>> {
    opencv_codec::overlay_png(image, marks)
}

/// The result of this crate's functions.
pub type Result<T> = std::result::Result<T, ImageError>;

/// Checks a declared size against [`MAX_SIDE`] and [`MAX_PIXELS`].
pub fn check_size(width: u64, height: u64) -> Result<()> {
    let side = u64::from(MAX_SIDE);
    if width == 0 || height == 0 || width > side || height > side || width * height > MAX_PIXELS {
        return Err(ImageError::BadSize { width, height });
    }
    Ok(())
}

/// Decodes one image file or image field (format told by its first bytes) to 8-bit grey, with
/// the resolution its header states, if any.
pub fn decode(bytes: &[u8]) -> Result<GreyImage> {
    let probe = probe(bytes)?;
    if probe.format == ImageFormat::Wsq {
        // The WSQ decoder reads and bounds its own frame header.
        return decode_wsq(bytes);
    }
    check_size(u64::from(probe.width), u64::from(probe.height))?;
    let image = opencv_codec::decode(probe.format, probe.trimmed(bytes))?;
    if (image.width, image.height) != (probe.width, probe.height) {
        return Err(ImageError::SizeMismatch {
            declared: (probe.width, probe.height),
            decoded: (image.width, image.height),
        });
    }
    Ok(GreyImage {
        resolution: probe.resolution,
        ..image
    })
}

/// Decodes one image file or image field (format told by its first bytes) to 8-bit RGB, with
/// the resolution its header states, if any. A grey image comes back with three equal
/// channels. Dimensions are probed and checked before the codec runs, as for [`decode`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage> {
    let probe = probe(bytes)?;
    if probe.format == ImageFormat::Wsq {
        return Ok(RgbImage::from_grey(&decode_wsq(bytes)?));
    }
    check_size(u64::from(probe.width), u64::from(probe.height))?;
    let image = opencv_codec::decode_rgb(probe.format, probe.trimmed(bytes))?;
    if (image.width, image.height) != (probe.width, probe.height) {
        return Err(ImageError::SizeMismatch {
            declared: (probe.width, probe.height),
            decoded: (image.width, image.height),
        });
    }
    Ok(RgbImage {
        resolution: probe.resolution,
        ..image
    })
}

fn decode_wsq(bytes: &[u8]) -> Result<GreyImage> {
    let image = abis_wsq::decode(bytes).map_err(|e| ImageError::Decode {
        format: ImageFormat::Wsq,
        reason: e.to_string(),
    })?;
    GreyImage::new(
        image.width,
        image.height,
        image.pixels,
        image.ppi.map(|p| Resolution::square(p as f32)),
    )
}
