//! What several of the CLI's test files need: the binary, the shared data, the model, and FVC
//! images wrapped as a capture device sends them. Each test file uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `abis` binary, logging errors only.
pub fn abis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_abis"));
    c.env("ABIS_LOG", "error");
    c
}

/// `../shared/data/<rel>`; `None` outside CI when missing, a failure under CI.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing under CI",
        path.display()
    );
    eprintln!("SKIP: {} not found", path.display());
    None
}

/// Whether LEADER is installed (`scripts/fetch-models.sh`); under CI it must be.
pub fn model_installed() -> bool {
    let present = abis_extract::default_leader_path().is_some_and(|p| p.exists());
    assert!(
        present || std::env::var_os("CI").is_none(),
        "LEADER.onnx is missing under CI: run scripts/fetch-models.sh"
    );
    if !present {
        eprintln!("SKIP: LEADER.onnx not installed (scripts/fetch-models.sh)");
    }
    present
}

/// FVC2002 DB1 image `<subject>_<impression>.tif` as an uncompressed ISO/IEC 19794-4:2005
/// record of finger `position` at 500 ppi (the database's resolution, which its TIFFs do not
/// state).
pub fn fvc_record(db1: &Path, subject: u32, impression: u32, position: u8) -> Vec<u8> {
    let tiff = std::fs::read(db1.join(format!("{subject}_{impression}.tif"))).unwrap();
    let mut image = abis_imaging::decode(&tiff).unwrap();
    image.resolution = Some(abis_imaging::Resolution::square(500.0));
    abis_imaging::finger_record::write_raw_2005(&image, position).unwrap()
}
