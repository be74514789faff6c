//! Command-line flags, validated into a typed [`Config`].
//!
//! The security rule lives here: the coordinator serves TLS (`--tls-cert`, `--tls-key`) and
//! authenticates clients by bearer tokens (`--token-file`) and/or client certificates
//! (`--client-ca`), and reaches shard nodes over mutual TLS (`--shard-ca`, `--client-cert`,
//! `--client-key`), unless `--insecure-plaintext` is given explicitly; tokens are still checked
//! in plaintext when a token file is given.

use crate::auth::{parse_client_roles, parse_tokens, Caller};
pub use crate::images::{ImageArgs, ImageConfig};
use crate::search::Limits;
use crate::shard_map::NodeEntry;
pub use abis_server_kit::tls::TlsPem;
use anyhow::{bail, Context};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The command line of `abis-coordinator`.
#[derive(Debug, Parser)]
#[command(
    name = "abis-coordinator",
    version,
    about = "Serves the public abis API (abis.v1.Abis, Admin) in front of shard nodes"
)]
pub struct Args {
    /// gRPC listen address (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub listen: SocketAddr,
    /// Directory of the shard map and the job store (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// A shard node, ID=HOST:PORT; repeatable. Needed at the first start only.
    #[arg(long = "shard")]
    pub shards: Vec<String>,
    /// Replicas per slot, at the first start.
    #[arg(long, default_value_t = 2)]
    pub replication: u32,
    /// Deadline of each call to a shard node, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub shard_timeout_ms: u64,
    /// Attempts per de-dup job before it fails on service faults.
    #[arg(long, default_value_t = 5)]
    pub job_attempts: u32,
    /// Pause between attempts of a de-dup job, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub job_retry_ms: u64,
    /// The public API's TLS and client authentication.
    #[command(flatten)]
    pub api: ApiArgs,
    /// PEM CA that signed the shard nodes' certificates.
    #[arg(long)]
    pub shard_ca: Option<PathBuf>,
    /// PEM certificate the coordinator presents to shard nodes.
    #[arg(long)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long)]
    pub client_key: Option<PathBuf>,
    /// Serve and reach shard nodes without TLS (local development only).
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// Prometheus endpoint address (`GET /metrics`, plain HTTP); none when absent.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Request limits and search deadlines.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Finger images in requests.
    #[command(flatten)]
    pub images: ImageArgs,
    /// Keys sealing stored job payloads (lines `ID HEX`, the first current; see
    /// `abis_engine::crypto`) [default: $ABIS_DATA_KEYS, else stored in clear].
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Hours a finished job keeps its payload (the applicants' templates) before it is purged;
    /// its results stay.
    #[arg(long, default_value_t = 168)]
    pub job_retention_hours: u64,
}

/// Request limits: batch and message sizes, candidates, the threshold floor, concurrency, and
/// how deadlines grow with a search's work. Shared with `abis serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Most records, probes, applicants or ids in one request (1 to 1,000).
    #[arg(long, default_value_t = abis_proto::MAX_BATCH_ITEMS)]
    pub max_batch: usize,
    /// Most candidates one probe may ask for (1 to 1,000).
    #[arg(long, default_value_t = abis_proto::MAX_RESULTS)]
    pub max_results: usize,
    /// Least fixed threshold score an identify may ask for (-log10 of the per-comparison false
    /// match rate; FPIR thresholds always lie far above it).
    #[arg(long, default_value_t = 3.0)]
    pub min_threshold_score: f64,
    /// Largest gRPC message received or sent, in bytes (at least 1 MiB).
    #[arg(long, default_value_t = 64 << 20)]
    pub max_message_bytes: usize,
    /// Searches and verifications run at once; more are shed with RESOURCE_EXHAUSTED
    /// (OVERLOADED) [default: 4 per core].
    #[arg(long)]
    pub max_concurrent_searches: Option<usize>,
    /// Record-probe comparisons per second a shard node reaches at least: a search call's
    /// deadline is --shard-timeout-ms plus its probes times the node's records over this rate.
    #[arg(long, default_value_t = 2e5)]
    pub node_scan_rate: f64,
}

impl LimitArgs {
    /// Validates into the limits, the message size and the concurrency.
    pub fn validate(&self) -> anyhow::Result<(Limits, usize, usize)> {
        if !(1..=abis_proto::MAX_BATCH_ITEMS).contains(&self.max_batch) {
            bail!("--max-batch must be 1 to {}", abis_proto::MAX_BATCH_ITEMS);
        }
        if !(1..=abis_proto::MAX_RESULTS).contains(&self.max_results) {
            bail!("--max-results must be 1 to {}", abis_proto::MAX_RESULTS);
        }
        if !(self.min_threshold_score.is_finite() && self.min_threshold_score >= 0.0) {
            bail!("--min-threshold-score must be a finite score of at least 0");
        }
        if self.max_message_bytes < 1 << 20 {
            bail!("--max-message-bytes must be at least 1 MiB");
        }
        if !(self.node_scan_rate.is_finite() && self.node_scan_rate > 0.0) {
            bail!("--node-scan-rate must be positive");
        }
        let concurrent = self
            .max_concurrent_searches
            .unwrap_or_else(|| 4 * std::thread::available_parallelism().map_or(2, |n| n.get()));
        if concurrent == 0 {
            bail!("--max-concurrent-searches must be at least 1");
        }
        let limits = Limits {
            max_batch: self.max_batch,
            max_results: self.max_results,
            min_threshold_score: self.min_threshold_score,
            scan_rate: self.node_scan_rate,
            ..Limits::default()
        };
        Ok((limits, self.max_message_bytes, concurrent))
    }
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            max_batch: abis_proto::MAX_BATCH_ITEMS,
            max_results: abis_proto::MAX_RESULTS,
            min_threshold_score: 3.0,
            max_message_bytes: 64 << 20,
            max_concurrent_searches: None,
            node_scan_rate: 2e5,
        }
    }
}

/// How the public API is secured: TLS (`--tls-cert`, `--tls-key`) and client authentication
/// by bearer tokens (`--token-file`) and/or certificates (`--client-ca`). Shared with
/// `abis serve`, which serves the same API.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// PEM certificate chain the server presents.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// PEM CA of clients authenticated by certificate (mutual TLS on the public API).
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// File of accepted bearer tokens: one per line, optionally followed by roles
    /// (`admin,enrol,identify,verify,read-jobs` or `all`; default `enrol,identify,verify`) and a
    /// name for the audit log.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Roles of clients authenticated by certificate: lines of `SHA256-FINGERPRINT ROLES NAME`
    /// (unlisted certificates of the client CA get `enrol,identify,verify`).
    #[arg(long, requires = "client_ca")]
    pub client_roles: Option<PathBuf>,
    /// The audit log (append-only, hash-chained) [default: <data-dir>/audit.log].
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
}

/// The public API's security as validated: server TLS (with the client CA), the tokens and
/// the certificate clients' roles.
pub struct ApiSecurity {
    /// Server TLS; `None` for plaintext.
    pub tls: Option<TlsPem>,
    /// Accepted bearer tokens with their callers; empty: no token check.
    pub tokens: Vec<(String, Caller)>,
    /// Callers of client certificates, by SHA-256 fingerprint.
    pub clients: Vec<(Vec<u8>, Caller)>,
}

impl ApiArgs {
    /// Reads the files and validates: TLS with some client authentication, unless `plaintext`
    /// (then no TLS setting may be given; tokens are still checked if a file is given).
    pub fn security(&self, plaintext: bool) -> anyhow::Result<ApiSecurity> {
        let tokens = match &self.token_file {
            None => Vec::new(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read token file {}", p.display()))?;
                let tokens = parse_tokens(&text)
                    .with_context(|| format!("bad token file {}", p.display()))?;
                if tokens.is_empty() {
                    bail!("token file {} holds no token", p.display());
                }
                tokens
            }
        };
        let clients = match &self.client_roles {
            None => Vec::new(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read client roles {}", p.display()))?;
                parse_client_roles(&text)
                    .with_context(|| format!("bad client roles file {}", p.display()))?
            }
        };
        let cert = read(&self.tls_cert, "TLS certificate")?;
        let key = read(&self.tls_key, "TLS key")?;
        let client_ca = read(&self.client_ca, "client CA")?;
        if plaintext {
            if cert.is_some() || key.is_some() || client_ca.is_some() {
                bail!("--insecure-plaintext conflicts with the TLS settings given");
            }
            return Ok(ApiSecurity {
                tls: None,
                tokens,
                clients,
            });
        }
        let (Some(cert), Some(key)) = (cert, key) else {
            bail!(
                "refusing to serve without TLS: pass --tls-cert and --tls-key, or \
                 --insecure-plaintext for local development"
            );
        };
        if tokens.is_empty() && client_ca.is_none() {
            bail!("no client authentication: pass --token-file and/or --client-ca");
        }
        Ok(ApiSecurity {
            tls: Some(TlsPem {
                cert,
                key,
                ca: client_ca,
            }),
            tokens,
            clients,
        })
    }
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Prometheus endpoint address.
    pub metrics_listen: Option<SocketAddr>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Shard nodes from the flags (empty after the first start).
    pub shards: Vec<NodeEntry>,
    /// Replicas per slot.
    pub replication: u32,
    /// Per-call shard deadline.
    pub shard_timeout: Duration,
    /// Job attempts.
    pub job_attempts: u32,
    /// Pause between job attempts.
    pub job_retry: Duration,
    /// Server TLS (with the client CA when clients authenticate by certificate).
    pub server_tls: Option<TlsPem>,
    /// Client TLS towards shard nodes (CA of the nodes always set).
    pub shard_tls: Option<TlsPem>,
    /// Accepted bearer tokens with their callers; empty: no token check.
    pub tokens: Vec<(String, Caller)>,
    /// Callers of client certificates, by SHA-256 fingerprint.
    pub clients: Vec<(Vec<u8>, Caller)>,
    /// The audit log's file.
    pub audit_log: PathBuf,
    /// The key file (else `ABIS_DATA_KEYS`).
    pub key_file: Option<PathBuf>,
    /// How long a finished job keeps its payload.
    pub job_retention: Duration,
    /// Request limits and search deadlines.
    pub limits: Limits,
    /// Largest gRPC message received or sent.
    pub max_message_bytes: usize,
    /// Searches and verifications run at once.
    pub max_concurrent_searches: usize,
    /// How finger images in requests are taken.
    pub images: ImageConfig,
}

fn read(path: &Option<PathBuf>, what: &str) -> anyhow::Result<Option<Vec<u8>>> {
    path.as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read {what} {}", p.display())))
        .transpose()
}

impl Args {
    /// Reads the files named and validates.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let shards = self
            .shards
            .iter()
            .map(|s| match s.split_once('=') {
                Some((id, addr)) if !id.is_empty() && !addr.is_empty() => {
                    Ok(NodeEntry::new(id, addr))
                }
                _ => bail!("--shard {s}: expected ID=HOST:PORT"),
            })
            .collect::<anyhow::Result<_>>()?;
        let api = self.api.security(self.insecure_plaintext)?;
        let client = (
            read(&self.client_cert, "client certificate")?,
            read(&self.client_key, "client key")?,
            read(&self.shard_ca, "shard CA")?,
        );
        let shard_tls = if self.insecure_plaintext {
            if client.0.is_some() || client.1.is_some() || client.2.is_some() {
                bail!("--insecure-plaintext conflicts with the TLS settings given");
            }
            None
        } else {
            let (Some(cert), Some(key), Some(ca)) = client else {
                bail!("mutual TLS to the shard nodes needs --shard-ca, --client-cert and --client-key");
            };
            Some(TlsPem {
                cert,
                key,
                ca: Some(ca),
            })
        };
        let (limits, max_message_bytes, max_concurrent_searches) = self.limits.validate()?;
        let audit_log = self
            .api
            .audit_log
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.log"));
        Ok(Config {
            limits,
            max_message_bytes,
            max_concurrent_searches,
            images: self.images.validate()?,
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            data_dir: self.data_dir,
            shards,
            replication: self.replication,
            shard_timeout: Duration::from_millis(self.shard_timeout_ms.max(1)),
            job_attempts: self.job_attempts.max(1),
            job_retry: Duration::from_millis(self.job_retry_ms),
            audit_log,
            key_file: self.key_file,
            job_retention: Duration::from_secs(self.job_retention_hours.saturating_mul(3600)),
            server_tls: api.tls,
            shard_tls,
            tokens: api.tokens,
            clients: api.clients,
        })
    }
}
