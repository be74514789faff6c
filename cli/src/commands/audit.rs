//! `abis audit verify FILE`: checks an audit log's hash chain (see
//! `abis_server_kit::audit`): every entry in order, unchanged, none removed. Prints the number
//! of entries and the chain's head (keep it elsewhere to detect a truncated log later); exit
//! status 0 when the chain holds, 1 and the first bad line when it does not.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check the hash chain of an audit log.
    Verify {
        /// The log (`<data-dir>/audit.log` of a coordinator or of `abis serve`).
        file: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify { file } => {
            if !file.is_file() {
                return Err(crate::BadInput(format!("no audit log at {}", file.display())).into());
            }
            match abis_server_kit::audit::verify(&file) {
                Ok(v) => {
                    println!("ok: {} entries, head {}", v.entries, v.head);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("broken: {e:#}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
