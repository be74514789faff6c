//! What an image is before it is decoded: its format from the first bytes, and its dimensions
//! and stated resolution from its headers, read here so that a hostile size is refused before a
//! codec allocates anything.

use crate::bytes::Bytes;
use crate::{ImageError, Resolution, Result};

/// An image format abis decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG 2000, a JP2 file or a bare codestream.
    Jpeg2000,
    /// FBI Wavelet Scalar Quantization.
    Wsq,
    /// PNG.
    Png,
    /// JPEG (JFIF or Exif).
    Jpeg,
    /// TIFF, either byte order.
    Tiff,
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Jpeg2000 => "JPEG 2000",
            Self::Wsq => "WSQ",
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Tiff => "TIFF",
        })
    }
}

/// What the headers of an image say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// The format, from the first bytes.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The resolution the file states, if it states a plausible one.
    pub resolution: Option<Resolution>,
    /// Where the image data ends: a JPEG 2000 codestream ends at its EOC marker, and whatever
    /// follows (senders pad with zeros) is not given to the codec.
    end: usize,
}

impl Probe {
    /// `bytes` without what follows the image data.
    pub fn trimmed<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[..self.end.min(bytes.len())]
    }
}

const JP2_SIGNATURE: &[u8] = &[
    0, 0, 0, 0x0c, b'j', b'P', b' ', b' ', 0x0d, 0x0a, 0x87, 0x0a,
];
const J2K_CODESTREAM: &[u8] = &[0xff, 0x4f, 0xff, 0x51];
const WSQ_SOI: &[u8] = &[0xff, 0xa0];
const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SOI: &[u8] = &[0xff, 0xd8, 0xff];

/// The format, dimensions and stated resolution of an image.
pub fn probe(bytes: &[u8]) -> Result<Probe> {
    let (format, width, height, resolution, end) = if bytes.starts_with(JP2_SIGNATURE) {
        let (w, h, r) = jp2(bytes)?;
        (ImageFormat::Jpeg2000, w, h, r, codestream_end(bytes))
    } else if bytes.starts_with(J2K_CODESTREAM) {
        let (w, h) = j2k_size(bytes, 0)?;
        (ImageFormat::Jpeg2000, w, h, None, codestream_end(bytes))
    } else if bytes.starts_with(WSQ_SOI) {
        // The WSQ decoder reads its own frame header and bounds it.
        (ImageFormat::Wsq, 0, 0, None, bytes.len())
    } else if bytes.starts_with(PNG_SIGNATURE) {
        let (w, h, r) = png(bytes)?;
        // A PNG ends with its IEND chunk; without one the data is cut short (checked here so
        // that libpng is not handed, and does not log about, a truncated stream).
        if !bytes.windows(4).rev().take(64).any(|w| w == b"IEND") {
            return Err(ImageError::Truncated {
                what: "PNG (no IEND chunk at the end)",
                offset: bytes.len(),
                needed: 12,
                available: 0,
            });
        }
        (ImageFormat::Png, w, h, r, bytes.len())
    } else if bytes.starts_with(JPEG_SOI) {
        let (w, h, r) = jpeg(bytes)?;
        (ImageFormat::Jpeg, w, h, r, bytes.len())
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        let (w, h, r) = tiff(bytes)?;
        (ImageFormat::Tiff, w, h, r, bytes.len())
    } else {
        let head: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(ImageError::UnknownFormat(head));
    };
    Ok(Probe {
        format,
        width,
        height,
        resolution: resolution.filter(|r| r.is_plausible()),
        end,
    })
}

fn size_u32(what: &'static str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| ImageError::Invalid {
        field: what,
        value: v.to_string(),
    })
}

/// One box of a JP2 file: its type and its contents' range.
fn jp2_boxes(bytes: &[u8], mut offset: usize, end: usize) -> Result<Vec<([u8; 4], usize, usize)>> {
    let r = Bytes::big(bytes);
    let mut boxes = Vec::new();
    while offset + 8 <= end {
        let len = u64::from(r.u32("JP2 box length", offset)?);
        let kind: [u8; 4] = r.slice("JP2 box type", offset + 4, 4)?.try_into().unwrap();
        let (header, len) = match len {
            0 => (8, (end - offset) as u64),
            1 => (16, r.uint("JP2 box extended length", offset + 8, 8)?),
            n => (8, n),
        };
        let stop = usize::try_from(len)
            .ok()
            .and_then(|l| offset.checked_add(l))
            .filter(|&s| s <= end && len >= header as u64);
        let Some(stop) = stop else {
            // A box running past its container: take what is there (the codestream box of a
            // record with a wrong length field), and stop.
            boxes.push((kind, offset + header, end));
            break;
        };
        boxes.push((kind, offset + header, stop));
        offset = stop;
    }
    Ok(boxes)
}

/// Width, height and capture (else display) resolution of a JP2 file.
fn jp2(bytes: &[u8]) -> Result<(u32, u32, Option<Resolution>)> {
    let r = Bytes::big(bytes);
    let top = jp2_boxes(bytes, 0, bytes.len())?;
    let header = top
        .iter()
        .find(|(k, ..)| k == b"jp2h")
        .ok_or_else(|| ImageError::Invalid {
            field: "JP2 file",
            value: "no jp2h header box".into(),
        })?;
    let inner = jp2_boxes(bytes, header.1, header.2)?;
    let ihdr = inner
        .iter()
        .find(|(k, ..)| k == b"ihdr")
        .ok_or_else(|| ImageError::Invalid {
            field: "JP2 header",
            value: "no ihdr box".into(),
        })?;
    let height = r.u32("JP2 ihdr height", ihdr.1)?;
    let width = r.u32("JP2 ihdr width", ihdr.1 + 4)?;
    let mut resolution = None;
    if let Some(res) = inner.iter().find(|(k, ..)| k == b"res ") {
        let boxes = jp2_boxes(bytes, res.1, res.2)?;
        // Capture resolution is what a matcher needs; display resolution only if it is all.
        for kind in [b"resc", b"resd"] {
            if let Some(b) = boxes.iter().find(|(k, ..)| k == kind) {
                resolution = jp2_resolution(&r, b.1).ok().flatten();
                if resolution.is_some() {
                    break;
                }
            }
        }
    }
    Ok((width, height, resolution))
}

/// A JP2 `resc`/`resd` box: grid points per metre as numerator / denominator x 10^exponent.
fn jp2_resolution(r: &Bytes, at: usize) -> Result<Option<Resolution>> {
    let per_metre = |num: usize, den: usize, exp: usize| -> Result<Option<f32>> {
        let (n, d) = (
            r.u16("JP2 resolution", at + num)?,
            r.u16("JP2 resolution", at + den)?,
        );
        let e = r.u8("JP2 resolution exponent", at + exp)? as i8;
        Ok((d != 0).then(|| f32::from(n) / f32::from(d) * 10f32.powi(i32::from(e)) * 0.0254))
    };
    let vertical = per_metre(0, 2, 8)?;
    let horizontal = per_metre(4, 6, 9)?;
    Ok(horizontal
        .zip(vertical)
        .map(|(horizontal, vertical)| Resolution {
            horizontal,
            vertical,
        }))
}

/// Width and height from a codestream's SIZ marker at `at`.
fn j2k_size(bytes: &[u8], at: usize) -> Result<(u32, u32)> {
    let r = Bytes::big(bytes);
    // SOC (2) then SIZ marker (2), Lsiz (2), Rsiz (2), Xsiz, Ysiz, XOsiz, YOsiz (4 each).
    let x = r.u32("J2K SIZ", at + 8)?;
    let y = r.u32("J2K SIZ", at + 12)?;
    let x0 = r.u32("J2K SIZ", at + 16)?;
    let y0 = r.u32("J2K SIZ", at + 20)?;
    let (Some(w), Some(h)) = (x.checked_sub(x0), y.checked_sub(y0)) else {
        return Err(ImageError::Invalid {
            field: "J2K SIZ",
            value: format!("image offset ({x0}, {y0}) past its size ({x}, {y})"),
        });
    };
    Ok((w, h))
}

/// Where a JPEG 2000 codestream ends: just after its last EOC marker (0xFFD9). Inside a
/// codestream no 0xFF byte is followed by a byte above 0x8F, so the last 0xFFD9 is the EOC.
fn codestream_end(bytes: &[u8]) -> usize {
    bytes
        .windows(2)
        .rposition(|w| w == [0xff, 0xd9])
        .map_or(bytes.len(), |i| i + 2)
}

/// Width, height and physical resolution (pHYs in pixels per metre) of a PNG.
fn png(bytes: &[u8]) -> Result<(u32, u32, Option<Resolution>)> {
    let r = Bytes::big(bytes);
    // The IHDR chunk must come first.
    if r.slice("PNG IHDR", 12, 4)? != b"IHDR" {
        return Err(ImageError::Invalid {
            field: "PNG",
            value: "first chunk is not IHDR".into(),
        });
    }
    let width = r.u32("PNG width", 16)?;
    let height = r.u32("PNG height", 20)?;
    let mut offset = 8;
    let mut resolution = None;
    while let (Ok(len), Ok(kind)) = (
        r.u32("PNG chunk", offset),
        r.slice("PNG chunk", offset + 4, 4),
    ) {
        match kind {
            b"pHYs" => {
                let x = r.u32("PNG pHYs", offset + 8)?;
                let y = r.u32("PNG pHYs", offset + 12)?;
                if r.u8("PNG pHYs unit", offset + 16)? == 1 {
                    resolution = Some(Resolution {
                        horizontal: x as f32 * 0.0254,
                        vertical: y as f32 * 0.0254,
                    });
                }
                break;
            }
            b"IDAT" | b"IEND" => break,
            _ => offset = offset.saturating_add(12).saturating_add(len as usize),
        }
    }
    Ok((width, height, resolution))
}

/// Width and height (from the frame header) and JFIF density of a JPEG.
fn jpeg(bytes: &[u8]) -> Result<(u32, u32, Option<Resolution>)> {
    let r = Bytes::big(bytes);
    let mut offset = 2;
    let mut resolution = None;
    loop {
        if r.u8("JPEG marker", offset)? != 0xff {
            return Err(ImageError::Invalid {
                field: "JPEG marker",
                value: format!("no marker at offset {offset}"),
            });
        }
        let marker = r.u8("JPEG marker", offset + 1)?;
        if marker == 0xff {
            offset += 1; // fill byte
            continue;
        }
        let len = usize::from(r.u16("JPEG segment length", offset + 2)?);
        let body = offset + 4;
        match marker {
            0xe0 if r.slice("JFIF", body, 5)? == b"JFIF\0" => {
                let units = r.u8("JFIF units", body + 7)?;
                let (x, y) = (
                    r.u16("JFIF density", body + 8)?,
                    r.u16("JFIF density", body + 10)?,
                );
                let per_inch = match units {
                    1 => Some(1.0),
                    2 => Some(2.54),
                    _ => None,
                };
                resolution = per_inch.map(|k| Resolution {
                    horizontal: f32::from(x) * k,
                    vertical: f32::from(y) * k,
                });
            }
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => {
                let height = r.u16("JPEG frame height", body + 1)?;
                let width = r.u16("JPEG frame width", body + 3)?;
                return Ok((width.into(), height.into(), resolution));
            }
            0xd9 | 0xda => {
                return Err(ImageError::Invalid {
                    field: "JPEG",
                    value: "no frame header before the scan".into(),
                })
            }
            _ => {}
        }
        offset = offset + 2 + len;
    }
}

/// Width, height and resolution of a TIFF's first image.
fn tiff(bytes: &[u8]) -> Result<(u32, u32, Option<Resolution>)> {
    let r = Bytes {
        data: bytes,
        little_endian: bytes.starts_with(b"II"),
    };
    let ifd = r.u32("TIFF first IFD offset", 4)? as usize;
    let entries = usize::from(r.u16("TIFF IFD entry count", ifd)?);
    let (mut width, mut height, mut unit) = (None, None, 2u16);
    let (mut x_res, mut y_res) = (None, None);
    for i in 0..entries {
        let at = ifd + 2 + i * 12;
        let tag = r.u16("TIFF tag", at)?;
        let kind = r.u16("TIFF tag type", at + 2)?;
        // SHORT (3) or LONG (4) values sit in the entry itself.
        let value = || -> Result<u64> {
            match kind {
                3 => Ok(r.u16("TIFF value", at + 8)?.into()),
                _ => Ok(r.u32("TIFF value", at + 8)?.into()),
            }
        };
        let rational = || -> Result<Option<f32>> {
            let offset = r.u32("TIFF rational offset", at + 8)? as usize;
            let (n, d) = (
                r.u32("TIFF rational", offset)?,
                r.u32("TIFF rational", offset + 4)?,
            );
            Ok((d != 0).then(|| n as f32 / d as f32))
        };
        match tag {
            256 => width = Some(size_u32("TIFF width", value()?)?),
            257 => height = Some(size_u32("TIFF height", value()?)?),
            282 => x_res = rational()?,
            283 => y_res = rational()?,
            296 => unit = value()? as u16,
            _ => {}
        }
    }
    let (Some(width), Some(height)) = (width, height) else {
        return Err(ImageError::Invalid {
            field: "TIFF",
            value: "no image width or length tag".into(),
        });
    };
    let per_inch = match unit {
        2 => Some(1.0),
        3 => Some(2.54),
        _ => None,
    };
    let resolution = per_inch
        .zip(x_res.zip(y_res))
        .map(|(k, (x, y))| Resolution {
            horizontal: x * k,
            vertical: y * k,
        });
    Ok((width, height, resolution))
}
