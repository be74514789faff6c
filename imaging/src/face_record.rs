//! ISO/IEC 19794-5 face image records, versions 2005 ("010") and 2011 ("030"): every facial
//! image (a 2005 "facial record" or a 2011 "representation") with its image type, feature
//! points, pose, quality and image data, and the decoding of that image in colour.
//!
//! Real senders get length fields wrong and append bytes after the record (MOSIP's test-vector
//! face carries 48,977 bytes after its 23,088-byte record), so the image data is delimited by
//! its own format where that is possible:
//! a JPEG 2000 file or codestream ends at its end-of-codestream marker, a JPEG at its EOI marker
//! after the last scan, a PNG at its IEND chunk. The declared length is trusted only when it
//! agrees with that end (it may add padding the image does not use); when it disagrees the
//! image's own end wins, and anything after the last image (trailing junk) is ignored. What
//! cannot be read is an [`ImageError`] naming the field.

use crate::bytes::Bytes;
use crate::{check_size, GreyImage, ImageError, ImageFormat, Result, RgbImage};

/// The edition of ISO/IEC 19794-5 a record follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// ISO/IEC 19794-5:2005, version "010".
    Iso2005,
    /// ISO/IEC 19794-5:2011, version "030".
    Iso2011,
}

/// How the face is framed in the image (the record's face image type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceImageType {
    /// Basic: no constraints stated.
    Basic,
    /// Full frontal: the whole head, frontal pose, ICAO-like geometry.
    FullFrontal,
    /// Token frontal: cropped and scaled so the eyes sit at fixed positions.
    TokenFrontal,
    /// Post-processed frontal (2011).
    PostProcessedFrontal,
    /// Any other code, kept as sent.
    Other(u8),
}

impl FaceImageType {
    fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Basic,
            1 => Self::FullFrontal,
            2 => Self::TokenFrontal,
            3 => Self::PostProcessedFrontal,
            c => Self::Other(c),
        }
    }
}

/// How an image is stored (the editions number these differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageDataType {
    /// JPEG.
    Jpeg,
    /// JPEG 2000 (2005, one code for both), or lossy JPEG 2000 (2011).
    Jpeg2000Lossy,
    /// Lossless JPEG 2000 (2011).
    Jpeg2000Lossless,
    /// PNG (2011).
    Png,
}

impl ImageDataType {
    fn from_code(version: Version, code: u8) -> Result<Self> {
        Ok(match (version, code) {
            (_, 0) => Self::Jpeg,
            (_, 1) => Self::Jpeg2000Lossy,
            (Version::Iso2011, 2) => Self::Jpeg2000Lossless,
            (Version::Iso2011, 3) => Self::Png,
            (_, code) => {
                return Err(ImageError::Invalid {
                    field: "face image data type",
                    value: code.to_string(),
                })
            }
        })
    }

    fn format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            _ => ImageFormat::Jpeg2000,
        }
    }
}

/// A feature (2005) or landmark (2011) point of a facial image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeaturePoint {
    /// Point type: 1 for an MPEG-4 facial feature point (2011 also defines 2, anthropometric).
    pub kind: u8,
    /// The point's code: MPEG-4 major group in the high nibble, minor index in the low one.
    pub code: u8,
    /// Column, in pixels.
    pub x: u16,
    /// Row, in pixels.
    pub y: u16,
    /// Depth (2011 records; 0 in 2005).
    pub z: u16,
}

/// One facial image of a record.
#[derive(Clone, PartialEq)]
pub struct FaceImage {
    /// Its index in the record, from 0.
    pub index: usize,
    /// How the face is framed.
    pub image_type: FaceImageType,
    /// How [`Self::data`] is stored.
    pub data_type: ImageDataType,
    /// Declared width in pixels.
    pub width: u16,
    /// Declared height in pixels.
    pub height: u16,
    /// Colour space code (0 unspecified, 1 24-bit RGB, 2 YUV422, 3 8-bit grey, ...).
    pub colour_space: u8,
    /// Feature or landmark points, in record order.
    pub feature_points: Vec<FeaturePoint>,
    /// Gender code (0 unspecified, 1 male, 2 female, 255 unknown).
    pub gender: u8,
    /// Expression code.
    pub expression: u16,
    /// Pose angles as coded (yaw, pitch, roll; 0 unspecified, else 1 + (angle + 180) / 2).
    pub pose: [u8; 3],
    /// Quality: the first quality block's score (2011, 0..=100) or the 2005 quality field
    /// when it is 1..=100; `None` when not given.
    pub quality: Option<u8>,
    /// The image data, as stored (delimited by its own format, see the module docs).
    pub data: Vec<u8>,
}

impl std::fmt::Debug for FaceImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceImage")
            .field("index", &self.index)
            .field("image_type", &self.image_type)
            .field("data_type", &self.data_type)
            .field("size", &(self.width, self.height))
            .field("colour_space", &self.colour_space)
            .field("feature_points", &self.feature_points)
            .field("pose", &self.pose)
            .field("quality", &self.quality)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// A parsed face image record.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceImageRecord {
    /// The edition it follows.
    pub version: Version,
    /// Its facial images, in record order (at least one).
    pub images: Vec<FaceImage>,
}

/// Whether `bytes` start like a face image record (format identifier "FAC\0").
pub fn is_face_image_record(bytes: &[u8]) -> bool {
    bytes.starts_with(b"FAC\0")
}

/// The most facial images one record may declare: more is not a capture but an attack on
/// memory (each image is at least a header's worth of bytes anyway).
pub const MAX_IMAGES: u16 = 64;

/// Parses a face image record of either edition.
pub fn parse(bytes: &[u8]) -> Result<FaceImageRecord> {
    let r = Bytes::big(bytes);
    if r.slice("format identifier", 0, 4)? != b"FAC\0" {
        return Err(ImageError::Invalid {
            field: "face record format identifier",
            value: format!("{:02x?} (\"FAC\\0\" expected)", &bytes[..4]),
        });
    }
    let (version, images) = match r.slice("version", 4, 4)? {
        b"010\0" => (Version::Iso2005, parse_2005(&r)?),
        b"030\0" => (Version::Iso2011, parse_2011(&r)?),
        v => {
            return Err(ImageError::Invalid {
                field: "face record version",
                value: format!(
                    "{:?} (2005 \"010\" and 2011 \"030\" are read)",
                    String::from_utf8_lossy(v)
                ),
            })
        }
    };
    Ok(FaceImageRecord { version, images })
}

fn image_count(r: &Bytes, at: usize, what: &'static str) -> Result<u16> {
    let count = r.u16(what, at)?;
    if count == 0 || count > MAX_IMAGES {
        return Err(ImageError::Invalid {
            field: what,
            value: format!("{count} (1..={MAX_IMAGES} read)"),
        });
    }
    Ok(count)
}

fn feature_points(r: &Bytes, at: usize, count: usize, three_d: bool) -> Result<Vec<FeaturePoint>> {
    // Checked as one block first, so a hostile count fails before anything is allocated.
    r.slice("feature points", at, 8 * count)?;
    (0..count)
        .map(|i| {
            let p = at + 8 * i;
            Ok(FeaturePoint {
                kind: r.u8("feature point type", p)?,
                code: r.u8("feature point code", p + 1)?,
                x: r.u16("feature point x", p + 2)?,
                y: r.u16("feature point y", p + 4)?,
                z: if three_d {
                    r.u16("feature point z", p + 6)?
                } else {
                    0
                },
            })
        })
        .collect()
}

/// ISO/IEC 19794-5:2005: a 14-byte general header, then facial records of a 20-byte facial
/// information block, 8-byte feature points, a 12-byte image information block and the data.
fn parse_2005(r: &Bytes) -> Result<Vec<FaceImage>> {
    let count = image_count(r, 12, "number of facial images")?;
    let mut images = Vec::new();
    let mut at = 14;
    for index in 0..usize::from(count) {
        let length = r.uint("facial record data length", at, 4)?;
        let points = usize::from(r.u16("number of feature points", at + 4)?);
        let gender = r.u8("gender", at + 6)?;
        let expression = r.u16("expression", at + 12)?;
        let pose: [u8; 3] = r.slice("pose angle", at + 14, 3)?.try_into().unwrap();
        let feature_points = feature_points(r, at + 20, points, false)?;
        let info = at + 20 + 8 * points;
        let data_type =
            ImageDataType::from_code(Version::Iso2005, r.u8("image data type", info + 1)?)?;
        let quality = r.u16("image quality", info + 10)?;
        let header = 20 + 8 * points as u64 + 12;
        let declared = length.checked_sub(header).ok_or(ImageError::Invalid {
            field: "facial record data length",
            value: format!("{length} (its headers alone take {header})"),
        })?;
        let (data, next) = image_data(r, info + 12, declared)?;
        images.push(FaceImage {
            index,
            image_type: FaceImageType::from_code(r.u8("face image type", info)?),
            data_type,
            width: r.u16("image width", info + 2)?,
            height: r.u16("image height", info + 4)?,
            colour_space: r.u8("image colour space", info + 6)?,
            feature_points,
            gender,
            expression,
            pose,
            quality: (1..=100).contains(&quality).then_some(quality as u8),
            data: data.to_vec(),
        });
        at = next;
    }
    Ok(images)
}

/// ISO/IEC 19794-5:2011: a 17-byte general header, then representations, each with capture
/// date and device, quality blocks, a 17-byte facial information block, 8-byte landmark points,
/// an 11-byte image information block and image data of a stated length.
fn parse_2011(r: &Bytes) -> Result<Vec<FaceImage>> {
    let count = image_count(r, 12, "number of representations")?;
    let mut images = Vec::new();
    let mut at = 17;
    for index in 0..usize::from(count) {
        // Length (4), capture date and time (9), device technology (1), vendor (2), type (2).
        at += 4 + 9 + 5;
        let qualities = usize::from(r.u8("quality block count", at)?);
        r.slice("quality blocks", at + 1, 5 * qualities)?;
        let quality = if qualities > 0 {
            Some(r.u8("quality score", at + 1)?).filter(|&q| q <= 100)
        } else {
            None
        };
        at += 1 + 5 * qualities;
        let points = usize::from(r.u16("number of landmark points", at)?);
        let gender = r.u8("gender", at + 2)?;
        let expression = r.u16("expression", at + 9)?;
        let pose: [u8; 3] = r.slice("pose angle", at + 11, 3)?.try_into().unwrap();
        let feature_points = feature_points(r, at + 17, points, true)?;
        let info = at + 17 + 8 * points;
        let image_type = r.u8("face image type", info)?;
        if image_type >= 0x80 {
            return Err(ImageError::Invalid {
                field: "face image type",
                value: format!("{image_type:#04x} (3D representations are not read)"),
            });
        }
        let data_type =
            ImageDataType::from_code(Version::Iso2011, r.u8("image data type", info + 1)?)?;
        let declared = r.uint("image data length", info + 11, 4)?;
        let (data, next) = image_data(r, info + 15, declared)?;
        images.push(FaceImage {
            index,
            image_type: FaceImageType::from_code(image_type),
            data_type,
            width: r.u16("image width", info + 2)?,
            height: r.u16("image height", info + 4)?,
            colour_space: r.u8("image colour space", info + 10)?,
            feature_points,
            gender,
            expression,
            pose,
            quality,
            data: data.to_vec(),
        });
        at = next;
    }
    Ok(images)
}

/// The image data at `offset`, declared `declared` bytes long, and where the next image starts.
/// The image's own end (see the module docs) decides when the declared length disagrees.
fn image_data<'a>(r: &Bytes<'a>, offset: usize, declared: u64) -> Result<(&'a [u8], usize)> {
    let rest = r.data.get(offset..).unwrap_or(&[]);
    let fits = usize::try_from(declared)
        .ok()
        .filter(|&d| d > 0 && d <= rest.len());
    match (fits, image_end(rest)) {
        // The declared length holds the whole image (perhaps with padding): trust it.
        (Some(d), Some(n)) if n <= d => Ok((&rest[..n], offset + d)),
        (Some(d), None) => Ok((&rest[..d], offset + d)),
        // A wrong length, but the image says where it ends.
        (_, Some(n)) => Ok((&rest[..n], offset + n)),
        (None, None) => Err(ImageError::Truncated {
            what: "face image data",
            offset,
            needed: usize::try_from(declared).unwrap_or(usize::MAX).max(1),
            available: rest.len(),
        }),
    }
}

/// Where the image that `bytes` start with ends, by its own structure, if that can be told.
fn image_end(bytes: &[u8]) -> Option<usize> {
    const JP2: &[u8] = &[0, 0, 0, 0x0c, b'j', b'P', b' ', b' '];
    if bytes.starts_with(JP2) {
        jp2_end(bytes)
    } else if bytes.starts_with(&[0xff, 0x4f, 0xff, 0x51]) {
        j2k_end(bytes, 0)
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        jpeg_end(bytes)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        png_end(bytes)
    } else {
        None
    }
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn be16(bytes: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    )))
}

/// The end of a JP2 file: the end of its codestream box's codestream (box lengths are not
/// trusted: senders get them wrong the same way they get record lengths wrong).
fn jp2_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let len = be32(bytes, at)? as usize;
        if bytes.get(at + 4..at + 8)? == b"jp2c" {
            return j2k_end(bytes, at + 8);
        }
        let len = match len {
            1 => usize::try_from(
                u64::from(be32(bytes, at + 8)?) << 32 | u64::from(be32(bytes, at + 12)?),
            )
            .ok()?,
            len if len >= 8 => len,
            _ => return None,
        };
        at = at.checked_add(len)?;
    }
    None
}

/// The end of a JPEG 2000 codestream starting at `at`: its main header's marker segments, then
/// tile-parts of stated length (SOT's Psot), then the EOC marker. A last tile-part of length 0
/// runs to the last EOC.
fn j2k_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes.get(at..at + 2)? != [0xff, 0x4f] {
        return None;
    }
    at += 2;
    loop {
        match (bytes.get(at)?, bytes.get(at + 1)?) {
            (0xff, 0xd9) => return Some(at + 2),
            (0xff, 0x90) => {
                let psot = be32(bytes, at + 6)? as usize;
                if psot == 0 {
                    let eoc = bytes.windows(2).rposition(|w| w == [0xff, 0xd9])?;
                    return (eoc >= at).then_some(eoc + 2);
                }
                at = at.checked_add(psot)?;
            }
            (0xff, _) => at = at.checked_add(2 + be16(bytes, at + 2)?)?,
            _ => return None,
        }
    }
}

/// The end of a JPEG: marker segments, and after each scan its entropy-coded data up to the
/// next marker that is neither a stuffed 0xFF00 nor a restart marker, until EOI.
fn jpeg_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 2usize;
    loop {
        if *bytes.get(at)? != 0xff {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            0xff => at += 1,
            0xd9 => return Some(at + 2),
            0x01 | 0xd0..=0xd7 => at += 2,
            0xda => {
                at = at.checked_add(2 + be16(bytes, at + 2)?)?;
                // Entropy-coded data: to the next real marker.
                loop {
                    let i = at + bytes.get(at..)?.iter().position(|&b| b == 0xff)?;
                    match *bytes.get(i + 1)? {
                        0x00 | 0xd0..=0xd7 | 0xff => at = i + 1,
                        _ => {
                            at = i;
                            break;
                        }
                    }
                }
            }
            _ => at = at.checked_add(2 + be16(bytes, at + 2)?)?,
        }
    }
}

/// The end of a PNG: chunks of stated length up to and including IEND.
fn png_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 8usize;
    loop {
        let len = be32(bytes, at)? as usize;
        let end = at.checked_add(12)?.checked_add(len)?;
        if end > bytes.len() {
            return None;
        }
        if bytes.get(at + 4..at + 8)? == b"IEND" {
            return Some(end);
        }
        at = end;
    }
}

impl FaceImage {
    /// The image in colour (a grey image has three equal channels), checked against the
    /// declared size. The data's format is told by its bytes (senders mix up the codes).
    pub fn decode_rgb(&self) -> Result<RgbImage> {
        self.check_declared()?;
        let image = crate::decode_rgb(&self.data).map_err(|e| self.unknown_format(e))?;
        self.check_decoded(image.width, image.height)?;
        Ok(image)
    }

    /// The image in 8-bit grey, checked against the declared size.
    pub fn decode_grey(&self) -> Result<GreyImage> {
        self.check_declared()?;
        let image = crate::decode(&self.data).map_err(|e| self.unknown_format(e))?;
        self.check_decoded(image.width, image.height)?;
        Ok(image)
    }

    fn check_declared(&self) -> Result<()> {
        check_size(self.width.into(), self.height.into())
    }

    fn check_decoded(&self, width: u32, height: u32) -> Result<()> {
        let declared = (u32::from(self.width), u32::from(self.height));
        if (width, height) != declared {
            return Err(ImageError::SizeMismatch {
                declared,
                decoded: (width, height),
            });
        }
        Ok(())
    }

    fn unknown_format(&self, e: ImageError) -> ImageError {
        let format = self.data_type.format();
        match e {
            ImageError::UnknownFormat(head) => ImageError::Decode {
                format,
                reason: format!("the data is not {format} (first bytes {head})"),
            },
            e => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2005 record of `images` copies of `data` (declared as `data_type`), each with one
    /// feature point, with the declared image length `declared(len)`.
    fn record_2005(data: &[u8], images: u16, declared: impl Fn(usize) -> usize) -> Vec<u8> {
        let mut out = b"FAC\x00010\x00".to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&images.to_be_bytes());
        for _ in 0..images {
            let length = (20 + 8 + 12 + declared(data.len())) as u32;
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&[1, 2, 3, 0, 0, 0, 0, 0, 91, 95, 99, 0, 0, 0]);
            out.extend_from_slice(&[1, 0x31, 0, 10, 0, 20, 0, 0]);
            out.extend_from_slice(&[1, 0, 0, 4, 0, 3, 1, 0, 0, 0, 0, 50]);
            out.extend_from_slice(data);
        }
        out
    }

    /// A minimal JPEG structure (not decodable pixels, but delimitable): SOI, a segment, SOF0,
    /// SOS with entropy bytes holding stuffed 0xFF00 and a restart marker, EOI.
    fn fake_jpeg() -> Vec<u8> {
        let mut j = vec![0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2];
        j.extend_from_slice(&[0xff, 0xc0, 0, 11, 8, 0, 3, 0, 4, 1, 1, 0x11, 0]);
        j.extend_from_slice(&[0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0]);
        j.extend_from_slice(&[0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56]);
        j.extend_from_slice(&[0xff, 0xd9]);
        j
    }

    #[test]
    fn a_2005_record_is_read_with_its_feature_points_and_image_bounds() {
        let jpeg = fake_jpeg();
        let bytes = record_2005(&jpeg, 2, |n| n);
        let record = parse(&bytes).unwrap();
        assert_eq!(record.version, Version::Iso2005);
        assert_eq!(record.images.len(), 2);
        let image = &record.images[1];
        assert_eq!(image.index, 1);
        assert_eq!(image.image_type, FaceImageType::FullFrontal);
        assert_eq!(image.data_type, ImageDataType::Jpeg);
        assert_eq!((image.width, image.height), (4, 3));
        assert_eq!(image.quality, Some(50));
        assert_eq!(image.pose, [91, 95, 99]);
        assert_eq!(
            image.feature_points,
            vec![FeaturePoint {
                kind: 1,
                code: 0x31,
                x: 10,
                y: 20,
                z: 0
            }]
        );
        assert_eq!(image.data, jpeg);
    }

    #[test]
    fn wrong_lengths_and_trailing_junk_are_survived_where_the_image_delimits_itself() {
        let jpeg = fake_jpeg();
        // Declared too short: the JPEG's own EOI decides, and the next image is found.
        let mut bytes = record_2005(&jpeg, 2, |n| n - 9);
        bytes.extend_from_slice(b"junk after the record");
        let record = parse(&bytes).unwrap();
        assert!(record.images.iter().all(|i| i.data == jpeg));
        // Declared longer (padding inside the record): the padding is skipped.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0; 5]);
        let record = parse(&record_2005(&padded, 2, |n| n)).unwrap();
        assert!(record.images.iter().all(|i| i.data == jpeg));
    }

    /// A 2011 record of one representation holding `data` as PNG, with a quality block, two
    /// landmark points and the declared image length `declared`.
    fn record_2011(data: &[u8], width: u16, height: u16, declared: u32) -> Vec<u8> {
        let mut out = b"FAC\x00030\x00".to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0]); // one representation, not certified
        out.extend_from_slice(&0u32.to_be_bytes()); // representation length (not trusted)
        out.extend_from_slice(&[0x07, 0xe4, 1, 2, 3, 4, 5, 0, 6]); // capture date and time
        out.extend_from_slice(&[0, 0, 0, 0, 0]); // device technology, vendor, type
        out.extend_from_slice(&[1, 77, 0, 1, 0, 2]); // one quality block: score 77
        out.extend_from_slice(&2u16.to_be_bytes()); // landmark points
        out.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&[1, 0x35, 0, 5, 0, 6, 0, 7]);
        out.extend_from_slice(&[1, 0x36, 0, 8, 0, 9, 0, 10]);
        out.extend_from_slice(&[1, 3]); // full frontal, PNG
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 1]); // sampling, processing, cross ref, 24-bit RGB
        out.extend_from_slice(&declared.to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn a_2011_record_with_a_png_is_read_and_decoded_in_colour() {
        let grey = GreyImage::new(7, 5, (0..35).map(|v| v * 7).collect(), None).unwrap();
        let png = crate::overlay_png(&grey, &[]).unwrap();
        for declared in [png.len() as u32, 10, u32::MAX] {
            let mut bytes = record_2011(&png, 7, 5, declared);
            bytes.extend_from_slice(b"trailing junk");
            let record = parse(&bytes).unwrap();
            assert_eq!(record.version, Version::Iso2011);
            let image = &record.images[0];
            assert_eq!(image.data, png, "declared {declared}");
            assert_eq!(image.quality, Some(77));
            assert_eq!(image.gender, 2);
            assert_eq!(image.image_type, FaceImageType::FullFrontal);
            assert_eq!(image.data_type, ImageDataType::Png);
            assert_eq!(image.colour_space, 1);
            let points: Vec<(u8, u16, u16, u16)> = image
                .feature_points
                .iter()
                .map(|p| (p.code, p.x, p.y, p.z))
                .collect();
            assert_eq!(points, vec![(0x35, 5, 6, 7), (0x36, 8, 9, 10)]);
            let rgb = image.decode_rgb().unwrap();
            assert_eq!((rgb.width, rgb.height), (7, 5));
            assert_eq!(rgb.at(3, 2), [119, 119, 119]);
            assert_eq!(image.decode_grey().unwrap().pixels, grey.pixels);
        }
        // Declared larger than the image's own end: padding skipped, the image intact.
        let mut padded = png.clone();
        padded.extend_from_slice(&[0; 9]);
        let record = parse(&record_2011(&padded, 7, 5, padded.len() as u32)).unwrap();
        assert_eq!(record.images[0].data, png);
        // A 3D representation is refused by name.
        let mut three_d = record_2011(&png, 7, 5, png.len() as u32);
        let info = 17 + 18 + 6 + 17 + 16;
        three_d[info] = 0x80;
        let err = parse(&three_d).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::Invalid {
                    field: "face image type",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_records_are_typed_errors() {
        let good = record_2005(&fake_jpeg(), 1, |n| n);
        for cut in [0, 3, 7, 13, 20, 40, 60] {
            let err = parse(&good[..cut]).unwrap_err();
            assert!(
                matches!(err, ImageError::Truncated { .. }),
                "cut at {cut}: {err}"
            );
        }
        let mut other = good.clone();
        other[..4].copy_from_slice(b"FIR\0");
        assert!(matches!(parse(&other), Err(ImageError::Invalid { .. })));
        let mut version = good.clone();
        version[4..8].copy_from_slice(b"020\0");
        assert!(matches!(parse(&version), Err(ImageError::Invalid { .. })));
        let mut many = good.clone();
        many[12..14].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(parse(&many), Err(ImageError::Invalid { .. })));
        let mut points = good.clone();
        points[18..20].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(parse(&points), Err(ImageError::Truncated { .. })));
        let mut kind = good.clone();
        kind[14 + 20 + 8 + 1] = 7;
        assert!(matches!(parse(&kind), Err(ImageError::Invalid { .. })));
        // The data is no image at all: decoding names the declared format.
        let record = parse(&record_2005(b"not an image", 1, |n| n)).unwrap();
        let err = record.images[0].decode_rgb().unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::Decode {
                    format: ImageFormat::Jpeg,
                    ..
                }
            ),
            "{err}"
        );
    }
}
