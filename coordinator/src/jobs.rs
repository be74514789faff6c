//! The durable de-dup job queue, in the coordinator's RocksDB (`<data-dir>/jobs/`).
//!
//! One key per job, `job/<job_id>`, holding a [`StoredJob`] (protobuf: the submission order,
//! the request as received, the job as the client sees it, attempts made, its owner). Every
//! state change is a synced write before it is announced, so a job a client saw accepted
//! survives a crash. With a key ring the value is sealed (AES-256-GCM bound to the job id,
//! `abis_engine::crypto`): the applicants' templates it carries are not stored in clear.
//!
//! A finished job's payload (the applicants' templates) is purged once the retention period
//! after its end has passed ([`JobStore::purge`]); its results and a SHA-256 digest of the
//! request stay, so a client can still read the results and an identical resubmission is still
//! recognised.
//! At open, RUNNING jobs go back to PENDING (their steps, inserts then identifies, are
//! idempotent) and every PENDING job is handed to the worker again, oldest first.
//! State changes are also broadcast in memory for `WatchJob`.

use abis_engine::crypto::{is_sealed, Keyring};
use abis_proto::status::status_from_detail;
use abis_proto::v1::{self, ErrorCode, ErrorDetail, JobState};
use anyhow::Context;
use prost::Message;
use rocksdb::{IteratorMode, WriteOptions, DB};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tonic::Status;

const PREFIX: &[u8] = b"job/";

/// A job as persisted.
#[derive(Clone, PartialEq, Message)]
pub struct StoredJob {
    /// Submission order.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    /// The request as received.
    #[prost(message, optional, tag = "2")]
    pub request: Option<v1::SubmitDedupJobRequest>,
    /// The job as clients see it.
    #[prost(message, optional, tag = "3")]
    pub job: Option<v1::Job>,
    /// Attempts started so far.
    #[prost(uint32, tag = "4")]
    pub attempts: u32,
    /// The caller that submitted it (the audit name of its token or certificate).
    #[prost(string, tag = "5")]
    pub owner: String,
    /// SHA-256 of the request as submitted (kept when the payload is purged).
    #[prost(bytes = "vec", tag = "6")]
    pub request_digest: Vec<u8>,
}

/// The digest a request is recognised by.
fn digest(request: &v1::SubmitDedupJobRequest) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, &request.encode_to_vec())
        .as_ref()
        .to_vec()
}

impl StoredJob {
    /// The client's view.
    pub fn job(&self) -> v1::Job {
        self.job.clone().unwrap_or_default()
    }
}

/// The job store.
pub struct JobStore {
    db: DB,
    keyring: Option<Arc<Keyring>>,
    seq: AtomicU64,
    submit: Mutex<()>,
    changes: broadcast::Sender<v1::Job>,
}

fn key(job_id: &str) -> Vec<u8> {
    [PREFIX, job_id.as_bytes()].concat()
}

fn internal(e: impl std::fmt::Display) -> Status {
    status_from_detail(ErrorDetail {
        code: ErrorCode::Internal as i32,
        message: format!("job store: {e}"),
        ..Default::default()
    })
}

/// A stored value as a job: opened first when sealed.
fn decode(keyring: Option<&Keyring>, key: &[u8], value: &[u8]) -> Result<StoredJob, Status> {
    let plain;
    let bytes = if is_sealed(value) {
        let keys = keyring.ok_or_else(|| {
            internal("the job store is sealed: give the key file (--key-file or ABIS_DATA_KEYS)")
        })?;
        plain = keys.open(value, key, "job store").map_err(internal)?;
        &plain[..]
    } else {
        value
    };
    StoredJob::decode(bytes).map_err(internal)
}

/// Whether a job is finished.
pub fn is_final(job: &v1::Job) -> bool {
    job.state == JobState::Done as i32 || job.state == JobState::Failed as i32
}

impl JobStore {
    /// Opens the store and returns it with the ids to run, oldest first (RUNNING jobs are
    /// PENDING again).
    pub fn open(dir: &Path, keyring: Option<Arc<Keyring>>) -> anyhow::Result<(Self, Vec<String>)> {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        let db = DB::open(&options, dir.join("jobs")).context("cannot open the job store")?;
        let mut pending = Vec::new();
        let mut max_seq = 0;
        for item in db.iterator(IteratorMode::Start) {
            let (key, value) = item?;
            let mut stored = decode(keyring.as_deref(), &key, &value)
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            max_seq = max_seq.max(stored.seq);
            let job = stored.job.get_or_insert_with(Default::default);
            if job.state == JobState::Running as i32 {
                job.state = JobState::Pending as i32;
            }
            if job.state == JobState::Pending as i32 {
                pending.push(stored);
            }
        }
        let (changes, _) = broadcast::channel(1024);
        let store = Self {
            db,
            keyring,
            seq: AtomicU64::new(max_seq + 1),
            submit: Mutex::new(()),
            changes,
        };
        pending.sort_by_key(|s| s.seq);
        for s in &pending {
            store
                .put(s)
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        }
        let ids = pending.into_iter().map(|s| s.job().job_id).collect();
        Ok((store, ids))
    }

    /// Writes a job durably and announces its state.
    pub fn put(&self, stored: &StoredJob) -> Result<(), Status> {
        let job = stored.job();
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let k = key(&job.job_id);
        let value = match &self.keyring {
            Some(keys) => keys.seal(&stored.encode_to_vec(), &k),
            None => stored.encode_to_vec(),
        };
        self.db.put_opt(&k, value, &sync).map_err(internal)?;
        // Nobody watching is fine.
        let _ = self.changes.send(job);
        Ok(())
    }

    /// Reads a job.
    pub fn get(&self, job_id: &str) -> Result<Option<StoredJob>, Status> {
        let k = key(job_id);
        match self.db.get(&k).map_err(internal)? {
            None => Ok(None),
            Some(bytes) => decode(self.keyring.as_deref(), &k, &bytes).map(Some),
        }
    }

    /// Drops the payload (the applicants' templates) of every job that ended more than
    /// `retention` ago, keeping its results and request digest. Returns how many were purged.
    pub fn purge(&self, retention: std::time::Duration) -> Result<u64, Status> {
        let now = std::time::SystemTime::now();
        let mut purged = 0;
        for item in self.db.iterator(IteratorMode::Start) {
            let (k, value) = item.map_err(internal)?;
            let mut stored = decode(self.keyring.as_deref(), &k, &value)?;
            let job = stored.job();
            let ended = job
                .finished_at
                .and_then(|t| std::time::SystemTime::try_from(t).ok());
            let due = ended.is_some_and(|t| t + retention <= now);
            if !is_final(&job) || !due || stored.request.is_none() {
                continue;
            }
            if stored.request_digest.is_empty() {
                stored.request_digest = digest(stored.request.as_ref().expect("checked"));
            }
            stored.request = None;
            self.put(&stored)?;
            purged += 1;
        }
        Ok(purged)
    }

    /// Stores a new PENDING job of `owner`, or returns the existing one with `false` when the
    /// same owner submitted the same request before (ALREADY_EXISTS when the content or the
    /// owner differs).
    pub fn submit(
        &self,
        request: v1::SubmitDedupJobRequest,
        owner: &str,
    ) -> Result<(v1::Job, bool), Status> {
        let _one_at_a_time = self.submit.lock().map_err(internal)?;
        let submitted = digest(&request);
        if let Some(existing) = self.get(&request.job_id)? {
            let same = match &existing.request {
                Some(r) => r == &request,
                None => existing.request_digest == submitted,
            };
            if same && existing.owner == owner {
                return Ok((existing.job(), false));
            }
            return Err(status_from_detail(ErrorDetail {
                code: ErrorCode::AlreadyExists as i32,
                message: format!(
                    "job {} was submitted before with other content",
                    request.job_id
                ),
                ..Default::default()
            }));
        }
        let job = v1::Job {
            job_id: request.job_id.clone(),
            state: JobState::Pending as i32,
            applicant_count: request.applicants.len() as u32,
            submitted_at: Some(std::time::SystemTime::now().into()),
            ..Default::default()
        };
        let stored = StoredJob {
            seq: self.seq.fetch_add(1, Ordering::AcqRel),
            request: Some(request),
            job: Some(job.clone()),
            attempts: 0,
            owner: owner.to_owned(),
            request_digest: submitted,
        };
        self.put(&stored)?;
        Ok((job, true))
    }

    /// PENDING and RUNNING jobs with their owners, oldest first.
    pub fn unfinished(&self) -> Result<Vec<(String, v1::Job)>, Status> {
        let mut out = Vec::new();
        for item in self.db.iterator(IteratorMode::Start) {
            let (k, value) = item.map_err(internal)?;
            let stored = decode(self.keyring.as_deref(), &k, &value)?;
            if !is_final(&stored.job()) {
                out.push((stored.seq, stored.owner.clone(), stored.job()));
            }
        }
        out.sort_by_key(|(seq, _, _)| *seq);
        Ok(out.into_iter().map(|(_, o, j)| (o, j)).collect())
    }

    /// Follows state changes (subscribe before reading the current state).
    pub fn subscribe(&self) -> broadcast::Receiver<v1::Job> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, n: usize) -> v1::SubmitDedupJobRequest {
        v1::SubmitDedupJobRequest {
            job_id: id.into(),
            applicants: (0..n)
                .map(|i| v1::Record {
                    reference_id: format!("a{i}"),
                    ..Default::default()
                })
                .collect(),
            options: None,
        }
    }

    #[test]
    fn submit_is_idempotent_and_running_jobs_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, pending) = JobStore::open(dir.path(), None).unwrap();
            assert!(pending.is_empty());
            let (job, created) = store.submit(request("j1", 2), "reg").unwrap();
            assert!(created && job.state == JobState::Pending as i32);
            let (again, created) = store.submit(request("j1", 2), "reg").unwrap();
            assert!(!created);
            assert_eq!(again, job);
            let err = store.submit(request("j1", 3), "reg").unwrap_err();
            assert_eq!(err.code(), tonic::Code::AlreadyExists);
            let err = store.submit(request("j1", 2), "someone-else").unwrap_err();
            assert_eq!(err.code(), tonic::Code::AlreadyExists);
            store.submit(request("j2", 1), "reg").unwrap();
            let mut stored = store.get("j1").unwrap().unwrap();
            stored.job.as_mut().unwrap().state = JobState::Running as i32;
            store.put(&stored).unwrap();
            let mut done = store.get("j2").unwrap().unwrap();
            done.job.as_mut().unwrap().state = JobState::Done as i32;
            store.put(&done).unwrap();
        }
        let (store, pending) = JobStore::open(dir.path(), None).unwrap();
        assert_eq!(pending, ["j1"]);
        let j1 = store.get("j1").unwrap().unwrap().job();
        assert_eq!(j1.state, JobState::Pending as i32);
        assert_eq!(store.unfinished().unwrap().len(), 1);
        let j2 = store.get("j2").unwrap().unwrap().job();
        assert_eq!(j2.state, JobState::Done as i32);
        assert!(store.get("nope").unwrap().is_none());
    }

    #[test]
    fn sealed_payloads_are_purged_after_the_retention_and_still_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keyring::parse(&format!("1 {}", "ab".repeat(32))).expect("a key"));
        let (store, _) = JobStore::open(dir.path(), Some(keys.clone())).unwrap();
        let (job, _) = store.submit(request("j1", 2), "reg").unwrap();
        let mut stored = store.get(&job.job_id).unwrap().unwrap();
        stored.job.as_mut().unwrap().state = JobState::Done as i32;
        stored.job.as_mut().unwrap().finished_at = Some(std::time::SystemTime::now().into());
        store.put(&stored).unwrap();
        // Sealed on disk: the applicant ids of the payload are not there in clear.
        let raw = store.db.get(key("j1")).unwrap().unwrap();
        assert!(is_sealed(&raw));
        assert!(!raw.windows(2).any(|w| w == b"a1"));
        assert_eq!(
            store.purge(std::time::Duration::from_secs(3600)).unwrap(),
            0
        );
        assert_eq!(store.purge(std::time::Duration::ZERO).unwrap(), 1);
        let purged = store.get("j1").unwrap().unwrap();
        assert!(purged.request.is_none());
        assert_eq!(purged.job().state, JobState::Done as i32);
        let (again, created) = store.submit(request("j1", 2), "reg").unwrap();
        assert!(!created && again.state == JobState::Done as i32);
        assert!(store.submit(request("j1", 3), "reg").is_err());
        drop(store);
        assert!(
            JobStore::open(dir.path(), None).is_err(),
            "sealed without the key"
        );
        assert!(JobStore::open(dir.path(), Some(keys)).is_ok());
    }
}
