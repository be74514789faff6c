//! ISO/IEC 19794-2:2005 finger minutiae record.
//!
//! Layout (big-endian), 24-byte record header then the views:
//! ```text
//!  0  "FMR\0"              format identifier
//!  4  " 20\0"              version
//!  8  u32                  record length (whole record)
//! 12  u16                  capture equipment: certification (4 bits) + device type (12 bits)
//! 14  u16, u16             image width, height (pixels)
//! 18  u16, u16             x, y resolution (pixels per cm)
//! 22  u8                   number of finger views
//! 23  u8                   reserved (written 0, ignored on read)
//! 24  views: position u8, view number << 4 | impression type u8, finger quality u8,
//!     minutia count u8, minutiae (6 bytes each), extended data (u16 length + areas)
//! ```
//! The record length is not used to bound reading (the view structure is); see [`super`] for the
//! tolerance rules.

use super::bytes::{Reader, Writer};
use super::view::{read_view, write_view, AngleUnits, MIN_VIEW_LEN};
use super::{MinutiaeRecord, ParseOptions, Parsed, RecordFormat};
use crate::Result;

const NAME: &str = "ISO 19794-2:2005";

/// Reads a record whose magic and version (`" 20\0"`) the caller has checked.
pub(super) fn parse(bytes: &[u8], options: ParseOptions) -> Result<Parsed> {
    let mut r = Reader::new(bytes, NAME);
    r.take(8)?;
    r.u32()?; // record length: not used to bound reading, see the module doc of `format`
    read_body(
        r,
        RecordFormat::Iso19794_2_2005,
        0,
        AngleUnits::Iso,
        options,
    )
}

/// The rest of a record after its length field (and ANSI's product id), shared with ANSI 378,
/// whose header continues exactly like ISO 2005's: capture equipment, image size, resolutions,
/// view count, a reserved byte, then the views in the given angle units.
pub(super) fn read_body(
    mut r: Reader<'_>,
    format: RecordFormat,
    product_id: u32,
    units: AngleUnits,
    options: ParseOptions,
) -> Result<Parsed> {
    let capture_equipment = r.u16()?;
    let width = r.u16()?;
    let height = r.u16()?;
    let x_resolution = r.u16()?;
    let y_resolution = r.u16()?;
    let count = r.u8()? as usize;
    r.u8()?; // reserved
    let mut views = Vec::with_capacity(count.min(r.remaining() / MIN_VIEW_LEN));
    for _ in 0..count {
        views.push(read_view(&mut r, units, options.extended)?);
    }
    let content_len = r.pos();
    r.finish()?;
    Ok(Parsed {
        record: MinutiaeRecord {
            format,
            width,
            height,
            x_resolution,
            y_resolution,
            capture_equipment,
            product_id,
            views,
        },
        content_len,
    })
}

/// Writes `record` as ISO 19794-2:2005 (the 2011 capture fields and ANSI product id are dropped).
pub(super) fn write(record: &MinutiaeRecord) -> Result<Vec<u8>> {
    let mut w = Writer::new(NAME);
    w.bytes(b"FMR\0 20\0");
    w.u32(0); // record length, patched below
    w.u16(record.capture_equipment);
    w.u16(record.width);
    w.u16(record.height);
    w.u16(record.x_resolution);
    w.u16(record.y_resolution);
    w.u8_checked("number of finger views", record.views.len())?;
    w.u8(0);
    for view in &record.views {
        write_view(&mut w, view, AngleUnits::Iso)?;
    }
    let len = w.len();
    w.patch_u32(8, "record length", len)?;
    Ok(w.into_bytes())
}
