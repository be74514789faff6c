//! A STREAM-like memory read bandwidth measurement: the ceiling a memory-bound scan can reach.

use rayon::prelude::*;
use std::time::Instant;

/// Buffer size: far beyond any last-level cache here (the suites' galleries are of this order).
const BUFFER_BYTES: usize = 1 << 30;

/// How far ahead (bytes) the prefetching pass asks for lines: as far as the iris scan does.
const PREFETCH_AHEAD: usize = 16 * 1024;

/// Reads a 1 GiB buffer with `threads` threads (the rayon pool is already sized so) and returns the
/// read bandwidth in GB/s (1e9 bytes): the better of two median rates over `reps` passes each
/// (after one warm-up pass), plain loads and loads with software prefetch into L2 ahead of them.
/// The kernels prefetch, so a ceiling measured without it could be beaten by them.
pub fn measure_read_gbps(threads: usize, reps: usize) -> f64 {
    let words = BUFFER_BYTES / 8;
    // Touch every page with non-zero data so reads hit real memory, not the shared zero page.
    let buf: Vec<u64> = (0..words as u64)
        .into_par_iter()
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let chunk = words.div_ceil(threads.max(1) * 8);
    let mut sink = 0u64;
    let mut best = 0f64;
    for prefetch in [false, true] {
        let mut times = Vec::with_capacity(reps);
        for rep in 0..=reps {
            let t = Instant::now();
            let s: u64 = buf
                .par_chunks(chunk)
                .map(|c| sum(c, prefetch))
                .reduce(|| 0, u64::wrapping_add);
            let dt = t.elapsed().as_secs_f64();
            sink = sink.wrapping_add(s);
            if rep > 0 {
                times.push(dt);
            }
        }
        times.sort_by(f64::total_cmp);
        best = best.max(BUFFER_BYTES as f64 / times[times.len() / 2] / 1e9);
    }
    std::hint::black_box(sink);
    best
}

/// Sums `c` one 64-byte line at a time with eight independent accumulators (so the adds do not
/// serialise and the loop vectorises; the loads dominate), optionally prefetching ahead.
fn sum(c: &[u64], prefetch: bool) -> u64 {
    let mut acc = [0u64; 8];
    let ahead = PREFETCH_AHEAD / 8;
    for (i, line) in c.chunks_exact(8).enumerate() {
        if prefetch {
            if let Some(future) = c.get(i * 8 + ahead) {
                prefetch_l2(future);
            }
        }
        for (a, &x) in acc.iter_mut().zip(line) {
            *a = a.wrapping_add(x);
        }
    }
    acc.iter().fold(0u64, |x, &y| x.wrapping_add(y))
}

/// Asks for the line holding `x` to be brought into L2 (a no-op off x86-64).
#[inline(always)]
fn prefetch_l2(x: &u64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching a valid reference's address has no effect besides the cache.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
            (x as *const u64).cast(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
