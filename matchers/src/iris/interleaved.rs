//! The interleaved gallery format: rows stored eight at a time, 64-bit word by 64-bit word.
//!
//! A block holds [`BLOCK_ROWS`] gallery rows ([`IrisLayout::row_bytes`] each, code then mask then
//! padding). Word `k` (bytes `8k..8k + 8`) of the row in lane `j` sits at bytes
//! `(8k + j) * 8..(8k + j) * 8 + 8` of the block, so one 64-byte line holds word `k` of all
//! eight rows. A block is as long as eight rows (4 KiB for Daugman's 2,048 bits).
//!
//! Why: the wide kernel ([`scan_interleaved`](super::scan_interleaved)) loads word `k` of eight
//! rows as one vector and meets it with word `k` of each probe rotation broadcast to all lanes,
//! so every lane does useful work whatever the number of rotations (row-major rows put the
//! rotations in the lanes instead, and seven rotations leave one lane of eight idle), and each
//! lane ends up holding one row's counts, so no reduction across lanes is needed. On Zen 4 that
//! is about 1.3x the row-major kernel per core (measured in `docs/PERFORMANCE.md`).
//!
//! A block whose last lanes hold no row yet is still a whole block; what those lanes hold is
//! ignored (the row count says which lanes are rows).

use super::layout::IrisLayout;

/// Rows per block.
pub const BLOCK_ROWS: usize = 8;

/// Bytes of one block of rows of `layout`.
pub fn block_bytes(layout: &IrisLayout) -> usize {
    BLOCK_ROWS * layout.row_bytes()
}

/// Writes `row` (one gallery row of `row.len() / 8` words) into lane `lane` of `block`.
///
/// # Panics
/// If `lane >= BLOCK_ROWS`, `row.len()` is not a multiple of 8 or `block` is not
/// `BLOCK_ROWS * row.len()` long: callers size both from the layout.
pub fn put_row(block: &mut [u8], lane: usize, row: &[u8]) {
    check(block.len(), lane, row.len());
    for (k, word) in row.chunks_exact(8).enumerate() {
        let at = (k * BLOCK_ROWS + lane) * 8;
        block[at..at + 8].copy_from_slice(word);
    }
}

/// Reads lane `lane` of `block` into `row` (the inverse of [`put_row`]).
///
/// # Panics
/// As [`put_row`].
pub fn get_row(block: &[u8], lane: usize, row: &mut [u8]) {
    check(block.len(), lane, row.len());
    for (k, word) in row.chunks_exact_mut(8).enumerate() {
        let at = (k * BLOCK_ROWS + lane) * 8;
        word.copy_from_slice(&block[at..at + 8]);
    }
}

fn check(block: usize, lane: usize, row: usize) {
    assert!(
        lane < BLOCK_ROWS && row.is_multiple_of(8) && block == BLOCK_ROWS * row,
        "interleaved iris block: lane {lane}, row of {row} bytes, block of {block} bytes"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_their_lanes() {
        let layout = IrisLayout::DAUGMAN_2048;
        let rb = layout.row_bytes();
        let mut block = vec![0u8; block_bytes(&layout)];
        let rows: Vec<Vec<u8>> = (0..BLOCK_ROWS)
            .map(|j| (0..rb).map(|i| (i * 7 + j * 31) as u8).collect())
            .collect();
        for (j, r) in rows.iter().enumerate() {
            put_row(&mut block, j, r);
        }
        // Word 1 of lane 2 sits in the second line, third word.
        assert_eq!(&block[(8 + 2) * 8..(8 + 3) * 8], &rows[2][8..16]);
        let mut back = vec![0u8; rb];
        for (j, r) in rows.iter().enumerate() {
            get_row(&block, j, &mut back);
            assert_eq!(&back, r);
        }
    }

    #[test]
    #[should_panic(expected = "interleaved iris block")]
    fn a_lane_past_the_block_is_refused() {
        let mut block = vec![0u8; 8 * 64];
        put_row(&mut block, BLOCK_ROWS, &[0u8; 64]);
    }
}
