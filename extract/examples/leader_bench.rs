//! Speed of LEADER minutiae extraction on one thread: median, minimum and 90th percentile
//! milliseconds per image for an FVC2002 DB1 (388x374) and a DB3 (300x300) image, after the
//! one-off plan optimisation for the size (timed apart).
//!
//! ```text
//! cargo run --release -p abis-extract --example leader_bench -- [--runs N] [--data DIR]
//! ```
//!
//! Times `Leader::extract` (padding, inference, decoding); TIFF reading is outside the timing.

use abis_extract::{GreyImage, Leader};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut runs = 21usize;
    let mut data = PathBuf::from("../shared/data/fvc2002");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--data" => data = args.next().context("--data DIR")?.into(),
            other => bail!("unknown argument {other}; usage: [--runs N] [--data DIR]"),
        }
    }
    anyhow::ensure!(runs >= 1, "--runs must be at least 1");

    let start = Instant::now();
    let leader = Leader::load_default()?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let report = leader.rewrite_report();
    println!(
        "LEADER {} loaded in {load_ms:.0} ms; rewrite: {} upsamplings -> Resize, {} GELUs fused, \
         {} LayerNorms fused ({} with their GELU), {} 1x1 conv pairs tiled, {} -> {} nodes",
        leader.path().display(),
        report.upsamplings,
        report.gelus,
        report.layer_norms,
        report.layer_norm_gelus,
        report.pointwise_mlps,
        report.nodes_before,
        report.nodes_after
    );
    println!(
        "tract-onnx 0.23 (default features off), release profile, optimised plan per padded \
         size, one thread (tract's default executor), {runs} timed runs after one warm-up"
    );
    println!(
        "{:<18} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9}",
        "image", "size", "padded", "plan ms", "median", "min", "p90 ms"
    );
    for file in ["DB1_B/101_1.tif", "DB3_B/101_1.tif"] {
        let path = data.join(file);
        let tiff = std::fs::read(&path).with_context(|| path.display().to_string())?;
        let decoded = abis_imaging::decode(&tiff)?;
        let (w, h) = (decoded.width as usize, decoded.height as usize);
        let image = GreyImage::new(w, h, &decoded.pixels)?;
        // First call: makes and caches the plan for this size, then runs it once.
        let start = Instant::now();
        let found = leader.extract(image)?.len();
        let first_ms = start.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let minutiae = leader.extract(image)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            assert_eq!(minutiae.len(), found, "extraction is deterministic");
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
        let padded = (w.div_ceil(32) * 32, h.div_ceil(32) * 32);
        println!(
            "{:<18} {:>9} {:>9} {:>8.0} {:>8.1} {:>8.1} {:>9.1}",
            file,
            format!("{w}x{h}"),
            format!("{}x{}", padded.0, padded.1),
            first_ms - median,
            median,
            times[0],
            p90
        );
    }
    Ok(())
}
