//! [`Engine`]: one shard's gallery — open, insert, delete, compact, stats. Search lives in
//! [`crate::search`].

use crate::calibration::Calibration;
use crate::census::{Census, PartitionSummary, Scope};
use crate::config::{EngineOptions, GalleryConfig, SearchConfig, MAX_FACE_DIM};
use crate::error::{EngineError, Result};
use crate::gallery::{self, Modality, RowWriter};
use crate::reconcile::{self, Reconciled};
use crate::record::{Record, ReferenceId};
use crate::storage::{Backend, Segment, Store};
use abis_matchers::finger::index::FingerSet;
use abis_matchers::iris::IrisLayout;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

const FORMAT_VERSION: u64 = 1;
const KEY_FORMAT: &str = "format";
const KEY_SHAPE: &str = "shape";
const KEY_NEXT_SLOT: &str = "next_slot";
const KEY_GALLERY_ID: &str = "gallery_id";

/// Outcome of one insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Newly enrolled.
    Inserted,
    /// Already enrolled with identical content; nothing changed.
    AlreadyPresent,
}

/// Outcome of one delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The record was enrolled and is now deleted.
    Deleted,
    /// No record had this reference id (or an earlier item of the same batch deleted it).
    NotFound,
}

/// A snapshot of the gallery's size and storage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Live (searchable) records.
    pub records: u64,
    /// Deleted records whose rows still sit in segments until compaction.
    pub pending_tombstones: u64,
    /// Iris layout, as rows x cols x bits.
    pub iris_layout: String,
    /// Face dimension.
    pub face_dim: usize,
    /// Per segment: name, rows, bytes of row data.
    pub segments: Vec<SegmentStats>,
    /// What open found in each segment.
    pub opened: Vec<String>,
}

/// One segment's size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentStats {
    /// Segment (modality) name.
    pub name: String,
    /// Rows, including rows of deleted records not yet compacted.
    pub rows: u64,
    /// Bytes of row data over all columns.
    pub bytes: u64,
}

/// The state search reads; guarded by the engine's lock.
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) shape: GalleryConfig,
    pub(crate) search: SearchConfig,
    pub(crate) calibration: Calibration,
    pub(crate) segments: Vec<Segment>,
    dead: Vec<u64>,
    pub(crate) live: u64,
    pub(crate) census: Census,
    next_slot: u32,
    tombstones: u64,
    opened: Vec<String>,
    /// Set when a segment failed to take rows RocksDB already holds: search would miss records,
    /// so it refuses to answer until the gallery is reopened (which repairs the segment).
    degraded: Option<String>,
}

impl Inner {
    /// True if the slot was deleted (its rows are skipped by search).
    pub(crate) fn is_dead(&self, slot: u32) -> bool {
        self.dead
            .get(slot as usize / 64)
            .is_some_and(|w| w >> (slot % 64) & 1 == 1)
    }

    fn mark_dead(&mut self, slot: u32) {
        let w = slot as usize / 64;
        if w >= self.dead.len() {
            self.dead.resize(w + 1, 0);
        }
        self.dead[w] |= 1 << (slot % 64);
    }

    /// Whether search sees the row of `slot`: a live record in `scope`.
    pub(crate) fn visible(&self, slot: u32, scope: Scope<'_>) -> bool {
        !self.is_dead(slot) && self.census.in_scope(slot, scope)
    }

    /// Fails closed: an error if search could not cover every live record.
    pub(crate) fn check_searchable(&self) -> Result<()> {
        match &self.degraded {
            None => Ok(()),
            Some(why) => Err(EngineError::corruption(
                "segments",
                format!("search unavailable until reopen: {why}"),
            )),
        }
    }

    pub(crate) fn segment(&self, m: Modality) -> &Segment {
        &self.segments[m.index()]
    }
}

/// One shard's gallery. Cheap to share: wrap it in an `Arc`; every method takes `&self`.
pub struct Engine {
    dir: PathBuf,
    backend: Backend,
    gallery_id: u128,
    inner: RwLock<Inner>,
}

impl Engine {
    /// Opens the gallery in `dir`, creating it if the directory is missing or empty (unless
    /// `options.must_exist`: then a directory without a gallery is [`EngineError::BadDataDir`]).
    ///
    /// An existing gallery keeps its shape; passing a different `options.gallery` is refused.
    /// Segments are verified and repaired or rebuilt from RocksDB as needed (see
    /// [`crate::reconcile`]).
    pub fn open(dir: impl AsRef<Path>, options: EngineOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        check_data_dir(&dir, options.must_exist)?;
        let bad = |reason: String| EngineError::BadDataDir {
            path: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir.join("segments")).map_err(|e| bad(e.to_string()))?;
        let store = Store::open(
            &dir.join("db"),
            !options.unsafe_no_sync,
            options.keyring.clone(),
        )?;
        if options.keyring.is_none() && store.first_record_sealed()? {
            return Err(EngineError::BadDataDir {
                path: dir.display().to_string(),
                reason: "its records are sealed: give the key file (--key-file or \
                         ABIS_DATA_KEYS)"
                    .into(),
            });
        }
        let shape = match (store.meta(KEY_FORMAT)?, store.meta(KEY_SHAPE)?) {
            (None, _) => {
                let shape = options.gallery.unwrap_or_default();
                check_shape(&shape).map_err(bad)?;
                let mut batch = store.batch();
                batch.put_meta(&store, KEY_FORMAT, &FORMAT_VERSION.to_le_bytes());
                batch.put_meta(&store, KEY_SHAPE, &encode_shape(&shape));
                store.commit(batch)?;
                shape
            }
            (Some(_), shape_bytes) => {
                let format = store.meta_u64(KEY_FORMAT)?;
                if format != FORMAT_VERSION {
                    return Err(bad(format!(
                        "gallery format {format}, this build reads {FORMAT_VERSION}"
                    )));
                }
                let stored = shape_bytes
                    .and_then(|b| decode_shape(&b))
                    .ok_or_else(|| EngineError::corruption("meta", "gallery shape unreadable"))?;
                if let Some(asked) = options.gallery {
                    if asked != stored {
                        return Err(bad(format!(
                            "gallery holds {}, asked for {}",
                            describe(&stored),
                            describe(&asked)
                        )));
                    }
                }
                stored
            }
        };
        let gallery_id = match store.meta(KEY_GALLERY_ID)? {
            Some(b) => <[u8; 16]>::try_from(b.as_slice())
                .map(u128::from_le_bytes)
                .map_err(|_| EngineError::corruption("meta", "gallery id unreadable"))?,
            None => {
                // Made once, at creation (or at the first open of a gallery from before ids).
                let id: u128 = rand::random();
                let mut batch = store.batch();
                batch.put_meta(&store, KEY_GALLERY_ID, &id.to_le_bytes());
                store.commit(batch)?;
                id
            }
        };
        let backend = gallery::backend(&dir, options.memory_segments);
        let mut segments = Vec::new();
        let mut opened = Vec::new();
        for (m, spec) in Modality::ALL.iter().zip(gallery::specs(&shape)) {
            let (seg, how) = reconcile::reconcile(&store, &backend, &shape, *m, &spec)?;
            opened.push(match how {
                Reconciled::Clean => format!("{}: clean", spec.name),
                Reconciled::TailRepaired { rows } => {
                    format!("{}: {rows} rows restored from RocksDB", spec.name)
                }
                Reconciled::Rebuilt { reason } => format!("{}: rebuilt ({reason})", spec.name),
            });
            segments.push(seg);
        }
        let tombstones = store.tombstones()?;
        let census = take_census(&store, &options)?;
        let mut inner = Inner {
            live: census.live(Scope::All),
            census,
            next_slot: store.meta_u64(KEY_NEXT_SLOT)? as u32,
            tombstones: tombstones.len() as u64,
            store,
            shape,
            search: options.search,
            calibration: options
                .calibration
                .unwrap_or_else(|| Calibration::for_gallery(&shape)),
            segments,
            dead: Vec::new(),
            opened,
            degraded: None,
        };
        for slot in tombstones {
            inner.mark_dead(slot);
        }
        Ok(Self {
            dir,
            backend,
            gallery_id,
            inner: RwLock::new(inner),
        })
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A random id made when the gallery was created and stored in it: another directory (a
    /// wiped or replaced one) has another id, a copy of this one (a restored backup) the same.
    pub fn gallery_id(&self) -> u128 {
        self.gallery_id
    }

    /// The gallery's shape.
    pub fn shape(&self) -> GalleryConfig {
        self.read().shape
    }

    /// Live records.
    pub fn len(&self) -> u64 {
        self.read().live
    }

    /// True when no record is enrolled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Enrols one record; see [`Engine::insert_batch`].
    pub fn insert(&self, record: Record) -> Result<InsertOutcome> {
        Ok(self.insert_batch(vec![record])?[0])
    }

    /// Enrols records atomically: either all are stored (or found already present) or, on any
    /// error, none is. Returns once the batch is durable in RocksDB (WAL fsynced) and searchable.
    ///
    /// Inserts are idempotent by reference id: the same id with identical content is
    /// [`InsertOutcome::AlreadyPresent`]; the same id with other content is
    /// [`EngineError::AlreadyExists`].
    pub fn insert_batch(&self, mut records: Vec<Record>) -> Result<Vec<InsertOutcome>> {
        // Validation and finger codes (~0.2 ms per finger) depend on the record and the
        // gallery's fixed shape only: done before the write lock, so searches keep running.
        let shape = self.read().shape;
        for r in &mut records {
            r.validate_and_normalise(&shape)?;
        }
        let finger_sets: Vec<Option<FingerSet>> = {
            use rayon::prelude::*;
            records
                .par_iter()
                .map(|r| (!r.fingers.is_empty()).then(|| gallery::finger_set(r)))
                .collect()
        };
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let mut outcomes = Vec::with_capacity(records.len());
        let mut seen = std::collections::HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Some(&j) = seen.get(&r.reference_id) {
                let prior: &Record = &records[j];
                if !prior.same_content(r) {
                    return Err(EngineError::AlreadyExists(r.reference_id.to_string()));
                }
                outcomes.push(InsertOutcome::AlreadyPresent);
                continue;
            }
            seen.insert(r.reference_id.clone(), i);
            outcomes.push(match inner.store.slot_of(&r.reference_id)? {
                None => InsertOutcome::Inserted,
                Some(slot) => match inner.store.record(slot)? {
                    Some(existing) if existing.same_content(r) => InsertOutcome::AlreadyPresent,
                    _ => return Err(EngineError::AlreadyExists(r.reference_id.to_string())),
                },
            });
        }
        let (new, finger_sets): (Vec<&Record>, Vec<&Option<FingerSet>>) = records
            .iter()
            .zip(&finger_sets)
            .zip(&outcomes)
            .filter(|(_, o)| **o == InsertOutcome::Inserted)
            .map(|(r, _)| r)
            .unzip();
        if new.is_empty() {
            return Ok(outcomes);
        }
        let first_slot = inner.next_slot;
        let Some(next_slot) = first_slot
            .checked_add(new.len() as u32)
            .filter(|s| *s < u32::MAX)
        else {
            return Err(EngineError::InvalidRequest(
                "shard is full (2^32 slots)".into(),
            ));
        };
        let mut batch = inner.store.batch();
        let mut added = [0u64; Modality::ALL.len()];
        let mut summaries = Vec::with_capacity(new.len());
        for (i, r) in new.iter().enumerate() {
            summaries.push(batch.put_record(&inner.store, first_slot + i as u32, r));
            for m in Modality::ALL {
                added[m.index()] += u64::from(m.present_in(r));
            }
        }
        batch.put_meta(
            &inner.store,
            KEY_NEXT_SLOT,
            &u64::from(next_slot).to_le_bytes(),
        );
        for m in Modality::ALL {
            let seg = &inner.segments[m.index()];
            let rows = seg.len() as u64 + added[m.index()];
            batch.put_meta(
                &inner.store,
                &reconcile::expected_rows_key(seg.spec()),
                &rows.to_le_bytes(),
            );
        }
        inner.store.commit(batch)?;
        // Durable from here on. Rows appended below are derived data: if the process dies before
        // they are written, the next open restores them from RocksDB.
        inner.next_slot = next_slot;
        inner.live += new.len() as u64;
        for (i, (r, (content, mask))) in new.iter().zip(summaries).enumerate() {
            inner.census.add(
                r.reference_id.as_str(),
                first_slot + i as u32,
                content,
                mask,
            );
        }
        let mut writer = RowWriter::new(shape);
        let appended = Modality::ALL.iter().try_for_each(|m| {
            let seg = &mut inner.segments[m.index()];
            new.iter()
                .zip(&finger_sets)
                .enumerate()
                .try_for_each(|(i, (r, f))| {
                    writer.append_with(seg, *m, first_slot + i as u32, r, f.as_ref())
                })
        });
        if let Err(e) = appended {
            inner.degraded = Some(e.to_string());
            return Err(e);
        }
        Ok(outcomes)
    }

    /// Deletes a record: durable tombstone first, rows reclaimed by [`Engine::compact`]. An id
    /// that is not enrolled is [`EngineError::NotFound`].
    pub fn delete(&self, id: &ReferenceId) -> Result<()> {
        match self.delete_batch(std::slice::from_ref(id))?[0] {
            DeleteOutcome::Deleted => Ok(()),
            DeleteOutcome::NotFound => Err(EngineError::NotFound(id.to_string())),
        }
    }

    /// Deletes a batch of records in one durable write (one fsync for the whole batch), and
    /// says per id whether it was enrolled. Nothing is deleted if the write fails.
    pub fn delete_batch(&self, ids: &[ReferenceId]) -> Result<Vec<DeleteOutcome>> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let mut batch = inner.store.batch();
        let mut slots = std::collections::HashSet::new();
        let mut outcomes = Vec::with_capacity(ids.len());
        for id in ids {
            outcomes.push(match inner.store.slot_of(id)? {
                Some(slot) if slots.insert(slot) => {
                    batch.delete_record(&inner.store, id, slot);
                    DeleteOutcome::Deleted
                }
                _ => DeleteOutcome::NotFound,
            });
        }
        if slots.is_empty() {
            return Ok(outcomes);
        }
        inner.store.commit(batch)?;
        for &slot in &slots {
            inner.mark_dead(slot);
            inner.census.remove(slot);
        }
        inner.live -= slots.len() as u64;
        inner.tombstones += slots.len() as u64;
        Ok(outcomes)
    }

    /// Every partition's live records and digest (see [`crate::census`]), in partition order:
    /// one entry without a partitioner.
    pub fn partitions(&self) -> Vec<PartitionSummary> {
        self.read().census.summaries()
    }

    /// The stored record of a reference id.
    pub fn get(&self, id: &ReferenceId) -> Result<Record> {
        let inner = self.read();
        let slot = inner
            .store
            .slot_of(id)?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        inner
            .store
            .record(slot)?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// Up to `limit` enrolled reference ids in ascending bytewise order, strictly after `after`
    /// (from the first when `None`): pages through the gallery, e.g. to scan or count a subset.
    pub fn reference_ids(
        &self,
        after: Option<&ReferenceId>,
        limit: usize,
    ) -> Result<Vec<ReferenceId>> {
        self.read().store.ids_after(after, limit)
    }

    /// Rewrites every segment without the rows of deleted records and clears the tombstones.
    /// Returns the number of rows reclaimed.
    pub fn compact(&self) -> Result<u64> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let before: usize = inner.segments.iter().map(Segment::len).sum();
        let shape = inner.shape;
        let mut rebuilt = Vec::new();
        for (m, spec) in Modality::ALL.iter().zip(gallery::specs(&shape)) {
            rebuilt.push(reconcile::rebuild(
                &inner.store,
                &self.backend,
                &shape,
                *m,
                &spec,
            )?);
        }
        let mut batch = inner.store.batch();
        for slot in inner.store.tombstones()? {
            batch.clear_tombstone(&inner.store, slot);
        }
        inner.store.commit(batch)?;
        inner.segments = rebuilt;
        inner.dead.clear();
        inner.tombstones = 0;
        let after: usize = inner.segments.iter().map(Segment::len).sum();
        Ok((before - after) as u64)
    }

    /// Rewrites every record not sealed under the key ring's current key with it (see
    /// [`crate::crypto`]: after a rotation, or to seal a gallery stored in clear). Returns the
    /// number of records rewritten; 0 without a key ring.
    pub fn reseal(&self) -> Result<u64> {
        let inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.store.reseal(1024)
    }

    /// Flushes RocksDB memtables and segment files (for a clean shutdown; not needed for
    /// durability, which every acknowledged write already has).
    pub fn flush(&self) -> Result<()> {
        let inner = self.read();
        inner.store.flush()?;
        inner.segments.iter().try_for_each(Segment::flush)
    }

    /// Size and storage figures.
    pub fn stats(&self) -> Stats {
        let inner = self.read();
        let l = inner.shape.iris_layout;
        Stats {
            data_dir: self.dir.clone(),
            records: inner.live,
            pending_tombstones: inner.tombstones,
            iris_layout: format!("{}x{}x{}", l.rows(), l.cols(), l.bits_per_cell()),
            face_dim: inner.shape.face_dim,
            segments: inner
                .segments
                .iter()
                .map(|s| SegmentStats {
                    name: s.spec().name.clone(),
                    rows: s.len() as u64,
                    bytes: s.len() as u64 * s.spec().columns.iter().sum::<usize>() as u64,
                })
                .collect(),
            opened: inner.opened.clone(),
        }
    }
}

/// Builds the census from `ids`; values stored before they held content hashes and masks are
/// completed from the records (once, in batches).
fn take_census(store: &Store, options: &EngineOptions) -> Result<Census> {
    let mut census = Census::new(options.partitioner);
    let mut legacy = Vec::new();
    for item in store.id_entries() {
        let (id, entry) = item?;
        match entry.summary {
            Some((content, mask)) => census.add(id.as_str(), entry.slot, content, mask),
            None => legacy.push(entry.slot),
        }
    }
    if !legacy.is_empty() {
        tracing::info!(
            records = legacy.len(),
            "completing the census of an older gallery"
        );
    }
    for chunk in legacy.chunks(4096) {
        let mut batch = store.batch();
        for &slot in chunk {
            let record = store.record(slot)?.ok_or_else(|| {
                EngineError::corruption("ids", format!("slot {slot} has no record"))
            })?;
            let (content, mask) = batch.complete_id_entry(store, slot, &record);
            census.add(record.reference_id.as_str(), slot, content, mask);
        }
        store.commit(batch)?;
    }
    Ok(census)
}

fn check_data_dir(dir: &Path, must_exist: bool) -> Result<()> {
    let bad = |reason: &str| EngineError::BadDataDir {
        path: dir.display().to_string(),
        reason: reason.into(),
    };
    if must_exist && !dir.join("db").join("CURRENT").is_file() {
        return Err(bad(
            "holds no abis gallery (check the path; galleries are created by `abis enroll`, \
             `abis demo` or an explicit create flag)",
        ));
    }
    if dir.exists() {
        if !dir.is_dir() {
            return Err(bad("exists and is not a directory"));
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| bad(&e.to_string()))?;
        let has_db = dir.join("db").join("CURRENT").exists();
        if !has_db && entries.next().is_some() {
            return Err(bad("not empty and not an abis gallery (no db/CURRENT)"));
        }
    }
    Ok(())
}

fn check_shape(shape: &GalleryConfig) -> std::result::Result<(), String> {
    if shape.face_dim == 0 || shape.face_dim > MAX_FACE_DIM {
        return Err(format!(
            "face dimension {} outside 1..={MAX_FACE_DIM}",
            shape.face_dim
        ));
    }
    Ok(())
}

fn describe(s: &GalleryConfig) -> String {
    let l = s.iris_layout;
    format!(
        "iris {}x{}x{} / face {}-d",
        l.rows(),
        l.cols(),
        l.bits_per_cell(),
        s.face_dim
    )
}

fn encode_shape(s: &GalleryConfig) -> Vec<u8> {
    let l = s.iris_layout;
    [l.rows(), l.cols(), l.bits_per_cell(), s.face_dim as u32]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

fn decode_shape(b: &[u8]) -> Option<GalleryConfig> {
    if b.len() != 16 {
        return None;
    }
    let w = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    let iris_layout = IrisLayout::new(w(0), w(1), w(2)).ok()?;
    Some(GalleryConfig {
        iris_layout,
        face_dim: w(3) as usize,
    })
}
