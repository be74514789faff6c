//! The binary's flags, checked into a [`Config`].

use crate::service::Policy;
use anyhow::{bail, Context};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// abis as a MOSIP Bio-SDK service (1:1 for ID Authentication).
#[derive(Debug, Parser)]
#[command(name = "abis-biosdk", version)]
pub struct Args {
    /// Address to listen on (MOSIP's biosdk-service uses port 9099).
    #[arg(long, default_value = "127.0.0.1:9099", env = "ABIS_BIOSDK_LISTEN")]
    pub listen: SocketAddr,
    /// PEM certificate chain served over TLS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (development and tests only; biometrics cross the network in clear).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub insecure_plaintext: bool,
    /// File of accepted bearer tokens: one per line, optionally followed by the caller's name
    /// for the audit log (`#` starts a comment).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Accept calls without a token (MOSIP's `biosdk-client` sends none: use only where the
    /// network itself admits only ID Authentication).
    #[arg(long, conflicts_with = "token_file")]
    pub insecure_no_auth: bool,
    /// Append-only audit log (one entry per call touching a person, hash-chained).
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Folder holding the models (default: where `scripts/fetch-models.sh` puts them).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// False match rate decisions are taken at (a request's `targetFMR` flag may ask for
    /// another within --min-fmr..--max-fmr).
    #[arg(long, default_value_t = 1e-4)]
    pub fmr: f64,
    /// Least FMR a request may ask for.
    #[arg(long, default_value_t = 1e-8)]
    pub min_fmr: f64,
    /// Greatest FMR a request may ask for.
    #[arg(long, default_value_t = 1e-2)]
    pub max_fmr: f64,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body_bytes: usize,
    /// Most gallery records per match.
    #[arg(long, default_value_t = 64)]
    pub max_gallery: usize,
    /// Operations run at once (default: the CPU count).
    #[arg(long)]
    pub workers: Option<usize>,
}

/// The checked configuration.
#[derive(Debug)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS material; `None` only with `--insecure-plaintext`.
    pub tls: Option<abis_server_kit::tls::TlsPem>,
    /// Accepted tokens and their names; empty only with `--insecure-no-auth`.
    pub tokens: Vec<(String, String)>,
    /// The audit log's path.
    pub audit_log: Option<PathBuf>,
    /// The models folder.
    pub models: Option<PathBuf>,
    /// Decisions.
    pub policy: Policy,
    /// Largest body.
    pub max_body: usize,
    /// Operations at once.
    pub workers: usize,
}

impl Args {
    /// Checks the flags and reads the files they name.
    pub fn validate(self) -> anyhow::Result<Config> {
        let tls = match (&self.tls_cert, &self.tls_key, self.insecure_plaintext) {
            (Some(cert), Some(key), false) => {
                Some(abis_server_kit::tls::TlsPem::read(cert, key, None)?)
            }
            (None, None, true) => None,
            _ => bail!("give --tls-cert and --tls-key, or --insecure-plaintext explicitly"),
        };
        let tokens = match (&self.token_file, self.insecure_no_auth) {
            (Some(path), false) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read token file {}", path.display()))?;
                let tokens = parse_tokens(&text);
                if tokens.is_empty() {
                    bail!("the token file {} holds no token", path.display());
                }
                tokens
            }
            (None, true) => Vec::new(),
            _ => bail!("give --token-file, or --insecure-no-auth explicitly"),
        };
        let fmr_ok = |f: f64| f > 0.0 && f < 1.0;
        let ordered = self.min_fmr <= self.fmr && self.fmr <= self.max_fmr;
        if !(ordered && fmr_ok(self.fmr) && fmr_ok(self.min_fmr) && fmr_ok(self.max_fmr)) {
            bail!(
                "FMRs must lie in (0, 1) with --min-fmr <= --fmr <= --max-fmr (got {} <= {} <= {})",
                self.min_fmr,
                self.fmr,
                self.max_fmr
            );
        }
        if self.max_body_bytes < 1024 || self.max_gallery == 0 {
            bail!("--max-body-bytes must be at least 1024 and --max-gallery at least 1");
        }
        let workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        Ok(Config {
            listen: self.listen,
            tls,
            tokens,
            audit_log: self.audit_log,
            models: self.models,
            policy: Policy {
                fmr: self.fmr,
                min_fmr: self.min_fmr,
                max_fmr: self.max_fmr,
                max_gallery: self.max_gallery,
            },
            max_body: self.max_body_bytes,
            workers: workers.max(1),
        })
    }
}

/// Tokens and names from a token file's text.
pub fn parse_tokens(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            let mut words = l.split_whitespace();
            let token = words.next().unwrap_or_default().to_owned();
            let name = words
                .next()
                .map_or_else(|| format!("token-{}", i + 1), str::to_owned);
            (token, name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_name_their_callers() {
        let tokens = parse_tokens("# comment\nabc ida\n\n  def  # no name\n");
        assert_eq!(
            tokens,
            vec![
                ("abc".to_owned(), "ida".to_owned()),
                ("def".to_owned(), "token-2".to_owned())
            ]
        );
    }

    #[test]
    fn tls_and_tokens_are_required_unless_waived_explicitly() {
        let parse = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("abis-biosdk").chain(args.iter().copied()))
                .map_err(|e| e.to_string())
                .and_then(|a| a.validate().map_err(|e| e.to_string()))
        };
        assert!(parse(&[]).unwrap_err().contains("--insecure-plaintext"));
        assert!(parse(&["--insecure-plaintext"])
            .unwrap_err()
            .contains("--insecure-no-auth"));
        let c = parse(&["--insecure-plaintext", "--insecure-no-auth"]).unwrap();
        assert!(c.tls.is_none() && c.tokens.is_empty());
        assert_eq!(c.policy.fmr, 1e-4);
        assert!(parse(&["--insecure-plaintext", "--insecure-no-auth", "--fmr", "0.5"]).is_err());
    }
}
