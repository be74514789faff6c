//! Finger minutiae interchange formats: ISO/IEC 19794-2:2005, ISO/IEC 19794-2:2011 and
//! ANSI/INCITS 378-2004, read into and written from one [`MinutiaeRecord`].
//!
//! [`parse`] finds the format from the header; [`write`](fn@write) takes the target format, and
//! the engine writes [`RecordFormat::default`], ISO 19794-2:2005. A record read from any format
//! writes back to that format byte for byte, as long as it was read with extended data kept and
//! its reserved bits, padding, length fields and (ANSI) angles were canonical: those are the only
//! things normalised.
//!
//! # Telling the formats apart
//! All three start with `"FMR\0"`. Version `"030\0"` is ISO 2011. Version `" 20\0"` is shared by
//! ISO 2005 and ANSI 378-2004, whose headers then differ: ISO has a 4-byte record length at byte 8;
//! ANSI has a 2-byte one (or `0x0000` and a 4-byte one) followed by a 4-byte CBEFF product
//! identifier, so every later field sits 2 (or 6) bytes further. The record is parsed under both
//! layouts, and the record length field each layout declares decides:
//! 1. if only one layout parses, it is that format;
//! 2. if both parse, the one whose declared length is nearer the record's length (the parsed
//!    content, or the whole input, whichever is nearer) wins; ISO on a tie;
//! 3. if neither parses, the error returned is the one of the layout whose declared length is
//!    nearer the input length; ISO on a tie.
//!
//! The length fields separate real records cleanly: a genuine ISO record under 64 KiB has zeros at
//! bytes 8..10, which ANSI reads as "4-byte length follows" and then finds `length << 16` plus
//! the capture equipment, never near the input length; a genuine ANSI record has its 2-byte length
//! at 8..10, which ISO reads as the high half of a 4-byte length, at least 26 x 65,536. The rule
//! therefore still works when a length field is somewhat wrong, or the record is truncated.
//!
//! # Tolerance
//! Some real records carry wrong length fields or trailing zero padding. So:
//! - reading is bounded by the structure (view, minutia, block counts and lengths) and the input
//!   slice, never by the declared record length, which may be larger or smaller than the input;
//! - after the last view, any number of bytes may follow if all of them are zero; a non-zero byte
//!   there is [`FormatErrorKind::TrailingData`];
//! - reserved bits (the top two of each minutia's y, the reserved header byte) are ignored;
//! - not tolerated: a minutia or view count the data cannot hold (`Truncated`), reserved minutia
//!   type `0b11`, extended data areas that do not tile their block (unless skipped, see
//!   [`ExtendedData`]); in ISO 2011 a representation length that differs from the
//!   representation's size, a certification flag other than 0 or 1, a minutia field length other
//!   than 5 or 6, zero representations, and representations with different image geometry.
//!
//! Arbitrary input never panics: every read is bounds-checked (a cursor that returns `Truncated`)
//! and allocation is bounded by the input length.

mod ansi378;
mod bytes;
mod error;
mod iso2005;
mod iso2011;
mod record;
mod view;

pub use error::FormatErrorKind;
pub use record::{
    ansi_angle_to_iso, iso_angle_to_ansi, CaptureInfo, CertificationBlock, ExtendedBlock,
    FingerView, Minutia, MinutiaKind, MinutiaeRecord, QualityBlock, RecordFormat,
};

use crate::{MatchError, Result};

/// What to do with extended data blocks when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtendedData {
    /// Keep every area raw in [`FingerView::extended`]; areas that do not tile the block are an
    /// error.
    #[default]
    Keep,
    /// Skip the block by its total length without looking inside; views get no extended data.
    Skip,
}

/// Options of [`parse_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Extended data handling.
    pub extended: ExtendedData,
}

/// A record read by one format's parser, with what detection needs.
pub(crate) struct Parsed {
    record: MinutiaeRecord,
    /// Where the structure ends (before any zero padding).
    content_len: usize,
}

/// Name used in errors raised before the format is known.
const UNKNOWN_FORMAT: &str = "finger minutiae record";

/// Reads a record of any of the three formats, keeping extended data.
pub fn parse(bytes: &[u8]) -> Result<MinutiaeRecord> {
    parse_with(bytes, ParseOptions::default())
}

/// Reads a record of any of the three formats with `options`.
pub fn parse_with(bytes: &[u8], options: ParseOptions) -> Result<MinutiaeRecord> {
    let header_error = |offset, kind| MatchError::Format {
        format: UNKNOWN_FORMAT,
        offset,
        kind,
    };
    if bytes.len() >= 4 && &bytes[..4] != b"FMR\0" {
        let found = [bytes[0], bytes[1], bytes[2], bytes[3]];
        return Err(header_error(0, FormatErrorKind::BadMagic { found }));
    }
    if bytes.len() < 8 {
        let kind = FormatErrorKind::Truncated {
            needed: 8,
            available: bytes.len(),
        };
        return Err(header_error(0, kind));
    }
    let version = [bytes[4], bytes[5], bytes[6], bytes[7]];
    match &version {
        b" 20\0" => parse_v20(bytes, options),
        v if *v == iso2011::VERSION => Ok(iso2011::parse(bytes, options)?.record),
        _ => Err(header_error(
            4,
            FormatErrorKind::UnknownVersion { found: version },
        )),
    }
}

/// Reads a `" 20\0"` record: ISO 19794-2:2005 or ANSI 378-2004, told apart as the module doc says.
fn parse_v20(bytes: &[u8], options: ParseOptions) -> Result<MinutiaeRecord> {
    let n = bytes.len() as u64;
    let (iso_len, ansi_len) = declared_lengths(bytes);
    let distance =
        |declared: Option<u64>, actual: u64| declared.map_or(u64::MAX, |d| d.abs_diff(actual));
    match (
        iso2005::parse(bytes, options),
        ansi378::parse(bytes, options),
    ) {
        (Ok(iso), Err(_)) => Ok(iso.record),
        (Err(_), Ok(ansi)) => Ok(ansi.record),
        (Ok(iso), Ok(ansi)) => {
            let iso_d = distance(iso_len, iso.content_len as u64).min(distance(iso_len, n));
            let ansi_d = distance(ansi_len, ansi.content_len as u64).min(distance(ansi_len, n));
            Ok(if ansi_d < iso_d {
                ansi.record
            } else {
                iso.record
            })
        }
        (Err(iso), Err(ansi)) => Err(if distance(ansi_len, n) < distance(iso_len, n) {
            ansi
        } else {
            iso
        }),
    }
}

/// The record length an ISO 2005 and an ANSI 378 header would declare (`None` when cut short).
fn declared_lengths(bytes: &[u8]) -> (Option<u64>, Option<u64>) {
    let be = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .map(|b| b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    let iso = be(8..12);
    let ansi = match be(8..10) {
        Some(0) => be(10..14),
        short => short,
    };
    (iso, ansi)
}

/// The format [`parse`] would read `bytes` as (it parses them, skipping extended data).
pub fn detect(bytes: &[u8]) -> Result<RecordFormat> {
    let options = ParseOptions {
        extended: ExtendedData::Skip,
    };
    Ok(parse_with(bytes, options)?.format)
}

/// Writes `record` in `format` ([`RecordFormat::default`] = ISO 19794-2:2005 is what the engine
/// stores). Values a field cannot hold (more than 255 views or minutiae, a coordinate over 14 bits,
/// a view number or impression type over 4 bits in 2005 / ANSI, ...) give
/// [`FormatErrorKind::Unrepresentable`]; nothing is silently truncated. Fields the target format
/// lacks are dropped (ANSI product id, ISO 2011 capture fields); see each format for defaults.
pub fn write(record: &MinutiaeRecord, format: RecordFormat) -> Result<Vec<u8>> {
    match format {
        RecordFormat::Iso19794_2_2005 => iso2005::write(record),
        RecordFormat::Iso19794_2_2011 => iso2011::write(record),
        RecordFormat::Ansi378_2004 => ansi378::write(record),
    }
}
