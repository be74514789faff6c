//! `abis eval`: accuracy protocols on real and synthetic data, for researchers.
//!
//! - `abis eval fvc`: the FVC protocol on a folder laid out like FVC2002 (one sub-folder per
//!   database), 1:1 and 1:N ([`fvc`]); with `--from-images` on templates LEADER extracts from
//!   the databases' images ([`fvc_images`]).
//! - `abis eval folder DIR`: the same protocols on any one folder of ISO/ANSI finger records
//!   named `<subject>_<impression>.<ext>` ([`fvc`], one database).
//! - `abis eval synthetic`: a generated population through the engine: 1:N open-set per
//!   modality and fused, 1:1 per modality ([`synthetic`]).
//!
//! Every protocol prints a table (or `--json`) and, with `--out DIR`, writes the score
//! distributions and metrics as CSV and JSON, DET and CMC plots as SVG and PNG ([`plot`]) and
//! a markdown report holding the exact command line ([`output`]). Figures that depend on a
//! threshold always take it from data other than the data they are reported on.

mod fvc;
mod fvc_files;
mod fvc_images;
mod output;
mod plot;
mod synthetic;
mod synthetic_files;

/// A progress bar on stderr, or a hidden one (for `--json`).
fn progress(show: bool, total: usize, what: &str) -> indicatif::ProgressBar {
    if show {
        crate::progress::bar(total as u64, what)
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Arguments of `abis eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// FVC protocol on a folder laid out like FVC2002 (sub-folders of <finger>_<impression>.iso).
    Fvc(fvc::FvcArgs),
    /// FVC protocol on one folder of ISO 19794-2 / ANSI 378 records named
    /// <subject>_<impression>.<ext>.
    Folder(fvc::FolderArgs),
    /// 1:N and 1:1 accuracy of a generated population searched through the engine.
    Synthetic(synthetic::SyntheticArgs),
}

/// Runs the evaluation.
pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    match args.what {
        What::Fvc(a) => fvc::run_fvc(a),
        What::Folder(a) => fvc::run_folder(a),
        What::Synthetic(a) => synthetic::run(a),
    }
}
