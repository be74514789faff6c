//! Prometheus metrics and their text endpoint.
//!
//! Metrics live in one [`prometheus::Registry`] owned by [`Metrics`] (no global registry, so
//! tests can hold several): per RPC a request counter labelled with the gRPC code and a latency
//! histogram, and a gauge of the shard's live records, read from the engine at each scrape so it
//! is never stale. The endpoint is a bare hyper HTTP/1 server (tonic already links hyper) that
//! answers `GET /metrics` in the text exposition format and 404 otherwise; it stops with the
//! gRPC server.

use abis_engine::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    records: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "abis_shard_requests_total",
                "gRPC requests served, by method and status code",
            ),
            &["method", "code"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "abis_shard_request_duration_seconds",
                "gRPC request latency, by method",
            )
            .buckets(prometheus::exponential_buckets(0.0005, 2.5, 14).expect("valid buckets")),
            &["method"],
        )
        .expect("valid metric");
        let records = IntGauge::new("abis_shard_records", "Live records in this shard")
            .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("unique");
        registry
            .register(Box::new(latency.clone()))
            .expect("unique");
        registry
            .register(Box::new(records.clone()))
            .expect("unique");
        Self {
            registry,
            requests,
            latency,
            records,
        }
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, code_name(code)])
            .inc();
        self.latency
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition of every metric, the record gauge refreshed from `engine`.
    pub fn render(&self, engine: &Engine) -> String {
        self.records
            .set(i64::try_from(engine.len()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    engine: Arc<Engine>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    continue;
                }
            },
        };
        let (metrics, engine) = (metrics.clone(), engine.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (metrics, engine) = (metrics.clone(), engine.clone());
                async move { Ok::<_, std::convert::Infallible>(respond(&req, &metrics, &engine)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %e, "metrics endpoint: connection error");
            }
        });
    }
}

fn respond<B>(req: &Request<B>, metrics: &Metrics, engine: &Engine) -> Response<Full<Bytes>> {
    let found = req.method() == hyper::Method::GET && req.uri().path() == "/metrics";
    let (status, body) = if found {
        (StatusCode::OK, metrics.render(engine))
    } else {
        (
            StatusCode::NOT_FOUND,
            "not found; try GET /metrics\n".into(),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
