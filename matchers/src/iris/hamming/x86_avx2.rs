//! AVX2: 32 bytes of code per instruction, popcounts by nibble lookup, up to 4 rotations at once.
//!
//! AVX2 has no vector popcount, so each byte's count comes from two `vpshufb` lookups (low and high
//! nibble) into a 16-entry table. Byte counts are summed in 8-bit lanes for up to 31 words (at most
//! 8 per word, so no lane overflows) and then widened with `vpsadbw`. With 16 ymm registers a group
//! of four rotations (eight byte accumulators) is the most that stays in registers, so Daugman's
//! seven rotations are two groups (4 + 3); the second re-reads the gallery row from L1. The counts
//! of a group are packed (`diff | compared << 32`), summed across lanes by a transpose-and-add, and
//! scored four at a time with the operations of [`scan_score`](crate::iris::scan_score).

use super::{Counts, GROUP};
use crate::iris::probe::PreparedProbe;
use crate::iris::score::TWO_SQRT_REFERENCE;
use std::arch::x86_64::*;

/// Rotations per register-resident group.
const SUB: usize = 4;

/// Gallery bytes per tile.
const TILE_BYTES: usize = 16 * 1024;

/// How far ahead (rows) the gallery is prefetched.
const PREFETCH_ROWS: usize = 8;

/// Words summed in byte lanes before widening (31 x 8 = 248 fits a byte).
const FLUSH_WORDS: usize = 31;

/// Per-byte popcounts of `x`.
#[target_feature(enable = "avx2")]
#[inline]
fn pop8(x: __m256i) -> __m256i {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let lo = _mm256_and_si256(x, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
}

/// Packed counts (`diff | compared << 32`, one 64-bit lane per rotation, lanes `G..4` zero) of
/// rotations `0..G` of a probe starting at `probe` (rotation `i` at `probe + i * rot_stride`)
/// against the row at `row`. When `pf` is not 0, the row's lines `pf` bytes further on are
/// prefetched into L2 as the word loop goes.
///
/// # Safety
/// The CPU must have AVX2. `row` and each rotation must be readable for `2 * cb` bytes; `cb` is a
/// multiple of 8.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn group_counts<const G: usize>(
    probe: *const u8,
    rot_stride: usize,
    row: *const u8,
    cb: usize,
    pf: usize,
) -> __m256i {
    // SAFETY: full 32-byte loads stay inside `[..cb]` of each code and mask (`off + 32 <= cb`);
    // the tail uses `maskload`, which does not touch the masked-off 64-bit lanes.
    unsafe {
        let zero = _mm256_setzero_si256();
        let mut wd = [zero; G];
        let mut wn = [zero; G];
        let full = cb / 32;
        let mut w = 0;
        while w < full {
            let end = full.min(w + FLUSH_WORDS);
            let mut bd = [zero; G];
            let mut bn = [zero; G];
            for off in (w * 32..end * 32).step_by(32) {
                if pf != 0 && off % 64 == 0 {
                    // Prefetch never faults, and `wrapping_add` keeps the address computation
                    // defined even past the end of the rows.
                    _mm_prefetch::<_MM_HINT_T1>(row.wrapping_add(pf + off).cast());
                    _mm_prefetch::<_MM_HINT_T1>(row.wrapping_add(pf + cb + off).cast());
                }
                let gc = _mm256_loadu_si256(row.add(off).cast());
                let gm = _mm256_loadu_si256(row.add(cb + off).cast());
                for i in 0..G {
                    let p = probe.add(i * rot_stride + off);
                    let pc = _mm256_loadu_si256(p.cast());
                    let pm = _mm256_loadu_si256(p.add(cb).cast());
                    let m = _mm256_and_si256(pm, gm);
                    let x = _mm256_and_si256(_mm256_xor_si256(pc, gc), m);
                    bd[i] = _mm256_add_epi8(bd[i], pop8(x));
                    bn[i] = _mm256_add_epi8(bn[i], pop8(m));
                }
            }
            for i in 0..G {
                wd[i] = _mm256_add_epi64(wd[i], _mm256_sad_epu8(bd[i], zero));
                wn[i] = _mm256_add_epi64(wn[i], _mm256_sad_epu8(bn[i], zero));
            }
            w = end;
        }
        let rest = (cb % 32) / 8;
        if rest > 0 {
            let off = full * 32;
            let k = _mm256_cmpgt_epi64(
                _mm256_set1_epi64x(rest as i64),
                _mm256_setr_epi64x(0, 1, 2, 3),
            );
            let gc = _mm256_maskload_epi64(row.add(off).cast(), k);
            let gm = _mm256_maskload_epi64(row.add(cb + off).cast(), k);
            for i in 0..G {
                let p = probe.add(i * rot_stride + off);
                let pc = _mm256_maskload_epi64(p.cast(), k);
                let pm = _mm256_maskload_epi64(p.add(cb).cast(), k);
                let m = _mm256_and_si256(pm, gm);
                let x = _mm256_and_si256(_mm256_xor_si256(pc, gc), m);
                wd[i] = _mm256_add_epi64(wd[i], _mm256_sad_epu8(pop8(x), zero));
                wn[i] = _mm256_add_epi64(wn[i], _mm256_sad_epu8(pop8(m), zero));
            }
        }
        let mut c = [zero; SUB];
        for i in 0..G {
            c[i] = _mm256_add_epi64(wd[i], _mm256_slli_epi64::<32>(wn[i]));
        }
        let pair = |a: __m256i, b: __m256i| {
            _mm256_add_epi64(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b))
        };
        let (t0, t1) = (pair(c[0], c[1]), pair(c[2], c[3]));
        _mm256_add_epi64(
            _mm256_permute2x128_si256::<0x20>(t0, t1),
            _mm256_permute2x128_si256::<0x31>(t0, t1),
        )
    }
}

/// The minimum f32 score over lanes `0..g` of packed counts, evaluated with the operations of
/// [`scan_score`](crate::iris::scan_score).
#[target_feature(enable = "avx2")]
#[inline]
fn min_score(v: __m256i, g: usize) -> f32 {
    let split = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    let d = _mm256_castsi256_si128(split);
    let n = _mm256_extracti128_si256::<1>(split);
    let num = _mm_cvtepi32_ps(_mm_sub_epi32(n, _mm_add_epi32(d, d)));
    let den = _mm_mul_ps(
        _mm_sqrt_ps(_mm_cvtepi32_ps(n)),
        _mm_set1_ps(TWO_SQRT_REFERENCE),
    );
    let half = _mm_set1_ps(0.5);
    let s = _mm_sub_ps(half, _mm_div_ps(num, den));
    let s = _mm_blendv_ps(
        s,
        half,
        _mm_castsi128_ps(_mm_cmpeq_epi32(n, _mm_setzero_si128())),
    );
    let unused = _mm_cmpgt_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(g as i32 - 1));
    let s = _mm_blendv_ps(s, _mm_set1_ps(f32::INFINITY), _mm_castsi128_ps(unused));
    let m = _mm_min_ps(s, _mm_movehl_ps(s, s));
    let m = _mm_min_ss(m, _mm_shuffle_ps::<0b01>(m, m));
    _mm_cvtss_f32(m)
}

/// Packed counts of rotations `first..first + g` (`1 <= g <= 4`).
///
/// # Safety
/// As [`group_counts`], for rotations `first..first + g` of `probe`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn group(
    probe: &PreparedProbe,
    first: usize,
    g: usize,
    row: *const u8,
    pf: usize,
) -> __m256i {
    let rb = probe.layout().row_bytes();
    let cb = probe.layout().code_bytes();
    // SAFETY: rotations `first..first + g` exist in `probe.bytes()` (rb >= 2 * cb bytes each);
    // the caller vouches for the CPU and the row.
    unsafe {
        let p = probe.bytes().as_ptr().add(first * rb);
        match g {
            1 => group_counts::<1>(p, rb, row, cb, pf),
            2 => group_counts::<2>(p, rb, row, cb, pf),
            3 => group_counts::<3>(p, rb, row, cb, pf),
            _ => group_counts::<4>(p, rb, row, cb, pf),
        }
    }
}

/// Counts of rotations `first..first + out.len()` (at most 8) of `probe` against `row`.
///
/// # Safety
/// The CPU must have AVX2; `row` holds `2 * code_bytes` bytes and the probe has the requested
/// rotations.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn counts(probe: &PreparedProbe, first: usize, row: &[u8], out: &mut [Counts]) {
    debug_assert!(out.len() <= GROUP && first + out.len() <= probe.rotations());
    debug_assert!(row.len() >= 2 * probe.layout().code_bytes());
    for (j, chunk) in out.chunks_mut(SUB).enumerate() {
        // SAFETY: forwarded from the caller (see above).
        let v = unsafe { group(probe, first + j * SUB, chunk.len(), row.as_ptr(), 0) };
        let mut lanes = [0u64; SUB];
        // SAFETY: `lanes` is 32 writable bytes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
        for (o, l) in chunk.iter_mut().zip(lanes) {
            *o = Counts {
                diff: l as u32,
                compared: (l >> 32) as u32,
            };
        }
    }
}

/// The block kernel (see [`super::scan`]).
///
/// # Safety
/// The CPU must have AVX2; probes share one layout, `rows` holds `n` rows of
/// `stride >= 2 * code_bytes` bytes and `out` is `probes.len() * n` long.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn scan(
    probes: &[PreparedProbe],
    rows: &[u8],
    stride: usize,
    n: usize,
    out: &mut [f32],
) {
    debug_assert!(rows.len() >= n * stride && out.len() == probes.len() * n);
    let tile = (TILE_BYTES / stride).max(1);
    for t0 in (0..n).step_by(tile) {
        let t1 = n.min(t0 + tile);
        for (p, probe) in probes.iter().enumerate() {
            let rots = probe.rotations();
            for r in t0..t1 {
                let mut best = f32::INFINITY;
                // The first probe of a tile prefetches rows ahead, in its first rotation group.
                let mut pf = if p == 0 { PREFETCH_ROWS * stride } else { 0 };
                for first in (0..rots).step_by(SUB) {
                    let g = SUB.min(rots - first);
                    // SAFETY: row `r < n` lies inside `rows`; rotations `first..first + g` exist;
                    // the caller vouches for the CPU.
                    let v = unsafe { group(probe, first, g, rows.as_ptr().add(r * stride), pf) };
                    pf = 0;
                    best = best.min(min_score(v, g));
                }
                out[p * n + r] = best;
            }
        }
    }
}
