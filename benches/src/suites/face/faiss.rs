//! The FAISS peer of `face-batch`: runs `benches/peers/faiss_flat_ip.py` (faiss-cpu
//! `IndexFlatIP`, one thread) on the suite's own gallery and probes, written as raw little-endian
//! f32 files into a temporary directory, and turns its JSON output into rows.

use super::{DIM, K};
use crate::report::Row;
use crate::Opts;
use abis_matchers::face::padded_stride;
use anyhow::Context;
use std::io::Write;
use std::process::Command;

/// One configuration of the FAISS peer.
struct PeerRun {
    /// Row variant.
    variant: &'static str,
    /// `--blas-threshold` (None: FAISS's default).
    blas_threshold: Option<usize>,
    /// Whether `OPENBLAS_*` variables are removed from the peer's environment.
    unset_openblas: bool,
}

/// Runs the FAISS peer: with FAISS's defaults, and with the BLAS threshold lowered to 20 so the
/// batch goes through sgemm (FAISS 1.15's default of 128,000 queries sends a 64-probe batch
/// through its one-query-at-a-time SIMD loop instead), both with `OPENBLAS_*` removed from the
/// environment; and, when this process has `OPENBLAS_*` variables, the sgemm run once more with
/// them as set. Returns `(row, counts_for_ratio)`; an empty list (and a warning on stderr) if
/// python3 or faiss-cpu is missing.
pub(super) fn faiss_peer(
    gallery: &[f32],
    probes: &[f32],
    n: usize,
    p: usize,
    opts: &Opts,
) -> Vec<(Row, bool)> {
    let dir = match write_peer_inputs(gallery, probes) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("warning: face-batch: cannot write FAISS inputs ({e:#}); skipping the peer");
            return Vec::new();
        }
    };
    let openblas: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("OPENBLAS_"))
        .collect();
    let mut runs = vec![
        PeerRun {
            variant: "faiss-IndexFlatIP",
            blas_threshold: None,
            unset_openblas: true,
        },
        PeerRun {
            variant: "faiss-IndexFlatIP-blas",
            blas_threshold: Some(20),
            unset_openblas: true,
        },
    ];
    if !openblas.is_empty() {
        runs.push(PeerRun {
            variant: "faiss-IndexFlatIP-blas-openblas-env",
            blas_threshold: Some(20),
            unset_openblas: false,
        });
    }
    let mut rows = Vec::new();
    for run in runs {
        let out = match run_peer(dir.path(), &run, &openblas, n, p, opts) {
            Ok(out) => out,
            Err(e) => {
                eprintln!(
                    "warning: face-batch: FAISS peer unavailable ({e:#}); skipping {}",
                    run.variant
                );
                if run.blas_threshold.is_none() {
                    break; // python3 or faiss missing: the other runs would fail the same way
                }
                continue;
            }
        };
        let env = if run.unset_openblas {
            "OPENBLAS_* unset".to_string()
        } else {
            let set: Vec<String> = openblas.iter().map(|(k, v)| format!("{k}={v}")).collect();
            set.join(" ")
        };
        let t = std::time::Duration::from_secs_f64(out.median_s);
        let row = Row::new(
            "face-batch",
            run.variant,
            n,
            DIM * 4,
            p,
            opts.threads,
            (n * p) as f64,
            t,
        )
        .with("dim", DIM)
        .with("top_k", K)
        .with("peer_env", env)
        .with("blas_threshold", out.blas_threshold)
        .with("faiss_version", out.faiss_version);
        rows.push((row, run.unset_openblas));
    }
    rows
}

/// What the peer script prints.
#[derive(serde::Deserialize)]
struct PeerOutput {
    median_s: f64,
    records: usize,
    probes: usize,
    faiss_version: String,
    blas_threshold: u64,
}

fn write_peer_inputs(gallery: &[f32], probes: &[f32]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let stride = padded_stride(DIM * 4) / 4;
    let mut g = std::io::BufWriter::new(std::fs::File::create(dir.path().join("gallery.f32"))?);
    for row in gallery.chunks_exact(stride) {
        for x in &row[..DIM] {
            g.write_all(&x.to_le_bytes())?;
        }
    }
    g.flush()?;
    let mut q = std::io::BufWriter::new(std::fs::File::create(dir.path().join("probes.f32"))?);
    for x in probes {
        q.write_all(&x.to_le_bytes())?;
    }
    q.flush()?;
    Ok(dir)
}

fn run_peer(
    dir: &std::path::Path,
    run: &PeerRun,
    openblas: &[(String, String)],
    n: usize,
    p: usize,
    opts: &Opts,
) -> anyhow::Result<PeerOutput> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/faiss_flat_ip.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg("--gallery")
        .arg(dir.join("gallery.f32"))
        .arg("--probes")
        .arg(dir.join("probes.f32"))
        .args([
            "--dim",
            &DIM.to_string(),
            "--k",
            &K.to_string(),
            "--reps",
            &opts.reps.to_string(),
        ])
        .env("OMP_NUM_THREADS", opts.threads.to_string())
        .env("OPENBLAS_NUM_THREADS", opts.threads.to_string());
    if let Some(t) = run.blas_threshold {
        cmd.args(["--blas-threshold", &t.to_string()]);
    }
    if run.unset_openblas {
        for (k, _) in openblas {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().context("cannot run python3")?;
    anyhow::ensure!(
        out.status.success(),
        "peer exited with {}: {}",
        out.status,
        // The last line of a Python traceback says what went wrong.
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .lines()
            .last()
            .unwrap_or("")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().context("peer printed nothing")?;
    let out: PeerOutput =
        serde_json::from_str(line).with_context(|| format!("peer output {line:?}"))?;
    anyhow::ensure!(
        out.records == n && out.probes == p,
        "peer saw {} x {}",
        out.records,
        out.probes
    );
    Ok(out)
}
