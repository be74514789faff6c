//! Operators of our own for tract, and what teaches tract-onnx to read them.
//!
//! tract runs LEADER's channel LayerNorms as the fourteen elementwise and reduction nodes
//! tf2onnx wrote ([`crate::rewrite`] explains how they are found). [`ChannelLayerNorm`] is the
//! same function as one operator; the load-time rewrite writes it into the ONNX graph as an
//! `AbisChannelLayerNorm` node, which [`register`] teaches tract-onnx's parser, and the op
//! follows tract's layout changes like its own normalisation ops do. [`PointwiseMlp`] runs a
//! 1x1 convolution pair over tiles of pixels, and [`Gelu`] is the one-pass GELU both use.

mod gelu;
mod kernel;
mod layer_norm;
mod pointwise_mlp;

pub use gelu::{gelu_in_place, Gelu};
pub use layer_norm::{ChannelLayerNorm, ONNX_OP as CHANNEL_LAYER_NORM};
pub use pointwise_mlp::{tile_model, PointwiseMlp, ONNX_OP as POINTWISE_MLP, TILE};

/// Adds our operators to tract-onnx's operator table.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register
        .insert(layer_norm::ONNX_OP, layer_norm::onnx_builder);
    onnx.op_register
        .insert(pointwise_mlp::ONNX_OP, pointwise_mlp::onnx_builder);
}
