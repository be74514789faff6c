//! AVX2 i8 block kernel.
//!
//! AVX2 has no exact 8-bit multiply-add (`vpmaddubsw` saturates its i16 pair sums), so products
//! go through `vpmaddwd` (i16 x i16 pairs summed into i32, always exact). Sign-extending gallery
//! bytes with `vpmovsxbw` costs a cross-lane shuffle per 16 bytes; instead each 32-byte gallery
//! chunk, read as 16 i16 words, yields its even bytes (`(w << 8) >> 8`) and odd bytes (`w >> 8`)
//! with three shifts and no shuffle. The probes are rearranged once per call to match: per
//! 32-byte chunk, 16 even bytes then 16 odd bytes, widened to i16. Register tile: 2 probes x 4
//! rows = 8 ymm accumulators. The dimension tail (< 32 elements) is summed in scalar code. Only
//! plain loops run inside the `target_feature` functions (see `x86_avx512.rs` for why).

use crate::face::block::Block;
use std::arch::x86_64::*;

/// Probes per register tile.
const PT: usize = 2;
/// Gallery rows per register tile.
const RT: usize = 4;
/// Bytes per step.
const STEP: usize = 32;

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
///
/// # Safety
/// The CPU must support AVX2, and `b` must satisfy the [`Block`] contract for these slices.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    let wide = widen_probes(b, probes);
    let mut i = 0;
    while i < b.probes {
        let tile = PT.min(b.probes - i);
        // SAFETY: same CPU features; the contract covers probes i..i + tile < b.probes, and
        // `wide` holds every probe's widened chunks.
        unsafe {
            match tile {
                2 => rows::<2>(b, i, probes, &wide, gallery, out),
                _ => rows::<1>(b, i, probes, &wide, gallery, out),
            }
        }
        i += tile;
    }
}

/// Each probe's whole 32-byte chunks as i16: per chunk, the 16 even-indexed bytes, then the 16
/// odd-indexed ones.
fn widen_probes(b: Block, probes: &[i8]) -> Vec<i16> {
    let chunks = b.len / STEP;
    let mut wide = vec![0i16; b.probes * chunks * STEP];
    for i in 0..b.probes {
        for c in 0..chunks {
            let src = &probes[i * b.len + c * STEP..i * b.len + (c + 1) * STEP];
            let dst = &mut wide[(i * chunks + c) * STEP..(i * chunks + c + 1) * STEP];
            for k in 0..STEP / 2 {
                dst[k] = i16::from(src[2 * k]);
                dst[STEP / 2 + k] = i16::from(src[2 * k + 1]);
            }
        }
    }
    wide
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
    wide: &[i16],
    gallery: &[i8],
    out: &mut [i32],
) {
    let chunks = b.len / STEP;
    let mut probe: [&[i8]; P] = [&[]; P];
    let mut pw: [&[i16]; P] = [&[]; P];
    for p in 0..P {
        probe[p] = &probes[(first + p) * b.len..(first + p + 1) * b.len];
        pw[p] = &wide[(first + p) * chunks * STEP..(first + p + 1) * chunks * STEP];
    }
    let mut j = 0;
    while j + RT <= b.rows {
        let mut rows: [&[i8]; RT] = [&[]; RT];
        for (r, slice) in rows.iter_mut().enumerate() {
            *slice = &gallery[(j + r) * b.stride..(j + r) * b.stride + b.len];
        }
        // SAFETY: same CPU features; every slice has the lengths `tile` expects.
        let sums = unsafe { tile::<P, RT>(&probe, &pw, &rows, b.len) };
        store(b, first, j, &sums, out);
        j += RT;
    }
    while j < b.rows {
        let row = [&gallery[j * b.stride..j * b.stride + b.len]];
        // SAFETY: as above.
        let sums = unsafe { tile::<P, 1>(&probe, &pw, &row, b.len) };
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
/// AVX2; probe and row slices have `len` elements, widened probes `len / 32 * 32`.
#[target_feature(enable = "avx2")]
unsafe fn tile<const P: usize, const R: usize>(
    probe: &[&[i8]; P],
    pw: &[&[i16]; P],
    rows: &[&[i8]; R],
    len: usize,
) -> [[i32; R]; P] {
    let mut acc = [[_mm256_setzero_si256(); R]; P];
    let mut off = 0;
    while off + STEP <= len {
        // SAFETY: off + 32 <= len, so each row load is inside its slice, and each widened probe
        // holds 32 i16 for this chunk at index `off`.
        unsafe {
            let mut pe = [_mm256_setzero_si256(); P];
            let mut po = [_mm256_setzero_si256(); P];
            for p in 0..P {
                pe[p] = _mm256_loadu_si256(pw[p].as_ptr().add(off).cast());
                po[p] = _mm256_loadu_si256(pw[p].as_ptr().add(off + STEP / 2).cast());
            }
            for r in 0..R {
                let w = _mm256_loadu_si256(rows[r].as_ptr().add(off).cast());
                let even = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(w));
                let odd = _mm256_srai_epi16::<8>(w);
                for p in 0..P {
                    let s = _mm256_add_epi32(
                        _mm256_madd_epi16(even, pe[p]),
                        _mm256_madd_epi16(odd, po[p]),
                    );
                    acc[p][r] = _mm256_add_epi32(acc[p][r], s);
                }
            }
        }
        off += STEP;
    }
    let mut sums = [[0i32; R]; P];
    for p in 0..P {
        for r in 0..R {
            let mut tail = 0i32;
            for k in off..len {
                tail = tail.wrapping_add(i32::from(probe[p][k]) * i32::from(rows[r][k]));
            }
            sums[p][r] = hsum(acc[p][r]).wrapping_add(tail);
        }
    }
    sums
}
