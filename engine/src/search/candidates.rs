//! Fusion of a probe's candidates: exact per-modality scores, calibrated and fused.

use super::{as_f32, Candidate, ModalityScore, PreparedProbe};
use crate::calibration::Calibration;
use crate::engine::Inner;
use crate::error::Result;
use crate::fusion;
use crate::gallery::{prepare_finger, searchable, Modality, FACE_F32};
use crate::record::Record;
use abis_matchers::finger::FingerMatcher;
use abis_matchers::{face, iris, SimdLevel};
use std::borrow::Cow;

/// Scores every modality a probe shares with a gallery row set: `row(m)` gives the record's row
/// bytes in modality `m`'s first column, if it has one.
pub(crate) fn score_modalities<'a>(
    probe: &PreparedProbe,
    calibration: &Calibration,
    dim: usize,
    level: SimdLevel,
    row: impl Fn(Modality) -> Option<Cow<'a, [u8]>>,
) -> Result<Vec<ModalityScore>> {
    let mut scores = Vec::with_capacity(3);
    for m in [Modality::IrisLeft, Modality::IrisRight, Modality::Face] {
        let Some(bytes) = row(m) else { continue };
        if m == Modality::Face {
            if let Some(f) = &probe.record.face {
                let cos = f64::from(face::dot_f32(&f.embedding, &as_f32(&bytes)?[..dim]));
                scores.push(ModalityScore {
                    modality: m,
                    finger: None,
                    raw: cos,
                    score: calibration.face_score(cos),
                });
            }
        } else if let Some(p) = &probe.iris[m.index()] {
            let c = iris::compare(level, p, &bytes);
            scores.push(ModalityScore {
                modality: m,
                finger: None,
                raw: c.hd_norm,
                score: calibration.iris_score(c.hd_norm),
            });
        }
    }
    Ok(scores)
}

/// Full minutiae matching of every finger position the probe and a stored record share, each
/// calibrated to `-log10(FMR)`.
pub(crate) fn score_fingers(
    probe: &PreparedProbe,
    stored: &Record,
    calibration: &Calibration,
    matcher: &mut FingerMatcher,
) -> Vec<ModalityScore> {
    let mut scores = Vec::new();
    for (position, p) in &probe.fingers {
        let Some(g) = stored
            .fingers
            .iter()
            .find(|f| f.position == *position && searchable(&f.minutiae))
        else {
            continue;
        };
        let raw = matcher.compare(p, &prepare_finger(&g.minutiae));
        scores.push(ModalityScore {
            modality: Modality::Fingers,
            finger: Some(*position),
            raw: f64::from(raw),
            score: calibration.finger_score(raw),
        });
    }
    scores
}

/// Scores the union of a probe's first-pass candidates exactly and keeps those whose fused score
/// reaches the threshold, best first. Fingers are matched in full only for the records the
/// finger first stage shortlisted (`finger_slots`, sorted): elsewhere a record is judged on its
/// other modalities, so the cost of the full finger matcher stays bounded per probe.
pub(crate) fn fuse_and_rank(
    inner: &Inner,
    probe: &PreparedProbe,
    mut slots: Vec<u32>,
    finger_slots: &[u32],
    threshold: f64,
    max_results: usize,
    level: SimdLevel,
) -> Result<Vec<Candidate>> {
    slots.sort_unstable();
    slots.dedup();
    let mut passing = Vec::new();
    let mut matcher = FingerMatcher::new(level);
    for slot in slots {
        if inner.is_dead(slot) {
            continue;
        }
        let mut scores = score_modalities(
            probe,
            &inner.calibration,
            inner.shape.face_dim,
            level,
            |m| {
                let seg = inner.segment(m);
                let column = if m == Modality::Face { FACE_F32 } else { 0 };
                seg.row_of(slot).map(|r| seg.row(column, r))
            },
        )?;
        if finger_slots.binary_search(&slot).is_ok() {
            if let Some(stored) = inner.store.record(slot)? {
                scores.extend(score_fingers(
                    probe,
                    &stored,
                    &inner.calibration,
                    &mut matcher,
                ));
            }
        }
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
