//! The de-dup job on a coordinator, over gRPC (`abis.v1.Abis`).
//!
//! `SubmitDedupJob` (idempotent by job id: a resubmission after a timeout returns the stored
//! job), then `WatchJob` until the job is DONE or FAILED. The job is durable on the
//! coordinator, so a stream that breaks (a coordinator restart, a proxy timeout) is not a
//! failure: the backend asks `GetJob` and watches again, pausing `poll_interval` between tries,
//! until the job ends or `wait_timeout` runs out (then the answer is
//! [`DedupError::Unavailable`]; the registrar retries under a new job id, which is safe because
//! inserts are idempotent by reference id).
//!
//! Connection: `http://` or `https://` endpoint; with TLS, the server is checked against the
//! given CA and, for mutual TLS, a client certificate is presented; a bearer token, when given,
//! goes in the `authorization` metadata of every call. The channel connects lazily, so a
//! coordinator that is down at construction shows up as a retryable error on the first job,
//! not as a failure to build the backend. Per-call deadlines apply to the unary calls; the
//! watch stream is bounded by what is left of the wait.
//!
//! Fail closed: a DONE job's results are passed on as they are, and the registrar checks each
//! identify's completeness itself, so an answer that breaks the API's promise is still never
//! read as "no duplicate".

use super::{DedupBackend, DedupError};
use abis_proto::v1;
use abis_proto::v1::abis_client::AbisClient;
use std::future::Future;
use std::time::{Duration, Instant};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};

/// Most bytes of one message either way (a 1,000-applicant job with fingers is large).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// TLS material, as PEM bytes (the caller reads the files: libraries do not read
/// configuration on their own).
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// The CA certificate(s) that signed the coordinator's certificate.
    pub ca_pem: Vec<u8>,
    /// Client certificate and key for mutual TLS, when the coordinator asks for one.
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name to check the server's certificate against, when not the endpoint's host.
    pub domain: Option<String>,
}

/// How to reach a coordinator and how long to wait.
#[derive(Debug, Clone)]
pub struct GrpcConfig {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// TLS settings; required for an `https://` endpoint.
    pub tls: Option<TlsSettings>,
    /// Bearer token sent as `authorization: Bearer <token>`; none when `None` or empty.
    pub token: Option<String>,
    /// Deadline to establish a connection.
    pub connect_timeout: Duration,
    /// Deadline of each unary call (SubmitDedupJob, GetJob).
    pub request_timeout: Duration,
    /// How long one [`DedupBackend::run_job`] waits for its job to end.
    pub wait_timeout: Duration,
    /// Pause before asking again after a broken watch stream.
    pub poll_interval: Duration,
}

impl GrpcConfig {
    /// Defaults for `endpoint`: no TLS, no token, 5 s to connect, 30 s per call, 10 minutes
    /// of waiting per job, 1 s between polls.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            tls: None,
            token: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A client of a coordinator's public API, its bearer token on every call.
pub type CoordinatorClient = AbisClient<InterceptedService<Channel, BearerToken>>;

/// A client of the coordinator at `endpoint` (`http://` or `https://host:port`), with `tls`
/// and the bearer `token` (none when `None` or empty), connecting lazily within
/// `connect_timeout`; messages up to 64 MiB either way. Must be called inside a tokio runtime.
/// Errors name what is malformed (`endpoint`, `TLS`, `token`) and why.
pub fn coordinator_client(
    endpoint: &str,
    tls: Option<&TlsSettings>,
    token: Option<&str>,
    connect_timeout: Duration,
) -> Result<CoordinatorClient, (&'static str, String)> {
    let mut channel = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| ("endpoint", e.to_string()))?
        .connect_timeout(connect_timeout);
    if let Some(tls) = tls {
        let mut tls_config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some((cert, key)) = &tls.client_identity {
            tls_config = tls_config.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &tls.domain {
            tls_config = tls_config.domain_name(domain.clone());
        }
        channel = channel
            .tls_config(tls_config)
            .map_err(|e| ("TLS", e.to_string()))?;
    }
    let token = match token.filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .map_err(|_| ("token", "not a valid header value".to_owned()))?,
        ),
    };
    Ok(
        AbisClient::with_interceptor(channel.connect_lazy(), BearerToken(token))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    )
}

type Client = CoordinatorClient;

/// De-dup jobs on a coordinator (see the module docs).
#[derive(Clone)]
pub struct GrpcBackend {
    client: Client,
    config: GrpcConfig,
}

impl GrpcBackend {
    /// A backend for `config`. Must be called inside a tokio runtime; connects lazily. Errors:
    /// a malformed endpoint, TLS material or token ([`DedupError::Rejected`]).
    pub fn new(config: GrpcConfig) -> Result<Self, DedupError> {
        let bad = |what: &str, e: String| DedupError::Rejected {
            code: "INVALID_CONFIGURATION".into(),
            reference_id: None,
            message: format!("{what}: {e}"),
        };
        let client = coordinator_client(
            &config.endpoint,
            config.tls.as_ref(),
            config.token.as_deref(),
            config.connect_timeout,
        )
        .map_err(|(what, why)| bad(what, why))?;
        Ok(Self { client, config })
    }

    /// Waits for job `job_id` to end: watch, and on a broken stream read it and watch again.
    async fn wait(
        &self,
        job_id: &str,
        applicants: &[v1::Record],
        deadline: Instant,
    ) -> Result<v1::Job, DedupError> {
        // A job id the coordinator just acknowledged cannot be the caller's fault when it is
        // later NOT_FOUND: read any refusal during the wait as a service fault.
        let wait_error = |status: &Status| match DedupError::from_status(status, applicants) {
            DedupError::Rejected { code, message, .. } => {
                DedupError::Service(format!("waiting for job {job_id}: {code}: {message}"))
            }
            other => other,
        };
        let mut last_error = String::from("no answer");
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(DedupError::Unavailable(format!(
                    "job {job_id} did not end within {:?} ({last_error})",
                    self.config.wait_timeout
                )));
            }
            let remaining = deadline - now;
            let mut watch = Request::new(v1::WatchJobRequest {
                job_id: job_id.to_owned(),
            });
            watch.set_timeout(remaining);
            match self.client.clone().watch_job(watch).await {
                Ok(response) => {
                    let mut stream = response.into_inner();
                    loop {
                        match stream.message().await {
                            Ok(Some(message)) => {
                                let job = message.job.unwrap_or_default();
                                if is_final(&job) {
                                    return Ok(job);
                                }
                            }
                            Ok(None) => {
                                last_error = "watch stream ended before the job".into();
                                break;
                            }
                            Err(status) => {
                                let error = wait_error(&status);
                                if !error.is_retryable() {
                                    return Err(error);
                                }
                                last_error = error.to_string();
                                break;
                            }
                        }
                    }
                }
                Err(status) => {
                    let error = wait_error(&status);
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    last_error = error.to_string();
                }
            }
            tracing::debug!(job = %job_id, "watch interrupted ({last_error}); reading the job");
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut get = Request::new(v1::GetJobRequest {
                job_id: job_id.to_owned(),
            });
            get.set_timeout(
                self.config
                    .request_timeout
                    .min(remaining)
                    .max(Duration::from_millis(1)),
            );
            match self.client.clone().get_job(get).await {
                Ok(response) => {
                    let job = response.into_inner().job.unwrap_or_default();
                    if is_final(&job) {
                        return Ok(job);
                    }
                }
                Err(status) => {
                    let error = wait_error(&status);
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    last_error = error.to_string();
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(self.config.poll_interval.min(remaining)).await;
        }
    }
}

fn is_final(job: &v1::Job) -> bool {
    job.state == v1::JobState::Done as i32 || job.state == v1::JobState::Failed as i32
}

/// A final job's answer: DONE gives its results, FAILED its failure's classified error.
fn outcome(
    job: v1::Job,
    applicants: &[v1::Record],
) -> Result<Vec<v1::ApplicantResult>, DedupError> {
    if job.state == v1::JobState::Done as i32 {
        return Ok(job.results);
    }
    match job.failure.as_ref().and_then(|f| f.error.as_ref()) {
        Some(detail) => Err(DedupError::from_detail(detail, applicants)),
        None => Err(DedupError::Service(format!(
            "job {} FAILED without a reason",
            job.job_id
        ))),
    }
}

impl DedupBackend for GrpcBackend {
    fn run_job(
        &self,
        job_id: &str,
        applicants: &[v1::Record],
        options: &v1::IdentifyOptions,
    ) -> impl Future<Output = Result<Vec<v1::ApplicantResult>, DedupError>> + Send {
        let job_id = job_id.to_owned();
        let applicants = applicants.to_vec();
        let options = *options;
        async move {
            let deadline = Instant::now() + self.config.wait_timeout;
            let mut submit = Request::new(v1::SubmitDedupJobRequest {
                job_id: job_id.clone(),
                applicants: applicants.clone(),
                options: Some(options),
            });
            submit.set_timeout(self.config.request_timeout);
            let response = self
                .client
                .clone()
                .submit_dedup_job(submit)
                .await
                .map_err(|status| DedupError::from_status(&status, &applicants))?
                .into_inner();
            tracing::debug!(job = %job_id, created = response.created, "de-dup job submitted");
            let job = response.job.unwrap_or_default();
            let job = if is_final(&job) {
                job
            } else {
                self.wait(&job_id, &applicants, deadline).await?
            };
            outcome(job, &applicants)
        }
    }
}
