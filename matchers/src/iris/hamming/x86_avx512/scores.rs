//! The f32 scores of the AVX-512 scan, from packed counts (`diff | compared << 32` per 64-bit
//! lane, see the parent module): the same correctly rounded operations as
//! [`scan_score`](crate::iris::scan_score), sixteen lanes (two rows of up to eight rotations) at
//! a time, and the minimum per row. The scan holds four row pairs back ([`Batch`]) so that the
//! eight row minima come out of one transposing tree ([`row_minima`]) instead of a horizontal
//! reduction per pair, and the long dependency chain of the scores (square root, division)
//! overlaps the next pairs' counts.

use super::Pair;
use crate::iris::score::TWO_SQRT_REFERENCE;
use std::arch::x86_64::*;

/// The f32 scores of lanes `0..g` of the packed counts of both rows (row a in lanes 0..8, row b
/// in lanes 8..16), with the operations of [`scan_score`](crate::iris::scan_score); the other
/// lanes are +inf.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn scores(v: Pair, g: usize) -> __m512 {
    // Even 32-bit lanes (diff) of row a then row b, and the odd ones (compared).
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let d = _mm512_permutex2var_epi32(v[0], even, v[1]);
    let n = _mm512_permutex2var_epi32(v[0], _mm512_add_epi32(even, _mm512_set1_epi32(1)), v[1]);
    let num = _mm512_cvtepi32_ps(_mm512_sub_epi32(n, _mm512_add_epi32(d, d)));
    let den = _mm512_mul_ps(
        _mm512_sqrt_ps(_mm512_cvtepi32_ps(n)),
        _mm512_set1_ps(TWO_SQRT_REFERENCE),
    );
    let half = _mm512_set1_ps(0.5);
    let s = _mm512_sub_ps(half, _mm512_div_ps(num, den));
    let s = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(n, _mm512_setzero_si512()), s, half);
    let lanes = (1u16 << g) - 1;
    _mm512_mask_blend_ps(lanes | lanes << 8, _mm512_set1_ps(f32::INFINITY), s)
}

/// The minimum scores of both rows (see [`scores`]).
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
pub(super) fn min_scores(v: Pair, g: usize) -> [f32; 2] {
    let s = scores(v, g);
    // Minimum within each 256-bit half: across 64-bit pairs, 32-bit lanes, then 128-bit blocks.
    let s = _mm512_min_ps(s, _mm512_permute_ps::<0b01_00_11_10>(s));
    let s = _mm512_min_ps(s, _mm512_permute_ps::<0b10_11_00_01>(s));
    let s = _mm512_min_ps(s, _mm512_shuffle_f32x4::<0b10_11_00_01>(s, s));
    [
        _mm512_cvtss_f32(s),
        _mm_cvtss_f32(_mm512_extractf32x4_ps::<2>(s)),
    ]
}

/// Row minima of four [`scores`] vectors (8 rows of 8 lanes): lane `2 i + j` of the result is
/// the minimum of row `j` of `s[i]`. A transposing tree: each level halves the lanes per row.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn row_minima(s: [__m512; 4]) -> __m256 {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    // Rows stay in order in the even/odd halves of two concatenated vectors, so the minimum of
    // the even and the odd lanes halves each row's lanes.
    let half = |a: __m512, b: __m512| {
        _mm512_min_ps(
            _mm512_permutex2var_ps(a, even, b),
            _mm512_permutex2var_ps(a, odd, b),
        )
    };
    let t = half(half(s[0], s[1]), half(s[2], s[3]));
    // Two lanes per row left: pair them, then keep the even lanes.
    let t = _mm512_min_ps(t, _mm512_permute_ps::<0b10_11_00_01>(t));
    _mm256_castsi256_ps(_mm512_cvtepi64_epi32(_mm512_castps_si512(t)))
}

/// Row pairs whose last group of counts still has to be turned into scores, up to four, so that
/// their minima come out of one [`row_minima`] tree and the long dependency chain of the scores
/// overlaps the next pairs' counts.
pub(super) struct Batch {
    /// Summed packed counts of the last group, both rows, per pair.
    v: [Pair; 4],
    /// Best scores of the earlier groups (only when the probe has more than one group).
    best: [[f32; 2]; 4],
    /// The pairs' rows (equal for an odd last row).
    rows: [(usize, usize); 4],
    /// Pairs held.
    len: usize,
}

impl Batch {
    /// An empty batch.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) fn new() -> Self {
        Self {
            v: [[_mm512_setzero_si512(); 2]; 4],
            best: [[f32::INFINITY; 2]; 4],
            rows: [(0, 0); 4],
            len: 0,
        }
    }

    /// Adds a pair; when the batch is full, writes it out (see [`Self::finish`]).
    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    pub(super) fn push(
        &mut self,
        v: Pair,
        best: [f32; 2],
        rows: (usize, usize),
        g: usize,
        out: &mut [f32],
    ) {
        self.v[self.len] = v;
        self.best[self.len] = best;
        self.rows[self.len] = rows;
        self.len += 1;
        if self.len == 4 {
            self.finish(g, out);
        }
    }

    /// Writes the held pairs' best scores into `out` (one probe's outputs, indexed by row), `g`
    /// rotations in their last group, and empties the batch.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    pub(super) fn finish(&mut self, g: usize, out: &mut [f32]) {
        if self.len == 0 {
            return;
        }
        let mut s = [_mm512_set1_ps(f32::INFINITY); 4];
        for (si, v) in s.iter_mut().zip(&self.v[..self.len]) {
            *si = scores(*v, g);
        }
        let mut m = [0f32; 8];
        // SAFETY: `m` is 32 writable bytes.
        unsafe { _mm256_storeu_ps(m.as_mut_ptr(), row_minima(s)) };
        for i in 0..self.len {
            let (r, r2) = self.rows[i];
            out[r] = self.best[i][0].min(m[2 * i]);
            if r2 != r {
                out[r2] = self.best[i][1].min(m[2 * i + 1]);
            }
        }
        self.len = 0;
    }
}
