//! The registrar: applicants in, durable verdicts out.
//!
//! For each batch of applicants (at most `batch_size`):
//! 1. Pick the attempt number: a batch whose packets are all `Pending` under the job id of
//!    their last attempt is a crash-retry and reuses that id (the service answers with the
//!    stored job); otherwise it is one more than the packets' highest attempt, a fresh id.
//! 2. Store every applicant's record and mark it `Pending` (synced), then run the job.
//! 3. Read each applicant's result fail closed ([`crate::verdict`]) and record `Unique` or
//!    `Duplicate` (opening a Duplicate case in the same write). Applicants whose search was
//!    incomplete, and whole batches that hit a retryable error, are retried after a jittered
//!    exponential backoff under a new job id, up to `max_attempts` jobs per call.
//! 4. A permanent rejection that names an applicant fails that applicant (`Failed`, not
//!    retryable) and the rest of the batch goes on at once; one that names none fails the
//!    batch. Applicants still without a verdict after the last attempt are left `Failed`
//!    (retryable, due after `retry_later`) with an Incomplete case: never `Unique`.
//!
//! [`Registrar::retry_failed`] re-runs the retryable failures that are due (an operator's
//! command or a timer), [`Registrar::resubmit_decided`] the packets an adjudicator sent back.

use crate::adjudication::{Action, Case, CaseKind};
use crate::applicant::check_record;
use crate::backend::{DedupBackend, DedupError};
use crate::error::{Error, Result};
use crate::retry::{job_id, RetryPolicy};
use crate::store::{now_ms, PacketState, Registration, RegistrationStore, StateFilter};
use crate::verdict::{verdict_of, Verdict};
use crate::Applicant;
use abis_proto::v1;
use rocksdb::WriteBatch;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How a registrar runs jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrarConfig {
    /// Identify parameters of every job (threshold, result count); `allow_incomplete` is
    /// always sent false.
    pub options: v1::IdentifyOptions,
    /// Retries.
    pub retry: RetryPolicy,
    /// Most applicants per de-dup job (1 to 1,000).
    pub batch_size: usize,
    /// Most images (fingers, irises, faces) per de-dup job (the service refuses a call with more
    /// than its `--max-images`, 100 by default); a job also stays under [`MAX_JOB_BYTES`].
    pub max_images_per_job: usize,
}

/// Largest encoded job a registrar sends (half the services' default message limit), so that
/// applicants sent as images never make a call the service refuses for its size.
pub const MAX_JOB_BYTES: usize = 32 << 20;

impl Default for RegistrarConfig {
    /// The service's default threshold (FPIR 0.001) and result count, [`RetryPolicy`]'s
    /// defaults, 100 applicants and 100 finger images per job.
    fn default() -> Self {
        Self {
            options: v1::IdentifyOptions::default(),
            retry: RetryPolicy::default(),
            batch_size: 100,
            max_images_per_job: 100,
        }
    }
}

/// Registers applicants against a de-dup backend, recording outcomes in a store.
pub struct Registrar<B> {
    backend: B,
    store: Arc<RegistrationStore>,
    config: RegistrarConfig,
}

impl<B: DedupBackend> Registrar<B> {
    /// A registrar over `backend` recording in `store`.
    pub fn new(backend: B, store: Arc<RegistrationStore>, mut config: RegistrarConfig) -> Self {
        config.options.allow_incomplete = false;
        config.batch_size = config.batch_size.clamp(1, abis_proto::MAX_BATCH_ITEMS);
        config.max_images_per_job = config.max_images_per_job.max(10);
        config.retry.max_attempts = config.retry.max_attempts.max(1);
        Self {
            backend,
            store,
            config,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<RegistrationStore> {
        &self.store
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Registers `applicants` and returns each one's registration, in input order.
    ///
    /// Packets that already have a verdict are returned as recorded, without a new job (their
    /// stored record must equal the one given: [`Error::PacketContentChanged`] otherwise);
    /// pending and failed ones are (re)submitted. Errors are the store's or the input's
    /// (a packet twice, an invalid record); the service's errors become `Failed` outcomes.
    pub async fn register(&self, applicants: &[Applicant]) -> Result<Vec<Registration>> {
        let mut seen = HashSet::new();
        for a in applicants {
            if !seen.insert(a.packet_id.as_str()) {
                return Err(Error::DuplicatePacket(a.packet_id.clone()));
            }
            if a.record.reference_id != a.packet_id {
                let reason = format!("record reference id {} differs", a.record.reference_id);
                return Err(Error::applicant(&a.packet_id, reason));
            }
            check_record(&a.record)?;
        }
        let mut to_run = Vec::new();
        for a in applicants {
            match self.store.get(&a.packet_id)? {
                Some(r) if r.state.is_final() => {
                    if !self.store.is_settled_content(&a.packet_id, &a.record)? {
                        return Err(Error::PacketContentChanged(a.packet_id.clone()));
                    }
                }
                _ => to_run.push(a.clone()),
            }
        }
        self.run(to_run).await?;
        self.read_back(applicants.iter().map(|a| a.packet_id.as_str()))
    }

    /// Re-runs every retryable `Failed` packet whose retry is due, from its stored record.
    pub async fn retry_failed(&self) -> Result<Vec<Registration>> {
        let now = now_ms();
        let due: Vec<String> = self
            .store
            .list(StateFilter::Failed)?
            .into_iter()
            .filter(|r| match r.state {
                PacketState::Failed {
                    retryable: true,
                    retry_after_ms,
                    ..
                } => retry_after_ms.is_none_or(|t| t <= now),
                _ => false,
            })
            .map(|r| r.packet_id)
            .collect();
        self.retry(&due).await
    }

    /// Re-runs the given packets (failed or pending, retryable or not) from their stored
    /// records; packets with a verdict are returned as they are.
    pub async fn retry(&self, packet_ids: &[String]) -> Result<Vec<Registration>> {
        let mut to_run = Vec::new();
        for id in packet_ids {
            let registration = self
                .store
                .get(id)?
                .ok_or_else(|| Error::UnknownPacket(id.clone()))?;
            if registration.state.is_final() {
                continue;
            }
            let applicant = self
                .store
                .applicant(id)?
                .ok_or_else(|| Error::DataCorruption {
                    key: id.clone(),
                    reason: "registration without its applicant record".into(),
                })?;
            to_run.push(applicant);
        }
        self.run(to_run).await?;
        self.read_back(packet_ids.iter().map(String::as_str))
    }

    /// Runs the packets of every decided-but-not-acted-on Resubmit decision again and marks
    /// those decisions acted on; returns the packets' registrations.
    pub async fn resubmit_decided(&self) -> Result<Vec<Registration>> {
        let mut packets = Vec::new();
        let mut cases = Vec::new();
        for (case, action) in self.store.pending_actions()? {
            if let Action::Resubmit { packet_id } = action {
                packets.push(packet_id);
                cases.push(case.case_id);
            }
        }
        let out = self.retry(&packets).await?;
        for case_id in cases {
            self.store.mark_acted(&case_id)?;
        }
        Ok(out)
    }

    fn read_back<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Result<Vec<Registration>> {
        ids.map(|id| {
            self.store
                .get(id)?
                .ok_or_else(|| Error::UnknownPacket(id.to_owned()))
        })
        .collect()
    }

    async fn run(&self, applicants: Vec<Applicant>) -> Result<()> {
        for batch in batches(
            applicants,
            self.config.batch_size,
            self.config.max_images_per_job,
        ) {
            self.run_batch(batch).await?;
        }
        Ok(())
    }

    /// Steps 1-4 of the module docs for one batch.
    async fn run_batch(&self, mut group: Vec<Applicant>) -> Result<()> {
        let policy = &self.config.retry;
        let mut failures = 0;
        // Only the first job of a call may resume an interrupted one; after a failure in this
        // call the packets are Pending under the failed job's id, and need a fresh one.
        let mut may_resume = true;
        while !group.is_empty() {
            let (attempt, job) = self.begin_attempt(&group, may_resume)?;
            may_resume = false;
            let records: Vec<v1::Record> = group.iter().map(|a| a.record.clone()).collect();
            tracing::info!(job = %job, attempt, applicants = group.len(), "de-dup job");
            let answer = self
                .backend
                .run_job(&job, &records, &self.config.options)
                .await;
            let retry: Vec<(Applicant, DedupError)> = match answer {
                Ok(results) => self.record_results(group, results, &job)?,
                Err(e) if e.is_retryable() => group.into_iter().map(|a| (a, e.clone())).collect(),
                Err(e) => {
                    let named = e
                        .rejected_reference_id()
                        .filter(|id| group.iter().any(|a| a.packet_id == *id))
                        .map(str::to_owned);
                    tracing::warn!(job = %job, "de-dup job rejected: {e}");
                    let (bad, rest): (Vec<_>, Vec<_>) = group
                        .into_iter()
                        .partition(|a| named.as_ref().is_none_or(|id| a.packet_id == *id));
                    self.record_failures(bad.into_iter().map(|a| (a, e.clone())), false)?;
                    group = rest;
                    continue;
                }
            };
            if retry.is_empty() {
                break;
            }
            failures += 1;
            if failures >= policy.max_attempts {
                tracing::warn!(job = %job, packets = retry.len(), "giving up for now");
                self.record_failures(retry, true)?;
                break;
            }
            let wait = policy.backoff(failures, &job);
            tracing::info!(job = %job, ?wait, "retrying {} packet(s): {}", retry.len(), retry[0].1);
            tokio::time::sleep(wait).await;
            group = retry.into_iter().map(|(a, _)| a).collect();
        }
        Ok(())
    }

    /// Chooses the attempt number and job id (step 1) and records the packets Pending.
    fn begin_attempt(&self, group: &[Applicant], may_resume: bool) -> Result<(u32, String)> {
        let _guard = self.store.lock.lock().unwrap_or_else(|e| e.into_inner());
        let ids = || group.iter().map(|a| a.packet_id.as_str());
        let current: Vec<Option<Registration>> =
            ids().map(|id| self.store.get(id)).collect::<Result<_>>()?;
        let resumed = current.first().filter(|_| may_resume).and_then(|first| {
            let first = first.as_ref()?;
            let same = current.iter().all(|r| {
                r.as_ref().is_some_and(|r| {
                    r.state == PacketState::Pending
                        && r.attempts == first.attempts
                        && r.last_job_id == first.last_job_id
                })
            });
            let job = job_id(ids(), first.attempts);
            (same && first.last_job_id.as_deref() == Some(job.as_str()))
                .then_some((first.attempts, job))
        });
        let (attempt, job) = resumed.unwrap_or_else(|| {
            let highest = current.iter().flatten().map(|r| r.attempts).max();
            let attempt = highest.unwrap_or(0) + 1;
            (attempt, job_id(ids(), attempt))
        });
        let mut batch = WriteBatch::default();
        for (a, existing) in group.iter().zip(current) {
            self.store.put_applicant(&mut batch, a);
            let registration = Registration {
                packet_id: a.packet_id.clone(),
                state: PacketState::Pending,
                attempts: attempt,
                last_job_id: Some(job.clone()),
                open_case: existing.and_then(|r| r.open_case),
                updated_at_ms: now_ms(),
            };
            self.store.put_registration(&mut batch, &registration);
        }
        self.store.commit(batch)?;
        Ok((attempt, job))
    }

    /// Records the verdicts of a finished job (step 3); returns the applicants to retry.
    fn record_results(
        &self,
        group: Vec<Applicant>,
        results: Vec<v1::ApplicantResult>,
        job: &str,
    ) -> Result<Vec<(Applicant, DedupError)>> {
        let _guard = self.store.lock.lock().unwrap_or_else(|e| e.into_inner());
        let by_id: HashMap<&str, &v1::ApplicantResult> = results
            .iter()
            .map(|r| (r.reference_id.as_str(), r))
            .collect();
        let mut batch = WriteBatch::default();
        let mut retry = Vec::new();
        for a in group {
            let verdict = match by_id.get(a.packet_id.as_str()) {
                Some(result) => verdict_of(result),
                None => Err(DedupError::Service(format!(
                    "job {job} returned no result for {}",
                    a.packet_id
                ))),
            };
            let verdict = match verdict {
                Ok(v) => v,
                Err(e) => {
                    retry.push((a, e));
                    continue;
                }
            };
            let mut registration = self.current(&a.packet_id)?;
            if let Some(open) = registration.open_case.take() {
                let reason = format!("a complete search in job {job} settled the packet");
                self.store.supersede_case(&mut batch, &open, reason)?;
            }
            registration.state = match verdict {
                Verdict::Unique => PacketState::Unique {
                    job_id: job.to_owned(),
                },
                Verdict::Duplicate(candidates) => {
                    let case = Case::open(
                        &a.packet_id,
                        registration.attempts,
                        CaseKind::Duplicate,
                        candidates.clone(),
                        None,
                    );
                    self.store.put_new_case(&mut batch, &case);
                    registration.open_case = Some(case.case_id.clone());
                    PacketState::Duplicate {
                        job_id: job.to_owned(),
                        candidates,
                        case_id: case.case_id,
                    }
                }
            };
            registration.updated_at_ms = now_ms();
            self.store.put_registration(&mut batch, &registration);
            // Settled: the biometrics are no longer needed here.
            self.store.settle_applicant(&mut batch, &a);
        }
        self.store.commit(batch)?;
        Ok(retry)
    }

    /// Records packets as Failed; `retryable` failures are due again after `retry_later` and
    /// get an Incomplete case unless one is already open (step 4).
    fn record_failures(
        &self,
        failures: impl IntoIterator<Item = (Applicant, DedupError)>,
        retryable: bool,
    ) -> Result<()> {
        let _guard = self.store.lock.lock().unwrap_or_else(|e| e.into_inner());
        let retry_after = now_ms() + self.config.retry.retry_later.as_millis() as u64;
        let mut batch = WriteBatch::default();
        for (a, error) in failures {
            let mut registration = self.current(&a.packet_id)?;
            if retryable && registration.open_case.is_none() {
                let case = Case::open(
                    &a.packet_id,
                    registration.attempts,
                    CaseKind::Incomplete,
                    Vec::new(),
                    Some(error.to_string()),
                );
                self.store.put_new_case(&mut batch, &case);
                registration.open_case = Some(case.case_id);
            }
            registration.state = PacketState::Failed {
                last_error: error.to_string(),
                retryable,
                retry_after_ms: retryable.then_some(retry_after),
            };
            registration.updated_at_ms = now_ms();
            self.store.put_registration(&mut batch, &registration);
        }
        self.store.commit(batch)
    }

    fn current(&self, packet_id: &str) -> Result<Registration> {
        self.store
            .get(packet_id)?
            .ok_or_else(|| Error::DataCorruption {
                key: packet_id.to_owned(),
                reason: "a packet in flight has no registration".into(),
            })
    }
}

/// `applicants` in order, cut into jobs of at most `batch_size` applicants, `max_images` finger
/// images and [`MAX_JOB_BYTES`] encoded (an applicant too large on its own still goes, alone:
/// the service says what it refuses).
fn batches(
    applicants: Vec<Applicant>,
    batch_size: usize,
    max_images: usize,
) -> Vec<Vec<Applicant>> {
    use prost::Message;
    let mut out: Vec<Vec<Applicant>> = Vec::new();
    let (mut images, mut bytes) = (0, 0);
    for applicant in applicants {
        let (i, b) = (
            abis_proto::count_images(std::slice::from_ref(&applicant.record)),
            applicant.record.encoded_len(),
        );
        match out.last_mut() {
            Some(batch)
                if batch.len() < batch_size
                    && images + i <= max_images
                    && bytes + b <= MAX_JOB_BYTES =>
            {
                batch.push(applicant);
                images += i;
                bytes += b;
            }
            _ => {
                out.push(vec![applicant]);
                (images, bytes) = (i, b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(id: usize, images: usize, image_bytes: usize) -> Applicant {
        let fingers = (1..=images)
            .map(|p| v1::Finger {
                position: p as u32,
                template: Some(v1::finger::Template::Image(vec![0; image_bytes])),
            })
            .collect();
        Applicant {
            packet_id: format!("p{id}"),
            record: v1::Record {
                reference_id: format!("p{id}"),
                fingers,
                ..Default::default()
            },
        }
    }

    fn sizes(batches: &[Vec<Applicant>]) -> Vec<usize> {
        batches.iter().map(Vec::len).collect()
    }

    #[test]
    fn jobs_are_cut_by_applicants_images_and_bytes_in_order() {
        let template_only = (0..5).map(|i| applicant(i, 0, 0)).collect();
        assert_eq!(sizes(&batches(template_only, 2, 100)), [2, 2, 1]);
        // Ten fingers each: ten applicants fill the 100 images.
        let ten_prints: Vec<_> = (0..25).map(|i| applicant(i, 10, 10)).collect();
        let cut = batches(ten_prints, 1000, 100);
        assert_eq!(sizes(&cut), [10, 10, 5]);
        let order: Vec<String> = cut.iter().flatten().map(|a| a.packet_id.clone()).collect();
        assert_eq!(order, (0..25).map(|i| format!("p{i}")).collect::<Vec<_>>());
        // 4 MiB images: a job holds what fits in MAX_JOB_BYTES.
        let large: Vec<_> = (0..3).map(|i| applicant(i, 4, 4 << 20)).collect();
        assert_eq!(sizes(&batches(large, 1000, 100)), [1, 1, 1]);
        let medium: Vec<_> = (0..4).map(|i| applicant(i, 2, 4 << 20)).collect();
        assert_eq!(sizes(&batches(medium, 1000, 100)), [3, 1]);
    }
}
