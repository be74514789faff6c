//! Fusion of a probe's candidates: exact per-modality scores, calibrated and fused.

use super::{as_f32, Candidate, ModalityScore, PreparedProbe};
use crate::calibration::Calibration;
use crate::engine::Inner;
use crate::error::Result;
use crate::fusion;
use crate::gallery::{Modality, FACE_F32};
use abis_matchers::{face, iris, SimdLevel};

/// Scores every modality a probe shares with a gallery row set: `row(m)` gives the record's row
/// bytes in modality `m`'s first column, if it has one.
pub(crate) fn score_modalities<'a>(
    probe: &PreparedProbe,
    calibration: &Calibration,
    dim: usize,
    level: SimdLevel,
    row: impl Fn(Modality) -> Option<&'a [u8]>,
) -> Result<Vec<ModalityScore>> {
    let mut scores = Vec::with_capacity(3);
    for m in Modality::ALL {
        let Some(bytes) = row(m) else { continue };
        match m.eye() {
            Some(_) => {
                if let Some(p) = &probe.iris[m.index()] {
                    let c = iris::compare(level, p, bytes);
                    scores.push(ModalityScore {
                        modality: m,
                        raw: c.hd_norm,
                        score: calibration.iris_score(c.hd_norm),
                    });
                }
            }
            None => {
                if let Some(f) = &probe.record.face {
                    let cos = f64::from(face::dot_f32(&f.embedding, &as_f32(bytes)?[..dim]));
                    scores.push(ModalityScore {
                        modality: m,
                        raw: cos,
                        score: calibration.face_score(cos),
                    });
                }
            }
        }
    }
    Ok(scores)
}

pub(crate) fn fuse_and_rank(
    inner: &Inner,
    probe: &PreparedProbe,
    mut slots: Vec<u32>,
    threshold: f64,
    max_results: usize,
    level: SimdLevel,
) -> Result<Vec<Candidate>> {
    slots.sort_unstable();
    slots.dedup();
    let mut passing = Vec::new();
    for slot in slots {
        if inner.is_dead(slot) {
            continue;
        }
        let scores = score_modalities(
            probe,
            &inner.calibration,
            inner.shape.face_dim,
            level,
            |m| {
                let seg = inner.segment(m);
                let column = if m == Modality::Face { FACE_F32 } else { 0 };
                seg.row_of(slot).map(|r| seg.column(column).row(r))
            },
        )?;
        let fused = fusion::fuse(&scores.iter().map(|s| s.score).collect::<Vec<_>>());
        if fused >= threshold {
            passing.push((fused, slot, scores));
        }
    }
    passing.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = Vec::new();
    for (fused_score, slot, scores) in passing {
        if out.len() == max_results {
            break;
        }
        let Some(record) = inner.store.record(slot)? else {
            continue;
        };
        if record.reference_id == probe.record.reference_id {
            continue;
        }
        out.push(Candidate {
            reference_id: record.reference_id,
            fused_score,
            scores,
        });
    }
    Ok(out)
}
