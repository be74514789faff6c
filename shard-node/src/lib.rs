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

pub mod config;
mod epoch;
mod metrics;
mod node;
pub mod server;
mod service;
mod slots;
