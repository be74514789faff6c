//! Iris suites: the block kernel [`abis_matchers::iris::scan`] on every SIMD level, and
//! [`abis_matchers::iris::scan_interleaved`] (the engine's segment format, rows interleaved eight
//! at a time) on the best level, as the `...-interleaved` row.
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
use abis_matchers::iris::interleaved::{self, BLOCK_ROWS};
use abis_matchers::iris::{scan, scan_interleaved, IrisLayout, PreparedProbe, RotationSearch};
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

/// A scan of rows `first..first + rows` into `out` (`probes x rows`), in one gallery format.
type Kernel<'a> = dyn Fn(usize, usize, &mut [f32]) -> anyhow::Result<()> + Sync + 'a;

/// Times `kernel` over `n` rows with the suite's threads: the rows are split into chunks (a
/// multiple of `align` rows each), each with its own output. Returns the median time and the
/// scores as one `probes x n` matrix.
fn timed(
    opts: &Opts,
    n: usize,
    n_probes: usize,
    align: usize,
    kernel: &Kernel<'_>,
) -> anyhow::Result<(std::time::Duration, Vec<f32>)> {
    let chunk_rows = if opts.threads == 1 {
        n
    } else {
        n.div_ceil(opts.threads * 8).next_multiple_of(align).max(1)
    };
    let mut outs: Vec<Vec<f32>> = (0..n.div_ceil(chunk_rows))
        .map(|c| vec![0f32; n_probes * (chunk_rows.min(n - c * chunk_rows))])
        .collect();
    let mut result = Ok(());
    let median = median_time(opts.reps, || {
        if result.is_ok() {
            result = if let [out] = &mut outs[..] {
                kernel(0, n, out)
            } else {
                outs.par_iter_mut()
                    .enumerate()
                    .try_for_each(|(c, o)| kernel(c * chunk_rows, o.len() / n_probes, o))
            };
        }
    });
    result?;
    Ok((median, per_probe(&outs, n_probes, chunk_rows)))
}

/// Checks `scores` (`probes x n`) bit for bit against the reference's over the rows both have.
fn check(
    label: &str,
    scores: &[f32],
    n: usize,
    n_probes: usize,
    reference: &(SimdLevel, Vec<f32>),
) -> anyhow::Result<()> {
    let (ref_level, ref_scores) = reference;
    let ref_n = ref_scores.len() / n_probes;
    let common = n.min(ref_n);
    for p in 0..n_probes {
        let a = &scores[p * n..][..common];
        let b = &ref_scores[p * ref_n..][..common];
        anyhow::ensure!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{label} disagrees with {ref_level} on probe {p}"
        );
    }
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
        let (median, scores) = timed(opts, n_level, n_probes, 1, &|first, k, out| {
            Ok(scan(
                level,
                &probes,
                &rows[first * stride..(first + k) * stride],
                stride,
                out,
            )?)
        })?;
        match &reference {
            None => reference = Some((level, scores)),
            Some(r) => check(level.name(), &scores, n_level, n_probes, r)?,
        }
        let comparisons = (n_level * n_probes * rots) as f64;
        let rate = comparisons / median.as_secs_f64();
        if level == SimdLevel::Scalar {
            scalar_rate = Some(rate);
        }
        out_rows.push(row(
            name,
            format!("{bits}b/{level}"),
            (n_level, stride, n_probes, rots),
            opts,
            median,
            scalar_rate,
        ));
    }

    // The engine's layout: the same rows, interleaved eight at a time, on the best level.
    let level = SimdLevel::get();
    let blocks = interleave(layout, gallery.rows(), n);
    let bb = interleaved::block_bytes(layout);
    let (median, scores) = timed(opts, n, n_probes, BLOCK_ROWS, &|first, k, out| {
        let from = first / BLOCK_ROWS * bb;
        let chunk = &blocks[from..from + k.div_ceil(BLOCK_ROWS) * bb];
        Ok(scan_interleaved(level, &probes, chunk, k, out)?)
    })?;
    let reference = reference.expect("at least the scalar level ran");
    check(
        &format!("interleaved {level}"),
        &scores,
        n,
        n_probes,
        &reference,
    )?;
    out_rows.push(row(
        name,
        format!("{bits}b/{level}-interleaved"),
        (n, stride, n_probes, rots),
        opts,
        median,
        scalar_rate,
    ));
    Ok(out_rows)
}

/// One line of output: `shape` is (rows, bytes per row, probes, rotations).
fn row(
    suite: &str,
    variant: String,
    shape: (usize, usize, usize, usize),
    opts: &Opts,
    median: std::time::Duration,
    scalar_rate: Option<f64>,
) -> Row {
    let (n, stride, n_probes, rots) = shape;
    let comparisons = (n * n_probes * rots) as f64;
    let rate = comparisons / median.as_secs_f64();
    let row = Row::new(
        suite,
        variant,
        n,
        stride,
        n_probes,
        opts.threads,
        comparisons,
        median,
    )
    .with("rotations", rots)
    .with("ns_per_comparison", 1e9 / rate * opts.threads as f64);
    match scalar_rate {
        Some(s) => row.with("speedup_vs_scalar", rate / s),
        None => row,
    }
}

/// The first `n` rows of `rows` in the interleaved format of the engine's iris segments.
fn interleave(layout: &IrisLayout, rows: &[u8], n: usize) -> Vec<u8> {
    let (rb, bb) = (layout.row_bytes(), interleaved::block_bytes(layout));
    let mut blocks = vec![0u8; n.div_ceil(BLOCK_ROWS) * bb];
    blocks
        .par_chunks_mut(bb)
        .zip(rows.par_chunks(BLOCK_ROWS * rb))
        .for_each(|(block, group)| {
            for (lane, r) in group.chunks_exact(rb).enumerate() {
                interleaved::put_row(block, lane, r);
            }
        });
    blocks
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
