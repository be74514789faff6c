//! The AVX-512 scan of interleaved blocks ([`crate::iris::interleaved`]): eight gallery rows per
//! vector, one lane each.
//!
//! For each 64-bit word `k` of the code, the block gives word `k` of its eight rows' codes and
//! masks as two aligned vectors; each probe rotation's word `k` is broadcast to all lanes, and
//! `m = pm & gm`, `x = (pc ^ gc) & m` (one ternary-logic op), two `vpopcntq` and two adds update
//! that rotation's two accumulators. Up to eight rotations are in flight (16 accumulators), so
//! each block line is loaded once per group of rotations. At the end lane `j` of a rotation's
//! accumulators holds row `j`'s counts, so the scores of eight rows come out of one pass of
//! vector arithmetic per rotation and the best rotation is a lane-wise minimum: no reduction
//! across lanes at all. Every lane does useful work whatever the number of rotations.
//!
//! Blocks ahead are prefetched into L2, two lines per word step of the first probe's first
//! rotation group, so the whole block `PREFETCH_BLOCKS` ahead is requested while this one is
//! scanned: from memory the scan then runs at about its in-cache speed.

use crate::iris::interleaved::{block_bytes, BLOCK_ROWS};
use crate::iris::probe::PreparedProbe;
use crate::iris::score::TWO_SQRT_REFERENCE;
use std::arch::x86_64::*;

/// How many blocks ahead (16 KiB of Daugman rows) the scan prefetches.
const PREFETCH_BLOCKS: usize = 4;

/// Rotations whose accumulators are live at once.
const GROUP: usize = 8;

/// The interleaved scan (see [`crate::iris::scan_interleaved`]).
///
/// # Safety
/// The CPU must have AVX-512 F/VL/VPOPCNTDQ; `probes` is non-empty and shares one layout,
/// `blocks` holds exactly `n.div_ceil(8)` blocks of it and `out` is `probes.len() * n` long.
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq")]
pub(in crate::iris::hamming) unsafe fn scan_interleaved(
    probes: &[PreparedProbe],
    blocks: &[u8],
    n: usize,
    out: &mut [f32],
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match probes[0].layout().code_bytes() / 8 {
            // Daugman's 2,048 bits: a compile-time trip count.
            32 => scan_with::<32>(probes, blocks, n, out),
            _ => scan_with::<0>(probes, blocks, n, out),
        }
    }
}

/// [`scan_interleaved`] for codes of `W` words (`W = 0`: the count is read from the layout).
///
/// # Safety
/// As [`scan_interleaved`].
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq")]
unsafe fn scan_with<const W: usize>(
    probes: &[PreparedProbe],
    blocks: &[u8],
    n: usize,
    out: &mut [f32],
) {
    let layout = *probes[0].layout();
    let shape = Shape {
        words: if W > 0 { W } else { layout.code_bytes() / 8 },
        row_words: layout.row_bytes() / 8,
    };
    let bb = block_bytes(&layout);
    let nb = n.div_ceil(BLOCK_ROWS);
    debug_assert!(blocks.len() == nb * bb && out.len() == probes.len() * n);
    for b in 0..nb {
        let block = blocks[b * bb..].as_ptr().cast::<u64>();
        let ahead = blocks[(b + PREFETCH_BLOCKS).min(nb - 1) * bb..].as_ptr();
        let rows = BLOCK_ROWS.min(n - b * BLOCK_ROWS);
        for (p, probe) in probes.iter().enumerate() {
            let words = probe.words().as_ptr();
            let rots = probe.rotations();
            let mut best = _mm256_set1_ps(f32::INFINITY);
            for first in (0..rots).step_by(GROUP) {
                let prefetch = (p == 0 && first == 0).then_some(ahead);
                // SAFETY: rotations `first..first + g` of the probe exist (`row_words` words
                // each); the block holds `2 * words` lines (code then mask words) of 8 lanes.
                let s = unsafe {
                    let at = words.add(first * shape.row_words);
                    match rots - first {
                        1 => group::<W, 1>(&shape, at, block, prefetch),
                        2 => group::<W, 2>(&shape, at, block, prefetch),
                        3 => group::<W, 3>(&shape, at, block, prefetch),
                        4 => group::<W, 4>(&shape, at, block, prefetch),
                        5 => group::<W, 5>(&shape, at, block, prefetch),
                        6 => group::<W, 6>(&shape, at, block, prefetch),
                        7 => group::<W, 7>(&shape, at, block, prefetch),
                        _ => group::<W, 8>(&shape, at, block, prefetch),
                    }
                };
                best = _mm256_min_ps(best, s);
            }
            let mut lanes = [0f32; BLOCK_ROWS];
            // SAFETY: `lanes` is 32 writable bytes.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), best) };
            out[p * n + b * BLOCK_ROWS..][..rows].copy_from_slice(&lanes[..rows]);
        }
    }
}

/// Word counts of a layout: code words, and words per rotated probe row (code, mask, padding).
struct Shape {
    words: usize,
    row_words: usize,
}

/// The best [`scan_score`](crate::iris::scan_score) of `G` rotations (the rotated rows at
/// `probe`, `row_words` apart) against the eight rows of `block`, one per lane.
///
/// # Safety
/// AVX-512 F/VL/VPOPCNTDQ; `probe` readable for `G` rotated rows, `block` for one block of the
/// layout (64-byte aligned or not); `prefetch`, when given, points at a block of the same buffer.
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq")]
#[inline]
unsafe fn group<const W: usize, const G: usize>(
    shape: &Shape,
    probe: *const u64,
    block: *const u64,
    prefetch: Option<*const u8>,
) -> __m256 {
    let words = if W > 0 { W } else { shape.words };
    let mut diff = [_mm512_setzero_si512(); G];
    let mut compared = [_mm512_setzero_si512(); G];
    // SAFETY: `k < words`: line `k` (code) and `words + k` (mask) lie in the block, and word
    // `k` / `words + k` of every rotated row in the probe; prefetching has no other effect.
    unsafe {
        for k in 0..words {
            let gc = _mm512_loadu_si512(block.add(k * BLOCK_ROWS).cast());
            let gm = _mm512_loadu_si512(block.add((words + k) * BLOCK_ROWS).cast());
            if let Some(ahead) = prefetch {
                _mm_prefetch::<_MM_HINT_T1>(ahead.add(k * 64).cast());
                _mm_prefetch::<_MM_HINT_T1>(ahead.add((words + k) * 64).cast());
            }
            for r in 0..G {
                let rot = probe.add(r * shape.row_words);
                let pc = _mm512_set1_epi64(rot.add(k).read() as i64);
                let pm = _mm512_set1_epi64(rot.add(words + k).read() as i64);
                let m = _mm512_and_si512(gm, pm);
                let x = _mm512_ternarylogic_epi64::<0x28>(pc, gc, m);
                diff[r] = _mm512_add_epi64(diff[r], _mm512_popcnt_epi64(x));
                compared[r] = _mm512_add_epi64(compared[r], _mm512_popcnt_epi64(m));
            }
        }
    }
    let mut best = _mm256_set1_ps(f32::INFINITY);
    for r in 0..G {
        best = _mm256_min_ps(best, scores(diff[r], compared[r]));
    }
    best
}

/// [`scan_score`](crate::iris::scan_score) of eight lanes of counts, with the same correctly
/// rounded operations (so the results are bit-identical).
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn scores(diff: __m512i, compared: __m512i) -> __m256 {
    // Counts are at most 65,536 bits: they fit 32-bit lanes.
    let d = _mm512_cvtepi64_epi32(diff);
    let n = _mm512_cvtepi64_epi32(compared);
    let num = _mm256_cvtepi32_ps(_mm256_sub_epi32(n, _mm256_add_epi32(d, d)));
    let den = _mm256_mul_ps(
        _mm256_sqrt_ps(_mm256_cvtepi32_ps(n)),
        _mm256_set1_ps(TWO_SQRT_REFERENCE),
    );
    let half = _mm256_set1_ps(0.5);
    let s = _mm256_sub_ps(half, _mm256_div_ps(num, den));
    let none = _mm256_cmpeq_epi32_mask(n, _mm256_setzero_si256());
    _mm256_mask_blend_ps(none, s, half)
}
