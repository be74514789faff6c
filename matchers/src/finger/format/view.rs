//! The parts of a finger view all three formats share: minutiae and extended data.
//!
//! ISO 2005 and ANSI 378 views are identical apart from angle units (a 4-byte view header, 6-byte
//! minutiae, extended data), so both use [`read_view`] / [`write_view`]. ISO 2011 has its own view
//! header but the same minutia fields (quality optional) and extended data, so it uses
//! [`read_minutiae`], [`read_extended`] and their writing halves.

use super::bytes::{Reader, Writer};
use super::record::{ansi_angle_to_iso, iso_angle_to_ansi};
use super::{ExtendedBlock, ExtendedData, FingerView, FormatErrorKind, Minutia, MinutiaKind};
use crate::Result;

/// The unit a format stores minutia angles in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AngleUnits {
    /// 360/256 degrees (ISO, both editions): stored as is.
    Iso,
    /// 2 degrees (ANSI 378): converted.
    Ansi,
}

/// Largest coordinate a 14-bit field holds.
const MAX_COORD: u64 = 0x3FFF;

/// Reads `count` minutiae of 6 bytes (or 5 without the quality byte, ISO 2011).
pub(super) fn read_minutiae(
    r: &mut Reader<'_>,
    count: usize,
    with_quality: bool,
    units: AngleUnits,
) -> Result<Vec<Minutia>> {
    let field = if with_quality { 6 } else { 5 };
    // Check the whole list up front: a count the data cannot hold is a truncation at the list.
    let available = r.remaining();
    if count * field > available {
        return Err(r.error(FormatErrorKind::Truncated {
            needed: count * field,
            available,
        }));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.pos();
        let tx = r.u16()?;
        let y = r.u16()? & 0x3FFF; // the top two bits are reserved
        let raw_angle = r.u8()?;
        let quality = if with_quality { r.u8()? } else { 0 };
        let kind = MinutiaKind::from_bits(tx >> 14)
            .ok_or_else(|| r.error_at(at, FormatErrorKind::ReservedMinutiaType))?;
        let angle = match units {
            AngleUnits::Iso => raw_angle,
            AngleUnits::Ansi => ansi_angle_to_iso(raw_angle),
        };
        out.push(Minutia {
            x: tx & 0x3FFF,
            y,
            angle,
            kind,
            quality,
        });
    }
    Ok(out)
}

/// Writes minutiae (6 bytes each, or 5 without quality), checking coordinates fit 14 bits.
pub(super) fn write_minutiae(
    w: &mut Writer,
    minutiae: &[Minutia],
    with_quality: bool,
    units: AngleUnits,
) -> Result<()> {
    for m in minutiae {
        let x = w.fit("minutia x", m.x as u64, MAX_COORD)? as u16;
        let y = w.fit("minutia y", m.y as u64, MAX_COORD)? as u16;
        w.u16((m.kind.bits() << 14) | x);
        w.u16(y);
        w.u8(match units {
            AngleUnits::Iso => m.angle,
            AngleUnits::Ansi => iso_angle_to_ansi(m.angle),
        });
        if with_quality {
            w.u8(m.quality);
        }
    }
    Ok(())
}

/// Reads the extended data block: a 2-byte total length, then areas of (type, length including the
/// 4-byte area header, data) that must tile the block exactly when kept.
pub(super) fn read_extended(r: &mut Reader<'_>, mode: ExtendedData) -> Result<Vec<ExtendedBlock>> {
    let total = r.u16()? as usize;
    let mut block = r.sub(total)?;
    let mut out = Vec::new();
    if mode == ExtendedData::Skip {
        return Ok(out);
    }
    while block.remaining() > 0 {
        if block.remaining() < 4 {
            return Err(block.error(FormatErrorKind::ExtendedData(
                "area header cut by the block end",
            )));
        }
        let type_id = block.u16()?;
        let at = block.pos();
        let len = block.u16()? as usize;
        if len < 4 {
            return Err(block.error_at(at, FormatErrorKind::ExtendedData("area length below 4")));
        }
        if len - 4 > block.remaining() {
            return Err(block.error_at(
                at,
                FormatErrorKind::ExtendedData("area longer than the extended data block"),
            ));
        }
        out.push(ExtendedBlock {
            type_id,
            data: block.take(len - 4)?.to_vec(),
        });
    }
    Ok(out)
}

/// Writes the extended data block (total length, then each area).
pub(super) fn write_extended(w: &mut Writer, blocks: &[ExtendedBlock]) -> Result<()> {
    let mut total = 0usize;
    for b in blocks {
        let area = w.fit("extended data area length", 4 + b.data.len() as u64, 0xFFFF)?;
        total += area as usize;
    }
    w.u16_checked("extended data block length", total)?;
    for b in blocks {
        w.u16(b.type_id);
        w.u16(4 + b.data.len() as u16);
        w.bytes(&b.data);
    }
    Ok(())
}

/// Reads an ISO 2005 / ANSI 378 finger view: position, view number (high nibble) and impression
/// type (low nibble), finger quality, minutia count, minutiae, extended data.
pub(super) fn read_view(
    r: &mut Reader<'_>,
    units: AngleUnits,
    mode: ExtendedData,
) -> Result<FingerView> {
    let position = r.u8()?;
    let packed = r.u8()?;
    let quality = r.u8()?;
    let count = r.u8()? as usize;
    let minutiae = read_minutiae(r, count, true, units)?;
    let extended = read_extended(r, mode)?;
    Ok(FingerView {
        position,
        view_number: packed >> 4,
        impression_type: packed & 0x0F,
        quality,
        minutiae,
        extended,
        capture: None,
    })
}

/// Writes an ISO 2005 / ANSI 378 finger view (the 2011 capture fields are not part of it).
pub(super) fn write_view(w: &mut Writer, view: &FingerView, units: AngleUnits) -> Result<()> {
    let number = w.fit("view number", view.view_number as u64, 0x0F)? as u8;
    let impression = w.fit("impression type", view.impression_type as u64, 0x0F)? as u8;
    w.u8(view.position);
    w.u8((number << 4) | impression);
    w.u8(view.quality);
    w.u8_checked("number of minutiae", view.minutiae.len())?;
    write_minutiae(w, &view.minutiae, true, units)?;
    write_extended(w, &view.extended)
}

/// A lower bound on the bytes of one ISO 2005 / ANSI view, to bound pre-allocation by the input.
pub(super) const MIN_VIEW_LEN: usize = 6;
