//! [`Issuer`]: durable, idempotent UIN issuance in its own RocksDB directory.
//!
//! Layout (one column family, keys prefixed by kind):
//! - `r/<registration id>` -> UIN: which UIN a registration got (issued or linked);
//! - `u/<UIN>` -> registration id: every UIN ever issued, with the registration that caused it;
//!   a UIN key is never deleted, which is what makes a UIN never reused, across restarts and
//!   whatever the rules configuration of the next run;
//! - `m/format` (u32 LE, [`FORMAT_VERSION`]) and `m/count` (u64 LE, UINs issued).
//!
//! Every change (both keys of every new UIN, and the count) goes into one `WriteBatch` written
//! with `sync = true`: when a call returns, what it reports is on disk, and a crash can never
//! leave a UIN half issued (a registration with a UIN that is not marked used, or the reverse).
//!
//! Issuance is idempotent per registration id: a registration processor that retries after a
//! timeout gets the same UIN back (flagged [`Outcome::AlreadyIssued`]) instead of a second
//! identity. Concurrency: the check-draw-write sequence runs under one mutex, so two threads
//! can never both see a UIN as free or a registration as unissued; reads take no lock. Bulk
//! issuance ([`Issuer::issue_batch`]) amortises the fsync over a whole batch. RocksDB's own
//! lock file keeps a second process out of the directory.

use crate::error::{IssuanceError, Result};
use crate::generator::UinGenerator;
use crate::rules::UinRules;
use rand::RngCore;
use rocksdb::{BlockBasedOptions, Options, WriteBatch, WriteOptions, DB};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// On-disk format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Longest registration id accepted, in bytes (MOSIP reference ids fit easily).
pub const MAX_REGISTRATION_ID_BYTES: usize = 64;

/// Valid candidates in a row that may all be already issued before
/// [`IssuanceError::SpaceExhausted`].
pub const MAX_COLLISIONS: u32 = 10_000;

const FORMAT_KEY: &[u8] = b"m/format";
const COUNT_KEY: &[u8] = b"m/count";

/// What an issuance call did for one registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new UIN was issued to this registration by this call.
    Issued,
    /// The registration already had this UIN (an earlier call, or earlier in the same batch).
    AlreadyIssued,
    /// The registration was linked to the UIN of an existing registration (no new UIN).
    Linked,
}

/// The UIN of one registration, and how it got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The registration id.
    pub registration_id: String,
    /// Its UIN.
    pub uin: String,
    /// What this call did.
    pub outcome: Outcome,
}

impl Issued {
    /// Whether this call issued a new UIN.
    pub fn is_new(&self) -> bool {
        self.outcome == Outcome::Issued
    }
}

type BoxRng = Box<dyn RngCore + Send>;

/// Mutable state behind the issuance lock.
struct State {
    generator: UinGenerator<BoxRng>,
    count: u64,
}

/// Durable UIN issuance over a RocksDB directory. `Send + Sync`: share it behind an `Arc`.
pub struct Issuer {
    db: DB,
    state: Mutex<State>,
    sync: WriteOptions,
}

/// Checks a registration id: 1..=64 bytes, no control characters.
pub fn check_registration_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        "empty"
    } else if id.len() > MAX_REGISTRATION_ID_BYTES {
        "longer than 64 bytes"
    } else if id.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(IssuanceError::BadRegistrationId {
        id: id.chars().take(80).collect(),
        reason,
    })
}

fn reg_key(id: &str) -> Vec<u8> {
    [b"r/", id.as_bytes()].concat()
}

fn uin_key(uin: &str) -> Vec<u8> {
    [b"u/", uin.as_bytes()].concat()
}

impl Issuer {
    /// Opens (or creates) the store in `dir`, drawing UINs from an OS-seeded RNG: what
    /// production uses. Fails if `rules` do not pass [`UinRules::check`], if the directory is in
    /// use by another process, or if it holds an unknown format.
    pub fn open(dir: impl AsRef<Path>, rules: UinRules) -> Result<Self> {
        use rand::SeedableRng;
        Self::open_with(
            dir.as_ref(),
            rules,
            Box::new(rand::rngs::StdRng::from_entropy()),
        )
    }

    /// [`Issuer::open`] with a seeded ChaCha20 RNG, for tests and reproducible demos only: UINs
    /// from a known seed are guessable.
    pub fn open_seeded(dir: impl AsRef<Path>, rules: UinRules, seed: u64) -> Result<Self> {
        use rand::SeedableRng;
        Self::open_with(
            dir.as_ref(),
            rules,
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        )
    }

    /// [`Issuer::open`] drawing from the given RNG (which must be unpredictable in production).
    pub fn open_with_rng(
        dir: impl AsRef<Path>,
        rules: UinRules,
        rng: Box<dyn RngCore + Send>,
    ) -> Result<Self> {
        Self::open_with(dir.as_ref(), rules, rng)
    }

    fn open_with(dir: &Path, rules: UinRules, rng: BoxRng) -> Result<Self> {
        let generator = UinGenerator::with_rng(rules, rng)?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        let mut table = BlockBasedOptions::default();
        // Most lookups are for candidate UINs that do not exist: a bloom filter answers those
        // without reading data blocks.
        table.set_bloom_filter(10.0, false);
        opts.set_block_based_table_factory(&table);
        // The same for keys still in the memtable: without it every miss walks the skip list.
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.1);
        let db = DB::open(&opts, dir)?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let count = Self::init_format(&db, &sync)?;
        Ok(Self {
            db,
            state: Mutex::new(State { generator, count }),
            sync,
        })
    }

    /// Checks (or, in an empty store, writes) the format marker; returns the issued count.
    fn init_format(db: &DB, sync: &WriteOptions) -> Result<u64> {
        let corrupt = |what: &str| IssuanceError::DataCorruption(what.to_owned());
        match db.get(FORMAT_KEY)? {
            Some(v) => {
                let v: [u8; 4] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt("bad format key"))?;
                let version = u32::from_le_bytes(v);
                if version != FORMAT_VERSION {
                    return Err(IssuanceError::DataCorruption(format!(
                        "format version {version}, this build reads {FORMAT_VERSION}"
                    )));
                }
                let c = db
                    .get(COUNT_KEY)?
                    .ok_or_else(|| corrupt("count key missing"))?;
                let c: [u8; 8] = c
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt("bad count key"))?;
                Ok(u64::from_le_bytes(c))
            }
            None => {
                if db.iterator(rocksdb::IteratorMode::Start).next().is_some() {
                    return Err(corrupt("keys present but no format marker"));
                }
                let mut batch = WriteBatch::default();
                batch.put(FORMAT_KEY, FORMAT_VERSION.to_le_bytes());
                batch.put(COUNT_KEY, 0u64.to_le_bytes());
                db.write_opt(batch, sync)?;
                Ok(0)
            }
        }
    }

    /// The rules new UINs follow (those given at open; UINs issued under earlier rules stay).
    pub fn rules(&self) -> UinRules {
        self.lock().generator.rules().clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only an RNG and a count updated after a successful write, so it is
        // consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get_string(&self, key: &[u8]) -> Result<Option<String>> {
        match self.db.get_pinned(key)? {
            None => Ok(None),
            Some(v) => String::from_utf8(v.to_vec()).map(Some).map_err(|_| {
                IssuanceError::DataCorruption(format!("non-UTF-8 value under {key:?}"))
            }),
        }
    }

    /// The UIN of a registration (issued to it or linked), if any.
    pub fn uin_of(&self, registration_id: &str) -> Result<Option<String>> {
        check_registration_id(registration_id)?;
        self.get_string(&reg_key(registration_id))
    }

    /// The registration a UIN was issued to (not registrations linked to it later), if any.
    pub fn registration_of(&self, uin: &str) -> Result<Option<String>> {
        self.get_string(&uin_key(uin))
    }

    /// Number of UINs issued so far in this store (links not counted).
    pub fn issued_count(&self) -> u64 {
        self.lock().count
    }

    /// Issues a UIN to `registration_id`, or returns the one it already has. Call it only for a
    /// registration the de-duplication found unique. Durable when it returns.
    pub fn issue(&self, registration_id: &str) -> Result<Issued> {
        let mut all = self.issue_batch(&[registration_id])?;
        all.pop()
            .ok_or_else(|| IssuanceError::DataCorruption("empty batch result".to_owned()))
    }

    /// [`Issuer::issue`] for many registrations with one synced write: one result per id, in
    /// order. An id repeated in the batch gets one UIN (later copies report
    /// [`Outcome::AlreadyIssued`]). A bad id fails the whole batch before anything is written.
    pub fn issue_batch(&self, registration_ids: &[&str]) -> Result<Vec<Issued>> {
        for id in registration_ids {
            check_registration_id(id)?;
        }
        let mut state = self.lock();
        let mut puts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut in_batch: HashMap<&str, String> = HashMap::new();
        let mut new_uins: HashSet<String> = HashSet::new();
        let mut out = Vec::with_capacity(registration_ids.len());
        for &id in registration_ids {
            let existing = match in_batch.get(id) {
                Some(uin) => Some(uin.clone()),
                None => self.get_string(&reg_key(id))?,
            };
            if let Some(uin) = existing {
                out.push(Issued {
                    registration_id: id.to_owned(),
                    uin,
                    outcome: Outcome::AlreadyIssued,
                });
                continue;
            }
            let uin = self.draw_unused(&mut state.generator, &new_uins)?;
            puts.push((reg_key(id), uin.clone().into_bytes()));
            puts.push((uin_key(&uin), id.as_bytes().to_vec()));
            in_batch.insert(id, uin.clone());
            new_uins.insert(uin.clone());
            out.push(Issued {
                registration_id: id.to_owned(),
                uin,
                outcome: Outcome::Issued,
            });
        }
        if !new_uins.is_empty() {
            let count = state.count + new_uins.len() as u64;
            puts.push((COUNT_KEY.to_vec(), count.to_le_bytes().to_vec()));
            // In key order: the memtable's skip list then inserts each key next to the last one
            // instead of searching from the top (about twice as fast for large batches).
            puts.sort_unstable();
            let mut batch = WriteBatch::default();
            for (k, v) in &puts {
                batch.put(k, v);
            }
            self.db.write_opt(batch, &self.sync)?;
            state.count = count;
        }
        Ok(out)
    }

    /// Draws valid candidates until one is neither stored nor taken earlier in this batch.
    fn draw_unused(
        &self,
        generator: &mut UinGenerator<BoxRng>,
        taken: &HashSet<String>,
    ) -> Result<String> {
        for _ in 0..MAX_COLLISIONS {
            let uin = generator.generate()?;
            if !taken.contains(&uin) && self.db.get_pinned(uin_key(&uin))?.is_none() {
                return Ok(uin);
            }
        }
        Err(IssuanceError::SpaceExhausted {
            tries: MAX_COLLISIONS,
        })
    }

    /// Records that `registration_id` is the same person as `existing_registration_id` (a human
    /// adjudicated a duplicate): the new registration gets the existing UIN, no UIN is issued.
    /// Idempotent. Errors: [`IssuanceError::NoUinToLink`] if the existing registration has no
    /// UIN; [`IssuanceError::LinkConflict`] if the new one already has a different UIN.
    pub fn link(&self, registration_id: &str, existing_registration_id: &str) -> Result<Issued> {
        check_registration_id(registration_id)?;
        check_registration_id(existing_registration_id)?;
        // Under the lock, so an issue of the same id cannot slip between check and write.
        let _state = self.lock();
        let uin = self
            .get_string(&reg_key(existing_registration_id))?
            .ok_or_else(|| IssuanceError::NoUinToLink(existing_registration_id.to_owned()))?;
        match self.get_string(&reg_key(registration_id))? {
            Some(has) if has != uin => {
                return Err(IssuanceError::LinkConflict {
                    registration_id: registration_id.to_owned(),
                    has,
                    wanted: uin,
                })
            }
            Some(_) => {}
            None => {
                let mut batch = WriteBatch::default();
                batch.put(reg_key(registration_id), uin.as_bytes());
                self.db.write_opt(batch, &self.sync)?;
            }
        }
        Ok(Issued {
            registration_id: registration_id.to_owned(),
            uin,
            outcome: Outcome::Linked,
        })
    }
}
