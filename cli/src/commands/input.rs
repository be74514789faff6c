//! Where `enroll`, `identify` and `verify` read records: population files (from `abis
//! generate`) or applicant folders, the registration client's format (a folder holding
//! `manifest.json`, or the manifest itself), whose fingers, irises and face may be images. Images
//! are turned into templates here, in this process, exactly as `abis serve` and the coordinator
//! do ([`abis_proto::extract_images`]).

use abis_coordinator::images::default_extractor;
use abis_engine::GalleryConfig;
use abis_engine::Record;
use abis_proto::{ImageBatchError, ImageExtractor};
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

/// The records of `paths` in order, as engine records for a gallery of `shape`. Unreadable
/// input is a bad request (exit 2) naming the file, and so are iris or face images for a
/// gallery not made for them; a missing extraction model is an error saying how to fetch it.
pub fn records<'a>(
    paths: &'a [PathBuf],
    shape: &'a GalleryConfig,
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
                    Box::new(std::iter::once(applicant(&manifest, shape, &images)))
                }
            }
        })
}

/// The applicant of `manifest` as an engine record, its images extracted.
fn applicant(
    manifest: &Path,
    shape: &GalleryConfig,
    images: &OnceLock<Arc<dyn ImageExtractor>>,
) -> anyhow::Result<Record> {
    let mut record = Applicant::load(manifest).map_err(crate::bad_input)?.record;
    let packet = record.reference_id.clone();
    let iris_images = record.irises.iter().any(|i| !i.image.is_empty());
    let face_image = record.face.as_ref().is_some_and(|f| !f.image.is_empty());
    let extracted = GalleryConfig::IMAGES;
    if (iris_images && shape.iris_layout != extracted.iris_layout)
        || (face_image && shape.face_dim != extracted.face_dim)
    {
        return Err(crate::bad_input(anyhow::anyhow!(
            "applicant {packet} ({}): iris and face images become 16 x 200 x 4 iris codes and \
             128-d faces, but this gallery holds {} x {} x {} codes and {}-d faces; make a \
             gallery for them with --gallery-shape images",
            manifest.display(),
            shape.iris_layout.rows(),
            shape.iris_layout.cols(),
            shape.iris_layout.bits_per_cell(),
            shape.face_dim
        )));
    }
    if abis_proto::count_images(std::slice::from_ref(&record)) > 0 {
        // Loaded once, at the first image; without a model every image of its modality fails
        // saying how to fetch it.
        let extractor = images.get_or_init(default_extractor);
        abis_proto::extract_images(std::slice::from_mut(&mut record), &**extractor).map_err(
            |e| match e {
                ImageBatchError::Refused(refused) => crate::bad_input(anyhow::anyhow!(
                    "applicant {packet} ({}): {}",
                    manifest.display(),
                    refused.error
                )),
                failed @ (ImageBatchError::Failed { .. } | ImageBatchError::Unavailable { .. }) => {
                    anyhow::anyhow!("applicant {packet}: {failed}")
                }
            },
        )?;
    }
    record.into_engine(&shape.iris_layout).map_err(|e| {
        crate::bad_input(anyhow::anyhow!(
            "applicant {packet} ({}): {e}",
            manifest.display()
        ))
    })
}
