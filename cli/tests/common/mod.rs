//! What several of the CLI's test files need: the binary, the shared data, the model, and FVC
//! images wrapped as a capture device sends them. Each test file uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The `abis` binary, logging errors only.
pub fn abis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_abis"));
    c.env("ABIS_LOG", "error");
    c
}

/// Runs `command`, asserting it exits 0 (the failure shows its stderr); its output.
pub fn succeeds(command: &mut Command) -> std::process::Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `../shared/data/<rel>` ([`abis_test_data::shared_data`]).
pub fn shared(rel: &str) -> Option<std::path::PathBuf> {
    abis_test_data::shared_data(rel)
}

/// Whether LEADER is installed (`scripts/fetch-models.sh`); under CI it must be.
pub fn model_installed() -> bool {
    let path = abis_extract::default_leader_path().unwrap_or_default();
    abis_test_data::required(path, "run scripts/fetch-models.sh").is_some()
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
