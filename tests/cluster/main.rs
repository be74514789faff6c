//! End-to-end tests: real `abis-shard-node` and `abis-coordinator` processes on 127.0.0.x.

mod chaos;
mod failover;
mod harness;
mod images;
mod jobs;
mod mosip;
mod rebalance;
mod registration;
mod tls;
mod trust;
