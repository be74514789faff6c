//! The public service `abis.v1.Abis` (`abis.v1.Admin` is in `admin`). Handlers only check the
//! request shape and delegate: [`writes`] for routed writes and verify, [`search`] for
//! gallery-wide reads, the [`JobStore`] and the worker queue for de-dup jobs. Each call takes
//! the current cluster version (a write also the write gate, see `topology`) and runs in a
//! tracing span named after its method.

use crate::cluster::{unavailable, Connector};
use crate::jobs::{is_final, JobStore};
use crate::metrics::Metrics;
use crate::rebalance::Rebalancer;
use crate::topology::Topology;
use crate::{search, writes};
use abis_proto::v1;
use abis_proto::v1::abis_server::Abis;
use abis_proto::{ProtoError, MAX_BATCH_ITEMS};
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
}

impl Coordinator {
    /// Runs a handler's body in a tracing span named after its method, logs a failure, and
    /// counts the call and its latency in the metrics.
    pub(crate) async fn traced<T>(
        &self,
        method: &'static str,
        body: impl Future<Output = Result<T, Status>>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let span = tracing::info_span!("rpc", method);
        let result = body.instrument(span.clone()).await;
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
    abis_proto::status_from_detail(v1::ErrorDetail {
        code: v1::ErrorCode::NotFound as i32,
        message: format!("no job {job_id}"),
        ..Default::default()
    })
}

impl Coordinator {
    fn job(&self, job_id: &str) -> Result<v1::Job, Status> {
        check_job_id(job_id)?;
        Ok(self
            .store
            .get(job_id)?
            .ok_or_else(|| not_found(job_id))?
            .job())
    }
}

#[tonic::async_trait]
impl Abis for Coordinator {
    async fn insert(
        &self,
        request: Request<v1::InsertRequest>,
    ) -> Result<Response<v1::InsertResponse>, Status> {
        let records = request.into_inner().records;
        self.traced("Insert", async {
            let results = writes::insert(&*self.topology.write().await, records).await?;
            Ok(v1::InsertResponse { results })
        })
        .await
    }

    async fn delete(
        &self,
        request: Request<v1::DeleteRequest>,
    ) -> Result<Response<v1::DeleteResponse>, Status> {
        let ids = request.into_inner().reference_ids;
        self.traced("Delete", async {
            let results = writes::delete(&*self.topology.write().await, ids).await?;
            Ok(v1::DeleteResponse { results })
        })
        .await
    }

    async fn identify(
        &self,
        request: Request<v1::IdentifyRequest>,
    ) -> Result<Response<v1::IdentifyResponse>, Status> {
        let req = request.into_inner();
        self.traced("Identify", async {
            let probe = req.probe.ok_or_else(|| ProtoError::missing("probe"))?;
            let mut results =
                search::identify(&self.topology.read(), vec![probe], req.options.as_ref()).await?;
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
        let req = request.into_inner();
        self.traced("IdentifyBatch", async {
            let results =
                search::identify(&self.topology.read(), req.probes, req.options.as_ref()).await?;
            Ok(v1::IdentifyBatchResponse { results })
        })
        .await
    }

    async fn verify(
        &self,
        request: Request<v1::VerifyRequest>,
    ) -> Result<Response<v1::VerifyResponse>, Status> {
        let req = request.into_inner();
        self.traced("Verify", async {
            writes::verify(&self.topology.read(), req).await
        })
        .await
    }

    async fn submit_dedup_job(
        &self,
        request: Request<v1::SubmitDedupJobRequest>,
    ) -> Result<Response<v1::SubmitDedupJobResponse>, Status> {
        let req = request.into_inner();
        self.traced("SubmitDedupJob", async {
            check_job_id(&req.job_id)?;
            let n = req.applicants.len();
            if n == 0 || n > MAX_BATCH_ITEMS {
                return Err(ProtoError::OutOfRange {
                    field: "applicants".into(),
                    reason: format!("{n} items, 1 to {MAX_BATCH_ITEMS} accepted"),
                }
                .into());
            }
            if let Some(i) = req
                .applicants
                .iter()
                .position(|a| a.reference_id.is_empty())
            {
                return Err(ProtoError::missing(format!("applicants[{i}].reference_id")).into());
            }
            let (job, created) = self.store.submit(req)?;
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
        let id = request.into_inner().job_id;
        self.traced("GetJob", async {
            Ok(v1::GetJobResponse {
                job: Some(self.job(&id)?),
            })
        })
        .await
    }

    type WatchJobStream = ReceiverStream<Result<v1::WatchJobResponse, Status>>;

    async fn watch_job(
        &self,
        request: Request<v1::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = request.into_inner().job_id;
        let mut changes = self.store.subscribe();
        let first = self.job(&id)?;
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
                    Err(broadcast::error::RecvError::Lagged(_)) => match this.job(&id) {
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
        _request: Request<v1::PingRequest>,
    ) -> Result<Response<v1::PingResponse>, Status> {
        self.traced("Ping", async {
            let cluster = self.topology.read();
            if cluster.shape().is_none() {
                cluster.probe().await;
            }
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
        _request: Request<v1::ReferenceCountRequest>,
    ) -> Result<Response<v1::ReferenceCountResponse>, Status> {
        self.traced("ReferenceCount", async {
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
        let limit = request.into_inner().limit as usize;
        self.traced("PendingJobs", async {
            let jobs = self.store.unfinished()?;
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
