//! [`Cluster`]: the adapter's [`Gallery`] on an abis cluster, through its coordinator's public
//! gRPC API (`abis.v1.Abis`).
//!
//! - Connection as the registration client makes it: an `http://` or `https://` endpoint, the
//!   server checked against the operator's CA, a client certificate for mutual TLS, a bearer
//!   token in every call's `authorization`, a deadline per call. Reads (Ping, Identify, Verify,
//!   ReferenceCount) and Insert (idempotent by reference id) are tried again after a pause when
//!   the coordinator could not be reached or was overloaded; Delete is not, since a retried
//!   delete that already happened would read as "not enrolled".
//! - Fail closed: an Identify always asks for a complete search (`allow_incomplete = false`), and
//!   any answer that is not COMPLETE, like a count that is not, is [`GalleryError::Failed`]:
//!   MOSIP never hears "no match" from a partial search.
//! - Probes: the public API has no "get record", so the templates of every record this adapter
//!   enrolled are kept in its [`Store`] (`templates`, encoded `abis.v1.Record`, never images;
//!   sealed with the operator's keys bound to the reference id), written once the coordinator
//!   acknowledged the insert and removed with the delete. A record enrolled in the cluster by
//!   anyone else has no probe here.

use crate::gallery::{Gallery, GalleryError, Inserted};
use crate::store::Store;
use abis_engine::crypto::Keyring;
use abis_engine::{Candidate, GalleryConfig, Record, ReferenceId, VerifyResult};
use abis_proto::v1;
use abis_registration::backend::{coordinator_client, CoordinatorClient};
pub use abis_registration::TlsSettings;
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tonic::{Code, Request, Status};

/// How to reach a coordinator and how long to wait.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// TLS material; required for an `https://` endpoint.
    pub tls: Option<TlsSettings>,
    /// Bearer token sent as `authorization: Bearer <token>`; none when `None` or empty.
    pub token: Option<String>,
    /// Deadline to establish a connection.
    pub connect_timeout: Duration,
    /// Deadline of each call.
    pub request_timeout: Duration,
    /// Tries of a retryable call (at least 1).
    pub attempts: u32,
    /// Pause after the first failed try, doubling after each.
    pub backoff: Duration,
}

impl ClusterConfig {
    /// Defaults for `endpoint`: no TLS, no token, 5 s to connect, 60 s per call, 3 tries 250 ms
    /// apart (doubling).
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            tls: None,
            token: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            attempts: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// An abis cluster behind its coordinator (see the module docs).
pub struct Cluster {
    client: CoordinatorClient,
    config: ClusterConfig,
    shape: GalleryConfig,
    store: Store,
    keyring: Option<Arc<Keyring>>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> GalleryError {
    GalleryError::Failed(format!("{what}: {e}"))
}

/// A failed call as the adapter reads it: the typed detail's code and message when the status
/// carries one, else the gRPC code.
fn status_error(call: &str, status: &Status) -> GalleryError {
    match abis_proto::error_detail_of(status) {
        Some(detail) => {
            let code = v1::ErrorCode::try_from(detail.code).unwrap_or(v1::ErrorCode::Unspecified);
            failed(call, format!("{}: {}", code.as_str_name(), detail.message))
        }
        None => failed(call, format!("{:?}: {}", status.code(), status.message())),
    }
}

/// Whether another try of the same call soon may succeed: the coordinator was not reached (an
/// UNAVAILABLE without abis's typed detail), or it shed the call (overloaded). A typed
/// UNAVAILABLE is not: the coordinator has already tried every replica it could.
fn retryable(status: &Status) -> bool {
    match abis_proto::error_detail_of(status) {
        Some(detail) => detail.code == v1::ErrorCode::Overloaded as i32,
        None => matches!(status.code(), Code::Unavailable | Code::ResourceExhausted),
    }
}

impl Cluster {
    /// Connects to the coordinator of `config`, reads the gallery's shape from its Ping (refusing
    /// one abis cannot hold), and keeps enrolled templates in `store`, sealed with `keyring` when
    /// given. Fails when the coordinator does not answer, or no shard node has answered it yet.
    pub async fn connect(
        config: ClusterConfig,
        store: Store,
        keyring: Option<Arc<Keyring>>,
    ) -> Result<Self, GalleryError> {
        let client = coordinator_client(
            &config.endpoint,
            config.tls.as_ref(),
            config.token.as_deref(),
            config.connect_timeout,
        )
        .map_err(|(what, why)| failed(&format!("coordinator {what}"), why))?;
        let mut cluster = Self {
            client,
            config,
            shape: GalleryConfig::default(),
            store,
            keyring,
        };
        let ping = cluster.ping_response().await?;
        let shape = ping
            .shape
            .as_ref()
            .ok_or_else(|| failed("Ping", "the coordinator gave no gallery shape"))?;
        cluster.shape = GalleryConfig::try_from(shape).map_err(|e| failed("gallery shape", e))?;
        let face_dim = cluster.shape.face_dim;
        if !(1..=abis_engine::config::MAX_FACE_DIM).contains(&face_dim) {
            return Err(failed(
                "gallery shape",
                format!("face dimension {face_dim} is not one abis can hold"),
            ));
        }
        Ok(cluster)
    }

    /// `message` with the call's deadline (the client adds the token).
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.config.request_timeout);
        request
    }

    /// Runs `call` until it succeeds, fails for good, or has had its tries.
    async fn retried<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut(CoordinatorClient) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let mut pause = self.config.backoff;
        let mut attempt = 1;
        loop {
            match call(self.client.clone()).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if retryable(&status) && attempt < self.config.attempts => {
                    tracing::debug!(attempt, "coordinator call failed, retrying: {status}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }

    async fn ping_response(&self) -> Result<v1::PingResponse, GalleryError> {
        self.retried(|mut c| async move { c.ping(self.request(v1::PingRequest {})).await })
            .await
            .map_err(|s| status_error("Ping", &s))
    }

    /// What the store keeps of `record` (as sent to the coordinator): its encoding, sealed to
    /// `id` when keys are given.
    fn encode(&self, id: &ReferenceId, record: &v1::Record) -> Vec<u8> {
        let plain = record.encode_to_vec();
        match &self.keyring {
            Some(keys) => keys.seal(&plain, id.as_str().as_bytes()),
            None => plain,
        }
    }

    fn decode(&self, id: &ReferenceId, stored: &[u8]) -> Result<Record, GalleryError> {
        let what = format!("stored templates of {id}");
        let plain = match (&self.keyring, abis_engine::crypto::is_sealed(stored)) {
            (Some(keys), true) => keys
                .open(stored, id.as_str().as_bytes(), &what)
                .map_err(|e| failed(&what, e))?,
            (Some(_), false) => return Err(failed(&what, "not sealed, yet keys are given")),
            (None, true) => return Err(failed(&what, "sealed: give the key file")),
            (None, false) => stored.to_vec(),
        };
        let record = v1::Record::decode(plain.as_slice()).map_err(|e| failed(&what, e))?;
        if record.reference_id != id.as_str() {
            return Err(failed(&what, "they name another reference id"));
        }
        record
            .into_engine(&self.shape.iris_layout)
            .map_err(|e| failed(&what, e))
    }
}

impl Gallery for Cluster {
    /// The shape the coordinator gave at connect.
    fn shape(&self) -> GalleryConfig {
        self.shape
    }

    /// The coordinator answers (and a shard node has answered it).
    async fn ping(&self) -> Result<(), GalleryError> {
        self.ping_response().await.map(drop)
    }

    /// The templates this adapter enrolled under `id`; `None` for a record it did not enrol,
    /// even when the cluster holds one under `id` (enrolled by another client): the API cannot
    /// read it back, so an Identify naming it only as a probe is answered "not found".
    async fn probe(&self, id: &ReferenceId) -> Result<Option<Record>, GalleryError> {
        self.store
            .templates(id.as_str())
            .map_err(|e| failed("template store", e))?
            .map(|stored| self.decode(id, &stored))
            .transpose()
    }

    /// Enrols `record`; its templates are kept once the coordinator acknowledged it (new, or
    /// already there with this content).
    async fn insert(&self, record: Record) -> Result<Inserted, GalleryError> {
        let wire = abis_proto::record_to_proto(&record, &self.shape.iris_layout);
        let sent = &wire;
        let response = self
            .retried(|mut c| async move {
                c.insert(self.request(v1::InsertRequest {
                    records: vec![sent.clone()],
                }))
                .await
            })
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(s) if s.code() == Code::AlreadyExists => return Ok(Inserted::Other),
            Err(s) => return Err(status_error("Insert", &s)),
        };
        if response.results.len() != 1 {
            return Err(failed(
                "Insert",
                format!("{} results for one record", response.results.len()),
            ));
        }
        let result = response.results.remove(0);
        if let Some(detail) = result.error {
            let code = v1::ErrorCode::try_from(detail.code).unwrap_or(v1::ErrorCode::Unspecified);
            return match code {
                v1::ErrorCode::AlreadyExists => Ok(Inserted::Other),
                code => Err(failed(
                    "Insert",
                    format!("{}: {}", code.as_str_name(), detail.message),
                )),
            };
        }
        let inserted = match v1::InsertOutcome::try_from(result.outcome) {
            Ok(v1::InsertOutcome::Inserted) => Inserted::New,
            Ok(v1::InsertOutcome::AlreadyPresent) => Inserted::Same,
            _ => return Err(failed("Insert", "a result with neither outcome nor error")),
        };
        self.store
            .keep_templates(
                record.reference_id.as_str(),
                &self.encode(&record.reference_id, &wire),
            )
            .map_err(|e| failed("template store", e))?;
        Ok(inserted)
    }

    async fn identify(
        &self,
        probe: Record,
        max_results: usize,
        fpir: f64,
    ) -> Result<Vec<Candidate>, GalleryError> {
        let probe = abis_proto::record_to_proto(&probe, &self.shape.iris_layout);
        let options = v1::IdentifyOptions {
            max_results: max_results.clamp(1, abis_proto::MAX_RESULTS) as u32,
            threshold: Some(v1::Threshold {
                kind: Some(v1::threshold::Kind::Fpir(fpir)),
            }),
            allow_incomplete: false,
        };
        let probe = &probe;
        let response = self
            .retried(|mut c| async move {
                c.identify(self.request(v1::IdentifyRequest {
                    probe: Some(probe.clone()),
                    options: Some(options),
                }))
                .await
            })
            .await
            .map_err(|s| status_error("Identify", &s))?;
        let result = response
            .result
            .ok_or_else(|| failed("Identify", "an answer without a result"))?;
        if !result.is_complete() {
            return Err(failed(
                "Identify",
                "the search did not cover the whole gallery",
            ));
        }
        result
            .candidates
            .iter()
            .map(|c| Candidate::try_from(c).map_err(|e| failed("Identify candidate", e)))
            .collect()
    }

    async fn verify(
        &self,
        probe: Record,
        id: ReferenceId,
        fmr: f64,
    ) -> Result<Option<Candidate>, GalleryError> {
        let probe = abis_proto::record_to_proto(&probe, &self.shape.iris_layout);
        let (probe, reference_id) = (&probe, id.as_str());
        let response = self
            .retried(|mut c| async move {
                c.verify(self.request(v1::VerifyRequest {
                    probe: Some(probe.clone()),
                    reference_id: reference_id.to_owned(),
                    target_fmr: fmr,
                }))
                .await
            })
            .await
            .map_err(|s| match s.code() {
                Code::NotFound => GalleryError::NotFound(id.as_str().to_owned()),
                _ => status_error("Verify", &s),
            })?;
        let verdict = VerifyResult::try_from(&response).map_err(|e| failed("Verify", e))?;
        Ok(verdict.is_match.then_some(Candidate {
            reference_id: id,
            fused_score: verdict.fused_score,
            scores: verdict.scores,
        }))
    }

    /// Removes `id` from the cluster, then its kept templates (also when the cluster no longer
    /// held it).
    async fn delete(&self, id: ReferenceId) -> Result<(), GalleryError> {
        let mut client = self.client.clone();
        let mut response = client
            .delete(self.request(v1::DeleteRequest {
                reference_ids: vec![id.as_str().to_owned()],
            }))
            .await
            .map_err(|s| status_error("Delete", &s))?
            .into_inner();
        if response.results.len() != 1 {
            return Err(failed(
                "Delete",
                format!("{} results for one id", response.results.len()),
            ));
        }
        let result = response.results.remove(0);
        if let Some(detail) = result.error {
            let code = v1::ErrorCode::try_from(detail.code).unwrap_or(v1::ErrorCode::Unspecified);
            return Err(failed(
                "Delete",
                format!("{}: {}", code.as_str_name(), detail.message),
            ));
        }
        let outcome = v1::DeleteOutcome::try_from(result.outcome);
        if !matches!(
            outcome,
            Ok(v1::DeleteOutcome::Deleted | v1::DeleteOutcome::NotFound)
        ) {
            return Err(failed("Delete", "a result with neither outcome nor error"));
        }
        self.store
            .drop_templates(id.as_str())
            .map_err(|e| failed("template store", e))?;
        match outcome {
            Ok(v1::DeleteOutcome::NotFound) => Err(GalleryError::NotFound(id.as_str().to_owned())),
            _ => Ok(()),
        }
    }

    async fn count(&self) -> Result<u64, GalleryError> {
        let response = self
            .retried(|mut c| async move {
                c.reference_count(self.request(v1::ReferenceCountRequest {}))
                    .await
            })
            .await
            .map_err(|s| status_error("ReferenceCount", &s))?;
        if !response
            .completeness
            .as_ref()
            .is_some_and(v1::Completeness::is_complete)
        {
            return Err(failed(
                "ReferenceCount",
                "not every part of the gallery was counted",
            ));
        }
        Ok(response.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abis_engine::FaceTemplate;

    const KEYS: &str = "1 00000000000000000000000000000000000000000000000000000000000000a1\n";

    /// A cluster that never calls its coordinator: the template store only.
    fn offline(store: Store, keyring: Option<Arc<Keyring>>) -> Cluster {
        Cluster {
            client: coordinator_client("http://127.0.0.1:9", None, None, Duration::from_secs(1))
                .unwrap(),
            config: ClusterConfig::new("http://127.0.0.1:9"),
            shape: GalleryConfig::default(),
            store,
            keyring,
        }
    }

    fn record(id: &str) -> (ReferenceId, v1::Record) {
        let id = ReferenceId::new(id).unwrap();
        let mut record = Record::new(id.clone());
        record.face = Some(FaceTemplate {
            embedding: (0..512).map(|i| i as f32).collect(),
        });
        let wire = abis_proto::record_to_proto(&record, &GalleryConfig::default().iris_layout);
        (id, wire)
    }

    #[tokio::test]
    async fn kept_templates_are_sealed_to_their_reference_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keys = Arc::new(Keyring::parse(KEYS).unwrap());
        let cluster = offline(store.clone(), Some(keys));
        let (id, wire) = record("r-1");
        let sealed = cluster.encode(&id, &wire);
        assert!(abis_engine::crypto::is_sealed(&sealed));
        store.keep_templates(id.as_str(), &sealed).unwrap();
        let probe = cluster.probe(&id).await.unwrap().unwrap();
        assert_eq!(
            probe,
            wire.clone()
                .into_engine(&cluster.shape.iris_layout)
                .unwrap()
        );
        // Moved to another id, or read without the keys: refused, never someone's probe.
        let (other, _) = record("r-2");
        store.keep_templates(other.as_str(), &sealed).unwrap();
        assert!(matches!(
            cluster.probe(&other).await,
            Err(GalleryError::Failed(_))
        ));
        let keyless = offline(store.clone(), None);
        assert!(matches!(
            keyless.probe(&id).await,
            Err(GalleryError::Failed(_))
        ));
        // In clear without keys; an unknown id has no probe.
        let plain = keyless.encode(&id, &wire);
        assert_eq!(plain, wire.encode_to_vec());
        store.keep_templates(id.as_str(), &plain).unwrap();
        assert!(keyless.probe(&id).await.unwrap().is_some());
        assert!(matches!(
            cluster.probe(&id).await,
            Err(GalleryError::Failed(_))
        ));
        assert_eq!(
            keyless.probe(&ReferenceId::new("r-3").unwrap()).await,
            Ok(None)
        );
    }

    #[test]
    fn statuses_read_as_failures_with_their_code() {
        let typed = abis_proto::status_from_detail(v1::ErrorDetail {
            code: v1::ErrorCode::Unavailable as i32,
            message: "2048 slots unsearched".into(),
            ..Default::default()
        });
        assert!(!retryable(&typed), "the coordinator tried every replica");
        assert_eq!(
            status_error("Identify", &typed),
            GalleryError::Failed("Identify: ERROR_CODE_UNAVAILABLE: 2048 slots unsearched".into())
        );
        let deadline = Status::deadline_exceeded("too slow");
        assert!(!retryable(&deadline));
        assert_eq!(
            status_error("Verify", &deadline),
            GalleryError::Failed("Verify: DeadlineExceeded: too slow".into())
        );
        assert!(!retryable(&Status::not_found("r-1")));
        assert!(retryable(&Status::unavailable("tcp connect error")));
        let shed = abis_proto::status_from_detail(v1::ErrorDetail {
            code: v1::ErrorCode::Overloaded as i32,
            ..Default::default()
        });
        assert!(retryable(&shed));
    }
}
