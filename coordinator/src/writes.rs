//! Writes and 1:1 reads routed by slot: insert and delete go to every replica of each record's
//! slot, verify to one replica holding the reference.
//!
//! A record is acknowledged only when every replica of its slot (and, while the slot moves,
//! every node receiving a copy of it) acknowledged it (each node
//! answers after its write is durable): if one replica is down or fails, that record's result is
//! an `UNAVAILABLE` error, never an outcome, so an acknowledged record is on all R replicas.
//! Retrying is safe because nodes insert and delete idempotently. Each node gets one call with
//! all its records, sent concurrently under the per-call deadline and the map epoch (the
//! node's fence against a stale coordinator).
//!
//! A record the nodes find invalid refuses the whole request with the index remapped to the
//! caller's batch; records other nodes already stored stay stored (idempotent, so the corrected
//! batch can simply be sent again).

use crate::cluster::{unavailable, Cluster};
use abis_proto::status::{error_detail_of, status_from_detail, ToErrorDetail};
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, ErrorDetail};
use abis_proto::{reference_id, slot_of, ProtoError, MAX_BATCH_ITEMS};
use std::sync::Arc;
use tokio::task::JoinSet;
use tonic::transport::Channel;
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

/// The item indices each node must receive: every replica of each item's slot, and the nodes
/// receiving a copy of it while it moves.
fn by_node(cluster: &Cluster, ids: &[&str]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); cluster.nodes.len()];
    for (i, id) in ids.iter().enumerate() {
        for n in cluster.map.writers(slot_of(id)) {
            out[usize::from(n)].push(i);
        }
    }
    out
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

/// Per item: the outcomes of the replicas so far, or the first error.
struct Acks {
    outcomes: Vec<Vec<i32>>,
    errors: Vec<Option<ErrorDetail>>,
}

impl Acks {
    fn new(n: usize) -> Self {
        Self {
            outcomes: vec![Vec::new(); n],
            errors: vec![None; n],
        }
    }

    fn fail(&mut self, i: usize, detail: ErrorDetail) {
        self.errors[i].get_or_insert(detail);
    }

    fn fail_all(&mut self, indices: &[usize], shard: &str, status: &Status) {
        for &i in indices {
            let detail = unavailable(format!("replica {shard}: {}", status.message()));
            self.fail(i, error_detail_of(&detail).unwrap_or_default());
        }
    }
}

/// Sends `make(items)` to every node concerned and gathers per-item acknowledgements.
async fn fan_out<R, F, Fut>(cluster: &Arc<Cluster>, ids: &[&str], make: F) -> Result<Acks, Status>
where
    R: Send + 'static,
    F: Fn(usize, Vec<usize>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<R>, Status>> + Send + 'static,
    R: PerItem,
{
    let mut tasks = JoinSet::new();
    for (node, indices) in by_node(cluster, ids).into_iter().enumerate() {
        if indices.is_empty() {
            continue;
        }
        let fut = make(node, indices.clone());
        let this = cluster.clone();
        tasks.spawn(async move { (node, indices, this.call(node, fut).await) });
    }
    let mut acks = Acks::new(ids.len());
    while let Some(joined) = tasks.join_next().await {
        let (node, indices, outcome) =
            joined.map_err(|e| Status::internal(format!("shard task failed: {e}")))?;
        match outcome {
            Ok(response) => {
                let results = response.items();
                for (k, (outcome, error)) in results.into_iter().enumerate() {
                    let Some(&i) = indices.get(k) else { break };
                    match error {
                        Some(e) => acks.fail(i, e),
                        None => acks.outcomes[i].push(outcome),
                    }
                }
            }
            Err(s) if s.code() == Code::InvalidArgument => return Err(remap(s, &indices)),
            Err(s) => acks.fail_all(&indices, &cluster.nodes[node].entry.id, &s),
        }
    }
    Ok(acks)
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

/// How one item of a write ended on all its replicas.
enum Settled {
    /// Some replica failed (or could not be reached): not acknowledged.
    Failed(ErrorDetail),
    /// Acknowledged, and at least one replica changed (inserted, deleted).
    Changed,
    /// Acknowledged, and no replica had to change anything (already present, not found).
    Unchanged,
}

/// One write of `items` to every replica of each item's slot: checks the batch, sends each node
/// `send(client, its items, map epoch)`, and settles each item; `changed` is the node outcome
/// meaning that the node changed something.
async fn write<T, R, Fut>(
    cluster: &Arc<Cluster>,
    field: &str,
    items: &[T],
    id_of: impl Fn(&T) -> &str,
    send: impl Fn(ShardClient<Channel>, Vec<T>, u64) -> Fut,
    changed: i32,
) -> Result<Vec<Settled>, Status>
where
    T: Clone,
    R: PerItem + Send + 'static,
    Fut: std::future::Future<Output = Result<tonic::Response<R>, Status>> + Send + 'static,
{
    check_count(field, items.len())?;
    let ids: Vec<&str> = items.iter().map(&id_of).collect();
    for (i, id) in ids.iter().enumerate() {
        check_id(id, i)?;
    }
    let epoch = cluster.map.epoch;
    let acks = fan_out(cluster, &ids, |node, indices| {
        let batch = indices.iter().map(|&i| items[i].clone()).collect();
        send(cluster.client(node), batch, epoch)
    })
    .await?;
    Ok(acks
        .outcomes
        .into_iter()
        .zip(acks.errors)
        .map(|(outcomes, error)| match error {
            Some(e) => Settled::Failed(e),
            None if outcomes.contains(&changed) => Settled::Changed,
            None => Settled::Unchanged,
        })
        .collect())
}

/// Inserts on every replica; per-record results as `Abis.Insert` describes them.
pub async fn insert(
    cluster: &Arc<Cluster>,
    records: Vec<v1::Record>,
) -> Result<Vec<v1::InsertResult>, Status> {
    let settled = write(
        cluster,
        "records",
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
            let (outcome, error) = match settled {
                Settled::Failed(e) => (v1::InsertOutcome::Unspecified, Some(e)),
                Settled::Changed => (v1::InsertOutcome::Inserted, None),
                Settled::Unchanged => (v1::InsertOutcome::AlreadyPresent, None),
            };
            v1::InsertResult {
                reference_id: r.reference_id,
                outcome: outcome as i32,
                error,
            }
        })
        .collect())
}

/// Deletes on every replica; per-id results as `Abis.Delete` describes them.
pub async fn delete(
    cluster: &Arc<Cluster>,
    reference_ids: Vec<String>,
) -> Result<Vec<v1::DeleteResult>, Status> {
    let settled = write(
        cluster,
        "reference_ids",
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
            let (outcome, error) = match settled {
                Settled::Failed(e) => (v1::DeleteOutcome::Unspecified, Some(e)),
                Settled::Changed => (v1::DeleteOutcome::Deleted, None),
                Settled::Unchanged => (v1::DeleteOutcome::NotFound, None),
            };
            v1::DeleteResult {
                reference_id,
                outcome: outcome as i32,
                error,
            }
        })
        .collect())
}

/// 1:1 verification on a replica of the reference's slot, live replicas first, the next one
/// tried when a replica cannot answer.
pub async fn verify(
    cluster: &Arc<Cluster>,
    request: v1::VerifyRequest,
) -> Result<v1::VerifyResponse, Status> {
    if request.reference_id.is_empty() {
        return Err(ProtoError::missing("reference_id").into());
    }
    check_id(&request.reference_id, 0)?;
    let mut replicas: Vec<usize> = cluster
        .map
        .replicas(slot_of(&request.reference_id))
        .iter()
        .map(|&r| usize::from(r))
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
    let (shard, status) = last.expect("every slot has a replica");
    Err(unavailable(format!(
        "no replica could verify (last, {shard}: {})",
        status.message()
    )))
}
