//! `ChannelLayerNorm`: Keras' `LayerNormalization` over one axis (LEADER's channels), optionally
//! followed by the tanh GELU, as one tract operator.
//!
//! tract keeps the fourteen nodes tf2onnx writes for it (two `ReduceMean`s, `Sub`, `Mul`, `Add`,
//! `Sqrt`, `Reciprocal`, four `Mul`s, two `Add`s) as seven full-size passes over an NCHW tensor,
//! two of them reductions along the strided channel axis: a quarter of LEADER's run time. This
//! operator does it in one read-modify-write pass per block of pixels ([`super::kernel`]); with
//! `gelu` it also applies the GELU ([`super::gelu`], tract's function)  to the block while it is in cache.

use super::gelu::gelu_in_place;
use super::kernel::{normalise, Norm};
use abis_matchers::SimdLevel;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_hir::internal::{
    check_input_arity, check_output_arity, expand, Expansion, InferenceOp, InferenceResult, Solver,
    TensorProxy,
};

/// The ONNX operator type the load-time rewrite writes ([`crate::rewrite`]); only our loader
/// knows it.
pub const ONNX_OP: &str = "AbisChannelLayerNorm";

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` across `axis`, then `gelu(y)` when `gelu`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelLayerNorm {
    /// The normalised axis.
    pub axis: usize,
    /// Added to the variance.
    pub eps: f32,
    /// One scale per channel (rank 1, f32).
    pub gamma: Arc<Tensor>,
    /// One shift per channel (rank 1, f32).
    pub beta: Arc<Tensor>,
    /// Whether the tanh GELU follows.
    pub gelu: bool,
}

// tract's `DynEq` needs `Eq`; `eps` is never NaN (the rewrite reads it from a finite constant).
impl Eq for ChannelLayerNorm {}

impl Op for ChannelLayerNorm {
    fn name(&self) -> StaticName {
        "ChannelLayerNorm".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "axis: {}, eps: {}, channels: {}, gelu: {}",
            self.axis,
            self.eps,
            self.gamma.len(),
            self.gelu
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelLayerNorm {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        ensure!(
            input.datum_type() == f32::datum_type(),
            "ChannelLayerNorm runs on f32, got {:?}",
            input.datum_type()
        );
        ensure!(
            input.shape().get(self.axis) == Some(&self.gamma.len()),
            "ChannelLayerNorm: {} channels for a tensor of shape {:?} along axis {}",
            self.gamma.len(),
            input.shape(),
            self.axis
        );
        // In place: the input is usually this node's alone (then this does not copy).
        let mut tensor = input.into_tensor();
        let inner: usize = tensor.shape()[self.axis + 1..].iter().product();
        let norm = Norm {
            gamma: self.gamma.try_as_plain_ram()?.as_slice::<f32>()?,
            beta: self.beta.try_as_plain_ram()?.as_slice::<f32>()?,
            eps: self.eps,
        };
        let mut view = tensor.try_as_plain_ram_mut()?;
        let data = view.as_slice_mut::<f32>()?;
        if self.gelu {
            let level = SimdLevel::get();
            normalise::<TractError>(level, data, inner, norm, &mut |row| {
                gelu_in_place(level, row);
                Ok(())
            })?;
        } else {
            normalise::<TractError>(SimdLevel::get(), data, inner, norm, &mut |_| Ok(()))?;
        }
        Ok(tvec![tensor.into_tvalue()])
    }
}

impl TypedOp for ChannelLayerNorm {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        ensure!(input.datum_type == f32::datum_type());
        ensure!(self.axis < input.rank());
        ensure!(self.gamma.rank() == 1 && self.gamma.len() == self.beta.len());
        if let Ok(channels) = input.shape[self.axis].to_usize() {
            ensure!(
                channels == self.gamma.len(),
                "ChannelLayerNorm: {} channels, gamma has {}",
                channels,
                self.gamma.len()
            );
        }
        Ok(tvec!(f32::fact(input.shape.clone())))
    }

    fn axes_mapping(
        &self,
        inputs: &[&TypedFact],
        _outputs: &[&TypedFact],
    ) -> TractResult<AxesMapping> {
        // Every axis goes through unchanged; the normalised one must not be sliced (`slice`
        // below is the default: no).
        let mut letters = 'a'..;
        let axes = (0..inputs[0].rank())
            .map(|ix| {
                Axis::new(letters.next().unwrap(), 1, 1)
                    .input(0, ix)
                    .output(0, ix)
            })
            .collect::<Vec<_>>();
        AxesMapping::new(1, 1, axes)
    }

    fn change_axes(
        &self,
        model: &TypedModel,
        node: &TypedNode,
        _io: InOut,
        change: &AxisOp,
    ) -> TractResult<Option<AxisChangeConsequence>> {
        // Follows a layout change as long as the normalised axis survives it whole.
        let Some(axis) = change.transform_axis(self.axis) else {
            return Ok(None);
        };
        let op = ChannelLayerNorm {
            axis,
            ..self.clone()
        };
        Ok(Some(AxisChangeConsequence::new(
            model,
            node,
            Some(Box::new(op)),
            change,
        )))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let count: TDim = inputs[0].shape.iter().product();
        let per_value = if self.gelu { 20 } else { 6 };
        Ok(tvec!((Cost::FMA(f32::datum_type()), count * per_value)))
    }

    as_op!();
}

/// The ONNX node `AbisChannelLayerNorm(x, gamma, beta)`, attributes `axis`, `epsilon`, `gelu`
/// (0 or 1), as the rewrite writes it; `gamma` and `beta` must be constants with one value per
/// channel (any shape of that many values, e.g. Keras' `[1, C, 1, 1]`).
#[derive(Debug, Clone)]
struct OnnxChannelLayerNorm {
    axis: usize,
    eps: f32,
    gelu: bool,
}

/// Builds the inference op for an `AbisChannelLayerNorm` node (registered in tract-onnx's op
/// table by [`super::register`]).
pub fn onnx_builder(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axis: usize = node.get_attr("axis")?;
    let eps: f32 = node.get_attr("epsilon")?;
    let gelu: i64 = node.get_attr_opt("gelu")?.unwrap_or(0);
    ensure!(gelu == 0 || gelu == 1, "gelu must be 0 or 1");
    Ok((
        expand(OnnxChannelLayerNorm {
            axis,
            eps,
            gelu: gelu == 1,
        }),
        vec![],
    ))
}

impl Expansion for OnnxChannelLayerNorm {
    fn name(&self) -> StaticName {
        ONNX_OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let constant = |outlet: OutletId, what: &str| -> TractResult<Arc<Tensor>> {
            let fact = model.outlet_fact(outlet)?;
            let Some(value) = fact.konst.as_ref() else {
                bail!("{ONNX_OP}: {what} is not a constant");
            };
            let len = value.len();
            Ok(value
                .cast_to::<f32>()?
                .into_owned()
                .into_shape(&[len])?
                .into_arc_tensor())
        };
        let op = ChannelLayerNorm {
            axis: self.axis,
            eps: self.eps,
            gamma: constant(inputs[1], "gamma")?,
            beta: constant(inputs[2], "beta")?,
            gelu: self.gelu,
        };
        model.wire_node(prefix, op, &inputs[..1])
    }
}
