//! AVX-512 VPOPCNTDQ binary Hamming block kernel.
//!
//! `vpopcntq` counts the bits of eight 64-bit words per instruction. Register tile: 4 probes x 4
//! rows = 16 zmm accumulators of u64 counts, 4 gallery and 1 probe register per 64-byte step.
//! Tails use masked loads (masked-out bytes are zero on both sides, so their xor counts nothing).
//!
//! For 64-byte codes (512-d sign bits) a pair is a single xor + popcount, so the horizontal sums
//! dominate: the four accumulators of one probe's row tile are folded together with 128-bit lane
//! shuffles (9 vector ops for 4 rows) before the last scalar adds, rather than reduced one by one.
//! Only plain loops run inside the `target_feature` functions (see `dot/x86_avx512.rs`).

use crate::face::block::Block;
use std::arch::x86_64::*;

/// Probes per register tile.
const PT: usize = 4;
/// Gallery rows per register tile.
const RT: usize = 4;

/// Writes `out[i * out_stride + j] = popcount(probe_i ^ row_j)` for the rows of `b`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW and VPOPCNTDQ, and `b` must satisfy the [`Block`] contract
/// for these slices.
#[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
pub(crate) unsafe fn batch_hamming(b: Block, probes: &[u8], gallery: &[u8], out: &mut [u32]) {
    let mut i = 0;
    while i < b.probes {
        let tile = PT.min(b.probes - i);
        // SAFETY: same CPU features; the contract covers probes i..i + tile < b.probes.
        unsafe {
            match tile {
                4 => rows::<4>(b, i, probes, gallery, out),
                3 => rows::<3>(b, i, probes, gallery, out),
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
#[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
unsafe fn rows<const P: usize>(
    b: Block,
    first: usize,
    probes: &[u8],
    gallery: &[u8],
    out: &mut [u32],
) {
    let mut probe = [std::ptr::null::<u8>(); P];
    for (p, ptr) in probe.iter_mut().enumerate() {
        *ptr = probes[(first + p) * b.len..(first + p + 1) * b.len].as_ptr();
    }
    let mut j = 0;
    while j + RT <= b.rows {
        let mut rows = [std::ptr::null::<u8>(); RT];
        for (r, ptr) in rows.iter_mut().enumerate() {
            *ptr = gallery[(j + r) * b.stride..(j + r) * b.stride + b.len].as_ptr();
        }
        // SAFETY: same CPU features; every pointer covers b.len bytes (contract).
        let d = unsafe { tile::<P, RT>(&probe, &rows, b.len) };
        store(b, first, j, &d, out);
        j += RT;
    }
    while j < b.rows {
        let row = [gallery[j * b.stride..j * b.stride + b.len].as_ptr()];
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
/// AVX-512 F/BW/VPOPCNTDQ; every pointer must be valid for reads of `len` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
unsafe fn tile<const P: usize, const R: usize>(
    probe: &[*const u8; P],
    rows: &[*const u8; R],
    len: usize,
) -> [[u32; R]; P] {
    let mut acc = [[_mm512_setzero_si512(); R]; P];
    let mut step = |mask: __mmask64, off: usize| {
        let mut g = [_mm512_setzero_si512(); R];
        // SAFETY: the mask selects only bytes below `len` in each row and probe; masked-out
        // lanes are zero and not read.
        unsafe {
            for r in 0..R {
                g[r] = _mm512_maskz_loadu_epi8(mask, rows[r].add(off).cast());
            }
            for p in 0..P {
                let pv = _mm512_maskz_loadu_epi8(mask, probe[p].add(off).cast());
                for r in 0..R {
                    acc[p][r] = _mm512_add_epi64(
                        acc[p][r],
                        _mm512_popcnt_epi64(_mm512_xor_si512(g[r], pv)),
                    );
                }
            }
        }
    };
    let mut off = 0;
    while off + 64 <= len {
        step(u64::MAX, off);
        off += 64;
    }
    if off < len {
        step((1u64 << (len - off)) - 1, off);
    }
    let mut d = [[0u32; R]; P];
    for p in 0..P {
        if R == 4 {
            let z = fold_rows4(acc[p][0], acc[p][1], acc[p][2], acc[p][3]);
            let mut lanes = [0u64; 8];
            // SAFETY: `lanes` is 64 bytes, exactly one unaligned zmm store.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), z) };
            for r in 0..R {
                // Counts of at most len * 8 bits: the truncation is exact for any real code.
                d[p][r] = (lanes[2 * r] + lanes[2 * r + 1]) as u32;
            }
        } else {
            for r in 0..R {
                d[p][r] = _mm512_reduce_add_epi64(acc[p][r]) as u32;
            }
        }
    }
    d
}

/// Folds four u64x8 accumulators so that 128-bit lane `r` of the result holds two partial sums
/// whose total is the sum of accumulator `r`.
#[target_feature(enable = "avx512f")]
fn fold_rows4(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> __m512i {
    // [a.l0 + a.l2, a.l1 + a.l3, b.l0 + b.l2, b.l1 + b.l3], likewise for c, d.
    let ab = _mm512_add_epi64(
        _mm512_shuffle_i64x2::<0b01_00_01_00>(a, b),
        _mm512_shuffle_i64x2::<0b11_10_11_10>(a, b),
    );
    let cd = _mm512_add_epi64(
        _mm512_shuffle_i64x2::<0b01_00_01_00>(c, d),
        _mm512_shuffle_i64x2::<0b11_10_11_10>(c, d),
    );
    _mm512_add_epi64(
        _mm512_shuffle_i64x2::<0b10_00_10_00>(ab, cd),
        _mm512_shuffle_i64x2::<0b11_01_11_01>(ab, cd),
    )
}
