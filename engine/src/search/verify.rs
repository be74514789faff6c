//! 1:1 verification against a stored reference.

use super::candidates::{score_fingers, score_modalities};
use super::ModalityScore;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::fusion;
use crate::gallery::{Modality, RowWriter};
use crate::record::{Record, ReferenceId};
use crate::storage::{Backend, Segment};
use abis_matchers::finger::FingerMatcher;
use abis_matchers::SimdLevel;

/// The answer of a 1:1 verification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifyResult {
    /// Whether the fused score reaches the threshold.
    pub is_match: bool,
    /// Fused calibrated score.
    pub fused_score: f64,
    /// The threshold applied, `-log10(target FMR)`.
    pub threshold: f64,
    /// Per-modality scores (modalities both sides carry).
    pub scores: Vec<ModalityScore>,
}

impl Engine {
    /// Compares a probe with the record enrolled under `reference`, deciding at `target_fmr`.
    pub fn verify(
        &self,
        probe: &Record,
        reference: &ReferenceId,
        target_fmr: f64,
    ) -> Result<VerifyResult> {
        if !(target_fmr > 0.0 && target_fmr < 1.0) {
            return Err(EngineError::InvalidRequest(format!(
                "target FMR {target_fmr} outside (0, 1)"
            )));
        }
        let threshold = fusion::verify_threshold(target_fmr);
        let inner = self.read();
        let prepared = inner.prepare(probe, threshold)?;
        let slot = inner
            .store
            .slot_of(reference)?
            .ok_or_else(|| EngineError::NotFound(reference.to_string()))?;
        let stored = inner
            .store
            .record(slot)?
            .ok_or_else(|| EngineError::NotFound(reference.to_string()))?;
        // Score from the source of truth: encode the stored templates as rows of a scratch
        // segment so verification runs the same kernels as identification.
        let mut writer = RowWriter::new(inner.shape);
        let mut rows: Vec<Option<Segment>> = Vec::new();
        for (m, spec) in Modality::ALL
            .iter()
            .zip(crate::gallery::specs(&inner.shape))
            .filter(|(m, _)| **m != Modality::Fingers)
        {
            let mut seg = Segment::create(&Backend::Memory, &spec, false)?;
            writer.append(&mut seg, *m, 0, &stored)?;
            rows.push((!seg.is_empty()).then_some(seg));
        }
        let level = SimdLevel::get();
        let mut scores = score_modalities(
            &prepared,
            &inner.calibration,
            inner.shape.face_dim,
            level,
            |m| rows.get(m.index())?.as_ref().map(|s| s.row(0, 0)),
        )?;
        scores.extend(score_fingers(
            &prepared,
            &stored,
            &inner.calibration,
            &mut FingerMatcher::new(level),
        ));
        if scores.is_empty() {
            return Err(EngineError::InvalidRequest(format!(
                "probe and reference {reference} share no searchable modality"
            )));
        }
        let fused_score = fusion::fuse(&scores.iter().map(|s| s.score).collect::<Vec<_>>());
        Ok(VerifyResult {
            is_match: fused_score >= threshold,
            fused_score,
            threshold,
            scores,
        })
    }
}
