//! GrpcBackend against a fake coordinator: a token on every call, a watch stream that breaks
//! (the backend reads the job and watches again), and a FAILED job retried under a new id.

use abis_proto::v1;
use abis_proto::v1::abis_server::{Abis, AbisServer};
use abis_registration::{
    GrpcBackend, GrpcConfig, PacketState, Registrar, RegistrarConfig, RegistrationStore,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::codegen::tokio_stream::Stream;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct State {
    jobs: HashMap<String, v1::SubmitDedupJobRequest>,
    tokens: Vec<String>,
    submits: Vec<String>,
    watches: u32,
    gets: u32,
    /// Jobs still to end FAILED (UNAVAILABLE) before one is DONE.
    failures_left: u32,
    done: HashMap<String, v1::Job>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

fn job(id: &str, state: v1::JobState) -> v1::Job {
    v1::Job {
        job_id: id.to_owned(),
        state: state as i32,
        ..Default::default()
    }
}

impl Fake {
    fn note_token<T>(&self, r: &Request<T>) {
        let token = r
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.0.lock().unwrap().tokens.push(token);
    }

    /// The job's final form: FAILED while failures are left, else DONE with "dup" matching
    /// "person-1" and everyone else unique.
    fn finish(&self, id: &str) -> v1::Job {
        let mut s = self.0.lock().unwrap();
        if let Some(j) = s.done.get(id) {
            return j.clone();
        }
        let request = s.jobs.get(id).cloned().unwrap_or_default();
        let out = if s.failures_left > 0 {
            s.failures_left -= 1;
            v1::Job {
                failure: Some(v1::JobFailure {
                    error: Some(v1::ErrorDetail {
                        code: v1::ErrorCode::Unavailable as i32,
                        message: "slots 0-99 unsearched".into(),
                        ..Default::default()
                    }),
                    attempts: 3,
                }),
                ..job(id, v1::JobState::Failed)
            }
        } else {
            let results = request
                .applicants
                .iter()
                .map(|a| v1::ApplicantResult {
                    reference_id: a.reference_id.clone(),
                    insert_outcome: v1::InsertOutcome::Inserted as i32,
                    identify: Some(v1::IdentifyResult {
                        probe_reference_id: a.reference_id.clone(),
                        candidates: if a.reference_id == "dup" {
                            vec![crate::support::candidate("person-1", 30.0)]
                        } else {
                            Vec::new()
                        },
                        threshold: 8.0,
                        records_searched: 10,
                        completeness: Some(v1::Completeness::complete()),
                    }),
                })
                .collect();
            v1::Job {
                results,
                ..job(id, v1::JobState::Done)
            }
        };
        s.done.insert(id.to_owned(), out.clone());
        out
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::WatchJobResponse, Status>> + Send>>;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in the fake"))
}

#[tonic::async_trait]
impl Abis for Fake {
    async fn insert(
        &self,
        _: Request<v1::InsertRequest>,
    ) -> Result<Response<v1::InsertResponse>, Status> {
        unimplemented()
    }
    async fn delete(
        &self,
        _: Request<v1::DeleteRequest>,
    ) -> Result<Response<v1::DeleteResponse>, Status> {
        unimplemented()
    }
    async fn identify(
        &self,
        _: Request<v1::IdentifyRequest>,
    ) -> Result<Response<v1::IdentifyResponse>, Status> {
        unimplemented()
    }
    async fn identify_batch(
        &self,
        _: Request<v1::IdentifyBatchRequest>,
    ) -> Result<Response<v1::IdentifyBatchResponse>, Status> {
        unimplemented()
    }
    async fn verify(
        &self,
        _: Request<v1::VerifyRequest>,
    ) -> Result<Response<v1::VerifyResponse>, Status> {
        unimplemented()
    }
    async fn submit_dedup_job(
        &self,
        r: Request<v1::SubmitDedupJobRequest>,
    ) -> Result<Response<v1::SubmitDedupJobResponse>, Status> {
        self.note_token(&r);
        let request = r.into_inner();
        let id = request.job_id.clone();
        let mut s = self.0.lock().unwrap();
        s.submits.push(id.clone());
        let created = s.jobs.insert(id.clone(), request).is_none();
        Ok(Response::new(v1::SubmitDedupJobResponse {
            job: Some(job(&id, v1::JobState::Pending)),
            created,
        }))
    }
    async fn get_job(
        &self,
        r: Request<v1::GetJobRequest>,
    ) -> Result<Response<v1::GetJobResponse>, Status> {
        self.note_token(&r);
        let id = r.into_inner().job_id;
        self.0.lock().unwrap().gets += 1;
        Ok(Response::new(v1::GetJobResponse {
            job: Some(job(&id, v1::JobState::Running)),
        }))
    }
    type WatchJobStream = WatchStream;
    async fn watch_job(
        &self,
        r: Request<v1::WatchJobRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        self.note_token(&r);
        let id = r.into_inner().job_id;
        let watches = {
            let mut s = self.0.lock().unwrap();
            s.watches += 1;
            s.watches
        };
        let running = Ok(v1::WatchJobResponse {
            job: Some(job(&id, v1::JobState::Running)),
        });
        // Every odd watch breaks after RUNNING; every even one ends the job.
        let items = if watches % 2 == 1 {
            vec![running, Err(Status::unavailable("connection reset"))]
        } else {
            let done = Ok(v1::WatchJobResponse {
                job: Some(self.finish(&id)),
            });
            vec![running, done]
        };
        Ok(Response::new(Box::pin(tonic::codegen::tokio_stream::iter(
            items,
        ))))
    }
    async fn ping(
        &self,
        _: Request<v1::PingRequest>,
    ) -> Result<Response<v1::PingResponse>, Status> {
        unimplemented()
    }
    async fn reference_count(
        &self,
        _: Request<v1::ReferenceCountRequest>,
    ) -> Result<Response<v1::ReferenceCountResponse>, Status> {
        unimplemented()
    }
    async fn pending_jobs(
        &self,
        _: Request<v1::PendingJobsRequest>,
    ) -> Result<Response<v1::PendingJobsResponse>, Status> {
        unimplemented()
    }
}

async fn serve(fake: Fake) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AbisServer::new(fake))
            .serve_with_incoming(incoming),
    );
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_backend_follows_a_job_across_broken_streams_and_failed_jobs() {
    let fake = Fake::default();
    fake.0.lock().unwrap().failures_left = 1;
    let addr = serve(fake.clone()).await;
    let mut config = GrpcConfig::new(format!("http://{addr}"));
    config.token = Some("t0k".into());
    config.poll_interval = Duration::from_millis(10);
    let backend = GrpcBackend::new(config).unwrap();
    let store = Arc::new(RegistrationStore::open(tempfile::tempdir().unwrap().path()).unwrap());
    let registrar = Registrar::new(
        backend,
        store.clone(),
        RegistrarConfig {
            retry: crate::support::fast_policy(),
            ..Default::default()
        },
    );
    let applicants = [
        crate::support::face_applicant("new"),
        crate::support::face_applicant("dup"),
    ];
    let out = registrar.register(&applicants).await.unwrap();
    assert!(
        matches!(out[0].state, PacketState::Unique { .. }),
        "{:?}",
        out[0]
    );
    match &out[1].state {
        PacketState::Duplicate { candidates, .. } => {
            assert_eq!(candidates[0].reference_id, "person-1")
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    // The first job ended FAILED (unavailable): the second attempt used a fresh job id.
    assert_eq!(out[0].attempts, 2);
    let s = fake.0.lock().unwrap();
    assert_eq!(s.submits.len(), 2);
    assert_ne!(s.submits[0], s.submits[1]);
    assert_eq!(out[0].last_job_id.as_ref(), Some(&s.submits[1]));
    // Each job's first watch broke; the backend read the job and watched again.
    assert_eq!(s.watches, 4);
    assert!(s.gets >= 2);
    assert!(s.tokens.iter().all(|t| t == "Bearer t0k"), "{:?}", s.tokens);
}
