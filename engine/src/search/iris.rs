//! Iris first pass: every row of an eye's segment against every probe with that eye, scanned in
//! the segment's interleaved blocks.

use super::{collect_hits, PreparedProbe, SearchControl};
use crate::engine::Inner;
use crate::error::{EngineError, Result};
use crate::gallery::Modality;
use abis_matchers::iris;
use abis_matchers::iris::interleaved::BLOCK_ROWS;
use abis_matchers::SimdLevel;

/// Probes per kernel call: enough to reuse each gallery row many times, few enough that the
/// rotated probes stay in L2.
const PROBE_GROUP: usize = 32;

/// For each probe that has this eye: the slots whose normalised HD can reach the probe's
/// candidate floor, best first, at most `modality_candidates`.
pub(crate) fn first_pass(
    inner: &Inner,
    modality: Modality,
    probes: &[PreparedProbe],
    level: SimdLevel,
    control: SearchControl<'_>,
) -> Result<Vec<(usize, Vec<u32>)>> {
    let seg = inner.segment(modality);
    let users: Vec<(usize, &iris::PreparedProbe, f32)> = probes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let prepared = p.iris[modality.index()].as_ref()?;
            Some((
                i,
                prepared,
                inner.calibration.iris_hd_for_score(p.floor) as f32,
            ))
        })
        .collect();
    if users.is_empty() || seg.is_empty() {
        return Ok(users.iter().map(|u| (u.0, Vec::new())).collect());
    }
    // The segment stores rows interleaved eight at a time: chunks start on a block.
    let blocks = seg.column(0).rows();
    let block_bytes = seg.column(0).row_bytes();
    let chunk = inner.search.chunk_rows.max(1).next_multiple_of(BLOCK_ROWS);
    let mut out = Vec::with_capacity(users.len());
    for group in users.chunks(PROBE_GROUP) {
        let kernels: Vec<iris::PreparedProbe> = group.iter().map(|g| g.1.clone()).collect();
        let hits = collect_hits(
            inner,
            modality,
            chunk,
            kernels.len(),
            |first, n, out: &mut [f32]| {
                let from = first / BLOCK_ROWS * block_bytes;
                let chunk = &blocks[from..from + n.div_ceil(BLOCK_ROWS) * block_bytes];
                iris::scan_interleaved(level, &kernels, chunk, n, out)
                    .map_err(|e| EngineError::template(modality.name(), e))
            },
            |p, d| d <= group[p].2,
            inner.search.modality_candidates,
            |a, b| a.0.total_cmp(&b.0),
            control,
        )?;
        for (g, mut h) in group.iter().zip(hits) {
            keep_best(&mut h, inner.search.modality_candidates, |a, b| {
                a.0.total_cmp(&b.0)
            });
            out.push((g.0, h.into_iter().map(|(_, s)| s).collect()));
        }
    }
    Ok(out)
}

/// Keeps the `cap` best entries (smallest by `cmp`), sorted best first.
pub(crate) fn keep_best<T>(
    v: &mut Vec<T>,
    cap: usize,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Copy,
) {
    if v.len() > cap {
        v.select_nth_unstable_by(cap, cmp);
        v.truncate(cap);
    }
    v.sort_by(cmp);
}
