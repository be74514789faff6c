//! A segment: the rows of one modality position (e.g. left iris), as parallel columns plus a
//! per-row metadata column, with a slot -> row map.
//!
//! Segments are derived data. RocksDB is the source of truth; a segment only makes search a
//! linear walk over contiguous memory. Each row's metadata holds the record's slot, one auxiliary
//! float (the i8 scale of a face row) and a CRC-32 of the row's bytes in every column followed by
//! that slot and that float, so damage anywhere in a segment, its metadata included, is detected
//! on open and the segment is rebuilt (a flipped slot would attribute a row to another person; a
//! flipped scale would hide a mate from the first pass).
//!
//! Iris segments store their rows interleaved ([`RowLayout::Interleaved`]): each column row is a
//! block of eight records, word by word, which is what the wide iris kernel scans. A block is
//! appended when its first record arrives and later records fill their lanes in place; lanes past
//! the last record are never read as records (the metadata column's length says how many there
//! are), so a crash between filling a lane and appending its metadata leaves nothing visible.

use super::column::{ColumnRead, ColumnWrite, MemColumn};
use super::mmap::MmapColumn;
use crate::error::{EngineError, Result};
use abis_matchers::iris::interleaved::{get_row, put_row, BLOCK_ROWS};
use rayon::prelude::*;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Bytes of one row's metadata.
pub const META_BYTES: usize = 16;
const NO_ROW: u32 = u32::MAX;

/// Where segment columns live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Memory-mapped files in this directory (the default; survives restarts).
    Mmap(PathBuf),
    /// The heap; rebuilt from RocksDB at every open.
    Memory,
}

/// How a segment's columns hold their rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLayout {
    /// One row after another (face, fingers).
    Rows,
    /// [`BLOCK_ROWS`] rows per block, interleaved 64-bit word by word
    /// ([`abis_matchers::iris::interleaved`]); every column's row width must be a multiple of 8.
    Interleaved,
}

/// What a segment holds: a name (file stem), the row width of each column, how rows are laid
/// out, and a kind tag written into every file header so files are never mixed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// File stem, e.g. `iris-left`.
    pub name: String,
    /// Row bytes of each column (of one record, also when interleaved).
    pub columns: Vec<usize>,
    /// Row layout of every column.
    pub layout: RowLayout,
    /// Kind tag (also encodes the shape and layout, so a file of another layout is refused).
    pub kind: u32,
}

impl SegmentSpec {
    /// Bytes of one stored row of column `i`: a record's row, or a block of them.
    fn stored_row_bytes(&self, i: usize) -> usize {
        match self.layout {
            RowLayout::Rows => self.columns[i],
            RowLayout::Interleaved => BLOCK_ROWS * self.columns[i],
        }
    }

    /// Stored rows that hold `records` records.
    fn stored_rows(&self, records: usize) -> usize {
        match self.layout {
            RowLayout::Rows => records,
            RowLayout::Interleaved => records.div_ceil(BLOCK_ROWS),
        }
    }
}

/// One row's metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowMeta {
    /// The record's dense slot.
    pub slot: u32,
    /// Per-row auxiliary value (face: the i8 quantisation scale).
    pub aux: f32,
    /// CRC-32 over the row's bytes in every column, in column order, then `slot` and `aux`
    /// (little-endian): every byte search depends on.
    pub crc: u32,
}

impl RowMeta {
    fn encode(&self) -> [u8; META_BYTES] {
        let mut b = [0u8; META_BYTES];
        b[0..4].copy_from_slice(&self.slot.to_le_bytes());
        b[4..8].copy_from_slice(&self.aux.to_le_bytes());
        b[8..12].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Self {
        let word = |i: usize| <[u8; 4]>::try_from(&b[i..i + 4]).expect("4 bytes");
        Self {
            slot: u32::from_le_bytes(word(0)),
            aux: f32::from_le_bytes(word(4)),
            crc: u32::from_le_bytes(word(8)),
        }
    }
}

type Col = Box<dyn ColumnWrite>;

/// A modality position's rows.
pub struct Segment {
    spec: SegmentSpec,
    columns: Vec<Col>,
    meta: Col,
    slot_rows: Vec<u32>,
}

impl Segment {
    /// Creates an empty segment (truncating existing files). With `tmp`, the files get a `.tmp`
    /// suffix and [`Segment::promote`] later renames them over the live ones.
    pub fn create(backend: &Backend, spec: &SegmentSpec, tmp: bool) -> Result<Self> {
        let mut columns: Vec<Col> = Vec::with_capacity(spec.columns.len());
        let meta: Col = match backend {
            Backend::Memory => {
                for i in 0..spec.columns.len() {
                    columns.push(Box::new(MemColumn::new(spec.stored_row_bytes(i))));
                }
                Box::new(MemColumn::new(META_BYTES))
            }
            Backend::Mmap(dir) => {
                for i in 0..spec.columns.len() {
                    columns.push(Box::new(MmapColumn::create(
                        &column_path(dir, spec, Some(i), tmp),
                        spec.stored_row_bytes(i),
                        spec.kind,
                    )?));
                }
                Box::new(MmapColumn::create(
                    &column_path(dir, spec, None, tmp),
                    META_BYTES,
                    spec.kind,
                )?)
            }
        };
        Ok(Self {
            spec: spec.clone(),
            columns,
            meta,
            slot_rows: Vec::new(),
        })
    }

    /// Opens a segment and verifies every row's checksum. Missing files, damaged headers,
    /// columns of unequal length or a checksum mismatch are [`EngineError::DataCorruption`]
    /// (the caller rebuilds). The memory backend always opens empty.
    pub fn open(backend: &Backend, spec: &SegmentSpec) -> Result<Self> {
        let dir = match backend {
            Backend::Memory => return Self::create(backend, spec, false),
            Backend::Mmap(dir) => dir,
        };
        let mut columns: Vec<Col> = Vec::with_capacity(spec.columns.len());
        for i in 0..spec.columns.len() {
            columns.push(Box::new(open_existing(
                &column_path(dir, spec, Some(i), false),
                spec.stored_row_bytes(i),
                spec.kind,
            )?));
        }
        let meta: Col = Box::new(open_existing(
            &column_path(dir, spec, None, false),
            META_BYTES,
            spec.kind,
        )?);
        let mut seg = Self {
            spec: spec.clone(),
            columns,
            meta,
            slot_rows: Vec::new(),
        };
        seg.verify()?;
        seg.index_slots()?;
        Ok(seg)
    }

    fn verify(&self) -> Result<()> {
        let rows = self.meta.len();
        let stored = self.spec.stored_rows(rows);
        if let Some(c) = self.columns.iter().find(|c| c.len() != stored) {
            return Err(EngineError::corruption(
                &self.spec.name,
                format!(
                    "column holds {} stored rows, metadata {rows} records ({stored} stored rows)",
                    c.len()
                ),
            ));
        }
        let bad = (0..rows)
            .into_par_iter()
            .find_any(|&i| self.row_crc(i) != self.meta(i).crc);
        match bad {
            Some(i) => Err(EngineError::corruption(
                &self.spec.name,
                format!("row {i} fails its checksum"),
            )),
            None => Ok(()),
        }
    }

    fn index_slots(&mut self) -> Result<()> {
        self.slot_rows.clear();
        for i in 0..self.len() {
            let slot = self.meta(i).slot;
            if self.last_slot_before(i).is_some_and(|prev| prev >= slot) {
                return Err(EngineError::corruption(
                    &self.spec.name,
                    format!("row {i}: slots out of order"),
                ));
            }
            self.map_slot(slot, i);
        }
        Ok(())
    }

    fn last_slot_before(&self, i: usize) -> Option<u32> {
        i.checked_sub(1).map(|j| self.meta(j).slot)
    }

    fn map_slot(&mut self, slot: u32, row: usize) {
        let s = slot as usize;
        if s >= self.slot_rows.len() {
            self.slot_rows.resize(s + 1, NO_ROW);
        }
        self.slot_rows[s] = row as u32;
    }

    fn row_crc(&self, i: usize) -> u32 {
        let mut h = crc32fast::Hasher::new();
        for c in 0..self.columns.len() {
            h.update(&self.row(c, i));
        }
        let meta = self.meta(i);
        seal(h, meta.slot, meta.aux)
    }

    /// Record `i`'s row in column `c`: borrowed, or copied out of its block when interleaved.
    pub fn row(&self, c: usize, i: usize) -> Cow<'_, [u8]> {
        let column = &self.columns[c];
        match self.spec.layout {
            RowLayout::Rows => Cow::Borrowed(column.row(i)),
            RowLayout::Interleaved => {
                let mut row = vec![0u8; self.spec.columns[c]];
                get_row(column.row(i / BLOCK_ROWS), i % BLOCK_ROWS, &mut row);
                Cow::Owned(row)
            }
        }
    }

    /// Appends one row: one slice per column (each exactly that column's row width). Slots must
    /// be appended in increasing order.
    pub fn append(&mut self, slot: u32, aux: f32, rows: &[&[u8]]) -> Result<()> {
        debug_assert_eq!(rows.len(), self.columns.len());
        debug_assert!(
            self.last_slot().is_none_or(|s| s < slot),
            "slots are appended in order"
        );
        let row = self.len();
        let mut h = crc32fast::Hasher::new();
        for (i, (c, r)) in self.columns.iter_mut().zip(rows).enumerate() {
            debug_assert_eq!(r.len(), self.spec.columns[i]);
            h.update(r);
            match self.spec.layout {
                RowLayout::Rows => c.append(r)?,
                RowLayout::Interleaved => {
                    let (block, lane) = (row / BLOCK_ROWS, row % BLOCK_ROWS);
                    if lane == 0 {
                        c.append(&vec![0u8; BLOCK_ROWS * r.len()])?;
                    }
                    put_row(c.row_mut(block), lane, r);
                }
            }
        }
        self.meta.append(
            &RowMeta {
                slot,
                aux,
                crc: seal(h, slot, aux),
            }
            .encode(),
        )?;
        self.map_slot(slot, row);
        Ok(())
    }

    /// Renames a segment created with `tmp` over the live files (mmap backend).
    pub fn promote(&self, backend: &Backend) -> Result<()> {
        if let Backend::Mmap(dir) = backend {
            self.flush()?;
            let names: Vec<Option<usize>> =
                (0..self.columns.len()).map(Some).chain([None]).collect();
            for i in names {
                let from = column_path(dir, &self.spec, i, true);
                let to = column_path(dir, &self.spec, i, false);
                std::fs::rename(&from, &to).map_err(|e| EngineError::io(&to, e))?;
            }
        }
        Ok(())
    }

    /// Flushes every column.
    pub fn flush(&self) -> Result<()> {
        self.columns.iter().try_for_each(|c| c.flush())?;
        self.meta.flush()
    }

    /// The segment's spec.
    pub fn spec(&self) -> &SegmentSpec {
        &self.spec
    }

    /// Rows held (including rows of records deleted since the last compaction).
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when the segment holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Column `i`, for scanning: its rows are records' rows, or for an interleaved segment
    /// blocks of [`BLOCK_ROWS`] records (exactly `len().div_ceil(BLOCK_ROWS)` of them).
    pub fn column(&self, i: usize) -> &dyn ColumnRead {
        self.columns[i].as_ref()
    }

    /// Row `i`'s metadata.
    pub fn meta(&self, i: usize) -> RowMeta {
        RowMeta::decode(self.meta.row(i))
    }

    /// The row holding `slot`, if any.
    pub fn row_of(&self, slot: u32) -> Option<usize> {
        self.slot_rows
            .get(slot as usize)
            .filter(|&&r| r != NO_ROW)
            .map(|&r| r as usize)
    }

    /// The slot of the last row.
    pub fn last_slot(&self) -> Option<u32> {
        self.len().checked_sub(1).map(|i| self.meta(i).slot)
    }
}

/// Finishes a row's checksum over its column bytes with its metadata (slot, aux).
fn seal(mut h: crc32fast::Hasher, slot: u32, aux: f32) -> u32 {
    h.update(&slot.to_le_bytes());
    h.update(&aux.to_le_bytes());
    h.finalize()
}

fn open_existing(path: &Path, row_bytes: usize, kind: u32) -> Result<MmapColumn> {
    if !path.exists() {
        return Err(EngineError::corruption(
            path.display().to_string(),
            "file missing",
        ));
    }
    MmapColumn::open(path, row_bytes, kind)
}

fn column_path(dir: &Path, spec: &SegmentSpec, column: Option<usize>, tmp: bool) -> PathBuf {
    let stem = match column {
        Some(i) => format!("{}.c{i}.seg", spec.name),
        None => format!("{}.meta.seg", spec.name),
    };
    dir.join(if tmp { format!("{stem}.tmp") } else { stem })
}

/// The files of a segment (for tests and operators).
pub fn segment_files(dir: &Path, spec: &SegmentSpec) -> Vec<PathBuf> {
    (0..spec.columns.len())
        .map(Some)
        .chain([None])
        .map(|c| column_path(dir, spec, c, false))
        .collect()
}
