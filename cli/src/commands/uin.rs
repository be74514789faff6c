//! `abis uin validate <UIN>`: checks a UIN against the issuance rules (MOSIP's defaults or
//! `--uin-rules`). Exit status 0 and `valid`, or 1 and the first rule it breaks.

use super::clients::read_rules;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: UinCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UinCommand {
    /// Check a UIN against the rules.
    Validate {
        /// The UIN.
        uin: String,
        /// UIN rules (TOML) [default: MOSIP's defaults].
        #[arg(long)]
        uin_rules: Option<PathBuf>,
    },
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        UinCommand::Validate { uin, uin_rules } => {
            let rules = read_rules(uin_rules.as_deref())?;
            match rules.validate(&uin) {
                Ok(()) => {
                    println!("valid");
                    Ok(ExitCode::SUCCESS)
                }
                Err(violation) => {
                    println!("invalid: {violation} (rule {})", violation.rule_name());
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
