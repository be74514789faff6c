//! `abis stats`.

use super::DataDir;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dir: DataDir,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the gallery's size and storage.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stats = super::open_existing(&args.dir.path())?.stats();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("gallery     {}", stats.data_dir.display());
    println!("records     {}", stats.records);
    println!(
        "tombstones  {} (rows reclaimed at compaction)",
        stats.pending_tombstones
    );
    println!(
        "shape       iris {} / face {}-d",
        stats.iris_layout, stats.face_dim
    );
    for s in &stats.segments {
        println!(
            "segment     {:<11} {:>10} rows {:>10.1} MiB",
            s.name,
            s.rows,
            s.bytes as f64 / (1 << 20) as f64
        );
    }
    for o in &stats.opened {
        println!("at open     {o}");
    }
    Ok(ExitCode::SUCCESS)
}
