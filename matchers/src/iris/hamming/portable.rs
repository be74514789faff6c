//! Plain Rust over 64-bit words with `count_ones`: runs on every CPU (NEON ones included, where the
//! compiler vectorises the popcounts) and is the fallback when no x86 level applies.
//!
//! Rows are walked a tile at a time like the SIMD kernels do, so a tile of gallery rows stays in
//! cache while every probe and rotation passes over it.

use super::Counts;
use crate::iris::probe::PreparedProbe;
use crate::iris::score::scan_score;

/// Gallery bytes per tile (kept in L1 while every probe passes over it).
const TILE_BYTES: usize = 16 * 1024;

/// Native-endian word `i` of `bytes` (the probe's words are read the same way, and popcounts do not
/// depend on byte order).
#[inline]
fn word(bytes: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
    u64::from_ne_bytes(w)
}

/// Counts of one rotated probe (`words` of code then of mask, as words) against a gallery row.
#[inline]
fn pair_counts(probe: &[u64], row: &[u8], cw: usize) -> Counts {
    let (pc, pm) = probe[..2 * cw].split_at(cw);
    let (mut diff, mut compared) = (0u32, 0u32);
    for i in 0..cw {
        let both = pm[i] & word(row, cw + i);
        compared += both.count_ones();
        diff += ((pc[i] ^ word(row, i)) & both).count_ones();
    }
    Counts { diff, compared }
}

/// Counts of rotations `first..first + out.len()` of `probe` against `row`.
pub(super) fn counts(probe: &PreparedProbe, first: usize, row: &[u8], out: &mut [Counts]) {
    let cw = probe.layout().code_bytes() / 8;
    let rw = probe.layout().row_bytes() / 8;
    for (i, o) in out.iter_mut().enumerate() {
        *o = pair_counts(&probe.words()[(first + i) * rw..], row, cw);
    }
}

/// The block kernel: tiles of rows, then probes, then rows of the tile, then rotations.
pub(super) fn scan(
    probes: &[PreparedProbe],
    rows: &[u8],
    stride: usize,
    n: usize,
    out: &mut [f32],
) {
    let layout = *probes[0].layout();
    let (cw, rw) = (layout.code_bytes() / 8, layout.row_bytes() / 8);
    let tile = (TILE_BYTES / stride).max(1);
    for t0 in (0..n).step_by(tile) {
        let t1 = n.min(t0 + tile);
        for (p, probe) in probes.iter().enumerate() {
            let words = probe.words();
            for r in t0..t1 {
                let row = &rows[r * stride..][..2 * cw * 8];
                let mut best = f32::INFINITY;
                for i in 0..probe.rotations() {
                    let c = pair_counts(&words[i * rw..], row, cw);
                    best = best.min(scan_score(c.diff, c.compared));
                }
                out[p * n + r] = best;
            }
        }
    }
}
