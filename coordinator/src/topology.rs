//! The current cluster, and how it changes while calls run.
//!
//! [`Topology`] holds the current [`Cluster`] (an immutable map + connections). Every operation
//! takes a guard on the version it started with and uses that version to the end, so a call
//! never mixes two maps. A map change (Admin, rebalancer) persists the new map, then publishes a
//! new version; calls already running finish on the old one. Two waits make that safe:
//!
//! - Writes hold the *write gate* (shared) for their whole run. A map is published with the
//!   gate held exclusively, so no write of the old map is still running once the new one is
//!   current; the rebalancer also takes it to copy one page of a moving slot with no write in
//!   between (a delete landing between reading a page and copying it would otherwise be undone
//!   by the copy).
//! - Reads count themselves on their version ([`Topology::drain_reads`] waits until an old
//!   version has none left), so slots are dropped from a node only after no identify can still
//!   be reading them there.

use crate::cluster::{Cluster, Connector, SharedShape};
use crate::shard_map::ShardMap;
use crate::trust::Trust;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock as AsyncRwLock};

/// The current cluster version and what changes it.
pub struct Topology {
    current: RwLock<Arc<Cluster>>,
    connector: Connector,
    shape: SharedShape,
    /// What each node is trusted with (shared by every version).
    pub trust: Arc<Trust>,
    gate: Arc<AsyncRwLock<()>>,
    dir: PathBuf,
    /// Serialises map changes (Admin calls and the rebalancer's switches).
    pub changes: Mutex<()>,
}

/// A version of the cluster, counted as in use while held.
pub struct InUse(Arc<Cluster>);

impl InUse {
    fn new(cluster: Arc<Cluster>) -> Self {
        cluster.active.fetch_add(1, Ordering::AcqRel);
        Self(cluster)
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Deref for InUse {
    type Target = Arc<Cluster>;
    fn deref(&self) -> &Arc<Cluster> {
        &self.0
    }
}

/// A version of the cluster held for a write (the gate, shared).
pub struct Writing {
    cluster: InUse,
    _gate: OwnedRwLockReadGuard<()>,
}

impl Deref for Writing {
    type Target = Arc<Cluster>;
    fn deref(&self) -> &Arc<Cluster> {
        &self.cluster
    }
}

impl Topology {
    /// The topology of `map`, whose file lives in `dir`.
    pub fn new(
        map: ShardMap,
        connector: Connector,
        dir: PathBuf,
        trust: Arc<Trust>,
    ) -> anyhow::Result<Self> {
        let shape = SharedShape::default();
        let cluster = Cluster::new(map, &connector, None, shape.clone(), trust.clone())?;
        Ok(Self {
            current: RwLock::new(Arc::new(cluster)),
            connector,
            shape,
            trust,
            gate: Arc::new(AsyncRwLock::new(())),
            dir,
            changes: Mutex::new(()),
        })
    }

    /// The current version, for a read.
    pub fn read(&self) -> InUse {
        InUse::new(self.current.read().expect("topology lock").clone())
    }

    /// The current version, for a write: waits while the rebalancer holds the gate.
    pub async fn write(&self) -> Writing {
        let gate = self.gate.clone().read_owned().await;
        Writing {
            cluster: self.read(),
            _gate: gate,
        }
    }

    /// The gate, exclusively: no write runs while it is held.
    pub async fn exclusive(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    /// Persists `map` under the next epoch and makes it current; returns the version it
    /// replaced. The caller holds
    /// [`Topology::changes`]. It runs with the write gate held exclusively, so every write that
    /// started under the old map has finished and every later one sees the new map: writes of
    /// one coordinator never trip the nodes' epoch fence on each other.
    pub async fn publish(&self, mut map: ShardMap) -> anyhow::Result<Arc<Cluster>> {
        let _gate = self.exclusive().await;
        map.epoch = self.read().map.epoch + 1;
        map.save(&self.dir)?;
        let mut current = self.current.write().expect("topology lock");
        let next = Cluster::new(
            map,
            &self.connector,
            Some(&current),
            self.shape.clone(),
            self.trust.clone(),
        )?;
        tracing::info!(epoch = next.map.epoch, "shard map published");
        Ok(std::mem::replace(&mut *current, Arc::new(next)))
    }

    /// Waits until no operation is running on `old` (a version already replaced).
    pub async fn drain_reads(&self, old: &Cluster) {
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(10);
        while old.active.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(step).await;
            waited += step;
            if waited.as_millis().is_multiple_of(5000) {
                tracing::info!(
                    epoch = old.map.epoch,
                    "still waiting for calls on an old shard map"
                );
            }
        }
    }
}
