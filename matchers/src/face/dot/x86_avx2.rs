//! AVX2 i8 block kernel.
//!
//! AVX2 has no exact 8-bit multiply-add (`vpmaddubsw` saturates its i16 pair sums), so bytes are
//! sign-extended to i16 (`vpmovsxbw`, fused with the load) and multiplied with `vpmaddwd`, whose
//! i16 x i16 pair sums always fit in i32. Register tile: 2 probes x 4 rows = 8 ymm accumulators
//! plus 4 gallery and 1 probe register per 16-element step, within the 16 ymm registers. The
//! dimension tail (< 16 elements) is summed in scalar code.

use crate::face::block::Block;
use std::arch::x86_64::*;

/// Probes per register tile.
const PT: usize = 2;
/// Gallery rows per register tile.
const RT: usize = 4;

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
///
/// # Safety
/// The CPU must support AVX2, and `b` must satisfy the [`Block`] contract for these slices.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    let mut i = 0;
    while i < b.probes {
        let tile = PT.min(b.probes - i);
        // SAFETY: same CPU features; the contract covers probes i..i + tile < b.probes.
        unsafe {
            match tile {
                2 => rows::<2>(b, i, probes, gallery, out),
                _ => rows::<1>(b, i, probes, gallery, out),
            }
        }
        i += tile;
    }
}

/// All rows of the block against probes `first..first + P`.
///
/// # Safety
/// As [`batch_dot_i8`], with `first + P <= b.probes`.
#[target_feature(enable = "avx2")]
unsafe fn rows<const P: usize>(
    b: Block,
    first: usize,
    probes: &[i8],
    gallery: &[i8],
    out: &mut [i32],
) {
    let probe: [&[i8]; P] =
        std::array::from_fn(|p| &probes[(first + p) * b.len..(first + p + 1) * b.len]);
    let row = |j: usize| &gallery[j * b.stride..j * b.stride + b.len];
    let mut j = 0;
    while j + RT <= b.rows {
        let rows: [&[i8]; RT] = std::array::from_fn(|r| row(j + r));
        // SAFETY: same CPU features; every slice has exactly b.len elements.
        let sums = unsafe { tile::<P, RT>(probe, rows, b.len) };
        store(b, first, j, &sums, out);
        j += RT;
    }
    while j < b.rows {
        // SAFETY: as above.
        let sums = unsafe { tile::<P, 1>(probe, [row(j)], b.len) };
        store(b, first, j, &sums, out);
        j += 1;
    }
}

/// Writes a tile's sums to the score matrix.
#[inline(always)]
fn store<const P: usize, const R: usize>(
    b: Block,
    first: usize,
    j: usize,
    sums: &[[i32; R]; P],
    out: &mut [i32],
) {
    for (p, row) in sums.iter().enumerate() {
        let base = (first + p) * b.out_stride + j;
        out[base..base + R].copy_from_slice(row);
    }
}

/// Sum of the eight i32 lanes.
#[target_feature(enable = "avx2")]
fn hsum(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// Exact dot products for a P x R tile.
///
/// # Safety
/// AVX2; every slice has `len` elements.
#[target_feature(enable = "avx2")]
unsafe fn tile<const P: usize, const R: usize>(
    probe: [&[i8]; P],
    rows: [&[i8]; R],
    len: usize,
) -> [[i32; R]; P] {
    let mut acc = [[_mm256_setzero_si256(); R]; P];
    let mut off = 0;
    while off + 16 <= len {
        // SAFETY: off + 16 <= len, so each 16-byte load is inside its slice.
        unsafe {
            let load = |s: &[i8]| _mm256_cvtepi8_epi16(_mm_loadu_si128(s.as_ptr().add(off).cast()));
            let g: [__m256i; R] = std::array::from_fn(|r| load(rows[r]));
            for p in 0..P {
                let pv = load(probe[p]);
                for r in 0..R {
                    acc[p][r] = _mm256_add_epi32(acc[p][r], _mm256_madd_epi16(g[r], pv));
                }
            }
        }
        off += 16;
    }
    std::array::from_fn(|p| {
        std::array::from_fn(|r| {
            let tail = probe[p][off..]
                .iter()
                .zip(&rows[r][off..])
                .fold(0i32, |s, (&x, &y)| {
                    s.wrapping_add(i32::from(x) * i32::from(y))
                });
            hsum(acc[p][r]).wrapping_add(tail)
        })
    })
}
