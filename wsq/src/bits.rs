//! Reading the bits of entropy-coded data: most significant bit first, a 0x00 after a 0xFF
//! byte is stuffing, a restart marker (0xFFB0..=0xFFB7) restarts on a byte boundary, and any
//! other marker ends the block.

use crate::markers::{RST_FIRST, RST_LAST};

/// Why no bit came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A restart marker was passed; the bits of the byte before it were padding.
    Restart,
    /// A marker other than a restart (or the end of the data) ends the block; the reader
    /// stays on it.
    End,
}

/// Bit reader over the entropy-coded data of one block.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    byte: u8,
    left: u8,
}

impl<'a> BitReader<'a> {
    /// Starts reading `data` at offset `pos`.
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            byte: 0,
            left: 0,
        }
    }

    /// Offset of the next byte (after [`Stop::End`], the marker that ended the block).
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The next bit.
    pub(crate) fn bit(&mut self) -> Result<u32, Stop> {
        if self.left == 0 {
            self.byte = self.next_byte()?;
            self.left = 8;
        }
        self.left -= 1;
        Ok(u32::from(self.byte >> self.left) & 1)
    }

    /// The next `n` bits (n <= 16) as an unsigned number.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, Stop> {
        (0..n).try_fold(0, |acc, _| Ok((acc << 1) | self.bit()?))
    }

    fn next_byte(&mut self) -> Result<u8, Stop> {
        let &byte = self.data.get(self.pos).ok_or(Stop::End)?;
        if byte != 0xFF {
            self.pos += 1;
            return Ok(byte);
        }
        match self.data.get(self.pos + 1) {
            Some(0x00) => {
                self.pos += 2;
                Ok(0xFF)
            }
            Some(RST_FIRST..=RST_LAST) => {
                self.pos += 2;
                Err(Stop::Restart)
            }
            _ => Err(Stop::End),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_restart_and_end() {
        let data = [0xA5, 0xFF, 0x00, 0xFF, 0xB3, 0x80, 0xFF, 0xA3];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8), Ok(0xA5));
        assert_eq!(r.bits(8), Ok(0xFF));
        assert_eq!(r.bit(), Err(Stop::Restart));
        assert_eq!(r.bit(), Ok(1));
        assert_eq!(r.bits(7), Ok(0));
        assert_eq!(r.bit(), Err(Stop::End));
        assert_eq!(r.pos(), 6);
    }
}
