//! `abis.v1.Admin`: the shard map, adding, draining and removing shard nodes, and rebalancing.
//!
//! Map changes are serialised ([`Topology::changes`]) and refused while a rebalance runs, so
//! the rebalancer's plan never meets a map it did not make. A node joins empty (JOINING, after
//! the coordinator checked it answers with the cluster's gallery shape); a rebalance gives it
//! its share. A drained node is removed from the map, and its index with it; a node that died
//! can be drained too (its slots are copied from their other replicas) and removed, abandoning
//! what it could not be told to drop.

use crate::auth::{caller_of, Role};
use crate::rebalance::Rebalancer;
use crate::service::{Audit, Coordinator};
use crate::shard_map::{NodeEntry, NodeState};
use crate::topology::Topology;
use crate::trust::{Mark, Standing};
use abis_proto::status::status_from_detail;
use abis_proto::v1::admin_server::Admin;
use abis_proto::v1::{self, ErrorCode, ErrorDetail};
use abis_proto::SLOT_COUNT;
use tonic::{Request, Response, Status};

fn refused(code: ErrorCode, message: impl Into<String>) -> Status {
    status_from_detail(ErrorDetail {
        code: code as i32,
        message: message.into(),
        ..Default::default()
    })
}

fn shard_info(topology: &Topology, id: &str) -> Option<v1::ShardInfo> {
    let cluster = topology.read();
    let i = cluster.map.index_of(id)?;
    let n = &cluster.nodes[i];
    Some(v1::ShardInfo {
        shard_id: n.entry.id.clone(),
        address: n.entry.address.clone(),
        state: cluster.map.nodes[i].state.to_proto() as i32,
        live: n.is_live(),
        slots: cluster.map.ranges_of(i),
        records: n.records(),
        last_seen: n.last_seen().map(Into::into),
        standing: match topology.trust.standing(id) {
            Standing::Verified => "verified".into(),
            Standing::Unverified => "unverified".into(),
            Standing::Stranger(why) => format!("stranger: {why}"),
        },
        slots_behind: topology.trust.marked(id, Mark::Behind).slots().len() as u32,
        slots_lost: topology.trust.marked(id, Mark::Lost).slots().len() as u32,
    })
}

fn not_while_rebalancing(rebalancer: &Rebalancer) -> Result<(), Status> {
    if rebalancer.is_running() {
        return Err(refused(
            ErrorCode::FailedPrecondition,
            "a rebalance is running; wait for it to finish (RebalanceStatus)",
        ));
    }
    Ok(())
}

impl Coordinator {
    async fn add(&self, request: v1::AddShardRequest) -> Result<v1::ShardInfo, Status> {
        let address = request.address.trim();
        if address.is_empty() {
            return Err(abis_proto::ProtoError::missing("address").into());
        }
        let probe = self
            .connector
            .connect(&NodeEntry::new(request.shard_id.clone(), address))
            .map_err(|e| refused(ErrorCode::InvalidRequest, format!("address {address}: {e}")))?;
        let info = tokio::time::timeout(
            self.connector.timeout,
            probe.plain_client().info(v1::ShardNodeInfoRequest {}),
        )
        .await
        .map_err(|_| refused(ErrorCode::Unavailable, format!("{address} did not answer")))?
        .map_err(|s| {
            refused(
                ErrorCode::Unavailable,
                format!("{address} did not answer: {}", s.message()),
            )
        })?
        .into_inner();
        let id = match request.shard_id.is_empty() {
            true => info.shard_id.clone(),
            false => request.shard_id.clone(),
        };
        let _changes = self.topology.changes.lock().await;
        not_while_rebalancing(&self.rebalancer)?;
        let cluster = self.topology.read();
        if let Some(shape) = cluster.shape() {
            if info.shape != Some(shape) {
                return Err(refused(
                    ErrorCode::FailedPrecondition,
                    format!(
                        "{address} has gallery shape {:?}, the cluster {shape:?}",
                        info.shape
                    ),
                ));
            }
        }
        let mut map = cluster.map.clone();
        if let Some(n) = map
            .nodes
            .iter()
            .find(|n| n.id == id || n.address == address)
        {
            return Err(refused(
                ErrorCode::AlreadyExists,
                format!("shard {} at {} is already in the map", n.id, n.address),
            ));
        }
        if !info.cluster_id.is_empty() && info.cluster_id != cluster.map.cluster_id {
            return Err(refused(
                ErrorCode::FailedPrecondition,
                format!(
                    "{address} belongs to cluster {}: only a node of no cluster (a new, empty \
                     data directory) can join",
                    info.cluster_id
                ),
            ));
        }
        let mut entry = NodeEntry::new(id.clone(), address);
        entry.state = NodeState::Joining;
        map.nodes.push(entry);
        drop(cluster);
        self.topology.publish(map).await.map_err(internal)?;
        tracing::info!(shard = %id, %address, "shard added (joining)");
        Ok(shard_info(&self.topology, &id).expect("just added"))
    }

    async fn drain(&self, request: v1::DrainShardRequest) -> Result<v1::ShardInfo, Status> {
        {
            let _changes = self.topology.changes.lock().await;
            not_while_rebalancing(&self.rebalancer)?;
            let mut map = self.topology.read().map.clone();
            let i = map
                .index_of(&request.shard_id)
                .ok_or_else(|| unknown(&request.shard_id))?;
            if map.nodes[i].state != NodeState::Drained {
                map.nodes[i].state = NodeState::Draining;
                if let Err(e) = crate::plan::balanced(&map) {
                    return Err(refused(ErrorCode::FailedPrecondition, format!("{e:#}")));
                }
                self.topology.publish(map).await.map_err(internal)?;
            }
            if request.start_rebalance {
                self.rebalancer
                    .start()
                    .map_err(|e| refused(ErrorCode::FailedPrecondition, format!("{e:#}")))?;
            }
        }
        Ok(shard_info(&self.topology, &request.shard_id).expect("in the map"))
    }

    async fn remove(&self, request: v1::RemoveShardRequest) -> Result<u64, Status> {
        let _changes = self.topology.changes.lock().await;
        not_while_rebalancing(&self.rebalancer)?;
        let mut map = self.topology.read().map.clone();
        let i = map
            .index_of(&request.shard_id)
            .ok_or_else(|| unknown(&request.shard_id))?;
        if map.nodes[i].state != NodeState::Drained || map.holds_slots(i) {
            return Err(refused(
                ErrorCode::FailedPrecondition,
                format!(
                    "shard {} is not drained: DrainShard it and let the rebalance finish",
                    request.shard_id
                ),
            ));
        }
        // Slots it has still to drop (it was unreachable) are abandoned with it: no map names
        // the node any more, so nothing reads them; wipe its disk before reusing it.
        let removed = map.nodes.remove(i);
        map.pending_drops.retain(|d| d.node != removed.id);
        let i = i as u16;
        for replicas in map.slots.iter_mut().chain(map.incoming.iter_mut()) {
            for n in replicas.iter_mut() {
                if *n > i {
                    *n -= 1;
                }
            }
        }
        self.topology.publish(map).await.map_err(internal)?;
        self.topology
            .trust
            .forget(&request.shard_id)
            .map_err(internal)?;
        tracing::info!(shard = %request.shard_id, "shard removed");
        Ok(self.topology.read().map.epoch)
    }
}

fn unknown(id: &str) -> Status {
    refused(ErrorCode::NotFound, format!("no shard {id} in the map"))
}

fn internal(e: anyhow::Error) -> Status {
    refused(
        ErrorCode::Internal,
        format!("cannot change the shard map: {e:#}"),
    )
}

#[tonic::async_trait]
impl Admin for Coordinator {
    async fn list_shards(
        &self,
        request: Request<v1::ListShardsRequest>,
    ) -> Result<Response<v1::ListShardsResponse>, Status> {
        let caller = caller_of(&request);
        self.handle("ListShards", &caller, &[Role::Admin], None, async {
            let cluster = self.topology.read();
            let shards = cluster
                .map
                .nodes
                .iter()
                .filter_map(|n| shard_info(&self.topology, &n.id))
                .collect();
            Ok(v1::ListShardsResponse {
                shards,
                map_epoch: cluster.map.epoch,
                replication_factor: cluster.map.replication,
                slot_count: SLOT_COUNT,
            })
        })
        .await
    }

    async fn add_shard(
        &self,
        request: Request<v1::AddShardRequest>,
    ) -> Result<Response<v1::AddShardResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let audit = Audit::of(
            vec![
                format!("shard:{}", request.shard_id),
                request.address.clone(),
            ],
            |_: &v1::AddShardResponse| "added".into(),
        );
        self.handle("AddShard", &caller, &[Role::Admin], audit, async {
            Ok(v1::AddShardResponse {
                shard: Some(self.add(request).await?),
            })
        })
        .await
    }

    async fn drain_shard(
        &self,
        request: Request<v1::DrainShardRequest>,
    ) -> Result<Response<v1::DrainShardResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let audit = Audit::of(
            vec![format!("shard:{}", request.shard_id)],
            |_: &v1::DrainShardResponse| "draining".into(),
        );
        self.handle("DrainShard", &caller, &[Role::Admin], audit, async {
            Ok(v1::DrainShardResponse {
                shard: Some(self.drain(request).await?),
            })
        })
        .await
    }

    async fn remove_shard(
        &self,
        request: Request<v1::RemoveShardRequest>,
    ) -> Result<Response<v1::RemoveShardResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let audit = Audit::of(
            vec![format!("shard:{}", request.shard_id)],
            |r: &v1::RemoveShardResponse| format!("removed at epoch {}", r.map_epoch),
        );
        self.handle("RemoveShard", &caller, &[Role::Admin], audit, async {
            Ok(v1::RemoveShardResponse {
                map_epoch: self.remove(request).await?,
            })
        })
        .await
    }

    async fn start_rebalance(
        &self,
        request: Request<v1::StartRebalanceRequest>,
    ) -> Result<Response<v1::StartRebalanceResponse>, Status> {
        let caller = caller_of(&request);
        let audit = Audit::of(vec![], |_: &v1::StartRebalanceResponse| "started".into());
        self.handle("StartRebalance", &caller, &[Role::Admin], audit, async {
            let _changes = self.topology.changes.lock().await;
            let status = self
                .rebalancer
                .start()
                .map_err(|e| refused(ErrorCode::FailedPrecondition, format!("{e:#}")))?;
            Ok(v1::StartRebalanceResponse {
                status: Some(status),
            })
        })
        .await
    }

    async fn rebalance_status(
        &self,
        request: Request<v1::RebalanceStatusRequest>,
    ) -> Result<Response<v1::RebalanceStatusResponse>, Status> {
        let caller = caller_of(&request);
        self.handle("RebalanceStatus", &caller, &[Role::Admin], None, async {
            Ok(self.rebalancer.status())
        })
        .await
    }
}
