//! `abis generate`.

use crate::progress;
use abis_datasets::population::{Population, PopulationWriter};
use abis_engine::ReferenceId;
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Number of people.
    #[arg(long, default_value_t = 100_000)]
    people: u64,
    /// First person index.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Capture index: 0 is the enrolment capture; others are fresh acquisitions of the same
    /// people (duplicate applicants), written under ids "<prefix>-c<capture>-<person>".
    #[arg(long, default_value_t = 0)]
    capture: u64,
    /// Fingerprints per person (ISO positions 1..=N, 0-10).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=10))]
    fingers: u8,
    /// Population seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Writes the population file.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pop = Population::new(args.seed).with_fingers(args.fingers);
    let mut writer = PopulationWriter::create(&args.out)?;
    let bar = progress::bar(args.people, "generate");
    let end = args
        .first
        .checked_add(args.people)
        .ok_or_else(|| anyhow::anyhow!("--first + --people overflows"))?;
    for start in (args.first..end).step_by(4096) {
        let stop = (start + 4096).min(end);
        let records: Vec<_> = (start..stop)
            .into_par_iter()
            .map(|p| {
                let id = if args.capture == 0 {
                    pop.reference_id(p)
                } else {
                    ReferenceId::new(format!("{}-c{}-{p}", pop.prefix, args.capture))
                        .expect("short id")
                };
                pop.capture(p, args.capture, id)
            })
            .collect();
        for r in &records {
            writer.write(r)?;
        }
        bar.inc(records.len() as u64);
    }
    writer.finish()?;
    bar.finish_and_clear();
    println!("wrote {} records to {}", args.people, args.out.display());
    Ok(ExitCode::SUCCESS)
}
