//! The public service `abis.v1.Abis` (`abis.v1.Admin` is in `admin`). Handlers only check the
//! request shape and delegate: [`writes`] for routed writes and verify, [`search`] for
//! gallery-wide reads, the [`JobStore`] and the worker queue for de-dup jobs. Each call takes
//! the current cluster version (a write also the write gate, see `topology`).
//!
//! Every call goes through [`Coordinator::handle`]: refused while the monitor finds the map is
//! not the cluster's, refused without the roles it needs (`auth`), run in a tracing span named
//! after its method, counted in the metrics, and, when it touches people or the cluster,
//! written to the audit log (caller, operation, reference ids, outcome) before it is answered.

use crate::auth::{caller_of, Caller, Role};
use crate::cluster::{unavailable, Connector};
use crate::images::Images;
use crate::jobs::{is_final, JobStore};
use crate::metrics::Metrics;
use crate::monitor::Monitor;
use crate::rebalance::Rebalancer;
use crate::search::Limits;
use crate::topology::Topology;
use crate::{search, writes};
use abis_proto::v1;
use abis_proto::v1::abis_server::Abis;
use abis_proto::{checked_batch, status_from_detail, ProtoError};
use abis_server_kit::audit::{AuditLog, Event};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;

/// The state behind both services.
#[derive(Clone)]
pub struct Coordinator {
    /// The shard nodes, as the current map has them.
    pub topology: Arc<Topology>,
    /// How to reach a node (for AddShard's check).
    pub connector: Connector,
    /// Moves slots between nodes.
    pub rebalancer: Arc<Rebalancer>,
    /// De-dup jobs.
    pub store: Arc<JobStore>,
    /// The worker's queue.
    pub queue: mpsc::UnboundedSender<String>,
    /// Request counts and latencies, cluster gauges.
    pub metrics: Arc<Metrics>,
    /// Node identities and the map's standing.
    pub monitor: Arc<Monitor>,
    /// Request size limits and search deadlines.
    pub limits: Limits,
    /// Searches and verifications running at once (one more is shed as overloaded).
    pub searches: Arc<tokio::sync::Semaphore>,
    /// Where calls that touch people or the cluster are recorded.
    pub audit: AuditLog,
    /// Turns images (fingers, irises, faces) in requests into templates.
    pub images: Arc<Images>,
}

/// A status carrying an `ErrorDetail` of `code`.
pub(crate) fn detail(code: v1::ErrorCode, message: String) -> Status {
    status_from_detail(v1::ErrorDetail {
        code: code as i32,
        message,
        ..Default::default()
    })
}

/// How a call is audited: the ids it concerns, and what to say of its answer.
pub(crate) struct Audit<T> {
    ids: Vec<String>,
    describe: fn(&T) -> String,
}

impl<T> Audit<T> {
    /// Audited, concerning `ids`, its answer summarised by `describe`.
    pub(crate) fn of(ids: Vec<String>, describe: fn(&T) -> String) -> Option<Self> {
        Some(Self { ids, describe })
    }
}

impl Coordinator {
    /// Runs one call (see the module doc): `needs` are the roles it requires, `audit` how it is
    /// recorded (`None`: a call that touches nobody).
    pub(crate) async fn handle<T>(
        &self,
        method: &'static str,
        caller: &Caller,
        needs: &[Role],
        audit: Option<Audit<T>>,
        body: impl Future<Output = Result<T, Status>>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let span = tracing::info_span!("rpc", method, caller = %caller.name);
        // A map that is not the cluster's must not be used; the map's own state may be read.
        let refusal = match method {
            "ListShards" | "RebalanceStatus" => None,
            _ => self.monitor.refusal(),
        };
        let allowed = needs.iter().try_for_each(|&r| caller.require(r).map(drop));
        let result = match (refusal, allowed) {
            (Some(why), _) => Err(detail(
                v1::ErrorCode::FailedPrecondition,
                format!("refusing to serve: {why}"),
            )),
            (None, Err(denied)) => Err(denied),
            (None, Ok(())) => body.instrument(span.clone()).await,
        };
        let result = match audit {
            None => result,
            Some(audit) => {
                let (outcome, said) = match &result {
                    Ok(value) => ("OK".to_owned(), (audit.describe)(value)),
                    Err(s) => (format!("{:?}", s.code()), s.message().to_owned()),
                };
                let event = Event {
                    caller: caller.name.clone(),
                    op: method.to_owned(),
                    ids: audit.ids,
                    outcome,
                    detail: said,
                };
                match self.audit.record(event).await {
                    Ok(()) => result,
                    Err(e) => Err(detail(
                        v1::ErrorCode::Internal,
                        format!("the call could not be audited: {e:#}"),
                    )),
                }
            }
        };
        let code = match &result {
            Ok(_) => Code::Ok,
            Err(s) => {
                span.in_scope(|| tracing::info!(code = ?s.code(), "failed: {}", s.message()));
                s.code()
            }
        };
        self.metrics.observe(method, code, started.elapsed());
        result.map(Response::new)
    }

    /// A slot for one search or verification, or OVERLOADED (retry shortly) when all are taken.
    fn search_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
        self.searches.clone().try_acquire_owned().map_err(|_| {
            detail(
                v1::ErrorCode::Overloaded,
                "the coordinator is running as many searches as it allows; retry shortly".into(),
            )
        })
    }

    /// A job the caller may read: its own, or any with the read-jobs role.
    fn job(&self, job_id: &str, caller: &Caller) -> Result<v1::Job, Status> {
        check_job_id(job_id)?;
        let stored = self.store.get(job_id)?.ok_or_else(|| not_found(job_id))?;
        if !caller.has(Role::ReadJobs) && stored.owner != caller.name {
            return Err(detail(
                v1::ErrorCode::PermissionDenied,
                format!(
                    "job {job_id} was submitted by another caller; reading it needs the \
                     read-jobs role"
                ),
            ));
        }
        Ok(stored.job())
    }
}

fn check_job_id(id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > 64 || id.chars().any(char::is_control) {
        return Err(ProtoError::OutOfRange {
            field: "job_id".into(),
            reason: "1 to 64 bytes of UTF-8 without control characters".into(),
        }
        .into());
    }
    Ok(())
}

fn not_found(job_id: &str) -> Status {
    detail(v1::ErrorCode::NotFound, format!("no job {job_id}"))
}

fn ids_of(records: &[v1::Record]) -> Vec<String> {
    records.iter().map(|r| r.reference_id.clone()).collect()
}

fn candidates(results: &[v1::IdentifyResult]) -> String {
    results
        .iter()
        .map(|r| {
            let ids: Vec<&str> = r
                .candidates
                .iter()
                .map(|c| c.reference_id.as_str())
                .collect();
            format!("{}: [{}]", r.probe_reference_id, ids.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn write_summary<R>(results: &[R], outcome: impl Fn(&R) -> (i32, bool, bool)) -> String {
    let (mut changed, mut unchanged, mut failed, mut pending) = (0, 0, 0, 0);
    for r in results {
        let (code, error, repair) = outcome(r);
        match (error, code) {
            (true, _) => failed += 1,
            (false, 1) => changed += 1,
            _ => unchanged += 1,
        }
        pending += usize::from(repair);
    }
    format!("{changed} changed, {unchanged} unchanged, {failed} failed, {pending} repair pending")
}

#[tonic::async_trait]
impl Abis for Coordinator {
    async fn insert(
        &self,
        request: Request<v1::InsertRequest>,
    ) -> Result<Response<v1::InsertResponse>, Status> {
        let caller = caller_of(&request);
        let mut records = request.into_inner().records;
        let audit = Audit::of(ids_of(&records), |r: &v1::InsertResponse| {
            write_summary(&r.results, |x| {
                (x.outcome, x.error.is_some(), x.repair_pending)
            })
        });
        self.handle("Insert", &caller, &[Role::Enrol], audit, async {
            self.limits.check_items("records", records.len())?;
            self.images.extract(&mut records, "records").await?;
            let results = writes::insert(&*self.topology.write().await, records).await?;
            Ok(v1::InsertResponse { results })
        })
        .await
    }

    async fn delete(
        &self,
        request: Request<v1::DeleteRequest>,
    ) -> Result<Response<v1::DeleteResponse>, Status> {
        let caller = caller_of(&request);
        let ids = request.into_inner().reference_ids;
        let audit = Audit::of(ids.clone(), |r: &v1::DeleteResponse| {
            write_summary(&r.results, |x| {
                (x.outcome, x.error.is_some(), x.repair_pending)
            })
        });
        self.handle("Delete", &caller, &[Role::Enrol], audit, async {
            let results = writes::delete(&*self.topology.write().await, ids).await?;
            Ok(v1::DeleteResponse { results })
        })
        .await
    }

    async fn identify(
        &self,
        request: Request<v1::IdentifyRequest>,
    ) -> Result<Response<v1::IdentifyResponse>, Status> {
        let caller = caller_of(&request);
        let req = request.into_inner();
        let ids = req.probe.iter().map(|p| p.reference_id.clone()).collect();
        let audit = Audit::of(ids, |r: &v1::IdentifyResponse| {
            candidates(r.result.as_slice())
        });
        self.handle("Identify", &caller, &[Role::Identify], audit, async {
            let _permit = self.search_permit()?;
            let mut probes = vec![req.probe.ok_or_else(|| ProtoError::missing("probe"))?];
            self.images.extract(&mut probes, "probe").await?;
            let mut results = search::identify(
                &self.topology.read(),
                probes,
                req.options.as_ref(),
                &self.limits,
            )
            .await?;
            Ok(v1::IdentifyResponse {
                result: results.pop(),
            })
        })
        .await
    }

    async fn identify_batch(
        &self,
        request: Request<v1::IdentifyBatchRequest>,
    ) -> Result<Response<v1::IdentifyBatchResponse>, Status> {
        let caller = caller_of(&request);
        let mut req = request.into_inner();
        let audit = Audit::of(ids_of(&req.probes), |r: &v1::IdentifyBatchResponse| {
            candidates(&r.results)
        });
        self.handle("IdentifyBatch", &caller, &[Role::Identify], audit, async {
            let _permit = self.search_permit()?;
            self.limits.check_items("probes", req.probes.len())?;
            self.images.extract(&mut req.probes, "probes").await?;
            let results = search::identify(
                &self.topology.read(),
                req.probes,
                req.options.as_ref(),
                &self.limits,
            )
            .await?;
            Ok(v1::IdentifyBatchResponse { results })
        })
        .await
    }

    async fn verify(
        &self,
        request: Request<v1::VerifyRequest>,
    ) -> Result<Response<v1::VerifyResponse>, Status> {
        let caller = caller_of(&request);
        let mut req = request.into_inner();
        let mut ids = vec![req.reference_id.clone()];
        ids.extend(req.probe.iter().map(|p| p.reference_id.clone()));
        let audit = Audit::of(ids, |r: &v1::VerifyResponse| {
            format!("match {} at score {:.2}", r.is_match, r.fused_score)
        });
        self.handle("Verify", &caller, &[Role::Verify], audit, async {
            let _permit = self.search_permit()?;
            if let Some(probe) = req.probe.take() {
                let mut probes = vec![probe];
                self.images.extract(&mut probes, "probe").await?;
                req.probe = probes.pop();
            }
            writes::verify(&self.topology.read(), req).await
        })
        .await
    }

    async fn submit_dedup_job(
        &self,
        request: Request<v1::SubmitDedupJobRequest>,
    ) -> Result<Response<v1::SubmitDedupJobResponse>, Status> {
        let caller = caller_of(&request);
        let mut req = request.into_inner();
        let mut ids = vec![format!("job:{}", req.job_id)];
        ids.extend(ids_of(&req.applicants));
        let audit = Audit::of(ids, |r: &v1::SubmitDedupJobResponse| {
            format!("created {}", r.created)
        });
        let needs = [Role::Enrol, Role::Identify];
        self.handle("SubmitDedupJob", &caller, &needs, audit, async {
            check_job_id(&req.job_id)?;
            self.limits
                .check_items("applicants", req.applicants.len())?;
            // Stored as templates: the job never holds an image.
            self.images
                .extract(&mut req.applicants, "applicants")
                .await?;
            // Checked whole now, so a job never fails later on a template it could not store.
            let shape = writes::shape(&self.topology.read()).await?;
            checked_batch(req.applicants.clone(), &shape, "applicants")?;
            let (job, created) = self.store.submit(req, &caller.name)?;
            if created {
                self.queue
                    .send(job.job_id.clone())
                    .map_err(|_| unavailable("the job worker has stopped"))?;
            }
            Ok(v1::SubmitDedupJobResponse {
                job: Some(job),
                created,
            })
        })
        .await
    }

    async fn get_job(
        &self,
        request: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::GetJobResponse>, Status> {
        let caller = caller_of(&request);
        let id = request.into_inner().job_id;
        let audit = Audit::of(vec![format!("job:{id}")], |r: &v1::GetJobResponse| {
            let job = r.job.clone().unwrap_or_default();
            format!(
                "state {:?}",
                v1::JobState::try_from(job.state).unwrap_or_default()
            )
        });
        self.handle("GetJob", &caller, &[], audit, async {
            Ok(v1::GetJobResponse {
                job: Some(self.job(&id, &caller)?),
            })
        })
        .await
    }

    type WatchJobStream = ReceiverStream<Result<v1::WatchJobResponse, Status>>;

    async fn watch_job(
        &self,
        request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let caller = caller_of(&request);
        let id = request.into_inner().job_id;
        let mut changes = self.store.subscribe();
        let audit = Audit::of(vec![format!("job:{id}")], |_: &v1::Job| "watching".into());
        let first = self
            .handle("WatchJob", &caller, &[], audit, async {
                self.job(&id, &caller)
            })
            .await?
            .into_inner();
        let (tx, rx) = mpsc::channel(16);
        let this = self.clone();
        tokio::spawn(async move {
            let mut last = first;
            if tx
                .send(Ok(v1::WatchJobResponse {
                    job: Some(last.clone()),
                }))
                .await
                .is_err()
            {
                return;
            }
            while !is_final(&last) {
                let next = match changes.recv().await {
                    Ok(job) if job.job_id == id => job,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => match this.job(&id, &caller) {
                        Ok(job) => job,
                        Err(_) => return,
                    },
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if next.state == last.state && next.started_at == last.started_at {
                    continue;
                }
                last = next;
                let message = v1::WatchJobResponse {
                    job: Some(last.clone()),
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn ping(
        &self,
        request: Request<v1::PingRequest>,
    ) -> Result<Response<v1::PingResponse>, Status> {
        let caller = caller_of(&request);
        self.handle("Ping", &caller, &[], None, async {
            if self.topology.read().shape().is_none() {
                let _ = self.monitor.round(false).await;
            }
            let cluster = self.topology.read();
            let shape = cluster
                .shape()
                .ok_or_else(|| unavailable("no shard node has answered yet"))?;
            Ok(v1::PingResponse {
                api_version: abis_proto::API_VERSION.into(),
                server_version: env!("CARGO_PKG_VERSION").into(),
                shape: Some(shape),
                server_time: Some(std::time::SystemTime::now().into()),
            })
        })
        .await
    }

    async fn reference_count(
        &self,
        request: Request<v1::ReferenceCountRequest>,
    ) -> Result<Response<v1::ReferenceCountResponse>, Status> {
        let caller = caller_of(&request);
        self.handle("ReferenceCount", &caller, &[], None, async {
            let (count, completeness) = search::count(&self.topology.read()).await?;
            Ok(v1::ReferenceCountResponse {
                count,
                completeness: Some(completeness),
            })
        })
        .await
    }

    async fn pending_jobs(
        &self,
        request: Request<v1::PendingJobsRequest>,
    ) -> Result<Response<v1::PendingJobsResponse>, Status> {
        let caller = caller_of(&request);
        let limit = request.into_inner().limit as usize;
        self.handle("PendingJobs", &caller, &[], None, async {
            let everyone = caller.has(Role::ReadJobs);
            let jobs: Vec<v1::Job> = self
                .store
                .unfinished()?
                .into_iter()
                .filter(|(owner, _)| everyone || *owner == caller.name)
                .map(|(_, j)| j)
                .collect();
            let count = |s: v1::JobState| jobs.iter().filter(|j| j.state == s as i32).count();
            Ok(v1::PendingJobsResponse {
                pending: count(v1::JobState::Pending) as u64,
                running: count(v1::JobState::Running) as u64,
                job_ids: jobs.iter().take(limit).map(|j| j.job_id.clone()).collect(),
            })
        })
        .await
    }
}
