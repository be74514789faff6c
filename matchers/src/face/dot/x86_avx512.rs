//! AVX-512 VNNI i8 block kernel.
//!
//! `vpdpbusd` multiplies *unsigned* bytes by *signed* bytes and adds groups of four products into
//! i32 lanes. To get a signed x signed product, each gallery byte is flipped to unsigned by
//! xor 0x80 (`g + 128`), so a lane accumulates `<probe, row> + 128 * sum(probe)`; the probe sum
//! is computed once per probe tile and subtracted at the end. All arithmetic is modulo 2^32, so
//! the result equals the reference bit for bit.
//!
//! Register tile: 4 probes x 4 rows = 16 zmm accumulators, 4 gallery and 1 probe register per
//! 64-byte step, so each gallery chunk loaded from cache feeds 4 probes and each probe chunk 4
//! rows. The 16 accumulators of a full tile are reduced together by a shuffle tree (45 ops for
//! 16 sums rather than 16 separate horizontal reductions). Dimension tails use masked loads,
//! whose masked-out lanes are zero and never touch memory.

use crate::face::block::Block;
use std::arch::x86_64::*;

/// Probes per register tile.
const PT: usize = 4;
/// Gallery rows per register tile.
const RT: usize = 4;

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW and VNNI, and `b` must satisfy the [`Block`] contract for
/// these slices.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    let mut i = 0;
    while i < b.probes {
        let tile = PT.min(b.probes - i);
        // SAFETY: same CPU features as this function; the Block contract covers probes
        // i..i + tile, which are < b.probes.
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
/// As [`batch_dot_i8`], with `first + P <= b.probes`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn rows<const P: usize>(
    b: Block,
    first: usize,
    probes: &[i8],
    gallery: &[i8],
    out: &mut [i32],
) {
    debug_assert!(first + P <= b.probes && probes.len() >= b.probes * b.len);
    let probe: [*const i8; P] = std::array::from_fn(|p| probes[(first + p) * b.len..].as_ptr());
    let corr: [i32; P] = std::array::from_fn(|p| {
        let sum = probes[(first + p) * b.len..(first + p + 1) * b.len]
            .iter()
            .map(|&x| i32::from(x))
            .sum::<i32>();
        sum.wrapping_mul(128)
    });
    let row = |j: usize| gallery[j * b.stride..].as_ptr();
    let mut j = 0;
    while j + RT <= b.rows {
        let rows: [*const i8; RT] = std::array::from_fn(|r| row(j + r));
        // SAFETY: rows j..j + RT < b.rows and probes first..first + P are in bounds (contract).
        let sums = unsafe { tile::<P, RT>(probe, rows, b.len) };
        store(b, first, j, &sums, &corr, out);
        j += RT;
    }
    while j < b.rows {
        // SAFETY: as above, for the single row j < b.rows.
        let sums = unsafe { tile::<P, 1>(probe, [row(j)], b.len) };
        store(b, first, j, &sums, &corr, out);
        j += 1;
    }
}

/// Writes a tile's sums minus the unsigned-offset correction.
#[inline(always)]
fn store<const P: usize, const R: usize>(
    b: Block,
    first: usize,
    j: usize,
    sums: &[[i32; R]; P],
    corr: &[i32; P],
    out: &mut [i32],
) {
    for p in 0..P {
        let base = (first + p) * b.out_stride + j;
        for r in 0..R {
            out[base + r] = sums[p][r].wrapping_sub(corr[p]);
        }
    }
}

/// Raw sums `<probe_p, row_r> + 128 * sum(probe_p)` for a P x R tile.
///
/// # Safety
/// AVX-512 F/BW/VNNI; each pointer must be valid for reads of `len` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile<const P: usize, const R: usize>(
    probe: [*const i8; P],
    rows: [*const i8; R],
    len: usize,
) -> [[i32; R]; P] {
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut acc = [[_mm512_setzero_si512(); R]; P];
    let mut off = 0;
    while off + 64 <= len {
        // SAFETY: off + 64 <= len, so every 64-byte load is inside its row or probe.
        unsafe {
            let g: [__m512i; R] = std::array::from_fn(|r| {
                _mm512_xor_si512(_mm512_loadu_si512(rows[r].add(off).cast()), flip)
            });
            for p in 0..P {
                let pv = _mm512_loadu_si512(probe[p].add(off).cast());
                for r in 0..R {
                    acc[p][r] = _mm512_dpbusd_epi32(acc[p][r], g[r], pv);
                }
            }
        }
        off += 64;
    }
    if off < len {
        let mask: __mmask64 = (1u64 << (len - off)) - 1;
        // SAFETY: masked loads read only the len - off bytes left in each row and probe; the
        // masked-out lanes are zero (0 ^ 0x80 = 128 times a zero probe byte adds nothing).
        unsafe {
            let g: [__m512i; R] = std::array::from_fn(|r| {
                _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, rows[r].add(off)), flip)
            });
            for p in 0..P {
                let pv = _mm512_maskz_loadu_epi8(mask, probe[p].add(off));
                for r in 0..R {
                    acc[p][r] = _mm512_dpbusd_epi32(acc[p][r], g[r], pv);
                }
            }
        }
    }
    if P == 4 && R == 4 {
        let v = reduce_4x4(&acc);
        let mut lanes = [0i32; 16];
        // SAFETY: `lanes` is 64 bytes, exactly one unaligned zmm store.
        unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), v) };
        // Lane 4 * r + p holds the sum of acc[p][r].
        std::array::from_fn(|p| std::array::from_fn(|r| lanes[4 * r + p]))
    } else {
        std::array::from_fn(|p| std::array::from_fn(|r| _mm512_reduce_add_epi32(acc[p][r])))
    }
}

/// Horizontal sums of 16 accumulators `acc[p][r]` (P = R = 4) into one vector whose lane
/// `4 * r + p` is the sum of `acc[p][r]`'s 16 lanes.
///
/// Stage 1 folds the upper half of each 128-bit-lane pair of two rows into one register, stage 2
/// leaves each 128-bit lane holding one row's four partial sums, stage 3 transposes four such
/// registers (one per probe) with 32- and 64-bit unpacks.
#[target_feature(enable = "avx512f")]
fn reduce_4x4<const P: usize, const R: usize>(acc: &[[__m512i; R]; P]) -> __m512i {
    let z: [__m512i; 4] = std::array::from_fn(|p| {
        // [a.l0, a.l1, b.l0, b.l1] + [a.l2, a.l3, b.l2, b.l3]
        let fold = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(
                _mm512_shuffle_i32x4::<0b01_00_01_00>(a, b),
                _mm512_shuffle_i32x4::<0b11_10_11_10>(a, b),
            )
        };
        let s01 = fold(acc[p][0], acc[p][1]);
        let s23 = fold(acc[p][2], acc[p][3]);
        // Lane r = row r's four partial sums.
        _mm512_add_epi32(
            _mm512_shuffle_i32x4::<0b10_00_10_00>(s01, s23),
            _mm512_shuffle_i32x4::<0b11_01_11_01>(s01, s23),
        )
    });
    let u0 = _mm512_add_epi32(
        _mm512_unpacklo_epi32(z[0], z[1]),
        _mm512_unpackhi_epi32(z[0], z[1]),
    );
    let u1 = _mm512_add_epi32(
        _mm512_unpacklo_epi32(z[2], z[3]),
        _mm512_unpackhi_epi32(z[2], z[3]),
    );
    _mm512_add_epi32(_mm512_unpacklo_epi64(u0, u1), _mm512_unpackhi_epi64(u0, u1))
}
