//! The coordinator's Prometheus metrics: the per-RPC request counters and latencies every abis
//! server keeps ([`RpcMetrics`], both public services), and gauges of the cluster read from the
//! current map at each scrape: nodes in the map, nodes that answered their last call or probe,
//! the map epoch, and whether a rebalance is running. The endpoint is
//! [`abis_server_kit::metrics::serve`].

use crate::rebalance::Rebalancer;
use crate::topology::Topology;
use abis_server_kit::metrics::RpcMetrics;
use prometheus::IntGauge;
use std::time::Duration;

/// The coordinator's metrics.
pub struct Metrics {
    rpc: RpcMetrics,
    shards: IntGauge,
    live: IntGauge,
    epoch: IntGauge,
    rebalancing: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let rpc = RpcMetrics::new("abis_coordinator");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            rpc.registry()
                .register(Box::new(g.clone()))
                .expect("unique");
            g
        };
        Self {
            shards: gauge("abis_coordinator_shards", "Shard nodes in the shard map"),
            live: gauge(
                "abis_coordinator_shards_live",
                "Shard nodes whose last call or probe succeeded",
            ),
            epoch: gauge(
                "abis_coordinator_map_epoch",
                "Epoch of the current shard map",
            ),
            rebalancing: gauge(
                "abis_coordinator_rebalance_running",
                "1 while a rebalance moves slots, else 0",
            ),
            rpc,
        }
    }

    /// The registry every metric of the coordinator is in.
    pub fn registry(&self) -> &prometheus::Registry {
        self.rpc.registry()
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        self.rpc.observe(method, code, elapsed);
    }

    /// The text exposition of every metric, the gauges refreshed from the current map.
    pub fn render(&self, topology: &Topology, rebalancer: &Rebalancer) -> String {
        let cluster = topology.read();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.shards.set(count(cluster.nodes.len()));
        self.live
            .set(count(cluster.nodes.iter().filter(|n| n.is_live()).count()));
        self.epoch
            .set(i64::try_from(cluster.map.epoch).unwrap_or(i64::MAX));
        self.rebalancing.set(i64::from(rebalancer.is_running()));
        drop(cluster);
        self.rpc.render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
