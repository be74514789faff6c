//! The `abis.v1.Shard` service: every handler validates and converts the request with
//! `abis-proto`, calls the engine on the blocking pool, and converts the answer back.
//!
//! Choices the proto leaves to the node:
//! - **Insert** is atomic in the engine; to give per-record results when some records collide
//!   with other content under the same id (`ALREADY_EXISTS`), a batch the engine refuses for that
//!   reason is retried record by record, so the other records still go in. Every record is
//!   validated against the gallery first, so a bad template refuses the whole batch naming its
//!   index.
//! - **IdentifyBatch** with slot ranges asks the engine for every candidate above the threshold,
//!   filters them by slot and only then keeps `max_results`. The engine either searches all of
//!   the shard's live records or fails, so a result is always `COMPLETE`.
//! - **ScanRecords** streams from one blocking task per scan with a two-message buffer, so a
//!   slow reader holds back the scan rather than filling memory.

use crate::node::{item_status, Node};
use crate::slots::{self, SlotCounts, MAX_SCAN_PAGE};
use abis_engine::{DeleteOutcome, EngineError, IdentifyRequest, InsertOutcome, Record, Threshold};
use abis_proto::status::ToErrorDetail;
use abis_proto::v1::shard_server::Shard;
use abis_proto::v1::{self, SlotRange};
use abis_proto::{
    batch_into_engine, identify_result_to_proto, record_to_proto, reference_id, ProtoError,
    MAX_BATCH_ITEMS,
};
use std::sync::Arc;
use std::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// The shard service over a shared [`Node`].
#[derive(Clone)]
pub struct ShardService(pub Arc<Node>);

fn check_ranges(ranges: &[SlotRange], required: bool) -> Result<(), ProtoError> {
    if required && ranges.is_empty() {
        return Err(ProtoError::missing("slots"));
    }
    ranges.iter().try_for_each(SlotRange::validate)
}

fn check_count(field: &str, n: usize) -> Result<(), ProtoError> {
    if n == 0 || n > MAX_BATCH_ITEMS {
        return Err(ProtoError::OutOfRange {
            field: field.into(),
            reason: format!("{n} items, 1 to {MAX_BATCH_ITEMS} accepted"),
        });
    }
    Ok(())
}

/// Inserts, falling back to one record at a time when the batch holds a conflicting id; counts
/// every record inserted in its slot.
fn insert_records(
    engine: &abis_engine::Engine,
    slots: &SlotCounts,
    records: Vec<Record>,
) -> Result<Vec<v1::InsertResult>, Status> {
    let result = |r: &Record, outcome: Option<InsertOutcome>, error: Option<v1::ErrorDetail>| {
        if outcome == Some(InsertOutcome::Inserted) {
            slots.added(r.reference_id.as_str());
        }
        v1::InsertResult {
            reference_id: r.reference_id.as_str().to_owned(),
            outcome: outcome.map_or(0, |o| v1::InsertOutcome::from(o) as i32),
            error,
        }
    };
    match engine.insert_batch(records.clone()) {
        Ok(outcomes) => Ok(records
            .iter()
            .zip(outcomes)
            .map(|(r, o)| result(r, Some(o), None))
            .collect()),
        Err(EngineError::AlreadyExists(_)) => records
            .into_iter()
            .map(|r| match engine.insert(r.clone()) {
                Ok(o) => Ok(result(&r, Some(o), None)),
                Err(e @ EngineError::AlreadyExists(_)) => {
                    Ok(result(&r, None, Some(e.error_detail())))
                }
                Err(e) => Err(e.to_status()),
            })
            .collect(),
        Err(e) => Err(e.to_status()),
    }
}

#[tonic::async_trait]
impl Shard for ShardService {
    async fn info(
        &self,
        request: Request<v1::ShardNodeInfoRequest>,
    ) -> Result<Response<v1::ShardNodeInfoResponse>, Status> {
        let node = &self.0;
        node.traced("Info", request.remote_addr(), async {
            Ok(v1::ShardNodeInfoResponse {
                shard_id: node.shard_id.clone(),
                shape: Some((&node.engine.shape()).into()),
                records: node.engine.len(),
                map_epoch: node.map_epoch(),
                server_version: env!("CARGO_PKG_VERSION").into(),
            })
        })
        .await
    }

    async fn insert(
        &self,
        request: Request<v1::ShardInsertRequest>,
    ) -> Result<Response<v1::InsertResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let req = request.into_inner();
        node.traced("Insert", peer, async {
            let records = batch_into_engine(req.records, &node.layout, "records")?;
            let shape = node.engine.shape();
            for (i, r) in records.iter().enumerate() {
                r.clone()
                    .validate_and_normalise(&shape)
                    .map_err(|e| item_status(&e, i))?;
            }
            let _fence = node.admit(req.map_epoch).await?;
            let (engine, slots) = (node.engine.clone(), node.slots.clone());
            let results = Node::blocking(move || insert_records(&engine, &slots, records)).await?;
            Ok(v1::InsertResponse { results })
        })
        .await
    }

    async fn delete(
        &self,
        request: Request<v1::ShardDeleteRequest>,
    ) -> Result<Response<v1::DeleteResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let req = request.into_inner();
        node.traced("Delete", peer, async {
            check_count("reference_ids", req.reference_ids.len())?;
            let ids = req
                .reference_ids
                .into_iter()
                .enumerate()
                .map(|(i, id)| reference_id(id).map_err(|e| item_status(&e, i)))
                .collect::<Result<Vec<_>, Status>>()?;
            let _fence = node.admit(req.map_epoch).await?;
            let (engine, slots) = (node.engine.clone(), node.slots.clone());
            let results = Node::blocking(move || {
                // One durable write for the whole batch.
                let outcomes = engine.delete_batch(&ids).map_err(|e| e.to_status())?;
                Ok::<_, Status>(
                    ids.into_iter()
                        .zip(outcomes)
                        .map(|(id, outcome)| {
                            let outcome = match outcome {
                                DeleteOutcome::Deleted => {
                                    slots.removed(id.as_str());
                                    v1::DeleteOutcome::Deleted
                                }
                                DeleteOutcome::NotFound => v1::DeleteOutcome::NotFound,
                            };
                            v1::DeleteResult {
                                reference_id: id.as_str().to_owned(),
                                outcome: outcome as i32,
                                error: None,
                            }
                        })
                        .collect(),
                )
            })
            .await?;
            Ok(v1::DeleteResponse { results })
        })
        .await
    }

    async fn identify_batch(
        &self,
        request: Request<v1::ShardIdentifyBatchRequest>,
    ) -> Result<Response<v1::ShardIdentifyBatchResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let req = request.into_inner();
        node.traced("IdentifyBatch", peer, async {
            let probes = batch_into_engine(req.probes, &node.layout, "probes")?;
            if req.max_results == 0 {
                return Err(ProtoError::OutOfRange {
                    field: "max_results".into(),
                    reason: "must be at least 1".into(),
                }
                .into());
            }
            check_ranges(&req.slots, false)?;
            let max_results = req.max_results as usize;
            let ranges = req.slots;
            let request = IdentifyRequest {
                // With a slot filter the limit applies after it: ask for every candidate.
                max_results: if ranges.is_empty() {
                    max_results
                } else {
                    usize::MAX
                },
                threshold: Threshold::Score(req.threshold_score),
            };
            let engine = node.engine.clone();
            let results = Node::blocking(move || {
                let results = engine
                    .identify_batch(&probes, &request)
                    .map_err(|e| e.to_status())?;
                Ok(probes
                    .iter()
                    .zip(results)
                    .map(|(probe, mut result)| {
                        if !ranges.is_empty() {
                            result.candidates.retain(|c| {
                                abis_proto::routing::in_ranges(&ranges, c.reference_id.as_str())
                            });
                            result.candidates.truncate(max_results);
                        }
                        identify_result_to_proto(&probe.reference_id, &result)
                    })
                    .collect())
            })
            .await?;
            Ok(v1::ShardIdentifyBatchResponse { results })
        })
        .await
    }

    async fn verify(
        &self,
        request: Request<v1::ShardVerifyRequest>,
    ) -> Result<Response<v1::VerifyResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let req = request.into_inner();
        node.traced("Verify", peer, async {
            let probe = req
                .probe
                .ok_or_else(|| ProtoError::missing("probe"))?
                .into_engine(&node.layout)?;
            if req.reference_id.is_empty() {
                return Err(ProtoError::missing("reference_id").into());
            }
            let reference = reference_id(req.reference_id)?;
            let engine = node.engine.clone();
            Node::blocking(move || {
                engine
                    .verify(&probe, &reference, req.target_fmr)
                    .map(|r| v1::VerifyResponse::from(&r))
                    .map_err(|e| e.to_status())
            })
            .await
        })
        .await
    }

    async fn get(
        &self,
        request: Request<v1::GetRecordRequest>,
    ) -> Result<Response<v1::GetRecordResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let req = request.into_inner();
        node.traced("Get", peer, async {
            if req.reference_id.is_empty() {
                return Err(ProtoError::missing("reference_id").into());
            }
            let id = reference_id(req.reference_id)?;
            let (engine, layout) = (node.engine.clone(), node.layout);
            Node::blocking(move || {
                let record = engine.get(&id).map_err(|e| e.to_status())?;
                Ok(v1::GetRecordResponse {
                    record: Some(record_to_proto(&record, &layout)),
                })
            })
            .await
        })
        .await
    }

    async fn count(
        &self,
        request: Request<v1::ShardCountRequest>,
    ) -> Result<Response<v1::ShardCountResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let ranges = request.into_inner().slots;
        node.traced("Count", peer, async {
            check_ranges(&ranges, false)?;
            let counts = node.slots.count(&ranges);
            Ok(v1::ShardCountResponse {
                records: node.engine.len(),
                ranges: ranges
                    .into_iter()
                    .zip(counts)
                    .map(|(r, records)| v1::SlotRangeCount {
                        slots: Some(r),
                        records,
                    })
                    .collect(),
            })
        })
        .await
    }

    type ScanRecordsStream = ReceiverStream<Result<v1::ScanRecordsResponse, Status>>;

    async fn scan_records(
        &self,
        request: Request<v1::ScanRecordsRequest>,
    ) -> Result<Response<Self::ScanRecordsStream>, Status> {
        let node = self.0.clone();
        let peer = request.remote_addr();
        let req = request.into_inner();
        let started = Instant::now();
        let this = node.clone();
        this.traced("ScanRecords", peer, async move {
            check_ranges(&req.slots, true)?;
            let after = match req.after_reference_id.is_empty() {
                true => None,
                false => Some(reference_id(req.after_reference_id)?),
            };
            let page_size = match req.page_size as usize {
                0 => MAX_SCAN_PAGE,
                n => n.min(MAX_SCAN_PAGE),
            };
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            let span = tracing::Span::current();
            tokio::task::spawn_blocking(move || {
                span.in_scope(|| {
                    let outcome = slots::scan(
                        &node.engine,
                        &node.layout,
                        &req.slots,
                        after,
                        page_size,
                        &tx,
                    );
                    let code = outcome
                        .as_ref()
                        .map_or_else(Status::code, |_| tonic::Code::Ok);
                    match outcome {
                        Ok(sent) => tracing::debug!(sent, "scan done"),
                        Err(status) => {
                            tracing::info!(code = ?status.code(), "scan failed");
                            // The receiver may be gone already; nothing else to tell.
                            let _ = tx.blocking_send(Err(status));
                        }
                    }
                    node.metrics
                        .observe("ScanRecords.stream", code, started.elapsed());
                })
            });
            Ok(ReceiverStream::new(rx))
        })
        .await
    }

    async fn drop_slots(
        &self,
        request: Request<v1::DropSlotsRequest>,
    ) -> Result<Response<v1::DropSlotsResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let req = request.into_inner();
        node.traced("DropSlots", peer, async {
            check_ranges(&req.slots, true)?;
            if req.map_epoch == 0 {
                return Err(ProtoError::missing("map_epoch").into());
            }
            let _fence = node.admit(req.map_epoch).await?;
            let engine = node.engine.clone();
            let ranges = req.slots;
            let counts = node.slots.clone();
            let deleted =
                Node::blocking(move || slots::drop_ranges(&engine, &counts, &ranges)).await?;
            tracing::info!(deleted, "dropped slots");
            Ok(v1::DropSlotsResponse { deleted })
        })
        .await
    }
}
