//! `face-scan`: one probe against every row, in each stored form of the embedding.

use super::{
    probes_from, quantise_rows, search_f32, search_i8, unit_rows, TopK, CHUNK_ROWS, DIM, K,
};
use crate::report::{median_time, Row};
use crate::Opts;
use abis_matchers::face::{self, padded_stride};
use abis_matchers::SimdLevel;

/// Runs the suite.
pub(super) fn scan(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    const SUITE: &str = "face-scan";
    let n = opts.records.unwrap_or(1_000_000);
    anyhow::ensure!(n > 0, "face-scan needs at least one record");
    let fstride = padded_stride(DIM * 4) / 4;
    let gallery = unit_rows(n, opts.seed);
    let probe = probes_from(&unit_rows(1, opts.seed ^ 0x5eed));
    let row = |variant: String, bytes: usize, t| {
        Row::new(SUITE, variant, n, bytes, 1, opts.threads, n as f64, t)
            .with("dim", DIM)
            .with("top_k", K)
    };
    let mut out = Vec::new();
    let mut top = vec![TopK::new()];

    // f32: faer with one probe (a GEMV), and simsimd pair by pair.
    let mut scores = Vec::new();
    let t = median_time(opts.reps, || {
        search_f32(&probe, &gallery, &mut top, &mut scores)
    });
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
            top.offer(first, &scores[..rows]);
            first += rows;
        }
    };
    let t = median_time(opts.reps, || {
        pairs(
            &|j| face::dot_f32(&probe, &gallery[j * fstride..j * fstride + DIM]),
            &mut top[0],
            &mut pair_scores,
        )
    });
    out.push(row("f32-simsimd-pairs".into(), DIM * 4, t));

    // f16, pair by pair (there is no batched f16 kernel).
    let hstride = padded_stride(DIM * 2) / 2;
    let mut h = vec![face::f16::ZERO; n * hstride];
    for (src, dst) in gallery
        .chunks_exact(fstride)
        .zip(h.chunks_exact_mut(hstride))
    {
        face::to_f16(&src[..DIM], &mut dst[..DIM]);
    }
    let mut hp = vec![face::f16::ZERO; DIM];
    face::to_f16(&probe, &mut hp);
    let t = median_time(opts.reps, || {
        pairs(
            &|j| face::dot_f16(&hp, &h[j * hstride..j * hstride + DIM]),
            &mut top[0],
            &mut pair_scores,
        )
    });
    out.push(row("f16-simsimd-pairs".into(), DIM * 2, t));
    drop(h);

    // i8 and binary block kernels with one probe, per level.
    let qg = quantise_rows(&gallery);
    let bstride = padded_stride(DIM / 8);
    let mut bits = vec![0u8; n * bstride];
    for (src, dst) in gallery
        .chunks_exact(fstride)
        .zip(bits.chunks_exact_mut(bstride))
    {
        face::binarise(&src[..DIM], &mut dst[..DIM / 8]);
    }
    drop(gallery);
    let mut qp = vec![0i8; DIM];
    face::quantise_i8(&probe, &mut qp);
    let mut bp = vec![0u8; DIM / 8];
    face::binarise(&probe, &mut bp);
    let mut iscores = Vec::new();
    let mut dist = vec![0u32; CHUNK_ROWS];
    let mut neg = vec![0.0f32; CHUNK_ROWS];
    for level in SimdLevel::supported() {
        let t = median_time(opts.reps, || {
            search_i8(level, &qp, &qg, &mut top, &mut iscores)
        });
        out.push(row(format!("i8-{level}"), padded_stride(DIM), t));
        let t = median_time(opts.reps, || {
            top[0].items.clear();
            let mut first = 0;
            while first < n {
                let rows = CHUNK_ROWS.min(n - first);
                let chunk = &bits[first * bstride..(first + rows) * bstride];
                face::batch_hamming(level, &bp, DIM / 8, chunk, bstride, &mut dist[..rows])
                    .expect("valid shapes");
                // Fewer differing bits is better: negate for the max-first selection.
                for (o, &d) in neg[..rows].iter_mut().zip(&dist[..rows]) {
                    *o = -(d as f32);
                }
                top[0].offer(first, &neg[..rows]);
                first += rows;
            }
        });
        out.push(row(format!("binary-{level}"), bstride, t));
    }
    Ok(out)
}
