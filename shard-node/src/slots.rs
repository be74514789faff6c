//! Work over whole slots: counts and digests per slot, scans and drops.
//!
//! The engine groups records by routing slot (its partitions, with
//! [`abis_proto::routing::slot_of`] as the partitioner) and keeps per slot the live count and a
//! digest in memory ([`Engine::partitions`]), so `Count` and `Summaries`, which the coordinator
//! asks often, cost one pass over 4,096 counters. Scans and drops page through every enrolled
//! reference id in bytewise order ([`Engine::reference_ids`], [`ID_PAGE`] ids per call, each
//! call a fresh RocksDB iterator positioned after the previous page's last id) and compute each
//! id's routing slot with [`abis_proto::routing::slot_of`]: one pass over the ids (about a
//! microsecond each: fine for rebalancing and repair, which are rare), and a scan reads the
//! records it returns. Because each page starts after the last id seen, a scan is naturally
//! resumable (`after_reference_id`) and tolerates writes running beside it: records inserted or
//! deleted meanwhile may or may not appear, as the API allows.

use abis_engine::{DeleteOutcome, Engine, EngineError, Partitioner, ReferenceId};
use abis_matchers::iris::IrisLayout;
use abis_proto::record_to_proto;
use abis_proto::routing::{in_ranges, slot_of};
use abis_proto::status::ToErrorDetail;
use abis_proto::v1::{ScanRecordsResponse, SlotRange, SlotSummary};
use abis_proto::SLOT_COUNT;
use tokio::sync::mpsc;
use tonic::Status;

/// Reference ids read per engine call.
pub const ID_PAGE: usize = 4096;

/// Most records per scan message (also the default): a page of full records (two irises, a
/// face and ten fingers are well under 16 KiB) stays below gRPC's default 4 MiB message limit of
/// the receiving client.
pub const MAX_SCAN_PAGE: usize = 256;

/// Calls `visit` with every enrolled reference id after `after`, in bytewise order, until it
/// returns `false`.
fn for_each_id(
    engine: &Engine,
    after: Option<ReferenceId>,
    mut visit: impl FnMut(&ReferenceId) -> Result<bool, Status>,
) -> Result<(), Status> {
    for_each_page(engine, after, |ids| {
        for id in ids {
            if !visit(id)? {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// Calls `visit` with every page of [`ID_PAGE`] enrolled reference ids after `after`, in
/// bytewise order, until it returns `false`.
fn for_each_page(
    engine: &Engine,
    mut after: Option<ReferenceId>,
    mut visit: impl FnMut(&[ReferenceId]) -> Result<bool, Status>,
) -> Result<(), Status> {
    loop {
        let ids = engine
            .reference_ids(after.as_ref(), ID_PAGE)
            .map_err(|e| e.to_status())?;
        if !visit(&ids)? || ids.len() < ID_PAGE {
            return Ok(());
        }
        after = ids.last().cloned();
    }
}

/// The engine's partitioner: routing slots.
pub const PARTITIONER: Partitioner = Partitioner {
    count: SLOT_COUNT,
    of: slot_of,
};

/// Live records per range (a record counts in every range holding its slot).
pub fn count(engine: &Engine, ranges: &[SlotRange]) -> Vec<u64> {
    let parts = engine.partitions();
    ranges
        .iter()
        .map(|r| {
            (r.start..r.end.min(SLOT_COUNT))
                .map(|s| parts.get(s as usize).map_or(0, |p| p.records))
                .sum()
        })
        .collect()
}

/// The summary of every slot of `ranges`, in ascending slot order (a slot in two ranges once).
pub fn summaries(engine: &Engine, ranges: &[SlotRange]) -> Vec<SlotSummary> {
    let parts = engine.partitions();
    let mut slots: Vec<u32> = ranges
        .iter()
        .flat_map(|r| r.start..r.end.min(SLOT_COUNT))
        .collect();
    slots.sort_unstable();
    slots.dedup();
    slots
        .into_iter()
        .map(|slot| {
            let p = parts.get(slot as usize).copied().unwrap_or_default();
            SlotSummary {
                slot,
                records: p.records,
                digest: p.digest,
            }
        })
        .collect()
}

/// Deletes every record whose slot lies in `ranges`; returns how many were deleted.
pub fn drop_ranges(engine: &Engine, ranges: &[SlotRange]) -> Result<u64, Status> {
    let mut deleted = 0;
    for_each_page(engine, None, |ids| {
        let doomed: Vec<ReferenceId> = ids
            .iter()
            .filter(|id| in_ranges(ranges, id.as_str()))
            .cloned()
            .collect();
        // One durable write per page. NotFound: deleted meanwhile by a concurrent Delete.
        let outcomes = engine.delete_batch(&doomed).map_err(|e| e.to_status())?;
        deleted += outcomes
            .iter()
            .filter(|&&o| o == DeleteOutcome::Deleted)
            .count() as u64;
        Ok(true)
    })?;
    Ok(deleted)
}

/// Streams the records of `ranges` after `after` into `tx`, `page_size` per message, until the
/// end of the shard or until the receiver is gone. Returns the number of records sent.
pub fn scan(
    engine: &Engine,
    layout: &IrisLayout,
    ranges: &[SlotRange],
    after: Option<ReferenceId>,
    page_size: usize,
    tx: &mpsc::Sender<Result<ScanRecordsResponse, Status>>,
) -> Result<u64, Status> {
    let mut page = Vec::with_capacity(page_size);
    let mut sent = 0u64;
    let mut open = true;
    let mut flush = |page: &mut Vec<abis_proto::v1::Record>| -> bool {
        let last_reference_id = page.last().map(|r| r.reference_id.clone());
        let records = std::mem::take(page);
        sent += records.len() as u64;
        let message = ScanRecordsResponse {
            records,
            last_reference_id: last_reference_id.unwrap_or_default(),
        };
        tx.blocking_send(Ok(message)).is_ok()
    };
    for_each_id(engine, after, |id| {
        if !in_ranges(ranges, id.as_str()) {
            return Ok(true);
        }
        match engine.get(id) {
            Ok(record) => page.push(record_to_proto(&record, layout)),
            Err(EngineError::NotFound(_)) => return Ok(true),
            Err(e) => return Err(e.to_status()),
        }
        if page.len() == page_size {
            open = flush(&mut page);
        }
        Ok(open)
    })?;
    if open && !page.is_empty() {
        open = flush(&mut page);
    }
    if !open {
        tracing::debug!(sent, "scan stopped: the client went away");
    }
    Ok(sent)
}
