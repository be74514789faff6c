//! Integration tests of abis-registration: manifests, the embedded backend on a real engine,
//! retries against a scripted backend,
//! the gRPC backend against a fake coordinator whose watch streams break, the store across reopening, and adjudication rules.

mod adjudication;
mod embedded;
mod grpc;
mod manifest;
mod retries;
mod support;
