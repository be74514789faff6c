//! abis as a MOSIP Bio-SDK service: the REST interface MOSIP's ID Authentication (through
//! `biosdk-client`'s `Client_V_1_0`) calls for 1:1 biometric authentication, on abis's own
//! extractors and calibrated matchers, so a MOSIP deployment pointing its Bio-SDK URL here
//! authenticates with real matching.
//!
//! - [`wire`]: the envelope (`{"version", "request": base64 JSON}` in; `{"version",
//!   "responsetime", "response": {"statusCode", "statusMessage", "response"}, "errors"}` out),
//!   MOSIP's status codes, and which failures go where (functional ones in the status, with
//!   `errors` empty; envelope ones in `errors`, which MOSIP's client throws on).
//! - [`record`]: `BiometricRecord` JSON read into segments; abis's template formats
//!   (`bdbInfo.format.organization` `"abis"`: `finger-iso-19794-2`, `iris-open-iris-12800`,
//!   `face-dlib-128`), written by `/extract-template` and read back by `/match`.
//! - [`models`]: the extractors (LEADER fingers, the classical iris pipeline, dlib faces) and
//!   their quality measures mapped to 0-100 (the mapping is documented there).
//! - [`service`]: the operations. `/match` builds one record per modality for the sample and
//!   for each gallery record (images through `abis_mosip::person`, the same per-sample
//!   extraction and quality gate as MOSIP's ABIS path; templates as they are) and compares them
//!   with [`abis_engine::compare`], the engine's 1:1 kernels and calibration without a gallery:
//!   fingers fused over the fingers both hold, irises over both eyes, each decided at the
//!   operator's FMR (`--fmr`, default 1e-4; a request's `targetFMR` flag may ask for another
//!   within `--min-fmr`..`--max-fmr`). `analyticsInfo` carries the fused score (`-log10` FMR),
//!   the FMR it stands for and the threshold.
//! - [`server`]: axum routes on hyper with rustls, bearer tokens, per-request limits (body,
//!   gallery, segments), Prometheus metrics and the audit log; operations run on tokio's
//!   blocking pool, bounded.
//! - [`config`]: the binary's flags.

pub mod config;
pub mod models;
pub mod record;
pub mod server;
pub mod service;
pub mod wire;

use std::sync::Arc;

/// Runs the service described by `config` until SIGTERM or SIGINT.
pub async fn run(config: config::Config) -> anyhow::Result<()> {
    let tls = config
        .tls
        .as_ref()
        .map(server::tls_config)
        .transpose()?
        .map(Arc::new);
    if tls.is_none() {
        tracing::warn!("serving plain HTTP (--insecure-plaintext)");
    }
    if config.tokens.is_empty() {
        tracing::warn!("accepting calls without a token (--insecure-no-auth)");
    }
    let audit = match &config.audit_log {
        Some(path) => Some(abis_server_kit::audit::AuditLog::open(path)?),
        None => {
            tracing::warn!("no --audit-log: calls are not audited");
            None
        }
    };
    let models = config.models.clone();
    let loaded =
        tokio::task::spawn_blocking(move || models::Models::load(models.as_deref())).await?;
    let service = Arc::new(service::Service::new(loaded, config.policy));
    let router = server::router(
        service,
        server::Settings {
            tokens: config.tokens,
            max_body: config.max_body,
            workers: config.workers,
            audit,
        },
    );
    let stop = abis_server_kit::shutdown_signal()?;
    let (listener, _) = abis_server_kit::listen(config.listen, "listening on").await?;
    server::serve(listener, router, tls, async move {
        let why = stop.await;
        tracing::info!("{why}: stopping");
    })
    .await;
    Ok(())
}
