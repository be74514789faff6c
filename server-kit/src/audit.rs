//! The audit log: an append-only file recording every call that touches a person (who called,
//! what they did, to which reference ids, and how it ended), hash-chained so that changing,
//! removing or reordering any entry is detected ([`verify`]).
//!
//! One JSON object per line:
//!
//! ```text
//! {"seq":1,"time_ms":1796633600123,"caller":"registration","op":"Insert","ids":["a","b"],
//!  "outcome":"OK","detail":"2 inserted","prev":"00…00","hash":"5f…9c"}
//! ```
//!
//! `hash` is the SHA-256 (hex) of `prev`'s 32 bytes followed by the line's JSON without its
//! `hash` field (the fields in the order above); `prev` is the previous entry's hash (zeros for
//! the first). `seq` counts from 1 without gaps.
//!
//! [`AuditLog::record`] returns once the entry is on disk (written and fsynced): entries from
//! concurrent calls are written by one thread and fsynced together (group commit), so a call
//! is answered only after it is in the log. At open the chain's tail is read to continue it; a
//! last line cut short by a crash (never acknowledged) is removed, anything else that does not
//! verify stops the server rather than being appended to.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// One entry before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Who called (a token's or certificate's name).
    pub caller: String,
    /// The operation (the RPC method).
    pub op: String,
    /// The reference ids (and job ids) concerned.
    pub ids: Vec<String>,
    /// `OK` or the gRPC code of the refusal.
    pub outcome: String,
    /// Details of the outcome (candidates found, the error message).
    pub detail: String,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Who called.
    pub caller: String,
    /// The operation.
    pub op: String,
    /// The reference ids concerned.
    pub ids: Vec<String>,
    /// How it ended.
    pub outcome: String,
    /// Details.
    pub detail: String,
    /// The previous entry's hash (hex).
    pub prev: String,
    /// This entry's hash (hex).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl Entry {
    /// The hash this entry must carry.
    fn digest(&self) -> anyhow::Result<String> {
        let mut unhashed = self.clone();
        unhashed.hash.clear();
        let body = serde_json::to_vec(&unhashed)?;
        let prev = unhex(&self.prev)
            .filter(|p| p.len() == 32)
            .context("prev is not a SHA-256 in hex")?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&prev);
        ctx.update(&body);
        Ok(hex(ctx.finish().as_ref()))
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The last entry's hash (zeros for an empty log).
    pub head: String,
}

/// Checks a whole log: every line parses, `seq` counts from 1, each `prev` is the previous
/// hash and each hash is right. The error names the first line that fails.
pub fn verify(path: &Path) -> anyhow::Result<Verified> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open audit log {}", path.display()))?;
    let mut head = ZERO.to_owned();
    let mut entries = 0u64;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("line {}: unreadable", n + 1))?;
        let entry: Entry =
            serde_json::from_str(&line).with_context(|| format!("line {}: not an entry", n + 1))?;
        if entry.seq != entries + 1 {
            bail!(
                "line {}: seq {} where {} was due",
                n + 1,
                entry.seq,
                entries + 1
            );
        }
        if entry.prev != head {
            bail!(
                "line {}: its prev does not match the hash of the line before",
                n + 1
            );
        }
        if entry.digest()? != entry.hash {
            bail!("line {}: its hash does not match its content", n + 1);
        }
        head = entry.hash;
        entries += 1;
    }
    Ok(Verified { entries, head })
}

type Job = (Event, oneshot::Sender<anyhow::Result<()>>);

/// A log being written.
#[derive(Clone)]
pub struct AuditLog {
    jobs: mpsc::Sender<Job>,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, continuing its chain (see the module doc).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open audit log {}", path.display()))?;
        let (seq, head) = tail(path, &mut file)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let path: PathBuf = path.to_owned();
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || writer(file, path, seq, head, rx))
            .context("cannot start the audit log writer")?;
        Ok(Self { jobs })
    }

    /// Appends `event`; returns once it is on disk.
    pub async fn record(&self, event: Event) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((event, tx))
            .map_err(|_| anyhow::anyhow!("the audit log writer has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the audit log writer has stopped"))?
    }
}

/// The last entry's seq and hash, after removing a torn last line.
fn tail(path: &Path, file: &mut std::fs::File) -> anyhow::Result<(u64, String)> {
    let text = std::fs::read(path)?;
    if text.is_empty() {
        return Ok((0, ZERO.to_owned()));
    }
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if complete < text.len() {
        tracing::warn!(
            bytes = text.len() - complete,
            "the audit log's last line was cut short (a crash before it was acknowledged): removed"
        );
        file.set_len(complete as u64)?;
        file.sync_all()?;
        file.seek(std::io::SeekFrom::End(0))?;
    }
    let Some(last) = text[..complete]
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
    else {
        return Ok((0, ZERO.to_owned()));
    };
    let entry: Entry = serde_json::from_slice(last).context("the audit log's last entry")?;
    if entry.digest()? != entry.hash {
        bail!(
            "the audit log's last entry does not verify: check {} with `abis audit verify`",
            path.display()
        );
    }
    Ok((entry.seq, entry.hash))
}

fn writer(
    mut file: std::fs::File,
    path: PathBuf,
    mut seq: u64,
    mut head: String,
    jobs: mpsc::Receiver<Job>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while let Ok(more) = jobs.try_recv() {
            batch.push(more);
        }
        let mut lines = Vec::new();
        let (start_seq, start_head) = (seq, head.clone());
        let mut built = Ok(());
        for (event, _) in &batch {
            let time_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let mut entry = Entry {
                seq: seq + 1,
                time_ms,
                caller: event.caller.clone(),
                op: event.op.clone(),
                ids: event.ids.clone(),
                outcome: event.outcome.clone(),
                detail: event.detail.clone(),
                prev: head.clone(),
                hash: String::new(),
            };
            match entry.digest().and_then(|h| {
                entry.hash = h;
                Ok(serde_json::to_vec(&entry)?)
            }) {
                Ok(line) => {
                    lines.extend(line);
                    lines.push(b'\n');
                    seq = entry.seq;
                    head = entry.hash;
                }
                Err(e) => {
                    built = Err(e);
                    break;
                }
            }
        }
        let outcome = built.and_then(|()| {
            file.write_all(&lines)?;
            file.sync_data()?;
            Ok(())
        });
        if let Err(e) = &outcome {
            tracing::error!(log = %path.display(), "audit log write failed: {e:#}");
            (seq, head) = (start_seq, start_head);
        }
        for (_, done) in batch {
            let _ = done.send(match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(anyhow::anyhow!("audit log write failed: {e:#}")),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> Event {
        Event {
            caller: "reg".into(),
            op: "Insert".into(),
            ids: vec![format!("p{i}")],
            outcome: "OK".into(),
            detail: String::new(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_chain_continues_across_opens_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        {
            let log = AuditLog::open(&path).unwrap();
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let log = log.clone();
                    tokio::spawn(async move { log.record(event(i)).await })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        }
        // A torn last line (a crash mid-write) is removed at the next open.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"seq\":21,\"ti");
        std::fs::write(&path, &bytes).unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.record(event(99)).await.unwrap();
        let v = verify(&path).unwrap();
        assert_eq!(v.entries, 21);

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Changing an id, removing a line or swapping two lines is found.
        let changed = text.replacen("\"p3\"", "\"p4\"", 1);
        let removed: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 5)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let mut swapped = lines.clone();
        swapped.swap(7, 8);
        let swapped: String = swapped.iter().map(|l| format!("{l}\n")).collect();
        for (what, bad) in [
            ("changed", changed),
            ("removed", removed),
            ("swapped", swapped),
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(verify(&path).is_err(), "{what} must not verify");
        }
    }
}
