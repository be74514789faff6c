//! Bounds-checked reads of the fixed-width fields of outside bytes: a read past the end is a
//! [`ImageError::Truncated`] naming the field, never a panic.

use crate::{ImageError, Result};

/// Bounds-checked reads of big- and little-endian fields.
pub(crate) struct Bytes<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) little_endian: bool,
}

impl<'a> Bytes<'a> {
    pub(crate) fn big(data: &'a [u8]) -> Self {
        Self {
            data,
            little_endian: false,
        }
    }

    pub(crate) fn slice(&self, what: &'static str, offset: usize, len: usize) -> Result<&'a [u8]> {
        self.data
            .get(offset..offset.saturating_add(len))
            .ok_or(ImageError::Truncated {
                what,
                offset,
                needed: len,
                available: self.data.len().saturating_sub(offset),
            })
    }

    pub(crate) fn uint(&self, what: &'static str, offset: usize, len: usize) -> Result<u64> {
        let bytes = self.slice(what, offset, len)?;
        let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
        Ok(if self.little_endian {
            bytes.iter().rev().fold(0, fold)
        } else {
            bytes.iter().fold(0, fold)
        })
    }

    pub(crate) fn u8(&self, what: &'static str, offset: usize) -> Result<u8> {
        Ok(self.uint(what, offset, 1)? as u8)
    }

    pub(crate) fn u16(&self, what: &'static str, offset: usize) -> Result<u16> {
        Ok(self.uint(what, offset, 2)? as u16)
    }

    pub(crate) fn u32(&self, what: &'static str, offset: usize) -> Result<u32> {
        Ok(self.uint(what, offset, 4)? as u32)
    }
}
