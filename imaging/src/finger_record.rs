//! ISO/IEC 19794-4 finger image records, versions 2005 ("010") and 2011 ("020"): every view (a
//! 2005 "finger view" or a 2011 "representation") with its position, impression, quality,
//! resolution and image data, and the decoding of that image.
//!
//! Real senders get fields wrong, so the reader is tolerant where the bytes still say what is
//! meant: a record or representation length that disagrees with the data (the image data
//! length, or the end of the bytes, is trusted instead), zero padding after a JPEG 2000
//! codestream (cut at its end marker by [`crate::decode`]), and extended data (segmentation,
//! annotation, comment blocks) after the image, which is skipped. The MOSIP test vector holds all
//! three. What cannot be read is an error naming the field.

use crate::bytes::Bytes;
use crate::{check_size, GreyImage};
use crate::{ImageError, ImageFormat, Resolution, Result};

/// The edition of ISO/IEC 19794-4 a record follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// ISO/IEC 19794-4:2005, version "010".
    Iso2005,
    /// ISO/IEC 19794-4:2011, version "020".
    Iso2011,
}

/// How a view's image data is stored (the two editions number these differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// One or two bytes per pixel, uncompressed.
    Uncompressed,
    /// Uncompressed, pixels packed at their bit depth.
    BitPacked,
    /// WSQ.
    Wsq,
    /// JPEG (lossy).
    Jpeg,
    /// JPEG 2000, lossy (2011), or either (2005, which has one code).
    Jpeg2000Lossy,
    /// JPEG 2000, lossless (2011 only).
    Jpeg2000Lossless,
    /// PNG.
    Png,
}

impl Compression {
    fn from_code(version: Version, code: u8) -> Result<Self> {
        use Compression::*;
        Ok(match (version, code) {
            (_, 0) => Uncompressed,
            (_, 1) => BitPacked,
            (_, 2) => Wsq,
            (_, 3) => Jpeg,
            (_, 4) => Jpeg2000Lossy,
            (Version::Iso2005, 5) | (Version::Iso2011, 6) => Png,
            (Version::Iso2011, 5) => Jpeg2000Lossless,
            (_, code) => return Err(ImageError::UnsupportedCompression(code)),
        })
    }
}

/// One finger (or palm) image of a record.
#[derive(Clone, PartialEq)]
pub struct FingerImageView {
    /// Finger position (ISO/IEC 19794-2 codes: 0 unknown, 1 right thumb .. 10 left little;
    /// higher codes are multi-finger and palm images).
    pub position: u8,
    /// The view (2005) or representation (2011) number.
    pub view_number: u8,
    /// Impression type (0 live-scan plain, 1 live-scan rolled, ...).
    pub impression: u8,
    /// The record's quality score, 0..=100, when one was computed.
    pub quality: Option<u8>,
    /// How [`Self::data`] is stored.
    pub compression: Compression,
    /// Declared width in pixels.
    pub width: u16,
    /// Declared height in pixels.
    pub height: u16,
    /// Image sampling resolution.
    pub resolution: Resolution,
    /// Bits per pixel.
    pub bit_depth: u8,
    /// The image data, as stored.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for FingerImageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerImageView")
            .field("position", &self.position)
            .field("view_number", &self.view_number)
            .field("impression", &self.impression)
            .field("quality", &self.quality)
            .field("compression", &self.compression)
            .field("size", &(self.width, self.height))
            .field("resolution", &self.resolution)
            .field("bit_depth", &self.bit_depth)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// A parsed finger image record.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerImageRecord {
    /// The edition it follows.
    pub version: Version,
    /// Its views, in record order.
    pub views: Vec<FingerImageView>,
}

/// Whether `bytes` start like a finger image record (format identifier "FIR\0").
pub fn is_finger_image_record(bytes: &[u8]) -> bool {
    bytes.starts_with(b"FIR\0")
}

/// `image` as an ISO/IEC 19794-4:2005 record of one uncompressed 8-bit view of the finger at
/// `position`, at the image's resolution (stated in pixels per inch): what a capture device
/// without a codec sends. An image without a resolution, or one a record cannot state
/// (sides or resolution past 65,535), is refused.
pub fn write_raw_2005(image: &GreyImage, position: u8) -> Result<Vec<u8>> {
    let resolution = image.resolution.ok_or(ImageError::NoResolution)?;
    let field = |field: &'static str, value: f32| {
        u16::try_from(value.round() as i64)
            .ok()
            .filter(|&v| v > 0)
            .ok_or(ImageError::Invalid {
                field,
                value: value.to_string(),
            })
    };
    let (x_ppi, y_ppi) = (
        field("resolution", resolution.horizontal)?,
        field("resolution", resolution.vertical)?,
    );
    let side = |v: u32| field("image size", v as f32);
    let (width, height) = (side(image.width)?, side(image.height)?);
    const GENERAL_HEADER: u64 = 32;
    const VIEW_HEADER: u64 = 14;
    let data = image.pixels.len() as u64;
    let mut out = Vec::with_capacity((GENERAL_HEADER + VIEW_HEADER + data) as usize);
    out.extend_from_slice(b"FIR\x00010\x00");
    out.extend_from_slice(&(GENERAL_HEADER + VIEW_HEADER + data).to_be_bytes()[2..]);
    // Capture device id (unknown), image acquisition level 31 (500 ppi, 8 bits), one view,
    // scale units 1 (pixels per inch).
    out.extend_from_slice(&[0, 0, 0, 31, 1, 1]);
    for v in [x_ppi, y_ppi, x_ppi, y_ppi] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    // 8 bits per pixel, compression 0 (uncompressed, no bit packing), two reserved bytes.
    out.extend_from_slice(&[8, 0, 0, 0]);
    let view_length = u32::try_from(VIEW_HEADER + data).map_err(|_| ImageError::BadSize {
        width: image.width.into(),
        height: image.height.into(),
    })?;
    out.extend_from_slice(&view_length.to_be_bytes());
    // Position, one view, view number 1, quality 254 (not computed), impression 0 (live-scan
    // plain).
    out.extend_from_slice(&[position, 1, 1, 254, 0]);
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.push(0);
    out.extend_from_slice(&image.pixels);
    Ok(out)
}

/// Parses a finger image record of either edition.
pub fn parse(bytes: &[u8]) -> Result<FingerImageRecord> {
    let r = Bytes::big(bytes);
    if r.slice("format identifier", 0, 4)? != b"FIR\0" {
        return Err(ImageError::NotARecord(
            "format identifier is not \"FIR\"".into(),
        ));
    }
    let (version, views) = match r.slice("version", 4, 4)? {
        b"010\0" => (Version::Iso2005, parse_2005(&r)?),
        b"020\0" => (Version::Iso2011, parse_2011(&r)?),
        v => {
            return Err(ImageError::NotARecord(format!(
                "version {:?} (2005 \"010\" and 2011 \"020\" are read)",
                String::from_utf8_lossy(v)
            )))
        }
    };
    if views.is_empty() {
        return Err(ImageError::Invalid {
            field: "view count",
            value: "0".into(),
        });
    }
    Ok(FingerImageRecord { version, views })
}

/// The image data at `offset` of `declared` bytes, or what is there when the declared length
/// runs past the end (a wrong length field; the codec judges the data).
fn image_data<'a>(r: &Bytes<'a>, offset: usize, declared: u64) -> Result<&'a [u8]> {
    let available = r.data.len().saturating_sub(offset);
    let len = usize::try_from(declared)
        .unwrap_or(usize::MAX)
        .min(available);
    if len == 0 {
        return Err(ImageError::Truncated {
            what: "image data",
            offset,
            needed: declared.max(1) as usize,
            available,
        });
    }
    r.slice("image data", offset, len)
}

fn resolution(units: u8, horizontal: u16, vertical: u16) -> Result<Resolution> {
    let per_inch = match units {
        1 => 1.0,
        2 => 2.54,
        u => {
            return Err(ImageError::Invalid {
                field: "scale units",
                value: u.to_string(),
            })
        }
    };
    let resolution = Resolution {
        horizontal: f32::from(horizontal) * per_inch,
        vertical: f32::from(vertical) * per_inch,
    };
    if !resolution.is_plausible() {
        return Err(ImageError::Invalid {
            field: "image resolution",
            value: format!("{horizontal} x {vertical} (units {units})"),
        });
    }
    Ok(resolution)
}

/// A quality score byte: 0..=100, or not computed (254, 255 and anything else).
fn quality(score: u8) -> Option<u8> {
    (score <= 100).then_some(score)
}

/// ISO/IEC 19794-4:2005: a 32-byte general header (resolution and compression for all views),
/// then views of a 14-byte header and their image data.
fn parse_2005(r: &Bytes) -> Result<Vec<FingerImageView>> {
    let count = r.u8("number of finger views", 18)?;
    let units = r.u8("scale units", 19)?;
    let res = resolution(
        units,
        r.u16("image resolution", 24)?,
        r.u16("image resolution", 26)?,
    )?;
    let bit_depth = r.u8("pixel depth", 28)?;
    let compression = Compression::from_code(Version::Iso2005, r.u8("compression", 29)?)?;
    let mut views = Vec::new();
    let mut at = 32;
    for _ in 0..count {
        let length = r.uint("view length", at, 4)?;
        if length < 14 {
            return Err(ImageError::Invalid {
                field: "view length",
                value: length.to_string(),
            });
        }
        let data = image_data(r, at + 14, length - 14)?;
        views.push(FingerImageView {
            position: r.u8("finger position", at + 4)?,
            view_number: r.u8("view number", at + 6)?,
            quality: quality(r.u8("quality", at + 7)?),
            impression: r.u8("impression type", at + 8)?,
            width: r.u16("line length", at + 9)?,
            height: r.u16("line count", at + 11)?,
            resolution: res,
            bit_depth,
            compression,
            data: data.to_vec(),
        });
        at += 14 + data.len();
    }
    Ok(views)
}

/// ISO/IEC 19794-4:2011: a 16-byte general header, then representations, each with its own
/// header (capture time, device, quality and certification blocks, resolution, compression),
/// image data of a stated length, and optional extended data.
fn parse_2011(r: &Bytes) -> Result<Vec<FingerImageView>> {
    let count = r.u16("number of representations", 12)?;
    let certified = r.u8("certification flag", 14)? != 0;
    let mut views = Vec::new();
    let mut at = 16;
    for _ in 0..count {
        let start = at;
        let length = r.uint("representation length", at, 4)?;
        at += 4 + 9 + 5; // length, capture date and time, device technology, vendor and type
        let qualities = usize::from(r.u8("quality block count", at)?);
        let score = if qualities > 0 {
            quality(r.u8("quality score", at + 1)?)
        } else {
            None
        };
        r.slice("quality blocks", at + 1, 5 * qualities)?;
        at += 1 + 5 * qualities;
        if certified {
            let certificates = usize::from(r.u8("certification block count", at)?);
            r.slice("certification blocks", at + 1, 3 * certificates)?;
            at += 1 + 3 * certificates;
        }
        let units = r.u8("scale units", at + 2)?;
        let res = resolution(
            units,
            r.u16("image resolution", at + 7)?,
            r.u16("image resolution", at + 9)?,
        )?;
        let compression = Compression::from_code(Version::Iso2011, r.u8("compression", at + 12)?)?;
        let declared = r.uint("image data length", at + 18, 4)?;
        let data = image_data(r, at + 22, declared)?;
        views.push(FingerImageView {
            position: r.u8("finger position", at)?,
            view_number: r.u8("representation number", at + 1)?,
            bit_depth: r.u8("bit depth", at + 11)?,
            impression: r.u8("impression type", at + 13)?,
            width: r.u16("line length", at + 14)?,
            height: r.u16("line count", at + 16)?,
            quality: score,
            resolution: res,
            compression,
            data: data.to_vec(),
        });
        let data_end = at + 22 + data.len();
        // The representation length covers extended data after the image; when it is wrong
        // (shorter than the image, or past the end) the next one starts after the image.
        at = usize::try_from(length)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&end| end >= data_end && end <= r.data.len())
            .unwrap_or(data_end);
    }
    Ok(views)
}

impl FingerImageView {
    /// The view's image as 8-bit grey at the record's resolution. The data's format is told by
    /// its bytes (senders mix up the JPEG 2000 codes), and it must decode to the declared size.
    pub fn decode(&self) -> Result<GreyImage> {
        let (width, height) = (u32::from(self.width), u32::from(self.height));
        check_size(width.into(), height.into())?;
        let mut image = match self.compression {
            Compression::Uncompressed => self.unpack(false)?,
            Compression::BitPacked => self.unpack(true)?,
            _ => crate::decode(&self.data).map_err(|e| match e {
                ImageError::UnknownFormat(head) => ImageError::Decode {
                    format: self.expected_format(),
                    reason: format!(
                        "the data is not {} (first bytes {head})",
                        self.expected_format()
                    ),
                },
                e => e,
            })?,
        };
        if (image.width, image.height) != (width, height) {
            return Err(ImageError::SizeMismatch {
                declared: (width, height),
                decoded: (image.width, image.height),
            });
        }
        // The record's resolution is the capture's; a codestream's own may be a default.
        image.resolution = Some(self.resolution);
        Ok(image)
    }

    fn expected_format(&self) -> ImageFormat {
        match self.compression {
            Compression::Wsq => ImageFormat::Wsq,
            Compression::Jpeg => ImageFormat::Jpeg,
            Compression::Png => ImageFormat::Png,
            _ => ImageFormat::Jpeg2000,
        }
    }

    /// Uncompressed pixels: one byte each at depth <= 8 (scaled to 0..255), two big-endian at
    /// depth 9..=16 (the top 8 bits kept); or, `packed`, `bit_depth` bits each, MSB first.
    fn unpack(&self, packed: bool) -> Result<GreyImage> {
        let depth = u32::from(self.bit_depth);
        if !(1..=16).contains(&depth) || (packed && depth > 8) {
            return Err(ImageError::Invalid {
                field: "bit depth",
                value: format!("{depth} for {:?}", self.compression),
            });
        }
        let n = usize::from(self.width) * usize::from(self.height);
        let bits_per_pixel = if packed { depth } else { depth.div_ceil(8) * 8 };
        let needed = (n as u64 * u64::from(bits_per_pixel)).div_ceil(8) as usize;
        if self.data.len() < needed {
            return Err(ImageError::Truncated {
                what: "uncompressed image data",
                offset: 0,
                needed,
                available: self.data.len(),
            });
        }
        let max = (1u32 << depth) - 1;
        let pixels: Vec<u8> = (0..n)
            .map(|i| {
                let bit = i as u64 * u64::from(bits_per_pixel);
                let value = read_bits(&self.data, bit, bits_per_pixel);
                if depth > 8 {
                    (value.min(max) >> (depth - 8)) as u8
                } else {
                    ((value & max) * 255 / max) as u8
                }
            })
            .collect();
        GreyImage::new(self.width.into(), self.height.into(), pixels, None)
    }
}

/// `count` (<= 16) bits of `data` from bit `at`, most significant first.
fn read_bits(data: &[u8], at: u64, count: u32) -> u32 {
    (0..u64::from(count)).fold(0, |acc, k| {
        let bit = at + k;
        let byte = data[(bit / 8) as usize];
        (acc << 1) | u32::from((byte >> (7 - bit % 8)) & 1)
    })
}
