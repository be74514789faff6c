//! 1:1 verification: a probe against a stored reference ([`Engine::verify`]) or against a
//! record held in memory ([`compare`], no gallery), with the same kernels and calibration.

use super::candidates::{score_fingers, score_modalities};
use super::{prepare_probe, ModalityScore};
use crate::calibration::Calibration;
use crate::config::{GalleryConfig, SearchConfig};
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
    /// Compares a probe with the record enrolled under `reference`, deciding at `target_fmr`
    /// ([`compare`] with this gallery's shape, search settings and calibration).
    pub fn verify(
        &self,
        probe: &Record,
        reference: &ReferenceId,
        target_fmr: f64,
    ) -> Result<VerifyResult> {
        check_fmr(target_fmr)?;
        let inner = self.read();
        let slot = inner
            .store
            .slot_of(reference)?
            .ok_or_else(|| EngineError::NotFound(reference.to_string()))?;
        let stored = inner
            .store
            .record(slot)?
            .ok_or_else(|| EngineError::NotFound(reference.to_string()))?;
        compare(
            &inner.shape,
            &inner.search,
            &inner.calibration,
            probe,
            &stored,
            target_fmr,
        )
    }
}

fn check_fmr(target_fmr: f64) -> Result<()> {
    if !(target_fmr > 0.0 && target_fmr < 1.0) {
        return Err(EngineError::InvalidRequest(format!(
            "target FMR {target_fmr} outside (0, 1)"
        )));
    }
    Ok(())
}

/// Compares `probe` with `reference`, two records held in memory (no gallery), deciding at
/// `target_fmr`: both are checked against `shape` (and normalised), every modality they share is
/// scored by the kernels identification uses and calibrated by `calibration` (each iris, the
/// face and each finger one comparison), and the scores are fused with Fisher's method. An
/// authentication service (`abis-biosdk`) calls this with one modality per record to decide
/// each modality on its own.
pub fn compare(
    shape: &GalleryConfig,
    search: &SearchConfig,
    calibration: &Calibration,
    probe: &Record,
    reference: &Record,
    target_fmr: f64,
) -> Result<VerifyResult> {
    check_fmr(target_fmr)?;
    let threshold = fusion::verify_threshold(target_fmr);
    let prepared = prepare_probe(shape, search, probe, threshold)?;
    let mut stored = reference.clone();
    stored.validate_and_normalise(shape)?;
    // Encode the reference's templates as rows of a scratch segment so verification runs the
    // same kernels as identification.
    let mut writer = RowWriter::new(*shape);
    let mut rows: Vec<Option<Segment>> = Vec::new();
    for (m, spec) in Modality::ALL
        .iter()
        .zip(crate::gallery::specs(shape))
        .filter(|(m, _)| **m != Modality::Fingers)
    {
        let mut seg = Segment::create(&Backend::Memory, &spec, false)?;
        writer.append(&mut seg, *m, 0, &stored)?;
        rows.push((!seg.is_empty()).then_some(seg));
    }
    let level = SimdLevel::get();
    let mut scores = score_modalities(&prepared, calibration, shape.face_dim, level, |m| {
        rows.get(m.index())?.as_ref().map(|s| s.row(0, 0))
    })?;
    scores.extend(score_fingers(
        &prepared,
        &stored,
        calibration,
        &mut FingerMatcher::new(level),
    ));
    if scores.is_empty() {
        return Err(EngineError::InvalidRequest(format!(
            "probe and reference {} share no searchable modality",
            stored.reference_id
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
