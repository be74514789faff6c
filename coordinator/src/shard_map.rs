//! The shard map: which shard nodes exist and which R of them hold each of the 4,096 slots.
//!
//! Built once, at the first start, from the `--shard id=ADDR` flags: node `k` of `n` is the
//! first replica of a contiguous block of about `4096 / n` slots, and replica `j` of a slot is
//! node `(first + j) mod n`, so every node holds the same number of slots, the replicas of a
//! slot are distinct nodes, and each node's slots form few ranges (cheap slot filters).
//!
//! Persisted as JSON in `<data-dir>/shard_map.json` through a temporary file, fsync, rename and
//! a directory fsync, so a crash leaves the old map or the new one, never a torn file. Later
//! starts load it; flags that disagree with the stored map stop the coordinator (changing the
//! map is the rebalancer's job, not a restart's).

use abis_proto::v1::SlotRange;
use abis_proto::SLOT_COUNT;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "shard_map.json";

/// One shard node of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Stable id, unique in the cluster.
    pub id: String,
    /// Where it listens, host:port.
    pub address: String,
}

/// The nodes and, per slot, its replicas (indices into `nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    /// Raised on every change; sent with every write so nodes fence stale coordinators.
    pub epoch: u64,
    /// Replicas per slot.
    pub replication: u32,
    /// The nodes, in flag order.
    pub nodes: Vec<NodeEntry>,
    /// `slots[s]` lists the node indices holding slot `s`, first replica first.
    pub slots: Vec<Vec<u16>>,
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
            epoch: 1,
            replication,
            nodes,
            slots,
        })
    }

    /// The replicas of `slot`, as node indices.
    pub fn replicas(&self, slot: u32) -> &[u16] {
        &self.slots[slot as usize]
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
            if map.slots.len() != SLOT_COUNT as usize {
                bail!("corrupt shard map {}: wrong slot count", path.display());
            }
            if !nodes.is_empty() && (nodes != map.nodes || replication != map.replication) {
                bail!(
                    "the --shard/--replication flags differ from the stored shard map {} \
                     (epoch {}); the map changes only through rebalancing",
                    path.display(),
                    map.epoch
                );
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
            .map(|i| NodeEntry {
                id: format!("s{i}"),
                address: format!("127.0.0.1:{}", 7000 + i),
            })
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
        assert!(ShardMap::open_or_create(dir.path(), nodes(2), 2).is_err());
        assert!(ShardMap::open_or_create(dir.path(), nodes(3), 1).is_err());
    }

    #[test]
    fn ranges_merge_consecutive_slots() {
        let r = to_ranges([1, 2, 3, 7, 9, 10]);
        let pairs: Vec<_> = r.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(pairs, [(1, 4), (7, 8), (9, 11)]);
    }
}
