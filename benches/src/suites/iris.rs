//! Iris suites: the block kernel [`abis_matchers::iris::scan`] on every SIMD level.
//!
//! - `iris-scan`: one probe x 7 rotations over a gallery far larger than the caches (default
//!   1,000,000 Daugman rows of 512 B = 512 MB), the memory-bound case: the figure to read is
//!   `ratio_to_bandwidth`. A 12,800-bit run covers the same number of bytes with fewer, longer rows.
//! - `iris-batch`: `--probes` (default 32) probes x 7 rotations over 200,000 rows, the
//!   compute-bound case: the figure to read is `comparisons_per_s` (rotation-comparisons, i.e.
//!   records x probes x rotations, per second; per core with the default single thread).
//!
//! Rows are random bytes from a seeded generator (speed does not depend on the values; masks are
//! dense, as real ones are). Each level's output is checked bit for bit against the first level's
//! over the rows both ran, so a run also confirms the levels agree. The scalar reference is slow, so
//! in `iris-batch` it (and the portable level) runs over a fraction of the rows; `records` says how
//! many each row of output used.

use crate::report::{median_time, Row};
use crate::Opts;
use abis_matchers::iris::{scan, IrisLayout, PreparedProbe, RotationSearch};
use abis_matchers::SimdLevel;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Runs `iris-scan` or `iris-batch`.
pub fn run(name: &str, opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let records = match name {
        "iris-scan" => opts.records.unwrap_or(1_000_000),
        _ => opts.records.unwrap_or(200_000),
    };
    let probes = if name == "iris-scan" {
        1
    } else {
        opts.probes.unwrap_or(32)
    };
    anyhow::ensure!(
        records >= 1 && probes >= 1,
        "records and probes must be at least 1"
    );
    let mut rows = Vec::new();
    for layout in [IrisLayout::DAUGMAN_2048, IrisLayout::OPEN_IRIS_12800] {
        // Same gallery bytes for both layouts.
        let n = (records * 512 / layout.row_bytes()).max(1);
        rows.extend(measure(name, opts, &layout, n, probes)?);
    }
    Ok(rows)
}

/// A 64-byte aligned buffer of `n` random gallery rows.
struct Gallery {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Gallery {
    fn new(layout: &IrisLayout, n: usize, rng: &mut ChaCha8Rng) -> Self {
        let rb = layout.row_bytes();
        let len = n * rb;
        let mut buf = vec![0u8; len + 64];
        let start = buf.as_ptr().align_offset(64);
        let cb = layout.code_bytes();
        let mut pattern = vec![0u8; 64 * rb];
        for row in pattern.chunks_exact_mut(rb) {
            rng.fill_bytes(&mut row[..cb]);
            for m in &mut row[cb..2 * cb] {
                *m = rng.gen::<u8>() | rng.gen::<u8>() | rng.gen::<u8>();
            }
        }
        // Tile a random pattern (filling 512 MB from the generator would dominate the run) and
        // perturb each row's first code word so no two rows are equal.
        for (r, row) in buf[start..start + len].chunks_exact_mut(rb).enumerate() {
            row.copy_from_slice(&pattern[(r % 64) * rb..][..rb]);
            row[..8].copy_from_slice(&(r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        }
        Self { buf, start, len }
    }

    fn rows(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// One scan of `rows` with `threads` workers: rows are split into chunks, each with its own
/// output (`probes x chunk rows`).
fn parallel_scan(
    level: SimdLevel,
    probes: &[PreparedProbe],
    rows: &[u8],
    stride: usize,
    chunk_rows: usize,
    outs: &mut [Vec<f32>],
) -> anyhow::Result<()> {
    if outs.len() == 1 {
        scan(level, probes, rows, stride, &mut outs[0])?;
        return Ok(());
    }
    rows.par_chunks(chunk_rows * stride)
        .zip(outs.par_iter_mut())
        .try_for_each(|(r, o)| scan(level, probes, r, stride, o))?;
    Ok(())
}

fn measure(
    name: &str,
    opts: &Opts,
    layout: &IrisLayout,
    n: usize,
    n_probes: usize,
) -> anyhow::Result<Vec<Row>> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let gallery = Gallery::new(layout, n, &mut rng);
    let rotation = RotationSearch::default();
    let rots = rotation.shifts().len();
    let probes: Vec<PreparedProbe> = (0..n_probes)
        .map(|_| {
            let code: Vec<u8> = (0..layout.code_bytes()).map(|_| rng.gen()).collect();
            let mask: Vec<u8> = (0..layout.code_bytes())
                .map(|_| rng.gen::<u8>() | rng.gen::<u8>())
                .collect();
            PreparedProbe::new(layout, &code, &mask, &rotation)
        })
        .collect::<Result<_, _>>()?;
    let stride = layout.row_bytes();
    let bits = layout.code_bits();

    let mut reference: Option<(SimdLevel, Vec<f32>)> = None;
    let mut scalar_rate = None;
    let mut out_rows = Vec::new();
    for level in SimdLevel::supported() {
        // The batched suite would spend minutes in the slow levels: give them a slice of the rows.
        let n_level = match level {
            SimdLevel::Scalar | SimdLevel::Portable if name == "iris-batch" => (n / 20).max(1),
            _ => n,
        };
        let rows = &gallery.rows()[..n_level * stride];
        let chunk_rows = if opts.threads == 1 {
            n_level
        } else {
            n_level.div_ceil(opts.threads * 8).max(1)
        };
        let mut outs: Vec<Vec<f32>> = (0..n_level.div_ceil(chunk_rows))
            .map(|c| vec![0f32; n_probes * (chunk_rows.min(n_level - c * chunk_rows))])
            .collect();
        let mut result = Ok(());
        let median = median_time(opts.reps, || {
            if result.is_ok() {
                result = parallel_scan(level, &probes, rows, stride, chunk_rows, &mut outs);
            }
        });
        result?;
        let scores = per_probe(&outs, n_probes, chunk_rows);
        match &reference {
            None => reference = Some((level, scores)),
            Some((ref_level, ref_scores)) => {
                let common = n_level.min(ref_scores.len() / n_probes);
                let ref_n = ref_scores.len() / n_probes;
                for p in 0..n_probes {
                    let a = &scores[p * n_level..][..common];
                    let b = &ref_scores[p * ref_n..][..common];
                    anyhow::ensure!(
                        a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{level} disagrees with {ref_level} on probe {p}"
                    );
                }
            }
        }
        let comparisons = (n_level * n_probes * rots) as f64;
        let rate = comparisons / median.as_secs_f64();
        if level == SimdLevel::Scalar {
            scalar_rate = Some(rate);
        }
        let mut row = Row::new(
            name,
            format!("{bits}b/{level}"),
            n_level,
            stride,
            n_probes,
            opts.threads,
            comparisons,
            median,
        )
        .with("rotations", rots)
        .with("ns_per_comparison", 1e9 / rate * opts.threads as f64);
        if let Some(s) = scalar_rate {
            row = row.with("speedup_vs_scalar", rate / s);
        }
        out_rows.push(row);
    }
    Ok(out_rows)
}

/// Reassembles chunked outputs into one `probes x rows` matrix.
fn per_probe(outs: &[Vec<f32>], n_probes: usize, chunk_rows: usize) -> Vec<f32> {
    let n: usize = outs.iter().map(|o| o.len() / n_probes).sum();
    let mut all = vec![0f32; n_probes * n];
    for (c, o) in outs.iter().enumerate() {
        let m = o.len() / n_probes;
        for p in 0..n_probes {
            all[p * n + c * chunk_rows..][..m].copy_from_slice(&o[p * m..][..m]);
        }
    }
    all
}
