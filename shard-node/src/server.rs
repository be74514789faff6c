//! Start-up, serving and shutdown.
//!
//! Data directory layout: `<data-dir>/engine/` is the engine's gallery (RocksDB and segments)
//! and `<data-dir>/map_epoch` the epoch fence ([`crate::epoch`]), kept outside the engine's
//! directory so the two never interfere.
//!
//! Order of start-up: open the fence and the engine (a bad data directory stops the node before
//! it listens), bind the metrics and gRPC listeners, install the signal handlers, then print
//! `metrics on <addr>` and `listening on <addr>` on stdout (the bound addresses, so port 0
//! works; scripts and tests wait for the second line). The gRPC server holds the Shard service,
//! the standard health service (`grpc.health.v1.Health`, `SERVING` for "" and
//! `abis.v1.Shard`) and server reflection v1 and v1alpha. Messages up to `--max-message-bytes`
//! (default [`MAX_MESSAGE_BYTES`]) are accepted and sent, so a full batch of 1,000 records fits.
//!
//! Shutdown on SIGTERM or SIGINT: health turns `NOT_SERVING`, the listener stops accepting, and
//! calls in flight finish (tonic's graceful shutdown: GOAWAY, then wait for open streams);
//! then the engine is flushed and the process exits 0.

use crate::config::{Config, TlsPaths};
use crate::epoch::EpochFence;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::service::ShardService;
use abis_engine::{Engine, EngineOptions};
use abis_proto::v1::shard_server::ShardServer;
use abis_server_kit::tls::TlsPem;
use abis_server_kit::Launch;
use anyhow::Context;
use std::sync::Arc;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};

/// Largest gRPC message received or sent by default.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Runs the node until a termination signal, then shuts down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    run_with(config, Launch::Process).await
}

/// Runs the node as `launch` says: its own process, or inside another program.
pub async fn run_with(config: Config, mut launch: Launch) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let fence = EpochFence::open(&config.data_dir)?;
    let engine_dir = config.data_dir.join("engine");
    let gallery_shape = config.gallery_shape;
    let keyring = abis_engine::crypto::keyring_from(config.key_file.as_deref())
        .context("cannot read the data keys")?
        .map(Arc::new);
    tracing::info!(
        sealed = keyring.is_some(),
        "templates at rest are {}",
        if keyring.is_some() {
            "sealed (AES-256-GCM)"
        } else {
            "in clear"
        }
    );
    let engine = tokio::task::spawn_blocking(move || {
        let options = EngineOptions {
            gallery: gallery_shape,
            partitioner: Some(crate::slots::PARTITIONER),
            keyring,
            ..EngineOptions::default()
        };
        Engine::open(&engine_dir, options)
            .with_context(|| format!("cannot open the gallery in {}", engine_dir.display()))
    })
    .await??;
    let engine = Arc::new(engine);
    tracing::info!(
        shard = %config.shard_id,
        records = engine.len(),
        map_epoch = fence.highest(),
        "gallery open"
    );
    let metrics = Arc::new(Metrics::new());
    let node = Arc::new(Node::new(
        config.shard_id.clone(),
        engine.clone(),
        fence,
        metrics.clone(),
        config.max_searches,
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move |mut rx: watch::Receiver<bool>| async move {
        // An error means the sender is gone: stop as well.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let metrics_task = match config.metrics_listen {
        None => None,
        Some(addr) => {
            let (listener, _) = abis_server_kit::listen(addr, "metrics on").await?;
            let shutdown = stopped(stop_rx.clone());
            let (metrics, engine) = (metrics.clone(), engine.clone());
            Some(tokio::spawn(abis_server_kit::metrics::serve(
                listener,
                Arc::new(move || metrics.render(&engine)),
                shutdown,
            )))
        }
    };

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ShardServer<ShardService>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(abis_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let shard = ShardServer::new(ShardService(node))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);

    let mut builder = Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder
            .tls_config(tls_config(tls)?)
            .context("bad TLS configuration")?;
    } else {
        tracing::warn!("serving plaintext gRPC without authentication (--insecure-plaintext)");
    }
    // Signal handlers first: once the address is announced, a SIGTERM must mean a graceful stop.
    let signal = launch.stopper()?;
    let signals = tokio::spawn(async move {
        let name = signal.await;
        tracing::info!(signal = name, "shutting down: finishing calls in flight");
        health_reporter
            .set_not_serving::<ShardServer<ShardService>>()
            .await;
        health_reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let _ = stop_tx.send(true);
    });

    let (listener, addr) = launch.listen(config.listen, "listening on").await?;
    tracing::info!(%addr, tls = config.tls.is_some(), "serving abis.v1.Shard");
    builder
        .layer(abis_server_kit::errors::rewrite_layer(
            abis_proto::status::typed_transport_error,
        ))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(shard)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopped(stop_rx),
        )
        .await
        .context("gRPC server failed")?;
    signals.abort();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    tokio::task::spawn_blocking(move || engine.flush())
        .await?
        .context("flushing the gallery")?;
    tracing::info!("stopped");
    Ok(())
}

/// Mutual TLS: the coordinator must present a certificate signed by the client CA.
fn tls_config(tls: &TlsPaths) -> anyhow::Result<ServerTlsConfig> {
    Ok(TlsPem::read(&tls.cert, &tls.key, Some(&tls.client_ca))?.server(false))
}
