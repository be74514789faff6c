//! Registration -> de-dup -> issuance against a real coordinator with shard nodes, through the
//! `abis` command a registration office would run, with a shard node killed between two
//! registration runs: no applicant receives a UIN while its de-dup was incomplete, every UIN
//! is valid and issued once, and the human decisions on suspected duplicates link or issue.

use crate::harness::*;
use abis_issuance::UinRules;
use abis_proto::v1;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "registration-office";

/// New people registered in run 1 and run 2, and the base gallery's size.
const BASE: u64 = 2_000;
const NEW_1: std::ops::Range<u64> = 10_000..10_060;
const NEW_2: std::ops::Range<u64> = 10_060..10_120;

/// Writes each record as an applicant folder; returns the folders.
fn applicant_folders(root: &Path, records: &[v1::Record]) -> Vec<PathBuf> {
    records
        .iter()
        .map(|r| {
            let dir = root.join(&r.reference_id);
            abis_registration::write_applicant(&dir, r).expect("write applicant");
            dir
        })
        .collect()
}

struct Office {
    state: PathBuf,
    token_file: PathBuf,
    coordinator: SocketAddr,
}

impl Office {
    fn abis(&self) -> Command {
        let mut c = Command::new(workspace_bin("abis-cli", "abis"));
        c.arg("--threads").arg("1");
        c
    }

    /// `abis register` over `folders`; the exit code and the JSON rows by packet id.
    fn register(&self, folders: &[PathBuf]) -> (i32, BTreeMap<String, Value>) {
        let out = self
            .abis()
            .args([
                "register",
                "--json",
                "--attempts",
                "2",
                "--backoff-ms",
                "50",
            ])
            .args(["--batch-size", "20", "--coordinator"])
            .arg(format!("http://{}", self.coordinator))
            .arg("--token-file")
            .arg(&self.token_file)
            .arg("--state-dir")
            .arg(&self.state)
            .args(folders)
            .output()
            .expect("run abis register");
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "abis register printed no JSON ({e}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let rows = rows
            .into_iter()
            .map(|r| (r["packet_id"].as_str().unwrap().to_owned(), r))
            .collect();
        (out.status.code().unwrap_or(-1), rows)
    }

    fn adjudicate(&self, args: &[&str]) -> String {
        let out = self
            .abis()
            .arg("adjudicate")
            .args(args)
            .arg("--state-dir")
            .arg(&self.state)
            .output()
            .expect("run abis adjudicate");
        assert!(
            out.status.success(),
            "abis adjudicate {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn verdict(row: &Value) -> &str {
    row["verdict"].as_str().unwrap()
}

fn uin(row: &Value) -> Option<String> {
    row["uin"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_issues_uins_only_after_complete_searches() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<NodeSpec> = (1..=3)
        .map(|i| NodeSpec::new(dir.path(), &format!("s{i}"), &format!("127.0.8.{i}")))
        .collect();
    let mut nodes: Vec<Option<Proc>> = specs.iter().map(|s| Some(s.start(&[]))).collect();
    let token_file = dir.path().join("tokens");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let mut args: Vec<String> = specs.iter().flat_map(|s| s.flag()).collect();
    args.extend(["--insecure-plaintext", "--replication", "1", "--token-file"].map(String::from));
    args.push(token_file.display().to_string());
    args.extend(["--job-attempts", "1", "--job-retry-ms", "50"].map(String::from));
    let coord = coordinator("127.0.8.10", &dir.path().join("coord"), &args);
    let mut c = client(coord.addr, TOKEN).await;
    insert_all(&mut c, records(0..BASE)).await;
    let office = Office {
        state: dir.path().join("office"),
        token_file,
        coordinator: coord.addr,
    };

    // Run 1: new people and duplicates of people already in the gallery.
    let mut run1 = records(NEW_1);
    run1.extend((0..6).map(|k| duplicate(k * 301, &format!("again-{k}"))));
    let folders1 = applicant_folders(&dir.path().join("run1"), &run1);
    let (code, rows1) = office.register(&folders1);
    assert_eq!(code, 0, "{rows1:?}");
    for r in &run1 {
        let row = &rows1[&r.reference_id];
        if r.reference_id.starts_with("again-") {
            assert_eq!(verdict(row), "duplicate", "{row}");
            assert!(uin(row).is_none() && row["case_id"].is_string(), "{row}");
        } else {
            assert_eq!(verdict(row), "unique", "{row}");
            assert!(uin(row).is_some(), "{row}");
        }
    }

    // Run 2 with a shard node dead (R = 1: part of the gallery cannot be searched): nothing
    // is settled and no UIN is issued.
    let mut run2 = records(NEW_2);
    run2.extend((0..6).map(|k| duplicate(NEW_1.start + k * 7, &format!("twice-{k}"))));
    let folders2 = applicant_folders(&dir.path().join("run2"), &run2);
    nodes[1].take().unwrap().kill();
    let (code, rows2) = office.register(&folders2);
    assert_eq!(code, 3, "unsettled applicants make exit status 3");
    for row in rows2.values() {
        assert_eq!(verdict(row), "failed", "{row}");
        assert!(
            uin(row).is_none(),
            "a UIN after an incomplete search: {row}"
        );
    }

    // The node is back (read again once the coordinator has verified it): the same folders
    // settle.
    nodes[1] = Some(specs[1].start(&[]));
    wait_complete(&mut c).await;
    let (code, rows2) = office.register(&folders2);
    assert_eq!(code, 0, "{rows2:?}");
    for r in &run2 {
        let row = &rows2[&r.reference_id];
        let expected = if r.reference_id.starts_with("twice-") {
            "duplicate"
        } else {
            "unique"
        };
        assert_eq!(verdict(row), expected, "{row}");
        assert_eq!(uin(row).is_some(), expected == "unique", "{row}");
    }

    // A human settles two cases: a re-registration of a run-1 person is linked to that
    // person's UIN; a look-alike of a gallery person is declared a different person.
    let first = records(NEW_1.start..NEW_1.start + 1).remove(0).reference_id;
    let twice_case = rows2["twice-0"]["case_id"].as_str().unwrap().to_owned();
    let listed = office.adjudicate(&["list"]);
    assert!(
        listed.contains(&twice_case) && listed.contains(&first),
        "{listed}"
    );
    let linked = office.adjudicate(&["decide", &twice_case, "--same-person", &first]);
    let first_uin = uin(&rows1[&first]).unwrap();
    assert!(
        linked.contains(&first_uin),
        "linked to {first_uin}: {linked}"
    );
    let again_case = rows1["again-0"]["case_id"].as_str().unwrap().to_owned();
    let issued = office.adjudicate(&["decide", &again_case, "--different-people"]);
    let new_uin = issued
        .split_whitespace()
        .last()
        .expect("decide prints the UIN")
        .to_owned();
    assert!(!office.adjudicate(&["list"]).contains(&again_case));

    // Every UIN is valid and belongs to one person only.
    let mut uins: Vec<String> = rows1
        .values()
        .chain(rows2.values())
        .filter_map(uin)
        .collect();
    uins.push(new_uin);
    let unique: BTreeSet<&String> = uins.iter().collect();
    assert_eq!(unique.len(), uins.len(), "a UIN issued twice");
    assert_eq!(uins.len(), (NEW_1.end - NEW_1.start) as usize * 2 + 1);
    let rules = UinRules::default();
    for u in &uins {
        rules.validate(u).unwrap_or_else(|v| panic!("{u}: {v}"));
    }
}
