//! A column in a memory-mapped file.
//!
//! Layout: a 64-byte header, then rows at a fixed stride starting at byte 64, so rows whose
//! width is a multiple of 64 are 64-byte aligned in memory (the mapping is page aligned).
//!
//! ```text
//! 0..8    magic "ABISCOL\0"
//! 8..12   format version (u32 LE) = 1
//! 12..16  row bytes (u32 LE)
//! 16..24  committed rows (u64 LE)
//! 24..28  kind tag (u32 LE): what the rows hold, so a file is never read as another column
//! 28..60  reserved, zero
//! 60..64  CRC-32 of bytes 0..60
//! ```
//! The file grows in doubling steps; bytes past the committed rows are ignored. A file whose
//! header does not check out, or that is shorter than its committed rows, is reported as corrupt
//! and the segment is rebuilt from RocksDB.

use super::column::{ColumnRead, ColumnWrite};
use crate::error::{EngineError, Result};
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"ABISCOL\0";
const VERSION: u32 = 1;
/// Header size; rows start here.
pub const HEADER: usize = 64;
const MIN_CAPACITY: usize = 1 << 16;

/// A column stored in a memory-mapped file.
pub struct MmapColumn {
    path: PathBuf,
    file: File,
    map: MmapMut,
    row_bytes: usize,
    rows: usize,
}

impl MmapColumn {
    /// Creates (truncating) a column file.
    pub fn create(path: &Path, row_bytes: usize, kind: u32) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| EngineError::io(path, e))?;
        file.set_len(MIN_CAPACITY.max(HEADER + row_bytes) as u64)
            .map_err(|e| EngineError::io(path, e))?;
        // SAFETY: the file was just created by this process and is only written through this map;
        // other processes must not modify a gallery's files while it is open (documented).
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| EngineError::io(path, e))?;
        let mut column = Self {
            path: path.to_path_buf(),
            file,
            map,
            row_bytes,
            rows: 0,
        };
        column.write_header(kind);
        Ok(column)
    }

    /// Opens an existing column file, checking its header against the expected row width and
    /// kind. Any mismatch or damage is a [`EngineError::DataCorruption`].
    pub fn open(path: &Path, row_bytes: usize, kind: u32) -> Result<Self> {
        let corrupt = |detail: String| EngineError::corruption(path.display().to_string(), detail);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| EngineError::io(path, e))?;
        let len = file.metadata().map_err(|e| EngineError::io(path, e))?.len() as usize;
        if len < HEADER {
            return Err(corrupt(format!(
                "file is {len} bytes, shorter than its header"
            )));
        }
        // SAFETY: as in `create`; the gallery directory is owned by this process while open.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| EngineError::io(path, e))?;
        let h = &map[..HEADER];
        if &h[0..8] != MAGIC {
            return Err(corrupt("bad magic".into()));
        }
        if crc32fast::hash(&h[0..60]) != u32_at(h, 60) {
            return Err(corrupt("header checksum mismatch".into()));
        }
        let version = u32_at(h, 8);
        if version != VERSION {
            return Err(corrupt(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        if u32_at(h, 12) as usize != row_bytes || u32_at(h, 24) != kind {
            return Err(corrupt(format!(
                "holds rows of {} bytes kind {}, expected {row_bytes} bytes kind {kind}",
                u32_at(h, 12),
                u32_at(h, 24)
            )));
        }
        let rows = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes")) as usize;
        if HEADER + rows.saturating_mul(row_bytes) > len {
            return Err(corrupt(format!(
                "{rows} rows committed but the file is truncated at {len} bytes"
            )));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            map,
            row_bytes,
            rows,
        })
    }

    fn write_header(&mut self, kind: u32) {
        let h = &mut self.map[..HEADER];
        h.fill(0);
        h[0..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(self.row_bytes as u32).to_le_bytes());
        h[16..24].copy_from_slice(&(self.rows as u64).to_le_bytes());
        h[24..28].copy_from_slice(&kind.to_le_bytes());
        let crc = crc32fast::hash(&h[0..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
    }

    fn kind(&self) -> u32 {
        u32_at(&self.map, 24)
    }

    fn grow(&mut self, min_len: usize) -> Result<()> {
        let new_len = min_len.max(self.map.len() * 2);
        self.file
            .set_len(new_len as u64)
            .map_err(|e| EngineError::io(&self.path, e))?;
        // SAFETY: as in `create`; the previous map is dropped by the assignment and no slice of it
        // outlives this `&mut self` call.
        self.map =
            unsafe { MmapMut::map_mut(&self.file) }.map_err(|e| EngineError::io(&self.path, e))?;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl ColumnRead for MmapColumn {
    fn row_bytes(&self) -> usize {
        self.row_bytes
    }
    fn len(&self) -> usize {
        self.rows
    }
    fn rows(&self) -> &[u8] {
        &self.map[HEADER..HEADER + self.rows * self.row_bytes]
    }
}

impl ColumnWrite for MmapColumn {
    fn append(&mut self, rows: &[u8]) -> Result<()> {
        debug_assert_eq!(rows.len() % self.row_bytes, 0);
        let start = HEADER + self.rows * self.row_bytes;
        let end = start + rows.len();
        if end > self.map.len() {
            self.grow(end)?;
        }
        self.map[start..end].copy_from_slice(rows);
        self.rows += rows.len() / self.row_bytes;
        let kind = self.kind();
        self.write_header(kind);
        Ok(())
    }

    fn row_mut(&mut self, i: usize) -> &mut [u8] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        let w = self.row_bytes;
        &mut self.map[HEADER + i * w..HEADER + (i + 1) * w]
    }

    fn flush(&self) -> Result<()> {
        self.map.flush().map_err(|e| EngineError::io(&self.path, e))
    }
}
