//! The reference affinity: plain loops over 64-bit words.

use super::{compatible, CylinderCode, RowView, RADIUS, ROW_WORDS};

/// See [`super::affinity`].
pub(super) fn affinity(probe: &[CylinderCode], rows: &[u64], stride: usize, out: &mut [u16]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = row_affinity(probe, &rows[k * stride..k * stride + ROW_WORDS]);
    }
}

/// The affinity of one gallery row.
#[inline(always)]
pub(super) fn row_affinity(probe: &[CylinderCode], row: &[u64]) -> u16 {
    let view = RowView::new(row);
    let mut sum = 0;
    for j in 0..view.count() {
        let (angle, code) = view.code(j);
        let nearest = probe
            .iter()
            .filter(|(pa, _)| compatible(angle, *pa))
            .map(|(_, pc)| {
                code.iter()
                    .zip(pc)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum::<u32>()
            })
            .min()
            .unwrap_or(RADIUS);
        sum += RADIUS.saturating_sub(nearest) as u16;
    }
    sum
}
