//! The source of truth: RocksDB.
//!
//! Column families:
//! - `meta`: format version, gallery shape, next slot, expected rows per segment;
//! - `ids`: reference id -> slot (u32 big-endian), then the record's content hash (u64 LE) and
//!   modality mask (u16 LE) for the census (values of 4 bytes, written before the census existed,
//!   are completed at open);
//! - `records`: slot (big-endian, so iteration is in slot order) -> encoded record;
//! - `tombstones`: slots deleted since the last compaction, whose rows may still sit in segments.
//!
//! Every change is one atomic `WriteBatch`, written with `sync = true` (the WAL is fsynced) before
//! the caller acknowledges anything.

use super::codec;
use crate::census::{hash64, modality_mask};
use crate::crypto::{is_sealed, Keyring};
use crate::error::{EngineError, Result};
use crate::record::{Record, ReferenceId};
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::path::Path;
use std::sync::Arc;

const CF_META: &str = "meta";
const CF_IDS: &str = "ids";
const CF_RECORDS: &str = "records";
const CF_TOMBSTONES: &str = "tombstones";
const CFS: [&str; 4] = [CF_META, CF_IDS, CF_RECORDS, CF_TOMBSTONES];

/// RocksDB handle with the engine's key spaces.
pub struct Store {
    db: DB,
    sync: bool,
    keyring: Option<Arc<Keyring>>,
}

/// What a record value is bound to when sealed: its slot.
fn record_context(slot: u32) -> [u8; 10] {
    let mut c = *b"record\0\0\0\0";
    c[6..].copy_from_slice(&slot.to_be_bytes());
    c
}

/// What `ids` holds for an enrolled reference id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdEntry {
    /// The record's dense slot.
    pub slot: u32,
    /// Its content hash and modality mask (see [`crate::census`]); `None` in values written
    /// before they were stored.
    pub summary: Option<(u64, u16)>,
}

const ID_VALUE_BYTES: usize = 14;

fn encode_id_value(slot: u32, content: u64, mask: u16) -> [u8; ID_VALUE_BYTES] {
    let mut v = [0u8; ID_VALUE_BYTES];
    v[..4].copy_from_slice(&slot.to_be_bytes());
    v[4..12].copy_from_slice(&content.to_le_bytes());
    v[12..].copy_from_slice(&mask.to_le_bytes());
    v
}

fn decode_id_value(v: &[u8]) -> Result<IdEntry> {
    let slot = decode_slot(&v[..v.len().min(4)])?;
    match v.len() {
        4 => Ok(IdEntry {
            slot,
            summary: None,
        }),
        ID_VALUE_BYTES => Ok(IdEntry {
            slot,
            summary: Some((
                u64::from_le_bytes(v[4..12].try_into().expect("8 bytes")),
                u16::from_le_bytes(v[12..].try_into().expect("2 bytes")),
            )),
        }),
        n => Err(EngineError::corruption(
            "ids",
            format!("id value of {n} bytes"),
        )),
    }
}

/// Changes committed together.
pub struct StoreBatch {
    batch: WriteBatch,
}

impl Store {
    /// Opens (creating if missing) the database under `path`; with `keyring`, record values are
    /// sealed with AES-256-GCM ([`crate::crypto`]).
    pub fn open(path: &Path, sync: bool, keyring: Option<Arc<Keyring>>) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        let cfs = CFS
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Self { db, sync, keyring })
    }

    /// A stored record value as a record: opened first when sealed.
    fn decode_record(&self, slot: u32, bytes: &[u8]) -> Result<Record> {
        if !is_sealed(bytes) {
            return codec::decode(bytes);
        }
        let keyring = self
            .keyring
            .as_ref()
            .ok_or_else(|| EngineError::BadDataDir {
                path: "records".into(),
                reason: "records are sealed: give the key file (--key-file or ABIS_DATA_KEYS)"
                    .into(),
            })?;
        codec::decode(&keyring.open(bytes, &record_context(slot), "record store")?)
    }

    /// The stored form of a record in `slot`: sealed when there is a key ring.
    fn encode_record(&self, slot: u32, plain: Vec<u8>) -> Vec<u8> {
        match &self.keyring {
            Some(k) => k.seal(&plain, &record_context(slot)),
            None => plain,
        }
    }

    /// Whether the first stored record is sealed (a gallery written with keys).
    pub fn first_record_sealed(&self) -> Result<bool> {
        Ok(self
            .db
            .iterator_cf(self.cf(CF_RECORDS), IteratorMode::Start)
            .next()
            .transpose()?
            .is_some_and(|(_, v)| is_sealed(&v)))
    }

    /// Rewrites every record value not sealed under the current key with it (after a key
    /// rotation, or to seal a gallery written in clear), `batch` records per durable write.
    /// Returns the number rewritten.
    pub fn reseal(&self, batch: usize) -> Result<u64> {
        let Some(keyring) = &self.keyring else {
            return Ok(0);
        };
        let current = keyring.current_id().to_le_bytes();
        let mut done = 0;
        let mut pending = self.batch();
        let mut in_batch = 0;
        for item in self
            .db
            .iterator_cf(self.cf(CF_RECORDS), IteratorMode::Start)
        {
            let (k, v) = item?;
            if is_sealed(&v) && v.get(2..6) == Some(&current[..]) {
                continue;
            }
            let slot = decode_slot(&k)?;
            let record = self.decode_record(slot, &v)?;
            let sealed = self.encode_record(slot, codec::encode(&record));
            pending.batch.put_cf(self.cf(CF_RECORDS), &k, sealed);
            in_batch += 1;
            done += 1;
            if in_batch == batch.max(1) {
                self.commit(std::mem::replace(&mut pending, self.batch()))?;
                in_batch = 0;
            }
        }
        if in_batch > 0 {
            self.commit(pending)?;
        }
        Ok(done)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    /// A new, empty batch.
    pub fn batch(&self) -> StoreBatch {
        StoreBatch {
            batch: WriteBatch::default(),
        }
    }

    /// Commits a batch atomically and durably.
    pub fn commit(&self, batch: StoreBatch) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(batch.batch, &wo)?;
        Ok(())
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_META), key)?)
    }

    /// A metadata value read as u64 (0 when absent).
    pub fn meta_u64(&self, key: &str) -> Result<u64> {
        match self.meta(key)? {
            None => Ok(0),
            Some(v) => v
                .as_slice()
                .try_into()
                .map(u64::from_le_bytes)
                .map_err(|_| {
                    EngineError::corruption("meta", format!("{key} is {} bytes", v.len()))
                }),
        }
    }

    /// The slot of a reference id.
    pub fn slot_of(&self, id: &ReferenceId) -> Result<Option<u32>> {
        match self.db.get_cf(self.cf(CF_IDS), id.as_str())? {
            None => Ok(None),
            Some(v) => Ok(Some(decode_id_value(&v)?.slot)),
        }
    }

    /// Every enrolled reference id with its entry, in bytewise id order.
    pub fn id_entries(&self) -> impl Iterator<Item = Result<(ReferenceId, IdEntry)>> + '_ {
        self.db
            .iterator_cf(self.cf(CF_IDS), IteratorMode::Start)
            .map(|item| {
                let (key, value) = item?;
                let id = String::from_utf8(key.into_vec())
                    .ok()
                    .and_then(|s| ReferenceId::new(s).ok())
                    .ok_or_else(|| EngineError::corruption("ids", "unreadable reference id key"))?;
                Ok((id, decode_id_value(&value)?))
            })
    }

    /// The record in a slot.
    pub fn record(&self, slot: u32) -> Result<Option<Record>> {
        self.db
            .get_cf(self.cf(CF_RECORDS), slot.to_be_bytes())?
            .map(|v| self.decode_record(slot, &v))
            .transpose()
    }

    /// Every record with slot >= `from`, in slot order.
    pub fn records_from(&self, from: u32) -> impl Iterator<Item = Result<(u32, Record)>> + '_ {
        let start = from.to_be_bytes();
        self.db
            .iterator_cf(
                self.cf(CF_RECORDS),
                IteratorMode::From(&start, rocksdb::Direction::Forward),
            )
            .map(|item| {
                let (k, v) = item?;
                let slot = decode_slot(&k)?;
                Ok((slot, self.decode_record(slot, &v)?))
            })
    }

    /// Up to `limit` enrolled reference ids in ascending bytewise order, strictly after `after`
    /// (from the first when `None`).
    pub fn ids_after(&self, after: Option<&ReferenceId>, limit: usize) -> Result<Vec<ReferenceId>> {
        let start = after.map_or(&[][..], |a| a.as_str().as_bytes());
        let iter = self.db.iterator_cf(
            self.cf(CF_IDS),
            IteratorMode::From(start, rocksdb::Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            if out.len() == limit {
                break;
            }
            let (key, _) = item?;
            if after.is_some_and(|a| a.as_str().as_bytes() == &*key) {
                continue;
            }
            let id = String::from_utf8(key.into_vec())
                .ok()
                .and_then(|s| ReferenceId::new(s).ok())
                .ok_or_else(|| EngineError::corruption("ids", "unreadable reference id key"))?;
            out.push(id);
        }
        Ok(out)
    }

    /// Every tombstoned slot.
    pub fn tombstones(&self) -> Result<Vec<u32>> {
        self.db
            .iterator_cf(self.cf(CF_TOMBSTONES), IteratorMode::Start)
            .map(|item| decode_slot(&item?.0))
            .collect()
    }

    /// Number of reference ids enrolled (a full count over `ids`).
    pub fn count_ids(&self) -> Result<u64> {
        let mut n = 0;
        for item in self.db.iterator_cf(self.cf(CF_IDS), IteratorMode::Start) {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Flushes memtables to SST files (used before a clean close and by compaction).
    pub fn flush(&self) -> Result<()> {
        for cf in CFS {
            self.db.flush_cf(self.cf(cf))?;
        }
        Ok(())
    }
}

impl StoreBatch {
    /// Sets a metadata value.
    pub fn put_meta(&mut self, store: &Store, key: &str, value: &[u8]) {
        self.batch.put_cf(store.cf(CF_META), key, value);
    }

    /// Enrols a record in a slot; returns its content hash and modality mask (for the census).
    pub fn put_record(&mut self, store: &Store, slot: u32, record: &Record) -> (u64, u16) {
        let encoded = codec::encode(record);
        let (content, mask) = (hash64(&encoded), modality_mask(record));
        self.batch.put_cf(
            store.cf(CF_IDS),
            record.reference_id.as_str(),
            encode_id_value(slot, content, mask),
        );
        self.batch.put_cf(
            store.cf(CF_RECORDS),
            slot.to_be_bytes(),
            store.encode_record(slot, encoded),
        );
        (content, mask)
    }

    /// Completes the `ids` value of a record stored before it held the content hash and mask;
    /// returns them.
    pub fn complete_id_entry(&mut self, store: &Store, slot: u32, record: &Record) -> (u64, u16) {
        let (content, mask) = (hash64(&codec::encode(record)), modality_mask(record));
        self.batch.put_cf(
            store.cf(CF_IDS),
            record.reference_id.as_str(),
            encode_id_value(slot, content, mask),
        );
        (content, mask)
    }

    /// Deletes a record and leaves a tombstone for its segment rows.
    pub fn delete_record(&mut self, store: &Store, id: &ReferenceId, slot: u32) {
        self.batch.delete_cf(store.cf(CF_IDS), id.as_str());
        self.batch
            .delete_cf(store.cf(CF_RECORDS), slot.to_be_bytes());
        self.batch
            .put_cf(store.cf(CF_TOMBSTONES), slot.to_be_bytes(), []);
    }

    /// Removes a tombstone (its rows are gone from every segment).
    pub fn clear_tombstone(&mut self, store: &Store, slot: u32) {
        self.batch
            .delete_cf(store.cf(CF_TOMBSTONES), slot.to_be_bytes());
    }
}

fn decode_slot(b: &[u8]) -> Result<u32> {
    b.try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| EngineError::corruption("ids", format!("slot key of {} bytes", b.len())))
}
