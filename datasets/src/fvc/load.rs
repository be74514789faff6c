//! Loading a folder of FVC-style minutiae records.
//!
//! The root holds one sub-folder per database (`DB1_B`, ..., `DB4_B-synthetic`); each holds
//! `<finger>_<impression>.iso` records (other files, such as the `.tif` images, are ignored).
//! Every fault names the path it concerns, as a typed [`FvcError`].

use abis_matchers::finger::format::{parse, MinutiaeRecord};
use abis_matchers::MatchError;
use std::path::{Path, PathBuf};

/// Why a folder could not be loaded.
#[derive(Debug)]
pub enum FvcError {
    /// The folder does not exist or is not a directory.
    MissingFolder(PathBuf),
    /// The root holds no sub-folder with `.iso` records.
    NoDatabases(PathBuf),
    /// A folder or file could not be read.
    Io {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A record is not a valid minutiae record.
    Parse {
        /// The record.
        path: PathBuf,
        /// Why.
        source: MatchError,
    },
    /// A `.iso` file not named `<finger>_<impression>.iso` with two numbers.
    BadName(PathBuf),
}

impl std::fmt::Display for FvcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingFolder(p) => write!(f, "{}: no such folder", p.display()),
            Self::NoDatabases(p) => {
                write!(
                    f,
                    "{}: no sub-folder holding <finger>_<impression>.iso records",
                    p.display()
                )
            }
            Self::Io { path, source } => write!(f, "{}: cannot read: {source}", path.display()),
            Self::Parse { path, source } => {
                write!(f, "{}: not a minutiae record: {source}", path.display())
            }
            Self::BadName(p) => {
                write!(
                    f,
                    "{}: expected a name <finger>_<impression>.iso (two numbers)",
                    p.display()
                )
            }
        }
    }
}

impl std::error::Error for FvcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Parse { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One record of a database.
#[derive(Debug, Clone)]
pub struct FvcImpression {
    /// Finger number (e.g. 101..=110).
    pub finger: u32,
    /// Impression number (e.g. 1..=8).
    pub impression: u32,
    /// The parsed record.
    pub record: MinutiaeRecord,
}

/// One database: its records sorted by finger, then impression.
#[derive(Debug, Clone)]
pub struct FvcDatabase {
    /// Folder name (`DB1_B`).
    pub name: String,
    /// Whether the folder name ends in `-synthetic` (kept out of real-data pools).
    pub synthetic: bool,
    /// The records.
    pub impressions: Vec<FvcImpression>,
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, FvcError> {
    let io = |source| FvcError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        out.push(entry.map_err(io)?.path());
    }
    out.sort();
    Ok(out)
}

/// Parses `<finger>_<impression>` from a file stem.
fn finger_and_impression(path: &Path) -> Option<(u32, u32)> {
    let stem = path.file_stem()?.to_str()?;
    let (f, i) = stem.split_once('_')?;
    Some((f.parse().ok()?, i.parse().ok()?))
}

/// Reads and parses one record file.
fn read_record(path: &Path) -> Result<MinutiaeRecord, FvcError> {
    let bytes = std::fs::read(path).map_err(|source| FvcError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes).map_err(|source| FvcError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// The capture resolution, in ppi, of an FVC2002 database's images, which their TIFFs do not
/// state: DB2's optical sensor is 569 ppi, the others (and the synthetic DB4) 500, as the
/// competition reports them.
pub fn fvc2002_ppi(database: &str) -> f32 {
    if database.starts_with("DB2") {
        569.0
    } else {
        500.0
    }
}

/// The files `<finger>_<impression>.<extension>` of a database folder (extension in any case),
/// sorted by finger, then impression; a file with that extension named otherwise is an error.
pub fn impression_files(dir: &Path, extension: &str) -> Result<Vec<(u32, u32, PathBuf)>, FvcError> {
    let mut files = Vec::new();
    for path in read_dir(dir)? {
        let matches = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(extension));
        if !(matches && path.is_file()) {
            continue;
        }
        let (finger, impression) =
            finger_and_impression(&path).ok_or_else(|| FvcError::BadName(path.clone()))?;
        files.push((finger, impression, path));
    }
    files.sort_by_key(|&(finger, impression, _)| (finger, impression));
    Ok(files)
}

/// Loads one database folder.
pub fn load_database(dir: &Path) -> Result<FvcDatabase, FvcError> {
    if !dir.is_dir() {
        return Err(FvcError::MissingFolder(dir.to_path_buf()));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut impressions = Vec::new();
    for (finger, impression, path) in impression_files(dir, "iso")? {
        impressions.push(FvcImpression {
            finger,
            impression,
            record: read_record(&path)?,
        });
    }
    Ok(FvcDatabase {
        synthetic: name.ends_with("-synthetic"),
        name,
        impressions,
    })
}

/// Image files sitting beside records in evaluation folders, never parsed as records.
const IMAGE_EXTENSIONS: [&str; 8] = ["tif", "tiff", "png", "bmp", "jpg", "jpeg", "wsq", "jp2"];

/// Splits `<subject>_<impression>` (the last `_` separates; the impression is a number).
fn subject_and_impression(path: &Path) -> Option<(String, u32)> {
    let stem = path.file_stem()?.to_str()?;
    let (subject, impression) = stem.rsplit_once('_')?;
    (!subject.is_empty()).then_some(())?;
    Some((subject.to_string(), impression.parse().ok()?))
}

/// Loads one folder of ISO 19794-2 / ANSI 378 records named `<subject>_<impression>.<ext>`,
/// whatever the extension (the format is read from the record's header). Images (`.tif`,
/// `.png`, `.wsq`, ...) and files not named that way are skipped; a named file that is not a
/// record is an error. Subjects keep their number when every subject name is a number, and
/// are otherwise numbered 1.. in name order.
pub fn load_folder(dir: &Path) -> Result<FvcDatabase, FvcError> {
    if !dir.is_dir() {
        return Err(FvcError::MissingFolder(dir.to_path_buf()));
    }
    let mut named = Vec::new();
    for path in read_dir(dir)?.into_iter().filter(|p| p.is_file()) {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            continue;
        }
        if let Some((subject, impression)) = subject_and_impression(&path) {
            named.push((subject, impression, path));
        }
    }
    if named.is_empty() {
        return Err(FvcError::NoDatabases(dir.to_path_buf()));
    }
    let numeric = named.iter().all(|(s, _, _)| s.parse::<u32>().is_ok());
    let mut names: Vec<&str> = named.iter().map(|(s, _, _)| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut impressions = Vec::new();
    for (subject, impression, path) in &named {
        let finger = match subject.parse::<u32>() {
            Ok(n) if numeric => n,
            _ => names.binary_search(&subject.as_str()).unwrap_or(0) as u32 + 1,
        };
        impressions.push(FvcImpression {
            finger,
            impression: *impression,
            record: read_record(path)?,
        });
    }
    impressions.sort_by_key(|i| (i.finger, i.impression));
    Ok(FvcDatabase {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        synthetic: false,
        impressions,
    })
}

/// Loads every sub-folder of `root` that holds `.iso` records, sorted by name.
pub fn load_root(root: &Path) -> Result<Vec<FvcDatabase>, FvcError> {
    if !root.is_dir() {
        return Err(FvcError::MissingFolder(root.to_path_buf()));
    }
    let mut dbs = Vec::new();
    for dir in read_dir(root)?.into_iter().filter(|p| p.is_dir()) {
        let db = load_database(&dir)?;
        if !db.impressions.is_empty() {
            dbs.push(db);
        }
    }
    if dbs.is_empty() {
        return Err(FvcError::NoDatabases(root.to_path_buf()));
    }
    Ok(dbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_finger_and_impression() {
        assert_eq!(
            finger_and_impression(Path::new("a/101_3.iso")),
            Some((101, 3))
        );
        assert_eq!(finger_and_impression(Path::new("a/x_3.iso")), None);
        assert_eq!(finger_and_impression(Path::new("a/1013.iso")), None);
    }

    #[test]
    fn a_folder_of_named_records_loads_with_any_extension() {
        use abis_matchers::finger::format::{Minutia, MinutiaKind, RecordFormat};
        let rec = |n: u16, format| {
            let minutiae = (0..n)
                .map(|k| Minutia {
                    x: 20 + 7 * k,
                    y: 30 + 5 * k,
                    angle: (k * 9) as u8,
                    kind: MinutiaKind::RidgeEnding,
                    quality: 50,
                })
                .collect();
            crate::fvc::test_record(format, minutiae)
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("bob_2.ansi"), rec(12, RecordFormat::Ansi378_2004)).unwrap();
        std::fs::write(d.join("bob_1.iso"), rec(10, RecordFormat::Iso19794_2_2005)).unwrap();
        std::fs::write(
            d.join("al_ice_1.min"),
            rec(11, RecordFormat::Iso19794_2_2005),
        )
        .unwrap();
        std::fs::write(d.join("bob_1.tif"), b"image").unwrap();
        std::fs::write(d.join("README"), b"notes").unwrap();
        let db = load_folder(d).unwrap();
        let got: Vec<(u32, u32, usize)> = db
            .impressions
            .iter()
            .map(|i| (i.finger, i.impression, i.record.views[0].minutiae.len()))
            .collect();
        // Names are not numbers: "al_ice" is subject 1, "bob" subject 2.
        assert_eq!(got, [(1, 1, 11), (2, 1, 10), (2, 2, 12)]);
        assert_eq!(db.impressions[2].record.format, RecordFormat::Ansi378_2004);
        std::fs::write(d.join("bob_3.bin"), b"junk").unwrap();
        let err = load_folder(d).unwrap_err();
        assert!(err.to_string().contains("bob_3.bin"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_folder(empty.path()),
            Err(FvcError::NoDatabases(_))
        ));
    }

    #[test]
    fn missing_and_empty_folders_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            load_root(&missing),
            Err(FvcError::MissingFolder(_))
        ));
        assert!(matches!(
            load_root(dir.path()),
            Err(FvcError::NoDatabases(_))
        ));
        let db = dir.path().join("DB9_B-synthetic");
        std::fs::create_dir(&db).unwrap();
        std::fs::write(db.join("101_1.iso"), b"not a record").unwrap();
        let err = load_root(dir.path()).unwrap_err();
        assert!(matches!(err, FvcError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("101_1.iso"), "{err}");
        std::fs::write(db.join("101_1.iso"), b"").unwrap();
        std::fs::rename(db.join("101_1.iso"), db.join("first.iso")).unwrap();
        assert!(matches!(load_root(dir.path()), Err(FvcError::BadName(_))));
    }
}
