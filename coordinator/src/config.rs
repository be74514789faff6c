//! Command-line flags, validated into a typed [`Config`].
//!
//! The security rule lives here: the coordinator serves TLS (`--tls-cert`, `--tls-key`) and
//! authenticates clients by bearer tokens (`--token-file`) and/or client certificates
//! (`--client-ca`), and reaches shard nodes over mutual TLS (`--shard-ca`, `--client-cert`,
//! `--client-key`), unless `--insecure-plaintext` is given explicitly; tokens are still checked
//! in plaintext when a token file is given.

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
    /// File of accepted bearer tokens, one per line.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

/// The public API's security as validated: server TLS (with the client CA) and the tokens.
pub struct ApiSecurity {
    /// Server TLS; `None` for plaintext.
    pub tls: Option<TlsPem>,
    /// Accepted bearer tokens; empty: no token check.
    pub tokens: Vec<String>,
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
                let tokens: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
                if tokens.is_empty() {
                    bail!("token file {} holds no token", p.display());
                }
                tokens
            }
        };
        let cert = read(&self.tls_cert, "TLS certificate")?;
        let key = read(&self.tls_key, "TLS key")?;
        let client_ca = read(&self.client_ca, "client CA")?;
        if plaintext {
            if cert.is_some() || key.is_some() || client_ca.is_some() {
                bail!("--insecure-plaintext conflicts with the TLS settings given");
            }
            return Ok(ApiSecurity { tls: None, tokens });
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
    /// Accepted bearer tokens; empty: no token check.
    pub tokens: Vec<String>,
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
        Ok(Config {
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            data_dir: self.data_dir,
            shards,
            replication: self.replication,
            shard_timeout: Duration::from_millis(self.shard_timeout_ms.max(1)),
            job_attempts: self.job_attempts.max(1),
            job_retry: Duration::from_millis(self.job_retry_ms),
            server_tls: api.tls,
            shard_tls,
            tokens: api.tokens,
        })
    }
}
