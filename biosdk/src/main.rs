//! `abis-biosdk`: abis as a MOSIP Bio-SDK service. See the crate documentation.

use abis_biosdk::config::Args;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    abis_server_kit::main_with("abis-biosdk", || Args::parse().validate(), abis_biosdk::run)
}
