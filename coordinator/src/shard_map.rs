//! The shard map: which shard nodes exist and which R of them hold each of the 4,096 slots.
//!
//! Built once, at the first start, from the `--shard id=ADDR` flags: node `k` of `n` is the
//! first replica of a contiguous block of about `4096 / n` slots, and replica `j` of a slot is
//! node `(first + j) mod n`, so every node holds the same number of slots, the replicas of a
//! slot are distinct nodes, and each node's slots form few ranges (cheap slot filters).
//!
//! The map changes only through the Admin service (add, drain, remove a node) and the
//! rebalancer, each change under a new epoch. While slots move, a slot also has `incoming`
//! nodes: they receive its writes and a copy of its records but are not read until the map
//! switches them to replicas (see `rebalance`). Slots a node gave up but has not dropped yet are
//! `pending_drops`, retried by the next rebalance.
//!
//! Persisted as JSON in `<data-dir>/shard_map.json` through a temporary file, fsync, rename and
//! a directory fsync, so a crash leaves the old map or the new one, never a torn file. Later
//! starts load it: the stored map is authoritative. A `--shard ID=ADDR` flag for a node it
//! holds updates that node's address (a node moved); flags naming unknown nodes, stale after
//! nodes were added or removed, are reported and ignored.
//!
//! A map made from the flags gets a new random *cluster id*, which every call to a node carries
//! and every node keeps once written to. If the file is lost, the map made again from the flags
//! is therefore another cluster: the nodes refuse it and the coordinator refuses to serve (see
//! `monitor`) until the operator restores the file from a backup. The file changes only when the
//! map does (Admin calls, rebalances): back it up after each.

use abis_proto::v1::{ShardState, SlotRange};
use abis_proto::SLOT_COUNT;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "shard_map.json";

/// Where a node is in its life in the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    /// Added, holding no slot until a rebalance gives it its share.
    Joining,
    /// Holding its share.
    #[default]
    Active,
    /// Being emptied: the next rebalance moves its slots away.
    Draining,
    /// Holds nothing; can be removed.
    Drained,
}

impl NodeState {
    /// The API's name for it.
    pub fn to_proto(self) -> ShardState {
        match self {
            Self::Joining => ShardState::Joining,
            Self::Active => ShardState::Active,
            Self::Draining => ShardState::Draining,
            Self::Drained => ShardState::Drained,
        }
    }

    /// Whether a rebalance gives it slots.
    pub fn takes_slots(self) -> bool {
        matches!(self, Self::Joining | Self::Active)
    }
}

/// One shard node of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Stable id, unique in the cluster.
    pub id: String,
    /// Where it listens, host:port.
    pub address: String,
    /// Its state.
    #[serde(default)]
    pub state: NodeState,
}

impl NodeEntry {
    /// An active node.
    pub fn new(id: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            address: address.into(),
            state: NodeState::Active,
        }
    }
}

/// Slots a node gave up but still holds records of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDrop {
    /// The node's id.
    pub node: String,
    /// The slots, as ascending `(start, end)` ranges.
    pub ranges: Vec<(u32, u32)>,
}

/// The nodes and, per slot, its replicas (indices into `nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    /// Made with the map; sent with every call so nodes refuse another cluster's coordinator.
    #[serde(default)]
    pub cluster_id: String,
    /// Raised on every change; sent with every call so nodes fence stale coordinators.
    pub epoch: u64,
    /// Replicas per slot.
    pub replication: u32,
    /// The nodes, in flag order.
    pub nodes: Vec<NodeEntry>,
    /// `slots[s]` lists the node indices holding slot `s`, first replica first.
    pub slots: Vec<Vec<u16>>,
    /// `incoming[s]` lists the nodes receiving a copy of slot `s` (written, not read); empty
    /// (or all empty) when no slot moves.
    #[serde(default)]
    pub incoming: Vec<Vec<u16>>,
    /// Slots given up but not yet dropped.
    #[serde(default)]
    pub pending_drops: Vec<PendingDrop>,
}

impl ShardMap {
    /// The even map of `nodes` with `replication` replicas per slot, at epoch 1.
    pub fn even(nodes: Vec<NodeEntry>, replication: u32) -> anyhow::Result<Self> {
        let n = nodes.len();
        if n == 0 {
            bail!("no shard node: pass --shard ID=HOST:PORT (repeatable)");
        }
        if n > usize::from(u16::MAX) {
            bail!("{n} shard nodes: at most {} are supported", u16::MAX);
        }
        if replication == 0 || replication as usize > n {
            bail!("replication {replication} needs 1 to {n} (the number of shard nodes)");
        }
        for (i, a) in nodes.iter().enumerate() {
            if a.id.trim().is_empty() || a.address.trim().is_empty() {
                bail!("shard {i}: empty id or address");
            }
            if nodes[..i].iter().any(|b| b.id == a.id) {
                bail!("shard id {} given twice", a.id);
            }
        }
        let slots = (0..SLOT_COUNT as usize)
            .map(|s| {
                let first = s * n / SLOT_COUNT as usize;
                (0..replication as usize)
                    .map(|j| ((first + j) % n) as u16)
                    .collect()
            })
            .collect();
        Ok(Self {
            cluster_id: new_cluster_id(),
            epoch: 1,
            replication,
            nodes,
            slots,
            incoming: Vec::new(),
            pending_drops: Vec::new(),
        })
    }

    /// The replicas of `slot`, as node indices: the nodes it is read from.
    pub fn replicas(&self, slot: u32) -> &[u16] {
        &self.slots[slot as usize]
    }

    /// The nodes receiving a copy of `slot` while it moves.
    pub fn incoming(&self, slot: u32) -> &[u16] {
        self.incoming.get(slot as usize).map_or(&[], Vec::as_slice)
    }

    /// Every node a write to `slot` must reach: its replicas, then its incoming nodes.
    pub fn writers(&self, slot: u32) -> impl Iterator<Item = u16> + '_ {
        self.replicas(slot)
            .iter()
            .chain(self.incoming(slot))
            .copied()
    }

    /// The index of the node with id `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Whether node `node` holds or receives any slot (what it has still to drop does not
    /// count: nobody reads it there).
    pub fn holds_slots(&self, node: usize) -> bool {
        let n = node as u16;
        self.slots
            .iter()
            .chain(&self.incoming)
            .any(|r| r.contains(&n))
    }

    /// Checks the invariants a loaded map must keep.
    fn check(&self) -> anyhow::Result<()> {
        let n = self.nodes.len();
        if self.slots.len() != SLOT_COUNT as usize
            || !(self.incoming.is_empty() || self.incoming.len() == SLOT_COUNT as usize)
        {
            bail!("wrong slot count");
        }
        let bad = |r: &Vec<u16>| r.iter().any(|&i| usize::from(i) >= n);
        if self.slots.iter().chain(&self.incoming).any(bad) {
            bail!("a slot names a node that is not in the map");
        }
        if self.slots.iter().any(Vec::is_empty) {
            bail!("a slot has no replica");
        }
        Ok(())
    }

    /// The slots node `node` holds, as ascending ranges.
    pub fn ranges_of(&self, node: usize) -> Vec<SlotRange> {
        to_ranges(
            (0..SLOT_COUNT).filter(|&s| self.replicas(s).iter().any(|&r| usize::from(r) == node)),
        )
    }

    /// Loads the stored map, or creates and stores the even map of the flags. A stored map
    /// wins, but flags that disagree with it are refused.
    pub fn open_or_create(
        dir: &Path,
        nodes: Vec<NodeEntry>,
        replication: u32,
    ) -> anyhow::Result<Self> {
        let path = dir.join(FILE_NAME);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let map: Self = serde_json::from_str(&text)
                .with_context(|| format!("corrupt shard map {}", path.display()))?;
            map.check()
                .with_context(|| format!("corrupt shard map {}", path.display()))?;
            let mut map = map;
            let mut moved = false;
            for flag in &nodes {
                let known = map.nodes.iter_mut().find(|n| n.id == flag.id);
                match known {
                    Some(node) if node.address != flag.address => {
                        tracing::info!(
                            shard = %flag.id,
                            from = %node.address,
                            to = %flag.address,
                            "shard node address changed by --shard"
                        );
                        node.address = flag.address.clone();
                        moved = true;
                    }
                    Some(_) => {}
                    None => tracing::warn!(
                        shard = %flag.id,
                        "--shard names a node that is not in the stored shard map; ignored \
                         (nodes join through Admin.AddShard)"
                    ),
                }
            }
            if !nodes.is_empty() && replication != map.replication {
                tracing::warn!(
                    stored = map.replication,
                    "--replication differs from the stored shard map; using the stored value"
                );
            }
            if map.cluster_id.is_empty() {
                // A map from before cluster ids: its nodes hold none either and take this one.
                map.cluster_id = new_cluster_id();
                moved = true;
            }
            if moved {
                map.save(dir)?;
            }
            return Ok(map);
        }
        let map = Self::even(nodes, replication)?;
        map.save(dir)?;
        Ok(map)
    }

    /// Writes the map durably (temporary file, fsync, rename, directory fsync).
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        let text = serde_json::to_vec(self)?;
        let mut file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(FILE_NAME))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
}

/// A random cluster id (128 bits, hex).
fn new_cluster_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Ascending slots as half-open ranges of consecutive slots.
pub fn to_ranges(slots: impl IntoIterator<Item = u32>) -> Vec<SlotRange> {
    let mut out: Vec<SlotRange> = Vec::new();
    for s in slots {
        match out.last_mut() {
            Some(r) if r.end == s => r.end = s + 1,
            _ => out.push(SlotRange {
                start: s,
                end: s + 1,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<NodeEntry> {
        (0..n)
            .map(|i| NodeEntry::new(format!("s{i}"), format!("127.0.0.1:{}", 7000 + i)))
            .collect()
    }

    #[test]
    fn even_map_spreads_slots_over_distinct_replicas() {
        let map = ShardMap::even(nodes(3), 2).unwrap();
        let mut held = [0usize; 3];
        for s in 0..SLOT_COUNT {
            let r = map.replicas(s);
            assert_eq!(r.len(), 2);
            assert_ne!(r[0], r[1]);
            for &n in r {
                held[usize::from(n)] += 1;
            }
        }
        let total: usize = held.iter().sum();
        assert_eq!(total, 2 * SLOT_COUNT as usize);
        assert!(held.iter().all(|&h| h.abs_diff(total / 3) <= 2), "{held:?}");
        let slots: u32 = map.ranges_of(1).iter().map(|r| r.len()).sum();
        assert_eq!(slots as usize, held[1]);
        assert!(map.ranges_of(1).len() <= 2);
    }

    #[test]
    fn bad_maps_are_refused() {
        assert!(ShardMap::even(nodes(0), 1).is_err());
        assert!(ShardMap::even(nodes(2), 3).is_err());
        assert!(ShardMap::even(nodes(2), 0).is_err());
        let mut twice = nodes(2);
        twice[1].id = "s0".into();
        assert!(ShardMap::even(twice, 1).is_err());
    }

    #[test]
    fn stored_map_is_loaded_and_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let a = ShardMap::open_or_create(dir.path(), nodes(3), 2).unwrap();
        let b = ShardMap::open_or_create(dir.path(), Vec::new(), 2).unwrap();
        assert_eq!(a, b);
        // Stale flags do not override the stored map.
        assert_eq!(
            ShardMap::open_or_create(dir.path(), nodes(2), 1).unwrap(),
            a
        );
        let mut broken = a.clone();
        broken.slots[7] = vec![9];
        broken.save(dir.path()).unwrap();
        assert!(ShardMap::open_or_create(dir.path(), Vec::new(), 2).is_err());
    }

    #[test]
    fn ranges_merge_consecutive_slots() {
        let r = to_ranges([1, 2, 3, 7, 9, 10]);
        let pairs: Vec<_> = r.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(pairs, [(1, 4), (7, 8), (9, 11)]);
    }
}
