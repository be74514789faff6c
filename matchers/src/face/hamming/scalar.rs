//! Reference binary Hamming block kernel: one byte at a time.

use crate::face::block::Block;

/// Writes `out[i * out_stride + j] = popcount(probe_i ^ row_j)` for the rows of `b`.
pub(crate) fn batch_hamming(b: Block, probes: &[u8], gallery: &[u8], out: &mut [u32]) {
    for i in 0..b.probes {
        let probe = &probes[i * b.len..(i + 1) * b.len];
        for j in 0..b.rows {
            let row = &gallery[j * b.stride..j * b.stride + b.len];
            out[i * b.out_stride + j] = probe
                .iter()
                .zip(row)
                .map(|(&x, &y)| (x ^ y).count_ones())
                .sum();
        }
    }
}
