//! Online rebalancing: moving slots between shard nodes while inserts, deletes and identifies
//! go on, losing no acknowledged record and never answering an identify from a partial copy.
//!
//! One run, with the map published (and persisted) at each switch:
//!
//! 1. Drop what earlier runs left behind (`pending_drops`: slots a node gave up).
//! 2. Plan ([`plan::balanced`]) and publish a map where every slot gaining a node lists it as
//!    *incoming*: writes now reach the old replicas and the incoming node, reads still use the
//!    old replicas only.
//! 3. Copy each moving slot range from one old replica (a readable one: see `trust`) to its new
//!    node with [`copy::converge`] (one page at a time with the write gate held, so no write to
//!    the range lands between reading a page and storing it; records only the new node holds,
//!    left by a write that failed half-way, are deleted). Then, with the gate held, the two
//!    nodes' per-slot summaries (counts and content digests) must agree.
//! 4. Publish the map where the new nodes are replicas and the nodes that gave slots up are
//!    not; wait until no call still runs on an older map.
//! 5. Drop the given-up slots on their old nodes; DRAINING nodes that hold nothing turn DRAINED.
//!    A draining node that cannot be reached (it died) keeps its drop queued: nobody reads those
//!    copies, and RemoveShard abandons them with the node.
//!
//! A failure stops the run (state FAILED) with the map as last published: every slot is still
//! complete on its replicas, so nothing is lost and identify stays complete; StartRebalance
//! plans again from there (a node already holding part of a copy gets the rest).

use crate::cluster::Cluster;
use crate::copy;
use crate::plan;
use crate::shard_map::{to_ranges, NodeState, PendingDrop, ShardMap};
use crate::topology::Topology;
use abis_proto::v1::{self, RebalanceState, SlotRange};
use abis_proto::SLOT_COUNT;
use anyhow::{anyhow, bail, Context};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Deadline of one DropSlots call (a node deletes every record of the slots).
const DROP_TIMEOUT: Duration = Duration::from_secs(600);

/// Slots moving from one node to another.
#[derive(Debug, Clone)]
struct Move {
    ranges: Vec<SlotRange>,
    from: String,
    to: String,
    copied: u64,
    done: bool,
}

#[derive(Debug)]
struct Progress {
    state: RebalanceState,
    moves: Vec<Move>,
    started_at: Option<SystemTime>,
    finished_at: Option<SystemTime>,
    failure: String,
}

/// Runs rebalances, one at a time, and reports on the last one.
pub struct Rebalancer {
    topology: Arc<Topology>,
    progress: Mutex<Progress>,
    running: AtomicBool,
}

impl Rebalancer {
    /// A rebalancer of `topology`, idle.
    pub fn new(topology: Arc<Topology>) -> Self {
        Self {
            topology,
            progress: Mutex::new(Progress {
                state: RebalanceState::Idle,
                moves: Vec::new(),
                started_at: None,
                finished_at: None,
                failure: String::new(),
            }),
            running: AtomicBool::new(false),
        }
    }

    /// Whether a run is under way.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Where the current or last run is.
    pub fn status(&self) -> v1::RebalanceStatusResponse {
        let p = self.progress.lock().expect("progress lock");
        v1::RebalanceStatusResponse {
            state: p.state as i32,
            moves_total: p.moves.len() as u32,
            moves_done: p.moves.iter().filter(|m| m.done).count() as u32,
            records_copied: p.moves.iter().map(|m| m.copied).sum(),
            in_progress: p
                .moves
                .iter()
                .filter(|m| !m.done && m.copied > 0)
                .map(|m| v1::SlotMove {
                    slots: m.ranges.clone(),
                    from_shard_id: m.from.clone(),
                    to_shard_id: m.to.clone(),
                    records_copied: m.copied,
                })
                .collect(),
            map_epoch: self.topology.read().map.epoch,
            started_at: p.started_at.map(Into::into),
            finished_at: p.finished_at.map(Into::into),
            failure: p.failure.clone(),
        }
    }

    /// Starts a run unless one is under way; either way returns the status. Refuses (before
    /// starting anything) a map no plan can balance.
    pub fn start(self: &Arc<Self>) -> anyhow::Result<v1::RebalanceStatusResponse> {
        if self.running.swap(true, Ordering::AcqRel) {
            return Ok(self.status());
        }
        if let Err(e) = plan::balanced(&self.topology.read().map) {
            self.running.store(false, Ordering::Release);
            return Err(e);
        }
        *self.progress.lock().expect("progress lock") = Progress {
            state: RebalanceState::Running,
            moves: Vec::new(),
            started_at: Some(SystemTime::now()),
            finished_at: None,
            failure: String::new(),
        };
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.run().await;
            let mut p = this.progress.lock().expect("progress lock");
            match outcome {
                Ok(()) => {
                    p.state = RebalanceState::Done;
                    tracing::info!(moves = p.moves.len(), "rebalance done");
                }
                Err(e) => {
                    p.state = RebalanceState::Failed;
                    p.failure = format!("{e:#}");
                    tracing::error!("rebalance failed: {e:#}");
                }
            }
            p.finished_at = Some(SystemTime::now());
            drop(p);
            this.running.store(false, Ordering::Release);
        });
        Ok(self.status())
    }

    async fn run(&self) -> anyhow::Result<()> {
        let t = &self.topology;
        self.drop_pending().await?;
        let (target, moves, before) = {
            let _changes = t.changes.lock().await;
            let mut map = t.read().map.clone();
            let target = plan::balanced(&map)?;
            let moves = self.plan_moves(&mut map, &target);
            let before = t.publish(map).await?;
            (target, moves, before)
        };
        tracing::info!(moves = moves.len(), "rebalance: copying");
        self.progress.lock().expect("progress lock").moves = moves.clone();
        let copying = t.read();
        for (i, mv) in moves.iter().enumerate() {
            self.copy(&copying, i, mv)
                .await
                .with_context(|| format!("copying slots from {} to {}", mv.from, mv.to))?;
        }
        drop(copying);
        let switched = {
            let _changes = t.changes.lock().await;
            let mut map = t.read().map.clone();
            let mut given_up: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
            for (slot, new) in target.iter().enumerate() {
                for n in plan::added(new, &map.slots[slot]) {
                    given_up.entry(n).or_default().push(slot as u32);
                }
            }
            map.slots = target;
            map.incoming = Vec::new();
            add_drops(&mut map, given_up);
            for node in &mut map.nodes {
                if node.state == NodeState::Joining {
                    node.state = NodeState::Active;
                }
            }
            t.publish(map).await?
        };
        t.drain_reads(&before).await;
        t.drain_reads(&switched).await;
        self.drop_pending().await
    }

    /// Sets `map.incoming` for `target`, queues drops of stale incoming copies, and returns the
    /// copies to make: one per (old replica, new node) pair, with all its slots, so each pair
    /// is one pass over the source's records.
    fn plan_moves(&self, map: &mut ShardMap, target: &[Vec<u16>]) -> Vec<Move> {
        let cluster = self.topology.read();
        let mut incoming = vec![Vec::new(); SLOT_COUNT as usize];
        let mut stale: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
        let mut pairs: BTreeMap<(u16, u16), Vec<u32>> = BTreeMap::new();
        let mut sourced = vec![0usize; map.nodes.len()];
        for slot in 0..SLOT_COUNT {
            let add = plan::added(map.replicas(slot), &target[slot as usize]);
            for &n in map.incoming(slot) {
                if !add.contains(&n) {
                    stale.entry(n).or_default().push(slot);
                }
            }
            for &to in &add {
                // A replica behind on the slot is no source: prefer readable, live, least used.
                let from = *map
                    .replicas(slot)
                    .iter()
                    .min_by_key(|&&r| {
                        let r = usize::from(r);
                        (
                            !cluster.readable(r, slot),
                            !cluster.nodes[r].is_live(),
                            sourced[r],
                            r,
                        )
                    })
                    .expect("every slot has a replica");
                sourced[usize::from(from)] += 1;
                pairs.entry((from, to)).or_default().push(slot);
            }
            incoming[slot as usize] = add;
        }
        map.incoming = incoming;
        add_drops(map, stale);
        let id = |n: u16| map.nodes[usize::from(n)].id.clone();
        pairs
            .into_iter()
            .map(|((from, to), slots)| Move {
                ranges: to_ranges(slots),
                from: id(from),
                to: id(to),
                copied: 0,
                done: false,
            })
            .collect()
    }

    /// Copies one move's records, page by page under the write gate, then checks the summaries.
    async fn copy(&self, cluster: &Arc<Cluster>, index: usize, mv: &Move) -> anyhow::Result<()> {
        let from = node_index(cluster, &mv.from)?;
        let to = node_index(cluster, &mv.to)?;
        if let Some(slot) = mv
            .ranges
            .iter()
            .flat_map(|r| r.start..r.end)
            .find(|&s| !cluster.readable(from, s))
        {
            bail!(
                "{} is not a complete copy of slot {slot} (behind, lost or unverified): \
                 retry once it has been repaired",
                mv.from
            );
        }
        copy::converge(
            &self.topology,
            cluster,
            from,
            to,
            &mv.ranges,
            true,
            |copied| self.progress.lock().expect("progress lock").moves[index].copied = copied,
        )
        .await?;
        let _gate = self.topology.exclusive().await;
        let (a, b) = (
            copy::summaries(cluster, from, &mv.ranges).await?,
            copy::summaries(cluster, to, &mv.ranges).await?,
        );
        if a != b {
            bail!("after copying, the source and the copy still differ");
        }
        self.progress.lock().expect("progress lock").moves[index].done = true;
        Ok(())
    }

    /// Drops every pending drop, removing each from the map once done, then turns DRAINING
    /// nodes that hold nothing DRAINED.
    async fn drop_pending(&self) -> anyhow::Result<()> {
        let t = &self.topology;
        let pending = t.read().map.pending_drops.clone();
        for drop in pending {
            let cluster = t.read();
            let node = node_index(&cluster, &drop.node)?;
            let slots: Vec<SlotRange> = drop
                .ranges
                .iter()
                .map(|&(start, end)| SlotRange { start, end })
                .collect();
            let mut client = cluster.client(node);
            let call = client.drop_slots(v1::DropSlotsRequest {
                slots,
                map_epoch: cluster.map.epoch,
            });
            let dropped = tokio::time::timeout(DROP_TIMEOUT, call)
                .await
                .map_err(|_| anyhow!("no answer in {} s", DROP_TIMEOUT.as_secs()))
                .and_then(|r| r.map_err(|s| anyhow!("{:?}: {}", s.code(), s.message())))
                .with_context(|| format!("dropping given-up slots on {}", drop.node));
            let deleted = match dropped {
                Ok(r) => r.into_inner().deleted,
                // A leaving node that cannot be reached (it died): its copies are read by
                // nobody, so its removal need not wait; the drop stays queued until then.
                Err(e) if !cluster.map.nodes[node].state.takes_slots() => {
                    tracing::warn!("{e:#}; left for the node's removal");
                    continue;
                }
                Err(e) => return Err(e),
            };
            tracing::info!(node = %drop.node, deleted, "given-up slots dropped");
            drop_done(t, &drop).await?;
        }
        let _changes = t.changes.lock().await;
        let mut map = t.read().map.clone();
        let mut changed = false;
        for i in 0..map.nodes.len() {
            if map.nodes[i].state == NodeState::Draining && !map.holds_slots(i) {
                map.nodes[i].state = NodeState::Drained;
                changed = true;
            }
        }
        if changed {
            t.publish(map).await?;
        }
        Ok(())
    }
}

/// Removes a finished drop from the map.
async fn drop_done(t: &Topology, done: &PendingDrop) -> anyhow::Result<()> {
    let _changes = t.changes.lock().await;
    let mut map = t.read().map.clone();
    map.pending_drops.retain(|d| d != done);
    t.publish(map).await?;
    Ok(())
}

/// Adds `slots` per node to the map's pending drops (merged with what a node already has).
fn add_drops(map: &mut ShardMap, slots: BTreeMap<u16, Vec<u32>>) {
    for (node, new) in slots {
        let id = map.nodes[usize::from(node)].id.clone();
        let mut all: BTreeSet<u32> = new.into_iter().collect();
        map.pending_drops.retain(|d| {
            if d.node != id {
                return true;
            }
            all.extend(d.ranges.iter().flat_map(|&(s, e)| s..e));
            false
        });
        map.pending_drops.push(PendingDrop {
            node: id,
            ranges: to_ranges(all).iter().map(|r| (r.start, r.end)).collect(),
        });
    }
}

fn node_index(cluster: &Cluster, id: &str) -> anyhow::Result<usize> {
    cluster
        .map
        .index_of(id)
        .ok_or_else(|| anyhow!("shard {id} is no longer in the map"))
}
