//! ISO 19794-2:2005 templates extracted with LEADER from FVC2002 images, for `abis eval`.
//!
//! ```text
//! cargo run --release -p abis-extract --example leader_fvc -- \
//!     [--data ../shared/data/fvc2002] [--out /tmp/leader-iso] [DB ...]
//! ```
//!
//! For each database folder (default DB1_B DB2_B DB3_B) writes `OUT/<DB>/<finger>_<impr>.iso`
//! from `<finger>_<impr>.tif`; DB2 (569 ppi) is resampled to 500 ppi first and its templates
//! are on that grid. Then `abis eval fvc --data OUT` gives the FVC-protocol figures per database
//! and pooled. Prints the minutiae count and time per database.

use abis_extract::{resample_to_500ppi, to_iso_bytes, GreyImage, Leader};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;

#[path = "support/fvc_image.rs"]
mod fvc_image;

fn main() -> anyhow::Result<()> {
    let mut data = PathBuf::from("../shared/data/fvc2002");
    let mut out = PathBuf::from("/tmp/leader-iso");
    let mut dbs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => data = args.next().context("--data DIR")?.into(),
            "--out" => out = args.next().context("--out DIR")?.into(),
            db if !db.starts_with('-') => dbs.push(db.to_string()),
            other => bail!("unknown argument {other}"),
        }
    }
    if dbs.is_empty() {
        dbs = ["DB1_B", "DB2_B", "DB3_B"].map(String::from).to_vec();
    }
    let leader = Leader::load_default()?;
    for db in &dbs {
        let dir = data.join(db);
        let mut tifs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        tifs.retain(|p| p.extension().is_some_and(|e| e == "tif"));
        tifs.sort();
        anyhow::ensure!(!tifs.is_empty(), "no .tif in {}", dir.display());
        let target = out.join(db);
        std::fs::create_dir_all(&target)?;
        let ppi = fvc_image::fvc2002_ppi(db);
        let (start, mut counts) = (Instant::now(), Vec::new());
        for tif in &tifs {
            let (w, h, pixels) = fvc_image::read_grey_tiff(tif).map_err(anyhow::Error::msg)?;
            let (w, h, pixels) = resample_to_500ppi(&pixels, w, h, ppi)?;
            let minutiae = leader.extract(GreyImage::new(w, h, &pixels)?)?;
            counts.push(minutiae.len());
            let name = tif.with_extension("iso");
            let name = name.file_name().context("file name")?;
            std::fs::write(target.join(name), to_iso_bytes(w, h, &minutiae)?)?;
        }
        counts.sort_unstable();
        println!(
            "{db}: {} templates in {}, {ppi} ppi, minutiae min/median/max {}/{}/{}, {:.0} ms per image",
            counts.len(),
            target.display(),
            counts[0],
            counts[counts.len() / 2],
            counts[counts.len() - 1],
            start.elapsed().as_secs_f64() * 1e3 / counts.len() as f64
        );
    }
    Ok(())
}
