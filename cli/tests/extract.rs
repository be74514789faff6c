//! `abis mosip decrypt` and `abis extract` as an operator runs them on MOSIP's test vector and
//! on FVC2002 images: templates the matcher reads, overlays, typed refusals of bad input.

mod common;

use abis_matchers::finger::format;
use common::{abis, shared, succeeds};
use std::path::PathBuf;

#[test]
fn the_test_vectors_fingers_become_templates_with_overlays() {
    let Some(mosip) = shared("mosip") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let xml = tmp.path().join("cbeff.xml");
    let out = succeeds(
        abis()
            .args(["mosip", "decrypt"])
            .arg(mosip.join("encrypted-datashare.txt"))
            .arg("--key-store")
            .arg(mosip.join("cbeff.p12"))
            .args(["--password", "password", "--alias", "cbeff", "--out"])
            .arg(&xml),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("13 samples"));

    succeeds(
        abis()
            .arg("extract")
            .arg(&xml)
            .arg("--out")
            .arg(tmp.path().join("finger.iso"))
            .arg("--overlay")
            .arg(tmp.path().join("finger.png")),
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
    let extract = |args: &[&str], input: &std::path::Path| {
        let mut c = abis();
        c.arg("extract")
            .arg(input)
            .arg("--out")
            .arg(&iso)
            .args(args);
        c
    };
    let run = |args: &[&str], input: &std::path::Path| extract(args, input).output().unwrap();
    let out = run(&[], &image);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no resolution"));
    succeeds(&mut extract(&["--ppi", "569"], &image));
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

/// An applicant folder `<name>` in `root` whose finger 2 is `image` (a finger image file).
fn image_applicant(root: &std::path::Path, name: &str, image: &[u8]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("finger-2.fir"), image).unwrap();
    let manifest = serde_json::json!({
        "packet_id": name,
        "fingers": [{"position": 2, "file": "finger-2.fir"}],
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    dir
}

#[test]
fn enroll_identify_verify_and_register_read_applicant_folders_of_finger_images() {
    let Some(db1) = shared("fvc2002/DB1_B") else {
        return;
    };
    if !common::model_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let folder = |name: &str, subject, impression| {
        let image = common::fvc_record(&db1, subject, impression, 2);
        image_applicant(tmp.path(), name, &image)
    };
    let gallery = tmp.path().join("gallery");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = abis()
            .args(args)
            .arg("--data-dir")
            .arg(&gallery)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.code(),
            text,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let os = |p: &PathBuf| p.as_os_str().to_owned();

    let enrolled: Vec<_> = (101..=103)
        .map(|s| folder(&format!("a{s}"), s, 1))
        .collect();
    let mut args = vec![std::ffi::OsString::from("enroll")];
    args.extend(enrolled.iter().map(os));
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("enrolled 3 new"), "{out}");

    let probe = folder("probe", 102, 2);
    let (code, out, err) = run(&["identify".as_ref(), "--json".as_ref(), probe.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        line["result"]["candidates"][0]["reference_id"], "a102",
        "{line}"
    );

    let again = folder("again", 103, 3);
    let verify = |reference: &str| {
        run(&[
            "verify".as_ref(),
            again.as_os_str(),
            "--reference".as_ref(),
            reference.as_ref(),
        ])
        .0
    };
    assert_eq!(verify("a103"), Some(0), "the same finger matches");
    assert_eq!(verify("a101"), Some(3), "another finger does not");

    // A bad image: exit 2 naming the applicant and the reason; nothing enrolled.
    let bad = image_applicant(tmp.path(), "bad", b"FIR\x00010\x00 truncated");
    let (code, _, err) = run(&["enroll".as_ref(), bad.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("finger 2: bad image"), "{err}");
    let (_, out, _) = run(&["stats".as_ref(), "--json".as_ref()]);
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["records"], 3, "{stats}");

    // The registration client on the embedded gallery: a new person is unique, another
    // impression of an enrolled finger a duplicate.
    let new = folder("new-104", 104, 1);
    let dup = folder("dup-101", 101, 4);
    let state = tmp.path().join("state");
    let (code, out, err) = run(&[
        "register".as_ref(),
        new.as_os_str(),
        dup.as_os_str(),
        "--state-dir".as_ref(),
        state.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let verdict = |i: usize| rows[i]["verdict"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        (verdict(0), verdict(1)),
        ("unique".into(), "duplicate".into()),
        "{rows}"
    );
}
