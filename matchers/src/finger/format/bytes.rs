//! Bounds-checked big-endian reading and writing.
//!
//! Every read goes through [`Reader`], which checks the length first and turns a short input into
//! [`FormatErrorKind::Truncated`] at the exact offset, so no parser can index out of bounds or
//! panic on arbitrary bytes. Offsets stay absolute (a sub-reader is the same slice cut shorter), so
//! errors point at the byte in the caller's record. [`Writer`] checks that each value fits its
//! field and reports [`FormatErrorKind::Unrepresentable`] at the output offset otherwise.

use super::FormatErrorKind;
use crate::{MatchError, Result};

/// A cursor over a record being read.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    format: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, naming `format` in its errors.
    pub(super) fn new(bytes: &'a [u8], format: &'static str) -> Self {
        Reader {
            bytes,
            pos: 0,
            format,
        }
    }

    /// The absolute offset of the next byte.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// An error of `kind` at the current offset.
    pub(super) fn error(&self, kind: FormatErrorKind) -> MatchError {
        self.error_at(self.pos, kind)
    }

    /// An error of `kind` at `offset`.
    pub(super) fn error_at(&self, offset: usize, kind: FormatErrorKind) -> MatchError {
        MatchError::Format {
            format: self.format,
            offset,
            kind,
        }
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let available = self.remaining();
        if n > available {
            return Err(self.error(FormatErrorKind::Truncated {
                needed: n,
                available,
            }));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub(super) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian u16.
    pub(super) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian u32.
    pub(super) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A reader over the next `n` bytes only (same absolute offsets); this reader skips them.
    pub(super) fn sub(&mut self, n: usize) -> Result<Reader<'a>> {
        let start = self.pos;
        self.take(n)?;
        Ok(Reader {
            bytes: &self.bytes[..start + n],
            pos: start,
            format: self.format,
        })
    }

    /// Accepts the end of the record: whatever follows must be zero padding.
    pub(super) fn finish(&self) -> Result<()> {
        let rest = &self.bytes[self.pos..];
        if rest.iter().any(|&b| b != 0) {
            return Err(self.error(FormatErrorKind::TrailingData { bytes: rest.len() }));
        }
        Ok(())
    }
}

/// A growing record being written.
pub(super) struct Writer {
    buf: Vec<u8>,
    format: &'static str,
}

impl Writer {
    /// An empty writer for `format`.
    pub(super) fn new(format: &'static str) -> Self {
        Writer {
            buf: Vec::with_capacity(256),
            format,
        }
    }

    /// Bytes written so far.
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    /// An error of `kind` at the current output offset.
    pub(super) fn error(&self, kind: FormatErrorKind) -> MatchError {
        MatchError::Format {
            format: self.format,
            offset: self.buf.len(),
            kind,
        }
    }

    /// `value` if it is at most `max`, else [`FormatErrorKind::Unrepresentable`] here.
    pub(super) fn fit(&self, field: &'static str, value: u64, max: u64) -> Result<u64> {
        if value > max {
            return Err(self.error(FormatErrorKind::Unrepresentable { field, value, max }));
        }
        Ok(value)
    }

    /// Appends raw bytes.
    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends a byte.
    pub(super) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a big-endian u16.
    pub(super) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends a big-endian u32.
    pub(super) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends `value` as a byte after checking it fits.
    pub(super) fn u8_checked(&mut self, field: &'static str, value: usize) -> Result<()> {
        let v = self.fit(field, value as u64, u8::MAX as u64)?;
        self.u8(v as u8);
        Ok(())
    }

    /// Appends `value` as a big-endian u16 after checking it fits.
    pub(super) fn u16_checked(&mut self, field: &'static str, value: usize) -> Result<()> {
        let v = self.fit(field, value as u64, u16::MAX as u64)?;
        self.u16(v as u16);
        Ok(())
    }

    /// Overwrites the big-endian u32 at `at` (a placeholder written earlier) with `value`.
    pub(super) fn patch_u32(&mut self, at: usize, field: &'static str, value: usize) -> Result<()> {
        let v = self.fit(field, value as u64, u32::MAX as u64)? as u32;
        self.patch(at, &v.to_be_bytes());
        Ok(())
    }

    /// Overwrites bytes at `at`, a placeholder this writer wrote earlier (`at + bytes.len()` is
    /// within what has been written: callers patch fixed header offsets only).
    pub(super) fn patch(&mut self, at: usize, bytes: &[u8]) {
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Inserts bytes at `at` (within what has been written), shifting the rest.
    pub(super) fn insert(&mut self, at: usize, bytes: &[u8]) {
        self.buf.splice(at..at, bytes.iter().copied());
    }

    /// The finished record.
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}
