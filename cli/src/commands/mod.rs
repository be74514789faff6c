//! One module per subcommand.

pub mod adjudicate;
pub mod audit;
pub mod clients;
pub mod demo;
pub mod enroll;
pub mod eval;
pub mod extract;
pub mod generate;
pub mod identify;
pub mod input;
pub mod mosip;
pub mod register;
pub mod rekey;
pub mod serve;
pub mod stats;
pub mod uin;
pub mod verify;

use abis_engine::crypto::Keyring;
use abis_engine::{Engine, EngineOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The data keys of this run (`--key-file`, else `ABIS_DATA_KEYS`), read once in `main`.
static KEYS: OnceLock<(Option<PathBuf>, Option<Arc<Keyring>>)> = OnceLock::new();

/// Reads the data keys for every command of this run (a bad key file is a bad request).
pub fn load_keys(file: Option<&Path>) -> anyhow::Result<()> {
    let keys = abis_engine::crypto::keyring_from(file)
        .map_err(crate::bad_input)?
        .map(Arc::new);
    let _ = KEYS.set((file.map(Path::to_path_buf), keys));
    Ok(())
}

/// The key ring sealing stored templates, if any.
pub fn keyring() -> Option<Arc<Keyring>> {
    KEYS.get().and_then(|k| k.1.clone())
}

/// The `--key-file` given, if any (servers read it themselves).
pub fn key_file() -> Option<PathBuf> {
    KEYS.get().and_then(|k| k.0.clone())
}

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

/// The shape of a gallery a command creates.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ShapeArgs {
    /// The shape of a new gallery: `synthetic` (Daugman 2,048-bit iris codes and 512-d faces,
    /// as `abis generate` makes) or `images` (open-iris 12,800-bit codes and 128-d faces: what
    /// abis extracts from iris and face images) [default: synthetic]. An existing gallery keeps
    /// its shape; naming another one is refused.
    #[arg(long)]
    pub gallery_shape: Option<abis_engine::GalleryConfig>,
}

/// Opens the gallery, creating it in `shape` if `dir` holds none (for the commands that make
/// galleries).
pub fn open_or_create(dir: &Path, shape: &ShapeArgs) -> anyhow::Result<Engine> {
    Ok(Engine::open(
        dir,
        EngineOptions {
            gallery: shape.gallery_shape,
            keyring: keyring(),
            ..EngineOptions::default()
        },
    )?)
}

/// Opens an existing gallery; a directory holding none is a bad request (exit 2), so a mistyped
/// `--data-dir` never searches an empty gallery and answers "no match".
pub fn open_existing(dir: &Path) -> anyhow::Result<Engine> {
    Ok(Engine::open(
        dir,
        EngineOptions {
            must_exist: true,
            keyring: keyring(),
            ..EngineOptions::default()
        },
    )?)
}
