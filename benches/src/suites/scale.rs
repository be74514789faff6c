//! `scale`: one node holding a whole synthetic population (ten fingers, two irises and a face
//! per person; `--records` people, default 100,000): what enrolment costs, what the gallery
//! takes on disk and in memory, and how fast identify answers, so operators can size a
//! cluster (docs/CAPACITY.md) and see how cost grows with N (run it at several sizes).
//!
//! - enrolment: people generated and inserted in durable batches of 1,000 (generation is
//!   included; it is cheap next to preparing fingers); `enrol_s`, `people_per_s`;
//! - `disk_bytes`: the data directory afterwards (RocksDB + segments); `rss_bytes` and
//!   `peak_rss_bytes` of this process after the searches;
//! - latency: `--probes` (default 100) single-probe identifies, each a fresh ten-print +
//!   irises + face capture of an enrolled person: `p50_ms`, `p99_ms`, and `rank1` (the share
//!   whose mate came first, a sanity check); the engine's own stage times split each identify
//!   into the first stage (every row scanned: `first_stage_p50_ms`) and the re-rank of the
//!   shortlist (`rerank_p50_ms`, `rerank_p99_ms`);
//! - throughput: a batch of 64 such probes; `records_per_s` counts people searched per second.
//!
//! Use every core (`--threads 2` here): the engine parallelises each search over the gallery.

use crate::report::Row;
use crate::Opts;
use abis_datasets::population::Population;
use abis_engine::{Engine, EngineOptions, IdentifyRequest, Record, ReferenceId, Threshold};
use rayon::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Suite name.
pub const NAME: &str = "scale";

/// Fingers per person.
const FINGERS: u8 = 10;

/// Probes per throughput batch.
const BATCH: usize = 64;

/// Bytes the searched rows of one person take: the fingers segment (8,320 B), two irises
/// (code + mask, 2 x 512 B) and the face (512 f32).
const BYTES_PER_RECORD: usize = 8_320 + 2 * 512 + 512 * 4;

/// `VmRSS` and `VmHWM` of this process, bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => disk_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs the suite.
pub fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let people = opts.records.unwrap_or(100_000).max(BATCH) as u64;
    let n_probes = opts.probes.unwrap_or(100).max(BATCH) as u64;
    let pop = Population::new(opts.seed).with_fingers(FINGERS);
    let dir = tempfile::tempdir()?;
    let engine = Engine::open(dir.path(), EngineOptions::default())?;

    let t = Instant::now();
    for start in (0..people).step_by(1000) {
        let end = (start + 1000).min(people);
        let batch: Vec<Record> = (start..end)
            .into_par_iter()
            .map(|p| pop.enrolment(p))
            .collect();
        engine.insert_batch(batch)?;
    }
    engine.flush()?;
    let enrol = t.elapsed();

    let step = (people / n_probes).max(1);
    let probes: Vec<(Record, ReferenceId)> = (0..n_probes)
        .into_par_iter()
        .map(|k| {
            let person = (k * step) % people;
            let id = ReferenceId::new(format!("probe-{k}")).expect("short id");
            (pop.capture(person, 1, id), pop.reference_id(person))
        })
        .collect();
    let request = IdentifyRequest {
        max_results: 10,
        threshold: Threshold::Fpir(1e-3),
    };
    let mut latencies = Vec::with_capacity(probes.len());
    let (mut first_stage, mut rerank) = (Vec::new(), Vec::new());
    let mut first = 0usize;
    for (probe, mate) in &probes {
        let t = Instant::now();
        let (mut found, stages) =
            engine.identify_batch_timed(std::slice::from_ref(probe), &request)?;
        latencies.push(t.elapsed());
        first_stage.push(stages.first_stage);
        rerank.push(stages.rerank);
        let found = found.remove(0);
        first += usize::from(found.candidates.first().map(|c| &c.reference_id) == Some(mate));
    }
    for v in [&mut latencies, &mut first_stage, &mut rerank] {
        v.sort_unstable();
    }
    let batch: Vec<Record> = probes.iter().take(BATCH).map(|(p, _)| p.clone()).collect();
    let mut times: Vec<Duration> = (0..opts.reps.max(1))
        .map(|_| {
            let t = Instant::now();
            engine.identify_batch(&batch, &request).map(|_| t.elapsed())
        })
        .collect::<Result<_, _>>()?;
    times.sort_unstable();
    let batch_time = times[times.len() / 2];
    let (rss, peak) = rss();

    let people = people as usize;
    let mut row = Row::new(
        NAME,
        "ten-fingers-two-irises-face",
        people,
        BYTES_PER_RECORD,
        BATCH,
        opts.threads,
        (people * BATCH) as f64,
        batch_time,
    );
    let extra = &mut row.extra;
    extra.insert("enrol_s".into(), enrol.as_secs_f64().into());
    extra.insert(
        "people_per_s".into(),
        (people as f64 / enrol.as_secs_f64()).into(),
    );
    extra.insert("disk_bytes".into(), disk_bytes(dir.path()).into());
    extra.insert("rss_bytes".into(), rss.into());
    extra.insert("peak_rss_bytes".into(), peak.into());
    extra.insert("p50_ms".into(), quantile_ms(&latencies, 0.50).into());
    extra.insert("p99_ms".into(), quantile_ms(&latencies, 0.99).into());
    extra.insert(
        "first_stage_p50_ms".into(),
        quantile_ms(&first_stage, 0.50).into(),
    );
    extra.insert("rerank_p50_ms".into(), quantile_ms(&rerank, 0.50).into());
    extra.insert("rerank_p99_ms".into(), quantile_ms(&rerank, 0.99).into());
    extra.insert(
        "probes_per_s".into(),
        (BATCH as f64 / batch_time.as_secs_f64()).into(),
    );
    extra.insert("rank1".into(), (first as f64 / probes.len() as f64).into());
    Ok(vec![row])
}
