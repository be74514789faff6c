//! The manual-adjudication queue: cases a human must decide, in the registration store.
//!
//! A case opens when a complete search found candidates ([`CaseKind::Duplicate`]) or when a
//! packet ran out of retries without a complete search ([`CaseKind::Incomplete`]); it is opened
//! in the same durable write that records the packet's state. A human then decides:
//! - a Duplicate case: [`Decision::SamePerson`] with one of the case's candidates (link the
//!   packet to that registration / UIN) or [`Decision::DifferentPeople`] (issue a new UIN);
//! - an Incomplete case: only [`Decision::Resubmit`]. Nobody can declare an applicant unique
//!   without a complete search, so "different people" is refused there.
//!
//! Decisions are final: the same decision again is a no-op (a CLI retried after a crash),
//! another one is [`Error::AlreadyDecided`]. A decided case leaves the open list and waits in
//! the action list until the caller reports that it acted on it ([`Action`]: issue a UIN, link
//! to an existing reference, resubmit) with [`RegistrationStore::mark_acted`]. A packet whose
//! retry later succeeds has its open Incomplete case closed as superseded.

use crate::error::{Error, Result};
use crate::store::{encode, now_ms, RegistrationStore, ACTIONS, CASES, OPEN_CASES};
use crate::verdict::CandidateMatch;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

/// Why a case was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A complete search found candidates.
    Duplicate,
    /// No complete search could be made after every retry.
    Incomplete,
}

/// A human's decision on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The applicant is the person registered under `reference_id` (one of the candidates).
    SamePerson {
        /// The existing registration.
        reference_id: String,
    },
    /// None of the candidates is the applicant.
    DifferentPeople,
    /// Run the de-dup search again (the only decision on an Incomplete case).
    Resubmit,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SamePerson { reference_id } => write!(f, "same person as {reference_id}"),
            Self::DifferentPeople => f.write_str("different people"),
            Self::Resubmit => f.write_str("resubmit"),
        }
    }
}

/// What the caller must do after a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Issue a new UIN for the packet.
    IssueUin {
        /// The packet.
        packet_id: String,
    },
    /// Link the packet to the existing registration (and its UIN).
    LinkToExisting {
        /// The packet.
        packet_id: String,
        /// The existing registration's reference id.
        reference_id: String,
    },
    /// Run the packet's de-dup again ([`crate::Registrar::resubmit_decided`] does it).
    Resubmit {
        /// The packet.
        packet_id: String,
    },
}

/// Where a case stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CaseStatus {
    /// Waiting for a human.
    Open,
    /// Decided.
    Decided {
        /// The decision.
        decision: Decision,
        /// Who decided, as the caller named them.
        decided_by: String,
        /// When (ms since the epoch).
        decided_at_ms: u64,
        /// When the caller reported acting on it, if it has.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acted_at_ms: Option<u64>,
    },
    /// Closed without a decision because a later search settled the packet.
    Superseded {
        /// When (ms since the epoch).
        at_ms: u64,
        /// What settled it.
        reason: String,
    },
}

/// An adjudication case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// `<packet id>#<attempt>`: unique, and the same if the opening write is replayed.
    pub case_id: String,
    /// The applicant's packet.
    pub packet_id: String,
    /// Why it was opened.
    pub kind: CaseKind,
    /// The candidates with their scores, best first (empty for most Incomplete cases).
    pub candidates: Vec<CandidateMatch>,
    /// For Incomplete cases, the last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was opened (ms since the epoch).
    pub opened_at_ms: u64,
    /// Where it stands.
    pub status: CaseStatus,
}

impl Case {
    /// A new open case.
    pub(crate) fn open(
        packet_id: &str,
        attempt: u32,
        kind: CaseKind,
        candidates: Vec<CandidateMatch>,
        reason: Option<String>,
    ) -> Self {
        Self {
            case_id: format!("{packet_id}#{attempt}"),
            packet_id: packet_id.to_owned(),
            kind,
            candidates,
            reason,
            opened_at_ms: now_ms(),
            status: CaseStatus::Open,
        }
    }

    /// The action a decision on this case calls for.
    pub fn action(&self, decision: &Decision) -> Action {
        let packet_id = self.packet_id.clone();
        match decision {
            Decision::SamePerson { reference_id } => Action::LinkToExisting {
                packet_id,
                reference_id: reference_id.clone(),
            },
            Decision::DifferentPeople => Action::IssueUin { packet_id },
            Decision::Resubmit => Action::Resubmit { packet_id },
        }
    }

    /// Checks that `decision` is allowed on this case (see the module docs).
    fn check(&self, decision: &Decision) -> Result<()> {
        let refuse = |reason: String| {
            Err(Error::DecisionNotAllowed {
                case_id: self.case_id.clone(),
                reason,
            })
        };
        match (self.kind, decision) {
            (CaseKind::Incomplete, Decision::Resubmit) => Ok(()),
            (CaseKind::Incomplete, d) => refuse(format!(
                "the search was incomplete; only resubmit is allowed, not {d}"
            )),
            (CaseKind::Duplicate, Decision::Resubmit) => {
                refuse("the search was complete; decide same person or different people".into())
            }
            (CaseKind::Duplicate, Decision::DifferentPeople) => Ok(()),
            (CaseKind::Duplicate, Decision::SamePerson { reference_id }) => {
                if self
                    .candidates
                    .iter()
                    .any(|c| &c.reference_id == reference_id)
                {
                    Ok(())
                } else {
                    refuse(format!(
                        "{reference_id} is not one of the case's candidates"
                    ))
                }
            }
        }
    }
}

impl RegistrationStore {
    /// Adds an opened case to `batch` (with its open-list entry).
    pub(crate) fn put_new_case(&self, batch: &mut WriteBatch, case: &Case) {
        batch.put_cf(self.cf(CASES), case.case_id.as_bytes(), encode(case));
        batch.put_cf(self.cf(OPEN_CASES), case.case_id.as_bytes(), []);
    }

    /// Adds the closing of open case `case_id` as superseded to `batch` (nothing if it is not
    /// open).
    pub(crate) fn supersede_case(
        &self,
        batch: &mut WriteBatch,
        case_id: &str,
        reason: String,
    ) -> Result<()> {
        let Some(mut case) = self.case(case_id)? else {
            return Ok(());
        };
        if case.status != CaseStatus::Open {
            return Ok(());
        }
        case.status = CaseStatus::Superseded {
            at_ms: now_ms(),
            reason,
        };
        batch.put_cf(self.cf(CASES), case_id.as_bytes(), encode(&case));
        batch.delete_cf(self.cf(OPEN_CASES), case_id.as_bytes());
        Ok(())
    }

    /// The case `case_id`.
    pub fn case(&self, case_id: &str) -> Result<Option<Case>> {
        self.read(CASES, case_id)
    }

    /// Every case, open or closed, by case id.
    pub fn cases(&self) -> Result<Vec<Case>> {
        self.scan(CASES)
    }

    /// The open cases, oldest first.
    pub fn open_cases(&self) -> Result<Vec<Case>> {
        self.cases_in(OPEN_CASES)
    }

    fn cases_in(&self, index: &str) -> Result<Vec<Case>> {
        let mut cases = Vec::new();
        for id in self.keys(index)? {
            let case = self.case(&id)?.ok_or_else(|| Error::DataCorruption {
                key: id.clone(),
                reason: format!("{index} lists a case that does not exist"),
            })?;
            cases.push(case);
        }
        cases.sort_by(|a, b| (a.opened_at_ms, &a.case_id).cmp(&(b.opened_at_ms, &b.case_id)));
        Ok(cases)
    }

    /// Records `decision` on case `case_id` by `decided_by`, and returns what the caller must
    /// do. Deciding again the same way returns the same action; a different decision, a
    /// decision the case does not allow, or a superseded case is an error.
    pub fn decide(&self, case_id: &str, decision: Decision, decided_by: &str) -> Result<Action> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut case = self
            .case(case_id)?
            .ok_or_else(|| Error::UnknownCase(case_id.to_owned()))?;
        match &case.status {
            CaseStatus::Decided { decision: d, .. } if *d == decision => {
                return Ok(case.action(d));
            }
            CaseStatus::Decided { decision: d, .. } => {
                return Err(Error::AlreadyDecided {
                    case_id: case_id.to_owned(),
                    existing: d.to_string(),
                })
            }
            CaseStatus::Superseded { reason, .. } => {
                return Err(Error::DecisionNotAllowed {
                    case_id: case_id.to_owned(),
                    reason: format!("the case was superseded ({reason})"),
                })
            }
            CaseStatus::Open => {}
        }
        case.check(&decision)?;
        let action = case.action(&decision);
        case.status = CaseStatus::Decided {
            decision,
            decided_by: decided_by.to_owned(),
            decided_at_ms: now_ms(),
            acted_at_ms: None,
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CASES), case_id.as_bytes(), encode(&case));
        batch.delete_cf(self.cf(OPEN_CASES), case_id.as_bytes());
        batch.put_cf(self.cf(ACTIONS), case_id.as_bytes(), []);
        if let Some(mut registration) = self.get(&case.packet_id)? {
            if registration.open_case.as_deref() == Some(case_id) {
                registration.open_case = None;
                registration.updated_at_ms = now_ms();
                self.put_registration(&mut batch, &registration);
            }
        }
        self.commit(batch)?;
        Ok(action)
    }

    /// Decided cases whose action the caller has not yet reported done, oldest first, with
    /// their actions.
    pub fn pending_actions(&self) -> Result<Vec<(Case, Action)>> {
        Ok(self
            .cases_in(ACTIONS)?
            .into_iter()
            .filter_map(|case| match &case.status {
                CaseStatus::Decided { decision, .. } => {
                    let action = case.action(decision);
                    Some((case, action))
                }
                _ => None,
            })
            .collect())
    }

    /// Records that the caller acted on decided case `case_id` (idempotent).
    pub fn mark_acted(&self, case_id: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut case = self
            .case(case_id)?
            .ok_or_else(|| Error::UnknownCase(case_id.to_owned()))?;
        let CaseStatus::Decided { acted_at_ms, .. } = &mut case.status else {
            return Err(Error::DecisionNotAllowed {
                case_id: case_id.to_owned(),
                reason: "the case is not decided".into(),
            });
        };
        if acted_at_ms.is_some() {
            return Ok(());
        }
        *acted_at_ms = Some(now_ms());
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CASES), case_id.as_bytes(), encode(&case));
        batch.delete_cf(self.cf(ACTIONS), case_id.as_bytes());
        self.commit(batch)
    }
}
