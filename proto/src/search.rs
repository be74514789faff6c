//! Identify and verify parameters and results between the wire and the engine.
//!
//! Engine results are complete by construction (an engine that cannot search all its records
//! refuses to answer), so [`identify_result_to_proto`] marks them `COMPLETE`; only a
//! coordinator, which merges shards, produces `INCOMPLETE`. Reading results back
//! ([`TryFrom<v1::Candidate>`](Candidate)) is for the coordinator's merge; reading a
//! completeness is fail-closed ([`v1::Completeness::is_complete`]).

use crate::error::{ProtoError, Result};
use crate::record::reference_id;
use crate::v1;
use abis_engine::{
    Candidate, IdentifyRequest, IdentifyResult, InsertOutcome, Modality, ModalityScore,
    ReferenceId, Threshold, VerifyResult,
};

/// Most candidates one probe may ask for (`max_results`).
pub const MAX_RESULTS: usize = 1_000;

/// Most candidates one answer may carry in all (`max_results` times the probes): a full answer
/// stays well under the 64 MiB message limit whatever the candidates' scores hold.
pub const MAX_ANSWER_CANDIDATES: usize = 100_000;

/// The engine's identify parameters from the wire's (absent or zero fields take the defaults:
/// 30 results, FPIR 0.001). Ranges are checked by the engine.
pub fn identify_request(options: Option<&v1::IdentifyOptions>) -> IdentifyRequest {
    let default = IdentifyRequest::default();
    let Some(o) = options else { return default };
    IdentifyRequest {
        max_results: match o.max_results {
            0 => default.max_results,
            n => n as usize,
        },
        threshold: match o.threshold.as_ref().and_then(|t| t.kind) {
            None => default.threshold,
            Some(v1::threshold::Kind::Fpir(f)) => Threshold::Fpir(f),
            Some(v1::threshold::Kind::Score(s)) => Threshold::Score(s),
        },
    }
}

impl From<&IdentifyRequest> for v1::IdentifyOptions {
    fn from(r: &IdentifyRequest) -> Self {
        Self {
            max_results: u32::try_from(r.max_results).unwrap_or(u32::MAX),
            threshold: Some(v1::Threshold {
                kind: Some(match r.threshold {
                    Threshold::Fpir(f) => v1::threshold::Kind::Fpir(f),
                    Threshold::Score(s) => v1::threshold::Kind::Score(s),
                }),
            }),
            allow_incomplete: false,
        }
    }
}

/// The wire's modality (and finger position) of an engine score.
impl From<&ModalityScore> for v1::ModalityScore {
    fn from(s: &ModalityScore) -> Self {
        let modality = match s.modality {
            Modality::IrisLeft => v1::Modality::IrisLeft,
            Modality::IrisRight => v1::Modality::IrisRight,
            Modality::Face => v1::Modality::Face,
            Modality::Fingers => v1::Modality::Finger,
        };
        Self {
            modality: modality as i32,
            finger_position: s.finger.map(u32::from),
            raw: s.raw,
            score: s.score,
        }
    }
}

impl TryFrom<&v1::ModalityScore> for ModalityScore {
    type Error = ProtoError;

    fn try_from(s: &v1::ModalityScore) -> Result<Self> {
        let modality = match v1::Modality::try_from(s.modality) {
            Ok(v1::Modality::IrisLeft) => Modality::IrisLeft,
            Ok(v1::Modality::IrisRight) => Modality::IrisRight,
            Ok(v1::Modality::Face) => Modality::Face,
            Ok(v1::Modality::Finger) => Modality::Fingers,
            Ok(v1::Modality::Unspecified) | Err(_) => {
                return Err(ProtoError::InvalidEnum {
                    field: "modality_score.modality".into(),
                    value: s.modality,
                })
            }
        };
        let finger = match (modality, s.finger_position) {
            (Modality::Fingers, Some(p)) => Some(crate::finger::finger_position(p)?),
            (Modality::Fingers, None) => {
                return Err(ProtoError::missing("modality_score.finger_position"))
            }
            (_, Some(p)) => {
                return Err(ProtoError::OutOfRange {
                    field: "modality_score.finger_position".into(),
                    reason: format!("position {p} given for a modality other than finger"),
                })
            }
            (_, None) => None,
        };
        Ok(Self {
            modality,
            finger,
            raw: s.raw,
            score: s.score,
        })
    }
}

impl From<&Candidate> for v1::Candidate {
    fn from(c: &Candidate) -> Self {
        Self {
            reference_id: c.reference_id.as_str().to_owned(),
            fused_score: c.fused_score,
            scores: c.scores.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&v1::Candidate> for Candidate {
    type Error = ProtoError;

    fn try_from(c: &v1::Candidate) -> Result<Self> {
        Ok(Self {
            reference_id: reference_id(c.reference_id.clone())?,
            fused_score: c.fused_score,
            scores: c
                .scores
                .iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
        })
    }
}

/// An engine result on the wire for the probe `probe`, marked complete (see the module docs).
pub fn identify_result_to_proto(
    probe: &ReferenceId,
    result: &IdentifyResult,
) -> v1::IdentifyResult {
    v1::IdentifyResult {
        probe_reference_id: probe.as_str().to_owned(),
        candidates: result.candidates.iter().map(Into::into).collect(),
        threshold: result.threshold,
        records_searched: result.records_searched,
        completeness: Some(v1::Completeness::complete()),
    }
}

impl v1::Completeness {
    /// A `COMPLETE` verdict.
    pub fn complete() -> Self {
        Self {
            status: v1::completeness::Status::Complete as i32,
            unsearched: Vec::new(),
        }
    }

    /// An `INCOMPLETE` verdict listing what was not searched.
    pub fn incomplete(unsearched: Vec<v1::UnsearchedPart>) -> Self {
        Self {
            status: v1::completeness::Status::Incomplete as i32,
            unsearched,
        }
    }

    /// True only for `COMPLETE`: an unset or unknown status reads as incomplete (fail closed).
    pub fn is_complete(&self) -> bool {
        self.status == v1::completeness::Status::Complete as i32
    }
}

impl v1::IdentifyResult {
    /// Whether the result covers the whole gallery; false when the completeness is absent.
    pub fn is_complete(&self) -> bool {
        self.completeness
            .as_ref()
            .is_some_and(v1::Completeness::is_complete)
    }
}

impl From<&VerifyResult> for v1::VerifyResponse {
    fn from(r: &VerifyResult) -> Self {
        Self {
            is_match: r.is_match,
            fused_score: r.fused_score,
            threshold: r.threshold,
            scores: r.scores.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&v1::VerifyResponse> for VerifyResult {
    type Error = ProtoError;

    fn try_from(r: &v1::VerifyResponse) -> Result<Self> {
        Ok(Self {
            is_match: r.is_match,
            fused_score: r.fused_score,
            threshold: r.threshold,
            scores: r
                .scores
                .iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
        })
    }
}

impl From<InsertOutcome> for v1::InsertOutcome {
    fn from(o: InsertOutcome) -> Self {
        match o {
            InsertOutcome::Inserted => Self::Inserted,
            InsertOutcome::AlreadyPresent => Self::AlreadyPresent,
        }
    }
}
