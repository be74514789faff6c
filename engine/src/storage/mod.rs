//! Storage of one shard: RocksDB as the source of truth, segments as derived scan data.
//!
//! Columns sit behind two small traits ([`ColumnRead`] for search, [`ColumnWrite`] for inserts
//! and rebuilds) with a heap backend and a memory-mapped file backend; one conformance suite
//! (`tests.rs`) runs against both.

pub mod codec;
pub mod column;
pub mod mmap;
pub mod rocks;
pub mod segment;
#[cfg(test)]
mod tests;

pub use column::{ColumnRead, ColumnWrite, MemColumn};
pub use mmap::MmapColumn;
pub use rocks::{Store, StoreBatch};
pub use segment::{Backend, RowLayout, RowMeta, Segment, SegmentSpec};
