//! A 1x1 `Conv`, the tanh `Gelu` and another 1x1 `Conv` (LEADER's expand / reduce pairs) ->
//! one `AbisPointwiseMlp` ([`crate::ops::PointwiseMlp`]), run over tiles of pixels.
//!
//! Both convolutions must be plain 1x1 ones (stride 1, dilation 1, one group, no padding) with
//! constant weights and biases, and the values between them read by nothing else. Runs after
//! [`super::fuse_gelu`], which writes the `Gelu`.

use super::{splice, Index};
use crate::error::{ExtractError, Result};
use crate::ops::POINTWISE_MLP;
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{tensor_proto::DataType, GraphProto, NodeProto};

/// Replaces every 1x1 Conv -> Gelu -> 1x1 Conv chain of `graph` by one node; returns how many.
pub fn fuse_pointwise_mlp(graph: &mut GraphProto) -> Result<usize> {
    let ix = Index::new(graph);
    let found: Vec<[usize; 3]> = (0..graph.node.len())
        .filter_map(|first| chain_at(&ix, first))
        .collect();
    let mut removed = HashSet::new();
    let mut replaced = HashMap::new();
    for nodes in &found {
        if !nodes.iter().all(|&n| removed.insert(n)) {
            return Err(ExtractError::DataCorruption(
                "two 1x1 convolution pairs share nodes".into(),
            ));
        }
        let (first, last) = (&graph.node[nodes[0]], &graph.node[nodes[2]]);
        let mut input = first.input.clone();
        input.extend(last.input[1..].iter().cloned());
        replaced.insert(
            nodes[2],
            vec![NodeProto {
                name: format!("{}__abis_pointwise_mlp", last.name),
                op_type: POINTWISE_MLP.into(),
                input,
                output: last.output.clone(),
                ..Default::default()
            }],
        );
    }
    splice(graph, &removed, replaced);
    Ok(found.len())
}

/// Whether node `i` is a 1x1 Conv with constant float weights `[out, in, 1, 1]` and bias.
fn pointwise_conv(ix: &Index<'_>, i: usize) -> Option<(i64, i64)> {
    if !ix.is(i, "Conv") {
        return None;
    }
    let node = ix.node(i);
    let [_, w, b] = node.input.as_slice() else {
        return None;
    };
    let w = ix.initializers.get(w.as_str())?;
    let b = ix.initializers.get(b.as_str())?;
    let float = DataType::Float as i32;
    let [out, inputs, 1, 1] = w.dims[..] else {
        return None;
    };
    if w.data_type != float || b.data_type != float || b.dims != [out] {
        return None;
    }
    let all = |name: &str, value: i64| {
        ix.ints_attr(i, name)
            .is_none_or(|v| v.iter().all(|&x| x == value))
    };
    let group = node
        .attribute
        .iter()
        .find(|a| a.name == "group")
        .map_or(1, |a| a.i);
    let plain = all("strides", 1)
        && all("dilations", 1)
        && all("pads", 0)
        && ix.ints_attr(i, "kernel_shape").is_none_or(|k| k == [1, 1])
        && group == 1;
    plain.then_some((out, inputs))
}

fn chain_at(ix: &Index<'_>, first: usize) -> Option<[usize; 3]> {
    let (hidden, _) = pointwise_conv(ix, first)?;
    let gelu = ix.only_reader(first, "Gelu")?;
    let tanh = ix
        .node(gelu)
        .attribute
        .iter()
        .any(|a| a.name == "approximate" && a.s == b"tanh");
    let second = ix.only_reader(gelu, "Conv")?;
    let (_, second_in) = pointwise_conv(ix, second)?;
    let reads_gelu = ix.node(second).input.first() == ix.node(gelu).output.first();
    (tanh && reads_gelu && second_in == hidden).then_some([first, gelu, second])
}
