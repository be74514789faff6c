//! Reference i8 block kernel: one pair at a time, one element at a time.
//!
//! Every other level must produce exactly these numbers. Sums wrap in i32 (like the SIMD
//! accumulators), which equals the true dot product whenever it fits in i32 (always for
//! dimensions up to 131,072).

use crate::face::block::Block;

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
pub(crate) fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    for i in 0..b.probes {
        let probe = &probes[i * b.len..(i + 1) * b.len];
        for j in 0..b.rows {
            let row = &gallery[j * b.stride..j * b.stride + b.len];
            let dot = probe.iter().zip(row).fold(0i32, |s, (&x, &y)| {
                s.wrapping_add(i32::from(x) * i32::from(y))
            });
            out[i * b.out_stride + j] = dot;
        }
    }
}
