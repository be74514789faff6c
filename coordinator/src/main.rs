//! `abis-coordinator`: the public API of an abis cluster (`abis.v1.Abis`, `abis.v1.Admin`) in
//! front of N `abis-shard-node`s.
//!
//! - [`shard_map`]: the persisted map of nodes and, per slot, its R replicas, with an epoch.
//! - [`cluster`]: connections, liveness, and the fail-closed scatter over every slot.
//! - [`writes`]: insert and delete on every replica (acknowledged only when all acknowledged),
//!   verify on one replica. [`search`]: reference count and identify (threshold from the total
//!   gallery size, candidates merged across nodes, UNAVAILABLE or INCOMPLETE when any slot
//!   could not be searched).
//! - [`jobs`] and [`worker`]: the durable de-dup job queue in RocksDB and its worker.
//! - [`service`], [`auth`], [`server`], [`config`]: the gRPC handlers, bearer-token and
//!   certificate authentication, start-up and graceful shutdown, flags.
//!
//! Not built yet: online rebalancing. `Admin.AddShard`, `DrainShard`, `RemoveShard`,
//! `StartRebalance` and `RebalanceStatus` answer UNIMPLEMENTED ("rebalancing is not built
//! yet"); the shard map is fixed at the first start and every node is ACTIVE.
//!
//! Security: TLS on the public API with bearer tokens and/or client certificates, and mutual
//! TLS to the shard nodes, unless `--insecure-plaintext` is given. Logs go to stderr (`RUST_LOG`,
//! default `info`); stdout carries only `listening on <addr>`. Exit status: 0 after a graceful
//! shutdown, 2 for a bad configuration, 1 when it cannot start or fails.

mod auth;
mod cluster;
mod config;
mod jobs;
mod search;
mod server;
mod service;
mod shard_map;
mod worker;
mod writes;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    abis_server_kit::main_with(
        "abis-coordinator",
        || config::Args::parse().into_config(),
        server::run,
    )
}
