//! Portable i8 block kernel: plain Rust shaped so the compiler vectorises it on any target.
//!
//! Each pair is summed into 32 independent i32 lanes over 32-element chunks (the shape LLVM turns
//! into widening multiply-adds on SSE2 and NEON), and two gallery rows share each probe chunk
//! load. Exact: integer sums wrap in i32 exactly like the reference.

use crate::face::block::Block;

const LANES: usize = 32;

/// Dot products of one probe with two rows at once, exact (wrapping i32).
fn dot2(p: &[i8], r0: &[i8], r1: &[i8]) -> (i32, i32) {
    let mut a0 = [0i32; LANES];
    let mut a1 = [0i32; LANES];
    let chunks = p.len() / LANES;
    for c in 0..chunks {
        let pc = &p[c * LANES..(c + 1) * LANES];
        let c0 = &r0[c * LANES..(c + 1) * LANES];
        let c1 = &r1[c * LANES..(c + 1) * LANES];
        for k in 0..LANES {
            let x = i32::from(pc[k]);
            a0[k] = a0[k].wrapping_add(x * i32::from(c0[k]));
            a1[k] = a1[k].wrapping_add(x * i32::from(c1[k]));
        }
    }
    let mut s0 = a0.iter().fold(0i32, |s, &x| s.wrapping_add(x));
    let mut s1 = a1.iter().fold(0i32, |s, &x| s.wrapping_add(x));
    for k in chunks * LANES..p.len() {
        let x = i32::from(p[k]);
        s0 = s0.wrapping_add(x * i32::from(r0[k]));
        s1 = s1.wrapping_add(x * i32::from(r1[k]));
    }
    (s0, s1)
}

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
pub(crate) fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    let row = |j: usize| &gallery[j * b.stride..j * b.stride + b.len];
    for i in 0..b.probes {
        let probe = &probes[i * b.len..(i + 1) * b.len];
        let scores = &mut out[i * b.out_stride..i * b.out_stride + b.rows];
        let mut j = 0;
        while j + 2 <= b.rows {
            let (s0, s1) = dot2(probe, row(j), row(j + 1));
            scores[j] = s0;
            scores[j + 1] = s1;
            j += 2;
        }
        if j < b.rows {
            scores[j] = dot2(probe, row(j), row(j)).0;
        }
    }
}
