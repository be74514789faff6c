//! AVX-512 with VPOPCNTDQ: 64 bytes of code per instruction, two gallery rows at a time.
//!
//! The work of one (probe rotation, gallery row, 64-byte word) is six instructions:
//! `m = pm & gm`, `x = (pc ^ gc) & m` (one ternary-logic op), two `vpopcntq` and two adds. Zen 4
//! runs about two 512-bit ops per cycle, at most one of them a popcount, so a 2,048-bit comparison
//! costs at least ~12 cycles; the kernels are shaped to add as little as possible:
//! - Two gallery rows share every probe load (halving L1 traffic per comparison).
//! - The scan of short codes (1 to 4 whole words, e.g. Daugman's 2,048 bits) works across
//!   rotations ([`across`]): the probes are first rearranged so that one vector holds the same
//!   64-bit word of up to eight rotations, and each row's word is broadcast to all lanes straight
//!   from memory (no extra instruction), so lane `i` accumulates rotation `i` and no reduction
//!   across lanes is needed at all. With 7 rotations one lane in 8 idles, which costs less than
//!   the packing and reduction tree it replaces: in cache, 34 instead of 40 ns per 2,048-bit row
//!   and 7 rotations on Zen 4 (about 118 cycles for 192 vector instructions in the word loop).
//!   The word loop is unrolled four times.
//! - Single comparisons of short codes ([`counts`]) keep both rows' code and mask in up to 16
//!   registers and stream the probe's rotations past them in straight-line code; long codes
//!   (open-iris's 12,800 bits = 25 words) walk the words with up to four rotations'
//!   accumulators live.
//! - Code sizes known at compile time (64 to 256, and 1,600 bytes) get their own instances, so
//!   every address is a base plus a constant.
//! - The two counts of a rotation are packed into one 64-bit lane (`diff | compared << 32`, one
//!   shuffle); the word-wise kernels sum the lanes of up to eight rotations by one
//!   transpose-and-add tree, yielding all of them in one vector. The f32 scores of both rows of a
//!   pair are evaluated in one 16-lane pass with the same correctly rounded operations as
//!   [`scan_score`](crate::iris::scan_score); the scan holds four pairs back ([`Batch`]) and
//!   takes their eight row minima in one transposing tree (module [`scores`]), so the long
//!   dependency chain of the scores overlaps the next pairs' counts.
//! - Rows ahead are prefetched (short rows: into L1 a row pair at a time; long rows: into L2 a
//!   word at a time inside the word loop, since hardware prefetch alone leaves the long-row scan
//!   from DRAM at a third of its in-cache speed).

mod interleaved;
mod scores;

pub(super) use interleaved::scan_interleaved;

use super::{Counts, GROUP};
use crate::iris::probe::PreparedProbe;
use scores::{min_scores, Batch};
use std::arch::x86_64::*;

/// Gallery bytes per tile (compared with every probe while in L1/L2).
const TILE_BYTES: usize = 32 * 1024;

/// How far ahead (bytes) short rows are prefetched (into L1, a row pair at a time).
const PREFETCH_BYTES: usize = 4096;

/// How far ahead (rows) long rows are prefetched (into L2, a word at a time inside the word loop):
/// without it the word loop's demand misses leave the 12,800-bit scan at a third of its in-cache
/// speed; with it, it runs at about its in-cache speed.
const LONG_PREFETCH_ROWS: usize = 8;

/// The packed counts of one rotation against two rows: `[row a, row b]`, 8 partial lanes each.
type Pair = [__m512i; 2];

/// One word of one rotation against two rows: updates the four accumulators.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
fn word(pc: __m512i, pm: __m512i, g: [__m512i; 4], acc: &mut [__m512i; 4]) {
    let ma = _mm512_and_si512(pm, g[1]);
    let xa = _mm512_ternarylogic_epi64::<0x28>(pc, g[0], ma);
    let mb = _mm512_and_si512(pm, g[3]);
    let xb = _mm512_ternarylogic_epi64::<0x28>(pc, g[2], mb);
    acc[0] = _mm512_add_epi64(acc[0], _mm512_popcnt_epi64(xa));
    acc[1] = _mm512_add_epi64(acc[1], _mm512_popcnt_epi64(ma));
    acc[2] = _mm512_add_epi64(acc[2], _mm512_popcnt_epi64(xb));
    acc[3] = _mm512_add_epi64(acc[3], _mm512_popcnt_epi64(mb));
}

/// Packs diff (low half) and compared (high half) accumulators of both rows.
#[target_feature(enable = "avx512f")]
#[inline]
fn pack(acc: [__m512i; 4]) -> Pair {
    // Odd 32-bit lanes (the high halves, zero in `acc[0]`) take the low halves of `acc[1]`.
    [
        _mm512_mask_shuffle_epi32::<_MM_PERM_CCAA>(acc[0], 0xAAAA, acc[1]),
        _mm512_mask_shuffle_epi32::<_MM_PERM_CCAA>(acc[2], 0xAAAA, acc[3]),
    ]
}

/// Summed packed counts (see [`rotations`]) of rotations `0..G` (`G <= 8`) of the probe at
/// `probe` against rows `a` and `b`, for codes of `W` whole words held in registers (`CB = 64 W`
/// code bytes, rotation stride `2 CB`). Straight-line code: each rotation's packed counts go
/// into the reduction tree as soon as they exist, so nothing is stored.
///
/// # Safety
/// AVX-512 F/VPOPCNTDQ; both rows readable for `2 CB` bytes, the probe for `G` rotations.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn short<const W: usize, const G: usize>(
    probe: *const u8,
    a: *const u8,
    b: *const u8,
) -> Pair {
    let cb = 64 * W;
    // SAFETY: all loads are full 64-byte words inside `[..2 * cb]` of a row or of one of the
    // first `G` rotations (rotation `i` is only read when `i < G`).
    unsafe {
        let ld = |p: *const u8, off: usize| _mm512_loadu_si512(p.add(off).cast());
        let mut g = [[_mm512_setzero_si512(); 4]; W];
        for (w, gw) in g.iter_mut().enumerate() {
            *gw = [
                ld(a, 64 * w),
                ld(a, cb + 64 * w),
                ld(b, 64 * w),
                ld(b, cb + 64 * w),
            ];
        }
        let zero = [_mm512_setzero_si512(); 2];
        let one = |i: usize| {
            if i >= G {
                return zero;
            }
            let p = probe.add(i * 2 * cb);
            let mut acc = [_mm512_setzero_si512(); 4];
            for (w, gw) in g.iter().enumerate() {
                word(ld(p, 64 * w), ld(p, cb + 64 * w), *gw, &mut acc);
            }
            pack(acc)
        };
        let s0 = halves2(pair2(one(0), one(1)), pair2(one(2), one(3)));
        let s1 = if G > 4 {
            halves2(pair2(one(4), one(5)), pair2(one(6), one(7)))
        } else {
            zero
        };
        halves2(s0, s1)
    }
}

/// First level of the reduction tree for both rows: per 128-bit block, (sum of a pair of lanes of
/// `x`, same of `y`).
#[target_feature(enable = "avx512f")]
#[inline]
fn pair2(x: Pair, y: Pair) -> Pair {
    let f = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
    };
    [f(x[0], y[0]), f(x[1], y[1])]
}

/// Upper levels of the reduction tree for both rows: adds even and odd 128-bit blocks.
#[target_feature(enable = "avx512f")]
#[inline]
fn halves2(x: Pair, y: Pair) -> Pair {
    let f = |a: __m512i, b: __m512i| {
        _mm512_add_epi64(
            _mm512_shuffle_i64x2::<0b10_00_10_00>(a, b),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(a, b),
        )
    };
    [f(x[0], y[0]), f(x[1], y[1])]
}

/// Rotations `0..G` (`G <= 4`) of the probe at `probe` (rotation stride `rs`) against rows `a`
/// and `b`, any code length: words outermost, a masked load for the last partial word. `CB`, when
/// not 0, is the code length known at compile time (then `cb` is ignored). When `pf` is not 0, the
/// same words `pf` bytes further on are prefetched as the loop goes (spread out, so the load
/// queue never fills with prefetches).
///
/// # Safety
/// AVX-512 F/VPOPCNTDQ; both rows readable for `2 cb` bytes, the probe for `G` rotations of
/// `2 cb` bytes; `cb` a multiple of 8.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn long<const CB: usize, const G: usize>(
    probe: *const u8,
    rs: usize,
    a: *const u8,
    b: *const u8,
    cb: usize,
    pf: usize,
) -> [Pair; G] {
    let (cb, rs) = if CB == 0 { (cb, rs) } else { (CB, 2 * CB) };
    // SAFETY: full loads stay inside `[..2 * cb]` (`off + 64 <= cb`); the tail loads are masked to
    // the `(cb - off) / 8` remaining 64-bit lanes and do not touch the others.
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); 4]; G];
        let mut run = |off: usize, k: __mmask8| {
            let ld = |p: *const u8, o: usize| _mm512_maskz_loadu_epi64(k, p.add(o).cast());
            let g = [ld(a, off), ld(a, cb + off), ld(b, off), ld(b, cb + off)];
            for (i, ac) in acc.iter_mut().enumerate() {
                let p = probe.add(i * rs);
                word(ld(p, off), ld(p, cb + off), g, ac);
            }
        };
        for off in (0..cb / 64 * 64).step_by(64) {
            if pf != 0 {
                // Prefetch never faults, and `wrapping_add` keeps the address computation defined
                // even past the end of the rows.
                for q in [a, b] {
                    _mm_prefetch::<_MM_HINT_T1>(q.wrapping_add(pf + off).cast());
                    _mm_prefetch::<_MM_HINT_T1>(q.wrapping_add(pf + cb + off).cast());
                }
            }
            run(off, 0xff);
        }
        let rest = (cb % 64) / 8;
        if rest > 0 {
            run(cb / 64 * 64, ((1u16 << rest) - 1) as u8);
        }
        let mut out = [[_mm512_setzero_si512(); 2]; G];
        for (o, ac) in out.iter_mut().zip(acc) {
            *o = pack(ac);
        }
        out
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
    let s0 = halves(pair(c[0], c[1]), pair(c[2], c[3]));
    let s1 = halves(pair(c[4], c[5]), pair(c[6], c[7]));
    halves(s0, s1)
}

/// Summed packed counts of `G` rotations starting at `probe` (stride `rs`) against rows `a` and
/// `b`: lane `i` of each vector is rotation `i`, lanes `G..8` zero. `W > 0` selects the
/// register-resident short-code kernel (`cb == 64 W`), otherwise the word loop (`CB` and `pf` as
/// in [`long`]; the short kernel ignores `pf`).
///
/// # Safety
/// AVX-512 F/VPOPCNTDQ; both rows readable for `2 cb` bytes; `G` rotations of `2 cb` bytes exist.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn rotations<const W: usize, const CB: usize, const G: usize>(
    probe: *const u8,
    rs: usize,
    a: *const u8,
    b: *const u8,
    cb: usize,
    pf: usize,
) -> Pair {
    if W > 0 {
        // SAFETY: forwarded from the caller.
        return unsafe { short::<W, G>(probe, a, b) };
    }
    let zero = _mm512_setzero_si512();
    let mut c = [[zero; 8]; 2];
    let mut put = |at: usize, pairs: &[Pair]| {
        for (i, p) in pairs.iter().enumerate() {
            c[0][at + i] = p[0];
            c[1][at + i] = p[1];
        }
    };
    // SAFETY: forwarded from the caller; the second `long` call starts 4 rotations in, and only
    // runs when `G > 4`.
    unsafe {
        let q = probe.add(4 * rs);
        match G {
            1 => put(0, &long::<CB, 1>(probe, rs, a, b, cb, pf)),
            2 => put(0, &long::<CB, 2>(probe, rs, a, b, cb, pf)),
            3 => put(0, &long::<CB, 3>(probe, rs, a, b, cb, pf)),
            4 => put(0, &long::<CB, 4>(probe, rs, a, b, cb, pf)),
            _ => {
                put(0, &long::<CB, 4>(probe, rs, a, b, cb, pf));
                match G {
                    5 => put(4, &long::<CB, 1>(q, rs, a, b, cb, 0)),
                    6 => put(4, &long::<CB, 2>(q, rs, a, b, cb, 0)),
                    7 => put(4, &long::<CB, 3>(q, rs, a, b, cb, 0)),
                    _ => put(4, &long::<CB, 4>(q, rs, a, b, cb, 0)),
                }
            }
        }
    }
    [reduce8(c[0]), reduce8(c[1])]
}

/// Rotations `first..first + g` (`1 <= g <= 8`) of `probe` against rows `a` and `b`.
///
/// # Safety
/// As [`rotations`], for rotations `first..first + g` of `probe`.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn group<const W: usize, const CB: usize>(
    probe: &PreparedProbe,
    first: usize,
    g: usize,
    a: *const u8,
    b: *const u8,
    pf: usize,
) -> Pair {
    let (rs, cb) = (probe.layout().row_bytes(), probe.layout().code_bytes());
    // SAFETY: rotations `first..first + g` exist in `probe.bytes()` (rs bytes each); the caller
    // vouches for the rest.
    unsafe {
        let p = probe.bytes().as_ptr().add(first * rs);
        match g {
            1 => rotations::<W, CB, 1>(p, rs, a, b, cb, pf),
            2 => rotations::<W, CB, 2>(p, rs, a, b, cb, pf),
            3 => rotations::<W, CB, 3>(p, rs, a, b, cb, pf),
            4 => rotations::<W, CB, 4>(p, rs, a, b, cb, pf),
            5 => rotations::<W, CB, 5>(p, rs, a, b, cb, pf),
            6 => rotations::<W, CB, 6>(p, rs, a, b, cb, pf),
            7 => rotations::<W, CB, 7>(p, rs, a, b, cb, pf),
            _ => rotations::<W, CB, 8>(p, rs, a, b, cb, pf),
        }
    }
}

/// Calls `$f::<W, CB>` specialised for the code length `$cb`: register-resident rows for 1 to 4
/// whole words, a compile-time length for open-iris's 1,600 bytes, otherwise a runtime length.
macro_rules! by_code_length {
    ($cb:expr, $f:ident($($arg:expr),*)) => {
        match $cb {
            256 => $f::<4, 0>($($arg),*),
            192 => $f::<3, 0>($($arg),*),
            128 => $f::<2, 0>($($arg),*),
            64 => $f::<1, 0>($($arg),*),
            1600 => $f::<0, 1600>($($arg),*),
            _ => $f::<0, 0>($($arg),*),
        }
    };
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
    let (g, r, cb) = (out.len(), row.as_ptr(), probe.layout().code_bytes());
    // SAFETY: forwarded from the caller (see above); the row is passed as both rows of the pair.
    let v = unsafe { by_code_length!(cb, group(probe, first, g, r, r, 0)) }[0];
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
    // SAFETY: forwarded from the caller.
    unsafe {
        by_code_length!(
            probes[0].layout().code_bytes(),
            scan_with(probes, rows, stride, n, out)
        )
    }
}

/// [`scan`] for one code-length specialisation (see [`rotations`]).
///
/// # Safety
/// As [`scan`].
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq")]
unsafe fn scan_with<const W: usize, const CB: usize>(
    probes: &[PreparedProbe],
    rows: &[u8],
    stride: usize,
    n: usize,
    out: &mut [f32],
) {
    let cb = probes[0].layout().code_bytes();
    let tile = (TILE_BYTES / stride).max(2) & !1;
    let lines = (2 * cb).div_ceil(64);
    let ahead_rows = PREFETCH_BYTES.div_ceil(stride).max(2);
    let long_ahead = LONG_PREFETCH_ROWS * stride;
    let base = rows.as_ptr();
    let groups = rotation_groups(probes);
    let lanes = if W > 0 {
        transpose(probes, 8 * W)
    } else {
        Vec::new()
    };
    for t0 in (0..n).step_by(tile) {
        let t1 = n.min(t0 + tile);
        for (p, probe) in probes.iter().enumerate() {
            let rots = probe.rotations();
            let mut batch = Batch::new();
            for r in (t0..t1).step_by(2) {
                // An odd last row is paired with itself; its second result is dropped.
                let r2 = (r + 1).min(t1 - 1);
                if W > 0 && p == 0 {
                    // The first probe pulls rows a few KiB ahead into L1 for the whole tile
                    // (long rows are prefetched inside the word loop instead).
                    for ahead in [r + ahead_rows, r + ahead_rows + 1] {
                        if ahead < n {
                            for l in 0..lines {
                                // SAFETY: row `ahead < n` is inside `rows`, `l * 64 < 2 * cb`;
                                // prefetching has no other effect.
                                unsafe {
                                    _mm_prefetch::<_MM_HINT_T0>(
                                        base.add(ahead * stride + l * 64).cast(),
                                    )
                                };
                            }
                        }
                    }
                }
                let mut best = [f32::INFINITY; 2];
                let mut last = ([_mm512_setzero_si512(); 2], 1);
                let mut pf = if p == 0 { long_ahead } else { 0 };
                for first in (0..rots).step_by(GROUP) {
                    let g = GROUP.min(rots - first);
                    // SAFETY: rows `r, r2 < n` lie inside `rows`; rotations `first..first + g`
                    // exist; the caller vouches for the CPU.
                    let (a, b) = unsafe { (base.add(r * stride), base.add(r2 * stride)) };
                    let v = if W > 0 {
                        // SAFETY: group `first / GROUP` of probe `p` lies in `lanes` (see
                        // `transpose`); both rows hold `2 * cb` bytes.
                        unsafe {
                            across::<W>(
                                lanes[(p * groups + first / GROUP) * 16 * W..].as_ptr(),
                                a,
                                b,
                            )
                        }
                    } else {
                        // SAFETY: as above.
                        unsafe { group::<W, CB>(probe, first, g, a, b, pf) }
                    };
                    pf = 0;
                    if first + g < rots {
                        let m = min_scores(v, g);
                        best[0] = best[0].min(m[0]);
                        best[1] = best[1].min(m[1]);
                    } else {
                        last = (v, g);
                    }
                }
                batch.push(last.0, best, (r, r2), last.1, &mut out[p * n..]);
            }
            batch.finish(rots - (rots - 1) / GROUP * GROUP, &mut out[p * n..]);
        }
    }
}

/// Groups of up to [`GROUP`] rotations of the probe with the most rotations.
fn rotation_groups(probes: &[PreparedProbe]) -> usize {
    probes
        .iter()
        .map(PreparedProbe::rotations)
        .max()
        .unwrap_or(0)
        .div_ceil(GROUP)
}

/// Eight 64-bit lanes, aligned like a 512-bit vector.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Lanes([u64; 8]);

/// The probes rearranged for [`across`]: for each probe, each group of up to 8 rotations and each
/// 64-bit word `k` of the code (`words` of them), the vector of word `k` of the group's rotations
/// (code), then the same for the mask; missing rotations are zero.
fn transpose(probes: &[PreparedProbe], words: usize) -> Vec<Lanes> {
    let groups = rotation_groups(probes);
    let mut out = vec![Lanes::default(); probes.len() * groups * 2 * words];
    let rw = probes[0].layout().row_bytes() / 8;
    for (p, probe) in probes.iter().enumerate() {
        let w = probe.words();
        for rot in 0..probe.rotations() {
            let (j, i) = (rot / GROUP, rot % GROUP);
            let at = (p * groups + j) * 2 * words;
            for k in 0..words {
                out[at + 2 * k].0[i] = w[rot * rw + k];
                out[at + 2 * k + 1].0[i] = w[rot * rw + words + k];
            }
        }
    }
    out
}

/// Summed packed counts of a group of rotations (lane `i` = rotation `i`) against rows `a` and
/// `b`, for codes of `W` whole 512-bit words: each probe vector holds one 64-bit word of all the
/// group's rotations and meets that word of each row broadcast to all lanes, so every lane
/// accumulates its own rotation and no reduction across lanes is needed.
///
/// # Safety
/// AVX-512 F/VPOPCNTDQ; `t` points at `16 W` [`Lanes`] of [`transpose`]'s output; both rows
/// readable for `128 W` bytes.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn across<const W: usize>(t: *const Lanes, a: *const u8, b: *const u8) -> Pair {
    let cb = 64 * W;
    // SAFETY: `k < 8 W` keeps every lane load inside the `16 W` lanes and every 8-byte read
    // inside `[..2 * cb]` of a row.
    unsafe {
        let bc =
            |p: *const u8, off: usize| _mm512_set1_epi64(p.add(off).cast::<i64>().read_unaligned());
        let mut acc = [_mm512_setzero_si512(); 4];
        // Four words per trip: the loop overhead shrinks and the scheduler sees more work.
        for k4 in (0..8 * W).step_by(4) {
            for k in k4..k4 + 4 {
                let pc = _mm512_load_si512(t.add(2 * k).cast());
                let pm = _mm512_load_si512(t.add(2 * k + 1).cast());
                let g = [
                    bc(a, 8 * k),
                    bc(a, cb + 8 * k),
                    bc(b, 8 * k),
                    bc(b, cb + 8 * k),
                ];
                word(pc, pm, g, &mut acc);
            }
        }
        pack(acc)
    }
}
