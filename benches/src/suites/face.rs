//! Face suites: exact and quantised 512-d embedding search, single-probe scans and probe batches.
//!
//! - `face-scan`: one probe against `--records` rows (default 1,000,000) in each stored form:
//!   f32 (2,048 B/row), f16 (1,024), i8 (512) and binary (64). A single probe is memory-bound,
//!   so `ratio_to_bandwidth` is the figure to read.
//! - `face-batch`: `--probes` probes (default 64) against `--records` rows (default 200,000):
//!   f32 through faer's GEMM and i8 through the block kernel at every SIMD level, next to FAISS
//!   `IndexFlatIP` (faiss-cpu, `benches/peers/faiss_flat_ip.py`) on the same data in the same run.
//!
//! Every timed pass is a whole search: scores for a chunk of gallery rows, then a top-10
//! selection per probe, as FAISS's `search` does. i8 scores are rescaled by the row's
//! quantisation scale before selection (the probe's own scale does not change its ranking).
//! Data: random unit vectors from a seeded ChaCha generator (speed does not depend on the values).

use crate::report::{median_time, Row};
use crate::Opts;
use abis_matchers::face::{self, padded_stride};
use abis_matchers::SimdLevel;
use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::process::Command;

/// Embedding dimension of both suites.
const DIM: usize = 512;
/// Results kept per probe.
const K: usize = 10;
/// Gallery rows scored per kernel call before top-k selection; the score block (probes x rows)
/// stays in L2.
const CHUNK_ROWS: usize = 1024;

/// Runs `face-scan` or `face-batch`.
pub fn run(name: &str, opts: &Opts) -> anyhow::Result<Vec<Row>> {
    match name {
        "face-scan" => scan(opts),
        "face-batch" => batch(opts),
        _ => anyhow::bail!("not a face suite: {name}"),
    }
}

/// `n` random unit vectors of `DIM` floats, one row every `padded_stride` floats.
fn unit_rows(n: usize, seed: u64) -> Vec<f32> {
    let stride = padded_stride(DIM * 4) / 4;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = vec![0.0f32; n * stride];
    for row in data.chunks_exact_mut(stride) {
        let v = &mut row[..DIM];
        v.iter_mut().for_each(|x| *x = rng.gen_range(-1.0..1.0));
        face::l2_normalise(v).expect("random rows are non-zero");
    }
    data
}

/// The best `K` (score, row) pairs of one probe, best first.
#[derive(Clone)]
struct TopK {
    items: Vec<(f32, u32)>,
}

impl TopK {
    fn new() -> Self {
        Self { items: Vec::with_capacity(K + 1) }
    }

    /// Offers a block of scores for rows `first..first + scores.len()`.
    #[inline]
    fn offer(&mut self, first: usize, scores: impl Iterator<Item = f32>) {
        let mut worst = if self.items.len() == K { self.items[K - 1].0 } else { f32::NEG_INFINITY };
        for (j, s) in scores.enumerate() {
            if s > worst {
                let pos = self.items.partition_point(|&(t, _)| t >= s);
                self.items.insert(pos, (s, (first + j) as u32));
                self.items.truncate(K);
                if self.items.len() == K {
                    worst = self.items[K - 1].0;
                }
            }
        }
    }
}

/// Records in the gallery (f32 rows at the padded stride).
fn rows_of(gallery: &[f32]) -> usize {
    gallery.len() / (padded_stride(DIM * 4) / 4)
}

/// Exact f32 search through faer: score chunks of rows, select top-k per probe.
fn search_f32(probes: &[f32], gallery: &[f32], tops: &mut [TopK], scores: &mut Vec<f32>) {
    let stride = padded_stride(DIM * 4) / 4;
    let (p, n) = (probes.len() / DIM, rows_of(gallery));
    tops.iter_mut().for_each(|t| t.items.clear());
    let mut first = 0;
    while first < n {
        let rows = CHUNK_ROWS.min(n - first);
        scores.resize(p * rows, 0.0);
        let chunk = &gallery[first * stride..(first + rows) * stride];
        face::batch_dot_f32(probes, DIM, chunk, stride, scores).expect("valid shapes");
        for (i, t) in tops.iter_mut().enumerate() {
            t.offer(first, scores[i * rows..(i + 1) * rows].iter().copied());
        }
        first += rows;
    }
}

/// i8 gallery: codes at a 64-byte stride plus one scale per row.
struct I8Gallery {
    codes: Vec<i8>,
    scales: Vec<f32>,
}

fn quantise_rows(gallery: &[f32]) -> I8Gallery {
    let (fs, is) = (padded_stride(DIM * 4) / 4, padded_stride(DIM));
    let n = rows_of(gallery);
    let mut codes = vec![0i8; n * is];
    let mut scales = Vec::with_capacity(n);
    for (row, code) in gallery.chunks_exact(fs).zip(codes.chunks_exact_mut(is)) {
        scales.push(face::quantise_i8(&row[..DIM], &mut code[..DIM]));
    }
    I8Gallery { codes, scales }
}

/// i8 first-pass search: exact integer scores for chunks of rows, rescaled per row, top-k.
fn search_i8(level: SimdLevel, probes: &[i8], g: &I8Gallery, tops: &mut [TopK], scores: &mut Vec<i32>) {
    let stride = padded_stride(DIM);
    let (p, n) = (probes.len() / DIM, g.scales.len());
    tops.iter_mut().for_each(|t| t.items.clear());
    let mut first = 0;
    while first < n {
        let rows = CHUNK_ROWS.min(n - first);
        scores.resize(p * rows, 0);
        let chunk = &g.codes[first * stride..(first + rows) * stride];
        face::batch_dot_i8(level, probes, DIM, chunk, stride, scores).expect("valid shapes");
        let scales = &g.scales[first..first + rows];
        for (i, t) in tops.iter_mut().enumerate() {
            let s = scores[i * rows..(i + 1) * rows].iter().zip(scales).map(|(&d, &sc)| d as f32 * sc);
            t.offer(first, s);
        }
        first += rows;
    }
}

/// Contiguous (unpadded) probes taken from rows of a padded f32 matrix.
fn probes_from(rows: &[f32]) -> Vec<f32> {
    rows.chunks_exact(padded_stride(DIM * 4) / 4).flat_map(|r| r[..DIM].iter().copied()).collect()
}

fn batch(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    const SUITE: &str = "face-batch";
    let n = opts.records.unwrap_or(200_000);
    let p = opts.probes.unwrap_or(64);
    anyhow::ensure!(n > 0 && p > 0, "face-batch needs at least one record and one probe");
    let gallery = unit_rows(n, opts.seed);
    let probes = probes_from(&unit_rows(p, opts.seed ^ 0x5eed));
    let comparisons = (n * p) as f64;
    let mut rows = Vec::new();

    let faiss = faiss_peer(&gallery, &probes, n, p, opts);
    let peer_rps = faiss.iter().find(|(r, unset)| *unset && r.variant == "faiss-IndexFlatIP").map(|(r, _)| r.records_per_s);
    let with_ratio = |row: Row| match peer_rps {
        Some(peer) => {
            let ratio = row.records_per_s / peer;
            row.with("ratio_to_faiss", ratio)
        }
        None => row,
    };

    let mut tops = vec![TopK::new(); p];
    let mut scores = Vec::new();
    let t = median_time(opts.reps, || search_f32(&probes, &gallery, &mut tops, &mut scores));
    rows.push(with_ratio(
        Row::new(SUITE, "f32-faer", n, DIM * 4, p, opts.threads, comparisons, t)
            .with("dim", DIM)
            .with("top_k", K)
            .with("chunk_rows", CHUNK_ROWS),
    ));
    let f32_tops: Vec<Vec<u32>> = tops.iter().map(|t| t.items.iter().map(|x| x.1).collect()).collect();

    let qg = quantise_rows(&gallery);
    drop(gallery);
    let mut qp = vec![0i8; probes.len()];
    for (v, q) in probes.chunks_exact(DIM).zip(qp.chunks_exact_mut(DIM)) {
        face::quantise_i8(v, q);
    }
    let mut iscores = Vec::new();
    for level in SimdLevel::supported() {
        let t = median_time(opts.reps, || search_i8(level, &qp, &qg, &mut tops, &mut iscores));
        // How often the exact top-1 is the i8 top-1 (a sanity figure; the engine measures
        // recall of its shortlist properly).
        let top1 = tops.iter().zip(&f32_tops).filter(|(t, f)| t.items.first().map(|x| x.1) == f.first().copied()).count();
        rows.push(with_ratio(
            Row::new(SUITE, format!("i8-{level}"), n, padded_stride(DIM), p, opts.threads, comparisons, t)
                .with("dim", DIM)
                .with("top_k", K)
                .with("chunk_rows", CHUNK_ROWS)
                .with("top1_agreement_with_f32", top1 as f64 / p as f64),
        ));
    }
    rows.extend(faiss.into_iter().map(|(r, _)| r));
    Ok(rows)
}

/// Runs the FAISS peer with `OPENBLAS_*` removed from its environment (the default row) and,
/// when this process has any `OPENBLAS_*` variables, once more with them as set. Returns the rows,
/// each with a flag telling whether it is the unset run; an empty list (and a warning on stderr)
/// if python3 or faiss-cpu is missing.
fn faiss_peer(gallery: &[f32], probes: &[f32], n: usize, p: usize, opts: &Opts) -> Vec<(Row, bool)> {
    let dir = match write_peer_inputs(gallery, probes) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("warning: face-batch: cannot write FAISS inputs ({e:#}); skipping the peer");
            return Vec::new();
        }
    };
    let openblas: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("OPENBLAS_")).collect();
    let mut runs = vec![true];
    if !openblas.is_empty() {
        runs.push(false);
    }
    let mut rows = Vec::new();
    for unset in runs {
        let out = match run_peer(dir.path(), unset, &openblas, n, p, opts) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("warning: face-batch: FAISS peer unavailable ({e:#}); skipping its row");
                continue;
            }
        };
        let (variant, env) = if unset {
            ("faiss-IndexFlatIP", "OPENBLAS_* unset".to_string())
        } else {
            let set: Vec<String> = openblas.iter().map(|(k, v)| format!("{k}={v}")).collect();
            ("faiss-IndexFlatIP-openblas-env", set.join(" "))
        };
        let t = std::time::Duration::from_secs_f64(out.median_s);
        let row = Row::new("face-batch", variant, n, DIM * 4, p, opts.threads, (n * p) as f64, t)
            .with("dim", DIM)
            .with("top_k", K)
            .with("peer_env", env)
            .with("faiss_version", out.faiss_version);
        rows.push((row, unset));
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
    unset: bool,
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
        .args(["--dim", &DIM.to_string(), "--k", &K.to_string(), "--reps", &opts.reps.to_string()])
        .env("OMP_NUM_THREADS", opts.threads.to_string())
        .env("OPENBLAS_NUM_THREADS", opts.threads.to_string());
    if unset {
        for (k, _) in openblas {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().context("cannot run python3")?;
    anyhow::ensure!(
        out.status.success(),
        "peer exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().context("peer printed nothing")?;
    let out: PeerOutput = serde_json::from_str(line).with_context(|| format!("peer output {line:?}"))?;
    anyhow::ensure!(out.records == n && out.probes == p, "peer saw {} x {}", out.records, out.probes);
    Ok(out)
}

fn scan(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    const SUITE: &str = "face-scan";
    let n = opts.records.unwrap_or(1_000_000);
    anyhow::ensure!(n > 0, "face-scan needs at least one record");
    let fstride = padded_stride(DIM * 4) / 4;
    let gallery = unit_rows(n, opts.seed);
    let probe = probes_from(&unit_rows(1, opts.seed ^ 0x5eed));
    let row = |variant: String, bytes: usize, t| {
        Row::new(SUITE, variant, n, bytes, 1, opts.threads, n as f64, t).with("dim", DIM).with("top_k", K)
    };
    let mut out = Vec::new();
    let mut top = vec![TopK::new()];

    // f32: faer with one probe (a GEMV), and simsimd pair by pair.
    let mut scores = Vec::new();
    let t = median_time(opts.reps, || search_f32(&probe, &gallery, &mut top, &mut scores));
    out.push(row("f32-faer".into(), DIM * 4, t));
    let mut pair_scores = vec![0.0f32; CHUNK_ROWS];
    let pairs = |dot: &dyn Fn(usize) -> f32, top: &mut TopK, scores: &mut [f32]| {
        top.items.clear();
        let mut first = 0;
        while first < n {
            let rows = CHUNK_ROWS.min(n - first);
            for (j, s) in scores[..rows].iter_mut().enumerate() {
                *s = dot(first + j);
            }
            top.offer(first, scores[..rows].iter().copied());
            first += rows;
        }
    };
    let t = median_time(opts.reps, || {
        pairs(&|j| face::dot_f32(&probe, &gallery[j * fstride..j * fstride + DIM]), &mut top[0], &mut pair_scores)
    });
    out.push(row("f32-simsimd-pairs".into(), DIM * 4, t));

    // f16, pair by pair (there is no batched f16 kernel).
    let hstride = padded_stride(DIM * 2) / 2;
    let mut h = vec![face::f16::ZERO; n * hstride];
    for (src, dst) in gallery.chunks_exact(fstride).zip(h.chunks_exact_mut(hstride)) {
        face::to_f16(&src[..DIM], &mut dst[..DIM]);
    }
    let mut hp = vec![face::f16::ZERO; DIM];
    face::to_f16(&probe, &mut hp);
    let t = median_time(opts.reps, || {
        pairs(&|j| face::dot_f16(&hp, &h[j * hstride..j * hstride + DIM]), &mut top[0], &mut pair_scores)
    });
    out.push(row("f16-simsimd-pairs".into(), DIM * 2, t));
    drop(h);

    // i8 and binary block kernels with one probe, per level.
    let qg = quantise_rows(&gallery);
    let bstride = padded_stride(DIM / 8);
    let mut bits = vec![0u8; n * bstride];
    for (src, dst) in gallery.chunks_exact(fstride).zip(bits.chunks_exact_mut(bstride)) {
        face::binarise(&src[..DIM], &mut dst[..DIM / 8]);
    }
    drop(gallery);
    let mut qp = vec![0i8; DIM];
    face::quantise_i8(&probe, &mut qp);
    let mut bp = vec![0u8; DIM / 8];
    face::binarise(&probe, &mut bp);
    let mut iscores = Vec::new();
    let mut dist = vec![0u32; CHUNK_ROWS];
    for level in SimdLevel::supported() {
        let t = median_time(opts.reps, || search_i8(level, &qp, &qg, &mut top, &mut iscores));
        out.push(row(format!("i8-{level}"), padded_stride(DIM), t));
        let t = median_time(opts.reps, || {
            top[0].items.clear();
            let mut first = 0;
            while first < n {
                let rows = CHUNK_ROWS.min(n - first);
                let chunk = &bits[first * bstride..(first + rows) * bstride];
                face::batch_hamming(level, &bp, DIM / 8, chunk, bstride, &mut dist[..rows]).expect("valid shapes");
                // Fewer differing bits is better: negate for the max-first selection.
                top[0].offer(first, dist[..rows].iter().map(|&d| -(d as f32)));
                first += rows;
            }
        });
        out.push(row(format!("binary-{level}"), bstride, t));
    }
    Ok(out)
}
