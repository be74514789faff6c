//! ISO/IEC 19794-6 iris image records, versions 2005 ("010") and 2011 ("020"): every image of
//! every eye (a 2005 "biometric subtype" with its images, or a 2011 "representation"), with the
//! header facts a matcher may want (eye, image type, roll angle, range, quality) and the decoding
//! of the image to 8-bit grey.
//!
//! Layouts read (offsets from the start of the block):
//! - 2005: a general header whose own length is stated at byte 15 (45 bytes in the standard):
//!   image properties (16 bits), iris diameter, image format, width, height, intensity depth,
//!   transformation and device id, common to every image; then per eye a 3-byte subtype header
//!   (eye, number of images) and per image an 11-byte header (sequence number, quality, rotation
//!   angle and its uncertainty, image length) before the image data.
//! - 2011: a 16-byte general header (number of representations, certification flag, number of
//!   eyes), then representations of a 52-byte header (more with quality blocks) stating capture
//!   time and device, representation number, eye label, image type, image format, properties,
//!   size, bit depth, range, roll angle and uncertainty, iris centre and diameter bounds and the
//!   image length, then the image data.
//!
//! The two editions number image formats differently (2005: 2 mono raw, 4 RGB raw, 6/8 JPEG,
//! 10/12 JPEG-LS, 14/16 JPEG 2000; 2011: 2 mono raw, 10 JPEG 2000, 14 PNG), and senders mix them
//! up, so, as for finger records, compressed data is told by its own first bytes and only the raw
//! codes are trusted to mean raw. Tolerated, as MOSIP's test vector needs: a record length that
//! disagrees with the bytes (zero padding after the record), an image length past the end of the
//! bytes, zero padding after a JPEG 2000 codestream (cut at its end marker by [`crate::decode`]).
//! What cannot be read is an [`ImageError`] naming the field; sizes are checked before anything
//! is allocated.

use crate::bytes::Bytes;
use crate::{check_size, GreyImage, ImageError, ImageFormat, Result};

/// The edition of ISO/IEC 19794-6 a record follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// ISO/IEC 19794-6:2005, version "010".
    Iso2005,
    /// ISO/IEC 19794-6:2011, version "020".
    Iso2011,
}

/// Which eye an image shows (2005: biometric subtype; 2011: eye label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eye {
    /// Not stated (code 0).
    Unknown,
    /// The subject's right eye (code 1).
    Right,
    /// The subject's left eye (code 2).
    Left,
}

impl Eye {
    fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Eye::Unknown),
            1 => Ok(Eye::Right),
            2 => Ok(Eye::Left),
            c => Err(ImageError::Invalid {
                field: "eye label",
                value: c.to_string(),
            }),
        }
    }

    /// `unknown`, `right` or `left`.
    pub fn name(self) -> &'static str {
        match self {
            Eye::Unknown => "unknown",
            Eye::Right => "right",
            Eye::Left => "left",
        }
    }

    /// The record's code: 0 unknown, 1 right, 2 left.
    pub fn code(self) -> u8 {
        match self {
            Eye::Unknown => 0,
            Eye::Right => 1,
            Eye::Left => 2,
        }
    }
}

/// How an image was framed (2011 "image type"; 2005 records do not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    /// 1: the camera's frame, uncropped.
    Uncropped,
    /// 2: 640 x 480, the iris roughly centred.
    Vga,
    /// 3: cropped around the iris.
    Cropped,
    /// 7: cropped, with eyelids and sclera masked by the sender.
    CroppedAndMasked,
    /// Any other code, kept as sent.
    Other(u8),
}

impl ImageType {
    fn from_code(code: u8) -> Self {
        match code {
            1 => ImageType::Uncropped,
            2 => ImageType::Vga,
            3 => ImageType::Cropped,
            7 => ImageType::CroppedAndMasked,
            c => ImageType::Other(c),
        }
    }
}

/// How an image's data is stored, as the record's format code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrisImageFormat {
    /// Uncompressed grey, one byte per pixel (two, big-endian, past 8 bits).
    MonoRaw,
    /// Uncompressed RGB, three bytes per pixel (2005 only); decoded to grey.
    RgbRaw,
    /// JPEG (2005 only; grey or colour).
    Jpeg,
    /// JPEG-LS (2005 only; grey or colour).
    JpegLs,
    /// JPEG 2000.
    Jpeg2000,
    /// PNG (2011 only).
    Png,
}

impl IrisImageFormat {
    fn from_code(version: Version, code: u16) -> Result<Self> {
        use IrisImageFormat::*;
        Ok(match (version, code) {
            (_, 2) => MonoRaw,
            (Version::Iso2005, 4) => RgbRaw,
            (Version::Iso2005, 6 | 8) => Jpeg,
            (Version::Iso2005, 10 | 12) => JpegLs,
            (Version::Iso2005, 14 | 16) | (Version::Iso2011, 10) => Jpeg2000,
            (Version::Iso2011, 14) => Png,
            (_, code) => {
                return Err(ImageError::Invalid {
                    field: "image format",
                    value: code.to_string(),
                })
            }
        })
    }

    fn expected(self) -> ImageFormat {
        match self {
            IrisImageFormat::Png => ImageFormat::Png,
            IrisImageFormat::Jpeg | IrisImageFormat::JpegLs => ImageFormat::Jpeg,
            _ => ImageFormat::Jpeg2000,
        }
    }
}

/// One iris image of a record, with its header facts.
#[derive(Clone, PartialEq)]
pub struct IrisImage {
    /// Which eye.
    pub eye: Eye,
    /// Image sequence number (2005) or representation number (2011).
    pub number: u16,
    /// How the image is framed (2011 only).
    pub image_type: Option<ImageType>,
    /// How [`Self::data`] is stored.
    pub format: IrisImageFormat,
    /// The format code as sent.
    pub format_code: u16,
    /// Declared width in pixels.
    pub width: u16,
    /// Declared height in pixels.
    pub height: u16,
    /// Bits per pixel (2005: intensity depth).
    pub bit_depth: u8,
    /// Image quality 0..=100, when one was computed (2005: the image header; 2011: the first
    /// quality block).
    pub quality: Option<u8>,
    /// Camera-to-eye range as stated (2011; 0 "unassigned" and 1 "failed" read as `None`).
    pub range: Option<u16>,
    /// Roll (in-plane rotation) of the eye in degrees, when stated (`0xFFFF` is "undefined";
    /// the field counts 65,536ths of a turn).
    pub roll_angle: Option<f32>,
    /// Uncertainty of [`Self::roll_angle`] in degrees, when stated.
    pub roll_uncertainty: Option<f32>,
    /// Smallest and largest expected iris diameter in pixels, when stated (2005 has one value
    /// for both).
    pub iris_diameter: Option<(u16, u16)>,
    /// The image property bit field as sent (orientation, scan type, occlusions; 16 bits in
    /// 2005, 8 in 2011).
    pub properties: u16,
    /// The image data, as stored.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for IrisImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrisImage")
            .field("eye", &self.eye)
            .field("number", &self.number)
            .field("image_type", &self.image_type)
            .field("format", &self.format)
            .field("size", &(self.width, self.height))
            .field("bit_depth", &self.bit_depth)
            .field("quality", &self.quality)
            .field("range", &self.range)
            .field("roll_angle", &self.roll_angle)
            .field("iris_diameter", &self.iris_diameter)
            .field("data_bytes", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// A parsed iris image record.
#[derive(Debug, Clone, PartialEq)]
pub struct IrisImageRecord {
    /// The edition it follows.
    pub version: Version,
    /// Its images, in record order.
    pub images: Vec<IrisImage>,
}

/// Whether `bytes` start like an iris image record (format identifier "IIR\0").
pub fn is_iris_image_record(bytes: &[u8]) -> bool {
    bytes.starts_with(b"IIR\0")
}

/// The most images one record may hold (two eyes, a few captures each; the count fields allow
/// 65,535 per eye, which no sender needs).
pub const MAX_IMAGES: usize = 64;

/// Parses an iris image record of either edition.
pub fn parse(bytes: &[u8]) -> Result<IrisImageRecord> {
    let r = Bytes::big(bytes);
    if r.slice("format identifier", 0, 4)? != b"IIR\0" {
        return Err(ImageError::Invalid {
            field: "format identifier",
            value: format!("{:?} (an iris image record starts \"IIR\")", &bytes[..4]),
        });
    }
    let (version, images) = match r.slice("version", 4, 4)? {
        b"010\0" => (Version::Iso2005, parse_2005(&r)?),
        b"020\0" => (Version::Iso2011, parse_2011(&r)?),
        v => {
            return Err(ImageError::Invalid {
                field: "iris record version",
                value: format!(
                    "{:?} (2005 \"010\" and 2011 \"020\" are read)",
                    String::from_utf8_lossy(v)
                ),
            })
        }
    };
    if images.is_empty() {
        return Err(ImageError::Invalid {
            field: "image count",
            value: "0".into(),
        });
    }
    Ok(IrisImageRecord { version, images })
}

fn too_many(count: usize) -> ImageError {
    ImageError::Invalid {
        field: "image count",
        value: format!("{count} (at most {MAX_IMAGES})"),
    }
}

/// The image data at `offset` of `declared` bytes; when the declared length runs past the end
/// (a wrong length field) what is there, and for raw data at least the `raw_needed` bytes the
/// size implies when they are there (a length field too short).
fn image_data<'a>(
    r: &Bytes<'a>,
    offset: usize,
    declared: u64,
    raw_needed: Option<usize>,
) -> Result<&'a [u8]> {
    let available = r.data.len().saturating_sub(offset);
    let mut len = usize::try_from(declared).unwrap_or(usize::MAX);
    if let Some(needed) = raw_needed {
        if len < needed && available >= needed {
            len = needed;
        }
    }
    let len = len.min(available);
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

/// Bytes a raw image of this shape needs; `None` for compressed formats. Checks the size first.
fn raw_bytes(format: IrisImageFormat, width: u16, height: u16, depth: u8) -> Result<Option<usize>> {
    let per_pixel = match format {
        IrisImageFormat::MonoRaw if depth > 8 => 2,
        IrisImageFormat::MonoRaw => 1,
        IrisImageFormat::RgbRaw => 3,
        _ => return Ok(None),
    };
    check_size(width.into(), height.into())?;
    Ok(Some(usize::from(width) * usize::from(height) * per_pixel))
}

/// A quality score byte: 0..=100, or not computed (254, 255 and anything else).
fn quality(score: u8) -> Option<u8> {
    (score <= 100).then_some(score)
}

/// An angle field in 65,536ths of a turn, `0xFFFF` undefined.
fn angle(raw: u16) -> Option<f32> {
    (raw != 0xFFFF).then(|| f32::from(raw) * 360.0 / 65_536.0)
}

/// ISO/IEC 19794-6:2005.
fn parse_2005(r: &Bytes) -> Result<Vec<IrisImage>> {
    let subtypes = r.u8("number of iris biometric subtypes", 14)?;
    let header_length = usize::from(r.u16("record header length", 15)?);
    if header_length < 45 {
        return Err(ImageError::Invalid {
            field: "record header length",
            value: header_length.to_string(),
        });
    }
    let properties = r.u16("image property bit field", 17)?;
    let diameter = r.u16("iris diameter", 19)?;
    let format_code = r.u16("image format", 21)?;
    let format = IrisImageFormat::from_code(Version::Iso2005, format_code)?;
    let width = r.u16("raw image width", 23)?;
    let height = r.u16("raw image height", 25)?;
    let bit_depth = r.u8("intensity depth", 27)?;
    let needed = raw_bytes(format, width, height, bit_depth)?;
    let mut images = Vec::new();
    let mut at = header_length;
    for _ in 0..subtypes {
        let eye = Eye::from_code(r.u8("biometric subtype", at)?)?;
        let count = usize::from(r.u16("number of images", at + 1)?);
        at += 3;
        if images.len() + count > MAX_IMAGES {
            return Err(too_many(images.len() + count));
        }
        for _ in 0..count {
            let declared = r.uint("image length", at + 7, 4)?;
            let data = image_data(r, at + 11, declared, needed)?;
            images.push(IrisImage {
                eye,
                number: r.u16("image sequence number", at)?,
                image_type: None,
                format,
                format_code,
                width,
                height,
                bit_depth,
                quality: quality(r.u8("image quality", at + 2)?),
                range: None,
                roll_angle: angle(r.u16("rotation angle of eye", at + 3)?),
                roll_uncertainty: angle(r.u16("rotation uncertainty", at + 5)?),
                iris_diameter: (diameter != 0).then_some((diameter, diameter)),
                properties,
                data: data.to_vec(),
            });
            at += 11 + data.len();
        }
    }
    Ok(images)
}

/// ISO/IEC 19794-6:2011.
fn parse_2011(r: &Bytes) -> Result<Vec<IrisImage>> {
    let count = usize::from(r.u16("number of representations", 12)?);
    if count > MAX_IMAGES {
        return Err(too_many(count));
    }
    let certified = r.u8("certification flag", 14)? != 0;
    let mut images = Vec::new();
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
        let format_code = u16::from(r.u8("image format", at + 4)?);
        let format = IrisImageFormat::from_code(Version::Iso2011, format_code)?;
        let width = r.u16("image width", at + 6)?;
        let height = r.u16("image height", at + 8)?;
        let bit_depth = r.u8("bit depth", at + 10)?;
        let needed = raw_bytes(format, width, height, bit_depth)?;
        let range = r.u16("range", at + 11)?;
        let (smallest, largest) = (
            r.u16("iris diameter smallest", at + 25)?,
            r.u16("iris diameter largest", at + 27)?,
        );
        let declared = r.uint("image length", at + 29, 4)?;
        let data = image_data(r, at + 33, declared, needed)?;
        images.push(IrisImage {
            eye: Eye::from_code(r.u8("eye label", at + 2)?)?,
            number: r.u16("representation number", at)?,
            image_type: Some(ImageType::from_code(r.u8("image type", at + 3)?)),
            format,
            format_code,
            width,
            height,
            bit_depth,
            quality: score,
            range: (range > 1).then_some(range),
            roll_angle: angle(r.u16("roll angle of eye", at + 13)?),
            roll_uncertainty: angle(r.u16("roll angle uncertainty", at + 15)?),
            iris_diameter: (largest != 0).then_some((smallest, largest)),
            properties: u16::from(r.u8("image properties", at + 5)?),
            data: data.to_vec(),
        });
        let data_end = at + 33 + data.len();
        // A representation length that is wrong (shorter than the image, or past the end):
        // the next one starts after the image.
        at = usize::try_from(length)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&end| end >= data_end && end <= r.data.len())
            .unwrap_or(data_end);
    }
    Ok(images)
}

impl IrisImage {
    /// The image as 8-bit grey (no resolution: iris records state none). Compressed data's
    /// format is told by its bytes (senders mix up the two editions' codes), and it must decode
    /// to the declared size.
    pub fn decode(&self) -> Result<GreyImage> {
        let (width, height) = (u32::from(self.width), u32::from(self.height));
        check_size(width.into(), height.into())?;
        let image = match self.format {
            IrisImageFormat::MonoRaw | IrisImageFormat::RgbRaw => self.unpack()?,
            _ => {
                let mut image = crate::decode(&self.data).map_err(|e| match e {
                    ImageError::UnknownFormat(head) => ImageError::Decode {
                        format: self.format.expected(),
                        reason: format!(
                            "the data is not {:?} as its format code {} says (first bytes {head})",
                            self.format, self.format_code
                        ),
                    },
                    e => e,
                })?;
                image.resolution = None;
                image
            }
        };
        if (image.width, image.height) != (width, height) {
            return Err(ImageError::SizeMismatch {
                declared: (width, height),
                decoded: (image.width, image.height),
            });
        }
        Ok(image)
    }

    /// Raw pixels: grey at one byte (depth <= 8, scaled to 0..255) or two big-endian bytes
    /// (depth 9..=16, top 8 bits kept); RGB at three bytes, weighted to grey (ITU-R BT.601).
    fn unpack(&self) -> Result<GreyImage> {
        let depth = u32::from(self.bit_depth);
        let rgb = self.format == IrisImageFormat::RgbRaw;
        if !(1..=16).contains(&depth) || (rgb && depth != 8 && depth != 24) {
            return Err(ImageError::Invalid {
                field: "bit depth",
                value: format!("{depth} for {:?}", self.format),
            });
        }
        let needed = raw_bytes(self.format, self.width, self.height, self.bit_depth)?
            .expect("raw formats have a size");
        if self.data.len() < needed {
            return Err(ImageError::Truncated {
                what: "raw image data",
                offset: 0,
                needed,
                available: self.data.len(),
            });
        }
        let data = &self.data[..needed];
        let pixels: Vec<u8> = if rgb {
            data.chunks_exact(3)
                .map(|p| {
                    let y = 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
                    ((y + 500) / 1000) as u8
                })
                .collect()
        } else if depth > 8 {
            let max = (1u32 << depth) - 1;
            data.chunks_exact(2)
                .map(|p| {
                    ((u32::from(u16::from_be_bytes([p[0], p[1]])).min(max)) >> (depth - 8)) as u8
                })
                .collect()
        } else {
            let max = (1u32 << depth) - 1;
            data.iter()
                .map(|&v| ((u32::from(v) & max) * 255 / max) as u8)
                .collect()
        };
        GreyImage::new(self.width.into(), self.height.into(), pixels, None)
    }
}

/// `image` as an ISO/IEC 19794-6:2011 record of one uncompressed 8-bit representation of `eye`
/// (image type "cropped", no quality block, roll angle and range not stated): what a camera
/// without a codec sends. Sides past 65,535 are refused.
pub fn write_raw_2011(image: &GreyImage, eye: Eye) -> Result<Vec<u8>> {
    let (width, height) = sides(image)?;
    let data = image.pixels.len();
    let representation = 52 + data;
    let total = 16 + representation;
    let total32 = u32::try_from(total).map_err(|_| ImageError::BadSize {
        width: image.width.into(),
        height: image.height.into(),
    })?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"IIR\x00020\x00");
    out.extend_from_slice(&total32.to_be_bytes());
    // One representation, not certified, one eye.
    out.extend_from_slice(&[0, 1, 0, 1]);
    out.extend_from_slice(&(representation as u32).to_be_bytes());
    // Capture time unknown (all ones), device technology 0, vendor 0, type 0, no quality block.
    out.extend_from_slice(&[0xFF; 9]);
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    // Representation 1, the eye, cropped (3), mono raw (2), properties 0.
    out.extend_from_slice(&[0, 1, eye.code(), 3, 2, 0]);
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    // 8 bits, range unassigned, roll angle and uncertainty undefined, centre and diameter 0.
    out.push(8);
    out.extend_from_slice(&[0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&(data as u32).to_be_bytes());
    out.extend_from_slice(&image.pixels);
    Ok(out)
}

/// `image` as an ISO/IEC 19794-6:2005 record of one uncompressed 8-bit image of `eye` (iris
/// diameter, quality and rotation not stated). Sides past 65,535 are refused.
pub fn write_raw_2005(image: &GreyImage, eye: Eye) -> Result<Vec<u8>> {
    let (width, height) = sides(image)?;
    let data = image.pixels.len();
    let total = 45 + 3 + 11 + data;
    let total32 = u32::try_from(total).map_err(|_| ImageError::BadSize {
        width: image.width.into(),
        height: image.height.into(),
    })?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"IIR\x00010\x00");
    out.extend_from_slice(&total32.to_be_bytes());
    // Capture device 0, one subtype, header length 45, properties 0, diameter 0, mono raw.
    out.extend_from_slice(&[0, 0, 1, 0, 45, 0, 0, 0, 0, 0, 2]);
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    // 8 bits, transformation undefined, device unique id "not given" (16 zeros).
    out.extend_from_slice(&[8, 0]);
    out.extend_from_slice(&[0; 16]);
    // Subtype: the eye, one image. Image: number 1, quality 254 (not computed), rotation and
    // uncertainty undefined, the length.
    out.extend_from_slice(&[eye.code(), 0, 1, 0, 1, 254, 0xFF, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&(data as u32).to_be_bytes());
    out.extend_from_slice(&image.pixels);
    Ok(out)
}

fn sides(image: &GreyImage) -> Result<(u16, u16)> {
    match (u16::try_from(image.width), u16::try_from(image.height)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(ImageError::BadSize {
            width: image.width.into(),
            height: image.height.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32) -> GreyImage {
        let pixels = (0..width * height).map(|i| (i * 7 % 251) as u8).collect();
        GreyImage::new(width, height, pixels, None).unwrap()
    }

    #[test]
    fn raw_records_of_both_editions_round_trip() {
        let img = image(33, 21);
        for (bytes, version, eye) in [
            (
                write_raw_2011(&img, Eye::Left).unwrap(),
                Version::Iso2011,
                Eye::Left,
            ),
            (
                write_raw_2005(&img, Eye::Right).unwrap(),
                Version::Iso2005,
                Eye::Right,
            ),
        ] {
            let record = parse(&bytes).unwrap();
            assert_eq!(record.version, version);
            assert_eq!(record.images.len(), 1);
            let view = &record.images[0];
            assert_eq!(
                (view.eye, view.format, view.width, view.height),
                (eye, IrisImageFormat::MonoRaw, 33, 21)
            );
            assert_eq!(view.roll_angle, None);
            assert_eq!(view.decode().unwrap().pixels, img.pixels);
            // Zero padding after the record changes nothing.
            let mut padded = bytes.clone();
            padded.extend_from_slice(&[0; 1000]);
            assert_eq!(parse(&padded).unwrap(), record);
        }
    }

    #[test]
    fn truncated_and_corrupt_records_are_typed_errors() {
        let bytes = write_raw_2011(&image(16, 16), Eye::Right).unwrap();
        for cut in [0, 3, 7, 15, 20, 40, 67, 68, 100, bytes.len() - 1] {
            let result = parse(&bytes[..cut]).and_then(|r| r.images[0].decode());
            assert!(result.is_err(), "cut at {cut}: {result:?}");
        }
        let mut wrong_eye = bytes.clone();
        wrong_eye[16 + 4 + 9 + 5 + 1 + 2] = 9;
        assert!(matches!(
            parse(&wrong_eye),
            Err(ImageError::Invalid {
                field: "eye label",
                ..
            })
        ));
        let mut wrong_format = bytes.clone();
        wrong_format[16 + 4 + 9 + 5 + 1 + 4] = 99;
        assert!(matches!(
            parse(&wrong_format),
            Err(ImageError::Invalid {
                field: "image format",
                ..
            })
        ));
        let mut huge = bytes.clone();
        huge[16 + 4 + 9 + 5 + 1 + 6..][..4].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(parse(&huge), Err(ImageError::BadSize { .. })));
        let mut version = bytes;
        version[5] = b'3';
        assert!(matches!(parse(&version), Err(ImageError::Invalid { .. })));
        assert!(parse(b"FIR\x00010\x00").is_err());
    }
}
