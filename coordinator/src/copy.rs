//! Moving records between shard nodes, page by page: what the rebalancer (copying a slot to its
//! new node) and the repairer (bringing a replica back in line) share.
//!
//! [`converge`] makes one node hold what another holds in some slots. It walks both nodes'
//! records in reference id order, one page of the source at a time, with the write gate held
//! exclusively for each page (no write to any slot lands between reading the page on both nodes
//! and applying the difference, so nothing is undone by the copy): records the target lacks or
//! holds with other content are copied, and, when asked, records only the target holds are
//! deleted. Between pages writes flow again, to both nodes (each is a writer of the slots).

use crate::cluster::{Client, Cluster};
use crate::topology::Topology;
use abis_proto::v1::{self, SlotRange};
use anyhow::{anyhow, bail};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// Records per page.
pub const PAGE: u32 = 256;

/// A node's refusal, as an error naming it.
pub fn status_error(cluster: &Cluster, node: usize, s: tonic::Status) -> anyhow::Error {
    anyhow!(
        "shard {}: {:?}: {}",
        cluster.nodes[node].entry.id,
        s.code(),
        s.message()
    )
}

/// One page of `ranges` on `node` after `after`: the records and the last id.
pub async fn scan_page(
    cluster: &Arc<Cluster>,
    node: usize,
    ranges: &[SlotRange],
    after: &str,
) -> anyhow::Result<(Vec<v1::Record>, String)> {
    let mut client = cluster.client(node);
    let request = v1::ScanRecordsRequest {
        slots: ranges.to_vec(),
        after_reference_id: after.to_owned(),
        page_size: PAGE,
    };
    let page = cluster
        .call(node, async move {
            let mut stream = client.scan_records(request).await?.into_inner();
            Ok(tonic::Response::new(stream.message().await?))
        })
        .await
        .map_err(|s| status_error(cluster, node, s))?;
    Ok(page.map_or_else(Default::default, |p| (p.records, p.last_reference_id)))
}

/// Every record of `ranges` on `node` with an id after `after` and up to `upto` (inclusive;
/// `None`: to the end), by reference id.
pub async fn scan_until(
    cluster: &Arc<Cluster>,
    node: usize,
    ranges: &[SlotRange],
    after: &str,
    upto: Option<&str>,
) -> anyhow::Result<BTreeMap<String, v1::Record>> {
    let mut client = cluster.client(node);
    let request = v1::ScanRecordsRequest {
        slots: ranges.to_vec(),
        after_reference_id: after.to_owned(),
        page_size: PAGE,
    };
    let upto = upto.map(str::to_owned);
    let records = cluster
        .call(node, async move {
            let mut stream = client.scan_records(request).await?.into_inner();
            let mut out = BTreeMap::new();
            while let Some(page) = stream.message().await? {
                let mut past = false;
                for r in page.records {
                    if upto.as_deref().is_some_and(|u| r.reference_id.as_str() > u) {
                        past = true;
                        break;
                    }
                    out.insert(r.reference_id.clone(), r);
                }
                if past {
                    break;
                }
            }
            Ok(tonic::Response::new(out))
        })
        .await
        .map_err(|s| status_error(cluster, node, s))?;
    Ok(records)
}

/// Per-slot summaries of `ranges` on `node`.
pub async fn summaries(
    cluster: &Arc<Cluster>,
    node: usize,
    ranges: &[SlotRange],
) -> anyhow::Result<Vec<v1::SlotSummary>> {
    let mut client = cluster.client(node);
    let response = cluster
        .call(
            node,
            client.summaries(v1::ShardSummariesRequest {
                slots: ranges.to_vec(),
            }),
        )
        .await
        .map_err(|s| status_error(cluster, node, s))?;
    Ok(response.slots)
}

/// A shard node's answer to a write: one result per record, each perhaps with an error.
trait WriteResults {
    fn first_error(&self) -> Option<(&str, &v1::ErrorDetail)>;
}

impl WriteResults for v1::InsertResponse {
    fn first_error(&self) -> Option<(&str, &v1::ErrorDetail)> {
        let mut results = self.results.iter();
        results.find_map(|r| Some((r.reference_id.as_str(), r.error.as_ref()?)))
    }
}

impl WriteResults for v1::DeleteResponse {
    fn first_error(&self) -> Option<(&str, &v1::ErrorDetail)> {
        let mut results = self.results.iter();
        results.find_map(|r| Some((r.reference_id.as_str(), r.error.as_ref()?)))
    }
}

/// Sends `items` to `node` a page at a time with `send` (given a client, the page and the map
/// epoch); the first refused page or record is an error naming the node and the record.
async fn write_pages<T, R, Fut>(
    cluster: &Arc<Cluster>,
    node: usize,
    what: &str,
    items: &[T],
    mut send: impl FnMut(Client, Vec<T>, u64) -> Fut,
) -> anyhow::Result<()>
where
    T: Clone,
    R: WriteResults,
    Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
{
    for chunk in items.chunks(PAGE as usize) {
        let call = send(cluster.client(node), chunk.to_vec(), cluster.map.epoch);
        let response = cluster
            .call(node, call)
            .await
            .map_err(|s| status_error(cluster, node, s))?;
        if let Some((id, error)) = response.first_error() {
            bail!(
                "shard {} could not {what} {id}: {error:?}",
                cluster.nodes[node].entry.id
            );
        }
    }
    Ok(())
}

/// Inserts `records` on `node`.
pub async fn insert(
    cluster: &Arc<Cluster>,
    node: usize,
    records: Vec<v1::Record>,
) -> anyhow::Result<()> {
    write_pages(
        cluster,
        node,
        "insert",
        &records,
        |mut client, records, map_epoch| async move {
            let request = v1::ShardInsertRequest { records, map_epoch };
            client.insert(request).await
        },
    )
    .await
}

/// Deletes `ids` on `node`.
pub async fn delete(cluster: &Arc<Cluster>, node: usize, ids: Vec<String>) -> anyhow::Result<()> {
    write_pages(
        cluster,
        node,
        "delete",
        &ids,
        |mut client, reference_ids, map_epoch| async move {
            let request = v1::ShardDeleteRequest {
                reference_ids,
                map_epoch,
            };
            client.delete(request).await
        },
    )
    .await
}

/// What [`converge`] changed on the target.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Converged {
    /// Records copied (missing, or held with other content).
    pub copied: u64,
    /// Records deleted (held by the target only).
    pub deleted: u64,
}

/// Makes node `to` hold every record node `from` holds in `ranges` (see the module doc); with
/// `deletes`, also deletes what only `to` holds there, so the two end up equal. Calls
/// `progress(copied so far)` after each page.
pub async fn converge(
    topology: &Topology,
    cluster: &Arc<Cluster>,
    from: usize,
    to: usize,
    ranges: &[SlotRange],
    deletes: bool,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Converged> {
    let mut done = Converged::default();
    let mut after = String::new();
    loop {
        let _gate = topology.exclusive().await;
        let (source, last) = scan_page(cluster, from, ranges, &after).await?;
        let upto = (!source.is_empty()).then_some(last.as_str());
        let held = scan_until(cluster, to, ranges, &after, upto).await?;
        let mut copy = Vec::new();
        let mut doomed = Vec::new();
        for r in &source {
            match held.get(&r.reference_id) {
                Some(h) if h == r => {}
                Some(_) => {
                    // Same id, other content: the source's copy wins.
                    doomed.push(r.reference_id.clone());
                    copy.push(r.clone());
                }
                None => copy.push(r.clone()),
            }
        }
        if deletes {
            let wanted: std::collections::HashSet<&str> =
                source.iter().map(|r| r.reference_id.as_str()).collect();
            doomed.extend(
                held.keys()
                    .filter(|id| !wanted.contains(id.as_str()))
                    .cloned(),
            );
        }
        done.deleted += doomed.len() as u64;
        done.copied += copy.len() as u64;
        if !doomed.is_empty() {
            delete(cluster, to, doomed).await?;
        }
        if !copy.is_empty() {
            insert(cluster, to, copy).await?;
        }
        progress(done.copied);
        if upto.is_none() {
            return Ok(done);
        }
        after = last;
    }
}
