//! Face first pass: i8 dot products over every row with an exact f32 re-rank of the shortlist,
//! or exhaustive exact f32 (GEMM) when configured.

use super::{as_f32, as_i8, collect_hits, iris::keep_best, PreparedProbe, SearchControl};
use crate::config::FaceFirstPass;
use crate::engine::Inner;
use crate::error::{EngineError, Result};
use crate::gallery::{Modality, FACE_F32, FACE_I8};
use abis_matchers::{face, SimdLevel};

/// Probes per kernel call.
const PROBE_GROUP: usize = 64;

struct FaceProbe<'a> {
    index: usize,
    embedding: &'a [f32],
    /// Smallest exact cosine that reaches the candidate floor.
    floor_cos: f32,
}

/// For each probe with a face: slots whose exact cosine reaches the probe's candidate floor,
/// best first, at most `modality_candidates`.
pub(crate) fn first_pass(
    inner: &Inner,
    probes: &[PreparedProbe],
    level: SimdLevel,
    control: SearchControl<'_>,
) -> Result<Vec<(usize, Vec<u32>)>> {
    let seg = inner.segment(Modality::Face);
    let users: Vec<FaceProbe<'_>> = probes
        .iter()
        .enumerate()
        .filter_map(|(index, p)| {
            let f = p.record.face.as_ref()?;
            let floor_cos = inner.calibration.face_cosine_for_score(p.floor) as f32;
            Some(FaceProbe {
                index,
                embedding: &f.embedding,
                floor_cos,
            })
        })
        .collect();
    if users.is_empty() || seg.is_empty() {
        return Ok(users.iter().map(|u| (u.index, Vec::new())).collect());
    }
    let dim = inner.shape.face_dim;
    let f32_col = seg.column(FACE_F32);
    let f32_stride = f32_col.row_bytes() / 4;
    let f32_rows = as_f32(f32_col.rows())?;
    let chunk = inner.search.chunk_rows.max(1);
    let cap = inner.search.modality_candidates;
    let mut out = Vec::with_capacity(users.len());
    for group in users.chunks(PROBE_GROUP) {
        let hits: Vec<Vec<(f32, u32)>> = match inner.search.face_first_pass {
            FaceFirstPass::ExactF32 => {
                let mut probes = Vec::with_capacity(group.len() * dim);
                group
                    .iter()
                    .for_each(|g| probes.extend_from_slice(g.embedding));
                collect_hits(
                    inner,
                    Modality::Face,
                    chunk,
                    group.len(),
                    |first, n, out: &mut [f32]| {
                        let block = &f32_rows[first * f32_stride..(first + n) * f32_stride];
                        face::batch_dot_f32(&probes, dim, block, f32_stride, out)
                            .map_err(|e| EngineError::template("face", e))
                    },
                    |p, s| s >= group[p].floor_cos,
                    cap,
                    |a, b| b.0.total_cmp(&a.0),
                    control,
                )?
            }
            FaceFirstPass::QuantisedI8 => {
                let i8_col = seg.column(FACE_I8);
                let i8_stride = i8_col.row_bytes();
                let i8_rows = as_i8(i8_col.rows());
                let mut probes = vec![0i8; group.len() * dim];
                let scales: Vec<f32> = group
                    .iter()
                    .zip(probes.chunks_exact_mut(dim))
                    .map(|(g, q)| face::quantise_i8(g.embedding, q))
                    .collect();
                let margin = inner.search.face_margin;
                let approx = collect_hits(
                    inner,
                    Modality::Face,
                    chunk,
                    group.len(),
                    |first, n, out: &mut [f32]| {
                        let mut dots = vec![0i32; out.len()];
                        let block = &i8_rows[first * i8_stride..(first + n) * i8_stride];
                        face::batch_dot_i8(level, &probes, dim, block, i8_stride, &mut dots)
                            .map_err(|e| EngineError::template("face", e))?;
                        for p in 0..group.len() {
                            for r in 0..n {
                                out[p * n + r] =
                                    dots[p * n + r] as f32 * scales[p] * seg.meta(first + r).aux;
                            }
                        }
                        Ok(())
                    },
                    |p, s| s >= group[p].floor_cos - margin,
                    cap.saturating_mul(4),
                    |a, b| b.0.total_cmp(&a.0),
                    control,
                )?;
                // Exact re-rank of the shortlist.
                approx
                    .into_iter()
                    .zip(group)
                    .map(|(mut short, g)| {
                        keep_best(&mut short, cap.saturating_mul(4), |a, b| {
                            b.0.total_cmp(&a.0)
                        });
                        short
                            .into_iter()
                            .filter_map(|(_, slot)| {
                                let row = seg.row_of(slot)?;
                                let exact = face::dot_f32(
                                    g.embedding,
                                    &f32_rows[row * f32_stride..row * f32_stride + dim],
                                );
                                (exact >= g.floor_cos).then_some((exact, slot))
                            })
                            .collect()
                    })
                    .collect()
            }
        };
        for (g, mut h) in group.iter().zip(hits) {
            keep_best(&mut h, cap, |a, b| b.0.total_cmp(&a.0));
            out.push((g.index, h.into_iter().map(|(_, s)| s).collect()));
        }
    }
    Ok(out)
}
