//! The affinity with AVX-512 VPOPCNTDQ.
//!
//! A row's codes are word-sliced (see the module docs of `index`): block `b` of 8 codes is four
//! 512-bit registers, word `w` of the 8 codes in register `w`. A row's blocks (up to three, twelve
//! registers) and their directions (8 bytes per block, in a 128-bit register) are loaded once;
//! then for each probe code, broadcast once, every block costs four `xor`s, four `vpopcntq`s and
//! three adds for its 8 distances, two byte-wise ops on the directions for the window mask, and a
//! masked unsigned `min` that keeps, per gallery code, the distance to its nearest compatible
//! probe code. At the end, per block, `RADIUS - min(best, RADIUS)` summed over the row's valid
//! lanes gives the affinity. The number of blocks is a const parameter so the row stays in
//! registers.

use super::{CylinderCode, RowView, ANGLE_WINDOW, CODE_WORDS, HEAD_WORDS, RADIUS};
use std::arch::x86_64::*;

/// A probe code ready to be compared: `ANGLE_WINDOW - angle` in every byte, and its four words
/// in every 64-bit lane.
struct Probe {
    window_minus_angle: __m128i,
    words: [__m512i; CODE_WORDS],
}

/// See [`super::affinity`].
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL and VPOPCNTDQ; `rows` holds at least
/// `(out.len() - 1) * stride + ROW_WORDS` words.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt")]
pub(super) unsafe fn affinity(
    probe: &[CylinderCode],
    rows: &[u64],
    stride: usize,
    out: &mut [u16],
) {
    let probes: Vec<Probe> = probe
        .iter()
        .map(|(a, c)| Probe {
            window_minus_angle: _mm_set1_epi8(ANGLE_WINDOW.wrapping_sub(*a) as i8),
            words: [
                _mm512_set1_epi64(c[0] as i64),
                _mm512_set1_epi64(c[1] as i64),
                _mm512_set1_epi64(c[2] as i64),
                _mm512_set1_epi64(c[3] as i64),
            ],
        })
        .collect();
    let len = out.len();
    for (k, o) in out.iter_mut().enumerate() {
        let row = &rows[k * stride..k * stride + super::ROW_WORDS];
        // Rows of one finger position of ten-finger rows are 8 KiB apart, a stride the hardware
        // prefetchers follow poorly: ask for the row after next explicitly.
        if stride > super::ROW_WORDS && k + 2 < len {
            let next = rows[(k + 2) * stride..].as_ptr() as *const i8;
            for line in 0..super::ROW_WORDS / 8 {
                // SAFETY: a prefetch never faults; the address lies inside row `k + 2`, which
                // the caller's contract puts inside `rows`.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(next.add(64 * line)) };
            }
        }
        let n = RowView::new(row).count();
        // SAFETY: `row` is a whole `ROW_WORDS`-word row and `n <= MAX_CODES` (clamped by
        // `RowView`), so the kernel's loads of `n.div_ceil(8)` blocks stay inside it.
        *o = unsafe {
            match n.div_ceil(8) {
                0 => 0,
                _ if probes.is_empty() => 0,
                1 => row_affinity::<1>(&probes, row, n),
                2 => row_affinity::<2>(&probes, row, n),
                _ => row_affinity::<3>(&probes, row, n),
            }
        };
    }
}

/// Affinity of one row with `n` codes in `B` blocks.
///
/// # Safety
/// As [`hits`]; `row` is a whole row, `1 <= B <= 3` and `n <= 8 * B`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt")]
#[inline]
unsafe fn row_affinity<const B: usize>(probes: &[Probe], row: &[u64], n: usize) -> u16 {
    let mut g = [[_mm512_setzero_si512(); CODE_WORDS]; B];
    let mut ga = [_mm_setzero_si128(); B];
    for b in 0..B {
        // SAFETY: block `b < B <= 3` spans words `HEAD_WORDS + 32b .. HEAD_WORDS + 32b + 32` of
        // the 104-word row, and its directions are word `1 + b`; unaligned loads inside `row`.
        unsafe {
            let base = row.as_ptr().add(HEAD_WORDS + b * CODE_WORDS * 8) as *const __m512i;
            for (w, reg) in g[b].iter_mut().enumerate() {
                *reg = _mm512_loadu_si512(base.add(w));
            }
            ga[b] = _mm_loadl_epi64(row.as_ptr().add(1 + b) as *const __m128i);
        }
    }
    let twice = _mm_set1_epi8((2 * ANGLE_WINDOW) as i8);
    let mut best = [_mm512_set1_epi64(i64::MAX); B];
    for p in probes {
        for b in 0..B {
            let d01 = _mm512_add_epi64(
                _mm512_popcnt_epi64(_mm512_xor_si512(g[b][0], p.words[0])),
                _mm512_popcnt_epi64(_mm512_xor_si512(g[b][1], p.words[1])),
            );
            let d23 = _mm512_add_epi64(
                _mm512_popcnt_epi64(_mm512_xor_si512(g[b][2], p.words[2])),
                _mm512_popcnt_epi64(_mm512_xor_si512(g[b][3], p.words[3])),
            );
            // (ga - pa + window) mod 256 <= 2 window, byte-wise: the compatible lanes.
            let diff = _mm_add_epi8(ga[b], p.window_minus_angle);
            let ok = _mm_cmple_epu8_mask(diff, twice) as u8;
            best[b] = _mm512_mask_min_epu64(best[b], ok, best[b], _mm512_add_epi64(d01, d23));
        }
    }
    let radius = _mm512_set1_epi64(i64::from(RADIUS));
    let mut sum = _mm512_setzero_si512();
    for (b, v) in best.iter().enumerate() {
        let valid = n.saturating_sub(b * 8).min(8);
        let lanes = ((1u32 << valid) - 1) as u8;
        let inside = _mm512_sub_epi64(radius, _mm512_min_epu64(*v, radius));
        sum = _mm512_mask_add_epi64(sum, lanes, sum, inside);
    }
    _mm512_reduce_add_epi64(sum) as u16
}
