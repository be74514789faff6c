//! `abis enroll`.

use super::DataDir;
use crate::progress;
use abis_engine::InsertOutcome;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dir: DataDir,
    #[command(flatten)]
    shape: super::ShapeArgs,
    /// Population files (from `abis generate`) and/or applicant folders (a folder holding a
    /// registration `manifest.json`, or the manifest itself; fingers, irises and the face may
    /// be images, extracted here: a gallery for iris or face images needs
    /// `--gallery-shape images`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Records per atomic, fsynced batch.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// After each durable batch, print `committed <records so far> <last reference id>` on
    /// stdout (for scripts that must know exactly what was acknowledged).
    #[arg(long)]
    ack_lines: bool,
}

/// Enrols a file's records in batches; each batch is acknowledged once durable.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::ensure_input!(args.batch >= 1, "--batch must be at least 1");
    let engine = super::open_or_create(&args.dir.path(), &args.shape)?;
    let shape = engine.shape();
    let bar = progress::bar(0, "enrol");
    let t = Instant::now();
    let (mut inserted, mut present) = (0u64, 0u64);
    let mut batch: Vec<abis_engine::Record> = Vec::with_capacity(args.batch);
    let mut flush = |batch: &mut Vec<abis_engine::Record>| -> anyhow::Result<()> {
        let last = batch.last().map(|r| r.reference_id.clone());
        for o in engine.insert_batch(std::mem::take(batch))? {
            match o {
                InsertOutcome::Inserted => inserted += 1,
                InsertOutcome::AlreadyPresent => present += 1,
            }
        }
        if let (true, Some(last)) = (args.ack_lines, last) {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "committed {} {last}", inserted + present)?;
            out.flush()?;
        }
        Ok(())
    };
    for record in super::input::records(&args.files, &shape) {
        batch.push(record?);
        if batch.len() == args.batch {
            bar.inc(batch.len() as u64);
            flush(&mut batch)?;
        }
    }
    bar.inc(batch.len() as u64);
    flush(&mut batch)?;
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "enrolled {inserted} new, {present} already present, in {secs:.1} s ({:.0} records/s); gallery holds {}",
        (inserted + present) as f64 / secs.max(1e-9),
        engine.len()
    );
    Ok(ExitCode::SUCCESS)
}
