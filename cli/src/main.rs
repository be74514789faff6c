//! `abis`: the embedded single-node ABIS.
//!
//! Everything runs in this process on a local data directory (RocksDB + memory-mapped
//! segments): no server to set up. `abis demo` is the guided tour; `generate`, `enroll`,
//! `identify`, `verify` and `stats` are the building blocks.

mod commands;
mod progress;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "abis",
    version,
    about = "Automated Biometric Identification System (embedded single node)"
)]
struct Cli {
    /// Worker threads for search and generation (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Keys sealing stored templates at rest (lines `ID HEX`, the first current) [default:
    /// $ABIS_DATA_KEYS, else stored in clear].
    #[arg(long, global = true)]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol a synthetic population, run a de-dup batch with planted duplicates, print a summary.
    Demo(commands::demo::Args),
    /// Write a synthetic population (or new captures of it) to a file.
    Generate(commands::generate::Args),
    /// Enrol every record of a population file.
    Enroll(commands::enroll::Args),
    /// Identify every record of a population file against the gallery (1:N).
    Identify(commands::identify::Args),
    /// Verify one record of a population file against an enrolled reference id (1:1).
    Verify(commands::verify::Args),
    /// Show the gallery's size and storage.
    Stats(commands::stats::Args),
    /// Accuracy evaluations on real data (`abis eval fvc`).
    Eval(commands::eval::Args),
    /// Extract a finger image's minutiae to an ISO/IEC 19794-2 template (LEADER).
    Extract(commands::extract::Args),
    /// MOSIP tools (`abis mosip decrypt`: a datashare payload to its CBEFF XML).
    Mosip(commands::mosip::Args),
    /// Register applicants: de-dup, record the verdict, issue UINs to unique ones (exit 3 if
    /// some have no verdict yet).
    Register(commands::register::Args),
    /// The manual-adjudication queue of suspected duplicates and incomplete searches.
    Adjudicate(commands::adjudicate::Args),
    /// Serve the gRPC API (abis.v1.Abis, Admin) from this one process: no cluster to set up.
    Serve(commands::serve::Args),
    /// UIN tools (`abis uin validate <UIN>`).
    Uin(commands::uin::Args),
    /// Audit log tools (`abis audit verify <FILE>`).
    Audit(commands::audit::Args),
    /// Rewrite a stopped gallery's records under the current data key (after a key rotation).
    Rekey(commands::rekey::Args),
}

/// Refuses the command as a bad request (exit 2) unless `cond` holds.
#[macro_export]
macro_rules! ensure_input {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::BadInput(format!($($arg)+)).into());
        }
    };
}

/// Marks an error about the caller's input (a file, an argument) as a bad request (exit 2).
pub fn bad_input(e: impl Into<anyhow::Error>) -> anyhow::Error {
    BadInput::from_error(e).into()
}

/// A request the CLI refuses before doing anything (a file that cannot be read or parsed, an
/// argument out of range): exit status 2, like the engine's caller faults.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl BadInput {
    /// Wraps an error about the caller's input (keeping its context chain in the message).
    pub fn from_error(e: impl Into<anyhow::Error>) -> Self {
        Self(format!("{:#}", e.into()))
    }
}

/// The data directory used when `--data-dir` is not given.
pub fn default_data_dir(name: &str) -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("abis")
        .join(name)
}

/// Whether an error is the caller's to fix: a [`BadInput`], an engine caller fault, or a
/// command-line argument error (anywhere in the error's chain).
fn is_user_fault(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<BadInput>()
            || cause
                .downcast_ref::<abis_engine::EngineError>()
                .is_some_and(|e| e.is_user_fault())
            || cause
                .downcast_ref::<abis_registration::Error>()
                .is_some_and(|e| e.is_user_fault())
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ABIS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(t) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build_global()
        {
            eprintln!("error: cannot start {t} threads: {e}");
            return ExitCode::from(1);
        }
    }
    if let Err(e) = commands::load_keys(cli.key_file.as_deref()) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Demo(a) => commands::demo::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Enroll(a) => commands::enroll::run(a),
        Command::Identify(a) => commands::identify::run(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Stats(a) => commands::stats::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Extract(a) => commands::extract::run(a),
        Command::Mosip(a) => commands::mosip::run(a),
        Command::Register(a) => commands::register::run(a),
        Command::Adjudicate(a) => commands::adjudicate::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Uin(a) => commands::uin::run(a),
        Command::Audit(a) => commands::audit::run(a),
        Command::Rekey(a) => commands::rekey::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A user fault (bad input, unknown reference, bad data dir) exits 2; anything else 1.
            ExitCode::from(if is_user_fault(&e) { 2 } else { 1 })
        }
    }
}
