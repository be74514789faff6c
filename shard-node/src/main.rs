//! `abis-shard-node`: serves one engine shard over gRPC (`abis.v1.Shard`) for a coordinator.
//!
//! A thin binary in the ripgrep mould: flags and a TOML file become a validated [`config::Config`]
//! ([`config`]), [`server`] opens the gallery and serves, [`service`] holds the handlers (validate
//! and convert with `abis-proto`, call the engine, map errors with `abis_proto::status`), and
//! [`node`], [`slots`], [`epoch`] and [`metrics`] hold what the handlers share: the blocking-pool
//! and tracing plumbing, work over whole routing slots, the durable shard map epoch fence, and
//! the Prometheus endpoint.
//!
//! Security: mutual TLS (rustls) is the default and the only way to serve on a real network; a
//! node refuses to start without `--tls-cert`, `--tls-key` and `--client-ca` unless
//! `--insecure-plaintext` is given. Logs go to stderr (`RUST_LOG` filters, default `info`);
//! stdout carries only the bound addresses.
//!
//! Exit status: 0 after a graceful shutdown (SIGTERM, SIGINT), 2 for a bad configuration, 1
//! when the node cannot start or fails.

mod config;
mod epoch;
mod metrics;
mod node;
mod server;
mod service;
mod slots;

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match config::Args::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("abis-shard-node: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("abis-shard-node: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("abis-shard-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}
