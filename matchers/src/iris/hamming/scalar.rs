//! The reference: one byte at a time, the obvious way. Every other level must match it exactly.

use super::Counts;
use crate::iris::probe::PreparedProbe;
use crate::iris::score::scan_score;

/// Counts of one code+mask pair against another (`2 * cb` bytes each).
fn pair_counts(probe: &[u8], row: &[u8], cb: usize) -> Counts {
    let (pc, pm) = probe[..2 * cb].split_at(cb);
    let (gc, gm) = row[..2 * cb].split_at(cb);
    let mut c = Counts::default();
    for i in 0..cb {
        let both = pm[i] & gm[i];
        c.compared += both.count_ones();
        c.diff += ((pc[i] ^ gc[i]) & both).count_ones();
    }
    c
}

/// Counts of rotations `first..first + out.len()` of `probe` against `row`.
pub(super) fn counts(probe: &PreparedProbe, first: usize, row: &[u8], out: &mut [Counts]) {
    let cb = probe.layout().code_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        *o = pair_counts(probe.rotation_row(first + i), row, cb);
    }
}

/// The block kernel, probe by probe, row by row, rotation by rotation.
pub(super) fn scan(
    probes: &[PreparedProbe],
    rows: &[u8],
    stride: usize,
    n: usize,
    out: &mut [f32],
) {
    for (p, probe) in probes.iter().enumerate() {
        let cb = probe.layout().code_bytes();
        for r in 0..n {
            let row = &rows[r * stride..][..2 * cb];
            let mut best = f32::INFINITY;
            for i in 0..probe.rotations() {
                let c = pair_counts(probe.rotation_row(i), row, cb);
                best = best.min(scan_score(c.diff, c.compared));
            }
            out[p * n + r] = best;
        }
    }
}
