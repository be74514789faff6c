//! Shape checks and cache blocking shared by the batched (probes x gallery rows) kernels.
//!
//! A batch call compares `p` probes (contiguous, `len` elements each) with `n` gallery rows laid
//! out at a fixed `stride` (rows padded to 64 bytes in segment files) and writes a `p x n`
//! row-major score matrix. The safe entry points validate every length once, into a [`Block`];
//! the kernels then index without further checks. The gallery is cut into blocks of rows that fit
//! comfortably in the L2 cache, and each block is compared with every probe before moving on, so
//! a row is fetched from memory once per batch however many probes there are.

use crate::{MatchError, Result};

/// Bytes of gallery rows per cache block: a quarter of a typical 1 MiB L2, leaving room for the
/// probes and the block's scores.
const BLOCK_BYTES: usize = 256 * 1024;

/// The validated shape of one kernel call over a block of gallery rows.
///
/// Contract every kernel relies on (established by [`validate`] and kept by [`for_each_block`]):
/// `probes * len <= probe slice length`; for `j < rows`, `j * stride + len <= gallery slice
/// length`; for `i < probes` and `j < rows`, `i * out_stride + j < output slice length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// Probes in the batch.
    pub probes: usize,
    /// Elements (or bytes) per probe and per gallery row.
    pub len: usize,
    /// Gallery rows in this block.
    pub rows: usize,
    /// Elements from one gallery row to the next (`>= len`).
    pub stride: usize,
    /// Elements from one probe's scores to the next probe's (the gallery size `n`).
    pub out_stride: usize,
}

/// Validates a batch call and returns its whole-gallery shape. `what` names the unit of `len`
/// for error messages ("embedding dimension", "binary code bytes").
pub(crate) fn validate(
    what: &'static str,
    probes_len: usize,
    len: usize,
    gallery_len: usize,
    stride: usize,
    out_len: usize,
) -> Result<Block> {
    if len == 0 {
        return Err(MatchError::WrongLength {
            what,
            expected: 1,
            actual: 0,
        });
    }
    if !probes_len.is_multiple_of(len) {
        return Err(MatchError::WrongLength {
            what: "probes",
            expected: probes_len.div_ceil(len) * len,
            actual: probes_len,
        });
    }
    if stride < len {
        return Err(MatchError::WrongLength {
            what: "gallery row stride",
            expected: len,
            actual: stride,
        });
    }
    // Rows are `stride` apart; the last one may omit its padding.
    let rows = gallery_len.div_ceil(stride);
    if rows > 0 && (rows - 1) * stride + len > gallery_len {
        return Err(MatchError::WrongLength {
            what: "gallery",
            expected: (rows - 1) * stride + len,
            actual: gallery_len,
        });
    }
    let probes = probes_len / len;
    let expected = probes.checked_mul(rows).ok_or(MatchError::WrongLength {
        what: "scores",
        expected: usize::MAX,
        actual: out_len,
    })?;
    if out_len != expected {
        return Err(MatchError::WrongLength {
            what: "scores",
            expected,
            actual: out_len,
        });
    }
    Ok(Block {
        probes,
        len,
        rows,
        stride,
        out_stride: rows,
    })
}

/// Calls `kernel(block, first_row)` for consecutive cache-sized blocks of gallery rows covering
/// `whole.rows`. The kernel sees its rows starting at gallery element `first_row * stride` and
/// writes scores starting at output element `first_row`.
pub(crate) fn for_each_block(whole: Block, mut kernel: impl FnMut(Block, usize)) {
    let block_rows = (BLOCK_BYTES / whole.stride.max(1)).max(16);
    let mut first = 0;
    while first < whole.rows {
        let rows = block_rows.min(whole.rows - first);
        kernel(Block { rows, ..whole }, first);
        first += rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_accepts_padded_and_unpadded_last_row() {
        let b = validate("dim", 6, 3, 8 + 3, 8, 4).unwrap();
        assert_eq!(
            b,
            Block {
                probes: 2,
                len: 3,
                rows: 2,
                stride: 8,
                out_stride: 2
            }
        );
        assert_eq!(validate("dim", 6, 3, 16, 8, 4).unwrap(), b);
        assert_eq!(validate("dim", 3, 3, 0, 8, 0).unwrap().rows, 0);
    }

    #[test]
    fn validate_refuses_bad_shapes() {
        assert!(matches!(
            validate("dim", 3, 0, 8, 8, 1),
            Err(MatchError::WrongLength { actual: 0, .. })
        ));
        assert!(matches!(
            validate("dim", 7, 3, 8, 8, 2),
            Err(MatchError::WrongLength { what: "probes", .. })
        ));
        assert!(matches!(
            validate("dim", 6, 3, 8, 2, 2),
            Err(MatchError::WrongLength {
                what: "gallery row stride",
                ..
            })
        ));
        assert!(matches!(
            validate("dim", 6, 3, 10, 8, 4),
            Err(MatchError::WrongLength {
                what: "gallery",
                ..
            })
        ));
        assert!(matches!(
            validate("dim", 6, 3, 16, 8, 3),
            Err(MatchError::WrongLength { what: "scores", .. })
        ));
    }

    #[test]
    fn blocks_cover_all_rows_once() {
        let whole = Block {
            probes: 1,
            len: 4,
            rows: 100_000,
            stride: 64,
            out_stride: 100_000,
        };
        let mut next = 0;
        for_each_block(whole, |b, first| {
            assert_eq!(first, next);
            assert!(b.rows > 0 && b.out_stride == whole.out_stride);
            next += b.rows;
        });
        assert_eq!(next, whole.rows);
    }
}
