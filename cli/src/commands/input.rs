//! Where `enroll`, `identify` and `verify` read records: population files (from `abis
//! generate`) or applicant folders, the registration client's format (a folder holding
//! `manifest.json`, or the manifest itself), whose fingers may be minutiae records or finger
//! images. Images are turned into templates here, in this process, by LEADER, exactly as
//! `abis serve` and the coordinator do ([`abis_proto::extract_finger_images`]).

use abis_coordinator::images::default_extractor;
use abis_engine::Record;
use abis_matchers::iris::IrisLayout;
use abis_proto::{FingerImageExtractor, ImageBatchError};
use abis_registration::{Applicant, MANIFEST_FILE};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// One input path, by what it holds.
enum Source {
    /// A population file.
    Population(PathBuf),
    /// An applicant manifest.
    Applicant(PathBuf),
}

impl Source {
    /// A folder is an applicant folder, a `.json` file its manifest, anything else a
    /// population file.
    fn of(path: &Path) -> Self {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if path.is_dir() || json {
            Self::Applicant(manifest_of(path))
        } else {
            Self::Population(path.to_path_buf())
        }
    }
}

/// The manifest of an applicant given as its folder or as the manifest itself.
pub fn manifest_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MANIFEST_FILE)
    } else {
        path.to_path_buf()
    }
}

/// The records of `paths` in order, as engine records for a gallery whose irises are in
/// `layout`. Unreadable input is a bad request (exit 2) naming the file; a missing extraction
/// model is an error saying how to fetch it.
pub fn records<'a>(
    paths: &'a [PathBuf],
    layout: &'a IrisLayout,
) -> impl Iterator<Item = anyhow::Result<Record>> + 'a {
    let images = OnceLock::new();
    paths
        .iter()
        .flat_map(move |path| -> Box<dyn Iterator<Item = _>> {
            match Source::of(path) {
                Source::Population(file) => {
                    match abis_datasets::population::PopulationReader::open(&file) {
                        Ok(reader) => Box::new(reader.map(|r| r.map_err(crate::bad_input))),
                        Err(e) => Box::new(std::iter::once(Err(crate::bad_input(e)))),
                    }
                }
                Source::Applicant(manifest) => {
                    Box::new(std::iter::once(applicant(&manifest, layout, &images)))
                }
            }
        })
}

/// The applicant of `manifest` as an engine record, its finger images extracted.
fn applicant(
    manifest: &Path,
    layout: &IrisLayout,
    images: &OnceLock<Arc<dyn FingerImageExtractor>>,
) -> anyhow::Result<Record> {
    let mut record = Applicant::load(manifest).map_err(crate::bad_input)?.record;
    let packet = record.reference_id.clone();
    if abis_proto::count_finger_images(std::slice::from_ref(&record)) > 0 {
        // Loaded once, at the first image; without the model every image fails saying how to
        // fetch it.
        let extractor = images.get_or_init(default_extractor);
        abis_proto::extract_finger_images(std::slice::from_mut(&mut record), &**extractor)
            .map_err(|e| match e {
                ImageBatchError::Refused(refused) => crate::bad_input(anyhow::anyhow!(
                    "applicant {packet} ({}): {}",
                    manifest.display(),
                    refused.error
                )),
                failed @ ImageBatchError::Failed { .. } => {
                    anyhow::anyhow!("applicant {packet}: {failed}")
                }
            })?;
    }
    record.into_engine(layout).map_err(|e| {
        crate::bad_input(anyhow::anyhow!(
            "applicant {packet} ({}): {e}",
            manifest.display()
        ))
    })
}
