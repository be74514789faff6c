//! Bringing segments in line with RocksDB at open, and rebuilding them.
//!
//! RocksDB records, per segment, how many rows the segment should hold (`rows/<name>`), updated
//! in the same atomic batch as the records. At open each segment is checked:
//! - it opens, every row checksum holds, and its row count matches: use it;
//! - it is short (the process died after RocksDB acknowledged records but before their rows were
//!   appended): append the missing tail from RocksDB;
//! - anything else (damaged or truncated file, missing file, too many rows, tail mismatch):
//!   rebuild it from RocksDB into temporary files and rename them into place.

use crate::config::GalleryConfig;
use crate::error::{EngineError, Result};
use crate::gallery::{Modality, RowWriter};
use crate::storage::{Backend, Segment, SegmentSpec, Store};

/// What happened to a segment at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// Opened as it was.
    Clean,
    /// Missing rows were appended from RocksDB.
    TailRepaired {
        /// Rows appended.
        rows: u64,
    },
    /// Rebuilt from RocksDB.
    Rebuilt {
        /// Why.
        reason: String,
    },
}

pub(crate) fn expected_rows_key(spec: &SegmentSpec) -> String {
    format!("rows/{}", spec.name)
}

/// Opens and checks one segment, repairing or rebuilding it as needed.
pub(crate) fn reconcile(
    store: &Store,
    backend: &Backend,
    shape: &GalleryConfig,
    modality: Modality,
    spec: &SegmentSpec,
) -> Result<(Segment, Reconciled)> {
    let expected = store.meta_u64(&expected_rows_key(spec))?;
    if expected == 0 && store.records_from(0).next().is_none() {
        // A new (or emptied) gallery: nothing to verify, start clean.
        return Ok((Segment::create(backend, spec, false)?, Reconciled::Clean));
    }
    let reason = match Segment::open(backend, spec) {
        Ok(mut seg) => {
            let have = seg.len() as u64;
            if have == expected {
                return Ok((seg, Reconciled::Clean));
            }
            if have < expected {
                let from = seg.last_slot().map_or(0, |s| s + 1);
                append_from(store, shape, modality, &mut seg, from)?;
                if seg.len() as u64 == expected {
                    seg.flush()?;
                    return Ok((
                        seg,
                        Reconciled::TailRepaired {
                            rows: expected - have,
                        },
                    ));
                }
                format!(
                    "tail repair gave {} rows, RocksDB expects {expected}",
                    seg.len()
                )
            } else {
                format!("{have} rows, RocksDB expects {expected}")
            }
        }
        Err(EngineError::DataCorruption { what, detail }) => format!("{what}: {detail}"),
        Err(e) => return Err(e),
    };
    if *backend != Backend::Memory {
        tracing::warn!(segment = %spec.name, %reason, "rebuilding segment from RocksDB");
    }
    let seg = rebuild(store, backend, shape, modality, spec)?;
    Ok((seg, Reconciled::Rebuilt { reason }))
}

/// Rebuilds a segment from every record in RocksDB and records its new row count.
pub(crate) fn rebuild(
    store: &Store,
    backend: &Backend,
    shape: &GalleryConfig,
    modality: Modality,
    spec: &SegmentSpec,
) -> Result<Segment> {
    let mut seg = Segment::create(backend, spec, true)?;
    append_from(store, shape, modality, &mut seg, 0)?;
    seg.promote(backend)?;
    let mut batch = store.batch();
    batch.put_meta(
        store,
        &expected_rows_key(spec),
        &(seg.len() as u64).to_le_bytes(),
    );
    store.commit(batch)?;
    Ok(seg)
}

fn append_from(
    store: &Store,
    shape: &GalleryConfig,
    modality: Modality,
    seg: &mut Segment,
    from: u32,
) -> Result<()> {
    let mut writer = RowWriter::new(*shape);
    for item in store.records_from(from) {
        let (slot, record) = item?;
        writer.append(seg, modality, slot, &record)?;
    }
    Ok(())
}
