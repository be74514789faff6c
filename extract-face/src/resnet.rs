//! dlib's ResNet face descriptor ("dlib_face_recognition_resnet_model_v1"): a 150 x 150 RGB
//! chip in, 128 floats out.
//!
//! The network is dlib's `anet_type` (`dnn_face_recognition_ex.cpp`), a ResNet-34 with fewer
//! filters per layer, at test time (batch normalisation as fixed per-channel `affine_` layers):
//!
//! ```text
//! input 150x150 RGB, (value - channel mean) / 256
//! con 32 7x7 stride 2 -> affine -> relu -> max_pool 3x3 stride 2        72x72, then 35x35
//! 3 x ares<32>                                                          35x35
//! ares_down<64>,  3 x ares<64>                                          17x17
//! ares_down<128>, 2 x ares<128>                                         8x8
//! ares_down<256>, 2 x ares<256>                                         4x4
//! ares_down<256>                                                        2x2
//! avg_pool_everything -> fc_no_bias 128
//! ares<N>      = relu(x + affine(con3x3(relu(affine(con3x3(x))))))
//! ares_down<N> = relu(avg_pool2x2/2(x) + affine(con3x3(relu(affine(con3x3/2(x))))))
//! ```
//!
//! dlib's defaults give a strided convolution no padding and a stride-1 3x3 convolution a
//! padding of 1. Where the two paths of a down block differ in size (8x8 input: 3x3 through the
//! convolutions, 4x4 through the pooling) or in channels, dlib's `add_prev_` adds them on the
//! larger extent, the smaller read as zero there; [`crate::conv::add_padded`] does the same.
//!
//! dlib writes a network outermost layer first, each layer's nesting header before the layer
//! below it, so the file holds: the loss layer, the version of every layer from the outside in,
//! the input layer, then every layer's parameters from the inside out. [`FaceNet::from_bytes`]
//! walks that order against the expected layer list, checking every tag, version and shape.

use crate::conv::{self, Conv, Map};
use crate::dlib::Reader;
use crate::{models, FaceError, Result};
use std::path::Path;

/// Side of the square chip the network takes, in pixels.
pub const CHIP_SIZE: usize = 150;

/// Length of the face descriptor.
pub const DESCRIPTOR_DIM: usize = 128;

/// Largest model file read (the published one is 22 MB).
const MAX_MODEL_BYTES: u64 = 64 << 20;

/// The layers of `anet_type`, innermost first, as the file nests them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    /// `con_`: filters, kernel side, stride, padding.
    Con {
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    /// `affine_` in convolutional mode.
    Affine,
    /// `relu_`.
    Relu,
    /// `max_pool_`: window side and stride (no padding).
    MaxPool { size: usize, stride: usize },
    /// `avg_pool_`: window side and stride (no padding).
    AvgPool { size: usize, stride: usize },
    /// `avg_pool_everything`.
    AvgPoolAll,
    /// `fc_no_bias`.
    Fc { outputs: usize },
    /// `tagN`: remembers its input.
    Tag(u8),
    /// `skipN`: continues from the input of the last `tagN`.
    Skip(u8),
    /// `add_prevN`: adds the input of the last `tagN`.
    AddPrev(u8),
}

impl Layer {
    /// Version of the `add_layer` / `add_tag_layer` / `add_skip_layer` wrapping it.
    fn version(self) -> i64 {
        match self {
            Layer::Tag(_) | Layer::Skip(_) => 1,
            _ => 2,
        }
    }
}

/// `block<N, affine, stride>` on top of `tag1`, innermost first.
fn block(out: &mut Vec<Layer>, filters: usize, stride: usize) {
    out.extend([
        Layer::Tag(1),
        Layer::Con {
            filters,
            kernel: 3,
            stride,
            padding: if stride == 1 { 1 } else { 0 },
        },
        Layer::Affine,
        Layer::Relu,
        Layer::Con {
            filters,
            kernel: 3,
            stride: 1,
            padding: 1,
        },
        Layer::Affine,
    ]);
}

/// `ares<N>`.
fn ares(out: &mut Vec<Layer>, filters: usize) {
    block(out, filters, 1);
    out.extend([Layer::AddPrev(1), Layer::Relu]);
}

/// `ares_down<N>`.
fn ares_down(out: &mut Vec<Layer>, filters: usize) {
    block(out, filters, 2);
    out.extend([
        Layer::Tag(2),
        Layer::Skip(1),
        Layer::AvgPool { size: 2, stride: 2 },
        Layer::AddPrev(2),
        Layer::Relu,
    ]);
}

/// Every layer of `anet_type` between the input and the loss, innermost first.
fn anet_layers() -> Vec<Layer> {
    let mut l = vec![
        Layer::Con {
            filters: 32,
            kernel: 7,
            stride: 2,
            padding: 0,
        },
        Layer::Affine,
        Layer::Relu,
        Layer::MaxPool { size: 3, stride: 2 },
    ];
    (0..3).for_each(|_| ares(&mut l, 32));
    for (filters, plain) in [(64, 3), (128, 2), (256, 2)] {
        ares_down(&mut l, filters);
        (0..plain).for_each(|_| ares(&mut l, filters));
    }
    ares_down(&mut l, 256);
    l.extend([Layer::AvgPoolAll, Layer::Fc { outputs: 128 }]);
    l
}

/// One step of the forward pass.
#[derive(Debug, Clone)]
enum Op {
    /// Convolution with its affine layer folded in.
    Conv(Conv),
    Relu,
    MaxPool {
        size: usize,
        stride: usize,
    },
    AvgPool {
        size: usize,
        stride: usize,
    },
    /// The mean of each channel.
    GlobalAverage,
    /// The dense layer (`inputs x outputs` weights), the last step.
    Fc {
        weights: Vec<f32>,
        outputs: usize,
    },
    Tag(u8),
    Skip(u8),
    AddPrev(u8),
}

/// dlib's ResNet face descriptor, loaded and ready to run. Immutable; share it between threads.
#[derive(Debug, Clone)]
pub struct FaceNet {
    /// Per-channel means subtracted from R, G, B.
    mean: [f32; 3],
    ops: Vec<Op>,
    /// The loss layer's distance threshold (0.6 for the published model).
    threshold: f32,
}

impl FaceNet {
    /// Loads the network from `path` (`dlib_face_recognition_resnet_model_v1.dat`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&models::read_model(path.as_ref(), MAX_MODEL_BYTES)?)
    }

    /// Loads the network from the models folder ([`crate::default_resnet_path`]); a missing
    /// file is [`FaceError::ModelMissing`], whose message names the command that fetches it.
    pub fn load_default() -> Result<Self> {
        let path = models::default_resnet_path().ok_or(FaceError::NoModelsDir)?;
        Self::load(path)
    }

    /// Reads the network from the bytes of its `.dat` file, refusing anything but the layer
    /// list and shapes of `anet_type`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        r.expect_int("loss layer version", 1)?;
        r.expect_str("loss_metric_2")?;
        let _margin = r.f32()?;
        let threshold = r.f32()?;

        let layers = anet_layers();
        // Nesting headers, outermost first; the innermost (input + first layer) is version 3.
        for layer in layers[1..].iter().rev() {
            r.expect_int("layer version", layer.version())?;
        }
        r.expect_int("input layer version", 3)?;
        r.expect_str("input_rgb_image_sized")?;
        let mean = [r.f32()?, r.f32()?, r.f32()?];
        for what in ["input rows", "input columns"] {
            r.expect_int(what, CHIP_SIZE as i64)?;
        }

        let mut ops: Vec<Op> = Vec::with_capacity(layers.len());
        let mut channels = 3;
        for (i, &layer) in layers.iter().enumerate() {
            match layer {
                Layer::Tag(n) => ops.push(Op::Tag(n)),
                Layer::Skip(n) => ops.push(Op::Skip(n)),
                Layer::Affine => {
                    let (scale, shift) = read_affine(&mut r, channels)?;
                    match ops.last_mut() {
                        Some(Op::Conv(c)) => c.fold_affine(&scale, &shift),
                        _ => return Err(r.error("affine layer not after a convolution")),
                    }
                }
                other => {
                    ops.push(read_layer(&mut r, other, &mut channels)?);
                }
            }
            if layer.version() == 2 {
                read_layer_state(&mut r, i == 0)?;
            }
        }
        if !r.is_at_end() {
            return Err(r.error(format!("{} bytes after the last layer", r.remaining())));
        }
        Ok(FaceNet {
            mean,
            ops,
            threshold,
        })
    }

    /// The distance under which dlib's training put two chips of the same person (Euclidean,
    /// between unnormalised descriptors).
    pub fn distance_threshold(&self) -> f32 {
        self.threshold
    }

    /// The 128-d descriptor of a `CHIP_SIZE x CHIP_SIZE` chip given as interleaved R, G, B
    /// bytes, row by row (not normalised; abis's engine L2-normalises face templates).
    pub fn descriptor(&self, rgb: &[u8]) -> Result<[f32; DESCRIPTOR_DIM]> {
        let pixels = CHIP_SIZE * CHIP_SIZE;
        if rgb.len() != pixels * 3 {
            return Err(FaceError::InvalidInput(format!(
                "a face chip is {CHIP_SIZE} x {CHIP_SIZE} RGB ({} bytes), got {} bytes",
                pixels * 3,
                rgb.len()
            )));
        }
        let mut x = Map::zeros(3, CHIP_SIZE, CHIP_SIZE);
        for (c, plane) in x.data.chunks_exact_mut(pixels).enumerate() {
            for (v, px) in plane.iter_mut().zip(rgb.chunks_exact(3)) {
                *v = (f32::from(px[c]) - self.mean[c]) / 256.0;
            }
        }
        let out = self.run(x);
        out.try_into()
            .map_err(|_| FaceError::InvalidInput("network output is not 128 values".into()))
    }

    /// The forward pass. The loader checked every shape, so each layer fits its input.
    fn run(&self, mut x: Map) -> Vec<f32> {
        let mut tags: [Option<Map>; 2] = [None, None];
        let mut cols = Vec::new();
        for op in &self.ops {
            x = match op {
                Op::Conv(c) => c.forward(&x, &mut cols).expect("checked at load"),
                Op::Relu => {
                    conv::relu(&mut x);
                    x
                }
                Op::MaxPool { size, stride } => {
                    conv::pool(&x, *size, *stride, true).expect("checked at load")
                }
                Op::AvgPool { size, stride } => {
                    conv::pool(&x, *size, *stride, false).expect("checked at load")
                }
                Op::GlobalAverage => Map {
                    channels: x.channels,
                    height: 1,
                    width: 1,
                    data: conv::global_average(&x),
                },
                Op::Fc { weights, outputs } => {
                    return conv::fully_connected(&x.data, weights, *outputs);
                }
                Op::Tag(n) => {
                    tags[usize::from(*n - 1)] = Some(x.clone());
                    x
                }
                Op::Skip(n) => tags[usize::from(*n - 1)].clone().expect("tag before skip"),
                Op::AddPrev(n) => {
                    conv::add_padded(&x, tags[usize::from(*n - 1)].as_ref().expect("tag set"))
                }
            };
        }
        unreachable!("the layer list ends with the dense head")
    }
}

/// The parameters of one computing layer (not `affine_`, tags or skips), checked against what
/// `anet_type` has there; `channels` is the input depth, updated to the output depth.
fn read_layer(r: &mut Reader<'_>, layer: Layer, channels: &mut usize) -> Result<Op> {
    Ok(match layer {
        Layer::Con {
            filters,
            kernel,
            stride,
            padding,
        } => {
            let conv = read_con(r, *channels, filters, kernel, stride, padding)?;
            *channels = filters;
            Op::Conv(conv)
        }
        Layer::Relu => {
            r.expect_str("relu_")?;
            Op::Relu
        }
        Layer::AddPrev(n) => {
            r.expect_str("add_prev_")?;
            Op::AddPrev(n)
        }
        Layer::MaxPool { size, stride } => {
            r.expect_str("max_pool_2")?;
            read_pool(r, size, stride)?;
            Op::MaxPool { size, stride }
        }
        Layer::AvgPool { size, stride } => {
            r.expect_str("avg_pool_2")?;
            read_pool(r, size, stride)?;
            Op::AvgPool { size, stride }
        }
        Layer::AvgPoolAll => {
            r.expect_str("avg_pool_2")?;
            read_pool(r, 0, 1)?;
            Op::GlobalAverage
        }
        Layer::Fc { outputs } => {
            let weights = read_fc(r, *channels, outputs)?;
            *channels = outputs;
            Op::Fc { weights, outputs }
        }
        Layer::Affine | Layer::Tag(_) | Layer::Skip(_) => {
            unreachable!("handled by the caller")
        }
    })
}

/// `con_4`: the parameters tensor holds the filters (`filters x inputs x k x k`) then the biases.
fn read_con(
    r: &mut Reader<'_>,
    inputs: usize,
    filters: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Conv> {
    r.expect_str("con_4")?;
    let params = r.tensor()?;
    let n_weights = filters * inputs * kernel * kernel;
    expect_shape(
        r,
        "convolution parameters",
        params.shape,
        [n_weights + filters, 1, 1, 1],
    )?;
    r.expect_int("filters", filters as i64)?;
    for (what, v) in [
        ("kernel rows", kernel),
        ("kernel columns", kernel),
        ("vertical stride", stride),
        ("horizontal stride", stride),
        ("vertical padding", padding),
        ("horizontal padding", padding),
    ] {
        r.expect_int(what, v as i64)?;
    }
    let f = r.alias_tensor()?;
    expect_shape(r, "filter shape", f, [filters, inputs, kernel, kernel])?;
    let b = r.alias_tensor()?;
    expect_shape(r, "bias shape", b, [1, filters, 1, 1])?;
    read_multipliers(r)?;
    let mut weights = params.data;
    let bias = weights.split_off(n_weights);
    Ok(Conv {
        filters,
        inputs,
        kernel,
        stride,
        padding,
        weights,
        bias,
    })
}

/// `affine_` in convolutional mode: per-channel scale (gamma) and shift (beta).
fn read_affine(r: &mut Reader<'_>, channels: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    r.expect_str("affine_")?;
    let params = r.tensor()?;
    expect_shape(
        r,
        "affine parameters",
        params.shape,
        [2 * channels, 1, 1, 1],
    )?;
    for what in ["gamma shape", "beta shape"] {
        let s = r.alias_tensor()?;
        expect_shape(r, what, s, [1, channels, 1, 1])?;
    }
    r.expect_int("affine mode (0: convolutional)", 0)?;
    let mut scale = params.data;
    let shift = scale.split_off(channels);
    Ok((scale, shift))
}

/// `max_pool_2` / `avg_pool_2` geometry: window rows, columns, strides, no padding.
fn read_pool(r: &mut Reader<'_>, size: usize, stride: usize) -> Result<()> {
    for (what, v) in [
        ("pool rows", size),
        ("pool columns", size),
        ("pool vertical stride", stride),
        ("pool horizontal stride", stride),
        ("pool vertical padding", 0),
        ("pool horizontal padding", 0),
    ] {
        r.expect_int(what, v as i64)?;
    }
    Ok(())
}

/// `fc_2` without bias: weights `inputs x outputs`.
fn read_fc(r: &mut Reader<'_>, inputs: usize, outputs: usize) -> Result<Vec<f32>> {
    r.expect_str("fc_2")?;
    r.expect_int("outputs", outputs as i64)?;
    r.expect_int("inputs", inputs as i64)?;
    let params = r.tensor()?;
    expect_shape(r, "dense parameters", params.shape, [inputs, outputs, 1, 1])?;
    let w = r.alias_tensor()?;
    expect_shape(r, "dense weights", w, [inputs, outputs, 1, 1])?;
    let b = r.alias_tensor()?;
    expect_shape(r, "dense bias (none)", b, [0, 0, 0, 0])?;
    r.expect_int("bias mode (1: no bias)", 1)?;
    read_multipliers(r)?;
    Ok(params.data)
}

/// The learning-rate and weight-decay multipliers (weights and bias), unused at test time.
fn read_multipliers(r: &mut Reader<'_>) -> Result<()> {
    for _ in 0..4 {
        r.f64()?;
    }
    Ok(())
}

/// What `add_layer` writes after its layer: three flags and three tensors of training state
/// (gradients, cached output), plus the sample expansion factor for the innermost one.
fn read_layer_state(r: &mut Reader<'_>, innermost: bool) -> Result<()> {
    for _ in 0..3 {
        r.bool()?;
    }
    for _ in 0..3 {
        r.tensor()?;
    }
    if innermost {
        r.expect_int("sample expansion factor", 1)?;
    }
    Ok(())
}

fn expect_shape(r: &Reader<'_>, what: &str, got: [usize; 4], want: [usize; 4]) -> Result<()> {
    if got != want {
        return Err(r.error(format!("{what} is {got:?}, expected {want:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_list_is_anet_type() {
        let l = anet_layers();
        let count = |f: fn(&Layer) -> bool| l.iter().filter(|x| f(x)).count();
        assert_eq!(count(|x| matches!(x, Layer::Con { .. })), 29);
        assert_eq!(count(|x| matches!(x, Layer::Affine)), 29);
        assert_eq!(count(|x| matches!(x, Layer::Relu)), 29);
        assert_eq!(count(|x| matches!(x, Layer::AddPrev(_))), 14);
        assert_eq!(count(|x| matches!(x, Layer::AvgPool { .. })), 4);
        // The published file nests 130 headers below the loss layer (the input's included).
        assert_eq!(l.len(), 130);
    }

    #[test]
    fn garbage_and_wrong_chips_are_refused() {
        for bad in [&b""[..], b"\x01\x01", b"\x01\x01\x01\x0dloss_metric_2"] {
            assert!(matches!(
                FaceNet::from_bytes(bad),
                Err(FaceError::DataCorruption { .. })
            ));
        }
    }
}
