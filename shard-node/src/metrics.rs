//! The node's Prometheus metrics: the per-RPC request counters and latencies every abis server
//! keeps ([`RpcMetrics`]), a gauge of the shard's live records, read from the engine at each
//! scrape so it is never stale, and a count of searches stopped because their caller left. The endpoint is [`abis_server_kit::metrics::serve`].

use abis_engine::Engine;
use abis_server_kit::metrics::RpcMetrics;
use prometheus::{IntCounter, IntGauge};
use std::time::Duration;

/// The node's metrics.
pub struct Metrics {
    rpc: RpcMetrics,
    records: IntGauge,
    cancelled: IntCounter,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let rpc = RpcMetrics::new("abis_shard");
        let records = IntGauge::new("abis_shard_records", "Live records in this shard")
            .expect("valid metric");
        rpc.registry()
            .register(Box::new(records.clone()))
            .expect("unique");
        let cancelled = IntCounter::new(
            "abis_shard_searches_cancelled_total",
            "Searches stopped because their caller went away (deadline, cancellation)",
        )
        .expect("valid metric");
        rpc.registry()
            .register(Box::new(cancelled.clone()))
            .expect("unique");
        Self {
            rpc,
            records,
            cancelled,
        }
    }

    /// Counts a search stopped because its caller went away.
    pub fn search_cancelled(&self) {
        self.cancelled.inc();
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        self.rpc.observe(method, code, elapsed);
    }

    /// The text exposition of every metric, the record gauge refreshed from `engine`.
    pub fn render(&self, engine: &Engine) -> String {
        self.records
            .set(i64::try_from(engine.len()).unwrap_or(i64::MAX));
        self.rpc.render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
