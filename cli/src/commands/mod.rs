//! One module per subcommand.

pub mod adjudicate;
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
    /// Gallery directory (created if missing) [default: <user data dir>/abis/gallery].
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

/// Opens the gallery with default options.
pub fn open(dir: &Path) -> anyhow::Result<Engine> {
    Ok(Engine::open(dir, EngineOptions::default())?)
}
