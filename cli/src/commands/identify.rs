//! `abis identify`.

use super::DataDir;
use abis_engine::{IdentifyRequest, Threshold};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dir: DataDir,
    /// Population files of probes and/or applicant folders (see `abis enroll`; finger images
    /// are extracted here).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Target false-positive identification rate.
    #[arg(long, default_value_t = 1e-3)]
    fpir: f64,
    /// Most candidates per probe.
    #[arg(long, default_value_t = 30)]
    max_results: usize,
    /// Probes per batch.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Print one JSON object per probe.
    #[arg(long)]
    json: bool,
}

/// Identifies each probe; prints its candidates.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::ensure_input!(args.batch >= 1, "--batch must be at least 1");
    let engine = super::open_existing(&args.dir.path())?;
    let request = IdentifyRequest {
        max_results: args.max_results,
        threshold: Threshold::Fpir(args.fpir),
    };
    let shape = engine.shape();
    let probes: Vec<_> =
        super::input::records(&args.files, &shape).collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    let (mut with_candidates, mut total) = (0usize, 0usize);
    for chunk in probes.chunks(args.batch) {
        let results = engine.identify_batch(chunk, &request)?;
        for (probe, result) in chunk.iter().zip(results) {
            total += 1;
            with_candidates += usize::from(!result.candidates.is_empty());
            if args.json {
                let line =
                    serde_json::json!({ "probe": probe.reference_id.as_str(), "result": result });
                println!("{line}");
            } else {
                let list: Vec<String> = result
                    .candidates
                    .iter()
                    .map(|c| format!("{} ({:.1})", c.reference_id, c.fused_score))
                    .collect();
                println!(
                    "{}: {}",
                    probe.reference_id,
                    if list.is_empty() {
                        "no match".to_string()
                    } else {
                        list.join(", ")
                    }
                );
            }
        }
    }
    if !args.json {
        eprintln!(
            "{total} probes against {} records in {:.2} s; {with_candidates} with candidates",
            engine.len(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
