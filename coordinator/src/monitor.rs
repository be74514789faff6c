//! Watching the shard nodes: who answers, whether each is the node the map names, whether the
//! coordinator's own map is still the cluster's, and which replicas have fallen behind.
//!
//! Every period the monitor asks every node for its `Info` and decides, per node:
//!
//! - **Another node at the address** (another shard id, another cluster): a stranger, neither
//!   read nor written.
//! - **Another gallery** than the one the trust store expects (the data directory was wiped or
//!   replaced): if every slot it replicates has a readable replica elsewhere, the new gallery is
//!   adopted with all those slots marked *lost* (repaired from the other replicas before they
//!   are read there); otherwise it stays a stranger until an operator restores its data, and
//!   identify fails closed for the slots that have no other complete replica.
//! - **A new incarnation** (the node restarted): not read until it has been compared with its
//!   peers (per-slot counts and content digests, under the write gate): a slot that differs
//!   from a readable peer is marked *behind*; when no replica of a slot is readable, replicas
//!   that differ from each other are all marked behind (merged by the repairer). The verified
//!   incarnation is then stored, so a coordinator restart does not force another comparison.
//!
//! The coordinator's map is checked at the same time: a node that has seen a newer map epoch of
//! this cluster, or nodes that all belong to another cluster (the map was lost and made anew
//! from the flags), make the coordinator refuse every call until the operator restores the map
//! ([`Monitor::refusal`]).
//!
//! Every `anti_entropy` periods the replicas of every slot are also compared (under the write
//! gate, so no write is half-applied meanwhile); replicas of a slot that differ although none
//! is marked (a coordinator that died between writing one replica and the next) are all marked
//! behind and merged.

use crate::cluster::Cluster;
use crate::copy;
use crate::topology::Topology;
use crate::trust::{Identity, Mark, Standing, Trust};
use abis_proto::v1::{self, SlotRange};
use abis_proto::SLOT_COUNT;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinSet;

/// The monitor.
pub struct Monitor {
    topology: Arc<Topology>,
    refusal: RwLock<Option<String>>,
    /// Full comparisons every this many rounds.
    anti_entropy: u32,
}

/// One node's answer to Info in a round.
struct Seen {
    node: usize,
    info: v1::ShardNodeInfoResponse,
}

impl Monitor {
    /// A monitor of `topology` comparing all replicas every `anti_entropy` rounds.
    pub fn new(topology: Arc<Topology>, anti_entropy: u32) -> Self {
        Self {
            topology,
            refusal: RwLock::new(None),
            anti_entropy: anti_entropy.max(1),
        }
    }

    /// Why the coordinator must not serve now (its map is not the cluster's), if so.
    pub fn refusal(&self) -> Option<String> {
        self.refusal.read().expect("refusal lock").clone()
    }

    /// Runs a round every `period` until the task is dropped.
    pub fn spawn(self: Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut round = 0u32;
            loop {
                round = round.wrapping_add(1);
                let full = round.is_multiple_of(self.anti_entropy);
                if let Err(e) = self.round(full).await {
                    tracing::warn!("monitor round failed: {e:#}");
                }
                tokio::time::sleep(period).await;
            }
        })
    }

    /// One round: Info from every node, identities, the map's standing, verification of
    /// restarted nodes, and with `full` a comparison of every slot's replicas.
    pub async fn round(&self, full: bool) -> anyhow::Result<()> {
        let cluster = self.topology.read().clone();
        let seen = probe(&cluster).await;
        self.judge_map(&cluster, &seen);
        let mut unverified = Vec::new();
        for s in &seen {
            if let Some(incarnation) = self.identify(&cluster, s)? {
                unverified.push((s.node, incarnation));
            }
        }
        if !unverified.is_empty() || full {
            self.compare(&cluster, &unverified, full).await?;
        }
        Ok(())
    }

    /// Sets or clears the refusal from what the nodes say of the map.
    fn judge_map(&self, cluster: &Cluster, seen: &[Seen]) {
        let map = &cluster.map;
        let newer = seen
            .iter()
            .find(|s| s.info.cluster_id == map.cluster_id && s.info.map_epoch > map.epoch);
        let foreign: Vec<&Seen> = seen
            .iter()
            .filter(|s| !s.info.cluster_id.is_empty() && s.info.cluster_id != map.cluster_id)
            .collect();
        let refusal = if let Some(s) = newer {
            Some(format!(
                "shard {} has seen shard map epoch {} but this coordinator's map is at epoch {}: \
                 its shard_map.json is out of date; restore the newest backup",
                cluster.nodes[s.node].entry.id, s.info.map_epoch, map.epoch
            ))
        } else if !seen.is_empty() && foreign.len() == seen.len() {
            Some(format!(
                "every shard node answering belongs to cluster {} but this coordinator's map is \
                 cluster {}: the shard map was lost and made anew; restore shard_map.json from \
                 a backup",
                foreign[0].info.cluster_id, map.cluster_id
            ))
        } else {
            None
        };
        let mut current = self.refusal.write().expect("refusal lock");
        if refusal != *current {
            match &refusal {
                Some(why) => tracing::error!("refusing to serve: {why}"),
                None => tracing::info!("the shard map agrees with the nodes again"),
            }
            *current = refusal;
        }
    }

    /// Judges one node's identity; returns its incarnation if it needs verifying.
    fn identify(&self, cluster: &Cluster, s: &Seen) -> anyhow::Result<Option<u64>> {
        let trust = &cluster.trust;
        let entry = &cluster.nodes[s.node].entry;
        let stranger = |why: String| {
            if trust.standing(&entry.id) != Standing::Stranger(why.clone()) {
                tracing::warn!(shard = %entry.id, address = %entry.address, "{why}");
            }
            trust.set_standing(&entry.id, Standing::Stranger(why));
            Ok(None)
        };
        if s.info.shard_id != entry.id {
            return stranger(format!(
                "{} answers as shard {}",
                entry.address, s.info.shard_id
            ));
        }
        if !s.info.cluster_id.is_empty() && s.info.cluster_id != cluster.map.cluster_id {
            return stranger(format!("belongs to cluster {}", s.info.cluster_id));
        }
        let identity = trust.identity(&entry.id);
        match identity.uid.as_deref() {
            None => {
                // First sight: this is the node the map names.
                accept(trust, &entry.id, &s.info)?;
                tracing::info!(shard = %entry.id, uid = %s.info.node_uid, "shard node known");
                Ok(None)
            }
            Some(uid) if uid == s.info.node_uid => {
                if identity.verified_incarnation == s.info.incarnation {
                    if trust.standing(&entry.id) != Standing::Verified {
                        trust.set_standing(&entry.id, Standing::Verified);
                    }
                    return Ok(None);
                }
                trust.set_standing(&entry.id, Standing::Unverified);
                Ok(Some(s.info.incarnation))
            }
            Some(uid) => {
                let held: Vec<u32> = (0..SLOT_COUNT)
                    .filter(|&slot| {
                        cluster
                            .map
                            .replicas(slot)
                            .iter()
                            .any(|&r| usize::from(r) == s.node)
                    })
                    .collect();
                let orphan = held.iter().find(|&&slot| {
                    !cluster.map.replicas(slot).iter().any(|&r| {
                        let r = usize::from(r);
                        r != s.node && cluster.readable(r, slot) && cluster.nodes[r].is_live()
                    })
                });
                if let Some(slot) = orphan {
                    return stranger(format!(
                        "holds gallery {} where gallery {uid} was (its data directory was wiped \
                         or replaced) and slot {slot} has no other complete live replica to \
                         repair it from: restore its data directory",
                        s.info.node_uid
                    ));
                }
                let lost: Vec<(String, u32)> =
                    held.iter().map(|&slot| (entry.id.clone(), slot)).collect();
                trust.update(Mark::Lost, &lost, true)?;
                accept(trust, &entry.id, &s.info)?;
                tracing::warn!(
                    shard = %entry.id,
                    old = %uid,
                    new = %s.info.node_uid,
                    slots = held.len(),
                    "a replaced gallery was adopted: its slots are repaired from their other \
                     replicas before they are read there"
                );
                Ok(None)
            }
        }
    }

    /// Compares replicas under the write gate: the slots of the `unverified` nodes (then marked
    /// verified at their incarnation), or with `full` every slot.
    async fn compare(
        &self,
        cluster: &Arc<Cluster>,
        unverified: &[(usize, u64)],
        full: bool,
    ) -> anyhow::Result<()> {
        let trust = &cluster.trust;
        let _gate = self.topology.exclusive().await;
        let everything = [SlotRange::all()];
        let mut summaries: HashMap<usize, Vec<v1::SlotSummary>> = HashMap::new();
        let mut asks = JoinSet::new();
        for node in 0..cluster.nodes.len() {
            let id = &cluster.nodes[node].entry.id;
            let checking = unverified.iter().any(|u| u.0 == node);
            let trusted = trust.standing(id) == Standing::Verified;
            if !(checking || trusted) || !cluster.nodes[node].is_live() {
                continue;
            }
            let c = cluster.clone();
            asks.spawn(async move { (node, copy::summaries(&c, node, &everything).await) });
        }
        while let Some(joined) = asks.join_next().await {
            let (node, result) = joined?;
            match result {
                Ok(s) if s.len() == SLOT_COUNT as usize => {
                    summaries.insert(node, s);
                }
                Ok(_) => tracing::warn!("a node answered summaries for the wrong slots"),
                Err(e) => tracing::info!("no summaries: {e:#}"),
            }
        }
        let checking: Vec<usize> = unverified
            .iter()
            .map(|u| u.0)
            .filter(|n| summaries.contains_key(n))
            .collect();
        let mut behind: Vec<(String, u32)> = Vec::new();
        for slot in 0..SLOT_COUNT {
            let replicas: Vec<usize> = cluster
                .map
                .replicas(slot)
                .iter()
                .map(|&r| usize::from(r))
                .filter(|r| summaries.contains_key(r))
                .collect();
            let mine_checked: Vec<usize> = replicas
                .iter()
                .copied()
                .filter(|r| checking.contains(r))
                .collect();
            if mine_checked.is_empty() && !full {
                continue;
            }
            let of = |r: usize| summaries[&r][slot as usize];
            let truth: Vec<usize> = replicas
                .iter()
                .copied()
                .filter(|&r| !checking.contains(&r) && cluster.readable(r, slot))
                .collect();
            let mut distinct: BTreeMap<(u64, u64), ()> = BTreeMap::new();
            for &t in &truth {
                distinct.insert((of(t).records, of(t).digest), ());
            }
            if distinct.len() > 1 {
                // Readable replicas disagree (a coordinator died mid-write): merge them all.
                behind.extend(
                    replicas
                        .iter()
                        .map(|&r| (cluster.nodes[r].entry.id.clone(), slot)),
                );
                continue;
            }
            if let Some((&(records, digest), _)) = distinct.iter().next() {
                for &r in &mine_checked {
                    if (of(r).records, of(r).digest) != (records, digest) {
                        behind.push((cluster.nodes[r].entry.id.clone(), slot));
                    }
                }
            } else {
                // No readable replica to go by: replicas being checked must agree among
                // themselves, or all are merged.
                let first = mine_checked.first().map(|&r| (of(r).records, of(r).digest));
                if mine_checked
                    .iter()
                    .any(|&r| Some((of(r).records, of(r).digest)) != first)
                {
                    behind.extend(
                        mine_checked
                            .iter()
                            .map(|&r| (cluster.nodes[r].entry.id.clone(), slot)),
                    );
                }
            }
        }
        behind.retain(|(id, slot)| !trust.is_marked(id, *slot));
        if !behind.is_empty() {
            tracing::warn!(
                pairs = behind.len(),
                "replicas differ from their peers: marked behind for repair"
            );
        }
        trust.update(Mark::Behind, &behind, true)?;
        for &(node, incarnation) in unverified {
            if !checking.contains(&node) {
                continue;
            }
            let id = &cluster.nodes[node].entry.id;
            let mut identity = trust.identity(id);
            identity.verified_incarnation = incarnation;
            trust.set_identity(id, identity)?;
            trust.set_standing(id, Standing::Verified);
            tracing::info!(shard = %id, incarnation, "restarted shard node verified");
        }
        Ok(())
    }
}

/// Takes the node answering as `shard` to be the one the map names, verified as it is now.
fn accept(trust: &Trust, shard: &str, info: &v1::ShardNodeInfoResponse) -> anyhow::Result<()> {
    let identity = Identity {
        uid: Some(info.node_uid.clone()),
        verified_incarnation: info.incarnation,
    };
    trust.set_identity(shard, identity)?;
    trust.set_standing(shard, Standing::Verified);
    Ok(())
}

/// Info from every node, concurrently; records liveness, counts and the shape.
async fn probe(cluster: &Arc<Cluster>) -> Vec<Seen> {
    let mut tasks = JoinSet::new();
    for node in 0..cluster.nodes.len() {
        let c = cluster.clone();
        tasks.spawn(async move {
            let mut client = c.nodes[node].plain_client();
            let info = c.call(node, client.info(v1::ShardNodeInfoRequest {})).await;
            match info {
                Ok(info) => {
                    c.saw_info(node, &info);
                    Some(Seen { node, info })
                }
                Err(_) => {
                    c.saw_silence(node);
                    None
                }
            }
        });
    }
    let mut seen = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Some(s)) = joined {
            seen.push(s);
        }
    }
    seen.sort_by_key(|s| s.node);
    seen
}
