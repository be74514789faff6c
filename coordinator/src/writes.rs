//! Writes and 1:1 reads routed by slot: insert and delete go to every replica of each record's
//! slot (and, while the slot moves, every node receiving a copy of it), verify to one readable
//! replica holding the reference.
//!
//! Before anything is sent, the whole batch is checked as the nodes will check it (ids,
//! templates against the gallery's shape, the quality gate): a refused batch stores nothing
//! anywhere.
//!
//! The guarantee of an acknowledged write: it is durable on at least one *complete* replica
//! (readable for the slot, see `trust`), and every writer of the slot that did not acknowledge
//! it (down, refused, timed out) has been durably marked *behind* for the slot before the
//! answer is sent. A marked replica is not read for that slot until the repairer has made it
//! equal to a complete one, so no identify can miss an acknowledged record. The result says
//! which: `repair_pending` is true when some writer missed it. A write that no complete replica
//! acknowledged is refused (UNAVAILABLE, retry; inserts and deletes are idempotent), and the
//! writers that might hold it are marked too, so replicas never silently diverge.
//!
//! Each node gets one call with all its records, sent concurrently under the per-call deadline
//! and the map's fence.

use crate::cluster::{unavailable, Client, Cluster};
use crate::trust::Mark;
use abis_engine::GalleryConfig;
use abis_proto::status::{error_detail_of, status_from_detail, ToErrorDetail};
use abis_proto::v1::{self, ErrorCode, ErrorDetail};
use abis_proto::{checked_batch, reference_id, slot_of, ProtoError, MAX_BATCH_ITEMS};
use std::sync::Arc;
use tokio::task::JoinSet;
use tonic::{Code, Status};

fn check_count(field: &str, n: usize) -> Result<(), Status> {
    if n == 0 || n > MAX_BATCH_ITEMS {
        return Err(ProtoError::OutOfRange {
            field: field.into(),
            reason: format!("{n} items, 1 to {MAX_BATCH_ITEMS} accepted"),
        }
        .into());
    }
    Ok(())
}

fn check_id(id: &str, index: usize) -> Result<(), Status> {
    reference_id(id.to_owned())
        .map(drop)
        .map_err(|e| status_from_detail(e.error_detail().at_item(index)))
}

/// The gallery shape the nodes reported, needed to check records before they are sent.
pub async fn shape(cluster: &Arc<Cluster>) -> Result<GalleryConfig, Status> {
    let shape = cluster
        .shape()
        .ok_or_else(|| unavailable("no shard node has told its gallery shape yet"))?;
    GalleryConfig::try_from(&shape).map_err(|e| unavailable(format!("bad gallery shape: {e}")))
}

/// A node-side invalid item, renamed to the caller's index.
fn remap(status: Status, indices: &[usize]) -> Status {
    match error_detail_of(&status) {
        Some(detail) => {
            let index = detail
                .item_index
                .and_then(|k| indices.get(k as usize).copied());
            match index {
                Some(i) => status_from_detail(detail.at_item(i)),
                None => status_from_detail(detail),
            }
        }
        None => status,
    }
}

/// What one writer said of one item.
enum Said {
    /// It applied or found it applied; the node's outcome.
    Done(i32),
    /// It refused the item itself (e.g. ALREADY_EXISTS).
    Refused(ErrorDetail),
    /// It could not be asked or did not answer.
    Failed(ErrorDetail),
}

/// Per-item (outcome, error) pairs of a node's write response.
trait PerItem {
    fn items(self) -> Vec<(i32, Option<ErrorDetail>)>;
}

macro_rules! per_item {
    ($($response:ty),*) => {$(
        impl PerItem for $response {
            fn items(self) -> Vec<(i32, Option<ErrorDetail>)> {
                self.results.into_iter().map(|r| (r.outcome, r.error)).collect()
            }
        }
    )*};
}
per_item!(v1::InsertResponse, v1::DeleteResponse);

/// How one item of a write ended.
enum Settled {
    /// Not acknowledged: the error to report.
    Failed(ErrorDetail),
    /// Acknowledged; whether some replica changed something, and whether a writer missed it.
    Acked { changed: bool, repair_pending: bool },
}

/// One write of `items` to every writer of each item's slot: sends each node
/// `send(client, its items, map epoch)`, marks the writers that missed an item, and settles
/// each item; `changed` is the node outcome meaning that the node changed something.
async fn write<T, R, Fut>(
    cluster: &Arc<Cluster>,
    items: &[T],
    id_of: impl Fn(&T) -> &str,
    send: impl Fn(Client, Vec<T>, u64) -> Fut,
    changed: i32,
) -> Result<Vec<Settled>, Status>
where
    T: Clone,
    R: PerItem + Send + 'static,
    Fut: std::future::Future<Output = Result<tonic::Response<R>, Status>> + Send + 'static,
{
    let slots: Vec<u32> = items.iter().map(|t| slot_of(id_of(t))).collect();
    let mut said: Vec<Vec<(usize, Said)>> = (0..items.len()).map(|_| Vec::new()).collect();
    let mut per_node: Vec<Vec<usize>> = vec![Vec::new(); cluster.nodes.len()];
    for (i, &slot) in slots.iter().enumerate() {
        for n in cluster.map.writers(slot) {
            per_node[usize::from(n)].push(i);
        }
    }
    let epoch = cluster.map.epoch;
    let mut tasks = JoinSet::new();
    for (node, indices) in per_node.into_iter().enumerate() {
        if indices.is_empty() {
            continue;
        }
        let id = &cluster.nodes[node].entry.id;
        if !cluster.trust.writable(id) {
            let why = unavailable(format!("replica {id} is not the node the map names"));
            let detail = error_detail_of(&why).unwrap_or_default();
            for &i in &indices {
                said[i].push((node, Said::Failed(detail.clone())));
            }
            continue;
        }
        let batch = indices.iter().map(|&i| items[i].clone()).collect();
        let fut = send(cluster.client(node), batch, epoch);
        let this = cluster.clone();
        tasks.spawn(async move { (node, indices, this.call(node, fut).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (node, indices, outcome) =
            joined.map_err(|e| Status::internal(format!("shard task failed: {e}")))?;
        match outcome {
            Ok(response) => {
                let results = response.items();
                for (k, &i) in indices.iter().enumerate() {
                    let s = match results.get(k) {
                        Some((_, Some(e))) if e.is_user_fault() => Said::Refused(e.clone()),
                        Some((_, Some(e))) => Said::Failed(e.clone()),
                        Some((o, None)) => Said::Done(*o),
                        None => Said::Failed(ErrorDetail {
                            code: ErrorCode::Internal as i32,
                            message: "the node answered fewer results than items".into(),
                            ..Default::default()
                        }),
                    };
                    said[i].push((node, s));
                }
            }
            // The batch was checked as the nodes check it, so this is a node disagreeing on
            // the gallery's shape: refuse, naming the item, and mark nothing as done.
            Err(s) if s.code() == Code::InvalidArgument => return Err(remap(s, &indices)),
            Err(s) => {
                let shard = &cluster.nodes[node].entry.id;
                let detail =
                    error_detail_of(&unavailable(format!("replica {shard}: {}", s.message())))
                        .unwrap_or_default();
                for &i in &indices {
                    said[i].push((node, Said::Failed(detail.clone())));
                }
            }
        }
    }
    let mut marks: Vec<(String, u32)> = Vec::new();
    let settled = said
        .into_iter()
        .zip(&slots)
        .map(|(answers, &slot)| {
            let complete = answers.iter().any(|(n, s)| {
                matches!(s, Said::Done(_))
                    && cluster.map.replicas(slot).contains(&(*n as u16))
                    && cluster.readable(*n, slot)
            });
            let missed: Vec<usize> = answers
                .iter()
                .filter(|(_, s)| matches!(s, Said::Failed(_)))
                .map(|(n, _)| *n)
                .collect();
            marks.extend(
                missed
                    .iter()
                    .map(|&n| (cluster.nodes[n].entry.id.clone(), slot)),
            );
            let refused = answers.iter().find_map(|(_, s)| match s {
                Said::Refused(e) => Some(e.clone()),
                _ => None,
            });
            match (refused, complete) {
                (Some(e), _) => Settled::Failed(e),
                (None, true) => Settled::Acked {
                    changed: answers
                        .iter()
                        .any(|(_, s)| matches!(s, Said::Done(o) if *o == changed)),
                    repair_pending: !missed.is_empty(),
                },
                (None, false) => Settled::Failed(
                    answers
                        .iter()
                        .find_map(|(_, s)| match s {
                            Said::Failed(e) => Some(e.clone()),
                            _ => None,
                        })
                        .unwrap_or_else(|| {
                            error_detail_of(&unavailable(
                                "no complete replica of the record's slot took the write",
                            ))
                            .unwrap_or_default()
                        }),
                ),
            }
        })
        .collect();
    marks.retain(|(id, slot)| !cluster.trust.marked(id, Mark::Behind).contains(*slot));
    marks.sort();
    marks.dedup();
    if !marks.is_empty() {
        tracing::info!(
            pairs = marks.len(),
            "replicas missed writes: marked behind until repaired"
        );
    }
    // Durable before anything is answered: the marks are what keeps reads complete.
    cluster
        .trust
        .update(Mark::Behind, &marks, true)
        .map_err(|e| {
            status_from_detail(ErrorDetail {
                code: ErrorCode::Internal as i32,
                message: format!("cannot record replicas behind: {e:#}"),
                ..Default::default()
            })
        })?;
    Ok(settled)
}

/// Inserts on every replica; per-record results as `Abis.Insert` describes them.
pub async fn insert(
    cluster: &Arc<Cluster>,
    records: Vec<v1::Record>,
) -> Result<Vec<v1::InsertResult>, Status> {
    check_count("records", records.len())?;
    checked_batch(records.clone(), &shape(cluster).await?, "records")?;
    let settled = write(
        cluster,
        &records,
        |r| r.reference_id.as_str(),
        |mut client, records, map_epoch| async move {
            client
                .insert(v1::ShardInsertRequest { records, map_epoch })
                .await
        },
        v1::InsertOutcome::Inserted as i32,
    )
    .await?;
    Ok(records
        .into_iter()
        .zip(settled)
        .map(|(r, settled)| {
            let (outcome, error, repair_pending) = match settled {
                Settled::Failed(e) => (v1::InsertOutcome::Unspecified, Some(e), false),
                Settled::Acked {
                    changed,
                    repair_pending,
                } => (
                    if changed {
                        v1::InsertOutcome::Inserted
                    } else {
                        v1::InsertOutcome::AlreadyPresent
                    },
                    None,
                    repair_pending,
                ),
            };
            v1::InsertResult {
                reference_id: r.reference_id,
                outcome: outcome as i32,
                error,
                repair_pending,
            }
        })
        .collect())
}

/// Deletes on every replica; per-id results as `Abis.Delete` describes them.
pub async fn delete(
    cluster: &Arc<Cluster>,
    reference_ids: Vec<String>,
) -> Result<Vec<v1::DeleteResult>, Status> {
    check_count("reference_ids", reference_ids.len())?;
    for (i, id) in reference_ids.iter().enumerate() {
        check_id(id, i)?;
    }
    let settled = write(
        cluster,
        &reference_ids,
        String::as_str,
        |mut client, reference_ids, map_epoch| async move {
            client
                .delete(v1::ShardDeleteRequest {
                    reference_ids,
                    map_epoch,
                })
                .await
        },
        v1::DeleteOutcome::Deleted as i32,
    )
    .await?;
    Ok(reference_ids
        .into_iter()
        .zip(settled)
        .map(|(reference_id, settled)| {
            let (outcome, error, repair_pending) = match settled {
                Settled::Failed(e) => (v1::DeleteOutcome::Unspecified, Some(e), false),
                Settled::Acked {
                    changed,
                    repair_pending,
                } => (
                    if changed {
                        v1::DeleteOutcome::Deleted
                    } else {
                        v1::DeleteOutcome::NotFound
                    },
                    None,
                    repair_pending,
                ),
            };
            v1::DeleteResult {
                reference_id,
                outcome: outcome as i32,
                error,
                repair_pending,
            }
        })
        .collect())
}

/// 1:1 verification on a readable replica of the reference's slot, live replicas first, the
/// next one tried when a replica cannot answer.
pub async fn verify(
    cluster: &Arc<Cluster>,
    request: v1::VerifyRequest,
) -> Result<v1::VerifyResponse, Status> {
    if request.reference_id.is_empty() {
        return Err(ProtoError::missing("reference_id").into());
    }
    check_id(&request.reference_id, 0)?;
    let slot = slot_of(&request.reference_id);
    let mut replicas: Vec<usize> = cluster
        .map
        .replicas(slot)
        .iter()
        .map(|&r| usize::from(r))
        .filter(|&r| cluster.readable(r, slot))
        .collect();
    replicas.sort_by_key(|&r| !cluster.nodes[r].is_live());
    let mut last = None;
    for node in replicas {
        let mut client = cluster.client(node);
        let call = client.verify(v1::ShardVerifyRequest {
            probe: request.probe.clone(),
            reference_id: request.reference_id.clone(),
            target_fmr: request.target_fmr,
        });
        match cluster.call(node, call).await {
            Ok(r) => return Ok(r),
            Err(s) if matches!(s.code(), Code::InvalidArgument | Code::NotFound) => return Err(s),
            Err(s) => last = Some((cluster.nodes[node].entry.id.clone(), s)),
        }
    }
    Err(unavailable(match last {
        Some((shard, status)) => format!(
            "no replica could verify (last, {shard}: {})",
            status.message()
        ),
        None => "no complete replica of the reference's slot is known".into(),
    }))
}
