//! Configuration: command-line flags over an optional TOML file, validated into a typed
//! [`Config`].
//!
//! Every setting can be given as a flag or in the file (`--config node.toml`, the same names
//! with underscores: `listen`, `data_dir`, `shard_id`, `metrics_listen`, `tls_cert`, `tls_key`,
//! `client_ca`, `insecure_plaintext`, `max_searches`, `max_message_bytes`, `key_file`); a flag
//! wins over the file. Without a key file, keys are read from `ABIS_DATA_KEYS` when set. Unknown keys in the file are
//! refused, so a misspelt setting never silently falls back to a default. Validation is where
//! the security rule lives: a node serves mutual TLS (certificate, key and the CA that signs the
//! clients' certificates, all three) unless `insecure_plaintext` is asked for explicitly, and
//! asking for both is refused as ambiguous.

use abis_engine::GalleryConfig;
use anyhow::{bail, Context};
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Listen address when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7001";

/// The command line of `abis-shard-node`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "abis-shard-node",
    version,
    about = "Serves one abis engine shard over gRPC (abis.v1.Shard)"
)]
pub struct Args {
    /// TOML file with any of the settings below (flags override it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// gRPC listen address, host:port (port 0 picks a free port; the bound address is printed).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The engine's data directory (created if missing).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// This node's stable id in the cluster.
    #[arg(long)]
    pub shard_id: Option<String>,
    /// Address of the Prometheus endpoint (GET /metrics); no endpoint when absent.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// PEM certificate chain of this node.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of this node.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s); clients must present a certificate signed by one of them.
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// Serve without TLS (local development only).
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// Searches (IdentifyBatch calls) run at once; one more is refused as overloaded
    /// (RESOURCE_EXHAUSTED) [default: the number of cores].
    #[arg(long)]
    pub max_searches: Option<usize>,
    /// Largest gRPC message received or sent, in bytes [default: 64 MiB].
    #[arg(long)]
    pub max_message_bytes: Option<usize>,
    /// Keys sealing the stored templates (lines `ID HEX`, the first current; see
    /// `abis_engine::crypto`) [default: $ABIS_DATA_KEYS, else stored in clear].
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The shape of a gallery this node creates: `synthetic` (Daugman 2,048-bit iris codes and
    /// 512-d faces, as `abis generate` makes) or `images` (open-iris 12,800-bit codes and 128-d
    /// faces, what the coordinator extracts from iris and face images) [default: synthetic]. An
    /// existing gallery keeps its shape; naming another one refuses to start.
    #[arg(long)]
    pub gallery_shape: Option<GalleryConfig>,
}

/// The settings a TOML file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    shard_id: Option<String>,
    metrics_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    insecure_plaintext: Option<bool>,
    max_searches: Option<usize>,
    max_message_bytes: Option<usize>,
    key_file: Option<PathBuf>,
    gallery_shape: Option<String>,
}

/// Paths of the node's TLS material.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsPaths {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA of the clients.
    pub client_ca: PathBuf,
}

/// Validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Engine data directory.
    pub data_dir: PathBuf,
    /// Stable node id.
    pub shard_id: String,
    /// Prometheus endpoint address.
    pub metrics_listen: Option<SocketAddr>,
    /// Mutual TLS material; `None` only when plaintext was asked for.
    pub tls: Option<TlsPaths>,
    /// Searches run at once.
    pub max_searches: usize,
    /// Largest gRPC message, bytes.
    pub max_message_bytes: usize,
    /// The key file (else `ABIS_DATA_KEYS`).
    pub key_file: Option<PathBuf>,
    /// The shape of a gallery this node creates (`None`: the default); an existing gallery
    /// must have it when given.
    pub gallery_shape: Option<GalleryConfig>,
}

impl Args {
    /// Reads the file named by `--config` (if any), applies the flags over it and validates.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            None => FileConfig::default(),
            Some(path) => read_file(path)?,
        };
        let listen = match self.listen.or(file.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN.parse().expect("a valid default address"),
        };
        let Some(data_dir) = self.data_dir.or(file.data_dir) else {
            bail!("no data directory: pass --data-dir or set data_dir in the config file");
        };
        let shard_id = self.shard_id.or(file.shard_id).unwrap_or_default();
        if shard_id.trim().is_empty() || shard_id.chars().any(char::is_control) {
            bail!("no usable shard id: pass --shard-id or set shard_id in the config file");
        }
        let plaintext = self.insecure_plaintext || file.insecure_plaintext.unwrap_or(false);
        let tls = tls_paths(
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
            self.client_ca.or(file.client_ca),
            plaintext,
        )?;
        let max_searches = self
            .max_searches
            .or(file.max_searches)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let max_message_bytes = self
            .max_message_bytes
            .or(file.max_message_bytes)
            .unwrap_or(crate::server::MAX_MESSAGE_BYTES);
        if max_searches == 0 || max_message_bytes < 1 << 20 {
            bail!("max_searches must be at least 1 and max_message_bytes at least 1 MiB");
        }
        let gallery_shape = match (self.gallery_shape, file.gallery_shape) {
            (Some(shape), _) => Some(shape),
            (None, Some(name)) => Some(name.parse().map_err(anyhow::Error::msg)?),
            (None, None) => None,
        };
        Ok(Config {
            gallery_shape,
            listen,
            data_dir,
            shard_id,
            metrics_listen: self.metrics_listen.or(file.metrics_listen),
            tls,
            max_searches,
            max_message_bytes,
            key_file: self.key_file.or(file.key_file),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("bad config file {}", path.display()))
}

fn tls_paths(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    plaintext: bool,
) -> anyhow::Result<Option<TlsPaths>> {
    match (cert, key, client_ca, plaintext) {
        (Some(cert), Some(key), Some(client_ca), false) => Ok(Some(TlsPaths {
            cert,
            key,
            client_ca,
        })),
        (None, None, None, true) => Ok(None),
        (None, None, None, false) => bail!(
            "refusing to serve without TLS: pass --tls-cert, --tls-key and --client-ca \
             (mutual TLS), or --insecure-plaintext for local development"
        ),
        (_, _, _, true) => bail!("--insecure-plaintext conflicts with the TLS settings given"),
        _ => bail!("mutual TLS needs all three of --tls-cert, --tls-key and --client-ca"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["abis-shard-node"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).expect("flags parse")
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7100\"\ndata_dir = \"/from/file\"\nshard_id = \"file\"\n\
             insecure_plaintext = true\nmetrics_listen = \"127.0.0.1:9100\"\n",
        )
        .unwrap();
        let c = args(&["--config", file.to_str().unwrap(), "--shard-id", "flag"])
            .into_config()
            .unwrap();
        assert_eq!(c.shard_id, "flag");
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.listen, "127.0.0.1:7100".parse().unwrap());
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(c.tls, None);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(&file, "shard_idd = \"typo\"\n").unwrap();
        let err = args(&["--config", file.to_str().unwrap()])
            .into_config()
            .unwrap_err();
        assert!(format!("{err:#}").contains("shard_idd"), "{err:#}");
    }

    #[test]
    fn tls_is_required_unless_plaintext_is_explicit() {
        let base = ["--data-dir", "/d", "--shard-id", "s1"];
        let err = args(&base).into_config().unwrap_err().to_string();
        assert!(err.contains("--insecure-plaintext"), "{err}");
        let mut partial = base.to_vec();
        partial.extend(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
        assert!(args(&partial).into_config().is_err());
        let mut both = partial.clone();
        both.extend(["--client-ca", "ca.pem", "--insecure-plaintext"]);
        assert!(args(&both).into_config().is_err());
        let mut full = partial;
        full.extend(["--client-ca", "ca.pem"]);
        let c = args(&full).into_config().unwrap();
        assert_eq!(c.tls.unwrap().client_ca, PathBuf::from("ca.pem"));
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        let mut plain = base.to_vec();
        plain.push("--insecure-plaintext");
        assert_eq!(args(&plain).into_config().unwrap().tls, None);
    }

    #[test]
    fn data_dir_and_shard_id_are_required() {
        assert!(args(&["--shard-id", "s", "--insecure-plaintext"])
            .into_config()
            .is_err());
        assert!(args(&["--data-dir", "/d", "--insecure-plaintext"])
            .into_config()
            .is_err());
    }
}
