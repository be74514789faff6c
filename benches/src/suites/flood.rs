//! `node-flood`: what a hostile search costs a shard node (the review's finding 8). One shard
//! node (the release binary beside this one) holds `--records` people (irises and face, default
//! 20,000); it is sent 1,000 probes at a threshold score of 0, which every record passes (the
//! coordinator refuses such a threshold; the node, which trusts its coordinator, must still
//! stay bounded), asking for 100 candidates each (the most an answer of 1,000 probes may
//! carry). Reported: the node's resident memory before and its peak (VmHWM) after one call,
//! after three concurrent calls, and after a call abandoned by its caller at 300 ms (which must
//! stop on the node: `cancelled` counts it), with each call's time.

use super::cluster::{free_addr, sibling};
use crate::report::Row;
use crate::Opts;
use abis_datasets::population::Population;
use abis_engine::{GalleryConfig, ReferenceId};
use abis_proto::v1::{self, shard_client::ShardClient};
use abis_server_kit::process::Proc;
use anyhow::Context;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Suite name.
pub const NAME: &str = "node-flood";

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name}"))?;
        let kb: f64 = line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn flood(probes: &[v1::Record]) -> v1::ShardIdentifyBatchRequest {
    v1::ShardIdentifyBatchRequest {
        probes: probes.to_vec(),
        max_results: 100,
        threshold_score: 0.0,
        slots: vec![],
    }
}

/// Runs the suite.
pub fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let records = opts.records.unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let addr = free_addr()?;
    let args: Vec<String> = vec![
        "--listen".into(),
        addr.to_string(),
        "--shard-id".into(),
        "flood".into(),
        "--data-dir".into(),
        dir.path().join("node").display().to_string(),
        "--insecure-plaintext".into(),
    ];
    let node = Proc::start(
        &sibling("abis-shard-node")?,
        &args,
        &dir.path().join("node.log"),
    )?;
    let pop = Population::new(opts.seed);
    let layout = GalleryConfig::default().iris_layout;
    let wire = |r: &abis_engine::Record| abis_proto::record_to_proto(r, &layout);
    let probes: Vec<v1::Record> = (0..1000u64)
        .map(|i| {
            let id = ReferenceId::new(format!("flood-{i}")).expect("id");
            wire(&pop.capture(i * 7 % records as u64, 1, id))
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        let client = ShardClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        for start in (0..records).step_by(1000) {
            let batch: Vec<v1::Record> = (start..(start + 1000).min(records))
                .map(|i| wire(&pop.enrolment(i as u64)))
                .collect();
            client
                .clone()
                .insert(v1::ShardInsertRequest {
                    records: batch,
                    map_epoch: 0,
                })
                .await?;
        }
        let (rss_before, _) = memory(node.pid())?;
        let mut rows = Vec::new();
        let mut row = |variant: &str, calls: usize, took: Duration| -> anyhow::Result<()> {
            let (rss, hwm) = memory(node.pid())?;
            rows.push(
                Row::new(
                    NAME,
                    variant,
                    records,
                    0,
                    probes.len(),
                    calls,
                    (records * probes.len() * calls) as f64,
                    took,
                )
                .with("rss_before_mib", rss_before)
                .with("rss_after_mib", rss)
                .with("peak_rss_mib", hwm),
            );
            Ok(())
        };
        let t = Instant::now();
        let answer = client
            .clone()
            .identify_batch(flood(&probes))
            .await?
            .into_inner();
        let candidates: usize = answer.results.iter().map(|r| r.candidates.len()).sum();
        anyhow::ensure!(candidates == 100 * probes.len(), "{candidates} candidates");
        row("1 call, score 0", 1, t.elapsed())?;
        let t = Instant::now();
        let calls = (0..3).map(|_| {
            let mut c = client.clone();
            let request = flood(&probes);
            async move { c.identify_batch(request).await }
        });
        for outcome in futures_join(calls).await {
            // A call over the node's concurrency limit is shed (RESOURCE_EXHAUSTED): fine.
            let _ = outcome;
        }
        row("3 concurrent calls, score 0", 3, t.elapsed())?;
        let t = Instant::now();
        let mut abandoned = tonic::Request::new(flood(&probes));
        abandoned.set_timeout(Duration::from_millis(300));
        let gave_up = client.clone().identify_batch(abandoned).await.is_err();
        let waited = t.elapsed();
        anyhow::ensure!(
            gave_up,
            "the flood finished within 300 ms: use more --records"
        );
        // Let the node notice and stop; its memory is read after.
        tokio::time::sleep(Duration::from_secs(2)).await;
        row("1 call abandoned at 300 ms", 1, waited)?;
        Ok(rows)
    })
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
