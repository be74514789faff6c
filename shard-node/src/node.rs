//! [`Node`]: the state behind the Shard service (the engine, the epoch fence, the metrics) and
//! the plumbing every handler shares.
//!
//! - Engine calls are CPU-bound (rayon inside) or fsync, so they run on tokio's blocking pool
//!   ([`Node::blocking`]), never on the reactor threads.
//! - Each request runs inside a tracing span (`rpc`, with method, shard id and peer) and is
//!   counted and timed per method and status code ([`Node::traced`]).
//! - Writes (insert, delete, drop) take the fence's async mutex for their whole duration: the
//!   epoch check and the write it admits are one step, so a write admitted under epoch `e` can
//!   never land after a write of a newer epoch has been answered. The engine serialises writes
//!   anyway, so the mutex costs no parallelism; reads never take it.
//! - Every error becomes a status through `abis_proto::status`; the node maps nothing itself.

use crate::epoch::EpochFence;
use crate::metrics::Metrics;
use crate::slots::SlotCounts;
use abis_engine::Engine;
use abis_matchers::iris::IrisLayout;
use abis_proto::status::{status_from_detail, ToErrorDetail};
use abis_proto::v1::{ErrorCode, ErrorDetail};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Mutex, MutexGuard};
use tonic::{Code, Response, Status};
use tracing::Instrument;

/// One shard node's state.
pub struct Node {
    pub(crate) shard_id: String,
    pub(crate) engine: Arc<Engine>,
    /// The gallery's iris layout (fixed for the gallery's life), for conversions.
    pub(crate) layout: IrisLayout,
    fence: Mutex<EpochFence>,
    /// The fence's highest epoch, readable without waiting for a write.
    epoch: AtomicU64,
    pub(crate) metrics: Arc<Metrics>,
    /// Live records per routing slot.
    pub(crate) slots: Arc<SlotCounts>,
}

impl Node {
    /// A node serving `engine` under `shard_id`.
    pub fn new(
        shard_id: String,
        engine: Arc<Engine>,
        fence: EpochFence,
        metrics: Arc<Metrics>,
        slots: Arc<SlotCounts>,
    ) -> Self {
        Self {
            shard_id,
            layout: engine.shape().iris_layout,
            engine,
            epoch: AtomicU64::new(fence.highest()),
            fence: Mutex::new(fence),
            metrics,
            slots,
        }
    }

    /// The highest shard map epoch seen.
    pub fn map_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
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

    /// Takes the write lock and admits `epoch` (see [`EpochFence::admit`]); the guard must be
    /// held until the write is done.
    pub(crate) async fn admit(&self, epoch: u64) -> Result<MutexGuard<'_, EpochFence>, Status> {
        let mut fence = self.fence.lock().await;
        // Raising the epoch fsyncs a small file: brief, but blocking.
        let admitted = tokio::task::block_in_place(|| fence.admit(epoch)).map_err(|e| {
            detail_status(
                ErrorCode::Internal,
                format!("cannot persist map epoch: {e:#}"),
            )
        })?;
        self.epoch.store(fence.highest(), Ordering::Release);
        match admitted {
            Ok(()) => Ok(fence),
            Err(stale) => Err(detail_status(
                ErrorCode::FailedPrecondition,
                format!(
                    "stale shard map epoch {}: this node has seen epoch {}",
                    stale.got, stale.highest
                ),
            )),
        }
    }
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
