//! AVX-512 with VPOPCNTDQ: 64 bytes of code per instruction, up to 8 rotations at once.
//!
//! For each 64-byte word of a gallery row (code word and mask word loaded once), every rotation of
//! the probe in the group updates two accumulators: `popcnt(pm & gm)` and, with one ternary-logic
//! instruction, `popcnt((pc ^ gc) & pm & gm)`. A 2,048-bit row is four such words; Daugman's seven
//! rotations keep 14 accumulators in registers. At the end the accumulators are packed (`compared`
//! in the high half of each 64-bit lane, `diff` in the low half) and summed across lanes by one
//! transpose-and-add tree that yields all rotations of the group in one vector; the f32 score of
//! all of them is then computed with the same correctly rounded operations as
//! [`scan_score`](crate::iris::scan_score), eight lanes at a time, and the minimum taken.
//!
//! Rows are processed in tiles so that a tile stays in L1/L2 while every probe passes over it.

use super::{Counts, GROUP};
use crate::iris::probe::PreparedProbe;
use crate::iris::score::TWO_SQRT_REFERENCE;
use std::arch::x86_64::*;

/// Gallery bytes per tile.
const TILE_BYTES: usize = 16 * 1024;

/// Packed counts (`diff | compared << 32`, one 64-bit lane per rotation, lanes `G..8` zero) of
/// rotations `0..G` of a probe starting at `probe` (rotation `i` at `probe + i * rot_stride`)
/// against the row at `row`.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VL/VPOPCNTDQ. `row` must be readable for `2 * cb` bytes and
/// each rotation for `2 * cb` bytes; `cb` is a multiple of 8.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq")]
#[inline]
unsafe fn group_counts<const G: usize>(
    probe: *const u8,
    rot_stride: usize,
    row: *const u8,
    cb: usize,
) -> __m512i {
    // SAFETY: every load below reads inside `row[..2 * cb]` or `probe + i * rot_stride
    // [..2 * cb]` for i < G (full words while `off + 64 <= cb`, then a masked load of the
    // remaining `(cb - off) / 8` 64-bit lanes, which does not touch the masked-off lanes).
    unsafe {
        let zero = _mm512_setzero_si512();
        let mut ad = [zero; G];
        let mut an = [zero; G];
        let full = cb / 64;
        let step = |off: usize,
                    gc: __m512i,
                    gm: __m512i,
                    ad: &mut [__m512i; G],
                    an: &mut [__m512i; G],
                    tail: __mmask8| {
            for i in 0..G {
                let p = probe.add(i * rot_stride + off);
                let (pc, pm) = if tail == 0xff {
                    (
                        _mm512_loadu_si512(p.cast()),
                        _mm512_loadu_si512(p.add(cb).cast()),
                    )
                } else {
                    (
                        _mm512_maskz_loadu_epi64(tail, p.cast()),
                        _mm512_maskz_loadu_epi64(tail, p.add(cb).cast()),
                    )
                };
                let m = _mm512_and_si512(pm, gm);
                let x = _mm512_ternarylogic_epi64::<0x28>(pc, gc, m);
                ad[i] = _mm512_add_epi64(ad[i], _mm512_popcnt_epi64(x));
                an[i] = _mm512_add_epi64(an[i], _mm512_popcnt_epi64(m));
            }
        };
        for w in 0..full {
            let off = w * 64;
            let gc = _mm512_loadu_si512(row.add(off).cast());
            let gm = _mm512_loadu_si512(row.add(cb + off).cast());
            step(off, gc, gm, &mut ad, &mut an, 0xff);
        }
        let rest = (cb % 64) / 8;
        if rest > 0 {
            let off = full * 64;
            let k: __mmask8 = (1u8 << rest) - 1;
            let gc = _mm512_maskz_loadu_epi64(k, row.add(off).cast());
            let gm = _mm512_maskz_loadu_epi64(k, row.add(cb + off).cast());
            step(off, gc, gm, &mut ad, &mut an, k);
        }
        let mut c = [zero; 8];
        for i in 0..G {
            c[i] = _mm512_add_epi64(ad[i], _mm512_slli_epi64::<32>(an[i]));
        }
        reduce8(c)
    }
}

/// Lane `i` of the result = the sum of the 8 lanes of `c[i]` (a transpose-and-add tree).
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce8(c: [__m512i; 8]) -> __m512i {
    let pair = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
    };
    let halves = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(
            _mm512_shuffle_i64x2::<0b10_00_10_00>(a, b),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(a, b),
        )
    };
    let t = [
        pair(c[0], c[1]),
        pair(c[2], c[3]),
        pair(c[4], c[5]),
        pair(c[6], c[7]),
    ];
    let s0 = halves(t[0], t[1]);
    let s1 = halves(t[2], t[3]);
    halves(s0, s1)
}

/// The minimum f32 score over lanes `0..g` of packed counts (see [`scan_score`]
/// (crate::iris::scan_score), which this evaluates with the same operations).
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn min_score(v: __m512i, g: usize) -> f32 {
    let d = _mm512_cvtepi64_epi32(v);
    let n = _mm512_cvtepi64_epi32(_mm512_srli_epi64::<32>(v));
    let num = _mm256_cvtepi32_ps(_mm256_sub_epi32(n, _mm256_add_epi32(d, d)));
    let den = _mm256_mul_ps(
        _mm256_sqrt_ps(_mm256_cvtepi32_ps(n)),
        _mm256_set1_ps(TWO_SQRT_REFERENCE),
    );
    let half = _mm256_set1_ps(0.5);
    let s = _mm256_sub_ps(half, _mm256_div_ps(num, den));
    let s = _mm256_mask_blend_ps(_mm256_cmpeq_epi32_mask(n, _mm256_setzero_si256()), s, half);
    let used: __mmask8 = ((1u16 << g) - 1) as u8;
    let s = _mm256_mask_blend_ps(used, _mm256_set1_ps(f32::INFINITY), s);
    let m = _mm_min_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
    let m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    let m = _mm_min_ss(m, _mm_shuffle_ps::<0b01>(m, m));
    _mm_cvtss_f32(m)
}

/// Packed counts of rotations `first..first + g` (`1 <= g <= 8`).
///
/// # Safety
/// As [`group_counts`], for rotations `first..first + g` of `probe`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq")]
#[inline]
unsafe fn group(probe: &PreparedProbe, first: usize, g: usize, row: *const u8) -> __m512i {
    let rb = probe.layout().row_bytes();
    let cb = probe.layout().code_bytes();
    // SAFETY: rotations `first..first + g` exist in `probe.bytes()` (rb bytes each, >= 2 * cb);
    // the caller vouches for the CPU and the row.
    unsafe {
        let p = probe.bytes().as_ptr().add(first * rb);
        match g {
            1 => group_counts::<1>(p, rb, row, cb),
            2 => group_counts::<2>(p, rb, row, cb),
            3 => group_counts::<3>(p, rb, row, cb),
            4 => group_counts::<4>(p, rb, row, cb),
            5 => group_counts::<5>(p, rb, row, cb),
            6 => group_counts::<6>(p, rb, row, cb),
            7 => group_counts::<7>(p, rb, row, cb),
            _ => group_counts::<8>(p, rb, row, cb),
        }
    }
}

/// Counts of rotations `first..first + out.len()` (at most 8) of `probe` against `row`.
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VL/VPOPCNTDQ; `row` holds `2 * code_bytes` bytes and the probe
/// has the requested rotations.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq")]
pub(super) unsafe fn counts(probe: &PreparedProbe, first: usize, row: &[u8], out: &mut [Counts]) {
    debug_assert!(out.len() <= GROUP && first + out.len() <= probe.rotations());
    debug_assert!(row.len() >= 2 * probe.layout().code_bytes());
    // SAFETY: forwarded from the caller (see above).
    let v = unsafe { group(probe, first, out.len(), row.as_ptr()) };
    let mut lanes = [0u64; 8];
    // SAFETY: `lanes` is 64 writable bytes.
    unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), v) };
    for (o, l) in out.iter_mut().zip(lanes) {
        *o = Counts {
            diff: l as u32,
            compared: (l >> 32) as u32,
        };
    }
}

/// The block kernel (see [`super::scan`]).
///
/// # Safety
/// The CPU must have AVX-512 F/BW/VL/VPOPCNTDQ; probes share one layout, `rows` holds `n` rows of
/// `stride >= 2 * code_bytes` bytes and `out` is `probes.len() * n` long.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq")]
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
                for first in (0..rots).step_by(GROUP) {
                    let g = GROUP.min(rots - first);
                    // SAFETY: row `r < n` lies inside `rows`; rotations `first..first + g` exist;
                    // the caller vouches for the CPU.
                    let v = unsafe { group(probe, first, g, rows.as_ptr().add(r * stride)) };
                    best = best.min(min_score(v, g));
                }
                out[p * n + r] = best;
            }
        }
    }
}
