//! One version of the coordinator's view of its shard nodes: a shard map and one lazily
//! connected gRPC channel per node (mutual TLS unless plaintext was asked for), liveness from a
//! background prober and from every call's outcome, and [`Cluster::scatter`], the one
//! fail-closed way to run an operation over every slot. A [`Cluster`] never changes; a new map
//! makes a new one that shares the connections of the nodes it keeps (see `topology`).
//!
//! Scatter plans each round by giving every remaining slot to one replica, live replicas first
//! and the least loaded of them, so the work spreads over all nodes; each node then gets one
//! call with all its slots as ranges, under the per-call deadline. A node that fails gives its
//! slots back and is skipped for the rest of the operation, so the next round retries them on
//! another replica; slots with no replica left are reported unsearched with the last cause seen.
//! A caller's mistake (`INVALID_ARGUMENT`) is no node's fault and ends the operation at once.

use crate::shard_map::{to_ranges, NodeEntry, ShardMap};
use abis_proto::status::status_from_detail;
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, ErrorCode, ErrorDetail, SlotRange, UnsearchedCause};
use abis_proto::SLOT_COUNT;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio::task::JoinSet;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

/// Largest gRPC message sent to or accepted from a node.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// One shard node and what the coordinator last saw of it.
pub struct NodeConn {
    /// Its map entry.
    pub entry: NodeEntry,
    client: ShardClient<Channel>,
    live: AtomicBool,
    records: AtomicU64,
    last_seen: Mutex<Option<SystemTime>>,
}

impl NodeConn {
    /// A client of it.
    pub fn client(&self) -> ShardClient<Channel> {
        self.client.clone()
    }

    /// Whether its last call or probe succeeded.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Records it held at its last probe.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Acquire)
    }

    /// When it last answered.
    pub fn last_seen(&self) -> Option<SystemTime> {
        *self.last_seen.lock().expect("last_seen lock")
    }

    fn saw(&self, ok: bool) {
        self.live.store(ok, Ordering::Release);
        if ok {
            *self.last_seen.lock().expect("last_seen lock") = Some(SystemTime::now());
        }
    }
}

/// How the coordinator connects to shard nodes.
#[derive(Clone)]
pub struct Connector {
    /// Client TLS (mutual), or `None` for plaintext.
    pub tls: Option<ClientTlsConfig>,
    /// Deadline of each call (and of connecting).
    pub timeout: Duration,
}

impl Connector {
    /// A lazy connection to `entry` (a node that is down does not stop anything).
    pub fn connect(&self, entry: &NodeEntry) -> anyhow::Result<NodeConn> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", entry.address))?
            .connect_timeout(self.timeout)
            .timeout(self.timeout);
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone())?;
        }
        let client = ShardClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(NodeConn {
            entry: entry.clone(),
            client,
            live: AtomicBool::new(false),
            records: AtomicU64::new(0),
            last_seen: Mutex::new(None),
        })
    }
}

/// The gallery shape the nodes reported, shared by every version of the cluster.
pub type SharedShape = Arc<RwLock<Option<v1::GalleryShape>>>;

/// The shard map and the connections to its nodes.
pub struct Cluster {
    /// The map.
    pub map: ShardMap,
    /// One per map node, same order.
    pub nodes: Vec<Arc<NodeConn>>,
    /// Deadline of each call to a node.
    pub timeout: Duration,
    shape: SharedShape,
    /// Operations running on this version (see `topology::Topology::drain_reads`).
    pub(crate) active: AtomicUsize,
}

/// One node's answer for the slots it was given.
pub struct Part<T> {
    /// The node's index in the map.
    pub node: usize,
    /// Its answer.
    pub value: T,
}

/// What a scatter gathered: the answers, and the slots nobody answered for.
pub struct Gathered<T> {
    /// One per successful node call.
    pub parts: Vec<Part<T>>,
    /// Empty when every slot was covered.
    pub unsearched: Vec<v1::UnsearchedPart>,
}

/// An UNAVAILABLE status with its typed detail.
pub fn unavailable(message: impl Into<String>) -> Status {
    status_from_detail(ErrorDetail {
        code: ErrorCode::Unavailable as i32,
        message: message.into(),
        ..Default::default()
    })
}

/// Why a node's call failed, as an identify reports it.
pub fn cause_of(status: &Status) -> UnsearchedCause {
    match status.code() {
        Code::DeadlineExceeded => UnsearchedCause::DeadlineExceeded,
        Code::DataLoss => UnsearchedCause::DataCorruption,
        Code::Unavailable | Code::Unknown | Code::Cancelled => UnsearchedCause::NoLiveReplica,
        _ => UnsearchedCause::ShardError,
    }
}

impl Cluster {
    /// The cluster of `map`: connections of `previous` are kept for the nodes it still has
    /// (same id and address), new ones are made for the others.
    pub fn new(
        map: ShardMap,
        connector: &Connector,
        previous: Option<&Cluster>,
        shape: SharedShape,
    ) -> anyhow::Result<Self> {
        let nodes = map
            .nodes
            .iter()
            .map(|entry| {
                let kept = previous.and_then(|p| {
                    p.nodes
                        .iter()
                        .find(|n| n.entry.id == entry.id && n.entry.address == entry.address)
                });
                match kept {
                    Some(conn) => Ok(conn.clone()),
                    None => connector.connect(entry).map(Arc::new),
                }
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            map,
            nodes,
            timeout: connector.timeout,
            shape,
            active: AtomicUsize::new(0),
        })
    }

    /// A client of node `node`.
    pub fn client(&self, node: usize) -> ShardClient<Channel> {
        self.nodes[node].client.clone()
    }

    /// Runs one call to node `node` under the deadline and records its liveness.
    pub async fn call<T>(
        &self,
        node: usize,
        fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        let outcome = match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(s),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        };
        let conn = &self.nodes[node];
        match &outcome {
            Ok(_) => conn.saw(true),
            Err(s) if matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded) => {
                conn.saw(false)
            }
            Err(_) => {}
        }
        outcome.inspect_err(|s| {
            tracing::info!(shard = %conn.entry.id, code = ?s.code(), "shard call failed: {}", s.message());
        })
    }

    /// The gallery shape, from the first node that told it.
    pub fn shape(&self) -> Option<v1::GalleryShape> {
        *self.shape.read().expect("shape lock")
    }

    /// Asks every node for its info once; updates liveness, record counts and the shape.
    pub async fn probe(self: &Arc<Self>) {
        let mut tasks = JoinSet::new();
        for node in 0..self.nodes.len() {
            let this = self.clone();
            tasks.spawn(async move {
                let mut client = this.client(node);
                let info = this
                    .call(node, client.info(v1::ShardNodeInfoRequest {}))
                    .await;
                if let Ok(info) = info {
                    this.nodes[node]
                        .records
                        .store(info.records, Ordering::Release);
                    let mut shape = this.shape.write().expect("shape lock");
                    if shape.is_none() {
                        *shape = info.shape;
                    }
                } else {
                    this.nodes[node].saw(false);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Runs `op(node, client, ranges)` so that every slot is answered by exactly one replica,
    /// retrying a failed node's slots on other replicas (see the module doc).
    pub async fn scatter<T, F, Fut>(self: &Arc<Self>, op: F) -> Result<Gathered<T>, Status>
    where
        T: Send + 'static,
        F: Fn(ShardClient<Channel>, Vec<SlotRange>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>> + Send + 'static,
    {
        let mut remaining: Vec<u32> = (0..SLOT_COUNT).collect();
        let mut failed: HashMap<usize, Status> = HashMap::new();
        let mut parts = Vec::new();
        let mut lost: Vec<(u32, Option<usize>)> = Vec::new();
        while !remaining.is_empty() {
            let mut plan: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
            for &slot in &remaining {
                let replicas = self.map.replicas(slot);
                let pick = replicas
                    .iter()
                    .map(|&r| usize::from(r))
                    .filter(|r| !failed.contains_key(r))
                    .min_by_key(|&r| {
                        let load = plan.get(&r).map_or(0, Vec::len);
                        (!self.nodes[r].is_live(), load)
                    });
                match pick {
                    Some(node) => plan.entry(node).or_default().push(slot),
                    None => {
                        let last = replicas.iter().map(|&r| usize::from(r)).next_back();
                        lost.push((slot, last));
                    }
                }
            }
            let mut tasks = JoinSet::new();
            for (node, slots) in plan {
                let ranges = to_ranges(slots.iter().copied());
                let fut = op(self.client(node), ranges);
                let this = self.clone();
                tasks.spawn(async move {
                    let outcome = this.call(node, fut).await;
                    (node, slots, outcome)
                });
            }
            remaining.clear();
            while let Some(joined) = tasks.join_next().await {
                let (node, slots, outcome) =
                    joined.map_err(|e| Status::internal(format!("shard task failed: {e}")))?;
                match outcome {
                    Ok(value) => parts.push(Part { node, value }),
                    Err(s) if s.code() == Code::InvalidArgument => return Err(s),
                    Err(s) => {
                        failed.insert(node, s);
                        remaining.extend(slots);
                    }
                }
            }
            remaining.sort_unstable();
        }
        Ok(Gathered {
            parts,
            unsearched: self.unsearched(lost, &failed),
        })
    }

    /// Groups lost slots by the node last tried for them and its failure.
    fn unsearched(
        &self,
        mut lost: Vec<(u32, Option<usize>)>,
        failed: &HashMap<usize, Status>,
    ) -> Vec<v1::UnsearchedPart> {
        lost.sort_unstable();
        let mut groups: BTreeMap<Option<usize>, Vec<u32>> = BTreeMap::new();
        for (slot, node) in lost {
            groups.entry(node).or_default().push(slot);
        }
        groups
            .into_iter()
            .map(|(node, slots)| {
                let status = node.and_then(|n| failed.get(&n));
                let shard_ids: BTreeSet<String> = slots
                    .iter()
                    .flat_map(|&s| self.map.replicas(s))
                    .map(|&r| self.nodes[usize::from(r)].entry.id.clone())
                    .collect();
                let shard_ids = shard_ids.into_iter().collect();
                v1::UnsearchedPart {
                    slots: to_ranges(slots),
                    shard_ids,
                    cause: status.map_or(UnsearchedCause::NoLiveReplica, cause_of) as i32,
                    detail: status.map_or_else(
                        || "no replica could be asked".to_owned(),
                        |s| format!("{:?}: {}", s.code(), s.message()),
                    ),
                }
            })
            .collect()
    }
}
