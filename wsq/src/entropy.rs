//! The WSQ symbols of the entropy-coded blocks (specification, Table 3 of Part 1): runs of
//! zero coefficients, small coefficients coded directly, and escapes followed by raw bits.

use crate::bits::{BitReader, Stop};
use crate::error::{Result, WsqError};
use crate::huffman::{DecodeStop, HuffmanTable};

/// Symbol 1..=100: that many zero coefficients.
const ZERO_RUN_MAX: u8 = 100;
/// Escape: a positive coefficient in the next 8 bits.
const ESC_POS_8: u8 = 101;
/// Escape: a negative coefficient (magnitude in the next 8 bits).
const ESC_NEG_8: u8 = 102;
/// Escape: a positive coefficient in the next 16 bits.
const ESC_POS_16: u8 = 103;
/// Escape: a negative coefficient (magnitude in the next 16 bits).
const ESC_NEG_16: u8 = 104;
/// Escape: a run of zeros, its length in the next 8 bits.
const ESC_RUN_8: u8 = 105;
/// Escape: a run of zeros, its length in the next 16 bits.
const ESC_RUN_16: u8 = 106;
/// Symbols 107..=254 code the coefficient `symbol - 180` (-73..=74).
const DIRECT_FIRST: u8 = 107;
const DIRECT_LAST: u8 = 254;
const DIRECT_BIAS: i32 = 180;

/// Decodes one block's entropy-coded data, starting at `pos`, appending the quantized
/// coefficients to `out`, which may grow to `capacity` and no further. Returns the offset of
/// the marker that ends the block.
pub(crate) fn decode_block(
    data: &[u8],
    pos: usize,
    table: &HuffmanTable,
    out: &mut Vec<i32>,
    capacity: usize,
) -> Result<usize> {
    let mut bits = BitReader::new(data, pos);
    loop {
        let symbol = match table.decode(&mut bits) {
            Ok(symbol) => symbol,
            // The bits before a marker are padding (ones, by the encoder's convention; not
            // checked, as NBIS does not either): a restart goes on, another marker ends the
            // block.
            Err(DecodeStop::Stop(Stop::Restart)) => continue,
            Err(DecodeStop::Stop(Stop::End)) => return Ok(bits.pos()),
            Err(DecodeStop::NoSuchCode) => {
                return Err(bad(
                    &bits,
                    "a code that the block's Huffman table does not assign",
                ))
            }
        };
        apply(symbol, &mut bits, out, capacity)?;
    }
}

fn apply(symbol: u8, bits: &mut BitReader<'_>, out: &mut Vec<i32>, capacity: usize) -> Result<()> {
    let (value, run) = match symbol {
        1..=ZERO_RUN_MAX => (0, usize::from(symbol)),
        ESC_POS_8 => (raw(bits, 8)?, 1),
        ESC_NEG_8 => (-raw(bits, 8)?, 1),
        ESC_POS_16 => (raw(bits, 16)?, 1),
        ESC_NEG_16 => (-raw(bits, 16)?, 1),
        ESC_RUN_8 => (0, raw(bits, 8)? as usize),
        ESC_RUN_16 => (0, raw(bits, 16)? as usize),
        DIRECT_FIRST..=DIRECT_LAST => (i32::from(symbol) - DIRECT_BIAS, 1),
        _ => return Err(bad(bits, &format!("invalid symbol {symbol}"))),
    };
    if out.len() + run > capacity {
        return Err(bad(
            bits,
            &format!("more coefficients than the image's {capacity} pixels"),
        ));
    }
    out.resize(out.len() + run, value);
    Ok(())
}

/// The raw bits after an escape; a marker there cuts the escape short.
fn raw(bits: &mut BitReader<'_>, n: u32) -> Result<i32> {
    match bits.bits(n) {
        // n <= 16, so the value fits.
        Ok(v) => Ok(v as i32),
        Err(_) => Err(bad(bits, "an escape's bits cut by a marker")),
    }
}

fn bad(bits: &BitReader<'_>, reason: &str) -> WsqError {
    WsqError::BadEntropyData {
        offset: bits.pos(),
        reason: reason.to_owned(),
    }
}
