//! Speed of dlib's ResNet face descriptor in this crate, on one core: the median of several
//! model loads and of many forward passes over one 150 x 150 chip.
//!
//! ```text
//! cargo run --release -p abis-extract-face --example face_profile [-- LOADS RUNS]
//! ```
//!
//! Needs the model (`bash scripts/fetch-models.sh`). The crate runs its GEMMs single-threaded
//! and uses no thread pool, so this is one core's speed.

use abis_extract_face::{default_resnet_path, FaceNet, CHIP_SIZE, FETCH_COMMAND};
use std::time::Instant;

fn median_ms(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let loads: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(50), |a| a.parse())?;
    let path = default_resnet_path().ok_or("no models folder: set ABIS_MODELS or HOME")?;
    if !path.exists() {
        return Err(format!("{} missing: run `{FETCH_COMMAND}`", path.display()).into());
    }

    let mut load_ms = Vec::with_capacity(loads);
    let mut net = None;
    for _ in 0..loads.max(1) {
        let t = Instant::now();
        net = Some(FaceNet::load(&path)?);
        load_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let net = net.expect("loaded at least once");

    // A smooth synthetic chip (content does not change the work done).
    let chip: Vec<u8> = (0..CHIP_SIZE * CHIP_SIZE * 3)
        .map(|i| ((i / 3 % CHIP_SIZE + i / 3 / CHIP_SIZE + 40 * (i % 3)) % 256) as u8)
        .collect();
    net.descriptor(&chip)?; // warm-up
    let mut forward_ms = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        std::hint::black_box(net.descriptor(std::hint::black_box(&chip))?);
        forward_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "model load: median {:.1} ms over {} loads",
        median_ms(load_ms),
        loads.max(1)
    );
    println!(
        "forward (150x150 chip -> 128-d): median {:.2} ms over {} runs, one core",
        median_ms(forward_ms),
        runs.max(1)
    );
    Ok(())
}
