//! Face suites: exact and quantised 512-d embedding search, single-probe scans and probe batches.
//!
//! - `face-scan`: one probe against `--records` rows (default 1,000,000) in each stored form:
//!   f32 (2,048 B/row), f16 (1,024), i8 (512) and binary (64). A single probe is memory-bound,
//!   so `ratio_to_bandwidth` is the figure to read.
//! - `face-batch`: `--probes` probes (default 64) against `--records` rows (default 200,000):
//!   f32 through faer's GEMM and i8 through the block kernel at every SIMD level, next to FAISS
//!   `IndexFlatIP` (faiss-cpu, `benches/peers/faiss_flat_ip.py`) on the same data in the same run.
//!   FAISS runs twice: with its defaults (`faiss-IndexFlatIP`; FAISS 1.15 sends batches under
//!   128,000 queries through a one-query-at-a-time SIMD loop) and with its BLAS threshold lowered
//!   to 20 (`faiss-IndexFlatIP-blas`: sgemm plus heaps, much faster here). `ratio_to_faiss` is
//!   against the faster of the two, `ratio_to_faiss_default` against the defaults. The peer runs
//!   with `OPENBLAS_*` removed from its environment (`peer_env`); if this process has such
//!   variables, the BLAS run is repeated with them as set. Missing python3 or faiss-cpu: a
//!   warning on stderr and no peer rows or ratios.
//!
//! Every timed pass is a whole search: scores for a chunk of gallery rows, then a top-10
//! selection per probe, as FAISS's `search` does. i8 scores are rescaled by the row's
//! quantisation scale before selection (the probe's own scale does not change its ranking).
//! Data: random unit vectors from a seeded ChaCha generator (speed does not depend on the values).

mod faiss;
mod scan;

use crate::report::{median_time, Row};
use crate::Opts;
use abis_matchers::face::{self, padded_stride};
use abis_matchers::SimdLevel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
        "face-scan" => scan::scan(opts),
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
        Self {
            items: Vec::with_capacity(K + 1),
        }
    }

    /// Offers a block of scores for rows `first..first + scores.len()`.
    #[inline]
    fn offer(&mut self, first: usize, scores: &[f32]) {
        self.offer_by(first, scores.len(), |j| scores[j]);
    }

    /// Offers `n` scores for rows `first..first + n`, score `j` computed by `score(j)`.
    ///
    /// Runs of 16 are first tested against the current K-th best with a branch-free
    /// compare-and-or the compiler vectorises (with `score` inlined: for i8, convert, rescale and
    /// compare in one pass); only a run holding a better score is walked one by one.
    #[inline]
    fn offer_by(&mut self, first: usize, n: usize, score: impl Fn(usize) -> f32) {
        const RUN: usize = 16;
        let mut worst = self.worst();
        let mut j0 = 0;
        while j0 < n {
            let run = RUN.min(n - j0);
            let mut hit = false;
            if run == RUN {
                for k in 0..RUN {
                    hit |= score(j0 + k) > worst;
                }
            } else {
                hit = true;
            }
            if hit {
                for j in j0..j0 + run {
                    let s = score(j);
                    if s > worst {
                        let pos = self.items.partition_point(|&(t, _)| t >= s);
                        self.items.insert(pos, (s, (first + j) as u32));
                        self.items.truncate(K);
                        worst = self.worst();
                    }
                }
            }
            j0 += run;
        }
    }

    /// The score a candidate must beat to enter.
    fn worst(&self) -> f32 {
        if self.items.len() == K {
            self.items[K - 1].0
        } else {
            f32::NEG_INFINITY
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
            t.offer(first, &scores[i * rows..(i + 1) * rows]);
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
fn search_i8(
    level: SimdLevel,
    probes: &[i8],
    g: &I8Gallery,
    tops: &mut [TopK],
    scores: &mut Vec<i32>,
) {
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
            let row = &scores[i * rows..(i + 1) * rows];
            t.offer_by(first, rows, |j| row[j] as f32 * scales[j]);
        }
        first += rows;
    }
}

/// Contiguous (unpadded) probes taken from rows of a padded f32 matrix.
fn probes_from(rows: &[f32]) -> Vec<f32> {
    rows.chunks_exact(padded_stride(DIM * 4) / 4)
        .flat_map(|r| r[..DIM].iter().copied())
        .collect()
}

fn batch(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    const SUITE: &str = "face-batch";
    let n = opts.records.unwrap_or(200_000);
    let p = opts.probes.unwrap_or(64);
    anyhow::ensure!(
        n > 0 && p > 0,
        "face-batch needs at least one record and one probe"
    );
    let gallery = unit_rows(n, opts.seed);
    let probes = probes_from(&unit_rows(p, opts.seed ^ 0x5eed));
    let comparisons = (n * p) as f64;
    let mut rows = Vec::new();

    let faiss = faiss::faiss_peer(&gallery, &probes, n, p, opts);
    // The ratio is taken against the fastest FAISS configuration run with OPENBLAS_* unset;
    // `ratio_to_faiss_default` against FAISS with its default settings.
    let best = faiss
        .iter()
        .filter(|(_, counts)| *counts)
        .map(|(r, _)| r.records_per_s)
        .reduce(f64::max);
    let default = faiss
        .iter()
        .find(|(r, _)| r.variant == "faiss-IndexFlatIP")
        .map(|(r, _)| r.records_per_s);
    let with_ratio = |mut row: Row| {
        if let Some(peer) = best {
            let ratio = row.records_per_s / peer;
            row = row.with("ratio_to_faiss", ratio);
        }
        if let Some(peer) = default {
            let ratio = row.records_per_s / peer;
            row = row.with("ratio_to_faiss_default", ratio);
        }
        row
    };

    let mut tops = vec![TopK::new(); p];
    let mut scores = Vec::new();
    let t = median_time(opts.reps, || {
        search_f32(&probes, &gallery, &mut tops, &mut scores)
    });
    rows.push(with_ratio(
        Row::new(
            SUITE,
            "f32-faer",
            n,
            DIM * 4,
            p,
            opts.threads,
            comparisons,
            t,
        )
        .with("dim", DIM)
        .with("top_k", K)
        .with("chunk_rows", CHUNK_ROWS),
    ));
    let f32_tops: Vec<Vec<u32>> = tops
        .iter()
        .map(|t| t.items.iter().map(|x| x.1).collect())
        .collect();

    let qg = quantise_rows(&gallery);
    drop(gallery);
    let mut qp = vec![0i8; probes.len()];
    for (v, q) in probes.chunks_exact(DIM).zip(qp.chunks_exact_mut(DIM)) {
        face::quantise_i8(v, q);
    }
    let mut iscores = Vec::new();
    for level in SimdLevel::supported() {
        let t = median_time(opts.reps, || {
            search_i8(level, &qp, &qg, &mut tops, &mut iscores)
        });
        // How often the exact top-1 is the i8 top-1 (a sanity figure; the engine measures
        // recall of its shortlist properly).
        let top1 = tops
            .iter()
            .zip(&f32_tops)
            .filter(|(t, f)| t.items.first().map(|x| x.1) == f.first().copied())
            .count();
        rows.push(with_ratio(
            Row::new(
                SUITE,
                format!("i8-{level}"),
                n,
                padded_stride(DIM),
                p,
                opts.threads,
                comparisons,
                t,
            )
            .with("dim", DIM)
            .with("top_k", K)
            .with("chunk_rows", CHUNK_ROWS)
            .with("top1_agreement_with_f32", top1 as f64 / p as f64),
        ));
    }
    rows.extend(faiss.into_iter().map(|(r, _)| r));
    Ok(rows)
}
