//! Anti-entropy: bringing marked replicas back in line so they are read again.
//!
//! Every period the repairer takes the marks of the trust store (`trust`: slots a node missed
//! writes of, or lost with a replaced gallery) and, for each marked slot of a live, verified
//! node:
//!
//! - with a readable live replica of the slot elsewhere, makes the marked copy equal to it
//!   ([`copy::converge`] with deletes: what it lacks is copied, what only it holds is removed,
//!   same id with other content takes the complete replica's);
//! - with none, when the marks are all *behind* and every replica of the slot answers, merges
//!   them: the replica holding most records first receives what the others hold, then every
//!   other one is made equal to it (so an acknowledged record that reached any replica is kept);
//! - with none and a *lost* copy among them, waits: only a complete replica can restore a lost
//!   copy, and identify fails closed for the slot meanwhile.
//!
//! A mark is cleared only after the repaired copies' per-slot summaries (count and content
//! digest) equal the source's, compared with the write gate held so no write is half-applied
//! between the two reads; a write that fails on the node meanwhile marks it again. Marks of
//! slots the node no longer replicates (moved away by a rebalance) are dropped.

use crate::cluster::Cluster;
use crate::copy;
use crate::shard_map::to_ranges;
use crate::topology::Topology;
use crate::trust::{Mark, Standing};
use abis_proto::v1::SlotRange;
use abis_proto::SLOT_COUNT;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The repairer.
pub struct Repairer {
    topology: Arc<Topology>,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Slot copies found equal to their source and cleared.
    pub cleared: u64,
    /// Records copied.
    pub copied: u64,
    /// Records deleted.
    pub deleted: u64,
    /// Marked slot copies that could not be repaired this round.
    pub waiting: u64,
}

impl Repairer {
    /// A repairer of `topology`.
    pub fn new(topology: Arc<Topology>) -> Self {
        Self { topology }
    }

    /// Runs a round every `period` (unless `paused()`) until the task is dropped.
    pub fn spawn(
        self: Arc<Self>,
        period: Duration,
        paused: impl Fn() -> bool + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                if paused() {
                    continue;
                }
                match self.round().await {
                    Ok(r) if r.cleared > 0 || r.copied > 0 || r.deleted > 0 => {
                        tracing::info!(
                            cleared = r.cleared,
                            copied = r.copied,
                            deleted = r.deleted,
                            waiting = r.waiting,
                            "repair round"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("repair round failed: {e:#}"),
                }
            }
        })
    }

    /// One round over every mark (see the module doc).
    pub async fn round(&self) -> anyhow::Result<Round> {
        let cluster = self.topology.read().clone();
        let trust = &cluster.trust;
        let mut round = Round::default();
        // (target, source) -> slots; replica list -> slots to merge.
        let mut directed: BTreeMap<(usize, usize), Vec<u32>> = BTreeMap::new();
        let mut merges: BTreeMap<Vec<usize>, Vec<u32>> = BTreeMap::new();
        let mut irrelevant: Vec<(String, u32)> = Vec::new();
        for node in 0..cluster.nodes.len() {
            let id = &cluster.nodes[node].entry.id;
            let marked: Vec<u32> = {
                let (b, l) = (trust.marked(id, Mark::Behind), trust.marked(id, Mark::Lost));
                (0..SLOT_COUNT)
                    .filter(|&s| b.contains(s) || l.contains(s))
                    .collect()
            };
            for slot in marked {
                let replicas: Vec<usize> = cluster
                    .map
                    .replicas(slot)
                    .iter()
                    .map(|&r| usize::from(r))
                    .collect();
                if !replicas.contains(&node) {
                    if !cluster.map.incoming(slot).contains(&(node as u16)) {
                        irrelevant.push((id.clone(), slot));
                    }
                    continue;
                }
                let usable = |r: usize| {
                    cluster.nodes[r].is_live()
                        && trust.standing(&cluster.nodes[r].entry.id) == Standing::Verified
                };
                if !usable(node) {
                    round.waiting += 1;
                    continue;
                }
                let source = replicas
                    .iter()
                    .copied()
                    .find(|&r| r != node && usable(r) && cluster.readable(r, slot));
                match source {
                    Some(source) => directed.entry((node, source)).or_default().push(slot),
                    None => {
                        let all_behind_and_up = replicas.iter().all(|&r| {
                            usable(r)
                                && !trust
                                    .marked(&cluster.nodes[r].entry.id, Mark::Lost)
                                    .contains(slot)
                        });
                        if all_behind_and_up {
                            merges.entry(replicas).or_default().push(slot);
                        } else {
                            round.waiting += 1;
                        }
                    }
                }
            }
        }
        for pair in &irrelevant {
            for mark in [Mark::Behind, Mark::Lost] {
                trust.update(mark, std::slice::from_ref(pair), false)?;
            }
        }
        for ((target, source), slots) in directed {
            let ranges = to_ranges(slots.iter().copied());
            let done = copy::converge(
                &self.topology,
                &cluster,
                source,
                target,
                &ranges,
                true,
                |_| {},
            )
            .await?;
            round.copied += done.copied;
            round.deleted += done.deleted;
            round.cleared += self
                .clear_if_equal(&cluster, &[target], source, &ranges)
                .await?;
        }
        for (replicas, mut slots) in merges {
            slots.dedup();
            let ranges = to_ranges(slots.iter().copied());
            let base = self.fullest(&cluster, &replicas, &ranges).await?;
            for &r in replicas.iter().filter(|&&r| r != base) {
                let done =
                    copy::converge(&self.topology, &cluster, r, base, &ranges, false, |_| {})
                        .await?;
                round.copied += done.copied;
            }
            for &r in replicas.iter().filter(|&&r| r != base) {
                let done = copy::converge(&self.topology, &cluster, base, r, &ranges, true, |_| {})
                    .await?;
                round.copied += done.copied;
                round.deleted += done.deleted;
            }
            tracing::info!(slots = slots.len(), "replicas with no complete copy merged");
            round.cleared += self
                .clear_if_equal(&cluster, &replicas, base, &ranges)
                .await?;
        }
        Ok(round)
    }

    /// The replica holding most records in `ranges`.
    async fn fullest(
        &self,
        cluster: &Arc<Cluster>,
        replicas: &[usize],
        ranges: &[SlotRange],
    ) -> anyhow::Result<usize> {
        let mut best = (0u64, replicas[0]);
        for &r in replicas {
            let n: u64 = copy::summaries(cluster, r, ranges)
                .await?
                .iter()
                .map(|s| s.records)
                .sum();
            if n > best.0 {
                best = (n, r);
            }
        }
        Ok(best.1)
    }

    /// With the write gate held: clears the marks of every `targets` slot whose summary equals
    /// `source`'s (the source's too when it is among the targets). Returns how many were
    /// cleared.
    async fn clear_if_equal(
        &self,
        cluster: &Arc<Cluster>,
        targets: &[usize],
        source: usize,
        ranges: &[SlotRange],
    ) -> anyhow::Result<u64> {
        let _gate = self.topology.exclusive().await;
        let want = copy::summaries(cluster, source, ranges).await?;
        let mut equal: Vec<bool> = vec![true; want.len()];
        for &t in targets.iter().filter(|&&t| t != source) {
            let got = copy::summaries(cluster, t, ranges).await?;
            for (i, (a, b)) in want.iter().zip(&got).enumerate() {
                if a != b {
                    equal[i] = false;
                }
            }
        }
        let mut pairs = Vec::new();
        for (summary, ok) in want.iter().zip(equal) {
            if !ok {
                continue;
            }
            for &t in targets.iter().chain(std::iter::once(&source)) {
                pairs.push((cluster.nodes[t].entry.id.clone(), summary.slot));
            }
        }
        pairs.sort();
        pairs.dedup();
        let cleared = pairs
            .iter()
            .filter(|(id, s)| cluster.trust.is_marked(id, *s))
            .count() as u64;
        for mark in [Mark::Behind, Mark::Lost] {
            cluster.trust.update(mark, &pairs, false)?;
        }
        Ok(cleared)
    }
}
