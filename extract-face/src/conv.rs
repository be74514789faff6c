//! The layers of dlib's convolutional networks at test time, on one image: feature maps in
//! channel-major order (`c x h x w`, row-major within a channel) and the operations dlib's
//! `con_`, `max_pool_`, `avg_pool_`, `relu_`, `add_prev_` and `fc_` perform on them.
//!
//! Convolution is dlib's (a cross-correlation, zero padding, output side
//! `1 + (side + 2 * padding - kernel) / stride`), computed as im2col and one `faer` GEMM per
//! layer, single-threaded: a caller with many chips parallelises over chips.

use faer::{linalg::matmul::matmul, Accum, MatMut, MatRef, Par};

/// A feature map: `channels x height x width` floats, channel-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Map {
    /// Number of channels.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// The values, channel by channel, row by row.
    pub data: Vec<f32>,
}

impl Map {
    /// A map of zeros.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Map {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
        }
    }
}

/// Output side of a window of `kernel` sliding by `stride` over `side + 2 * padding` (dlib's
/// rule); `None` when the window does not fit.
pub(crate) fn out_side(side: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    (side + 2 * padding)
        .checked_sub(kernel)
        .map(|d| 1 + d / stride)
}

/// A convolution with square kernels and the same stride and padding on both axes, its bias
/// included (and, in the networks here, the per-channel scale and shift of the `affine_` layer
/// after it folded into weights and bias).
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    /// Output channels.
    pub filters: usize,
    /// Input channels.
    pub inputs: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// `filters x (inputs x kernel x kernel)`, row-major (dlib's filter layout).
    pub weights: Vec<f32>,
    /// One per filter.
    pub bias: Vec<f32>,
}

impl Conv {
    /// Scales filter `o` and its bias by `scale[o]` and adds `shift[o]` to the bias: an
    /// `affine_` layer applied after this one, folded in.
    pub fn fold_affine(&mut self, scale: &[f32], shift: &[f32]) {
        let per_filter = self.inputs * self.kernel * self.kernel;
        for (o, row) in self.weights.chunks_exact_mut(per_filter).enumerate() {
            row.iter_mut().for_each(|w| *w *= scale[o]);
            self.bias[o] = self.bias[o] * scale[o] + shift[o];
        }
    }

    /// The convolution of `input` (whose channel count the loader checked), with `cols` as
    /// reusable im2col scratch. `None` when the kernel does not fit the map.
    pub fn forward(&self, input: &Map, cols: &mut Vec<f32>) -> Option<Map> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let out_h = out_side(input.height, k, s, p)?;
        let out_w = out_side(input.width, k, s, p)?;
        let pixels = out_h * out_w;
        let depth = self.inputs * k * k;
        im2col(input, k, s, p, out_h, out_w, cols);

        let mut out = Map::zeros(self.filters, out_h, out_w);
        for (channel, &b) in out.data.chunks_exact_mut(pixels).zip(&self.bias) {
            channel.fill(b);
        }
        // out (pixels x filters, column-major = channel-major map)
        //   += cols (pixels x depth, column-major) * weights^T (depth x filters).
        matmul(
            MatMut::from_column_major_slice_mut(&mut out.data, pixels, self.filters),
            Accum::Add,
            MatRef::from_column_major_slice(&cols[..pixels * depth], pixels, depth),
            MatRef::from_row_major_slice(&self.weights, self.filters, depth).transpose(),
            1.0f32,
            Par::Seq,
        );
        Some(out)
    }
}

/// Lays out the windows of `input` as `channels x k x k` rows of `out_h x out_w` values each
/// (zeros where a window reaches into the padding).
fn im2col(
    input: &Map,
    k: usize,
    stride: usize,
    padding: usize,
    out_h: usize,
    out_w: usize,
    cols: &mut Vec<f32>,
) {
    let pixels = out_h * out_w;
    cols.clear();
    cols.resize(input.channels * k * k * pixels, 0.0);
    let (h, w) = (input.height, input.width);
    let mut rows = cols.chunks_exact_mut(pixels);
    for plane in input.data.chunks_exact(h * w) {
        for ky in 0..k {
            for kx in 0..k {
                let row = rows.next().expect("sized for every (channel, ky, kx)");
                // Output columns whose input column ox * stride + kx - padding is inside.
                let first_x = padding.saturating_sub(kx).div_ceil(stride);
                let last_x = (w + padding)
                    .checked_sub(kx + 1)
                    .map_or(0, |d| (d / stride + 1).min(out_w));
                for oy in 0..out_h {
                    let Some(iy) = (oy * stride + ky).checked_sub(padding).filter(|&y| y < h)
                    else {
                        continue;
                    };
                    let src = &plane[iy * w..(iy + 1) * w];
                    let dst = &mut row[oy * out_w..(oy + 1) * out_w];
                    if stride == 1 && last_x > first_x {
                        let start = first_x + kx - padding;
                        let n = last_x - first_x;
                        dst[first_x..last_x].copy_from_slice(&src[start..start + n]);
                    } else {
                        for ox in first_x..last_x {
                            dst[ox] = src[ox * stride + kx - padding];
                        }
                    }
                }
            }
        }
    }
}

/// `max(0, x)` in place.
pub(crate) fn relu(map: &mut Map) {
    map.data.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// Square pooling windows without padding: the maximum (`max`) or the mean of each window.
/// `None` when the window does not fit.
pub(crate) fn pool(input: &Map, size: usize, stride: usize, max: bool) -> Option<Map> {
    let out_h = out_side(input.height, size, stride, 0)?;
    let out_w = out_side(input.width, size, stride, 0)?;
    let (h, w) = (input.height, input.width);
    let mut out = Map::zeros(input.channels, out_h, out_w);
    let scale = 1.0 / (size * size) as f32;
    for (plane, dst) in input
        .data
        .chunks_exact(h * w)
        .zip(out.data.chunks_exact_mut(out_h * out_w))
    {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let window = (0..size).flat_map(|dy| {
                    let row = (oy * stride + dy) * w + ox * stride;
                    plane[row..row + size].iter().copied()
                });
                dst[oy * out_w + ox] = if max {
                    window.fold(f32::NEG_INFINITY, f32::max)
                } else {
                    window.sum::<f32>() * scale
                };
            }
        }
    }
    Some(out)
}

/// The mean of each channel over the whole map (dlib's `avg_pool_everything`).
pub(crate) fn global_average(input: &Map) -> Vec<f32> {
    let n = input.height * input.width;
    input
        .data
        .chunks_exact(n)
        .map(|c| c.iter().sum::<f32>() / n as f32)
        .collect()
}

/// dlib's `add_prev_`: the sum of two maps whose shapes may differ, on the larger extent of each
/// dimension, each map read as zero beyond its own extent.
pub(crate) fn add_padded(a: &Map, b: &Map) -> Map {
    let (c, h, w) = (
        a.channels.max(b.channels),
        a.height.max(b.height),
        a.width.max(b.width),
    );
    let mut out = Map::zeros(c, h, w);
    for m in [a, b] {
        for ch in 0..m.channels {
            for y in 0..m.height {
                let src = &m.data[(ch * m.height + y) * m.width..][..m.width];
                let dst = &mut out.data[(ch * h + y) * w..][..m.width];
                dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
            }
        }
    }
    out
}

/// A fully connected layer without bias: `out[j] = sum_i x[i] * weights[i * outputs + j]`
/// (dlib's `fc_` layout: `inputs x outputs`, row-major).
pub(crate) fn fully_connected(x: &[f32], weights: &[f32], outputs: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; outputs];
    for (xi, row) in x.iter().zip(weights.chunks_exact(outputs)) {
        out.iter_mut().zip(row).for_each(|(o, w)| *o += xi * w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution from the definition, the reference for the im2col + GEMM path.
    fn reference(conv: &Conv, input: &Map) -> Map {
        let (k, s, p) = (conv.kernel, conv.stride, conv.padding);
        let oh = out_side(input.height, k, s, p).unwrap();
        let ow = out_side(input.width, k, s, p).unwrap();
        let mut out = Map::zeros(conv.filters, oh, ow);
        for o in 0..conv.filters {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = conv.bias[o] as f64;
                    for c in 0..conv.inputs {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * s + ky) as isize - p as isize;
                                let ix = (ox * s + kx) as isize - p as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= input.height as isize
                                    || ix >= input.width as isize
                                {
                                    continue;
                                }
                                let v = input.data
                                    [(c * input.height + iy as usize) * input.width + ix as usize];
                                let wt = conv.weights[((o * conv.inputs + c) * k + ky) * k + kx];
                                acc += f64::from(v) * f64::from(wt);
                            }
                        }
                    }
                    out.data[(o * oh + oy) * ow + ox] = acc as f32;
                }
            }
        }
        out
    }

    /// Deterministic values in [-1, 1) (a linear congruential sequence).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn im2col_gemm_matches_the_direct_definition() {
        // Kernels, strides and paddings of the face network, on odd and even sides.
        for (k, s, p, h, w) in [
            (7, 2, 0, 19, 20),
            (3, 1, 1, 9, 8),
            (3, 2, 0, 9, 8),
            (3, 2, 0, 4, 4),
            (3, 1, 1, 1, 1),
            (3, 2, 1, 6, 7),
        ] {
            let (cin, cout) = (3, 5);
            let conv = Conv {
                filters: cout,
                inputs: cin,
                kernel: k,
                stride: s,
                padding: p,
                weights: values(cout * cin * k * k, 1),
                bias: values(cout, 2),
            };
            let input = Map {
                channels: cin,
                height: h,
                width: w,
                data: values(cin * h * w, 3),
            };
            let mut cols = vec![];
            let got = conv.forward(&input, &mut cols).unwrap();
            let want = reference(&conv, &input);
            assert_eq!((got.height, got.width), (want.height, want.width));
            for (g, r) in got.data.iter().zip(&want.data) {
                assert!((g - r).abs() < 1e-5, "k{k} s{s} p{p} {h}x{w}: {g} vs {r}");
            }
        }
        let too_small = Map::zeros(1, 2, 2);
        let conv = Conv {
            filters: 1,
            inputs: 1,
            kernel: 3,
            stride: 1,
            padding: 0,
            weights: vec![0.0; 9],
            bias: vec![0.0],
        };
        assert!(conv.forward(&too_small, &mut vec![]).is_none());
    }

    #[test]
    fn folding_an_affine_layer_equals_applying_it_after() {
        let mut conv = Conv {
            filters: 2,
            inputs: 1,
            kernel: 3,
            stride: 1,
            padding: 1,
            weights: values(18, 4),
            bias: values(2, 5),
        };
        let input = Map {
            channels: 1,
            height: 4,
            width: 5,
            data: values(20, 6),
        };
        let before = conv.forward(&input, &mut vec![]).unwrap();
        conv.fold_affine(&[2.0, -0.5], &[0.25, 1.0]);
        let after = conv.forward(&input, &mut vec![]).unwrap();
        for (i, (b, a)) in before.data.iter().zip(&after.data).enumerate() {
            let want = if i < 20 {
                b * 2.0 + 0.25
            } else {
                b * -0.5 + 1.0
            };
            assert!((a - want).abs() < 1e-5);
        }
    }

    #[test]
    fn pooling_adding_and_the_dense_layer() {
        let m = Map {
            channels: 1,
            height: 4,
            width: 5,
            data: (0..20).map(|v| v as f32).collect(),
        };
        let maxed = pool(&m, 3, 2, true).unwrap();
        assert_eq!((maxed.height, maxed.width), (1, 2));
        assert_eq!(maxed.data, vec![12.0, 14.0]);
        let avg = pool(&m, 2, 2, false).unwrap();
        assert_eq!((avg.height, avg.width), (2, 2));
        assert_eq!(avg.data, vec![3.0, 5.0, 13.0, 15.0]);
        assert!(pool(&Map::zeros(1, 1, 1), 2, 2, true).is_none());
        assert_eq!(global_average(&m), vec![9.5]);

        let small = Map {
            channels: 1,
            height: 1,
            width: 2,
            data: vec![1.0, 2.0],
        };
        let big = Map {
            channels: 2,
            height: 2,
            width: 2,
            data: vec![10.0; 8],
        };
        let sum = add_padded(&small, &big);
        assert_eq!(
            sum.data,
            vec![11.0, 12.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]
        );
        assert_eq!(add_padded(&big, &small), sum);

        let mut r = small.clone();
        r.data[0] = -1.0;
        relu(&mut r);
        assert_eq!(r.data, vec![0.0, 2.0]);

        // x = [1, 2], weights 2 x 3.
        let out = fully_connected(&[1.0, 2.0], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3);
        assert_eq!(out, vec![9.0, 12.0, 15.0]);
    }
}
