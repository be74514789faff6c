//! The adapter's own durable state (RocksDB, every write fsynced), what makes it idempotent
//! across redeliveries and restarts:
//! - `replies`: requestId -> the reply given (and whether it went as text or bytes), kept so a
//!   redelivered request is answered the same, never run twice;
//! - `payloads`: requestId -> the datashare payload as fetched (still encrypted for the ABIS's
//!   key), kept until the request is answered: a share allows two GETs in 30 minutes;
//! - `claims`: referenceId -> the requestId of the Insert that enrols it, written before the
//!   engine is touched, so a redelivered Insert finishes its own enrolment (returnValue 1) while
//!   another request's Insert of the same referenceId hears 10.
//! - `templates`: referenceId -> the templates (never images) of a record this adapter enrolled
//!   in a cluster, as the [`crate::cluster::Cluster`] encoded (and sealed) them: a coordinator
//!   has no "get record", and an Identify by referenceId needs the probe's templates.

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use std::path::Path;
use std::sync::Arc;

const REPLIES: &str = "replies";
const PAYLOADS: &str = "payloads";
const CLAIMS: &str = "claims";
const TEMPLATES: &str = "templates";

/// How a reply travels: as the request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MessageType {
    /// A JMS TextMessage (no `content-length` over STOMP).
    Text,
    /// A JMS BytesMessage (`content-length` over STOMP).
    Bytes,
}

/// A reply as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredReply {
    /// Text or bytes.
    pub message_type: MessageType,
    /// The JSON.
    pub body: String,
    /// When it was answered, seconds since the Unix epoch (what [`Store::purge_replies`] goes
    /// by).
    #[serde(default)]
    pub answered_at: u64,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The adapter's store; a clone is another handle on the same database (the adapter and the
/// cluster gallery share it).
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
}

fn sync() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, rocksdb::Error> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = [REPLIES, PAYLOADS, CLAIMS, TEMPLATES]
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        Ok(Self {
            db: Arc::new(DB::open_cf_descriptors(&options, dir, families)?),
        })
    }

    fn get(&self, family: &str, key: &str) -> Result<Option<Vec<u8>>, rocksdb::Error> {
        let cf = self.db.cf_handle(family).expect("opened with every family");
        self.db.get_cf(cf, key.as_bytes())
    }

    fn put(&self, family: &str, key: &str, value: &[u8]) -> Result<(), rocksdb::Error> {
        let cf = self.db.cf_handle(family).expect("opened with every family");
        self.db.put_cf_opt(cf, key.as_bytes(), value, &sync())
    }

    fn delete(&self, family: &str, key: &str) -> Result<(), rocksdb::Error> {
        let cf = self.db.cf_handle(family).expect("opened with every family");
        self.db.delete_cf_opt(cf, key.as_bytes(), &sync())
    }

    /// The reply already given to `request_id`.
    pub fn reply(&self, request_id: &str) -> Result<Option<StoredReply>, rocksdb::Error> {
        Ok(self
            .get(REPLIES, request_id)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Records the reply to `request_id` and drops its fetched payload, in one write.
    pub fn answer(&self, request_id: &str, reply: &StoredReply) -> Result<(), rocksdb::Error> {
        let mut batch = WriteBatch::default();
        let replies = self
            .db
            .cf_handle(REPLIES)
            .expect("opened with every family");
        let payloads = self
            .db
            .cf_handle(PAYLOADS)
            .expect("opened with every family");
        let json = serde_json::to_vec(reply).expect("replies serialise");
        batch.put_cf(replies, request_id.as_bytes(), json);
        batch.delete_cf(payloads, request_id.as_bytes());
        self.db.write_opt(batch, &sync())
    }

    /// Drops the replies answered before `before` (seconds since the epoch); how many. A
    /// request is redelivered only while the adapter has not acknowledged it, and MOSIP's
    /// requests expire after 45 minutes, so a reply a day old is never asked for again.
    pub fn purge_replies(&self, before: u64) -> Result<usize, rocksdb::Error> {
        let replies = self
            .db
            .cf_handle(REPLIES)
            .expect("opened with every family");
        let mut batch = WriteBatch::default();
        let mut purged = 0;
        for item in self.db.iterator_cf(replies, rocksdb::IteratorMode::Start) {
            let (key, value) = item?;
            let old = serde_json::from_slice::<StoredReply>(&value)
                .map_or(true, |reply| reply.answered_at < before);
            if old {
                batch.delete_cf(replies, key);
                purged += 1;
            }
        }
        if purged > 0 {
            self.db.write_opt(batch, &sync())?;
        }
        Ok(purged)
    }

    /// The payload fetched for `request_id`, if it was fetched before.
    pub fn payload(&self, request_id: &str) -> Result<Option<Vec<u8>>, rocksdb::Error> {
        self.get(PAYLOADS, request_id)
    }

    /// Keeps the payload fetched for `request_id` until it is answered.
    pub fn keep_payload(&self, request_id: &str, payload: &[u8]) -> Result<(), rocksdb::Error> {
        self.put(PAYLOADS, request_id, payload)
    }

    /// The requestId of the Insert that claimed `reference_id`.
    pub fn claim(&self, reference_id: &str) -> Result<Option<String>, rocksdb::Error> {
        Ok(self
            .get(CLAIMS, reference_id)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Claims `reference_id` for the Insert `request_id`.
    pub fn set_claim(&self, reference_id: &str, request_id: &str) -> Result<(), rocksdb::Error> {
        self.put(CLAIMS, reference_id, request_id.as_bytes())
    }

    /// Releases `reference_id` (its Insert failed, or it was deleted).
    pub fn release(&self, reference_id: &str) -> Result<(), rocksdb::Error> {
        self.delete(CLAIMS, reference_id)
    }

    /// The stored templates of `reference_id`, as [`Store::keep_templates`] got them.
    pub fn templates(&self, reference_id: &str) -> Result<Option<Vec<u8>>, rocksdb::Error> {
        self.get(TEMPLATES, reference_id)
    }

    /// Keeps the templates of `reference_id` (encoded, and sealed when the operator gave keys).
    pub fn keep_templates(&self, reference_id: &str, bytes: &[u8]) -> Result<(), rocksdb::Error> {
        self.put(TEMPLATES, reference_id, bytes)
    }

    /// Forgets the templates of `reference_id` (it was deleted).
    pub fn drop_templates(&self, reference_id: &str) -> Result<(), rocksdb::Error> {
        self.delete(TEMPLATES, reference_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_replies_are_purged_and_recent_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let reply = |at| StoredReply {
            message_type: MessageType::Text,
            body: "{}".into(),
            answered_at: at,
        };
        store.answer("old", &reply(1_000)).unwrap();
        store.answer("new", &reply(5_000)).unwrap();
        store.keep_payload("new", b"payload").unwrap();
        assert_eq!(store.purge_replies(2_000).unwrap(), 1);
        assert!(store.reply("old").unwrap().is_none());
        assert_eq!(store.reply("new").unwrap(), Some(reply(5_000)));
        assert_eq!(store.purge_replies(2_000).unwrap(), 0);
    }
}
