//! AVX2 binary Hamming block kernel (nibble lookup popcount).
//!
//! AVX2 has no vector popcount, so each byte's count is looked up per nibble with `vpshufb` in a
//! 16-entry table, and the byte counts are summed into u64 lanes with `vpsadbw` against zero.
//! Register tile: 2 probes x 4 rows = 8 accumulators. The tail (< 32 bytes) is counted in scalar
//! code. Only plain loops run inside the `target_feature` functions (see `dot/x86_avx512.rs`).

use crate::face::block::Block;
use std::arch::x86_64::*;

/// Probes per register tile.
const PT: usize = 2;
/// Gallery rows per register tile.
const RT: usize = 4;

/// Writes `out[i * out_stride + j] = popcount(probe_i ^ row_j)` for the rows of `b`.
///
/// # Safety
/// The CPU must support AVX2, and `b` must satisfy the [`Block`] contract for these slices.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn batch_hamming(b: Block, probes: &[u8], gallery: &[u8], out: &mut [u32]) {
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
/// As [`batch_hamming`], with `first + P <= b.probes`.
#[target_feature(enable = "avx2")]
unsafe fn rows<const P: usize>(
    b: Block,
    first: usize,
    probes: &[u8],
    gallery: &[u8],
    out: &mut [u32],
) {
    let mut probe: [&[u8]; P] = [&[]; P];
    for (p, slice) in probe.iter_mut().enumerate() {
        *slice = &probes[(first + p) * b.len..(first + p + 1) * b.len];
    }
    let mut j = 0;
    while j + RT <= b.rows {
        let mut rows: [&[u8]; RT] = [&[]; RT];
        for (r, slice) in rows.iter_mut().enumerate() {
            *slice = &gallery[(j + r) * b.stride..(j + r) * b.stride + b.len];
        }
        // SAFETY: same CPU features; every slice has exactly b.len bytes.
        let d = unsafe { tile::<P, RT>(&probe, &rows, b.len) };
        store(b, first, j, &d, out);
        j += RT;
    }
    while j < b.rows {
        let row = [&gallery[j * b.stride..j * b.stride + b.len]];
        // SAFETY: as above.
        let d = unsafe { tile::<P, 1>(&probe, &row, b.len) };
        store(b, first, j, &d, out);
        j += 1;
    }
}

/// Writes a tile's distances to the score matrix.
#[inline(always)]
fn store<const P: usize, const R: usize>(
    b: Block,
    first: usize,
    j: usize,
    d: &[[u32; R]; P],
    out: &mut [u32],
) {
    for (p, row) in d.iter().enumerate() {
        let base = (first + p) * b.out_stride + j;
        out[base..base + R].copy_from_slice(row);
    }
}

/// Distances for a P x R tile.
///
/// # Safety
/// AVX2; every slice has `len` bytes.
#[target_feature(enable = "avx2")]
unsafe fn tile<const P: usize, const R: usize>(
    probe: &[&[u8]; P],
    rows: &[&[u8]; R],
    len: usize,
) -> [[u32; R]; P] {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let popcnt = |v: __m256i| {
        let lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
        let hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16::<4>(v), low));
        _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256())
    };
    let mut acc = [[_mm256_setzero_si256(); R]; P];
    let mut g = [_mm256_setzero_si256(); R];
    let mut off = 0;
    while off + 32 <= len {
        // SAFETY: off + 32 <= len, so each 32-byte load is inside its slice.
        unsafe {
            for r in 0..R {
                g[r] = _mm256_loadu_si256(rows[r].as_ptr().add(off).cast());
            }
            for p in 0..P {
                let pv = _mm256_loadu_si256(probe[p].as_ptr().add(off).cast());
                for r in 0..R {
                    acc[p][r] = _mm256_add_epi64(acc[p][r], popcnt(_mm256_xor_si256(g[r], pv)));
                }
            }
        }
        off += 32;
    }
    let mut d = [[0u32; R]; P];
    for p in 0..P {
        for r in 0..R {
            let v = acc[p][r];
            let s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            let s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
            let mut tail = 0u32;
            for k in off..len {
                tail += (probe[p][k] ^ rows[r][k]).count_ones();
            }
            d[p][r] = (_mm_cvtsi128_si64(s) as u32) + tail;
        }
    }
    d
}
