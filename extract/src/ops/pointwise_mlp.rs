//! `PointwiseMlp`: a 1x1 convolution, the tanh GELU and another 1x1 convolution (the expand /
//! reduce pair of LEADER's inverted-bottleneck blocks), run over tiles of pixels.
//!
//! As three tract nodes, each writes or reads the expanded tensor (four times the channels,
//! 40 MB at 192 x 208 pixels) in memory, and the second convolution first packs it, reading 200+
//! strided rows at once: half the time of these blocks went to moving it. Here the same three
//! operations run as a small tract plan (tract's matrix kernels and our one-pass GELU,
//! [`super::gelu`], optimised once for the tile) on [`TILE`] pixels at a time, so the expanded
//! tile stays in cache.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math::add;
use tract_onnx::tract_hir::internal::{
    check_input_arity, check_output_arity, expand, Expansion, InferenceOp, InferenceResult, Solver,
    TensorProxy,
};

/// The ONNX operator type the load-time rewrite writes; only our loader knows it.
pub const ONNX_OP: &str = "AbisPointwiseMlp";

/// Pixels per tile: the expanded tile (up to 256 channels) stays within 512 KiB.
pub const TILE: usize = 512;

/// `conv2(gelu(conv1(x)))` for 1x1 convolutions on an NCHW tensor.
#[derive(Clone, Debug)]
pub struct PointwiseMlp {
    /// Input and output channels.
    pub channels: (usize, usize),
    /// The weights, kept for equality and display.
    weights: Arc<Tensor>,
    /// The plan for one tile: `[in channels, TILE]` -> `[out channels, TILE]`.
    plan: Arc<TypedSimplePlan>,
}

impl PartialEq for PointwiseMlp {
    fn eq(&self, other: &Self) -> bool {
        self.channels == other.channels && self.weights == other.weights
    }
}
impl Eq for PointwiseMlp {}

impl PointwiseMlp {
    /// From the convolutions' weights (`[hidden, in, 1, 1]`, `[out, hidden, 1, 1]`) and biases.
    pub fn new(w1: &Tensor, b1: &Tensor, w2: &Tensor, b2: &Tensor) -> TractResult<Self> {
        let (hidden, inputs) = match w1.shape() {
            [h, i, 1, 1] => (*h, *i),
            other => bail!("{ONNX_OP}: first weights of shape {other:?}"),
        };
        let outputs = match w2.shape() {
            [o, h, 1, 1] if *h == hidden => *o,
            other => bail!("{ONNX_OP}: second weights of shape {other:?}"),
        };
        ensure!(
            b1.len() == hidden && b2.len() == outputs,
            "{ONNX_OP}: bias sizes"
        );
        let f32s = |t: &Tensor, shape: &[usize]| -> TractResult<Tensor> {
            t.cast_to::<f32>()?.into_owned().into_shape(shape)
        };
        let layers = [
            (f32s(w1, &[hidden, inputs])?, f32s(b1, &[hidden, 1])?),
            (f32s(w2, &[outputs, hidden])?, f32s(b2, &[outputs, 1])?),
        ];
        let plan = tile_model(layers, TILE)?
            .into_optimized()?
            .into_runnable()?;
        let weights = Tensor::stack_tensors(
            0,
            &[
                f32s(w1, &[hidden * inputs])?,
                f32s(w2, &[outputs * hidden])?,
            ],
        )?
        .into_arc_tensor();
        Ok(PointwiseMlp {
            channels: (inputs, outputs),
            weights,
            plan,
        })
    }
}

impl Op for PointwiseMlp {
    fn name(&self) -> StaticName {
        "PointwiseMlp".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "channels {} -> {}, tiles of {TILE} pixels",
            self.channels.0, self.channels.1
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for PointwiseMlp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (cin, cout) = self.channels;
        let &[batch, c, h, w] = input.shape() else {
            bail!("{ONNX_OP}: input of shape {:?}", input.shape());
        };
        ensure!(c == cin, "{ONNX_OP}: {c} channels, expected {cin}");
        let pixels = h * w;
        let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
        let mut output = Tensor::zero::<f32>(&[batch, cout, h, w])?;
        let mut out_view = output.try_as_plain_ram_mut()?;
        let out = out_view.as_slice_mut::<f32>()?;
        let mut state = self.plan.spawn()?;
        for n in 0..batch {
            let mut start = 0;
            while start < pixels {
                let width = TILE.min(pixels - start);
                let mut tile = Tensor::zero::<f32>(&[cin, TILE])?;
                {
                    let mut view = tile.try_as_plain_ram_mut()?;
                    let tile = view.as_slice_mut::<f32>()?;
                    for ch in 0..cin {
                        let from = (n * cin + ch) * pixels + start;
                        tile[ch * TILE..ch * TILE + width].copy_from_slice(&x[from..from + width]);
                    }
                }
                let result = state.run(tvec![tile.into_tvalue()])?.remove(0);
                let result = result.try_as_plain_ram()?.as_slice::<f32>()?;
                for ch in 0..cout {
                    let to = (n * cout + ch) * pixels + start;
                    out[to..to + width].copy_from_slice(&result[ch * TILE..ch * TILE + width]);
                }
                start += width;
            }
        }
        Ok(tvec![output.into_tvalue()])
    }
}

impl TypedOp for PointwiseMlp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        ensure!(input.datum_type == f32::datum_type() && input.rank() == 4);
        if let Ok(c) = input.shape[1].to_usize() {
            ensure!(
                c == self.channels.0,
                "{ONNX_OP}: {c} channels, expected {}",
                self.channels.0
            );
        }
        let mut shape = input.shape.to_tvec();
        shape[1] = self.channels.1.to_dim();
        Ok(tvec!(f32::fact(shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let pixels: TDim = inputs[0].shape.iter().product::<TDim>() / self.channels.0;
        let per_pixel = self.weights.len() / 2;
        Ok(tvec!((Cost::FMA(f32::datum_type()), pixels * per_pixel)))
    }

    as_op!();
}

/// The ONNX node `AbisPointwiseMlp(x, w1, b1, w2, b2)` as the rewrite writes it; the weights
/// and biases must be constants.
#[derive(Debug, Clone)]
struct OnnxPointwiseMlp;

/// The plan of one tile, unoptimised: `[in channels, tile]` -> `[out channels, tile]`, the
/// first layer's product plus bias, the GELU, the second layer's product plus bias. `layers`
/// holds each layer's weights `[rows, cols]` and bias `[rows, 1]`, as f32.
pub fn tile_model(layers: [(Tensor, Tensor); 2], tile: usize) -> TractResult<TypedModel> {
    let inputs = layers[0].0.shape()[1];
    let mut model = TypedModel::default();
    let mut wire = model.add_source("x", f32::fact([inputs, tile]))?;
    for (i, (w, b)) in layers.into_iter().enumerate() {
        let w = model.add_const(format!("w{i}"), w)?;
        let b = model.add_const(format!("b{i}"), b)?;
        let product = model.wire_node(
            format!("conv{i}"),
            EinSum::new("ik,kj->ij".parse()?, f32::datum_type()),
            &[w, wire],
        )?;
        wire = model.wire_node(format!("bias{i}"), add(), &[product[0], b])?[0];
        if i == 0 {
            wire = model.wire_node("gelu", super::gelu::Gelu, &[wire])?[0];
        }
    }
    model.select_output_outlets(&[wire])?;
    Ok(model)
}

/// Builds the inference op for an `AbisPointwiseMlp` node.
pub fn onnx_builder(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(OnnxPointwiseMlp), vec![]))
}

impl Expansion for OnnxPointwiseMlp {
    fn name(&self) -> StaticName {
        ONNX_OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 5)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[0].shape[0], &outputs[0].shape[0])?;
        s.equals(&inputs[0].shape[2], &outputs[0].shape[2])?;
        s.equals(&inputs[0].shape[3], &outputs[0].shape[3])?;
        s.equals(&inputs[3].shape[0], &outputs[0].shape[1])?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let constant = |i: usize| -> TractResult<Arc<Tensor>> {
            model
                .outlet_fact(inputs[i])?
                .konst
                .clone()
                .with_context(|| format!("{ONNX_OP}: input {i} is not a constant"))
        };
        let (w1, b1, w2, b2) = (constant(1)?, constant(2)?, constant(3)?, constant(4)?);
        let op = PointwiseMlp::new(&w1, &b1, &w2, &b2)?;
        model.wire_node(prefix, op, &inputs[..1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gelu(x: f64) -> f64 {
        0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
    }

    #[test]
    fn tiles_give_the_convolutions_values_on_every_pixel() {
        // 37 x 29 = 1073 pixels: two whole tiles and a part, in two images.
        let (batch, cin, hidden, cout, h, w) = (2, 3, 5, 2, 37, 29);
        let value = |i: usize, scale: f32| ((i * 37 % 23) as f32 - 11.0) * scale;
        let w1: Vec<f32> = (0..hidden * cin).map(|i| value(i, 0.11)).collect();
        let b1: Vec<f32> = (0..hidden).map(|i| value(i + 3, 0.05)).collect();
        let w2: Vec<f32> = (0..cout * hidden).map(|i| value(i + 7, 0.09)).collect();
        let b2: Vec<f32> = (0..cout).map(|i| value(i + 1, 0.02)).collect();
        let op = PointwiseMlp::new(
            &Tensor::from_shape(&[hidden, cin, 1, 1], &w1).unwrap(),
            &tensor1(&b1),
            &Tensor::from_shape(&[cout, hidden, 1, 1], &w2).unwrap(),
            &tensor1(&b2),
        )
        .unwrap();
        let pixels = h * w;
        let x: Vec<f32> = (0..batch * cin * pixels).map(|i| value(i, 0.2)).collect();
        let input = Tensor::from_shape(&[batch, cin, h, w], &x).unwrap();
        let out = op
            .eval(&EvalContext::out_of_plan(), tvec![input.into_tvalue()])
            .unwrap()
            .remove(0);
        assert_eq!(out.shape(), &[batch, cout, h, w]);
        let out = out.try_as_plain_ram().unwrap();
        let out = out.as_slice::<f32>().unwrap();
        for n in 0..batch {
            for p in 0..pixels {
                let hid: Vec<f64> = (0..hidden)
                    .map(|j| {
                        gelu(
                            f64::from(b1[j])
                                + (0..cin)
                                    .map(|c| {
                                        f64::from(w1[j * cin + c])
                                            * f64::from(x[(n * cin + c) * pixels + p])
                                    })
                                    .sum::<f64>(),
                        )
                    })
                    .collect();
                for o in 0..cout {
                    let want = f64::from(b2[o])
                        + (0..hidden)
                            .map(|j| f64::from(w2[o * hidden + j]) * hid[j])
                            .sum::<f64>();
                    let got = f64::from(out[(n * cout + o) * pixels + p]);
                    assert!(
                        (got - want).abs() <= 1e-5,
                        "n {n} p {p} o {o}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
