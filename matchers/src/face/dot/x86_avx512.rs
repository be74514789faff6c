//! AVX-512 VNNI i8 block kernel.
//!
//! `vpdpbusd` multiplies *unsigned* bytes by *signed* bytes and adds groups of four products into
//! i32 lanes. A signed x signed product needs one side made unsigned by xor 0x80 (`x + 128`),
//! which adds `128 * sum(other side)` to every lane; that sum is subtracted at the end. All
//! arithmetic is modulo 2^32, so the result equals the reference bit for bit. Two ways to do it,
//! picked per call:
//! - **8 probes or more**: the probes are flipped once into a scratch copy and each gallery row's
//!   byte sum is computed once per block (one `vpdpbusd` against ones per 64 bytes), so the inner
//!   loop is nothing but loads and multiply-adds.
//! - **fewer probes** (a single-probe scan): the row sums would cost as much as the products, so
//!   each gallery chunk is flipped in the inner loop instead and the probes' sums are subtracted.
//!
//! Register tile: 4 probes x 4 rows = 16 zmm accumulators, 4 gallery and 1 probe register per
//! 64-byte step, so each gallery chunk loaded feeds 4 probes and each probe chunk 4 rows. A full
//! tile's 16 accumulators are reduced together by a shuffle tree (45 ops for 16 sums rather than
//! 16 separate horizontal reductions); narrower 4-row tiles share its first two stages. Dimension tails use masked loads, whose masked-out lanes
//! are zero and never touch memory.
//!
//! With few probes a scan is bound by memory bandwidth, so the next row tile is prefetched while
//! the current one is multiplied (measured ~1.5x on a one-probe scan from DRAM).
//!
//! Only plain loops run inside the `target_feature` functions: a closure there inherits the
//! features and cannot be inlined into a generic std helper (`array::from_fn`, iterator
//! adapters), which turned every vector load into a function call.

use crate::face::block::Block;
use std::arch::x86_64::*;

/// Probes per register tile.
const PT: usize = 4;
/// Gallery rows per register tile.
const RT: usize = 4;
/// From this many probes on, the probes are flipped and the rows' sums precomputed.
const FLIP_PROBES_FROM: usize = 8;

/// How the unsigned offset is corrected.
#[derive(Clone, Copy)]
enum Corr<'a> {
    /// Probes flipped: subtract `128 * sum(row j)`, indexed by row within the block.
    Rows(&'a [i32]),
    /// Gallery flipped in the loop: subtract `128 * sum(probe i)`, indexed by probe.
    Probes(&'a [i32]),
}

/// Writes `out[i * out_stride + j] = <probe_i, row_j>` for the rows of `b`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW and VNNI, and `b` must satisfy the [`Block`] contract for
/// these slices.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn batch_dot_i8(b: Block, probes: &[i8], gallery: &[i8], out: &mut [i32]) {
    let probes = &probes[..b.probes * b.len];
    if b.probes >= FLIP_PROBES_FROM {
        let mut flipped = vec![0i8; probes.len()];
        for (f, &x) in flipped.iter_mut().zip(probes) {
            *f = x ^ i8::MIN;
        }
        let mut corr = vec![0i32; b.rows];
        for (j, c) in corr.iter_mut().enumerate() {
            // SAFETY: same CPU features; row j < b.rows holds b.len bytes (contract).
            let sum = unsafe { byte_sum(gallery[j * b.stride..].as_ptr(), b.len) };
            *c = sum.wrapping_mul(128);
        }
        // SAFETY: same CPU features and contract; `flipped` has the probes' shape.
        unsafe { probe_tiles::<false>(b, &flipped, gallery, Corr::Rows(&corr), out) };
    } else {
        let mut corr = vec![0i32; b.probes];
        for (i, c) in corr.iter_mut().enumerate() {
            // SAFETY: same CPU features; probe i < b.probes holds b.len bytes.
            let sum = unsafe { byte_sum(probes[i * b.len..].as_ptr(), b.len) };
            *c = sum.wrapping_mul(128);
        }
        // SAFETY: same CPU features and contract.
        unsafe { probe_tiles::<true>(b, probes, gallery, Corr::Probes(&corr), out) };
    }
}

/// Sum of the `len` signed bytes at `ptr`.
///
/// # Safety
/// AVX-512 F/BW/VNNI; `ptr` must be valid for reads of `len` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn byte_sum(ptr: *const i8, len: usize) -> i32 {
    let ones = _mm512_set1_epi8(1);
    let mut acc = _mm512_setzero_si512();
    let mut off = 0;
    while off < len {
        let mask: __mmask64 = if len - off >= 64 {
            u64::MAX
        } else {
            (1u64 << (len - off)) - 1
        };
        // SAFETY: the mask selects only bytes below `len`; masked-out lanes are not read.
        let v = unsafe { _mm512_maskz_loadu_epi8(mask, ptr.add(off)) };
        acc = _mm512_dpbusd_epi32(acc, ones, v);
        off += 64;
    }
    _mm512_reduce_add_epi32(acc)
}

/// Every probe tile against every row of the block. `FLIP_ROWS`: the gallery is flipped in the
/// loop and `probes` are the caller's; otherwise `probes` are already flipped.
///
/// # Safety
/// As [`batch_dot_i8`]; `probes` holds `b.probes * b.len` bytes and `corr` covers the rows
/// (`Corr::Rows`) or the probes (`Corr::Probes`).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn probe_tiles<const FLIP_ROWS: bool>(
    b: Block,
    probes: &[i8],
    gallery: &[i8],
    corr: Corr,
    out: &mut [i32],
) {
    let mut i = 0;
    while i < b.probes {
        let tile = PT.min(b.probes - i);
        // SAFETY: same CPU features; probes i..i + tile < b.probes.
        unsafe {
            match tile {
                4 => rows::<4, FLIP_ROWS>(b, i, probes, gallery, corr, out),
                3 => rows::<3, FLIP_ROWS>(b, i, probes, gallery, corr, out),
                2 => rows::<2, FLIP_ROWS>(b, i, probes, gallery, corr, out),
                _ => rows::<1, FLIP_ROWS>(b, i, probes, gallery, corr, out),
            }
        }
        i += tile;
    }
}

/// All rows of the block against probes `first..first + P`.
///
/// # Safety
/// As [`probe_tiles`], with `first + P <= b.probes`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn rows<const P: usize, const FLIP_ROWS: bool>(
    b: Block,
    first: usize,
    probes: &[i8],
    gallery: &[i8],
    corr: Corr,
    out: &mut [i32],
) {
    let mut probe = [std::ptr::null::<i8>(); P];
    for (p, ptr) in probe.iter_mut().enumerate() {
        *ptr = probes[(first + p) * b.len..(first + p + 1) * b.len].as_ptr();
    }
    let mut j = 0;
    while j + RT <= b.rows {
        let mut rows = [std::ptr::null::<i8>(); RT];
        for (r, ptr) in rows.iter_mut().enumerate() {
            *ptr = gallery[(j + r) * b.stride..(j + r) * b.stride + b.len].as_ptr();
        }
        if FLIP_ROWS && j + 2 * RT <= b.rows {
            // Few probes: the scan is bound by memory, so fetch the next tile's rows ahead.
            // The last row may lack its padding: stop at the end of the slice.
            let end = ((j + 2 * RT) * b.stride).min(gallery.len());
            let next = &gallery[(j + RT) * b.stride..end];
            let mut off = 0;
            while off < next.len() {
                // SAFETY: `off < next.len()`, so the address is inside `next` (and a prefetch
                // never faults anyway).
                unsafe { _mm_prefetch::<_MM_HINT_T0>(next.as_ptr().add(off)) };
                off += 64;
            }
        }
        // SAFETY: rows j..j + RT < b.rows and probes first..first + P are in bounds (contract).
        let sums = unsafe { tile::<P, RT, FLIP_ROWS>(&probe, &rows, b.len) };
        store(b, first, j, &sums, corr, out);
        j += RT;
    }
    while j < b.rows {
        let row = [gallery[j * b.stride..j * b.stride + b.len].as_ptr()];
        // SAFETY: as above, for the single row j < b.rows.
        let sums = unsafe { tile::<P, 1, FLIP_ROWS>(&probe, &row, b.len) };
        store(b, first, j, &sums, corr, out);
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
    corr: Corr,
    out: &mut [i32],
) {
    for p in 0..P {
        let base = (first + p) * b.out_stride + j;
        for r in 0..R {
            let c = match corr {
                Corr::Rows(c) => c[j + r],
                Corr::Probes(c) => c[first + p],
            };
            out[base + r] = sums[p][r].wrapping_sub(c);
        }
    }
}

/// Raw unsigned-by-signed sums for a P x R tile (offset still included).
///
/// # Safety
/// AVX-512 F/BW/VNNI; each pointer must be valid for reads of `len` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile<const P: usize, const R: usize, const FLIP_ROWS: bool>(
    probe: &[*const i8; P],
    rows: &[*const i8; R],
    len: usize,
) -> [[i32; R]; P] {
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut acc = [[_mm512_setzero_si512(); R]; P];
    let mut step = |mask: __mmask64, off: usize| {
        let mut g = [_mm512_setzero_si512(); R];
        // SAFETY: the mask selects only bytes below `len` in each row and probe; masked-out
        // lanes are zero and not read.
        unsafe {
            for r in 0..R {
                g[r] = _mm512_maskz_loadu_epi8(mask, rows[r].add(off));
                if FLIP_ROWS {
                    g[r] = _mm512_xor_si512(g[r], flip);
                }
            }
            for p in 0..P {
                let pv = _mm512_maskz_loadu_epi8(mask, probe[p].add(off));
                for r in 0..R {
                    // Masked-out lanes: a zero probe byte (FLIP_ROWS) or a zero row byte
                    // (flipped probes) makes each such product zero.
                    acc[p][r] = if FLIP_ROWS {
                        _mm512_dpbusd_epi32(acc[p][r], g[r], pv)
                    } else {
                        _mm512_dpbusd_epi32(acc[p][r], pv, g[r])
                    };
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
    let mut sums = [[0i32; R]; P];
    if R == 4 {
        let mut z = [_mm512_setzero_si512(); P];
        for p in 0..P {
            z[p] = fold_rows4(acc[p][0], acc[p][1], acc[p][2], acc[p][3]);
        }
        let mut lanes = [0i32; 16];
        if P == 4 {
            // SAFETY: `lanes` is 64 bytes, exactly one unaligned zmm store.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), transpose_sum4(&z)) };
            // Lane 4 * r + p holds the sum of acc[p][r].
            for p in 0..P {
                for r in 0..R {
                    sums[p][r] = lanes[4 * r + p];
                }
            }
        } else {
            for p in 0..P {
                // SAFETY: as above.
                unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), z[p]) };
                for r in 0..R {
                    let l = &lanes[4 * r..4 * r + 4];
                    sums[p][r] = l[0]
                        .wrapping_add(l[1])
                        .wrapping_add(l[2])
                        .wrapping_add(l[3]);
                }
            }
        }
    } else {
        for p in 0..P {
            for r in 0..R {
                sums[p][r] = _mm512_reduce_add_epi32(acc[p][r]);
            }
        }
    }
    sums
}

/// Folds four i32x16 accumulators (one probe, four rows) so that 128-bit lane `r` of the result
/// holds four partial sums whose total is the sum of accumulator `r`: two rounds of 128-bit lane
/// shuffles and adds, 9 ops for 4 rows.
#[target_feature(enable = "avx512f")]
fn fold_rows4(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> __m512i {
    // [a.l0 + a.l2, a.l1 + a.l3, b.l0 + b.l2, b.l1 + b.l3], likewise for c, d.
    let ab = _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b01_00_01_00>(a, b),
        _mm512_shuffle_i32x4::<0b11_10_11_10>(a, b),
    );
    let cd = _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b01_00_01_00>(c, d),
        _mm512_shuffle_i32x4::<0b11_10_11_10>(c, d),
    );
    _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b10_00_10_00>(ab, cd),
        _mm512_shuffle_i32x4::<0b11_01_11_01>(ab, cd),
    )
}

/// Given four folded registers `z[p]` (lane `r` = row `r`'s four partials for probe `p`), returns
/// one vector whose lane `4 * r + p` is the total of probe `p`, row `r`: a 4 x 4 transpose by
/// 32- and 64-bit unpacks, adding as it goes.
#[target_feature(enable = "avx512f")]
fn transpose_sum4<const P: usize>(z: &[__m512i; P]) -> __m512i {
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
