//! [`Node`]: the state behind the Shard service (the engine, the map fence, the metrics) and
//! the plumbing every handler shares.
//!
//! - Engine calls are CPU-bound (rayon inside) or fsync, so they run on tokio's blocking pool
//!   ([`Node::blocking`]), never on the reactor threads.
//! - Each request runs inside a tracing span (`rpc`, with method, shard id and peer) and is
//!   counted and timed per method and status code ([`Node::traced`]).
//! - Every call but Info is fenced ([`Node::fenced`], see `shard.proto`): the call's metadata
//!   must name this shard id, this node's gallery, its cluster and an epoch no older than the
//!   highest seen; reads that answer searches must also name this process's incarnation
//!   ([`Node::fenced_read`]), so a restarted node answers none before it has been verified. A node wiped or replaced at the same address therefore refuses the calls of a
//!   coordinator that expects the old one, and a coordinator whose map was lost and made anew is
//!   refused by every node.
//! - Writes (insert, delete, drop) take the fence's async mutex for their whole duration: the
//!   epoch check and the write it admits are one step, so a write admitted under epoch `e` can
//!   never land after a write of a newer epoch has been answered. The engine serialises writes
//!   anyway, so the mutex costs no parallelism; reads check the fence's last state without it.
//! - Searches are limited to a number at a time ([`Node::search_permit`]); one over the limit is
//!   refused at once as overloaded rather than queued without bound.
//! - Every error becomes a status through `abis_proto::status`; the node maps nothing itself.

use crate::epoch::{EpochFence, Refusal};
use crate::metrics::Metrics;
use abis_engine::Engine;
use abis_matchers::iris::IrisLayout;
use abis_proto::status::{status_from_detail, ToErrorDetail};
use abis_proto::v1::{ErrorCode, ErrorDetail};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tokio::sync::{Mutex, MutexGuard, OwnedSemaphorePermit, Semaphore};
use tonic::metadata::MetadataMap;
use tonic::{Code, Response, Status};
use tracing::Instrument;

/// Metadata keys of a fenced call (see `shard.proto`).
pub mod keys {
    /// The cluster id.
    pub const CLUSTER: &str = "abis-cluster-id";
    /// The shard map epoch, decimal.
    pub const EPOCH: &str = "abis-map-epoch";
    /// The shard id the caller believes it calls.
    pub const SHARD: &str = "abis-shard-id";
    /// The gallery id the caller expects, hex.
    pub const NODE_UID: &str = "abis-node-uid";
    /// The incarnation the caller verified (reads only), decimal.
    pub const INCARNATION: &str = "abis-node-incarnation";
}

/// Who a call is meant for and under which map, as its metadata says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFence {
    /// The caller's cluster id.
    pub cluster: Option<String>,
    /// The caller's map epoch (0: none).
    pub epoch: u64,
    /// The shard id the caller expects.
    pub shard: Option<String>,
    /// The gallery id the caller expects.
    pub node_uid: Option<String>,
    /// The incarnation the caller verified (0: none given).
    pub incarnation: u64,
}

impl CallFence {
    /// Reads the fence metadata; a malformed value is the caller's error.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        let text = |key: &str| -> Result<Option<String>, Status> {
            match metadata.get(key) {
                None => Ok(None),
                Some(v) => v.to_str().map(|s| Some(s.to_owned())).map_err(|_| {
                    detail_status(
                        ErrorCode::InvalidRequest,
                        format!("metadata {key} is not text"),
                    )
                }),
            }
        };
        let number = |key: &str| -> Result<u64, Status> {
            match text(key)? {
                None => Ok(0),
                Some(e) => e.parse().map_err(|_| {
                    detail_status(
                        ErrorCode::InvalidRequest,
                        format!("metadata {key} is not a number"),
                    )
                }),
            }
        };
        let epoch = number(keys::EPOCH)?;
        let incarnation = number(keys::INCARNATION)?;
        Ok(Self {
            cluster: text(keys::CLUSTER)?.filter(|c| !c.is_empty()),
            epoch,
            shard: text(keys::SHARD)?,
            node_uid: text(keys::NODE_UID)?,
            incarnation,
        })
    }
}

/// One shard node's state.
pub struct Node {
    pub(crate) shard_id: String,
    pub(crate) engine: Arc<Engine>,
    /// The gallery's iris layout (fixed for the gallery's life), for conversions.
    pub(crate) layout: IrisLayout,
    /// Hex of the engine's gallery id.
    pub(crate) node_uid: String,
    /// Random per process start.
    pub(crate) incarnation: u64,
    fence: Mutex<EpochFence>,
    /// The fence's highest epoch, epoch of the last drop and cluster, readable without waiting
    /// for a write.
    epoch: AtomicU64,
    dropped_at: AtomicU64,
    cluster: RwLock<Option<String>>,
    searches: Arc<Semaphore>,
    pub(crate) metrics: Arc<Metrics>,
}

/// Sets its flag when dropped: a handler holds one while the engine works, so a call abandoned
/// by its caller (deadline, cancellation: tonic drops the handler's future) stops the engine.
pub(crate) struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Node {
    /// A node serving `engine` under `shard_id`, running at most `max_searches` searches at
    /// once.
    pub fn new(
        shard_id: String,
        engine: Arc<Engine>,
        fence: EpochFence,
        metrics: Arc<Metrics>,
        max_searches: usize,
    ) -> Self {
        Self {
            shard_id,
            layout: engine.shape().iris_layout,
            node_uid: format!("{:032x}", engine.gallery_id()),
            incarnation: rand_u64(),
            engine,
            epoch: AtomicU64::new(fence.highest()),
            dropped_at: AtomicU64::new(fence.dropped_at()),
            cluster: RwLock::new(fence.cluster().map(str::to_owned)),
            fence: Mutex::new(fence),
            searches: Arc::new(Semaphore::new(max_searches.max(1))),
            metrics,
        }
    }

    /// The highest shard map epoch seen.
    pub fn map_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The cluster the node belongs to, if a write told it.
    pub fn cluster_id(&self) -> Option<String> {
        self.cluster.read().expect("cluster lock").clone()
    }

    /// Checks a read's fence metadata: shard id, gallery and cluster as [`Node::fenced`], an
    /// epoch no older than the last drop (see `epoch`), and the incarnation the caller verified
    /// must be this process's (a node restarted since is compared with its peers before it
    /// answers searches).
    pub(crate) fn fenced_read(&self, metadata: &MetadataMap) -> Result<CallFence, Status> {
        let fence = self.identified(metadata)?;
        let dropped_at = self.dropped_at.load(Ordering::Acquire);
        if fence.epoch != 0 && fence.epoch < dropped_at {
            return Err(detail_status(
                ErrorCode::FailedPrecondition,
                Refusal::Stale {
                    got: fence.epoch,
                    highest: dropped_at,
                }
                .to_string(),
            ));
        }
        if fence.incarnation != 0 && fence.incarnation != self.incarnation {
            return Err(detail_status(
                ErrorCode::Unavailable,
                "this node restarted and has not yet been verified against its peers".into(),
            ));
        }
        Ok(fence)
    }

    /// Checks a write's fence metadata against this node (shard id, gallery, cluster, an epoch
    /// no older than the highest seen) and returns it.
    pub(crate) fn fenced(&self, metadata: &MetadataMap) -> Result<CallFence, Status> {
        let fence = self.identified(metadata)?;
        let highest = self.map_epoch();
        if fence.epoch != 0 && fence.epoch < highest {
            return Err(detail_status(
                ErrorCode::FailedPrecondition,
                Refusal::Stale {
                    got: fence.epoch,
                    highest,
                }
                .to_string(),
            ));
        }
        Ok(fence)
    }

    /// Checks the shard id, gallery and cluster a call names.
    fn identified(&self, metadata: &MetadataMap) -> Result<CallFence, Status> {
        let fence = CallFence::from_metadata(metadata)?;
        let refuse = |m: String| detail_status(ErrorCode::FailedPrecondition, m);
        if let Some(shard) = fence.shard.as_deref().filter(|s| *s != self.shard_id) {
            return Err(refuse(format!(
                "this is shard {}, not {shard}",
                self.shard_id
            )));
        }
        if let Some(uid) = fence.node_uid.as_deref().filter(|u| *u != self.node_uid) {
            return Err(refuse(format!(
                "this node holds gallery {}, the call expects gallery {uid} (the node was wiped \
                 or replaced)",
                self.node_uid
            )));
        }
        let mine = self.cluster_id();
        if let (Some(got), Some(mine)) = (fence.cluster.as_deref(), mine.as_deref()) {
            if got != mine {
                return Err(refuse(
                    Refusal::OtherCluster {
                        got: got.to_owned(),
                        mine: mine.to_owned(),
                    }
                    .to_string(),
                ));
            }
        }
        Ok(fence)
    }

    /// Records, durably and before anything is deleted, that slots are dropped under `epoch`
    /// (with the write lock `fence` held).
    pub(crate) fn record_drop(&self, fence: &mut EpochFence, epoch: u64) -> Result<(), Status> {
        tokio::task::block_in_place(|| fence.record_drop(epoch)).map_err(|e| {
            detail_status(
                ErrorCode::Internal,
                format!("cannot persist the drop epoch: {e:#}"),
            )
        })?;
        self.dropped_at.store(fence.dropped_at(), Ordering::Release);
        Ok(())
    }

    /// A search slot, or an OVERLOADED refusal when all are taken.
    pub(crate) fn search_permit(&self) -> Result<OwnedSemaphorePermit, Status> {
        self.searches.clone().try_acquire_owned().map_err(|_| {
            detail_status(
                ErrorCode::Overloaded,
                "the node is running as many searches as it allows; retry shortly".into(),
            )
        })
    }

    /// Runs a handler body in a span, then counts and times it.
    pub(crate) async fn traced<T>(
        &self,
        method: &'static str,
        peer: Option<SocketAddr>,
        body: impl Future<Output = Result<T, Status>>,
    ) -> Result<Response<T>, Status> {
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        let span = tracing::info_span!("rpc", method, shard = %self.shard_id, %peer);
        let start = Instant::now();
        let result = body.instrument(span.clone()).await;
        let elapsed = start.elapsed();
        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        self.metrics.observe(method, code, elapsed);
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!(elapsed_us = elapsed.as_micros() as u64, "ok"),
            Err(s) => tracing::info!(
                elapsed_us = elapsed.as_micros() as u64,
                code = ?s.code(),
                message = s.message(),
                "refused"
            ),
        });
        result.map(Response::new)
    }

    /// Runs `f` on the blocking pool, in the current span.
    pub(crate) async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(f))
            .await
            .map_err(|e| detail_status(ErrorCode::Internal, format!("engine task failed: {e}")))?
    }

    /// Takes the write lock and admits the write's map (`epoch` from its body, else from its
    /// metadata; the cluster from its metadata): see [`EpochFence::admit`]. The guard must be
    /// held until the write is done.
    pub(crate) async fn admit(
        &self,
        epoch: u64,
        call: &CallFence,
    ) -> Result<MutexGuard<'_, EpochFence>, Status> {
        let epoch = if epoch == 0 { call.epoch } else { epoch };
        let mut fence = self.fence.lock().await;
        // Raising the epoch fsyncs a small file: brief, but blocking.
        let admitted = tokio::task::block_in_place(|| fence.admit(epoch, call.cluster.as_deref()))
            .map_err(|e| {
                detail_status(
                    ErrorCode::Internal,
                    format!("cannot persist map epoch: {e:#}"),
                )
            })?;
        self.epoch.store(fence.highest(), Ordering::Release);
        *self.cluster.write().expect("cluster lock") = fence.cluster().map(str::to_owned);
        match admitted {
            Ok(()) => Ok(fence),
            Err(refusal) => Err(detail_status(
                ErrorCode::FailedPrecondition,
                refusal.to_string(),
            )),
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process; mixed with the time for good measure.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish().max(1)
}

/// A status for a condition the engine and the conversions do not have an error for (a stale
/// epoch, a failed task), built through the API's one mapping.
pub(crate) fn detail_status(code: ErrorCode, message: String) -> Status {
    status_from_detail(ErrorDetail {
        code: code as i32,
        message,
        reference_id: String::new(),
        item_index: None,
    })
}

/// The status of an error about item `index` of a batch request.
pub(crate) fn item_status(error: &impl ToErrorDetail, index: usize) -> Status {
    status_from_detail(error.error_detail().at_item(index))
}
