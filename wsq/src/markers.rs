//! The WSQ marker codes (specification, Table 1) and reading a marker from the input.

use crate::error::{Result, WsqError};
use crate::reader::Reader;

/// Start of image.
pub(crate) const SOI: u16 = 0xFFA0;
/// End of image.
pub(crate) const EOI: u16 = 0xFFA1;
/// Start of frame (the frame header).
pub(crate) const SOF: u16 = 0xFFA2;
/// Start of block (a block header, then entropy-coded data).
pub(crate) const SOB: u16 = 0xFFA3;
/// Define transform table (the wavelet filters).
pub(crate) const DTT: u16 = 0xFFA4;
/// Define quantization table.
pub(crate) const DQT: u16 = 0xFFA5;
/// Define Huffman table(s).
pub(crate) const DHT: u16 = 0xFFA6;
/// Define restart interval.
pub(crate) const DRT: u16 = 0xFFA7;
/// Comment.
pub(crate) const COM: u16 = 0xFFA8;
/// Second byte of the first restart marker (RST0 = 0xFFB0) ...
pub(crate) const RST_FIRST: u8 = 0xB0;
/// ... and of the last (RST7 = 0xFFB7).
pub(crate) const RST_LAST: u8 = 0xB7;

/// Reads the two bytes of a marker; anything not starting with 0xFF is refused.
pub(crate) fn read_marker(r: &mut Reader<'_>, expected: &'static str) -> Result<(usize, u16)> {
    let offset = r.pos();
    let marker = r.u16("marker")?;
    if marker >> 8 != 0xFF {
        return Err(WsqError::UnexpectedMarker {
            offset,
            marker,
            expected,
        });
    }
    Ok((offset, marker))
}

/// Reads a segment's length field and returns a reader over the rest of the segment (the
/// length counts its own two bytes), leaving `r` after the segment.
pub(crate) fn segment<'a>(
    r: &mut Reader<'a>,
    offset: usize,
    name: &'static str,
) -> Result<Reader<'a>> {
    let len = usize::from(r.u16(name)?);
    if len < 2 {
        return Err(WsqError::BadSegment {
            offset,
            segment: name,
            reason: format!("length field {len} is shorter than the field itself"),
        });
    }
    let body = r.bytes(len - 2, name)?;
    // Offsets reported inside the body stay offsets into the whole file.
    let start = r.pos() - body.len();
    let mut inner = Reader::new(&r.data()[..start + body.len()]);
    inner.seek(start);
    Ok(inner)
}

/// Fails unless the segment body was read to its end.
pub(crate) fn expect_end(r: &Reader<'_>, offset: usize, name: &'static str) -> Result<()> {
    let left = r.data().len() - r.pos();
    if left != 0 {
        return Err(WsqError::BadSegment {
            offset,
            segment: name,
            reason: format!("{left} bytes left over after its fields"),
        });
    }
    Ok(())
}
