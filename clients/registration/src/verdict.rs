//! Reading one applicant's de-dup result, fail closed.
//!
//! "No candidate" is what issues a new identity, so [`verdict_of`] answers
//! [`Verdict::Unique`] only for a result that has an identify, whose completeness is
//! `COMPLETE` (an absent or unset completeness reads as incomplete) and that names no candidate
//! other than the applicant itself. The API promises that every returned candidate is at or
//! above the threshold, so any candidate makes the applicant a [`Verdict::Duplicate`]; the
//! registrar does not second-guess the service's threshold downwards. Anything else is an
//! error the registrar retries: an incomplete search is [`DedupError::Incomplete`], a missing
//! identify or a result for another probe is a [`DedupError::Service`] fault.
//!
//! Candidates are kept in this crate's own serde types ([`CandidateMatch`]) so that what is
//! stored durably does not depend on the wire's encoding.

use crate::backend::DedupError;
use abis_proto::v1;
use serde::{Deserialize, Serialize};

/// The modality of a score, as stored and shown to an adjudicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModalityName {
    /// Left iris.
    IrisLeft,
    /// Right iris.
    IrisRight,
    /// Face.
    Face,
    /// One finger (see [`ModalityMatch::finger_position`]).
    Finger,
    /// A modality this version does not know (a newer server).
    Unknown,
}

impl ModalityName {
    /// The kebab-case name (`iris-left`, `face`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IrisLeft => "iris-left",
            Self::IrisRight => "iris-right",
            Self::Face => "face",
            Self::Finger => "finger",
            Self::Unknown => "unknown",
        }
    }
}

/// One modality's contribution to a candidate's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityMatch {
    /// Which modality.
    pub modality: ModalityName,
    /// ISO finger position for fingers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finger_position: Option<u32>,
    /// Raw matcher value (iris: normalised Hamming distance; face: cosine; finger: similarity).
    pub raw: f64,
    /// Calibrated score, `-log10` of the false match rate.
    pub score: f64,
}

/// A gallery record that matched an applicant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateMatch {
    /// The existing record's reference id (its registration's packet id).
    pub reference_id: String,
    /// Fused calibrated score.
    pub fused_score: f64,
    /// Per-modality scores.
    pub scores: Vec<ModalityMatch>,
}

impl From<&v1::Candidate> for CandidateMatch {
    fn from(c: &v1::Candidate) -> Self {
        Self {
            reference_id: c.reference_id.clone(),
            fused_score: c.fused_score,
            scores: c
                .scores
                .iter()
                .map(|s| ModalityMatch {
                    modality: match v1::Modality::try_from(s.modality) {
                        Ok(v1::Modality::IrisLeft) => ModalityName::IrisLeft,
                        Ok(v1::Modality::IrisRight) => ModalityName::IrisRight,
                        Ok(v1::Modality::Face) => ModalityName::Face,
                        Ok(v1::Modality::Finger) => ModalityName::Finger,
                        _ => ModalityName::Unknown,
                    },
                    finger_position: s.finger_position,
                    raw: s.raw,
                    score: s.score,
                })
                .collect(),
        }
    }
}

/// What a complete de-dup search said about one applicant.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The whole gallery was searched and nobody matched.
    Unique,
    /// These records matched, best first.
    Duplicate(Vec<CandidateMatch>),
}

/// The verdict of one applicant's result (see the module docs).
pub fn verdict_of(result: &v1::ApplicantResult) -> Result<Verdict, DedupError> {
    let id = &result.reference_id;
    let identify = result
        .identify
        .as_ref()
        .ok_or_else(|| DedupError::Service(format!("no identify result for {id}")))?;
    if !identify.probe_reference_id.is_empty() && identify.probe_reference_id != *id {
        return Err(DedupError::Service(format!(
            "result for {id} carries the search of {}",
            identify.probe_reference_id
        )));
    }
    if !identify.is_complete() {
        let detail = identify
            .completeness
            .as_ref()
            .map(|c| {
                let parts: Vec<String> = c
                    .unsearched
                    .iter()
                    .map(|p| format!("{} slot range(s): {}", p.slots.len(), p.detail))
                    .collect();
                if parts.is_empty() {
                    "completeness not COMPLETE".to_owned()
                } else {
                    parts.join("; ")
                }
            })
            .unwrap_or_else(|| "no completeness reported".to_owned());
        return Err(DedupError::Incomplete {
            reference_id: id.clone(),
            detail,
        });
    }
    let candidates: Vec<CandidateMatch> = identify
        .candidates
        .iter()
        .filter(|c| c.reference_id != *id)
        .map(CandidateMatch::from)
        .collect();
    Ok(if candidates.is_empty() {
        Verdict::Unique
    } else {
        Verdict::Duplicate(candidates)
    })
}
