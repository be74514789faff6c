//! `abis mosip decrypt` and `abis extract` as an operator runs them on MOSIP's test vector and
//! on FVC2002 images: templates the matcher reads, overlays, typed refusals of bad input.

use abis_matchers::finger::format;
use std::path::PathBuf;
use std::process::Command;

fn abis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_abis"));
    c.env("ABIS_LOG", "error");
    c
}

/// `../shared/data/<rel>`; `None` outside CI when missing, a failure under CI.
fn shared(rel: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

#[test]
fn the_test_vectors_fingers_become_templates_with_overlays() {
    let Some(mosip) = shared("mosip") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let xml = tmp.path().join("cbeff.xml");
    let out = abis()
        .args(["mosip", "decrypt"])
        .arg(mosip.join("encrypted-datashare.txt"))
        .arg("--key-store")
        .arg(mosip.join("cbeff.p12"))
        .args(["--password", "password", "--alias", "cbeff", "--out"])
        .arg(&xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("13 samples"));

    let out = abis()
        .arg("extract")
        .arg(&xml)
        .arg("--out")
        .arg(tmp.path().join("finger.iso"))
        .arg("--overlay")
        .arg(tmp.path().join("finger.png"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for position in 1..=10 {
        let iso = std::fs::read(tmp.path().join(format!("finger-{position}.iso"))).unwrap();
        let record = format::parse(&iso).unwrap();
        let view = &record.views[0];
        assert_eq!(view.position, position);
        // The left middle finger is a 98 x 168 fragment; every other finger is a full print.
        let floor = if position == 8 { 1 } else { 30 };
        assert!(
            view.minutiae.len() >= floor,
            "finger {position}: {}",
            view.minutiae.len()
        );
        let png = std::fs::read(tmp.path().join(format!("finger-{position}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}

#[test]
fn an_fvc_image_needs_its_resolution_and_bad_records_exit_2() {
    let Some(image) = shared("fvc2002/DB2_B/101_1.tif") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("t.iso");
    let run = |args: &[&str], input: &std::path::Path| {
        abis()
            .arg("extract")
            .arg(input)
            .arg("--out")
            .arg(&iso)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[], &image);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no resolution"));
    let out = run(&["--ppi", "569"], &image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 296 x 560 at 569 ppi is 260 x 492 at 500 ppi: the template is on that grid.
    let record = format::parse(&std::fs::read(&iso).unwrap()).unwrap();
    assert_eq!((record.width, record.height), (260, 492));

    let truncated = tmp.path().join("truncated.iso");
    let mut bytes = b"FIR\x00020\x00\x00\x00\x01\x00\x00\x01\x01\x01".to_vec();
    bytes.extend_from_slice(&[0; 10]);
    std::fs::write(&truncated, &bytes).unwrap();
    let out = run(&[], &truncated);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}
