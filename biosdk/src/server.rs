//! The HTTP side: axum routes on hyper, TLS with rustls, bearer tokens, limits, metrics, the
//! audit log. Handlers check, read and decode the envelope, run the operation on tokio's
//! blocking pool (at most `workers` at once: extraction is CPU work), audit, and answer; every
//! answer has MOSIP's shape (`GET /` and `GET /metrics` are plain text).
//!
//! Routes, at the root and under `/biosdk-service` (MOSIP's context path): `GET /` (a status
//! line), `GET /metrics` (Prometheus, no token needed: counts and latencies only), and `POST`
//! `/init`, `/check-quality`, `/match`, `/extract-template`, `/convert-format`, `/segment`.

use crate::service::{Operation, Service};
use crate::wire::{self, EnvelopeError};
use abis_server_kit::audit::{AuditLog, Event};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What the server needs besides the service.
pub struct Settings {
    /// Accepted bearer tokens and the caller names they stand for; empty: no authentication.
    pub tokens: Vec<(String, String)>,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Operations running at once.
    pub workers: usize,
    /// The audit log, if kept.
    pub audit: Option<AuditLog>,
}

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    seconds: HistogramVec,
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "abis_biosdk_requests_total",
                "Bio-SDK requests, by operation and outcome (MOSIP status code or error code)",
            ),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "abis_biosdk_request_duration_seconds",
                "Bio-SDK request latency, by operation",
            )
            .buckets(prometheus::exponential_buckets(0.001, 2.0, 16).expect("valid buckets")),
            &["operation"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("unique");
        registry
            .register(Box::new(seconds.clone()))
            .expect("unique");
        Self {
            registry,
            requests,
            seconds,
        }
    }

    fn render(&self) -> String {
        use prometheus::Encoder;
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

struct AppState {
    service: Arc<Service>,
    settings: Settings,
    permits: Arc<Semaphore>,
    metrics: Metrics,
}

/// The routes of `service`.
pub fn router(service: Arc<Service>, settings: Settings) -> Router {
    let permits = Arc::new(Semaphore::new(settings.workers.max(1)));
    let state = Arc::new(AppState {
        service,
        settings,
        permits,
        metrics: Metrics::new(),
    });
    let mut routes = Router::new()
        .route("/", get(status))
        .route("/metrics", get(metrics));
    for op in Operation::ALL {
        routes = routes.route(
            op.path(),
            post(
                move |State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body| {
                    operation(state, op, headers, body)
                },
            ),
        );
    }
    let routes = routes.with_state(state);
    Router::new()
        .nest("/biosdk-service", routes.clone())
        .merge(routes)
}

async fn status() -> impl IntoResponse {
    format!("Service is running... {}", wire::now())
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
}

fn json_response(http: u16, value: &Value) -> Response {
    (
        StatusCode::from_u16(http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn error_response(version: &str, error: EnvelopeError) -> Response {
    json_response(error.http, &wire::reply(version, Value::Null, &[error]))
}

/// The caller named by the request's bearer token; `Err` when tokens are required and it
/// carries none that is accepted.
fn caller(settings: &Settings, headers: &HeaderMap) -> Result<String, EnvelopeError> {
    if settings.tokens.is_empty() {
        return Ok("anonymous".into());
    }
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let refused = || EnvelopeError {
        http: 401,
        code: "KER-ATH-401",
        message: "Authentication Failed: an accepted `Authorization: Bearer <token>` is needed"
            .into(),
    };
    let given = given.ok_or_else(refused)?;
    settings
        .tokens
        .iter()
        // Every token is compared, each in constant time, so timing tells nothing.
        .fold(None, |found, (token, name)| {
            let equal = constant_time_eq(token.as_bytes(), given.as_bytes());
            found.or(equal.then(|| name.clone()))
        })
        .ok_or_else(refused)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn operation(
    state: Arc<AppState>,
    op: Operation,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (response, outcome) = answer(&state, op, &headers, body).await;
    let name = op.path().trim_start_matches('/');
    state
        .metrics
        .requests
        .with_label_values(&[name, &outcome])
        .inc();
    state
        .metrics
        .seconds
        .with_label_values(&[name])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The response and its outcome label.
async fn answer(
    state: &AppState,
    op: Operation,
    headers: &HeaderMap,
    body: Body,
) -> (Response, String) {
    let fail = |e: EnvelopeError| {
        let code = e.code.to_owned();
        (error_response(wire::VERSION, e), code)
    };
    let caller = match caller(&state.settings, headers) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let limit = state.settings.max_body;
    let too_large = || EnvelopeError {
        http: 413,
        code: "INVALID_REQUEST_BODY",
        message: format!("the request body is over the limit of {limit} bytes"),
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return fail(too_large());
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            return fail(if over {
                too_large()
            } else {
                EnvelopeError::invalid_body(format!("the request body could not be read: {e}"))
            });
        }
    };
    let envelope = match wire::read_envelope(&bytes) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    drop(bytes);
    let Ok(permit) = state.permits.clone().acquire_owned().await else {
        return fail(unchecked("the service is stopping"));
    };
    let service = state.service.clone();
    let body = envelope.body;
    let ran = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        service.run(op, &body)
    })
    .await;
    let answer = match ran {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(operation = op.path(), "the operation failed: {e}");
            return fail(unchecked("the operation failed unexpectedly"));
        }
    };
    let status = match &answer.outcome {
        Ok(_) => 200,
        Err(f) => f.status.code(),
    };
    if let (true, Some(audit)) = (op.touches_person(), &state.settings.audit) {
        let event = Event {
            caller,
            op: op.path().trim_start_matches('/').to_owned(),
            ids: Vec::new(),
            outcome: status.to_string(),
            detail: answer.summary.clone(),
        };
        if let Err(e) = audit.record(event).await {
            tracing::error!("audit log: {e:#}");
            return fail(unchecked("the audit log cannot be written"));
        }
    }
    let reply = wire::reply(&envelope.version, wire::response_of(&answer.outcome), &[]);
    (json_response(200, &reply), status.to_string())
}

fn unchecked(message: &str) -> EnvelopeError {
    EnvelopeError {
        http: 500,
        code: "UNCHECKED_EXCEPTION",
        message: message.into(),
    }
}

/// Serves `router` on `listener` (over TLS with `tls`) until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl std::future::Future<Output = ()>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    use tower::ServiceExt;
                    router.clone().oneshot(req.map(Body::new))
                });
            let builder = hyper::server::conn::http1::Builder::new();
            let result = match acceptor {
                None => {
                    builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    builder
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection error");
            }
        });
    }
}

/// The rustls server configuration of a PEM certificate chain and key.
pub fn tls_config(pem: &abis_server_kit::tls::TlsPem) -> anyhow::Result<rustls::ServerConfig> {
    use anyhow::Context;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem.cert)
        .collect::<Result<_, _>>()
        .context("the TLS certificate is not PEM")?;
    anyhow::ensure!(
        !certs.is_empty(),
        "the TLS certificate file holds no certificate"
    );
    let key = PrivateKeyDer::from_pem_slice(&pem.key).context("the TLS key is not a PEM key")?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_material_is_read_and_mismatches_refused() {
        let ca = abis_server_kit::pki::Ca::new("test").unwrap();
        let leaf = ca.server(&["localhost"]).unwrap();
        let pem = abis_server_kit::tls::TlsPem {
            cert: leaf.cert.clone().into_bytes(),
            key: leaf.key.clone().into_bytes(),
            ca: None,
        };
        super::tls_config(&pem).unwrap();
        let other = ca.server(&["elsewhere"]).unwrap();
        let mismatched = abis_server_kit::tls::TlsPem {
            key: other.key.into_bytes(),
            ..pem
        };
        assert!(super::tls_config(&mismatched).is_err());
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
