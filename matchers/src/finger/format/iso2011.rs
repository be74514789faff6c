//! ISO/IEC 19794-2:2011 finger minutiae record.
//!
//! Layout (big-endian), 15-byte general header then the finger representations:
//! ```text
//!  0  "FMR\0"              format identifier
//!  4  "030\0"              version (three ASCII digits and a NUL, as ISO/IEC 19794-1:2011 sets)
//!  8  u32                  record length
//! 12  u16                  number of finger representations (at least 1)
//! 14  u8                   certification flag (0 or 1)
//!     per representation:
//!  +0 u32                  representation length (this header included)
//!  +4 [u8; 9]              capture date and time (kept raw)
//! +13 u8                   capture device technology identifier
//! +14 u16, u16             capture device vendor identifier, device type identifier
//! +18 u8 + 5 bytes each    quality blocks: score u8, algorithm vendor u16, algorithm id u16
//!     u8 + 3 bytes each    certification blocks, only when the flag is 1: authority u16, scheme u8
//!     u8                   finger position
//!     u8                   representation (view) number
//!     u16, u16             x, y resolution (pixels per cm)
//!     u8                   impression type
//!     u16, u16             image width, height
//!     u8                   minutia field length (high nibble, 5 or 6) | ridge ending type (low)
//!     u8                   number of minutiae
//!     minutiae             5 or 6 bytes: type+x, reserved+y, angle (360/256 degrees), [quality]
//!     u16 + areas          extended data, as in 2005
//! ```
//! What is read into [`MinutiaeRecord`] / [`FingerView`] fields: position, view number, impression
//! type, geometry (record level: every representation must agree, else
//! [`InconsistentViews`](super::FormatErrorKind::InconsistentViews)), minutiae, extended data, and
//! the finger quality (the first quality block's score). Everything else is kept raw in
//! [`CaptureInfo`]. The record length is not used to bound reading; each representation length
//! must equal the representation's structural size.

use super::bytes::{Reader, Writer};
use super::view::{read_extended, read_minutiae, write_extended, write_minutiae, AngleUnits};
use super::{
    CaptureInfo, CertificationBlock, FingerView, FormatErrorKind, MinutiaeRecord, ParseOptions,
    Parsed, QualityBlock, RecordFormat,
};
use crate::Result;

const NAME: &str = "ISO 19794-2:2011";

/// The version field of this edition.
pub(super) const VERSION: [u8; 4] = *b"030\0";

/// The smallest representation: fixed fields, no blocks, no minutiae, empty extended data.
const MIN_REPRESENTATION_LEN: usize = 36;

/// Ridge ending type written when a view has no [`CaptureInfo`]: 1, valley skeleton bifurcation
/// point, the definition ISO 2005 and ANSI 378 use for ridge endings.
const DEFAULT_RIDGE_ENDING_TYPE: u8 = 1;

/// Image geometry a representation declares: width, height, x and y resolution.
type Geometry = (u16, u16, u16, u16);

/// Reads a record whose magic and version the caller has checked.
pub(super) fn parse(bytes: &[u8], options: ParseOptions) -> Result<Parsed> {
    let mut r = Reader::new(bytes, NAME);
    r.take(8)?;
    r.u32()?; // record length: not used to bound reading, see the module doc of `format`
    let count_at = r.pos();
    let count = r.u16()? as usize;
    if count == 0 {
        return Err(r.error_at(
            count_at,
            FormatErrorKind::InvalidField {
                field: "number of finger representations",
                value: 0,
            },
        ));
    }
    let flag_at = r.pos();
    let certified = match r.u8()? {
        0 => false,
        1 => true,
        other => {
            return Err(r.error_at(
                flag_at,
                FormatErrorKind::InvalidField {
                    field: "certification flag",
                    value: other as u64,
                },
            ))
        }
    };
    let mut views = Vec::with_capacity(count.min(r.remaining() / MIN_REPRESENTATION_LEN));
    let mut geometry: Option<Geometry> = None;
    let mut capture_equipment = 0;
    for _ in 0..count {
        let start = r.pos();
        let (view, this) = read_representation(&mut r, certified, options)?;
        match geometry {
            None => {
                geometry = Some(this);
                capture_equipment = view.capture.as_ref().map_or(0, |c| c.device_type);
            }
            Some(first) if first.0 != this.0 || first.1 != this.1 => {
                return Err(r.error_at(start, FormatErrorKind::InconsistentViews("image size")))
            }
            Some(first) if first.2 != this.2 || first.3 != this.3 => {
                return Err(r.error_at(start, FormatErrorKind::InconsistentViews("resolution")))
            }
            Some(_) => {}
        }
        views.push(view);
    }
    let content_len = r.pos();
    r.finish()?;
    let (width, height, x_resolution, y_resolution) = geometry.unwrap_or_default();
    Ok(Parsed {
        record: MinutiaeRecord {
            format: RecordFormat::Iso19794_2_2011,
            width,
            height,
            x_resolution,
            y_resolution,
            capture_equipment,
            product_id: 0,
            views,
        },
        content_len,
    })
}

/// Reads one finger representation and the geometry it declares.
fn read_representation(
    r: &mut Reader<'_>,
    certified: bool,
    options: ParseOptions,
) -> Result<(FingerView, Geometry)> {
    let start = r.pos();
    let declared = r.u32()?;
    let date_time = r.array::<9>()?;
    let device_technology = r.u8()?;
    let device_vendor = r.u16()?;
    let device_type = r.u16()?;
    let quality_count = r.u8()? as usize;
    let mut quality_blocks = Vec::with_capacity(quality_count.min(r.remaining() / 5));
    for _ in 0..quality_count {
        quality_blocks.push(QualityBlock {
            score: r.u8()?,
            vendor: r.u16()?,
            algorithm: r.u16()?,
        });
    }
    let certifications = if certified {
        let n = r.u8()? as usize;
        let mut blocks = Vec::with_capacity(n.min(r.remaining() / 3));
        for _ in 0..n {
            blocks.push(CertificationBlock {
                authority: r.u16()?,
                scheme: r.u8()?,
            });
        }
        Some(blocks)
    } else {
        None
    };
    let position = r.u8()?;
    let view_number = r.u8()?;
    let x_resolution = r.u16()?;
    let y_resolution = r.u16()?;
    let impression_type = r.u8()?;
    let width = r.u16()?;
    let height = r.u16()?;
    let packed_at = r.pos();
    let packed = r.u8()?;
    let minutia_quality = match packed >> 4 {
        5 => false,
        6 => true,
        other => {
            return Err(r.error_at(
                packed_at,
                FormatErrorKind::InvalidField {
                    field: "minutia field length",
                    value: other as u64,
                },
            ))
        }
    };
    let count = r.u8()? as usize;
    let minutiae = read_minutiae(r, count, minutia_quality, AngleUnits::Iso)?;
    let extended = read_extended(r, options.extended)?;
    if (r.pos() - start) as u64 != declared as u64 {
        return Err(r.error_at(
            start,
            FormatErrorKind::InvalidField {
                field: "representation length",
                value: declared as u64,
            },
        ));
    }
    let view = FingerView {
        position,
        view_number,
        impression_type,
        quality: quality_blocks.first().map_or(0, |q| q.score),
        minutiae,
        extended,
        capture: Some(CaptureInfo {
            date_time,
            device_technology,
            device_vendor,
            device_type,
            quality_blocks,
            certifications,
            ridge_ending_type: packed & 0x0F,
            minutia_quality,
        }),
    };
    Ok((view, (width, height, x_resolution, y_resolution)))
}

/// Writes `record` as ISO 19794-2:2011. Views without [`CaptureInfo`] get: no date (`0xFF` x 9),
/// technology 0 (unknown), vendor 0, device type = [`MinutiaeRecord::capture_equipment`], one
/// quality block `{ score: view.quality, vendor: 0, algorithm: 0 }`, no certification blocks,
/// ridge ending type 1 and 6-byte minutiae. The certification flag is 1 when any view carries
/// `certifications: Some(..)`.
pub(super) fn write(record: &MinutiaeRecord) -> Result<Vec<u8>> {
    let mut w = Writer::new(NAME);
    w.bytes(b"FMR\0");
    w.bytes(&VERSION);
    w.u32(0); // record length, patched below
    if record.views.is_empty() {
        let field = "number of finger representations";
        return Err(w.error(FormatErrorKind::InvalidField { field, value: 0 }));
    }
    w.u16_checked("number of finger representations", record.views.len())?;
    let certified = record.views.iter().any(|v| {
        v.capture
            .as_ref()
            .is_some_and(|c| c.certifications.is_some())
    });
    w.u8(certified as u8);
    for view in &record.views {
        write_representation(&mut w, record, view, certified)?;
    }
    let len = w.len();
    w.patch_u32(8, "record length", len)?;
    Ok(w.into_bytes())
}

/// Writes one finger representation.
fn write_representation(
    w: &mut Writer,
    record: &MinutiaeRecord,
    view: &FingerView,
    certified: bool,
) -> Result<()> {
    let start = w.len();
    w.u32(0); // representation length, patched below
    let default_quality = [QualityBlock {
        score: view.quality,
        vendor: 0,
        algorithm: 0,
    }];
    let (quality_blocks, certifications, ending, with_quality): (&[QualityBlock], &[_], u8, bool) =
        match &view.capture {
            Some(c) => {
                w.bytes(&c.date_time);
                w.u8(c.device_technology);
                w.u16(c.device_vendor);
                w.u16(c.device_type);
                let certs = c.certifications.as_deref().unwrap_or(&[]);
                (
                    &c.quality_blocks,
                    certs,
                    c.ridge_ending_type,
                    c.minutia_quality,
                )
            }
            None => {
                w.bytes(&[0xFF; 9]);
                w.u8(0);
                w.u16(0);
                w.u16(record.capture_equipment);
                (&default_quality, &[], DEFAULT_RIDGE_ENDING_TYPE, true)
            }
        };
    w.u8_checked("number of quality blocks", quality_blocks.len())?;
    for q in quality_blocks {
        w.u8(q.score);
        w.u16(q.vendor);
        w.u16(q.algorithm);
    }
    if certified {
        w.u8_checked("number of certification blocks", certifications.len())?;
        for c in certifications {
            w.u16(c.authority);
            w.u8(c.scheme);
        }
    }
    w.u8(view.position);
    w.u8(view.view_number);
    w.u16(record.x_resolution);
    w.u16(record.y_resolution);
    w.u8(view.impression_type);
    w.u16(record.width);
    w.u16(record.height);
    let ending = w.fit("ridge ending type", ending as u64, 0x0F)? as u8;
    w.u8(if with_quality { 0x60 } else { 0x50 } | ending);
    w.u8_checked("number of minutiae", view.minutiae.len())?;
    write_minutiae(w, &view.minutiae, with_quality, AngleUnits::Iso)?;
    write_extended(w, &view.extended)?;
    let len = w.len() - start;
    w.patch_u32(start, "representation length", len)
}
