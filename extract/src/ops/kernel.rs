//! The channel LayerNorm kernel: one pass over a block of pixels for the mean, one for the
//! variance, one that normalises, scales and shifts in place, while the block is in cache.
//!
//! The data is `outer` planes of `channels` rows of `inner` contiguous values (NCHW with
//! `inner = H * W`), so the reduction runs along the strided channel axis and every inner loop
//! runs over contiguous pixels of one row: plain loops the compiler vectorises. The same body is
//! compiled three times (baseline x86-64 or any other target, AVX2 + FMA, AVX-512 F) and picked
//! once per call from [`SimdLevel`]. Rust never contracts `a * b + c` into an FMA on its own, and
//! the operations are the same in every copy, so every level gives the same bits; the test says
//! so.

use abis_matchers::SimdLevel;

/// Floats of one block of the tensor kept in cache (channels x pixels): 32 KiB.
const BLOCK_FLOATS: usize = 8 * 1024;
/// Most pixels per block (channels so few that a block would be wider).
const MAX_BLOCK: usize = 512;

/// A channel LayerNorm's constants: `gamma` and `beta` have one value per channel.
#[derive(Debug, Clone, Copy)]
pub struct Norm<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub eps: f32,
}

/// Normalises `data` (planes of `gamma.len()` rows of `inner` values) in place across its channel axis:
/// `x = (x - mean) / sqrt(var + eps) * gamma + beta`, written as Keras' graph does
/// (`x * m + (-mean * m + beta)` with `m = gamma / sqrt(var + eps)`). After each block,
/// `after_block` runs on each of its rows (the fused activation); its error stops the work.
pub fn normalise<E>(
    level: SimdLevel,
    data: &mut [f32],
    inner: usize,
    norm: Norm<'_>,
    after_block: &mut dyn FnMut(&mut [f32]) -> Result<(), E>,
) -> Result<(), E> {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => {
            // SAFETY: SimdLevel only reports Avx512 on a CPU with AVX-512 F (checked at run time).
            unsafe { normalise_avx512(data, inner, norm, after_block) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            // SAFETY: SimdLevel only reports Avx2 on a CPU with AVX2 and FMA.
            unsafe { normalise_avx2(data, inner, norm, after_block) }
        }
        _ => normalise_body(data, inner, norm, after_block),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn normalise_avx512<E>(
    data: &mut [f32],
    inner: usize,
    norm: Norm<'_>,
    after_block: &mut dyn FnMut(&mut [f32]) -> Result<(), E>,
) -> Result<(), E> {
    normalise_body(data, inner, norm, after_block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn normalise_avx2<E>(
    data: &mut [f32],
    inner: usize,
    norm: Norm<'_>,
    after_block: &mut dyn FnMut(&mut [f32]) -> Result<(), E>,
) -> Result<(), E> {
    normalise_body(data, inner, norm, after_block)
}

/// Pixels per block for `channels` channels: the block fills about [`BLOCK_FLOATS`], in whole
/// 16-float vectors.
fn block_width(channels: usize) -> usize {
    (BLOCK_FLOATS / channels.max(1) / 16 * 16).clamp(16, MAX_BLOCK)
}

#[inline(always)]
fn normalise_body<E>(
    data: &mut [f32],
    inner: usize,
    norm: Norm<'_>,
    after_block: &mut dyn FnMut(&mut [f32]) -> Result<(), E>,
) -> Result<(), E> {
    let channels = norm.gamma.len();
    debug_assert_eq!(norm.beta.len(), channels);
    if channels == 0 || inner == 0 {
        return Ok(());
    }
    let count = channels as f32;
    let mut mean = [0f32; MAX_BLOCK];
    let mut scale = [0f32; MAX_BLOCK];
    debug_assert_eq!(data.len() % (channels * inner), 0);
    for plane in data.chunks_exact_mut(channels * inner) {
        let block = block_width(channels).min(inner);
        let mut start = 0;
        while start < inner {
            let width = block.min(inner - start);
            let (mean, scale) = (&mut mean[..width], &mut scale[..width]);
            let row = |c: usize| c * inner + start..c * inner + start + width;

            mean.fill(0.0);
            for c in 0..channels {
                for (m, &x) in mean.iter_mut().zip(&plane[row(c)]) {
                    *m += x;
                }
            }
            for m in mean.iter_mut() {
                *m /= count;
            }
            // The variance, kept in `scale` until it becomes 1 / sqrt(var + eps).
            scale.fill(0.0);
            for c in 0..channels {
                for ((v, &m), &x) in scale.iter_mut().zip(mean.iter()).zip(&plane[row(c)]) {
                    let d = x - m;
                    *v += d * d;
                }
            }
            for v in scale.iter_mut() {
                *v = 1.0 / (*v / count + norm.eps).sqrt();
            }
            for c in 0..channels {
                let (g, b) = (norm.gamma[c], norm.beta[c]);
                for ((x, &m), &r) in plane[row(c)].iter_mut().zip(mean.iter()).zip(scale.iter()) {
                    let s = r * g;
                    *x = *x * s + (-m * s + b);
                }
            }
            for c in 0..channels {
                after_block(&mut plane[row(c)])?;
            }
            start += width;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in about [-3, 5], with a per-channel offset so the mean matters.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 * 6.0 - 3.0 + (i % 5) as f32 * 0.5
            })
            .collect()
    }

    /// The definition, in f64, one pixel at a time.
    fn reference(data: &[f32], outer: usize, norm: Norm<'_>) -> Vec<f32> {
        let channels = norm.gamma.len();
        let inner = data.len() / outer / channels;
        let mut out = vec![0f32; data.len()];
        for o in 0..outer {
            for p in 0..inner {
                let at = |c: usize| o * channels * inner + c * inner + p;
                let mean =
                    (0..channels).map(|c| f64::from(data[at(c)])).sum::<f64>() / channels as f64;
                let var = (0..channels)
                    .map(|c| (f64::from(data[at(c)]) - mean).powi(2))
                    .sum::<f64>()
                    / channels as f64;
                for c in 0..channels {
                    let y = (f64::from(data[at(c)]) - mean) / (var + f64::from(norm.eps)).sqrt()
                        * f64::from(norm.gamma[c])
                        + f64::from(norm.beta[c]);
                    out[at(c)] = y as f32;
                }
            }
        }
        out
    }

    fn run(level: SimdLevel, data: &mut [f32], outer: usize, norm: Norm<'_>) {
        let inner = data.len() / outer / norm.gamma.len();
        normalise::<()>(level, data, inner, norm, &mut |_| Ok(())).unwrap();
    }

    #[test]
    fn every_level_matches_the_definition_and_each_other_bit_for_bit() {
        let supported = SimdLevel::supported();
        for channels in [1, 3, 16, 52, 257] {
            for inner in [1, 7, 15, 16, 31, 33, 127, 513, 1031] {
                for outer in [1, 2] {
                    let gamma = values(channels, 1);
                    let beta = values(channels, 2);
                    let norm = Norm {
                        gamma: &gamma,
                        beta: &beta,
                        eps: 1e-3,
                    };
                    let input = values(outer * channels * inner, (channels * inner) as u64);
                    let expected = reference(&input, outer, norm);
                    let mut first: Option<Vec<f32>> = None;
                    for &level in &supported {
                        let mut data = input.clone();
                        run(level, &mut data, outer, norm);
                        for (i, (&got, &want)) in data.iter().zip(&expected).enumerate() {
                            assert!(
                                (got - want).abs() <= 2e-5 * want.abs().max(1.0),
                                "{level} c {channels} inner {inner} at {i}: {got} vs {want}"
                            );
                        }
                        match &first {
                            None => first = Some(data),
                            Some(first) => assert!(
                                first
                                    .iter()
                                    .zip(&data)
                                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                                "{level} differs from {} at c {channels} inner {inner}",
                                supported[0]
                            ),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_block_hook_sees_every_value_once() {
        let (channels, inner) = (5, 1000);
        let gamma = vec![0.0; channels];
        let beta = vec![1.0; channels];
        let norm = Norm {
            gamma: &gamma,
            beta: &beta,
            eps: 1e-3,
        };
        let mut data = values(channels * inner, 3);
        normalise::<()>(SimdLevel::get(), &mut data, inner, norm, &mut |row| {
            row.iter_mut().for_each(|x| *x += 1.0);
            Ok(())
        })
        .unwrap();
        assert!(data.iter().all(|&x| x == 2.0));
    }
}
