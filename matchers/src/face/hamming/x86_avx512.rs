//! AVX-512 VPOPCNTDQ binary Hamming block kernel.
//!
//! `vpopcntq` counts the bits of eight 64-bit words per instruction. Register tile: 4 probes x 4
//! rows = 16 zmm accumulators of u64 counts, 4 gallery and 1 probe register per 64-byte step.
//! Tails use masked loads (masked-out bytes are zero on both sides, so their xor counts nothing).

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
    let probe: [&[u8]; P] =
        std::array::from_fn(|p| &probes[(first + p) * b.len..(first + p + 1) * b.len]);
    let row = |j: usize| &gallery[j * b.stride..j * b.stride + b.len];
    let mut j = 0;
    while j + RT <= b.rows {
        let rows: [&[u8]; RT] = std::array::from_fn(|r| row(j + r));
        // SAFETY: same CPU features; every slice has exactly b.len bytes.
        let d = unsafe { tile::<P, RT>(probe, rows, b.len) };
        store(b, first, j, &d, out);
        j += RT;
    }
    while j < b.rows {
        // SAFETY: as above.
        let d = unsafe { tile::<P, 1>(probe, [row(j)], b.len) };
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
/// AVX-512 F/BW/VPOPCNTDQ; every slice has `len` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
unsafe fn tile<const P: usize, const R: usize>(
    probe: [&[u8]; P],
    rows: [&[u8]; R],
    len: usize,
) -> [[u32; R]; P] {
    let mut acc = [[_mm512_setzero_si512(); R]; P];
    let mut step = |mask: __mmask64, off: usize| {
        // SAFETY: the mask selects only bytes below `len - off`, all inside each slice, and
        // masked-out lanes are neither read nor faulted on.
        unsafe {
            let g: [__m512i; R] = std::array::from_fn(|r| {
                _mm512_maskz_loadu_epi8(mask, rows[r].as_ptr().add(off).cast())
            });
            for p in 0..P {
                let pv = _mm512_maskz_loadu_epi8(mask, probe[p].as_ptr().add(off).cast());
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
    std::array::from_fn(|p| std::array::from_fn(|r| _mm512_reduce_add_epi64(acc[p][r]) as u32))
}
