//! `abis-bench`: the speed benchmarks, one suite at a time.
//!
//! ```text
//! cargo run --release -p abis-bench -- iris-scan --json
//! cargo run --release -p abis-bench -- all
//! cargo run --release -p abis-bench --features bozorth3 -- finger-match
//! cargo run --release -p abis-bench --features bozorth3 -- finger-images
//! ```
//!
//! `finger-match` compares our fingerprint matcher with NIST bozorth3 on the FVC2002 templates
//! (`--fvc-root`); the bozorth3 peer is compiled only with the `bozorth3` cargo feature (it builds
//! NBIS C code through the `nbis-rs` crate), and without it the suite measures ours alone.
//! `finger-images` (that feature only; not part of `all`) starts from the FVC2002 images: NIST
//! mindtct + bozorth3 next to LEADER + our matcher.
//!
//! Each suite prints one JSON object per measured configuration (with `--json`) or a table. Every
//! line carries the memory read bandwidth measured just before its suite (`mem_read_gbps`, a
//! STREAM-like sum over a buffer far larger than the caches, with the suite's thread count) and
//! the suite's throughput in bytes as a fraction of it (`ratio_to_bandwidth`), so figures from a
//! noisy, shared machine are read as ratios measured side by side.

mod bandwidth;
mod report;
mod suites;

use clap::Parser;
use report::{Printer, Row};

/// Command-line options shared by every suite.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "abis-bench",
    about = "Speed benchmarks of the abis kernels and engine"
)]
pub struct Opts {
    /// Suite to run: iris-scan, iris-batch, face-scan, face-batch, finger-match, finger-search,
    /// cluster-identify, scale, node-flood, or all; or finger-images (not part of all).
    pub suite: String,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Gallery size (records); each suite has its own default.
    #[arg(long)]
    pub records: Option<usize>,
    /// Probes per batch for the batched suites.
    #[arg(long)]
    pub probes: Option<usize>,
    /// Worker threads (default: 1, so figures are per core).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Timed repetitions; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Folder of FVC2002-style databases (`DB1_B`, ...) for finger-match and finger-images.
    #[arg(long, default_value = "../shared/data/fvc2002")]
    pub fvc_root: std::path::PathBuf,
    /// finger-images: NIST mindtct + bozorth3 only, without LEADER + our matcher (LEADER adds
    /// about 0.5-0.9 s of one core per image).
    #[arg(long)]
    pub nbis_only: bool,
}

fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    anyhow::ensure!(opts.threads >= 1, "--threads must be at least 1");
    anyhow::ensure!(opts.reps >= 1, "--reps must be at least 1");
    rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build_global()?;

    let names: Vec<&str> = if opts.suite == "all" {
        suites::NAMES.to_vec()
    } else {
        vec![opts.suite.as_str()]
    };
    for name in &names {
        anyhow::ensure!(
            suites::NAMES.contains(name) || suites::ON_REQUEST.contains(name),
            "unknown suite {name:?}; known: {}, all, or {}",
            suites::NAMES.join(", "),
            suites::ON_REQUEST.join(", ")
        );
    }

    let mut printer = Printer::new(opts.json);
    for name in names {
        // Measured again before each suite: on a shared machine the bandwidth left to this
        // process drifts over a long run, and each suite's ratios should use what it had.
        let mem_read_gbps = bandwidth::measure_read_gbps(opts.threads, opts.reps);
        for row in suites::run(name, &opts)? {
            printer.print(&row.finish(mem_read_gbps));
        }
    }
    Ok(())
}

/// Rows are built by suites and finished with the bandwidth measured once for the run.
impl Row {
    fn finish(mut self, mem_read_gbps: f64) -> Self {
        self.mem_read_gbps = mem_read_gbps;
        let bytes_per_s = self.records_per_s * self.bytes_per_record as f64;
        self.ratio_to_bandwidth = bytes_per_s / (mem_read_gbps * 1e9);
        self
    }
}
