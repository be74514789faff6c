//! One version of the coordinator's view of its shard nodes: a shard map and one lazily
//! connected gRPC channel per node (mutual TLS unless plaintext was asked for), liveness from a
//! background monitor and from every call's outcome, and [`Cluster::scatter`], the one
//! fail-closed way to run an operation over every slot. A [`Cluster`] never changes; a new map
//! makes a new one that shares the connections of the nodes it keeps (see `topology`).
//!
//! Every call carries the fence metadata the nodes check (`shard.proto`): the cluster id, this
//! version's map epoch, the shard id and the gallery id the trust store expects ([`Stamp`]),
//! and its deadline as `grpc-timeout`, so a node stops work its caller gave up on.
//!
//! Scatter plans each round by giving every remaining slot to one *readable* replica (see
//! `trust`: a known, verified node whose copy of the slot is not marked behind or lost), live
//! replicas first and the least loaded of them, so the work spreads over all nodes; each node
//! then gets one call with all its slots as ranges, under the deadline. A node that fails gives
//! its slots back and is skipped for the rest of the operation, so the next round retries them
//! on another replica; slots with no readable replica left are reported unsearched with the last
//! cause seen. A caller's mistake (`INVALID_ARGUMENT`, an answer too large) is no node's fault
//! and ends the operation at once.

use crate::shard_map::{to_ranges, NodeEntry, ShardMap};
use crate::trust::Trust;
use abis_proto::status::{error_detail_of, status_from_detail};
use abis_proto::v1::shard_client::ShardClient;
use abis_proto::v1::{self, ErrorCode, ErrorDetail, SlotRange, UnsearchedCause};
use abis_proto::SLOT_COUNT;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio::task::JoinSet;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

/// Largest gRPC message sent to or accepted from a node.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// A client of one shard node whose calls carry the fence metadata and a deadline.
pub type Client = ShardClient<InterceptedService<Channel, Stamp>>;

/// The fence metadata of one node under one map version (see `shard.proto`), and the deadline.
#[derive(Clone)]
pub struct Stamp {
    cluster: AsciiMetadataValue,
    epoch: AsciiMetadataValue,
    shard: Option<AsciiMetadataValue>,
    uid: Option<AsciiMetadataValue>,
    incarnation: Option<AsciiMetadataValue>,
    deadline: Duration,
}

impl tonic::service::Interceptor for Stamp {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let m = request.metadata_mut();
        m.insert("abis-cluster-id", self.cluster.clone());
        m.insert("abis-map-epoch", self.epoch.clone());
        if let Some(shard) = &self.shard {
            m.insert("abis-shard-id", shard.clone());
        }
        if let Some(uid) = &self.uid {
            m.insert("abis-node-uid", uid.clone());
        }
        if let Some(incarnation) = &self.incarnation {
            m.insert("abis-node-incarnation", incarnation.clone());
        }
        request.set_timeout(self.deadline);
        Ok(request)
    }
}

fn ascii(text: &str) -> Option<AsciiMetadataValue> {
    MetadataValue::try_from(text).ok()
}

/// One shard node and what the coordinator last saw of it.
pub struct NodeConn {
    /// Its map entry.
    pub entry: NodeEntry,
    channel: Channel,
    live: AtomicBool,
    records: AtomicU64,
    last_seen: Mutex<Option<SystemTime>>,
}

impl NodeConn {
    /// A client without fence metadata (for Info, which is never fenced).
    pub fn plain_client(&self) -> ShardClient<Channel> {
        ShardClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
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
        // No endpoint-wide timeout: each call sets its own deadline (some scale with the work).
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", entry.address))?
            .connect_timeout(self.timeout);
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone())?;
        }
        Ok(NodeConn {
            entry: entry.clone(),
            channel: endpoint.connect_lazy(),
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
    /// Deadline of each call to a node (searches get more: see `search`).
    pub timeout: Duration,
    /// What each node is trusted with.
    pub trust: Arc<Trust>,
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

/// Whether a node's refusal means the request or its answer is too large: the caller's fault
/// (typed TOO_LARGE by a node, or a message over gRPC's size limit on either side), never a
/// reason to try another replica.
pub fn is_too_large(status: &Status) -> bool {
    match error_detail_of(status) {
        Some(d) => d.code == ErrorCode::TooLarge as i32,
        None => {
            matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange)
                && status.message().contains("message length too large")
        }
    }
}

/// The caller's TOO_LARGE error for a node's size refusal.
pub fn too_large(status: &Status) -> Status {
    status_from_detail(ErrorDetail {
        code: ErrorCode::TooLarge as i32,
        message: format!(
            "the answer would exceed the message size limit ({}): ask for fewer probes or \
             fewer results per probe",
            status.message()
        ),
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
        trust: Arc<Trust>,
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
            trust,
            shape,
            active: AtomicUsize::new(0),
        })
    }

    /// A client of node `node` whose calls carry this version's fence and the default deadline.
    pub fn client(&self, node: usize) -> Client {
        self.client_within(node, self.timeout)
    }

    /// A client of node `node` whose calls carry this version's fence and `deadline`.
    pub fn client_within(&self, node: usize, deadline: Duration) -> Client {
        let conn = &self.nodes[node];
        let identity = self.trust.identity(&conn.entry.id);
        let uid = identity.uid;
        let stamp = Stamp {
            incarnation: (identity.verified_incarnation != 0)
                .then(|| AsciiMetadataValue::from(identity.verified_incarnation)),
            cluster: ascii(&self.map.cluster_id)
                .unwrap_or_else(|| AsciiMetadataValue::from_static("")),
            epoch: AsciiMetadataValue::from(self.map.epoch),
            shard: ascii(&conn.entry.id),
            uid: uid.as_deref().and_then(ascii),
            deadline,
        };
        ShardClient::with_interceptor(conn.channel.clone(), stamp)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Runs one call to node `node` under the default deadline and records its liveness.
    pub async fn call<T>(
        &self,
        node: usize,
        fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        self.call_within(node, self.timeout, fut).await
    }

    /// Runs one call to node `node` under `deadline` (the client's own deadline should be the
    /// same: see [`Cluster::client_within`]) and records its liveness.
    pub async fn call_within<T>(
        &self,
        node: usize,
        deadline: Duration,
        fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        // A little slack, so the node's own deadline (grpc-timeout) fires first.
        let outcome = match tokio::time::timeout(deadline + Duration::from_millis(250), fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(s),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {} ms",
                deadline.as_millis()
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

    /// Records what node `node` answered to Info: live, its record count, and the gallery
    /// shape if none is known yet.
    pub fn saw_info(&self, node: usize, info: &v1::ShardNodeInfoResponse) {
        let conn = &self.nodes[node];
        conn.saw(true);
        conn.records.store(info.records, Ordering::Release);
        let mut shape = self.shape.write().expect("shape lock");
        if shape.is_none() {
            *shape = info.shape;
        }
    }

    /// Records that node `node` did not answer.
    pub fn saw_silence(&self, node: usize) {
        self.nodes[node].saw(false);
    }

    /// Whether node `node` may be read for `slot` (see `trust`).
    pub fn readable(&self, node: usize, slot: u32) -> bool {
        self.trust.readable(&self.nodes[node].entry.id, slot)
    }

    /// Runs `op(node, client, ranges)` so that every slot is answered by exactly one readable
    /// replica, retrying a failed node's slots on other replicas (see the module doc); each
    /// call under `deadline(node)`.
    pub async fn scatter<T, F, Fut>(
        self: &Arc<Self>,
        deadline: impl Fn(usize) -> Duration,
        op: F,
    ) -> Result<Gathered<T>, Status>
    where
        T: Send + 'static,
        F: Fn(Client, Vec<SlotRange>) -> Fut,
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
                    .filter(|&r| !failed.contains_key(&r) && self.readable(r, slot))
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
                let within = deadline(node);
                let fut = op(self.client_within(node, within), ranges);
                let this = self.clone();
                tasks.spawn(async move {
                    let outcome = this.call_within(node, within, fut).await;
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
                    Err(s) if is_too_large(&s) => return Err(too_large(&s)),
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
