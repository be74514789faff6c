//! Durable registration state, in RocksDB (`<dir>/`).
//!
//! Column families:
//! - `packets`: packet id -> [`Registration`] (state, attempts, last job id, open case);
//! - `applicants`: packet id -> the applicant's record (protobuf), so a failed packet can be
//!   retried later without its files; dropped once the packet is settled (unique or duplicate):
//!   the client keeps no biometrics it no longer needs;
//! - `settled`: packet id -> SHA-256 of the settled applicant's record, so registering the same
//!   packet again is recognised (and other content under its id refused) without keeping it;
//! - `cases`: case id -> [`crate::Case`]; `open_cases` and `actions` index the cases that
//!   are open and the decided ones not yet acted on (key only).
//!
//! Values are a format version byte (1) followed by JSON: readable with `ldb`, and a value of
//! another version is reported as [`Error::DataCorruption`] rather than misread. Every change
//! is one `WriteBatch` written with `sync = true`, so an outcome and the case it opens are
//! durable together, before the caller hears about them.
//!
//! The states follow the fail-closed rule: a packet is [`PacketState::Unique`] only after a
//! complete search with no candidate (see [`crate::verdict`]); until then it is `Pending`
//! (a job in flight, or a crash during one) or `Failed`.

use crate::error::{Error, Result};
use crate::verdict::CandidateMatch;
use crate::Applicant;
use abis_proto::v1;
use prost::Message;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) const PACKETS: &str = "packets";
pub(crate) const APPLICANTS: &str = "applicants";
pub(crate) const CASES: &str = "cases";
pub(crate) const OPEN_CASES: &str = "open_cases";
pub(crate) const ACTIONS: &str = "actions";
pub(crate) const SETTLED: &str = "settled";
const FAMILIES: [&str; 6] = [PACKETS, APPLICANTS, CASES, OPEN_CASES, ACTIONS, SETTLED];

/// The digest a settled applicant's record is remembered by.
fn digest(record: &v1::Record) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, &record.encode_to_vec())
        .as_ref()
        .to_vec()
}

/// Format version of every stored value.
const VALUE_VERSION: u8 = 1;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Where a packet's registration stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PacketState {
    /// A de-dup job was started and has not been recorded as ended (in flight, or the process
    /// stopped during it: registering the packet again resumes the same job).
    Pending,
    /// A complete search found no duplicate: issue a UIN.
    Unique {
        /// The job that said so.
        job_id: String,
    },
    /// A complete search found these records; a Duplicate case holds the human's decision.
    Duplicate {
        /// The job that said so.
        job_id: String,
        /// The candidates, best first.
        candidates: Vec<CandidateMatch>,
        /// The adjudication case opened for it.
        case_id: String,
    },
    /// No verdict: never treated as unique.
    Failed {
        /// The last error.
        last_error: String,
        /// Whether a later retry may succeed ([`crate::Registrar::retry_failed`] re-runs only
        /// these); false for rejections (a corrupt template, an id enrolled with other content).
        retryable: bool,
        /// When a retry is due (ms since the epoch), for retryable failures.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl PacketState {
    /// The state's name: `pending`, `unique`, `duplicate` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Unique { .. } => "unique",
            Self::Duplicate { .. } => "duplicate",
            Self::Failed { .. } => "failed",
        }
    }

    /// Whether the packet has its de-dup verdict (unique or duplicate).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Unique { .. } | Self::Duplicate { .. })
    }
}

/// A packet's durable registration record; also what [`crate::Registrar::register`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The packet id (the applicant's reference id).
    pub packet_id: String,
    /// Where it stands.
    pub state: PacketState,
    /// De-dup jobs started for it so far.
    pub attempts: u32,
    /// The last job id submitted for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_job_id: Option<String>,
    /// Its open adjudication case, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_case: Option<String>,
    /// When the record last changed (ms since the epoch).
    pub updated_at_ms: u64,
}

/// Which registrations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Every packet.
    All,
    /// Jobs in flight (or interrupted).
    Pending,
    /// Unique verdicts.
    Unique,
    /// Duplicate verdicts.
    Duplicate,
    /// Failures, retryable or not.
    Failed,
}

impl StateFilter {
    fn accepts(self, state: &PacketState) -> bool {
        match self {
            Self::All => true,
            Self::Pending => matches!(state, PacketState::Pending),
            Self::Unique => matches!(state, PacketState::Unique { .. }),
            Self::Duplicate => matches!(state, PacketState::Duplicate { .. }),
            Self::Failed => matches!(state, PacketState::Failed { .. }),
        }
    }
}

/// The registration store (see the module docs). One process at a time (RocksDB's lock).
pub struct RegistrationStore {
    pub(crate) db: DB,
    /// Serialises read-modify-write sequences (recording outcomes, deciding cases).
    pub(crate) lock: Mutex<()>,
}

/// Encodes a value: version byte + JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    // Serialising these plain structs cannot fail (no maps with non-string keys).
    serde_json::to_writer(&mut out, value).expect("registration values serialise");
    out
}

/// Decodes a value written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| Error::DataCorruption {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&VALUE_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))
        }
        Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

impl RegistrationStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, dir, families)?;
        Ok(Self {
            db,
            lock: Mutex::new(()),
        })
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created at open")
    }

    /// Writes a batch durably (fsync of the WAL before returning).
    pub(crate) fn commit(&self, batch: WriteBatch) -> Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        Ok(self.db.write_opt(batch, &options)?)
    }

    pub(crate) fn read<T: DeserializeOwned>(&self, family: &str, key: &str) -> Result<Option<T>> {
        self.db
            .get_cf(self.cf(family), key.as_bytes())?
            .map(|bytes| decode(key.as_bytes(), &bytes))
            .transpose()
    }

    pub(crate) fn scan<T: DeserializeOwned>(&self, family: &str) -> Result<Vec<T>> {
        self.db
            .iterator_cf(self.cf(family), IteratorMode::Start)
            .map(|item| {
                let (key, value) = item?;
                decode(&key, &value)
            })
            .collect()
    }

    pub(crate) fn keys(&self, family: &str) -> Result<Vec<String>> {
        self.db
            .iterator_cf(self.cf(family), IteratorMode::Start)
            .map(|item| Ok(String::from_utf8_lossy(&item?.0).into_owned()))
            .collect()
    }

    /// The registration of `packet_id`, if the packet was ever submitted.
    pub fn get(&self, packet_id: &str) -> Result<Option<Registration>> {
        self.read(PACKETS, packet_id)
    }

    /// The registrations whose state passes `filter`, by packet id.
    pub fn list(&self, filter: StateFilter) -> Result<Vec<Registration>> {
        Ok(self
            .scan::<Registration>(PACKETS)?
            .into_iter()
            .filter(|r| filter.accepts(&r.state))
            .collect())
    }

    /// The applicant stored for `packet_id` (kept so failed packets can be retried).
    pub fn applicant(&self, packet_id: &str) -> Result<Option<Applicant>> {
        let Some(bytes) = self.db.get_cf(self.cf(APPLICANTS), packet_id.as_bytes())? else {
            return Ok(None);
        };
        let record = v1::Record::decode(bytes.as_slice()).map_err(|e| Error::DataCorruption {
            key: packet_id.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Some(Applicant {
            packet_id: packet_id.to_owned(),
            record,
        }))
    }

    /// Adds `registration` to `batch`.
    pub(crate) fn put_registration(&self, batch: &mut WriteBatch, registration: &Registration) {
        batch.put_cf(
            self.cf(PACKETS),
            registration.packet_id.as_bytes(),
            encode(registration),
        );
    }

    /// Whether `record` is what a settled packet was registered with: compared with the stored
    /// digest (or, for packets settled before digests, the stored record).
    pub fn is_settled_content(&self, packet_id: &str, record: &v1::Record) -> Result<bool> {
        if let Some(d) = self.db.get_cf(self.cf(SETTLED), packet_id.as_bytes())? {
            return Ok(d == digest(record));
        }
        Ok(self
            .applicant(packet_id)?
            .is_some_and(|a| &a.record == record))
    }

    /// Adds to `batch`: forget the applicant's record, remember its digest (the packet is
    /// settled).
    pub(crate) fn settle_applicant(&self, batch: &mut WriteBatch, applicant: &Applicant) {
        batch.delete_cf(self.cf(APPLICANTS), applicant.packet_id.as_bytes());
        batch.put_cf(
            self.cf(SETTLED),
            applicant.packet_id.as_bytes(),
            digest(&applicant.record),
        );
    }

    /// Adds the applicant's record to `batch`.
    pub(crate) fn put_applicant(&self, batch: &mut WriteBatch, applicant: &Applicant) {
        batch.put_cf(
            self.cf(APPLICANTS),
            applicant.packet_id.as_bytes(),
            applicant.record.encode_to_vec(),
        );
    }
}
