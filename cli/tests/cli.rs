//! The `abis` binary as a user runs it: crash safety of bulk enrolment, the demo, clear errors.

use abis_datasets::population::{Population, PopulationReader};
use abis_engine::{Engine, EngineOptions, IdentifyRequest, ReferenceId};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn abis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_abis"));
    c.env("ABIS_LOG", "error");
    c
}

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
    let out = abis()
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
        .arg(tmp.path().join("demo"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
