//! The `abis.v1.Shard` service: every handler validates and converts the request with
//! `abis-proto`, calls the engine on the blocking pool, and converts the answer back.
//!
//! Choices the proto leaves to the node:
//! - **Insert** is atomic in the engine; to give per-record results when some records collide
//!   with other content under the same id (`ALREADY_EXISTS`), a batch the engine refuses for that
//!   reason is retried record by record, so the other records still go in. Every record is
//!   validated against the gallery first, so a bad template refuses the whole batch naming its
//!   index.
//! - **IdentifyBatch** with slot ranges searches only the records of those slots (the engine's
//!   partitions are the routing slots), so `max_results` and `records_searched` are those of the
//!   slots asked for. The engine either searches all of them or fails, so a result is always
//!   `COMPLETE`. A search stops when its caller goes away (the handler's future is dropped at
//!   the caller's deadline or cancellation, and with it the flag the engine checks per chunk).
//! - Every call but Info is fenced first (`Node::fenced`).
//! - **ScanRecords** streams from one blocking task per scan with a two-message buffer, so a
//!   slow reader holds back the scan rather than filling memory.

use crate::node::{self, item_status, CancelOnDrop, Node};
use crate::slots::{self, MAX_SCAN_PAGE};
use abis_engine::{
    DeleteOutcome, EngineError, IdentifyRequest, InsertOutcome, PartitionSet, Record, Scope,
    SearchControl, Threshold,
};
use abis_proto::status::ToErrorDetail;
use abis_proto::v1::shard_server::Shard;
use abis_proto::v1::{self, SlotRange};
use abis_proto::{
    batch_into_engine, checked_batch, identify_result_to_proto, record_to_proto, reference_id,
    ProtoError, MAX_ANSWER_CANDIDATES, MAX_BATCH_ITEMS, MAX_RESULTS, SLOT_COUNT,
};
use std::sync::atomic::AtomicBool;
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

/// Inserts, falling back to one record at a time when the batch holds a conflicting id.
fn insert_records(
    engine: &abis_engine::Engine,
    records: Vec<Record>,
) -> Result<Vec<v1::InsertResult>, Status> {
    let result = |r: &Record, outcome: Option<InsertOutcome>, error: Option<v1::ErrorDetail>| {
        v1::InsertResult {
            reference_id: r.reference_id.as_str().to_owned(),
            outcome: outcome.map_or(0, |o| v1::InsertOutcome::from(o) as i32),
            error,
            repair_pending: false,
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
                node_uid: node.node_uid.clone(),
                cluster_id: node.cluster_id().unwrap_or_default(),
                incarnation: node.incarnation,
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
        let call = node.fenced(request.metadata());
        let req = request.into_inner();
        node.traced("Insert", peer, async {
            let call = call?;
            let records = checked_batch(req.records, &node.engine.shape(), "records")?;
            let _fence = node.admit(req.map_epoch, &call).await?;
            let engine = node.engine.clone();
            let results = Node::blocking(move || insert_records(&engine, records)).await?;
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
        let call = node.fenced(request.metadata());
        let req = request.into_inner();
        node.traced("Delete", peer, async {
            let call = call?;
            check_count("reference_ids", req.reference_ids.len())?;
            let ids = req
                .reference_ids
                .into_iter()
                .enumerate()
                .map(|(i, id)| reference_id(id).map_err(|e| item_status(&e, i)))
                .collect::<Result<Vec<_>, Status>>()?;
            let _fence = node.admit(req.map_epoch, &call).await?;
            let engine = node.engine.clone();
            let results = Node::blocking(move || {
                // One durable write for the whole batch.
                let outcomes = engine.delete_batch(&ids).map_err(|e| e.to_status())?;
                Ok::<_, Status>(
                    ids.into_iter()
                        .zip(outcomes)
                        .map(|(id, outcome)| {
                            let outcome = match outcome {
                                DeleteOutcome::Deleted => v1::DeleteOutcome::Deleted,
                                DeleteOutcome::NotFound => v1::DeleteOutcome::NotFound,
                            };
                            v1::DeleteResult {
                                reference_id: id.as_str().to_owned(),
                                outcome: outcome as i32,
                                error: None,
                                repair_pending: false,
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
        let call = node.fenced_read(request.metadata());
        let req = request.into_inner();
        node.traced("IdentifyBatch", peer, async {
            call?;
            let probes = batch_into_engine(req.probes, &node.layout, "probes")?;
            if req.max_results == 0 || req.max_results as usize > MAX_RESULTS {
                return Err(ProtoError::OutOfRange {
                    field: "max_results".into(),
                    reason: format!("1 to {MAX_RESULTS}"),
                }
                .into());
            }
            if probes.len() * req.max_results as usize > MAX_ANSWER_CANDIDATES {
                return Err(node::detail_status(
                    v1::ErrorCode::TooLarge,
                    format!(
                        "{} probes x {} results could exceed the {MAX_ANSWER_CANDIDATES} \
                         candidates an answer may carry",
                        probes.len(),
                        req.max_results
                    ),
                ));
            }
            check_ranges(&req.slots, false)?;
            let _permit = node.search_permit()?;
            let request = IdentifyRequest {
                max_results: req.max_results as usize,
                threshold: Threshold::Score(req.threshold_score),
            };
            let scope = (!req.slots.is_empty()).then(|| {
                PartitionSet::from_ranges(SLOT_COUNT, req.slots.iter().map(|r| (r.start, r.end)))
            });
            let cancel = Arc::new(AtomicBool::new(false));
            let _stop_when_abandoned = CancelOnDrop(cancel.clone());
            let (engine, metrics) = (node.engine.clone(), node.metrics.clone());
            let results = Node::blocking(move || {
                let control = SearchControl {
                    scope: scope.as_ref().map_or(Scope::All, Scope::Partitions),
                    cancel: Some(&cancel),
                };
                let (results, _) = engine
                    .identify_batch_with(&probes, &request, control)
                    .map_err(|e| {
                        if matches!(e, EngineError::Cancelled) {
                            metrics.search_cancelled();
                            tracing::info!("search stopped: its caller went away");
                        }
                        e.to_status()
                    })?;
                Ok(probes
                    .iter()
                    .zip(results)
                    .map(|(probe, result)| identify_result_to_proto(&probe.reference_id, &result))
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
        let call = node.fenced_read(request.metadata());
        let req = request.into_inner();
        node.traced("Verify", peer, async {
            call?;
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
        let call = node.fenced_read(request.metadata());
        let req = request.into_inner();
        node.traced("Get", peer, async {
            call?;
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
        let call = node.fenced_read(request.metadata());
        let ranges = request.into_inner().slots;
        node.traced("Count", peer, async {
            call?;
            check_ranges(&ranges, false)?;
            let counts = slots::count(&node.engine, &ranges);
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

    async fn summaries(
        &self,
        request: Request<v1::ShardSummariesRequest>,
    ) -> Result<Response<v1::ShardSummariesResponse>, Status> {
        let node = &self.0;
        let peer = request.remote_addr();
        let call = node.fenced(request.metadata());
        let ranges = request.into_inner().slots;
        node.traced("Summaries", peer, async {
            call?;
            check_ranges(&ranges, true)?;
            Ok(v1::ShardSummariesResponse {
                slots: slots::summaries(&node.engine, &ranges),
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
        let call = node.fenced_read(request.metadata());
        let req = request.into_inner();
        let started = Instant::now();
        let this = node.clone();
        this.traced("ScanRecords", peer, async move {
            call?;
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
        let call = node.fenced(request.metadata());
        let req = request.into_inner();
        node.traced("DropSlots", peer, async {
            let call = call?;
            check_ranges(&req.slots, true)?;
            if req.map_epoch == 0 {
                return Err(ProtoError::missing("map_epoch").into());
            }
            let mut fence = node.admit(req.map_epoch, &call).await?;
            node.record_drop(&mut fence, req.map_epoch)?;
            let engine = node.engine.clone();
            let ranges = req.slots;
            let deleted = Node::blocking(move || slots::drop_ranges(&engine, &ranges)).await?;
            tracing::info!(deleted, "dropped slots");
            Ok(v1::DropSlotsResponse { deleted })
        })
        .await
    }
}
