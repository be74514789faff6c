//! Columns: fixed-stride rows of bytes, the unit of segment storage.
//!
//! Search needs only [`ColumnRead`]: the row width and one contiguous byte slice of every row, so
//! a scan is a linear walk over memory. [`ColumnWrite`] adds appending (and filling a row in
//! place, for interleaved segments whose row unit is a block of records). Two backends implement
//! both: [`MemColumn`] (heap, 64-byte aligned) and [`super::mmap::MmapColumn`] (a memory-mapped
//! file with a checksummed header). The conformance tests in `tests.rs` run against both.

use crate::error::Result;

/// Rows start at 64-byte boundaries when `row_bytes` is a multiple of 64.
pub const ALIGN: usize = 64;

/// What search reads.
pub trait ColumnRead: Send + Sync {
    /// Bytes per row.
    fn row_bytes(&self) -> usize;
    /// Number of rows.
    fn len(&self) -> usize;
    /// All rows, contiguous: `len() * row_bytes()` bytes.
    fn rows(&self) -> &[u8];
    /// True when the column holds no row.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One row.
    fn row(&self, i: usize) -> &[u8] {
        let w = self.row_bytes();
        &self.rows()[i * w..(i + 1) * w]
    }
}

/// What inserts and rebuilds write.
pub trait ColumnWrite: ColumnRead {
    /// Appends whole rows (`rows.len()` a multiple of `row_bytes()`).
    fn append(&mut self, rows: &[u8]) -> Result<()>;
    /// Row `i` (`i < len()`), to fill in place: an interleaved segment appends a block of rows
    /// once and then writes its lanes one record at a time.
    fn row_mut(&mut self, i: usize) -> &mut [u8];
    /// Pushes appended rows towards stable storage (a no-op for memory). Segments are derived
    /// data, so this is about faster reopening, not about durability.
    fn flush(&self) -> Result<()>;
}

/// A column on the heap.
pub struct MemColumn {
    row_bytes: usize,
    rows: usize,
    blocks: Vec<Block>,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; ALIGN]);

impl MemColumn {
    /// An empty column of `row_bytes`-wide rows.
    pub fn new(row_bytes: usize) -> Self {
        assert!(row_bytes > 0, "rows are at least one byte");
        Self {
            row_bytes,
            rows: 0,
            blocks: Vec::new(),
        }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `Block` is `repr(C)` over a byte array, so the vector's storage is
        // `blocks.len() * 64` initialised bytes, valid for the borrow of `self`.
        unsafe {
            std::slice::from_raw_parts(self.blocks.as_ptr().cast::<u8>(), self.blocks.len() * ALIGN)
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, with exclusive access through `&mut self`.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.blocks.as_mut_ptr().cast::<u8>(),
                self.blocks.len() * ALIGN,
            )
        }
    }
}

impl ColumnRead for MemColumn {
    fn row_bytes(&self) -> usize {
        self.row_bytes
    }
    fn len(&self) -> usize {
        self.rows
    }
    fn rows(&self) -> &[u8] {
        &self.bytes()[..self.rows * self.row_bytes]
    }
}

impl ColumnWrite for MemColumn {
    fn append(&mut self, rows: &[u8]) -> Result<()> {
        debug_assert_eq!(rows.len() % self.row_bytes, 0);
        let start = self.rows * self.row_bytes;
        let end = start + rows.len();
        let need = end.div_ceil(ALIGN);
        if need > self.blocks.len() {
            self.blocks
                .resize(need.max(self.blocks.len() * 2), Block([0; ALIGN]));
        }
        self.bytes_mut()[start..end].copy_from_slice(rows);
        self.rows += rows.len() / self.row_bytes;
        Ok(())
    }
    fn row_mut(&mut self, i: usize) -> &mut [u8] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        let w = self.row_bytes;
        &mut self.bytes_mut()[i * w..(i + 1) * w]
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
