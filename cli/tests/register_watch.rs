//! `abis register --watch`: the registration service. Applicant folders dropped into an inbox
//! are registered on the embedded gallery as they appear: a new person gets a UIN, a second
//! capture of that person under another packet becomes a duplicate with a case; SIGTERM stops
//! the service cleanly.

use abis_datasets::population::Population;
use abis_engine::ReferenceId;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn write(inbox: &Path, record: &abis_engine::Record) {
    let layout = abis_engine::GalleryConfig::default().iris_layout;
    let wire = abis_proto::record_to_proto(record, &layout);
    // Written aside, then moved in: the service never sees half a folder.
    let staging = inbox.with_extension("staging").join(&wire.reference_id);
    abis_registration::write_applicant(&staging, &wire).unwrap();
    std::fs::rename(&staging, inbox.join(&wire.reference_id)).unwrap();
}

/// Waits for a line of `rx` starting with `packet`, for up to a minute.
fn line_for(rx: &mpsc::Receiver<String>, packet: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no outcome for {packet}"));
        if line.starts_with(packet) {
            return line;
        }
    }
}

#[test]
fn the_registration_service_settles_folders_as_they_arrive() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(inbox.with_extension("staging")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_abis"))
        .args([
            "register",
            "--create-gallery",
            "--poll-ms",
            "100",
            "--watch",
        ])
        .arg(&inbox)
        .arg("--data-dir")
        .arg(tmp.path().join("gallery"))
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let pop = Population::new(5);
    write(
        &inbox,
        &pop.capture(3, 0, ReferenceId::new("packet-a").unwrap()),
    );
    let a = line_for(&rx, "packet-a");
    assert!(a.contains(" unique ") && a.contains("UIN issued"), "{a}");
    write(
        &inbox,
        &pop.capture(3, 1, ReferenceId::new("packet-b").unwrap()),
    );
    let b = line_for(&rx, "packet-b");
    assert!(b.contains(" duplicate ") && b.contains("packet-a"), "{b}");
    assert!(b.contains("case packet-b#"), "{b}");

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(child.wait().unwrap().success());
}
