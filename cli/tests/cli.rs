//! The `abis` binary as a user runs it: crash safety of bulk enrolment, the demo, clear errors.

mod common;

use abis_datasets::population::{Population, PopulationReader};
use abis_engine::{Engine, EngineOptions, IdentifyRequest, ReferenceId};
use common::{abis, succeeds};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// SIGKILL during bulk enrolment: every acknowledged record is present and searchable after
/// reopening, and nothing half-written is visible.
#[test]
fn sigkill_during_enrolment_loses_no_acknowledged_record() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pop.bin");
    let data = tmp.path().join("gallery");
    let status = abis()
        .args(["generate", "--people", "6000", "--seed", "21", "--out"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());

    let mut child = abis()
        .args(["enroll", "--batch", "100", "--ack-lines", "--data-dir"])
        .arg(&data)
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0u64;
    // Let a good part of the enrolment commit, then kill mid-stream.
    while let Some(Ok(line)) = lines.next() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts[0], "committed", "{line}");
        acked = parts[1].parse().unwrap();
        if acked >= 2500 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        acked >= 2500,
        "enrolment finished or failed before the kill: {acked}"
    );

    let engine = Engine::open(&data, EngineOptions::default()).unwrap();
    let stored = engine.len();
    assert!(stored >= acked, "{stored} stored < {acked} acknowledged");
    assert_eq!(
        stored % 100,
        0,
        "batches are atomic: {stored} is not a whole number of batches"
    );
    let records: Vec<_> = PopulationReader::open(&file)
        .unwrap()
        .take(stored as usize)
        .collect();
    for (i, r) in records.into_iter().enumerate() {
        let r = r.unwrap();
        let got = engine
            .get(&r.reference_id)
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
        let mut want = r.clone();
        want.validate_and_normalise(&engine.shape()).unwrap();
        assert_eq!(got, want, "record {i}");
    }
    // Every segment holds exactly one row per stored template, and search covers them all.
    let stats = engine.stats();
    let pop = Population::new(21);
    for p in (0..acked).step_by(97) {
        let probe = pop.capture(p, 3, ReferenceId::new(format!("probe-{p}")).unwrap());
        let result = engine
            .identify(&probe, &IdentifyRequest::default())
            .unwrap();
        assert_eq!(result.records_searched, stored);
        assert_eq!(
            result.candidates.first().map(|c| c.reference_id.clone()),
            Some(pop.reference_id(p)),
            "acknowledged person {p} not found; segments {:?}",
            stats.segments
        );
    }
}

#[test]
fn demo_runs_end_to_end_on_a_small_population() {
    let tmp = tempfile::tempdir().unwrap();
    let out = succeeds(
        abis()
            .args([
                "demo",
                "--people",
                "2000",
                "--duplicates",
                "50",
                "--new-people",
                "50",
                "--json",
                "--data-dir",
            ])
            .arg(tmp.path().join("demo")),
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The applicants are enrolled too (MOSIP's de-dup inserts, then identifies).
    assert_eq!(s["gallery_records"], 2100);
    assert_eq!(s["planted_duplicates"], 50);
    assert_eq!(s["duplicates_found"], 50, "{s}");
    assert_eq!(s["new_people_flagged"], 0, "{s}");
    assert_eq!(s["false_candidates"], 0, "{s}");
    // Unique applicants got UINs; every duplicate waits for a human; nothing is unsettled.
    assert_eq!(s["uins_issued"], 50, "{s}");
    assert_eq!(s["cases_opened"], 50, "{s}");
    assert_eq!(s["unsettled"], 0, "{s}");
    assert_eq!(s["uins_in_register"], 2050, "{s}");
    // The queue the table points at lists those cases.
    let listed = abis()
        .args(["adjudicate", "list", "--json", "--state-dir"])
        .arg(tmp.path().join("demo").join("clients"))
        .output()
        .unwrap();
    assert!(listed.status.success());
    let cases: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(cases.as_array().map(Vec::len), Some(50));
}

#[test]
fn bad_data_dir_and_unknown_reference_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let not_dir = tmp.path().join("plain-file");
    std::fs::write(&not_dir, b"hello").unwrap();
    let out = abis()
        .args(["stats", "--data-dir"])
        .arg(&not_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = abis()
        .args([
            "demo",
            "--people",
            "10",
            "--duplicates",
            "2",
            "--new-people",
            "2",
            "--data-dir",
        ])
        .arg(&not_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory"), "{err}");

    let file = tmp.path().join("p.bin");
    assert!(abis()
        .args(["generate", "--people", "3", "--out"])
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let data = tmp.path().join("g");
    assert!(abis()
        .args(["enroll", "--data-dir"])
        .arg(&data)
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let out = abis()
        .args(["verify", "--reference", "nobody", "--data-dir"])
        .arg(&data)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    // The probe is record 0 = person-0 itself: a match.
    let out = abis()
        .args(["verify", "--reference", "person-0", "--data-dir"])
        .arg(&data)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let garbage = tmp.path().join("garbage.bin");
    std::fs::write(&garbage, b"ABISPOP\0\x01\0\0\0\xff\xff\xff\x7f").unwrap();
    let out = abis()
        .args(["enroll", "--data-dir"])
        .arg(&data)
        .arg(&garbage)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("population record 0"));
}

/// No fail-open on a typo (finding 6), hostile population files (finding 10) and exit codes
/// as the README states them (finding 11): a bad request exits 2, leaves nothing behind and
/// changes nothing.
#[test]
fn typos_and_hostile_files_are_bad_requests_that_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.bin");
    assert!(abis()
        .args(["generate", "--people", "5", "--out"])
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let data = tmp.path().join("gallery");
    assert!(abis()
        .args(["enroll", "--data-dir"])
        .arg(&data)
        .arg(&file)
        .status()
        .unwrap()
        .success());

    // A mistyped gallery: identify, verify, stats and register refuse it, create nothing.
    let typo = tmp.path().join("galery");
    for args in [
        vec!["identify", file.to_str().unwrap()],
        vec!["verify", "--reference", "person-0", file.to_str().unwrap()],
        vec!["stats"],
    ] {
        let out = abis()
            .args(&args)
            .arg("--data-dir")
            .arg(&typo)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("holds no abis gallery"),
            "{args:?}: {out:?}"
        );
        assert!(!typo.exists(), "{args:?} created a gallery");
    }
    let folder = tmp.path().join("applicant");
    let pop = Population::new(0);
    let record = abis_proto::record_to_proto(
        &pop.capture(1, 1, ReferenceId::new("packet-1").unwrap()),
        &abis_engine::GalleryConfig::default().iris_layout,
    );
    abis_registration::write_applicant(&folder, &record).unwrap();
    let out = abis()
        .arg("register")
        .arg(&folder)
        .arg("--data-dir")
        .arg(&typo)
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!typo.exists());

    // Files and arguments the caller got wrong: exit 2, not 1.
    let missing = tmp.path().join("missing.bin");
    for args in [
        vec!["identify".to_owned(), missing.display().to_string()],
        vec!["enroll".to_owned(), missing.display().to_string()],
        vec![
            "enroll".to_owned(),
            "--batch".into(),
            "0".into(),
            file.display().to_string(),
        ],
        vec![
            "uin".to_owned(),
            "validate".into(),
            "2345678901".into(),
            "--uin-rules".into(),
            missing.display().to_string(),
        ],
        vec![
            "audit".to_owned(),
            "verify".into(),
            missing.display().to_string(),
        ],
    ] {
        let out = abis()
            .args(&args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }

    // Population records with ids the API refuses, or a minutia off any canvas: refused as
    // read, nothing enrolled.
    let stats = || {
        let out = abis()
            .args(["stats", "--json", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["records"].as_u64().unwrap()
    };
    let before = stats();
    // A hand-made file can hold any id: the record's stored form is a 2-byte header, the
    // postcard body (the id first: a length byte and its bytes) and a CRC-32.
    let with_id = |id: &str| {
        let r = pop.enrolment(100);
        let good = abis_engine::storage::codec::encode(&r);
        let old = r.reference_id.as_str().len();
        let body = &good[2..good.len() - 4];
        let mut out = good[..2].to_vec();
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&body[1 + old..]);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    };
    let mut far = pop.enrolment(101);
    far.fingers.push(abis_engine::FingerTemplate {
        position: 4,
        minutiae: (0..15)
            .map(|i| abis_engine::Minutia {
                x: if i == 3 { 20_000 } else { 100 + i * 9 },
                y: 200,
                angle: 7,
                kind: abis_engine::MinutiaKind::RidgeEnding,
                quality: 50,
            })
            .collect(),
    });
    for (what, bytes) in [
        ("empty id", with_id("")),
        ("65-byte id", with_id(&"x".repeat(65))),
        ("control character", with_id("a\u{7}b")),
        (
            "minutia at x=20000",
            abis_engine::storage::codec::encode(&far),
        ),
    ] {
        let path = tmp.path().join("hostile.bin");
        let mut file_bytes = b"ABISPOP\0\x01\0\0\0".to_vec();
        file_bytes.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        file_bytes.extend_from_slice(&bytes);
        std::fs::write(&path, file_bytes).unwrap();
        let out = abis()
            .args(["enroll", "--data-dir"])
            .arg(&data)
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        assert_eq!(stats(), before, "{what}: nothing enrolled");
    }
}

/// Templates at rest from the command line: `--key-file` seals what `enroll` stores; without
/// the key the gallery is refused (exit 2); after a rotation `abis rekey` moves every record to
/// the new key and the old one can be dropped.
#[test]
fn key_files_seal_the_gallery_and_rekey_rotates() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.bin");
    assert!(abis()
        .args(["generate", "--people", "40", "--out"])
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let data = tmp.path().join("gallery");
    let key = |id: u32, b: u8| format!("{id} {}\n", format!("{b:02x}").repeat(32));
    let old = tmp.path().join("old.keys");
    let rotated = tmp.path().join("rotated.keys");
    let new = tmp.path().join("new.keys");
    std::fs::write(&old, key(1, 0x31)).unwrap();
    std::fs::write(&rotated, key(2, 0x32) + &key(1, 0x31)).unwrap();
    std::fs::write(&new, key(2, 0x32)).unwrap();
    let run = |args: &[&str], keys: Option<&std::path::Path>| {
        let mut c = abis();
        c.args(args).arg("--data-dir").arg(&data);
        if let Some(k) = keys {
            c.arg("--key-file").arg(k);
        }
        c.output().unwrap()
    };
    let f = file.to_str().unwrap();
    assert!(run(&["enroll", f], Some(&old)).status.success());
    let out = run(&["identify", f], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sealed"));
    assert!(run(&["identify", f], Some(&old)).status.success());
    let out = run(&["rekey"], Some(&rotated));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("40 records sealed under key 2"));
    assert!(run(&["identify", f], Some(&new)).status.success());
    assert!(!run(&["identify", f], Some(&old)).status.success());
}
