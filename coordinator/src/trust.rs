//! What the coordinator trusts each shard node with: whose gallery it should hold, whether its
//! current process has been checked against its peers, and which of its slots are behind.
//!
//! A replica is read for a slot only when it is [`Trust::readable`]: the node is the one the
//! cluster knows (its gallery id, learned at first sight), its current incarnation has been
//! verified (compared with the other replicas after it started, see `monitor`), and the slot is
//! not marked. Marks come in two kinds, both durable before anything that depends on them is
//! answered:
//!
//! - **behind**: the node missed a write of the slot (it was down, the call failed or timed
//!   out) while a complete replica took it, or a comparison found it differs from a complete
//!   peer. Repair makes it equal to a complete replica; if no replica of the slot is complete
//!   (every one missed something), the live replicas are merged (each gets what the others
//!   hold) once all of them answer.
//! - **lost**: the node's gallery was replaced (wiped, a new disk): its copy of the slot is
//!   gone and only a complete peer can give it back; without one the slot stays unreadable and
//!   identify fails closed until an operator restores the node's data.
//!
//! Stored in the coordinator's own RocksDB (`<data-dir>/trust/`): `node/<shard id>` holds the
//! expected gallery id and the verified incarnation, `behind/<shard id>` and `lost/<shard id>`
//! one bit per slot.

use abis_proto::SLOT_COUNT;
use anyhow::Context;
use rocksdb::{WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

/// One bit per slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSet(Vec<u64>);

impl Default for SlotSet {
    fn default() -> Self {
        Self(vec![0; SLOT_COUNT as usize / 64])
    }
}

impl SlotSet {
    /// Whether `slot` is in the set.
    pub fn contains(&self, slot: u32) -> bool {
        self.0[slot as usize / 64] >> (slot % 64) & 1 == 1
    }

    fn set(&mut self, slot: u32, on: bool) {
        let w = &mut self.0[slot as usize / 64];
        if on {
            *w |= 1 << (slot % 64);
        } else {
            *w &= !(1 << (slot % 64));
        }
    }

    /// The slots in the set, ascending.
    pub fn slots(&self) -> Vec<u32> {
        (0..SLOT_COUNT).filter(|&s| self.contains(s)).collect()
    }

    /// Whether no slot is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn from_bytes(b: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            b.len() == SLOT_COUNT as usize / 8,
            "slot set of {} bytes",
            b.len()
        );
        Ok(Self(
            b.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ))
    }
}

/// Why a slot of a node is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// It missed writes; repairable from a complete replica, or by merging the replicas.
    Behind,
    /// Its copy is gone with a replaced gallery; only a complete replica can restore it.
    Lost,
}

impl Mark {
    fn prefix(self) -> &'static str {
        match self {
            Mark::Behind => "behind/",
            Mark::Lost => "lost/",
        }
    }
}

/// What is durably known of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The gallery id the node must hold (hex), once seen.
    pub uid: Option<String>,
    /// The incarnation last verified against its peers.
    pub verified_incarnation: u64,
}

/// Where a node stands right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Not checked since this coordinator started, or restarted since its last check: not read.
    Unverified,
    /// Checked: its slots are read unless marked.
    Verified,
    /// Answers as another node than the one the map names (another gallery, shard id or
    /// cluster): neither read nor written.
    Stranger(String),
}

#[derive(Debug, Clone)]
struct NodeState {
    identity: Identity,
    standing: Standing,
    behind: SlotSet,
    lost: SlotSet,
}

/// The trust store.
pub struct Trust {
    db: DB,
    nodes: RwLock<HashMap<String, NodeState>>,
}

fn sync() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

impl Trust {
    /// Opens (or creates) the store under `dir/trust`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        let db = DB::open(&options, dir.join("trust")).context("cannot open the trust store")?;
        let mut nodes: HashMap<String, NodeState> = HashMap::new();
        for item in db.iterator(rocksdb::IteratorMode::Start) {
            let (key, value) = item?;
            let key = String::from_utf8(key.to_vec()).context("trust store key")?;
            let (kind, id) = key.split_once('/').context("trust store key")?;
            let state = nodes.entry(id.to_owned()).or_insert_with(|| NodeState {
                identity: Identity::default(),
                standing: Standing::Unverified,
                behind: SlotSet::default(),
                lost: SlotSet::default(),
            });
            match kind {
                "node" => state.identity = serde_json::from_slice(&value)?,
                "behind" => state.behind = SlotSet::from_bytes(&value)?,
                "lost" => state.lost = SlotSet::from_bytes(&value)?,
                other => anyhow::bail!("unknown trust store key kind {other}"),
            }
        }
        Ok(Self {
            db,
            nodes: RwLock::new(nodes),
        })
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&mut NodeState) -> T) -> T {
        let mut nodes = self.nodes.write().expect("trust lock");
        let state = nodes.entry(id.to_owned()).or_insert_with(|| NodeState {
            identity: Identity::default(),
            standing: Standing::Unverified,
            behind: SlotSet::default(),
            lost: SlotSet::default(),
        });
        f(state)
    }

    fn read<T>(&self, id: &str, f: impl FnOnce(Option<&NodeState>) -> T) -> T {
        f(self.nodes.read().expect("trust lock").get(id))
    }

    /// Whether node `id` may be read for `slot`.
    pub fn readable(&self, id: &str, slot: u32) -> bool {
        self.read(id, |s| {
            s.is_some_and(|s| {
                s.standing == Standing::Verified
                    && !s.behind.contains(slot)
                    && !s.lost.contains(slot)
            })
        })
    }

    /// Whether node `id` may be written (anything but a stranger).
    pub fn writable(&self, id: &str) -> bool {
        self.read(id, |s| {
            !matches!(s.map(|s| &s.standing), Some(Standing::Stranger(_)))
        })
    }

    /// The node's durable identity.
    pub fn identity(&self, id: &str) -> Identity {
        self.read(id, |s| s.map(|s| s.identity.clone()).unwrap_or_default())
    }

    /// The node's standing.
    pub fn standing(&self, id: &str) -> Standing {
        self.read(id, |s| {
            s.map_or(Standing::Unverified, |s| s.standing.clone())
        })
    }

    /// Sets the node's standing (in memory: it is re-established after every restart).
    pub fn set_standing(&self, id: &str, standing: Standing) {
        self.with(id, |s| s.standing = standing);
    }

    /// Durably records the node's identity.
    pub fn set_identity(&self, id: &str, identity: Identity) -> anyhow::Result<()> {
        self.db.put_opt(
            format!("node/{id}"),
            serde_json::to_vec(&identity)?,
            &sync(),
        )?;
        self.with(id, |s| s.identity = identity);
        Ok(())
    }

    /// The slots of node `id` with `mark`.
    pub fn marked(&self, id: &str, mark: Mark) -> SlotSet {
        self.read(id, |s| {
            s.map(|s| match mark {
                Mark::Behind => s.behind.clone(),
                Mark::Lost => s.lost.clone(),
            })
            .unwrap_or_default()
        })
    }

    /// Whether node `id` has any mark on `slot`.
    pub fn is_marked(&self, id: &str, slot: u32) -> bool {
        self.read(id, |s| {
            s.is_some_and(|s| s.behind.contains(slot) || s.lost.contains(slot))
        })
    }

    /// Durably adds (`on`) or clears marks: `(node id, slot)` pairs, one write for all.
    pub fn update(&self, mark: Mark, pairs: &[(String, u32)], on: bool) -> anyhow::Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut nodes = self.nodes.write().expect("trust lock");
        let mut changed: HashMap<&str, SlotSet> = HashMap::new();
        for (id, slot) in pairs {
            let set = changed.entry(id.as_str()).or_insert_with(|| {
                nodes
                    .get(id)
                    .map(|s| match mark {
                        Mark::Behind => s.behind.clone(),
                        Mark::Lost => s.lost.clone(),
                    })
                    .unwrap_or_default()
            });
            set.set(*slot, on);
        }
        let mut batch = WriteBatch::default();
        for (id, set) in &changed {
            batch.put(format!("{}{id}", mark.prefix()), set.to_bytes());
        }
        self.db.write_opt(batch, &sync())?;
        for (id, set) in changed {
            let state = nodes.entry(id.to_owned()).or_insert_with(|| NodeState {
                identity: Identity::default(),
                standing: Standing::Unverified,
                behind: SlotSet::default(),
                lost: SlotSet::default(),
            });
            match mark {
                Mark::Behind => state.behind = set,
                Mark::Lost => state.lost = set,
            }
        }
        Ok(())
    }

    /// Forgets a node removed from the map.
    pub fn forget(&self, id: &str) -> anyhow::Result<()> {
        let mut batch = WriteBatch::default();
        for prefix in ["node/", "behind/", "lost/"] {
            batch.delete(format!("{prefix}{id}"));
        }
        self.db.write_opt(batch, &sync())?;
        self.nodes.write().expect("trust lock").remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_identities_survive_a_restart_and_gate_reads() {
        let dir = tempfile::tempdir().unwrap();
        {
            let t = Trust::open(dir.path()).unwrap();
            assert!(!t.readable("s1", 5), "unverified nodes are not read");
            t.set_standing("s1", Standing::Verified);
            assert!(t.readable("s1", 5));
            t.update(Mark::Behind, &[("s1".into(), 5), ("s1".into(), 7)], true)
                .unwrap();
            t.update(Mark::Lost, &[("s2".into(), 9)], true).unwrap();
            assert!(!t.readable("s1", 5) && t.readable("s1", 6));
            t.update(Mark::Behind, &[("s1".into(), 7)], false).unwrap();
            t.set_identity(
                "s1",
                Identity {
                    uid: Some("ab".into()),
                    verified_incarnation: 3,
                },
            )
            .unwrap();
            t.set_standing("s2", Standing::Stranger("other gallery".into()));
            assert!(!t.writable("s2"));
        }
        let t = Trust::open(dir.path()).unwrap();
        assert_eq!(
            t.standing("s1"),
            Standing::Unverified,
            "re-checked after a restart"
        );
        assert_eq!(t.marked("s1", Mark::Behind).slots(), [5]);
        assert_eq!(t.marked("s2", Mark::Lost).slots(), [9]);
        assert_eq!(t.identity("s1").uid.as_deref(), Some("ab"));
        assert!(t.writable("s2"), "standing is not persisted");
        t.forget("s2").unwrap();
        assert!(t.marked("s2", Mark::Lost).is_empty());
    }
}
