//! Criterion benches of the iris kernels, one name per SIMD level this CPU supports, for Daugman's
//! 2,048-bit codes and open-iris's 12,800-bit codes, 7 rotations (shifts -3..=3):
//! - `iris-compare-*`: one probe against one row ([`compare`]), the 1:1 path;
//! - `iris-scan-1x7-*`: the block kernel [`scan`], one probe over 2 MiB of rows;
//! - `iris-scan-32x7-*`: 32 probes over 256 KiB of rows (the batched, compute-bound shape).
//!
//! Each scan group also has `interleaved-*` entries: [`scan_interleaved`] over the same rows in
//! the engine's segment format (eight rows per block, word by word).
//!
//! Throughput is in rotation-comparisons (rows x probes x rotations), so "elements/s" reads as
//! comparisons per second on one core.
//!
//! ```text
//! cargo bench -p abis-bench --bench iris_kernels
//! ```

use abis_matchers::iris::interleaved::{self, BLOCK_ROWS};
use abis_matchers::iris::{
    compare, scan, scan_interleaved, IrisLayout, PreparedProbe, RotationSearch,
};
use abis_matchers::SimdLevel;
use criterion::{black_box, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Gallery bytes of the single-probe scan (4,096 Daugman rows).
const SCAN_BYTES: usize = 4096 * 512;
/// Gallery bytes of the batched scan (512 Daugman rows).
const BATCH_BYTES: usize = 512 * 512;
const BATCH_PROBES: usize = 32;

fn template(rng: &mut ChaCha8Rng, layout: &IrisLayout) -> (Vec<u8>, Vec<u8>) {
    let cb = layout.code_bytes();
    let code = (0..cb).map(|_| rng.gen()).collect();
    let mask = (0..cb)
        .map(|_| rng.gen::<u8>() | rng.gen::<u8>() | rng.gen::<u8>())
        .collect();
    (code, mask)
}

fn gallery(rng: &mut ChaCha8Rng, layout: &IrisLayout, n: usize) -> Vec<u8> {
    let rb = layout.row_bytes();
    let mut rows = vec![0u8; n * rb];
    for row in rows.chunks_exact_mut(rb) {
        let (code, mask) = template(rng, layout);
        layout
            .encode_row(&code, &mask, row)
            .expect("sized from the layout");
    }
    rows
}

fn probes(rng: &mut ChaCha8Rng, layout: &IrisLayout, count: usize) -> Vec<PreparedProbe> {
    (0..count)
        .map(|_| {
            let (code, mask) = template(rng, layout);
            PreparedProbe::new(layout, &code, &mask, &RotationSearch::default())
                .expect("valid probe")
        })
        .collect()
}

/// The first `n` rows in the interleaved format.
fn interleave(layout: &IrisLayout, rows: &[u8], n: usize) -> Vec<u8> {
    let (rb, bb) = (layout.row_bytes(), interleaved::block_bytes(layout));
    let mut blocks = vec![0u8; n.div_ceil(BLOCK_ROWS) * bb];
    for (r, row) in rows.chunks_exact(rb).take(n).enumerate() {
        interleaved::put_row(
            &mut blocks[r / BLOCK_ROWS * bb..][..bb],
            r % BLOCK_ROWS,
            row,
        );
    }
    blocks
}

fn layout_benches(c: &mut Criterion, layout: IrisLayout) {
    let bits = layout.code_bits();
    let rb = layout.row_bytes();
    let mut rng = ChaCha8Rng::seed_from_u64(bits as u64);
    let rots = RotationSearch::default().shifts().len();

    let one = probes(&mut rng, &layout, 1);
    let row = gallery(&mut rng, &layout, 1);
    let mut g = c.benchmark_group(format!("iris-compare-{bits}b"));
    g.throughput(Throughput::Elements(rots as u64));
    for level in SimdLevel::supported() {
        g.bench_function(level.name(), |b| {
            b.iter(|| compare(level, black_box(&one[0]), black_box(&row)))
        });
    }
    g.finish();

    let n = SCAN_BYTES / rb;
    let rows = gallery(&mut rng, &layout, n);
    let mut out = vec![0f32; n];
    let mut g = c.benchmark_group(format!("iris-scan-1x{rots}-{bits}b"));
    g.throughput(Throughput::Elements((n * rots) as u64));
    let blocks = interleave(&layout, &rows, n);
    for level in SimdLevel::supported() {
        g.bench_function(level.name(), |b| {
            b.iter(|| {
                scan(level, black_box(&one), black_box(&rows), rb, &mut out).expect("valid shapes")
            })
        });
        g.bench_function(format!("interleaved-{}", level.name()), |b| {
            b.iter(|| {
                scan_interleaved(level, black_box(&one), black_box(&blocks), n, &mut out)
                    .expect("valid shapes")
            })
        });
    }
    g.finish();

    let n = BATCH_BYTES / rb;
    let many = probes(&mut rng, &layout, BATCH_PROBES);
    let rows = &rows[..n * rb];
    let mut out = vec![0f32; BATCH_PROBES * n];
    let mut g = c.benchmark_group(format!("iris-scan-{BATCH_PROBES}x{rots}-{bits}b"));
    g.throughput(Throughput::Elements((BATCH_PROBES * n * rots) as u64));
    let blocks = interleave(&layout, rows, n);
    for level in SimdLevel::supported() {
        g.bench_function(level.name(), |b| {
            b.iter(|| {
                scan(level, black_box(&many), black_box(rows), rb, &mut out).expect("valid shapes")
            })
        });
        g.bench_function(format!("interleaved-{}", level.name()), |b| {
            b.iter(|| {
                scan_interleaved(level, black_box(&many), black_box(&blocks), n, &mut out)
                    .expect("valid shapes")
            })
        });
    }
    g.finish();
}

fn main() {
    // Short runs: these benches compare variants side by side, they do not chase the last digit.
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10)
        .configure_from_args();
    layout_benches(&mut c, IrisLayout::DAUGMAN_2048);
    layout_benches(&mut c, IrisLayout::OPEN_IRIS_12800);
    c.final_summary();
}
