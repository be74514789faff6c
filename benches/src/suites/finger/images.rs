//! `finger-images`: the classical NIST baseline from images, next to ours, on the FVC2002 TIFFs:
//! NBIS mindtct minutiae matched by NBIS bozorth3, and LEADER minutiae matched by our matcher.
//!
//! Images: `<finger>_<impression>.tif` of `DB1_B`..`DB3_B` under `--fvc-root` (80 each),
//! decoded by `abis-imaging` at the resolution the file states, else the one FVC2002 reports
//! (DB2 569 ppi, the others 500: the TIFFs state none), as `abis eval fvc --from-images` reads
//! them. Pairs and rates are `finger-match`'s: the FVC protocol per database (280 genuine, 45
//! impostor pairs) and the pool of DB1-3, EER, FMR100, FMR1000 and ZeroFMR from
//! [`abis_datasets::fvc::error_rates`], comparison speed on one thread.
//!
//! mindtct: each image is brought to 500 ppi by `abis_imaging::resample_to` (DB2 shrinks from
//! 569 ppi; DB1 and DB3 are untouched) and handed to `nbis::extract_minutiae`, nbis-rs's public
//! image entry, as an 8-bit PGM, told 500 ppi. Resampled rather than told 569 ppi: LFS's
//! parameters (blocks, windows, ridge and loop lengths) are fixed in pixels for 500 ppi, and the
//! resolution it is told only scales the radius of its minutia-reliability measure; bozorth3
//! too measures distances in pixels at 500 ppi. Our extractor gets its DB2 images the same way,
//! so both sides see the same pixels. The extraction is NBIS's defaults: `get_minutiae` with
//! `lfsparms_V2`, what the `mindtct` command runs without `-b` (contrast boost) or `-m1`;
//! nothing is chosen on these images.
//!
//! bozorth3, two variants as in `finger-match` (see `bozorth.rs`), the crate's first:
//! - `mindtct+bozorth3-nbis-api`: `nbis::Minutiae::compare`, the crate's own conversion (at
//!   most 200 minutiae by reliability, theta in `[0, 360)`, not sorted by x).
//! - `mindtct+bozorth3-xyt`: NBIS's own conventions: each image's minutiae as mindtct writes
//!   them to its `.xyt` file ([`bozorth::mindtct_lines`]), loaded as the `bozorth3` command
//!   loads such a file (NBIS's `bz_prune`: the 150 of highest quality, theta in `(-180, 180]`,
//!   sorted by x then y), matched by `bozorth_main`.
//!
//! Ours, `leader+ours-<level>`: `Leader::extract_image` on each decoded image (the library call
//! behind `abis eval fvc --from-images`; it brings the image to 500 ppi itself), each record's
//! first view compared by our matcher as `finger-match` compares the `.iso` records. The default
//! model must be installed (`bash scripts/fetch-models.sh`); `--nbis-only` leaves ours out.
//!
//! Extraction time (`extract_ms_median`, each row: the median over its scope's images) runs from
//! the decoded image to the minutiae on this thread, resampling included (about a millisecond):
//! for mindtct the PGM wrapping and `extract_minutiae`, for LEADER `extract_image` (which also
//! builds the ISO record). `minutiae_median` is the median count per image as extracted (before
//! bozorth3's cap of 150).

use super::bozorth::{self, bozorth, finish, Xyt};
use super::REAL_DATABASES;
use super::{convert_all, measure_ours, time_scopes, Corpus, MatcherRun, IMAGES_NAME};
use crate::report::Row;
use crate::Opts;
use abis_datasets::fvc::{fvc2002_ppi, impression_files, FvcDatabase, FvcImpression};
use abis_extract::Leader;
use abis_imaging::{resample_to, GreyImage, Resolution};
use abis_matchers::finger::format::MinutiaeRecord;
use std::path::Path;
use std::time::{Duration, Instant};

/// The resolution bozorth3 and both extractors are designed for, and that every image is
/// brought to.
const PPI: f32 = 500.0;

/// Runs `finger-images`.
pub(super) fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    if opts.threads != 1 {
        eprintln!(
            "{IMAGES_NAME}: runs on one thread (bozorth3 is not thread-safe); --threads ignored"
        );
    }
    let images = load_images(&opts.fvc_root)?;
    let total = images.iter().map(|db| db.images.len()).sum::<usize>();

    eprintln!("{IMAGES_NAME}: mindtct on {total} images");
    let mut mindtct = Vec::with_capacity(total);
    for db in &images {
        for image in &db.images {
            mindtct.push(
                extract_mindtct(&image.decoded)
                    .map_err(|e| anyhow::anyhow!("{} {}: {e:#}", db.name, image.name()))?,
            );
        }
    }

    let leader = if opts.nbis_only {
        None
    } else {
        eprintln!("{IMAGES_NAME}: LEADER on {total} images");
        Some(extract_leader(&images)?)
    };
    let corpus = Corpus::new(databases(&images, leader.as_deref()))?;

    let mut rows = Vec::new();
    for run in measure_nbis(&corpus, opts, &mindtct)? {
        rows.extend(with_extraction(&corpus, run, "mindtct", &mindtct));
    }
    if let Some(leader) = &leader {
        let run = measure_ours(&corpus, opts, "leader+")?;
        rows.extend(with_extraction(&corpus, run, "leader", leader));
    }
    Ok(rows)
}

/// LEADER's records of every image, in database order (module docs).
fn extract_leader(images: &[DatabaseImages]) -> anyhow::Result<Vec<Extracted<MinutiaeRecord>>> {
    let leader = Leader::load_default().map_err(|e| {
        anyhow::anyhow!(
            "{e} (install the model with `{}`, or run with --nbis-only)",
            abis_extract::FETCH_COMMAND
        )
    })?;
    let mut out = Vec::new();
    for db in images {
        for image in &db.images {
            let start = Instant::now();
            let extracted = leader
                .extract_image(&image.decoded, 0)
                .map_err(|e| anyhow::anyhow!("{} {}: LEADER: {e}", db.name, image.name()))?;
            let time = start.elapsed();
            out.push(Extracted {
                count: extracted.minutiae.len(),
                time,
                minutiae: extracted.record,
            });
        }
    }
    Ok(out)
}

/// The FVC databases of `images`: LEADER's records where ours runs, empty records otherwise
/// (the peer reads its own lists; the pairs need only the finger numbers).
fn databases(
    images: &[DatabaseImages],
    leader: Option<&[Extracted<MinutiaeRecord>]>,
) -> Vec<FvcDatabase> {
    let mut records = leader.into_iter().flatten().map(|e| e.minutiae.clone());
    images
        .iter()
        .map(|db| FvcDatabase {
            name: db.name.clone(),
            synthetic: false,
            impressions: db
                .images
                .iter()
                .map(|image| FvcImpression {
                    finger: image.finger,
                    impression: image.impression,
                    record: records.next().unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

/// One database's images, sorted by finger, then impression.
struct DatabaseImages {
    name: String,
    images: Vec<FvcImage>,
}

/// One decoded image with its resolution.
struct FvcImage {
    finger: u32,
    impression: u32,
    decoded: GreyImage,
}

impl FvcImage {
    fn name(&self) -> String {
        format!("{}_{}.tif", self.finger, self.impression)
    }
}

/// Decodes the real databases' images.
fn load_images(root: &Path) -> anyhow::Result<Vec<DatabaseImages>> {
    REAL_DATABASES
        .iter()
        .map(|&name| {
            let folder = root.join(name);
            let files = impression_files(&folder, "tif").map_err(|e| {
                anyhow::anyhow!("{e} (the FVC2002 images; set the folder with --fvc-root)")
            })?;
            anyhow::ensure!(!files.is_empty(), "{}: no .tif images", folder.display());
            let images = files
                .into_iter()
                .map(|(finger, impression, path)| {
                    let bytes = std::fs::read(&path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    let mut decoded = abis_imaging::decode(&bytes)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    if decoded.resolution.is_none() {
                        decoded.resolution = Some(Resolution::square(fvc2002_ppi(name)));
                    }
                    Ok(FvcImage {
                        finger,
                        impression,
                        decoded,
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            Ok(DatabaseImages {
                name: name.to_string(),
                images,
            })
        })
        .collect()
}

/// One image's minutiae with the extraction's figures.
struct Extracted<T> {
    minutiae: T,
    /// Minutiae found.
    count: usize,
    /// From the decoded image to the minutiae.
    time: Duration,
}

/// mindtct's minutiae of one image and the height of the 500 ppi image they are on.
struct Mindtct {
    minutiae: nbis::Minutiae,
    height: i32,
}

/// mindtct's minutiae of one decoded image (module docs).
fn extract_mindtct(image: &GreyImage) -> anyhow::Result<Extracted<Mindtct>> {
    let start = Instant::now();
    let at_500 = resample_to(image, PPI)?;
    let minutiae = nbis::extract_minutiae(&pgm(&at_500), Some(f64::from(PPI)))
        .map_err(|e| anyhow::anyhow!("mindtct: {e}"))?;
    let time = start.elapsed();
    Ok(Extracted {
        count: minutiae.get().len(),
        time,
        minutiae: Mindtct {
            minutiae,
            height: at_500.height as i32,
        },
    })
}

impl Mindtct {
    /// The list the `bozorth3` command matches for this image's `.xyt` file.
    fn xyt(&self) -> Xyt {
        Xyt::loaded(&bozorth::mindtct_lines(&self.minutiae, self.height))
    }
}

/// `image` as a binary 8-bit PGM, a format `nbis::extract_minutiae` reads as grey as it is.
fn pgm(image: &GreyImage) -> Vec<u8> {
    let mut out = format!("P5\n{} {}\n255\n", image.width, image.height).into_bytes();
    out.extend_from_slice(&image.pixels);
    out
}

/// The two bozorth3 variants on mindtct's minutiae, the crate's first (its first `compare`
/// points NBIS's `errorfp` at stderr before the direct calls run).
fn measure_nbis(
    corpus: &Corpus,
    opts: &Opts,
    mindtct: &[Extracted<Mindtct>],
) -> anyhow::Result<Vec<MatcherRun>> {
    // The crate converts both lists inside every compare: no conversion beforehand.
    let measured = time_scopes(
        corpus,
        opts.reps,
        |i| 12 * mindtct[i].count,
        |i, j| {
            f64::from(
                mindtct[i]
                    .minutiae
                    .minutiae
                    .compare(&mindtct[j].minutiae.minutiae),
            )
        },
    );
    let api = finish(
        "mindtct+bozorth3-nbis-api",
        &measured,
        Duration::ZERO,
        corpus,
    );

    let (xyt, convert_time) =
        convert_all(corpus, opts.reps, |_, _, k| Ok(mindtct[k].minutiae.xyt()))?;
    let measured = time_scopes(
        corpus,
        opts.reps,
        |i| xyt[i].bytes(),
        |i, j| f64::from(bozorth(&xyt[i], &xyt[j])),
    );
    let direct = finish("mindtct+bozorth3-xyt", &measured, convert_time, corpus);
    Ok(vec![api, direct])
}

/// `run`'s rows with the extractor and its figures over each row's scope.
fn with_extraction<T>(
    corpus: &Corpus,
    (_, rows, _): MatcherRun,
    extractor: &str,
    extracted: &[Extracted<T>],
) -> Vec<Row> {
    rows.into_iter()
        .enumerate()
        .map(|(k, row)| {
            // Scope k is database k; the last, the pool, holds every image.
            let in_scope: Vec<&Extracted<T>> = corpus
                .index
                .iter()
                .zip(extracted)
                .filter(|((d, _), _)| k + 1 == corpus.scopes.len() || *d == k)
                .map(|(_, e)| e)
                .collect();
            let ms = median(in_scope.iter().map(|e| e.time.as_secs_f64() * 1e3));
            let count = median(in_scope.iter().map(|e| e.count as f64));
            // The rows are made by `finger-match`'s code, which names its own suite.
            let mut row = row;
            row.suite = IMAGES_NAME.to_string();
            row.with("extractor", extractor)
                .with("images", in_scope.len())
                .with("extract_ms_median", ms)
                .with("minutiae_median", count)
        })
        .collect()
}

/// The median of `values` (the upper one of an even count; 0 for none).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true")
    }

    /// `../shared/data/fvc2002`; `None` (skipped, with a note) outside CI when it is missing, a
    /// failure under `CI=true`.
    fn fvc_root() -> Option<std::path::PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fvc2002");
        if root.is_dir() {
            return Some(root);
        }
        assert!(!in_ci(), "CI=true and {} is missing", root.display());
        eprintln!("SKIP: {} not found", root.display());
        None
    }

    #[test]
    fn mindtct_and_bozorth3_tell_a_mate_from_an_impostor() {
        let Some(root) = fvc_root() else { return };
        let _nbis = bozorth::NBIS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dbs = load_images(&root).unwrap();
        let names: Vec<(&str, usize)> = dbs
            .iter()
            .map(|d| (d.name.as_str(), d.images.len()))
            .collect();
        assert_eq!(names, [("DB1_B", 80), ("DB2_B", 80), ("DB3_B", 80)]);
        let image = |db: usize, finger: u32, impression: u32| {
            &dbs[db]
                .images
                .iter()
                .find(|i| (i.finger, i.impression) == (finger, impression))
                .unwrap()
                .decoded
        };

        // At 500 ppi the PGM route hands mindtct the pixels it reads from the TIFF itself.
        let tiff = std::fs::read(root.join("DB1_B/101_1.tif")).unwrap();
        let direct = nbis::extract_minutiae(&tiff, Some(500.0)).unwrap();
        let ours = extract_mindtct(image(0, 101, 1)).unwrap();
        assert_eq!(ours.minutiae.height, 374);
        assert_eq!(
            bozorth::mindtct_lines(&direct, 374),
            bozorth::mindtct_lines(&ours.minutiae.minutiae, 374)
        );

        // DB2 goes from 569 to 500 ppi: 560 rows become 492.
        let pick = |finger: u32, impression: u32| {
            let e = extract_mindtct(image(1, finger, impression)).unwrap();
            assert_eq!(e.minutiae.height, 492);
            assert!((10..=400).contains(&e.count), "{} minutiae", e.count);
            e.minutiae
        };
        let (a, b, c) = (pick(101, 1), pick(101, 2), pick(102, 1));
        // The crate's compare first: it points NBIS's errorfp at stderr.
        let api = |p: &Mindtct, q: &Mindtct| p.minutiae.compare(&q.minutiae);
        assert!(api(&a, &b) > api(&a, &c));
        let (mate, impostor) = (bozorth(&a.xyt(), &b.xyt()), bozorth(&a.xyt(), &c.xyt()));
        assert!(mate > impostor, "mate {mate}, impostor {impostor}");
    }
}
