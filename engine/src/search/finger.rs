//! Finger first stage: every record's ten-finger code row against every probe with fingers.
//!
//! A record's first-stage score is the sum over the finger positions it shares with the probe of
//! the per-finger code score (`abis_matchers::finger::index`). Each probe keeps its best
//! records with a positive score, as many as
//! [`SearchConfig::finger_comparisons`](crate::config::SearchConfig) divided by its number of
//! fingers; fusion then matches their shared fingers in full. Chunks are small (64 rows of 8,320 B, 520 KiB)
//! so a chunk stays in L2 while every probe of the batch scans it.

use super::{as_u64, iris::keep_best, PreparedProbe, SearchControl};
use crate::engine::Inner;
use crate::error::{EngineError, Result};
use crate::gallery::Modality;
use abis_matchers::finger::index::{set_scores, SET_WORDS};
use abis_matchers::SimdLevel;
use rayon::prelude::*;

/// Rows per parallel work item.
const CHUNK_ROWS: usize = 64;

/// For each probe with fingers: the slots of its best records by first-stage score, best first.
pub(crate) fn first_pass(
    inner: &Inner,
    probes: &[PreparedProbe],
    level: SimdLevel,
    control: SearchControl<'_>,
) -> Result<Vec<(usize, Vec<u32>)>> {
    let users: Vec<usize> = (0..probes.len())
        .filter(|&i| !probes[i].finger_set.is_empty())
        .collect();
    let seg = inner.segment(Modality::Fingers);
    if users.is_empty() || seg.is_empty() {
        return Ok(users.into_iter().map(|u| (u, Vec::new())).collect());
    }
    let rows = as_u64(seg.column(0).rows())?;
    let total = seg.len();
    let caps: Vec<usize> = users
        .iter()
        .map(|&u| {
            let fingers = probes[u].finger_set.positions().count().max(1);
            (inner.search.finger_comparisons / fingers).max(1)
        })
        .collect();
    let by_score = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let best = (0..total.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| -> Result<Vec<Vec<(f32, u32)>>> {
            control.check()?;
            let first = c * CHUNK_ROWS;
            let n = CHUNK_ROWS.min(total - first);
            let block = &rows[first * SET_WORDS..(first + n) * SET_WORDS];
            let mut scores = vec![0f32; n];
            let mut scratch = Vec::new();
            let mut local = Vec::with_capacity(users.len());
            for (&u, &cap) in users.iter().zip(&caps) {
                set_scores(
                    level,
                    &probes[u].finger_set,
                    block,
                    &mut scores,
                    &mut scratch,
                )
                .map_err(|e| EngineError::template("fingers", e))?;
                let mut hits: Vec<(f32, u32)> = scores
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| s > 0.0)
                    .map(|(r, &s)| (s, seg.meta(first + r).slot))
                    .filter(|&(_, slot)| inner.visible(slot, control.scope))
                    .collect();
                keep_best(&mut hits, cap, by_score);
                local.push(hits);
            }
            Ok(local)
        })
        .try_reduce(
            || vec![Vec::new(); users.len()],
            |mut a, b| {
                for ((x, y), &cap) in a.iter_mut().zip(b).zip(&caps) {
                    x.extend(y);
                    keep_best(x, cap, by_score);
                }
                Ok(a)
            },
        )?;
    Ok(users
        .into_iter()
        .zip(best)
        .map(|(u, h)| (u, h.into_iter().map(|(_, s)| s).collect()))
        .collect())
}
