//! Portable binary Hamming block kernel over 64-bit words.
//!
//! Codes are read as little-endian u64 words (`count_ones` lowers to `popcnt` where the target
//! has it and to a bit-twiddling sequence elsewhere); the tail bytes are counted one by one.

use crate::face::block::Block;

/// Popcount of `a ^ b` for equal-length byte slices.
fn distance(a: &[u8], b: &[u8]) -> u32 {
    let mut d = 0u32;
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (wa.remainder(), wb.remainder());
    for (x, y) in wa.zip(wb) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        d += (x ^ y).count_ones();
    }
    d + ta
        .iter()
        .zip(tb)
        .map(|(&x, &y)| (x ^ y).count_ones())
        .sum::<u32>()
}

/// Writes `out[i * out_stride + j] = popcount(probe_i ^ row_j)` for the rows of `b`.
pub(crate) fn batch_hamming(b: Block, probes: &[u8], gallery: &[u8], out: &mut [u32]) {
    for i in 0..b.probes {
        let probe = &probes[i * b.len..(i + 1) * b.len];
        let scores = &mut out[i * b.out_stride..i * b.out_stride + b.rows];
        for (j, s) in scores.iter_mut().enumerate() {
            *s = distance(probe, &gallery[j * b.stride..j * b.stride + b.len]);
        }
    }
}
