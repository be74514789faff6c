//! FVC databases with templates extracted from their images instead of the `.iso` records
//! shipped beside them (`abis eval fvc --from-images`).

use abis_datasets::fvc::{fvc2002_ppi, impression_files, FvcDatabase, FvcImpression};
use abis_extract::Leader;
use rayon::prelude::*;
use std::path::Path;

/// Every sub-folder of `root` holding `<finger>_<impression>.tif` images (another name with
/// that extension is an error, as for the `.iso` records), each image's
/// minutiae extracted by LEADER (brought to 500 ppi first), in name order.
pub fn load_root(root: &Path, model: Option<&Path>) -> anyhow::Result<Vec<FvcDatabase>> {
    let leader = match model {
        Some(path) => Leader::load(path)?,
        None => Leader::load_default()?,
    };
    let mut folders: Vec<_> = std::fs::read_dir(root)
        .map_err(|e| crate::BadInput(format!("cannot read {}: {e}", root.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut databases = Vec::new();
    for folder in folders {
        let name = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let images = impression_files(&folder, "tif")?;
        if images.is_empty() {
            continue;
        }
        let ppi = fvc2002_ppi(&name);
        let bar = crate::progress::bar(images.len() as u64, &format!("extract {name}"));
        let impressions = images
            .par_iter()
            .map(
                |(finger, impression, path)| -> anyhow::Result<FvcImpression> {
                    let bytes = std::fs::read(path)?;
                    let extracted = leader
                        .extract_bytes(&bytes, Some(ppi))
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    bar.inc(1);
                    Ok(FvcImpression {
                        finger: *finger,
                        impression: *impression,
                        record: extracted
                            .into_iter()
                            .next()
                            .expect("one image, one finger")
                            .record,
                    })
                },
            )
            .collect::<anyhow::Result<Vec<_>>>()?;
        bar.finish_and_clear();
        databases.push(FvcDatabase {
            synthetic: name.ends_with("-synthetic"),
            name,
            impressions,
        });
    }
    anyhow::ensure!(
        !databases.is_empty(),
        crate::BadInput(format!(
            "no <finger>_<impression>.tif images under {}",
            root.display()
        ))
    );
    Ok(databases)
}
