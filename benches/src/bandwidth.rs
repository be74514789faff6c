//! A STREAM-like memory read bandwidth measurement: the ceiling a memory-bound scan can reach.

use rayon::prelude::*;
use std::time::Instant;

/// Buffer size: far beyond any last-level cache here (the suites' galleries are of this order).
const BUFFER_BYTES: usize = 1 << 30;

/// Reads a 1 GiB buffer with `threads` threads (the rayon pool is already sized so) and returns the
/// median read bandwidth in GB/s (1e9 bytes) over `reps` passes, after one warm-up pass.
pub fn measure_read_gbps(threads: usize, reps: usize) -> f64 {
    let words = BUFFER_BYTES / 8;
    // Touch every page with non-zero data so reads hit real memory, not the shared zero page.
    let buf: Vec<u64> = (0..words as u64)
        .into_par_iter()
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let chunk = words.div_ceil(threads.max(1) * 8);
    let mut times = Vec::with_capacity(reps);
    let mut sink = 0u64;
    for rep in 0..=reps {
        let t = Instant::now();
        let s: u64 = buf
            .par_chunks(chunk)
            .map(|c| {
                // Eight independent accumulators so the adds do not serialise and the loop
                // vectorises; the loads dominate.
                let mut acc = [0u64; 8];
                for block in c.chunks_exact(8) {
                    for (a, &x) in acc.iter_mut().zip(block) {
                        *a = a.wrapping_add(x);
                    }
                }
                acc.iter().fold(0u64, |x, &y| x.wrapping_add(y))
            })
            .reduce(|| 0, u64::wrapping_add);
        let dt = t.elapsed().as_secs_f64();
        sink = sink.wrapping_add(s);
        if rep > 0 {
            times.push(dt);
        }
    }
    std::hint::black_box(sink);
    times.sort_by(f64::total_cmp);
    BUFFER_BYTES as f64 / times[times.len() / 2] / 1e9
}
