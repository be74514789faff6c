//! `abis serve`: the public gRPC API (`abis.v1.Abis`, `abis.v1.Admin`) from one process, with no
//! cluster to set up: a shard node holding the whole gallery and a coordinator in front of it,
//! the same code as `abis-shard-node` and `abis-coordinator`, run together (one slot owner,
//! R = 1). Clients see exactly the cluster's API, so moving to a cluster changes an address,
//! not a client.
//!
//! Data directory layout: `<dir>/shard/` (the shard node: gallery and epoch fence),
//! `<dir>/coordinator/` (shard map, trust store, de-dup jobs) and `<dir>/audit.log` (every call
//! that touches a person, hash-chained; `abis audit verify`). The hop between the two is loopback TCP on a
//! port picked at each start, secured by mutual TLS with a CA made at each start
//! (`abis_server_kit::pki`), so no other local process can reach the shard node. The public
//! side is secured like the coordinator's (`--tls-cert`, `--tls-key`, `--token-file`,
//! `--client-ca`), or plaintext with `--insecure-plaintext`.

use abis_coordinator::config::{
    ApiArgs, Config as CoordinatorConfig, ImageArgs, LimitArgs, TlsPem,
};
use abis_coordinator::shard_map::NodeEntry;
use abis_server_kit::pki::Ca;
use abis_server_kit::Launch;
use abis_shard_node::config::{Config as ShardConfig, TlsPaths};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// The shard node's id in the single-process map.
const SHARD_ID: &str = "local";

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Public gRPC listen address (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Data directory [default: <user data dir>/abis/serve].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    api: ApiArgs,
    /// Serve the public API without TLS (local development only).
    #[arg(long)]
    insecure_plaintext: bool,
    /// Prometheus endpoint address (`GET /metrics`, plain HTTP): the API's request counts and
    /// latencies; none when absent.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Deadline of each call from the coordinator to the shard node, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    shard_timeout_ms: u64,
    /// Create a new, empty gallery when the data directory holds none. Without it a missing
    /// gallery is refused (exit 2): serving a mistyped path would answer "no match" to everyone.
    #[arg(long)]
    create: bool,
    /// The shape of a gallery `--create` makes: `synthetic` (Daugman 2,048-bit iris codes and
    /// 512-d faces, as `abis generate` makes) or `images` (open-iris 12,800-bit codes and 128-d
    /// faces: what this server extracts from iris and face images) [default: synthetic]. An
    /// existing gallery keeps its shape; naming another one refuses to start.
    #[arg(long)]
    gallery_shape: Option<abis_engine::GalleryConfig>,
    /// Request limits and search deadlines.
    #[command(flatten)]
    limits: LimitArgs,
    /// Images (fingers, irises, faces) in requests.
    #[command(flatten)]
    images: ImageArgs,
}

/// The loopback hop's certificates, written (owner-only) under `dir`.
struct Internal {
    shard: TlsPaths,
    coordinator: TlsPem,
}

fn internal_tls(dir: &Path) -> anyhow::Result<Internal> {
    std::fs::create_dir_all(dir)?;
    let ca = Ca::new("abis serve internal CA")?;
    let server = ca.server(&["localhost", "127.0.0.1"])?;
    let client = ca.client("coordinator")?;
    let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(text.as_bytes())?;
        Ok(path)
    };
    Ok(Internal {
        shard: TlsPaths {
            cert: write("shard.crt", &server.cert)?,
            key: write("shard.key", &server.key)?,
            client_ca: write("ca.crt", &ca.pem())?,
        },
        coordinator: TlsPem {
            cert: client.cert.into_bytes(),
            key: client.key.into_bytes(),
            ca: Some(ca.pem().into_bytes()),
        },
    })
}

/// Runs the command until SIGTERM or SIGINT.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let api = args
        .api
        .security(args.insecure_plaintext)
        .map_err(crate::bad_input)?;
    let (limits, max_message_bytes, max_concurrent_searches) =
        args.limits.validate().map_err(crate::bad_input)?;
    let images = args.images.validate().map_err(crate::bad_input)?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| crate::default_data_dir("serve"));
    if !args.create && !dir.join("shard/engine/db/CURRENT").is_file() {
        return Err(abis_engine::EngineError::BadDataDir {
            path: dir.display().to_string(),
            reason: "holds no abis gallery (check the path; pass --create to start a new one)"
                .into(),
        }
        .into());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let internal = internal_tls(&dir.join("internal-tls"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (stop, stopped) = watch::channel(false);
        let (bound, shard_addr) = oneshot::channel();
        let shard = tokio::spawn(abis_shard_node::server::run_with(
            ShardConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                data_dir: dir.join("shard"),
                shard_id: SHARD_ID.into(),
                metrics_listen: None,
                tls: Some(internal.shard),
                max_searches: std::thread::available_parallelism().map_or(2, |n| n.get()),
                max_message_bytes,
                key_file: super::key_file(),
                gallery_shape: args.gallery_shape,
            },
            Launch::Embedded {
                bound: Some(bound),
                stop: stopped,
            },
        ));
        let Ok(shard_addr) = shard_addr.await else {
            // The shard node stopped before it listened: its error says why.
            shard.await??;
            anyhow::bail!("the shard node stopped before it listened");
        };
        let coordinator = abis_coordinator::server::run(CoordinatorConfig {
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            data_dir: dir.join("coordinator"),
            shards: vec![NodeEntry::new(SHARD_ID, shard_addr.to_string())],
            replication: 1,
            shard_timeout: Duration::from_millis(args.shard_timeout_ms.max(1)),
            job_attempts: 5,
            job_retry: Duration::from_secs(2),
            server_tls: api.tls,
            shard_tls: Some(internal.coordinator),
            tokens: api.tokens,
            clients: api.clients,
            audit_log: args
                .api
                .audit_log
                .clone()
                .unwrap_or_else(|| dir.join("audit.log")),
            key_file: super::key_file(),
            job_retention: Duration::from_secs(7 * 24 * 3600),
            limits,
            max_message_bytes,
            max_concurrent_searches,
            images,
        })
        .await;
        let _ = stop.send(true);
        let shard = shard.await.context("the shard node task failed")?;
        coordinator.and(shard)
    })?;
    Ok(ExitCode::SUCCESS)
}
