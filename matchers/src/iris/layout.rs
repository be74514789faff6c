//! The shape of an iris code, its bit order, its gallery row format and column rotation.
//!
//! An iris code is a `rows x cols x bits_per_cell` bit array: rows are radial bands, columns are
//! angular samples, and each cell holds the bits of one filter response (e.g. the signs of the real
//! and imaginary parts of one or more wavelets). Bit `i = (row * cols + col) * bits_per_cell + b`
//! is bit `7 - i % 8` of byte `i / 8`: most significant bit first, as `numpy.packbits` writes it,
//! so codes exported by Python tools (open-iris, iris-mpc) load without reshuffling.
//!
//! Head rotation shifts the columns circularly, row by row, with the bits of a cell moving
//! together; [`IrisLayout::rotate`] implements that with a byte-at-a-time path for rows whose bit
//! length is a whole number of bytes (both standard layouts) and a bit-at-a-time path otherwise.
//!
//! The gallery stores one fixed-size row per template: the code bytes, then the mask bytes, then
//! zeros up to a multiple of 64 bytes, so rows of a memory-mapped segment stay cache-line aligned
//! and the kernels can read whole 64-byte vectors.

use crate::error::{MatchError, Result};

/// Largest code accepted, in bits (a sanity bound: 8 KiB of code plus 8 KiB of mask per row).
pub const MAX_CODE_BITS: usize = 65_536;

/// The shape of an iris code: `rows x cols x bits_per_cell` bits, rotation shifts columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IrisLayout {
    rows: u32,
    cols: u32,
    bits_per_cell: u32,
}

impl IrisLayout {
    /// Daugman's classic 2,048-bit code: 8 radial bands x 128 angular samples x 2 bits (the
    /// phase quadrant of one Gabor wavelet). A gallery row is 512 bytes.
    pub const DAUGMAN_2048: IrisLayout = IrisLayout {
        rows: 8,
        cols: 128,
        bits_per_cell: 2,
    };

    /// The open-iris / iris-mpc layout: 16 rows x 200 columns x 4 bits (two wavelets, real and
    /// imaginary sign each) = 12,800 bits. A gallery row is 3,200 bytes.
    pub const OPEN_IRIS_12800: IrisLayout = IrisLayout {
        rows: 16,
        cols: 200,
        bits_per_cell: 4,
    };

    /// A layout, checked: every dimension non-zero, at least two columns (so rotation means
    /// something), a code of a whole number of 64-bit words (the kernels work on words) and at
    /// most [`MAX_CODE_BITS`] bits.
    pub fn new(rows: u32, cols: u32, bits_per_cell: u32) -> Result<Self> {
        let invalid = |reason| MatchError::InvalidIrisLayout {
            rows,
            cols,
            bits_per_cell,
            reason,
        };
        if rows == 0 || cols == 0 || bits_per_cell == 0 {
            return Err(invalid("every dimension must be non-zero"));
        }
        if cols < 2 {
            return Err(invalid("at least two columns are needed to rotate"));
        }
        // Three u32 factors can overflow u64 (found by fuzzing): an overflow is too large too.
        let bits = (rows as u64)
            .checked_mul(cols as u64)
            .and_then(|b| b.checked_mul(bits_per_cell as u64))
            .filter(|&b| b <= MAX_CODE_BITS as u64)
            .ok_or_else(|| invalid("code larger than 65,536 bits"))?;
        if bits & 63 != 0 {
            return Err(invalid("code bits must be a multiple of 64"));
        }
        Ok(Self {
            rows,
            cols,
            bits_per_cell,
        })
    }

    /// Rows (radial bands).
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Columns (angular samples); rotation shifts these.
    pub fn cols(&self) -> u32 {
        self.cols
    }

    /// Bits per cell; they move together under rotation.
    pub fn bits_per_cell(&self) -> u32 {
        self.bits_per_cell
    }

    /// Bits of the code (and of the mask).
    pub fn code_bits(&self) -> usize {
        self.rows as usize * self.cols as usize * self.bits_per_cell as usize
    }

    /// Bytes of the code (and of the mask); always a multiple of 8.
    pub fn code_bytes(&self) -> usize {
        self.code_bits() / 8
    }

    /// Bytes of one gallery row: code, mask, zero padding up to a multiple of 64.
    pub fn row_bytes(&self) -> usize {
        (2 * self.code_bytes()).div_ceil(64) * 64
    }

    /// Checks that a code and its mask have the layout's length.
    pub fn check(&self, code: &[u8], mask: &[u8]) -> Result<()> {
        let expected = self.code_bytes();
        if code.len() != expected {
            return Err(MatchError::WrongLength {
                what: "iris code",
                expected,
                actual: code.len(),
            });
        }
        if mask.len() != expected {
            return Err(MatchError::WrongLength {
                what: "iris mask",
                expected,
                actual: mask.len(),
            });
        }
        Ok(())
    }

    /// Writes the gallery row of `code` and `mask` into `row` (which must be
    /// [`row_bytes`](Self::row_bytes) long): code, mask, then zeros.
    pub fn encode_row(&self, code: &[u8], mask: &[u8], row: &mut [u8]) -> Result<()> {
        self.check(code, mask)?;
        let expected = self.row_bytes();
        if row.len() != expected {
            return Err(MatchError::WrongLength {
                what: "iris gallery row",
                expected,
                actual: row.len(),
            });
        }
        let (c, rest) = row.split_at_mut(code.len());
        let (m, pad) = rest.split_at_mut(mask.len());
        c.copy_from_slice(code);
        m.copy_from_slice(mask);
        pad.fill(0);
        Ok(())
    }

    /// Circularly shifts the columns of every row of `src` by `shift` into `dst` (a code or a
    /// mask): the cell at column `c` moves to column `(c + shift) mod cols`, its bits together.
    /// Any `shift` is accepted (it is taken modulo `cols`).
    ///
    /// # Panics
    /// If `src` or `dst` is not [`code_bytes`](Self::code_bytes) long: callers pass buffers they
    /// sized from the layout (codes are checked with [`check`](Self::check) on the way in).
    pub fn rotate(&self, src: &[u8], shift: i32, dst: &mut [u8]) {
        assert_eq!(
            src.len(),
            self.code_bytes(),
            "IrisLayout::rotate: source is not one code long"
        );
        assert_eq!(
            dst.len(),
            self.code_bytes(),
            "IrisLayout::rotate: destination is not one code long"
        );
        let cols = self.cols as i64;
        let k = (shift as i64).rem_euclid(cols) as usize * self.bits_per_cell as usize;
        let row_bits = self.cols as usize * self.bits_per_cell as usize;
        if row_bits & 7 == 0 {
            let row_bytes = row_bits / 8;
            for (s, d) in src
                .chunks_exact(row_bytes)
                .zip(dst.chunks_exact_mut(row_bytes))
            {
                rotate_row_bytes(s, k, d);
            }
        } else {
            for row in 0..self.rows as usize {
                let base = row * row_bits;
                for j in 0..row_bits {
                    let from = base + (j + row_bits - k) % row_bits;
                    set_bit(dst, base + j, get_bit(src, from));
                }
            }
        }
    }
}

/// Bit `i` of a packed, most-significant-bit-first buffer.
#[inline]
pub(crate) fn get_bit(buf: &[u8], i: usize) -> bool {
    buf[i / 8] >> (7 - i % 8) & 1 == 1
}

/// Sets bit `i` of a packed, most-significant-bit-first buffer.
#[inline]
fn set_bit(buf: &mut [u8], i: usize, value: bool) {
    let bit = 0x80u8 >> (i % 8);
    if value {
        buf[i / 8] |= bit;
    } else {
        buf[i / 8] &= !bit;
    }
}

/// Rotates one row of whole bytes towards higher bit indices by `k` bits (`k < 8 * src.len()`):
/// destination bit `j` is source bit `(j - k) mod len`. Each destination byte is read as an
/// unaligned 8-bit window of the source, one bit at a time only where the window wraps.
fn rotate_row_bytes(src: &[u8], k: usize, dst: &mut [u8]) {
    let len = src.len() * 8;
    for (j, out) in dst.iter_mut().enumerate() {
        let p = (8 * j + len - k) % len;
        let (q, off) = (p / 8, p % 8);
        *out = if off == 0 {
            src[q]
        } else if p + 8 <= len {
            src[q] << off | src[q + 1] >> (8 - off)
        } else {
            (0..8).fold(0u8, |acc, b| acc << 1 | get_bit(src, (p + b) % len) as u8)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_layouts_have_the_documented_sizes() {
        assert_eq!(IrisLayout::DAUGMAN_2048.code_bits(), 2048);
        assert_eq!(IrisLayout::DAUGMAN_2048.row_bytes(), 512);
        assert_eq!(IrisLayout::OPEN_IRIS_12800.code_bits(), 12_800);
        assert_eq!(IrisLayout::OPEN_IRIS_12800.row_bytes(), 3200);
        assert_eq!(IrisLayout::new(1, 64, 1).unwrap().row_bytes(), 64);
        assert_eq!(IrisLayout::new(8, 128, 2), Ok(IrisLayout::DAUGMAN_2048));
    }

    #[test]
    fn huge_dimensions_are_refused_not_overflowed() {
        // Found by fuzzing the wire records: the product of three u32 overflowed u64.
        assert!(IrisLayout::new(u32::MAX, u32::MAX, 2).is_err());
        assert!(IrisLayout::new(1 << 31, 1 << 31, 4).is_err());
        assert!(IrisLayout::new(u32::MAX, 2, u32::MAX).is_err());
    }

    #[test]
    fn byte_and_bit_paths_agree() {
        // 4 x 16 x 1: rows of 16 bits take the byte path; compare with the bit definition.
        let layout = IrisLayout::new(4, 16, 1).unwrap();
        let src: Vec<u8> = (0..8u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for shift in -20..20 {
            let mut dst = vec![0u8; 8];
            layout.rotate(&src, shift, &mut dst);
            for row in 0..4 {
                for col in 0..16i32 {
                    let to = ((col + shift).rem_euclid(16)) as usize;
                    assert_eq!(
                        get_bit(&dst, row * 16 + to),
                        get_bit(&src, row * 16 + col as usize)
                    );
                }
            }
        }
    }
}
