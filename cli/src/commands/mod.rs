//! One module per subcommand.

pub mod adjudicate;
pub mod audit;
pub mod clients;
pub mod demo;
pub mod enroll;
pub mod eval;
pub mod generate;
pub mod identify;
pub mod register;
pub mod serve;
pub mod stats;
pub mod uin;
pub mod verify;

use abis_engine::{Engine, EngineOptions};
use std::path::{Path, PathBuf};

/// `--data-dir`, shared by the gallery commands.
#[derive(Debug, clap::Args)]
pub struct DataDir {
    /// Gallery directory [default: <user data dir>/abis/gallery]. Only `enroll` and `demo`
    /// (and `register --create-gallery`) create one; the other commands refuse a directory
    /// that holds no gallery.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl DataDir {
    /// The directory, defaulting under the user's data dir.
    pub fn path(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| crate::default_data_dir("gallery"))
    }
}

/// Opens the gallery with default options, creating it if `dir` holds none (for the commands
/// that make galleries).
pub fn open_or_create(dir: &Path) -> anyhow::Result<Engine> {
    Ok(Engine::open(dir, EngineOptions::default())?)
}

/// Opens an existing gallery; a directory holding none is a bad request (exit 2), so a mistyped
/// `--data-dir` never searches an empty gallery and answers "no match".
pub fn open_existing(dir: &Path) -> anyhow::Result<Engine> {
    Ok(Engine::open(
        dir,
        EngineOptions {
            must_exist: true,
            ..EngineOptions::default()
        },
    )?)
}
