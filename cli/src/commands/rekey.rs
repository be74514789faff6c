//! `abis rekey --data-dir DIR`: after a key rotation (a new key first in the key file, the old
//! ones kept below it), rewrites every stored record not sealed under the current key with it,
//! or seals a gallery stored in clear. Run it on a stopped gallery (an embedded one, or a shard
//! node's `<data-dir>/engine` while the node is down); the old key can then be dropped.

use super::DataDir;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dir: DataDir,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(keys) = super::keyring() else {
        return Err(crate::BadInput(
            "no data keys: pass --key-file FILE (or set ABIS_DATA_KEYS)".into(),
        )
        .into());
    };
    let engine = super::open_existing(&args.dir.path())?;
    let rewritten = engine.reseal()?;
    engine.flush()?;
    println!(
        "{rewritten} records sealed under key {} ({} in the gallery)",
        keys.current_id(),
        engine.len()
    );
    Ok(ExitCode::SUCCESS)
}
