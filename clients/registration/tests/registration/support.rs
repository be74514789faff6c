//! Shared fixtures: the synthetic population, a small engine, and a scripted de-dup backend
//! (a test double of the service, whose answers each test chooses).

use abis_datasets::population::Population;
use abis_engine::{Engine, EngineOptions, ReferenceId};
use abis_proto::v1;
use abis_registration::{Applicant, DedupBackend, DedupError, RetryPolicy};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Person indices of never-enrolled applicants.
pub const NEW_PEOPLE_BASE: u64 = 1 << 40;

/// The tests' population: Daugman irises and 512-d faces, optionally fingers.
pub fn population(fingers: u8) -> Population {
    Population::new(0x7e57_5eed).with_fingers(fingers)
}

/// An engine in `dir` with people `0..people` enrolled.
pub fn engine_with(dir: &Path, pop: &Population, people: u64) -> Engine {
    let options = EngineOptions {
        unsafe_no_sync: true,
        ..Default::default()
    };
    let engine = Engine::open(dir, options).expect("open engine");
    let records = (0..people).map(|p| pop.enrolment(p)).collect();
    engine.insert_batch(records).expect("enrol");
    engine
}

/// Capture `capture` of person `person` as an applicant with packet id `packet`.
pub fn applicant(pop: &Population, person: u64, capture: u64, packet: &str) -> Applicant {
    let record = pop.capture(person, capture, ReferenceId::new(packet).expect("id"));
    let layout = abis_engine::GalleryConfig::default().iris_layout;
    Applicant::from_record(abis_proto::record_to_proto(&record, &layout)).expect("valid")
}

/// A tiny valid applicant (one face) for tests that never reach an engine.
pub fn face_applicant(packet: &str) -> Applicant {
    let record = v1::Record {
        reference_id: packet.to_owned(),
        face: Some(v1::Face {
            embedding: vec![0.5, -0.25, 1.0, 0.125],
            image: Vec::new(),
        }),
        ..Default::default()
    };
    Applicant::from_record(record).expect("valid")
}

/// Fast retries for tests: 4 attempts, 20 ms doubling, 50% jitter, due again at once.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        multiplier: 2.0,
        max_backoff: Duration::from_millis(200),
        jitter: 0.5,
        retry_later: Duration::ZERO,
    }
}

/// One scripted answer.
#[derive(Clone)]
pub enum Answer {
    /// The job fails with this error.
    Fail(DedupError),
    /// The job is DONE; each applicant gets the candidates listed for it (none if absent),
    /// with a COMPLETE search.
    Complete(HashMap<String, Vec<v1::Candidate>>),
    /// The job is DONE but every search is INCOMPLETE.
    Incomplete,
    /// The job is DONE but the results carry no completeness at all.
    NoCompleteness,
}

/// A call the scripted backend received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The job id.
    pub job_id: String,
    /// The applicants' reference ids.
    pub applicants: Vec<String>,
    /// When.
    pub at: Instant,
}

/// A de-dup backend answering from a script; the last answer repeats once the script runs out.
pub struct Scripted {
    script: Mutex<VecDeque<Answer>>,
    last: Mutex<Answer>,
    /// Every call, in order.
    pub calls: Mutex<Vec<Call>>,
}

impl Scripted {
    /// A backend giving `answers` in order.
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        let script: VecDeque<Answer> = answers.into_iter().collect();
        let last = script.back().cloned().expect("at least one answer");
        Self {
            script: Mutex::new(script),
            last: Mutex::new(last),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Replaces the script.
    pub fn set(&self, answers: impl IntoIterator<Item = Answer>) {
        let script: VecDeque<Answer> = answers.into_iter().collect();
        *self.last.lock().unwrap() = script.back().cloned().expect("an answer");
        *self.script.lock().unwrap() = script;
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// A candidate with one face score.
pub fn candidate(reference_id: &str, fused: f64) -> v1::Candidate {
    v1::Candidate {
        reference_id: reference_id.to_owned(),
        fused_score: fused,
        scores: vec![v1::ModalityScore {
            modality: v1::Modality::Face as i32,
            finger_position: None,
            raw: 0.8,
            score: fused,
        }],
    }
}

fn result(
    id: &str,
    candidates: Vec<v1::Candidate>,
    completeness: Option<v1::Completeness>,
) -> v1::ApplicantResult {
    v1::ApplicantResult {
        reference_id: id.to_owned(),
        insert_outcome: v1::InsertOutcome::Inserted as i32,
        identify: Some(v1::IdentifyResult {
            probe_reference_id: id.to_owned(),
            candidates,
            threshold: 9.0,
            records_searched: 1000,
            completeness,
        }),
    }
}

impl DedupBackend for Scripted {
    fn run_job(
        &self,
        job_id: &str,
        applicants: &[v1::Record],
        _options: &v1::IdentifyOptions,
    ) -> impl Future<Output = Result<Vec<v1::ApplicantResult>, DedupError>> + Send {
        let ids: Vec<String> = applicants.iter().map(|r| r.reference_id.clone()).collect();
        self.calls.lock().unwrap().push(Call {
            job_id: job_id.to_owned(),
            applicants: ids.clone(),
            at: Instant::now(),
        });
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.last.lock().unwrap().clone());
        let out = match answer {
            Answer::Fail(e) => Err(e),
            Answer::Complete(mut by_id) => Ok(ids
                .iter()
                .map(|id| {
                    let c = by_id.remove(id).unwrap_or_default();
                    result(id, c, Some(v1::Completeness::complete()))
                })
                .collect()),
            Answer::Incomplete => Ok(ids
                .iter()
                .map(|id| {
                    result(
                        id,
                        Vec::new(),
                        Some(v1::Completeness::incomplete(Vec::new())),
                    )
                })
                .collect()),
            Answer::NoCompleteness => {
                Ok(ids.iter().map(|id| result(id, Vec::new(), None)).collect())
            }
        };
        async move { out }
    }
}

/// A DONE answer with no candidate for anyone.
pub fn all_unique() -> Answer {
    Answer::Complete(HashMap::new())
}

/// An UNAVAILABLE failure.
pub fn unavailable() -> Answer {
    Answer::Fail(DedupError::Unavailable("shard 2 down".into()))
}
