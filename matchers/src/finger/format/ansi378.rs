//! ANSI/INCITS 378-2004 finger minutiae record.
//!
//! Layout (big-endian), 26-byte record header (30 with the long length) then the views:
//! ```text
//!  0  "FMR\0"              format identifier
//!  4  " 20\0"              version (the same as ISO 19794-2:2005)
//!  8  u16                  record length; 0 means a u32 length follows (records > 0xFFFF bytes)
//! +0  u32                  CBEFF product identifier (owner u16, type u16)
//! +4  u16                  capture equipment: compliance (4 bits) + equipment id (12 bits)
//! +6  u16, u16             image width, height (pixels)
//! +10 u16, u16             x, y resolution (pixels per cm)
//! +14 u8                   number of finger views
//! +15 u8                   reserved (written 0, ignored on read)
//!     views: as ISO 2005, but minutia angles in 2-degree units (0..=179)
//! ```
//! Angles convert to and from the record's ISO units with [`super::ansi_angle_to_iso`] and
//! [`super::iso_angle_to_ansi`].
//! Writing picks the 2-byte length when the whole record fits 0xFFFF bytes, the 6-byte form
//! otherwise.

use super::bytes::{Reader, Writer};
use super::view::{write_view, AngleUnits};
use super::{MinutiaeRecord, ParseOptions, Parsed, RecordFormat};
use crate::Result;

const NAME: &str = "ANSI 378-2004";

/// Reads a record whose magic and version (`" 20\0"`) the caller has checked.
pub(super) fn parse(bytes: &[u8], options: ParseOptions) -> Result<Parsed> {
    let mut r = Reader::new(bytes, NAME);
    r.take(8)?;
    // Record length, not used to bound reading: 2 bytes, or 0 and a 4-byte length.
    if r.u16()? == 0 {
        r.u32()?;
    }
    let product_id = r.u32()?;
    super::iso2005::read_body(
        r,
        RecordFormat::Ansi378_2004,
        product_id,
        AngleUnits::Ansi,
        options,
    )
}

/// Writes `record` as ANSI 378-2004 (the 2011 capture fields are dropped).
pub(super) fn write(record: &MinutiaeRecord) -> Result<Vec<u8>> {
    let mut w = Writer::new(NAME);
    w.bytes(b"FMR\0 20\0");
    w.u16(0); // record length, patched below (or widened to the 6-byte form)
    w.u32(record.product_id);
    w.u16(record.capture_equipment);
    w.u16(record.width);
    w.u16(record.height);
    w.u16(record.x_resolution);
    w.u16(record.y_resolution);
    w.u8_checked("number of finger views", record.views.len())?;
    w.u8(0);
    for view in &record.views {
        write_view(&mut w, view, AngleUnits::Ansi)?;
    }
    let len = w.len();
    if len <= 0xFFFF {
        w.patch(8, &(len as u16).to_be_bytes());
    } else {
        // Long form: the u16 at 8 stays 0 and a u32 length follows it.
        let total = w.fit("record length", len as u64 + 4, u32::MAX as u64)? as u32;
        w.insert(10, &total.to_be_bytes());
    }
    Ok(w.into_bytes())
}
