//! Criterion benches of the face kernels, one name per variant:
//! 512-d per-pair dot products (f32, f16, i8 through simsimd) and batched 32 probes x 4,096 rows
//! (f32 through faer, i8 block kernel at every SIMD level this CPU supports).
//!
//! ```text
//! cargo bench -p abis-bench --bench face_kernels
//! ```

use abis_matchers::face::{self, f16, padded_stride};
use abis_matchers::SimdLevel;
use criterion::{black_box, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

const DIM: usize = 512;
const PROBES: usize = 32;
/// A second batch shape, the default of the `face-batch` suite.
const PROBES_WIDE: usize = 64;
const ROWS: usize = 4096;

fn unit(rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
    face::l2_normalise(&mut v).expect("non-zero");
    v
}

fn pairs(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (a, b) = (unit(&mut rng), unit(&mut rng));
    let (mut ha, mut hb) = (vec![f16::ZERO; DIM], vec![f16::ZERO; DIM]);
    face::to_f16(&a, &mut ha);
    face::to_f16(&b, &mut hb);
    let (mut qa, mut qb) = (vec![0i8; DIM], vec![0i8; DIM]);
    face::quantise_i8(&a, &mut qa);
    face::quantise_i8(&b, &mut qb);
    let mut g = c.benchmark_group("face-pair-512");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dot_f32", |bch| {
        bch.iter(|| face::dot_f32(black_box(&a), black_box(&b)))
    });
    g.bench_function("dot_f16", |bch| {
        bch.iter(|| face::dot_f16(black_box(&ha), black_box(&hb)))
    });
    g.bench_function("dot_i8", |bch| {
        bch.iter(|| face::dot_i8(black_box(&qa), black_box(&qb)))
    });
    g.finish();
}

fn batched(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let probes: Vec<f32> = (0..PROBES).flat_map(|_| unit(&mut rng)).collect();
    let fstride = padded_stride(DIM * 4) / 4;
    let gallery: Vec<f32> = (0..ROWS).flat_map(|_| unit(&mut rng)).collect();
    let qstride = padded_stride(DIM);
    let mut qp = vec![0i8; PROBES * DIM];
    for (v, q) in probes.chunks_exact(DIM).zip(qp.chunks_exact_mut(DIM)) {
        face::quantise_i8(v, q);
    }
    let mut qg = vec![0i8; ROWS * qstride];
    for (v, q) in gallery.chunks_exact(DIM).zip(qg.chunks_exact_mut(qstride)) {
        face::quantise_i8(v, &mut q[..DIM]);
    }

    let mut g = c.benchmark_group("face-batch-32x4096-512");
    g.throughput(Throughput::Elements((PROBES * ROWS) as u64));
    let mut out = vec![0.0f32; PROBES * ROWS];
    g.bench_function("f32-faer", |bch| {
        bch.iter(|| {
            face::batch_dot_f32(
                black_box(&probes),
                DIM,
                black_box(&gallery),
                fstride,
                &mut out,
            )
        })
    });
    let mut iout = vec![0i32; PROBES_WIDE * ROWS];
    for level in SimdLevel::supported() {
        g.bench_function(format!("i8-{level}"), |bch| {
            bch.iter(|| {
                face::batch_dot_i8(
                    level,
                    black_box(&qp),
                    DIM,
                    black_box(&qg),
                    qstride,
                    &mut iout[..PROBES * ROWS],
                )
            })
        });
    }
    g.finish();

    // 64 probes: the fast paths only (f32 through faer, i8 at the best level).
    let wide: Vec<f32> = (0..PROBES_WIDE).flat_map(|_| unit(&mut rng)).collect();
    let mut qwide = vec![0i8; PROBES_WIDE * DIM];
    for (v, q) in wide.chunks_exact(DIM).zip(qwide.chunks_exact_mut(DIM)) {
        face::quantise_i8(v, q);
    }
    let mut g = c.benchmark_group("face-batch-64x4096-512");
    g.throughput(Throughput::Elements((PROBES_WIDE * ROWS) as u64));
    let mut out = vec![0.0f32; PROBES_WIDE * ROWS];
    g.bench_function("f32-faer", |bch| {
        bch.iter(|| {
            face::batch_dot_f32(
                black_box(&wide),
                DIM,
                black_box(&gallery),
                fstride,
                &mut out,
            )
        })
    });
    let level = SimdLevel::best_supported();
    g.bench_function(format!("i8-{level}"), |bch| {
        bch.iter(|| {
            face::batch_dot_i8(
                level,
                black_box(&qwide),
                DIM,
                black_box(&qg),
                qstride,
                &mut iout,
            )
        })
    });
    g.finish();
}

fn main() {
    // Short runs: these benches compare variants side by side, they do not chase the last digit.
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10)
        .configure_from_args();
    pairs(&mut c);
    batched(&mut c);
    c.final_summary();
}
