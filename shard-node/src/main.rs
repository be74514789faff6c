//! `abis-shard-node`: see the library's documentation ([`abis_shard_node`]).

use abis_shard_node::{config, server};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    abis_server_kit::main_with(
        "abis-shard-node",
        || config::Args::parse().into_config(),
        server::run,
    )
}
