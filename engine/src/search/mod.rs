//! 1:N identification and 1:1 verification.
//!
//! Identify is a two-stage plan per batch of probes:
//! 1. **First pass, per modality** ([`iris`], [`face`]): every gallery row of the modality is
//!    compared with every probe in block kernels, in parallel over row chunks (rayon). Each
//!    modality keeps the records whose score could still lift the record over the decision
//!    threshold once fused ([`crate::fusion::candidate_floor`]); face runs on i8 and re-ranks its
//!    shortlist with exact f32.
//! 2. **Fusion** ([`candidates`]): for the union of candidates, every modality the probe and the
//!    record share is scored exactly, calibrated to an FMR and fused; records at or above the
//!    threshold are returned, best first.
//!
//! The search is exhaustive over the live gallery: a result always covers every record, and an
//! engine that cannot vouch for that (a segment that failed to take rows) refuses to answer.

mod candidates;
mod face;
mod finger;
mod iris;
mod verify;

use crate::census::modality_mask;
use crate::census::Scope;
use crate::engine::{Engine, Inner};
use crate::error::{EngineError, Result};
use crate::fusion;
use crate::gallery::Modality;
use crate::record::{Record, ReferenceId};
use abis_matchers::finger::index::FingerSet;
use abis_matchers::finger::PreparedFinger;
use abis_matchers::SimdLevel;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use verify::{compare, VerifyResult};

/// How the decision threshold is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Target false-positive identification rate for this gallery: the threshold score is
    /// `-log10(FPIR / N)` for a gallery of N records.
    Fpir(f64),
    /// A fixed calibrated (fused) score.
    Score(f64),
}

/// An identify request's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentifyRequest {
    /// Most candidates returned per probe.
    pub max_results: usize,
    /// Decision threshold.
    pub threshold: Threshold,
}

impl Default for IdentifyRequest {
    /// 30 results at FPIR 1 in 1,000 (MOSIP's defaults: maxResults 30, targetFPIR 30).
    fn default() -> Self {
        Self {
            max_results: 30,
            threshold: Threshold::Fpir(1e-3),
        }
    }
}

/// One comparison's contribution to a candidate's score (one per shared iris, face and finger).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ModalityScore {
    /// Which modality.
    pub modality: Modality,
    /// ISO finger position (1..=10) for [`Modality::Fingers`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finger: Option<u8>,
    /// Raw value: normalised Hamming distance (iris), cosine (face) or the minutiae matcher's
    /// similarity in `[0, 1]` (finger).
    pub raw: f64,
    /// Calibrated score, `-log10(FMR)`.
    pub score: f64,
}

/// A gallery record that matches a probe.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// The record's reference id.
    pub reference_id: ReferenceId,
    /// Fused calibrated score, `-log10` of the combined FMR.
    pub fused_score: f64,
    /// Per-modality scores.
    pub scores: Vec<ModalityScore>,
}

/// The answer for one probe.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IdentifyResult {
    /// Candidates at or above the threshold, best first, at most `max_results`.
    pub candidates: Vec<Candidate>,
    /// The threshold applied (fused score).
    pub threshold: f64,
    /// Live records of the search's scope that the probe was really compared with: those
    /// holding at least one searchable template of a modality (finger position, eye, face) the
    /// probe holds. Every such record was compared (see the module docs).
    pub records_searched: u64,
}

/// What limits one identify besides its request: the records it covers, and a flag that stops
/// it (set when whoever asked has gone away).
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchControl<'a> {
    /// The records searched.
    pub scope: Scope<'a>,
    /// Set to stop the search: it then fails with [`EngineError::Cancelled`] at the next chunk.
    pub cancel: Option<&'a AtomicBool>,
}

impl SearchControl<'_> {
    /// Fails if the search was cancelled.
    pub(crate) fn check(&self) -> Result<()> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(EngineError::Cancelled),
            _ => Ok(()),
        }
    }
}

/// Wall time of each stage of one identify batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Validating and preparing the probes (iris rotations, finger templates and codes).
    pub prepare: Duration,
    /// The first stage: every row of every modality scanned against every probe. Grows
    /// linearly with the gallery.
    pub first_stage: Duration,
    /// Exact scoring, fusion and ranking of the shortlisted records. Bounded by the shortlist
    /// sizes, not by the gallery.
    pub rerank: Duration,
}

/// A probe after validation, with what every pass needs.
pub(crate) struct PreparedProbe {
    pub(crate) record: Record,
    pub(crate) iris: [Option<abis_matchers::iris::PreparedProbe>; 2],
    /// The probe's fingers prepared for the full matcher, by position.
    pub(crate) fingers: Vec<(u8, PreparedFinger)>,
    /// Their first-stage codes.
    pub(crate) finger_set: FingerSet,
    /// Floor for a single modality's score to make the record a candidate.
    pub(crate) floor: f64,
}

impl Engine {
    /// Identifies one probe; see [`Engine::identify_batch`].
    pub fn identify(&self, probe: &Record, request: &IdentifyRequest) -> Result<IdentifyResult> {
        Ok(self
            .identify_batch(std::slice::from_ref(probe), request)?
            .remove(0))
    }

    /// Identifies a batch of probes against the whole gallery. A probe's own reference id is
    /// never returned as its candidate (so insert-then-identify de-dup works).
    pub fn identify_batch(
        &self,
        probes: &[Record],
        request: &IdentifyRequest,
    ) -> Result<Vec<IdentifyResult>> {
        self.identify_batch_timed(probes, request)
            .map(|(results, _)| results)
    }

    /// [`Engine::identify_batch`], also reporting how long each stage of the batch took (for
    /// benchmarks and operators asking where the time goes).
    pub fn identify_batch_timed(
        &self,
        probes: &[Record],
        request: &IdentifyRequest,
    ) -> Result<(Vec<IdentifyResult>, StageTimes)> {
        self.identify_batch_with(probes, request, SearchControl::default())
    }

    /// [`Engine::identify_batch_timed`] over the records of `control.scope` only (a shard node
    /// searches the slots it is asked for), stopping when `control.cancel` is set. An FPIR
    /// threshold is set from the live records in scope.
    pub fn identify_batch_with(
        &self,
        probes: &[Record],
        request: &IdentifyRequest,
        control: SearchControl<'_>,
    ) -> Result<(Vec<IdentifyResult>, StageTimes)> {
        let start = Instant::now();
        if request.max_results == 0 {
            return Err(EngineError::InvalidRequest(
                "max_results must be at least 1".into(),
            ));
        }
        let inner = self.read();
        inner.check_searchable()?;
        let threshold = match request.threshold {
            Threshold::Fpir(f) if f > 0.0 && f < 1.0 => {
                fusion::identify_threshold(f, inner.census.live(control.scope))
            }
            Threshold::Fpir(f) => {
                return Err(EngineError::InvalidRequest(format!(
                    "FPIR {f} outside (0, 1)"
                )))
            }
            Threshold::Score(s) if s.is_finite() && s >= 0.0 => s,
            Threshold::Score(s) => {
                return Err(EngineError::InvalidRequest(format!(
                    "threshold score {s} invalid"
                )))
            }
        };
        let prepared = probes
            .iter()
            .map(|p| inner.prepare(p, threshold))
            .collect::<Result<Vec<_>>>()?;
        let level = SimdLevel::get();
        let mut times = StageTimes {
            prepare: start.elapsed(),
            ..StageTimes::default()
        };
        let first_stage = Instant::now();
        let mut shortlist: Vec<Vec<u32>> = vec![Vec::new(); prepared.len()];
        for m in [Modality::IrisLeft, Modality::IrisRight] {
            for (probe, slots) in iris::first_pass(&inner, m, &prepared, level, control)? {
                shortlist[probe].extend(slots);
            }
        }
        for (probe, slots) in face::first_pass(&inner, &prepared, level, control)? {
            shortlist[probe].extend(slots);
        }
        let mut finger_slots: Vec<Vec<u32>> = vec![Vec::new(); prepared.len()];
        for (probe, slots) in finger::first_pass(&inner, &prepared, level, control)? {
            shortlist[probe].extend(&slots);
            finger_slots[probe] = slots;
        }
        times.first_stage = first_stage.elapsed();
        control.check()?;
        let rerank = Instant::now();
        use rayon::prelude::*;
        let results = prepared
            .par_iter()
            .zip(shortlist)
            .zip(finger_slots)
            .map(|((p, slots), mut finger_slots)| {
                finger_slots.sort_unstable();
                let candidates = candidates::fuse_and_rank(
                    &inner,
                    p,
                    slots,
                    &finger_slots,
                    threshold,
                    request.max_results,
                    level,
                )?;
                Ok(IdentifyResult {
                    candidates,
                    threshold,
                    records_searched: inner
                        .census
                        .compared(modality_mask(&p.record), control.scope),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        times.rerank = rerank.elapsed();
        Ok((results, times))
    }
}

impl Inner {
    fn prepare(&self, probe: &Record, threshold: f64) -> Result<PreparedProbe> {
        prepare_probe(&self.shape, &self.search, probe, threshold)
    }
}

/// A probe checked against `shape`, normalised and prepared for the kernels (iris rotations,
/// finger templates and codes), with its candidate floor for `threshold`.
fn prepare_probe(
    shape: &crate::config::GalleryConfig,
    search: &crate::config::SearchConfig,
    probe: &Record,
    threshold: f64,
) -> Result<PreparedProbe> {
    let mut record = probe.clone();
    record.validate_and_normalise(shape)?;
    let mut iris = [None, None];
    for m in [Modality::IrisLeft, Modality::IrisRight] {
        if let Some(t) = m.eye().and_then(|e| record.iris(e)) {
            let p = abis_matchers::iris::PreparedProbe::new(
                &shape.iris_layout,
                &t.code,
                &t.mask,
                &search.rotation,
            )
            .map_err(|e| EngineError::template(m.name(), e))?;
            iris[m.index()] = Some(p);
        }
    }
    let fingers = crate::gallery::prepared_fingers(&record);
    let finger_set = crate::gallery::finger_set_of(&fingers);
    // Every shared iris, the face and every finger is one comparison in the fusion.
    let comparisons = record.irises.len() + usize::from(record.face.is_some()) + fingers.len();
    if comparisons == 0 {
        return Err(EngineError::InvalidRequest(format!(
            "probe {} has no searchable template (fingers need at least {} minutiae)",
            record.reference_id,
            crate::gallery::MIN_SEARCH_MINUTIAE
        )));
    }
    let floor = fusion::candidate_floor(threshold, comparisons);
    Ok(PreparedProbe {
        record,
        iris,
        fingers,
        finger_set,
        floor,
    })
}

/// The first-pass driver shared by every modality: runs `kernel(first_row, rows, out)` (with
/// `out[p * rows + r]` the score of probe `p` against row `first_row + r`) over the modality's
/// segment in chunks of `chunk` rows, in parallel, and collects per probe the `(score, slot)` of
/// the live rows in scope that `keep(probe, score)` accepts: at most `cap` of them, the first
/// by `best_first`, kept bounded while collecting (a threshold every record passes costs
/// `cap` entries per probe, not the gallery). Checks `control` for cancellation per chunk.
#[allow(clippy::too_many_arguments)]
pub(crate) fn collect_hits(
    inner: &Inner,
    modality: Modality,
    chunk: usize,
    probes: usize,
    kernel: impl Fn(usize, usize, &mut [f32]) -> Result<()> + Sync,
    keep: impl Fn(usize, f32) -> bool + Sync,
    cap: usize,
    best_first: impl Fn(&(f32, u32), &(f32, u32)) -> std::cmp::Ordering + Sync + Copy,
    control: SearchControl<'_>,
) -> Result<Vec<Vec<(f32, u32)>>> {
    use rayon::prelude::*;
    let seg = inner.segment(modality);
    let total = seg.len();
    let cap = cap.max(1);
    (0..total.div_ceil(chunk))
        .into_par_iter()
        .map(|c| -> Result<Vec<Vec<(f32, u32)>>> {
            control.check()?;
            let first = c * chunk;
            let n = chunk.min(total - first);
            let mut scores = vec![0f32; probes * n];
            kernel(first, n, &mut scores)?;
            let mut local = vec![Vec::new(); probes];
            for (p, hits) in local.iter_mut().enumerate() {
                for (r, &s) in scores[p * n..(p + 1) * n].iter().enumerate() {
                    if keep(p, s) {
                        let slot = seg.meta(first + r).slot;
                        if inner.visible(slot, control.scope) {
                            hits.push((s, slot));
                        }
                    }
                }
                trim(hits, cap, best_first);
            }
            Ok(local)
        })
        .try_reduce(
            || vec![Vec::new(); probes],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| {
                    x.extend(y);
                    trim(x, cap, best_first);
                });
                Ok(a)
            },
        )
}

/// Keeps the `cap` first entries of `v` by `cmp` (unordered).
pub(crate) fn trim<T>(v: &mut Vec<T>, cap: usize, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if cap == 0 {
        v.clear();
    } else if v.len() > cap {
        v.select_nth_unstable_by(cap - 1, cmp);
        v.truncate(cap);
    }
}

/// Reinterprets 64-byte aligned little-endian f32 rows. Segments always satisfy the alignment;
/// anything else is a bug, reported as corruption rather than undefined behaviour.
pub(crate) fn as_f32(bytes: &[u8]) -> Result<&[f32]> {
    // SAFETY: every bit pattern is a valid f32, and `align_to` only yields the middle slice at a
    // correctly aligned address with a length of whole f32s.
    let (head, body, tail) = unsafe { bytes.align_to::<f32>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(EngineError::corruption(
            "face segment",
            "f32 rows are not 4-byte aligned",
        ));
    }
    Ok(body)
}

/// Reinterprets 64-byte aligned little-endian u64 rows (finger codes); see [`as_f32`].
pub(crate) fn as_u64(bytes: &[u8]) -> Result<&[u64]> {
    // SAFETY: every bit pattern is a valid u64, and `align_to` only yields the middle slice at a
    // correctly aligned address with a length of whole u64s.
    let (head, body, tail) = unsafe { bytes.align_to::<u64>() };
    if !head.is_empty() || !tail.is_empty() || cfg!(target_endian = "big") {
        return Err(EngineError::corruption(
            "finger segment",
            "u64 rows are not 8-byte aligned little-endian words",
        ));
    }
    Ok(body)
}

/// Reinterprets bytes as i8.
pub(crate) fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size, alignment and validity.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}
