//! The header and table segments: frame header (SOF), transform table (DTT), quantization
//! table (DQT), restart interval (DRT), block header (SOB) and the NISTCOM comment.
//! Huffman tables (DHT) live in [`crate::huffman`].

use crate::error::{Result, WsqError};
use crate::markers::expect_end;
use crate::reader::{scaled, Reader};
use crate::subbands::MAX_SUBBANDS;

/// The frame header (SOF): image size and the affine map from reconstructed values to grey.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameHeader {
    /// Scanner black level `A` (informative; not used in reconstruction).
    pub black: u8,
    /// Scanner white level `B` (informative; not used in reconstruction).
    pub white: u8,
    /// Image height `Y` in pixels.
    pub height: u16,
    /// Image width `X` in pixels.
    pub width: u16,
    /// `M`: the shift added back after the inverse transform (the encoder's image mean).
    pub shift: f64,
    /// `R`: the scale the reconstructed values are multiplied by.
    pub scale: f64,
    /// WSQ encoder number (`1` for encoders under the FBI's parameter settings).
    pub encoder: u8,
    /// Software implementation number (the vendor's certification number).
    pub software: u16,
}

pub(crate) fn parse_frame(mut r: Reader<'_>, offset: usize) -> Result<FrameHeader> {
    let header = FrameHeader {
        black: r.u8("SOF")?,
        white: r.u8("SOF")?,
        height: r.u16("SOF")?,
        width: r.u16("SOF")?,
        shift: r.scaled_u16("SOF")?,
        scale: r.scaled_u16("SOF")?,
        encoder: r.u8("SOF")?,
        software: r.u16("SOF")?,
    };
    expect_end(&r, offset, "SOF")?;
    if header.width == 0 || header.height == 0 {
        return Err(WsqError::BadSegment {
            offset,
            segment: "SOF",
            reason: format!("empty image {}x{}", header.width, header.height),
        });
    }
    Ok(header)
}

/// The longest filter accepted in a transform table.
pub(crate) const MAX_FILTER_TAPS: usize = 32;

/// The analysis filter pair of the transform table, as transmitted: the lowpass and highpass
/// filters are symmetric, so only one half of each is sent, centre first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TransformTable {
    /// Length of the lowpass analysis filter `h0`.
    pub(crate) low_len: usize,
    /// Length of the highpass analysis filter `h1`.
    pub(crate) high_len: usize,
    /// `h0`'s transmitted half: `(low_len + 1) / 2` coefficients.
    pub(crate) low_half: Vec<f64>,
    /// `h1`'s transmitted half: `(high_len + 1) / 2` coefficients.
    pub(crate) high_half: Vec<f64>,
}

pub(crate) fn parse_transform(mut r: Reader<'_>, offset: usize) -> Result<TransformTable> {
    let low_len = usize::from(r.u8("DTT")?);
    let high_len = usize::from(r.u8("DTT")?);
    let bad = |reason: String| WsqError::BadSegment {
        offset,
        segment: "DTT",
        reason,
    };
    if low_len == 0 || high_len == 0 {
        return Err(bad(format!("filter lengths {low_len} and {high_len}")));
    }
    if low_len > MAX_FILTER_TAPS || high_len > MAX_FILTER_TAPS {
        // The FBI filters have 9 and 7 taps (NBIS accepts no more); longer ones would only
        // let a hostile file multiply the reconstruction's work and memory.
        return Err(WsqError::Unsupported(format!(
            "filters of {low_len} and {high_len} taps (at most {MAX_FILTER_TAPS})"
        )));
    }
    if low_len % 2 != high_len % 2 {
        // A symmetric perfect-reconstruction pair has filters of the same parity.
        return Err(WsqError::Unsupported(format!(
            "filters of different parity ({low_len} and {high_len} taps)"
        )));
    }
    let mut coefficients = |n: usize| -> Result<Vec<f64>> {
        (0..n)
            .map(|_| {
                let negative = r.u8("DTT")? != 0;
                let exponent = r.u8("DTT")?;
                let magnitude = scaled(f64::from(r.u32("DTT")?), exponent);
                Ok(if negative { -magnitude } else { magnitude })
            })
            .collect()
    };
    let low_half = coefficients(low_len.div_ceil(2))?;
    let high_half = coefficients(high_len.div_ceil(2))?;
    expect_end(&r, offset, "DTT")?;
    Ok(TransformTable {
        low_len,
        high_len,
        low_half,
        high_half,
    })
}

/// The quantization table: the dequantizer's bin centre `C` and each subband's step `Q` and
/// zero-bin width `Z`. A subband with `Q = 0` is not transmitted (all zero).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantTable {
    pub(crate) bin_center: f64,
    pub(crate) step: [f64; MAX_SUBBANDS],
    pub(crate) zero_bin: [f64; MAX_SUBBANDS],
}

pub(crate) fn parse_quantization(mut r: Reader<'_>, offset: usize) -> Result<QuantTable> {
    let bin_center = r.scaled_u16("DQT")?;
    let mut step = [0.0; MAX_SUBBANDS];
    let mut zero_bin = [0.0; MAX_SUBBANDS];
    for (q, z) in step.iter_mut().zip(zero_bin.iter_mut()) {
        *q = r.scaled_u16("DQT")?;
        *z = r.scaled_u16("DQT")?;
    }
    expect_end(&r, offset, "DQT")?;
    Ok(QuantTable {
        bin_center,
        step,
        zero_bin,
    })
}

/// The restart interval (DRT). Restart markers are honoured wherever they stand in the
/// entropy-coded data, so the interval is only checked for form.
pub(crate) fn parse_restart_interval(mut r: Reader<'_>, offset: usize) -> Result<u16> {
    let interval = r.u16("DRT")?;
    expect_end(&r, offset, "DRT")?;
    Ok(interval)
}

/// The block header (SOB): the id of the Huffman table the block is coded with.
pub(crate) fn parse_block_header(mut r: Reader<'_>, offset: usize) -> Result<u8> {
    let table = r.u8("SOB")?;
    expect_end(&r, offset, "SOB")?;
    Ok(table)
}

/// The resolution from a NISTCOM comment (`NIST_COM` on the first line, then `KEY value`
/// lines): the `PPI` field when it is a positive number; `-1` (unknown) or junk give `None`.
pub(crate) fn nistcom_ppi(comment: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(comment).ok()?;
    let mut lines = text.lines();
    if !lines.next()?.trim_start().starts_with("NIST_COM") {
        return None;
    }
    lines
        .filter_map(|line| line.trim().split_once(char::is_whitespace))
        .find(|(key, _)| *key == "PPI")
        .and_then(|(_, value)| value.trim().parse::<u32>().ok())
        .filter(|&ppi| ppi > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nistcom_ppi_reads_the_field_and_ignores_unknown() {
        let com = b"NIST_COM 9\nPIX_WIDTH 300\nPIX_HEIGHT 300\nPPI 500\nLOSSY 1\n";
        assert_eq!(nistcom_ppi(com), Some(500));
        assert_eq!(nistcom_ppi(b"NIST_COM 2\nPPI -1\n"), None);
        assert_eq!(nistcom_ppi(b"NIST_COM 2\nPPI x\n"), None);
        assert_eq!(nistcom_ppi(b"a comment\nPPI 500\n"), None);
        assert_eq!(nistcom_ppi(&[0xFF, 0xFE]), None);
    }
}
