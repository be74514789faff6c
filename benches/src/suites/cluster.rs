//! `cluster-identify`: identify through a 3-node cluster (coordinator + 3 shard nodes, R = 2,
//! real processes on 127.0.0.1, plaintext) next to the embedded single node (the engine in this
//! process) on the same gallery, in one run.
//!
//! Each variant enrols the same synthetic people (irises and face; `--records`, default 20,000)
//! and answers the same probes (planted duplicates, so every search ends in a re-rank):
//! - latency: single-probe identifies one after another; `p50_ms`, `p99_ms` over `--probes`
//!   (default 200);
//! - throughput: batches of 64 probes; `records_per_s` is gallery records searched per second
//!   (records x probes / time), `probes_per_s` in `extra`.
//!
//! A `1-node` cluster (coordinator + one shard node) is measured too, so the cost of the gRPC
//! hops and of the coordinator can be told apart from the cost of sharding. All processes share
//! this machine's cores: the cluster's figures are its overhead, not its scale-out (for that,
//! each node needs its own machine). The servers are the release binaries beside this one
//! (`cargo build --release -p abis-shard-node -p abis-coordinator`) and use every core; give
//! the embedded engine the same with `--threads` (e.g. `--threads 2` here).

use crate::report::Row;
use crate::Opts;
use abis_datasets::population::Population;
use abis_engine::{Engine, EngineOptions, GalleryConfig, IdentifyRequest, Record, Threshold};
use abis_proto::v1::{self, abis_client::AbisClient};
use abis_server_kit::process::Proc;
use anyhow::{ensure, Context};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Suite name.
pub const NAME: &str = "cluster-identify";

/// Probes per throughput batch.
const BATCH: usize = 64;

/// Bytes a record's searched templates take in the gallery: two 2,048-bit irises (code and
/// mask) and a 512-d f32 face.
const BYTES_PER_RECORD: usize = 2 * 2 * 256 + 512 * 4;

/// The binary `name` beside this one (target/<profile>/).
pub(super) fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.parent().context("no parent dir")?.join(name);
    ensure!(
        bin.exists(),
        "{} is missing: cargo build --release -p abis-shard-node -p abis-coordinator",
        bin.display()
    );
    Ok(bin)
}

pub(super) fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A running cluster of `nodes` shard nodes with replication `r`.
struct Cluster {
    coordinator: Proc,
    _nodes: Vec<Proc>,
}

impl Cluster {
    fn start(dir: &Path, nodes: usize, r: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let shard_bin = sibling("abis-shard-node")?;
        let mut procs = Vec::new();
        let mut flags = Vec::new();
        for i in 0..nodes {
            let id = format!("s{i}");
            let addr = free_addr()?;
            let args: Vec<String> = vec![
                "--listen".into(),
                addr.to_string(),
                "--shard-id".into(),
                id.clone(),
                "--data-dir".into(),
                dir.join(&id).display().to_string(),
                "--insecure-plaintext".into(),
            ];
            procs.push(Proc::start(
                &shard_bin,
                &args,
                &dir.join(format!("{id}.log")),
            )?);
            flags.extend(["--shard".to_string(), format!("{id}={addr}")]);
        }
        let mut args: Vec<String> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            dir.join("coordinator").display().to_string(),
            "--insecure-plaintext".into(),
            "--replication".into(),
            r.to_string(),
            "--shard-timeout-ms".into(),
            "120000".into(),
        ];
        args.extend(flags);
        let coordinator = Proc::start(
            &sibling("abis-coordinator")?,
            &args,
            &dir.join("coordinator.log"),
        )?;
        Ok(Self {
            coordinator,
            _nodes: procs,
        })
    }

    async fn client(&self) -> anyhow::Result<AbisClient<Channel>> {
        let channel = Channel::from_shared(format!("http://{}", self.coordinator.addr))?
            .connect()
            .await?;
        Ok(AbisClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20))
    }
}

/// Latencies of single-probe identifies, and seconds per batch.
struct Timings {
    latencies: Vec<Duration>,
    batch: Duration,
}

impl Timings {
    fn row(mut self, variant: &str, records: usize, probes: usize, threads: usize) -> Row {
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
            self.latencies[i].as_secs_f64() * 1e3
        };
        let mut row = Row::new(
            NAME,
            variant,
            records,
            BYTES_PER_RECORD,
            BATCH,
            threads,
            (records * BATCH) as f64,
            self.batch,
        );
        row.extra.insert("p50_ms".into(), at(0.50).into());
        row.extra.insert("p99_ms".into(), at(0.99).into());
        row.extra.insert(
            "probes_per_s".into(),
            (BATCH as f64 / self.batch.as_secs_f64()).into(),
        );
        row.extra.insert("latency_probes".into(), probes.into());
        row
    }
}

fn wire(records: &[Record]) -> Vec<v1::Record> {
    let layout = GalleryConfig::default().iris_layout;
    records
        .iter()
        .map(|r| abis_proto::record_to_proto(r, &layout))
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn embedded(
    dir: &Path,
    gallery: &[Record],
    probes: &[Record],
    reps: usize,
) -> anyhow::Result<Timings> {
    let engine = Engine::open(dir, EngineOptions::default())?;
    for chunk in gallery.chunks(1000) {
        engine.insert_batch(chunk.to_vec())?;
    }
    let request = IdentifyRequest {
        max_results: 10,
        threshold: Threshold::Fpir(1e-3),
    };
    let mut latencies = Vec::with_capacity(probes.len());
    for p in probes {
        let t = Instant::now();
        let found = engine.identify(p, &request)?;
        latencies.push(t.elapsed());
        ensure!(
            !found.candidates.is_empty(),
            "the embedded engine missed a mate"
        );
    }
    let batch = &probes[..BATCH.min(probes.len())];
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        engine.identify_batch(batch, &request)?;
        times.push(t.elapsed());
    }
    Ok(Timings {
        latencies,
        batch: median(times),
    })
}

async fn clustered(
    cluster: &Cluster,
    gallery: &[v1::Record],
    probes: &[v1::Record],
    reps: usize,
) -> anyhow::Result<Timings> {
    let mut c = cluster.client().await?;
    for chunk in gallery.chunks(500) {
        let r = c
            .insert(v1::InsertRequest {
                records: chunk.to_vec(),
            })
            .await?
            .into_inner();
        ensure!(
            r.results.iter().all(|x| x.error.is_none()),
            "the cluster refused an insert"
        );
    }
    let options = Some(v1::IdentifyOptions {
        max_results: 10,
        ..Default::default()
    });
    let mut latencies = Vec::with_capacity(probes.len());
    for p in probes {
        let t = Instant::now();
        let r = c
            .identify(v1::IdentifyRequest {
                probe: Some(p.clone()),
                options,
            })
            .await?
            .into_inner();
        latencies.push(t.elapsed());
        let found = r.result.context("no result")?;
        ensure!(!found.candidates.is_empty(), "the cluster missed a mate");
    }
    let batch = probes[..BATCH.min(probes.len())].to_vec();
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        c.identify_batch(v1::IdentifyBatchRequest {
            probes: batch.clone(),
            options,
        })
        .await?;
        times.push(t.elapsed());
    }
    Ok(Timings {
        latencies,
        batch: median(times),
    })
}

/// Runs the suite.
pub fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let records = opts.records.unwrap_or(20_000).max(BATCH);
    let n_probes = opts.probes.unwrap_or(200).max(BATCH);
    let pop = Population::new(opts.seed);
    let gallery: Vec<Record> = (0..records as u64).map(|p| pop.enrolment(p)).collect();
    let step = (records / n_probes).max(1) as u64;
    let probes: Vec<Record> = (0..n_probes as u64)
        .map(|k| {
            let id = abis_engine::ReferenceId::new(format!("probe-{k}")).expect("short id");
            pop.capture((k * step) % records as u64, 1, id)
        })
        .collect();
    let dir = tempfile::tempdir()?;
    let mut rows = vec![
        embedded(&dir.path().join("embedded"), &gallery, &probes, opts.reps)?.row(
            "embedded",
            records,
            n_probes,
            opts.threads,
        ),
    ];
    let (gallery, probes) = (wire(&gallery), wire(&probes));
    let runtime = tokio::runtime::Runtime::new()?;
    for (variant, nodes, r) in [("cluster-1-node", 1, 1), ("cluster-3-nodes-r2", 3, 2)] {
        let cluster = Cluster::start(&dir.path().join(variant), nodes, r)?;
        let timings = runtime.block_on(clustered(&cluster, &gallery, &probes, opts.reps))?;
        // The servers use every core of the machine, whatever --threads says.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rows.push(timings.row(variant, records, n_probes, cores));
    }
    Ok(rows)
}
