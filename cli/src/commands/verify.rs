//! `abis verify`.

use super::DataDir;
use abis_engine::ReferenceId;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dir: DataDir,
    /// Population file holding the probe, or an applicant folder (see `abis enroll`; finger
    /// images are extracted here).
    file: PathBuf,
    /// Reference id to verify against.
    #[arg(long)]
    reference: String,
    /// Which record of the file is the probe (0-based).
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// Target false-match rate.
    #[arg(long, default_value_t = 1e-4)]
    fmr: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints match / no match; exit status 0 for a match, 3 for no match.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let engine = super::open_existing(&args.dir.path())?;
    let reference = ReferenceId::new(args.reference)?;
    let shape = engine.shape();
    let files = [args.file.clone()];
    let probe = super::input::records(&files, &shape)
        .nth(args.index)
        .ok_or_else(|| {
            crate::bad_input(anyhow::anyhow!(
                "{} has no record {}",
                args.file.display(),
                args.index
            ))
        })??;
    let result = engine.verify(&probe, &reference, args.fmr)?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        let detail: Vec<String> = result
            .scores
            .iter()
            .map(|s| format!("{} {:.3} -> {:.1}", s.modality.name(), s.raw, s.score))
            .collect();
        println!(
            "{} vs {reference}: {} (fused {:.2}, threshold {:.2}; {})",
            probe.reference_id,
            if result.is_match { "MATCH" } else { "no match" },
            result.fused_score,
            result.threshold,
            detail.join(", ")
        );
    }
    Ok(if result.is_match {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
