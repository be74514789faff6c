//! Per-stage time of the iris pipeline on MOSIP's test-vector irises, on one core: median
//! milliseconds over 20 runs of each image.
//!
//! `cargo run --release -p abis-extract-iris --example iris_profile`

use abis_extract_iris::{encode, normalise, segment};
use abis_imaging::iris_record;
use abis_mosip::cbeff::{self, Modality};
use abis_mosip::datashare;
use abis_mosip::keys::DecryptionKey;
use std::time::Instant;

const RUNS: usize = 20;

fn main() -> anyhow::Result<()> {
    opencv::core::set_num_threads(1)?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mosip");
    let p12 = std::fs::read(dir.join("cbeff.p12"))?;
    let key = DecryptionKey::from_pkcs12(&p12, "password", Some("cbeff"))?;
    let xml = datashare::decrypt(&std::fs::read(dir.join("encrypted-datashare.txt"))?, &key)?;
    println!("image             size      decode  segment  normalise  encode   total (ms, median of {RUNS})");
    for sample in cbeff::samples(&xml)?
        .iter()
        .filter(|s| s.modality == Modality::Iris)
    {
        let mut times = vec![[0f64; 5]; RUNS];
        let mut size = (0, 0);
        for t in times.iter_mut() {
            let start = Instant::now();
            let record = iris_record::parse(&sample.data)?;
            let image = record.images[0].decode()?;
            let decoded = Instant::now();
            let seg = segment(&image)?;
            let segmented = Instant::now();
            let strip = normalise(&image, &seg);
            let normalised = Instant::now();
            let (code, _mask) = encode(&strip);
            let encoded = Instant::now();
            std::hint::black_box(code);
            size = (image.width, image.height);
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            *t = [
                ms(start, decoded),
                ms(decoded, segmented),
                ms(segmented, normalised),
                ms(normalised, encoded),
                ms(start, encoded),
            ];
        }
        let median = |k: usize| {
            let mut v: Vec<f64> = times.iter().map(|t| t[k]).collect();
            v.sort_by(f64::total_cmp);
            v[RUNS / 2]
        };
        println!(
            "{:<16} {:>4}x{:<4} {:>7.2} {:>8.2} {:>10.2} {:>7.2} {:>7.2}",
            format!("iris {}", sample.subtype),
            size.0,
            size.1,
            median(0),
            median(1),
            median(2),
            median(3),
            median(4)
        );
    }
    Ok(())
}
