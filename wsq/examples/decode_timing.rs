//! Times `abis_wsq::decode` per image: `cargo run --release -p abis-wsq --example
//! decode_timing [RUNS] [FILE.wsq...]` (default: 200 runs of each test fixture). Prints the
//! median, 10th and 90th percentile per file.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 200,
    };
    let mut files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if files.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        files = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wsq"))
            .collect();
        files.sort();
    }
    println!(
        "{:<28} {:>9} {:>8} {:>10} {:>10} {:>10}",
        "file", "size", "bytes", "p10 ms", "median ms", "p90 ms"
    );
    for file in files {
        let bytes = std::fs::read(&file)?;
        let image = abis_wsq::decode(&bytes)?;
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let image = abis_wsq::decode(&bytes).expect("decoded once already");
                std::hint::black_box(image);
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{:<28} {:>9} {:>8} {:>10.3} {:>10.3} {:>10.3}",
            file.file_name().unwrap_or_default().to_string_lossy(),
            format!("{}x{}", image.width, image.height),
            bytes.len(),
            at(0.1),
            at(0.5),
            at(0.9)
        );
    }
    Ok(())
}
