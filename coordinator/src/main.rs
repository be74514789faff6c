//! `abis-coordinator`: see the library's documentation ([`abis_coordinator`]).

use abis_coordinator::{config, server};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    abis_server_kit::main_with(
        "abis-coordinator",
        || config::Args::parse().into_config(),
        server::run,
    )
}
