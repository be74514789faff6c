//! `abis-coordinator`: the public API of an abis cluster (`abis.v1.Abis`, `abis.v1.Admin`) in
//! front of N `abis-shard-node`s.
//!
//! - [`shard_map`]: the persisted map of nodes and, per slot, its R replicas, with an epoch.
//! - [`cluster`]: connections, liveness, and the fail-closed scatter over every slot.
//! - [`writes`]: insert and delete on every replica (acknowledged once durable on a complete
//!   replica, every replica that missed it durably marked behind first), verify on one readable
//!   replica. [`search`]: reference count and identify (threshold from the total
//!   gallery size, candidates merged across nodes, UNAVAILABLE or INCOMPLETE when any slot
//!   could not be searched).
//! - [`jobs`] and [`worker`]: the durable de-dup job queue in RocksDB and its worker.
//! - [`service`], [`auth`], [`server`], [`config`]: the gRPC handlers, bearer-token and
//!   certificate authentication, start-up and graceful shutdown, flags.
//!
//! - [`trust`], [`monitor`], [`repair`]: which replicas may be read (the node the map names,
//!   verified after each restart, its slots not behind), the nodes' identities and the map's
//!   standing checked every period, and marked replicas repaired from complete ones.
//! - [`topology`]: the current cluster version, the write gate, publishing a new map.
//! - [`admin`], [`plan`], [`rebalance`]: adding, draining and removing nodes, and moving slots
//!   online (dual writes while a slot is copied, the map switched only once the copy is
//!   complete, given-up slots dropped only once no call can still read them).
//!
//! Security: TLS on the public API with bearer tokens and/or client certificates, and mutual
//! TLS to the shard nodes, unless `--insecure-plaintext` is given. Logs go to stderr (`RUST_LOG`,
//! default `info`); stdout carries only `listening on <addr>`. Exit status: 0 after a graceful
//! shutdown, 2 for a bad configuration, 1 when it cannot start or fails.

mod admin;
pub mod auth;
mod cluster;
pub mod config;
mod copy;
pub mod images;
mod jobs;
mod metrics;
mod monitor;
mod plan;
mod rebalance;
mod repair;
pub mod search;
pub mod server;
mod service;
pub mod shard_map;
mod topology;
mod trust;
mod worker;
mod writes;
