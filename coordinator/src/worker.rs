//! The de-dup job worker: one task taking job ids from a queue, oldest first, and running each
//! to DONE or FAILED.
//!
//! A run inserts every applicant (on every replica) and then identifies them all against the
//! whole gallery, each excluding itself; since all are inserted first, duplicates within the
//! batch find each other. A service fault (a replica down, an incomplete search) is retried
//! after a pause, up to the attempt budget; a caller's fault (a bad template, an id enrolled
//! with other content) fails the job at once. An incomplete identify is never DONE.

use crate::jobs::{JobStore, StoredJob};
use crate::search::Limits;
use crate::topology::Topology;
use crate::{search, writes};
use abis_proto::status::{error_detail_of, status_from_detail};
use abis_proto::v1::{self, ErrorCode, ErrorDetail, JobState};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tonic::{Code, Status};

/// What the worker needs.
pub struct Worker {
    /// The shard nodes.
    pub topology: Arc<Topology>,
    /// The job store.
    pub store: Arc<JobStore>,
    /// Attempts per job before it fails.
    pub attempts: u32,
    /// Pause between attempts.
    pub retry_pause: Duration,
    /// Search limits.
    pub limits: Limits,
}

impl Worker {
    /// Runs jobs from `queue` until it closes.
    pub async fn run(self, mut queue: mpsc::UnboundedReceiver<String>) {
        while let Some(id) = queue.recv().await {
            if let Err(status) = self.run_job(&id).await {
                tracing::error!(job = %id, "job store failed: {}", status.message());
            }
        }
    }

    async fn run_job(&self, id: &str) -> Result<(), Status> {
        let Some(mut stored) = self.store.get(id)? else {
            return Ok(());
        };
        let request = stored.request.clone().unwrap_or_default();
        loop {
            stored.attempts += 1;
            set(&mut stored, |job| {
                job.state = JobState::Running as i32;
                job.started_at = Some(SystemTime::now().into());
            });
            self.store.put(&stored)?;
            tracing::info!(job = %id, attempt = stored.attempts, "job running");
            match self.process(&request).await {
                Ok(results) => {
                    set(&mut stored, |job| {
                        job.state = JobState::Done as i32;
                        job.results = results;
                        job.finished_at = Some(SystemTime::now().into());
                    });
                    tracing::info!(job = %id, "job done");
                    return self.store.put(&stored);
                }
                Err(status) => {
                    let retry = matches!(
                        status.code(),
                        Code::Unavailable | Code::DeadlineExceeded | Code::Internal
                    );
                    tracing::info!(job = %id, retry, "job attempt failed: {}", status.message());
                    if retry && stored.attempts < self.attempts {
                        tokio::time::sleep(self.retry_pause).await;
                        continue;
                    }
                    let attempts = stored.attempts;
                    set(&mut stored, |job| {
                        job.state = JobState::Failed as i32;
                        job.failure = Some(v1::JobFailure {
                            error: Some(error_detail_of(&status).unwrap_or(ErrorDetail {
                                code: ErrorCode::Unavailable as i32,
                                message: status.message().to_owned(),
                                ..Default::default()
                            })),
                            attempts,
                        });
                        job.finished_at = Some(SystemTime::now().into());
                    });
                    return self.store.put(&stored);
                }
            }
        }
    }

    async fn process(
        &self,
        request: &v1::SubmitDedupJobRequest,
    ) -> Result<Vec<v1::ApplicantResult>, Status> {
        let inserted =
            writes::insert(&*self.topology.write().await, request.applicants.clone()).await?;
        for (i, r) in inserted.iter().enumerate() {
            if let Some(e) = &r.error {
                return Err(status_from_detail(e.clone().at_item(i)));
            }
        }
        let mut options = request.options.unwrap_or_default();
        options.allow_incomplete = false;
        let results = search::identify(
            &self.topology.read(),
            request.applicants.clone(),
            Some(&options),
            &self.limits,
        )
        .await?;
        Ok(inserted
            .into_iter()
            .zip(results)
            .map(|(ins, identify)| v1::ApplicantResult {
                reference_id: ins.reference_id,
                insert_outcome: ins.outcome,
                identify: Some(identify),
            })
            .collect())
    }
}

fn set(stored: &mut StoredJob, change: impl FnOnce(&mut v1::Job)) {
    change(stored.job.get_or_insert_with(Default::default));
}
