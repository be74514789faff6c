//! A big-endian cursor over the input that reports the offset of whatever runs short.

use crate::error::{Result, WsqError};

/// Reads big-endian integers from a byte slice; every read checks the bounds.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Offset of the next byte to read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The whole input.
    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Moves to `pos` (at most the end of the data).
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or(WsqError::Truncated {
                offset: self.pos,
                what,
            })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A WSQ scaled number: an exponent byte `e` and a 16-bit value `v`, meaning `v / 10^e`.
    pub(crate) fn scaled_u16(&mut self, what: &'static str) -> Result<f64> {
        let exponent = self.u8(what)?;
        let value = self.u16(what)?;
        Ok(scaled(f64::from(value), exponent))
    }
}

/// `value / 10^exponent`; an exponent up to 255 stays finite in `f64` (1e255).
pub(crate) fn scaled(value: f64, exponent: u8) -> f64 {
    value / 10f64.powi(i32::from(exponent))
}
