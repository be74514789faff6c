//! Integration tests of `abis-shard-node`: the real binary, started per test on its own
//! 127.0.0.x address with a temporary data directory, driven by tonic clients.

mod harness;
mod lifecycle;
mod rpc;
mod services;
mod tls;
