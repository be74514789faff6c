//! Start-up, serving and shutdown.
//!
//! Start-up: open (or create) the shard map, the trust store and the job store in `--data-dir`,
//! connect lazily to the shard nodes, run one monitor round (so the nodes are known before
//! anything is read) and start the monitor and the repairer, requeue unfinished jobs, start the
//! worker, bind, then print `listening on <addr>` on stdout (tests and scripts wait for it). The gRPC server
//! holds `Abis` and `Admin` behind the authentication interceptor, the standard health service
//! (`SERVING` for "" and both services) and reflection v1 and v1alpha.
//!
//! Shutdown on SIGTERM or SIGINT: health turns `NOT_SERVING`, the listener stops and calls in
//! flight finish. A job interrupted mid-run is RUNNING in the store and runs again at the next
//! start.

use crate::auth::Auth;
use crate::cluster::Connector;
use crate::config::{Config, TlsPem};
use crate::images::Images;
use crate::jobs::JobStore;
use crate::metrics::Metrics;
use crate::monitor::Monitor;
use crate::rebalance::Rebalancer;
use crate::repair::Repairer;
use crate::service::Coordinator;
use crate::shard_map::ShardMap;
use crate::topology::Topology;
use crate::trust::Trust;
use crate::worker::Worker;
use abis_proto::v1::abis_server::AbisServer;
use abis_proto::v1::admin_server::AdminServer;
use abis_server_kit::audit::AuditLog;
use abis_server_kit::Launch;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

/// How often shard nodes are probed.
const PROBE_PERIOD: Duration = Duration::from_millis(500);
/// Every slot's replicas are compared every this many probe rounds (10 s).
const ANTI_ENTROPY_ROUNDS: u32 = 20;
/// How often finished jobs' payloads past their retention are purged.
const PURGE_PERIOD: Duration = Duration::from_secs(60);
/// How often marked replicas are repaired.
const REPAIR_PERIOD: Duration = Duration::from_millis(500);

/// Runs the coordinator until a termination signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    run_with(config, Launch::Process).await
}

/// Runs the coordinator as `launch` says: its own process, or inside another program.
pub async fn run_with(config: Config, mut launch: Launch) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let map =
        ShardMap::open_or_create(&config.data_dir, config.shards.clone(), config.replication)?;
    tracing::info!(
        nodes = map.nodes.len(),
        replication = map.replication,
        epoch = map.epoch,
        "shard map open"
    );
    let connector = Connector {
        tls: config.shard_tls.as_ref().map(TlsPem::client),
        timeout: config.shard_timeout,
    };
    let trust = Arc::new(Trust::open(&config.data_dir)?);
    let topology = Arc::new(Topology::new(
        map,
        connector.clone(),
        config.data_dir.clone(),
        trust,
    )?);
    let monitor = Arc::new(Monitor::new(topology.clone(), ANTI_ENTROPY_ROUNDS));
    // One round before serving: nodes are read only once the monitor has known them.
    if let Err(e) = monitor.round(false).await {
        tracing::warn!("first monitor round: {e:#}");
    }
    let prober = monitor.clone().spawn(PROBE_PERIOD);
    let repairer = Arc::new(Repairer::new(topology.clone()));
    let watching = monitor.clone();
    let repairs = repairer.spawn(REPAIR_PERIOD, move || watching.refusal().is_some());
    let keyring = abis_engine::crypto::keyring_from(config.key_file.as_deref())
        .context("cannot read the data keys")?
        .map(Arc::new);
    let (store, pending) = JobStore::open(&config.data_dir, keyring)?;
    let store = Arc::new(store);
    let purging = store.clone();
    let retention = config.job_retention;
    let purger = tokio::spawn(async move {
        loop {
            match purging.purge(retention) {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "finished jobs' payloads purged"),
                Err(e) => tracing::warn!("purging job payloads failed: {}", e.message()),
            }
            tokio::time::sleep(PURGE_PERIOD).await;
        }
    });
    let (queue, jobs) = tokio::sync::mpsc::unbounded_channel();
    tracing::info!(requeued = pending.len(), "job store open");
    for id in pending {
        queue.send(id)?;
    }
    let worker = Worker {
        topology: topology.clone(),
        store: store.clone(),
        attempts: config.job_attempts,
        retry_pause: config.job_retry,
        limits: config.limits,
    };
    let worker = tokio::spawn(worker.run(jobs));
    let metrics = Arc::new(Metrics::new());
    let coordinator = Coordinator {
        rebalancer: Arc::new(Rebalancer::new(topology.clone())),
        topology,
        connector,
        store,
        queue,
        images: Arc::new(Images::load(&config.images, metrics.registry())),
        metrics,
        monitor,
        limits: config.limits,
        searches: Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_searches.max(1),
        )),
        audit: AuditLog::open(&config.audit_log)?,
    };
    // Bound and announced (`metrics on <addr>`) before the API, like a shard node's.
    let metrics_task = match config.metrics_listen {
        None => None,
        Some(addr) => {
            let (listener, _) = abis_server_kit::listen(addr, "metrics on").await?;
            let c = coordinator.clone();
            let render = Arc::new(move || c.metrics.render(&c.topology, &c.rebalancer));
            Some(tokio::spawn(abis_server_kit::metrics::serve(
                listener,
                render,
                std::future::pending(),
            )))
        }
    };

    let certificates = config.server_tls.as_ref().is_some_and(|t| t.ca.is_some());
    let auth = Auth::new(config.tokens.clone(), certificates, config.clients.clone());
    let check = auth.clone();
    let abis = AbisServer::new(coordinator.clone())
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let abis = tonic::service::interceptor::InterceptedService::new(abis, move |r| check.check(r));
    let admin = AdminServer::new(coordinator);
    let admin = tonic::service::interceptor::InterceptedService::new(admin, move |r| auth.check(r));

    let (health_reporter, health) = tonic_health::server::health_reporter();
    for name in ["abis.v1.Abis", "abis.v1.Admin"] {
        health_reporter
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(abis_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let mut builder = Server::builder();
    if let Some(tls) = &config.server_tls {
        // With tokens configured, a client may authenticate by token instead of certificate.
        builder = builder
            .tls_config(tls.server(!config.tokens.is_empty()))
            .context("bad TLS configuration")?;
    } else {
        tracing::warn!("serving plaintext gRPC (--insecure-plaintext)");
    }
    // Signal handlers first: once the address is announced, a SIGTERM must mean a graceful stop.
    let signal = launch.stopper()?;
    let shutdown = async move {
        let name = signal.await;
        tracing::info!(signal = name, "shutting down: finishing calls in flight");
        for name in ["", "abis.v1.Abis", "abis.v1.Admin"] {
            health_reporter
                .set_service_status(name, tonic_health::ServingStatus::NotServing)
                .await;
        }
    };
    let (listener, addr) = launch.listen(config.listen, "listening on").await?;
    tracing::info!(%addr, tls = config.server_tls.is_some(), "serving abis.v1.Abis");
    builder
        .layer(abis_server_kit::errors::rewrite_layer(
            abis_proto::status::typed_transport_error,
        ))
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(abis)
        .add_service(admin)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .context("gRPC server failed")?;
    prober.abort();
    repairs.abort();
    purger.abort();
    worker.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
