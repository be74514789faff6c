//! Keras' `LayerNormalization` over the channels as tf2onnx lowers it -> one
//! `AbisChannelLayerNorm` ([`crate::ops::ChannelLayerNorm`]), with the GELU that follows it
//! when there is one.
//!
//! On an NCHW tensor `x` the lowering is
//!
//! ```text
//! mean = ReduceMean(x, axes = [1], keepdims = 1)
//! d    = Sub(x, reshapes(mean))                          // see below
//! var  = ReduceMean(Mul(d, d), axes = [1], keepdims = 1)
//! m    = Mul(Reciprocal(Sqrt(Add(var, eps))), gamma)    // gamma: [1, C, 1, 1]
//! out  = Add(Mul(x, m), Add(Mul(Neg(mean), m), beta))  // beta:  [1, C, 1, 1]
//! ```
//!
//! (binary operands in either order). Between `mean` and the `Sub`, tf2onnx left what remains
//! of transposes of a one-channel tensor: none, a `Reshape(mean, [-1, 1, 0, 0])`, or
//! `Unsqueeze`, `Reshape`, `Squeeze`, `Reshape`. Any chain of those is accepted when following
//! the shapes symbolically (`[N, 1, H, W]` in) gives `[N, 1, H, W]` back: a reshape keeps the
//! order of the values, so the same shape means the same tensor. When `out`'s only reader is a tanh `Gelu` (written by
//! [`super::fuse_gelu`], which runs first), that is folded in too. Every intermediate value
//! must be read only inside the pattern; `x` may have other readers.

use super::{ints_attr, splice, Index};
use crate::error::{ExtractError, Result};
use crate::ops::CHANNEL_LAYER_NORM;
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto};

/// One LayerNorm found.
struct LayerNorm {
    input: String,
    gamma: String,
    beta: String,
    eps: f32,
    /// The nodes it replaces, the one whose output it takes over last.
    nodes: Vec<usize>,
    gelu: bool,
}

/// What [`fuse_layer_norm`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerNormCount {
    /// LayerNorms replaced.
    pub fused: usize,
    /// Of those, how many took the GELU after them in.
    pub with_gelu: usize,
}

/// Replaces every channel LayerNorm of `graph` by one `AbisChannelLayerNorm` node.
pub fn fuse_layer_norm(graph: &mut GraphProto) -> Result<LayerNormCount> {
    let ix = Index::new(graph);
    let found: Vec<LayerNorm> = (0..graph.node.len())
        .filter(|&i| ix.is(i, "ReduceMean"))
        .filter_map(|mean| layer_norm_at(&ix, mean))
        .collect();
    let mut removed = HashSet::new();
    let mut replaced = HashMap::new();
    for norm in &found {
        if !norm.nodes.iter().all(|&n| removed.insert(n)) {
            return Err(ExtractError::DataCorruption(
                "two LayerNorm subgraphs share nodes".into(),
            ));
        }
        let last = *norm.nodes.last().expect("pattern nodes");
        let out = &graph.node[last];
        replaced.insert(
            last,
            vec![NodeProto {
                name: format!("{}__abis_layer_norm", out.name),
                op_type: CHANNEL_LAYER_NORM.into(),
                input: vec![norm.input.clone(), norm.gamma.clone(), norm.beta.clone()],
                output: out.output.clone(),
                attribute: vec![
                    int_attr("axis", 1),
                    AttributeProto {
                        name: "epsilon".into(),
                        r#type: AttributeType::Float as i32,
                        f: norm.eps,
                        ..Default::default()
                    },
                    int_attr("gelu", i64::from(norm.gelu)),
                ],
                ..Default::default()
            }],
        );
    }
    splice(graph, &removed, replaced);
    Ok(LayerNormCount {
        fused: found.len(),
        with_gelu: found.iter().filter(|n| n.gelu).count(),
    })
}

fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        i: value,
        r#type: AttributeType::Int as i32,
        ..ints_attr(name, &[])
    }
}

/// Whether node `i` is a `ReduceMean` over axis 1 that keeps its dimensions.
fn is_channel_mean(ix: &Index<'_>, i: usize) -> bool {
    let keepdims = ix
        .node(i)
        .attribute
        .iter()
        .find(|a| a.name == "keepdims")
        .map_or(1, |a| a.i);
    ix.is(i, "ReduceMean")
        && ix.node(i).input.len() == 1
        && ix.ints_attr(i, "axes") == Some(&[1][..])
        && keepdims == 1
}

/// The operand of binary node `i` that is not `value`, if `value` is one of its two inputs.
fn other_input<'g>(ix: &Index<'g>, i: usize, value: &str) -> Option<&'g str> {
    match ix.node(i).input.as_slice() {
        [a, b] if a == value => Some(b.as_str()),
        [a, b] if b == value => Some(a.as_str()),
        _ => None,
    }
}

/// The number of channels of a `[1, C, 1, 1]` float constant.
fn channel_constant(ix: &Index<'_>, name: &str) -> Option<i64> {
    let t = ix.initializers.get(name)?;
    match t.dims.as_slice() {
        [1, c, 1, 1] if t.data_type == tract_onnx::pb::tensor_proto::DataType::Float as i32 => {
            Some(*c)
        }
        _ => None,
    }
}

/// The LayerNorm whose first `ReduceMean` is node `mean`, if the subgraph is exactly the
/// lowering above.
fn layer_norm_at(ix: &Index<'_>, mean: usize) -> Option<LayerNorm> {
    if !is_channel_mean(ix, mean) {
        return None;
    }
    let x = ix.node(mean).input[0].as_str();
    let mean_out = ix.node(mean).output[0].as_str();
    let single = |from: usize, to: usize| ix.readers(from) == Some(&[to][..]);

    // mean's two readers: Neg, and the Sub (possibly through reshapes that change nothing).
    let [r1, r2] = ix.readers(mean)? else {
        return None;
    };
    let (neg, other) = match (ix.is(*r1, "Neg"), ix.is(*r2, "Neg")) {
        (true, false) => (*r1, *r2),
        (false, true) => (*r2, *r1),
        _ => return None,
    };
    let (reshapes, sub) = identity_reshapes(ix, other, mean_out)?;
    let centred_mean = reshapes
        .last()
        .map_or(mean_out, |&r| ix.node(r).output[0].as_str());
    if !ix.is(sub, "Sub") || ix.node(sub).input != [x, centred_mean] {
        return None;
    }
    // Mul(d, d) reads d twice.
    let square = match ix.readers(sub)? {
        [a, b] if a == b && ix.is(*a, "Mul") => *a,
        _ => return None,
    };
    let d = ix.node(sub).output[0].as_str();
    if ix.node(square).input != [d, d] {
        return None;
    }
    let var = ix.only_reader(square, "ReduceMean")?;
    if !is_channel_mean(ix, var) {
        return None;
    }
    let add_eps = ix.only_reader(var, "Add")?;
    let eps = ix.scalar(other_input(ix, add_eps, &ix.node(var).output[0])?)?;
    if !eps.is_finite() || eps < 0.0 {
        return None;
    }
    let sqrt = ix.only_reader(add_eps, "Sqrt")?;
    let recip = ix.only_reader(sqrt, "Reciprocal")?;
    let m = ix.only_reader(recip, "Mul")?;
    let gamma = other_input(ix, m, &ix.node(recip).output[0])?;
    let channels = channel_constant(ix, gamma)?;
    let m_out = ix.node(m).output[0].as_str();

    // m's two readers: Mul(x, m) and Mul(Neg(mean), m).
    let [p, q] = ix.readers(m)? else {
        return None;
    };
    let neg_out = ix.node(neg).output[0].as_str();
    let times = |i: usize, value: &str| ix.is(i, "Mul") && other_input(ix, i, m_out) == Some(value);
    let (scaled, shift) = match (*p, *q) {
        (p, q) if times(p, x) && times(q, neg_out) => (p, q),
        (p, q) if times(q, x) && times(p, neg_out) => (q, p),
        _ => return None,
    };
    if !single(neg, shift) {
        return None;
    }
    let add_beta = ix.only_reader(shift, "Add")?;
    let beta = other_input(ix, add_beta, &ix.node(shift).output[0])?;
    if channel_constant(ix, beta)? != channels {
        return None;
    }
    let out = ix.only_reader(add_beta, "Add")?;
    if other_input(ix, out, &ix.node(add_beta).output[0])? != ix.node(scaled).output[0]
        || !single(scaled, out)
    {
        return None;
    }

    let mut nodes: Vec<usize> = vec![mean, neg];
    nodes.extend(reshapes);
    nodes.extend([
        sub, square, var, add_eps, sqrt, recip, m, scaled, shift, add_beta, out,
    ]);
    // A tanh Gelu reading only `out` joins in.
    let gelu = ix.only_reader(out, "Gelu").filter(|&g| {
        ix.node(g)
            .attribute
            .iter()
            .any(|a| a.name == "approximate" && a.s == b"tanh")
    });
    nodes.extend(gelu);
    Some(LayerNorm {
        input: x.to_string(),
        gamma: gamma.to_string(),
        beta: beta.to_string(),
        eps,
        nodes,
        gelu: gelu.is_some(),
    })
}

/// A dimension as a product of the symbolic dimensions of `[N, 1, H, W]` (0 = N, 1 = H, 2 = W),
/// sorted; empty is 1.
type SymDim = Vec<u8>;

/// Follows Unsqueeze/Squeeze/Reshape nodes from `first`, which reads `value` (an `[N, 1, H,
/// W]` tensor), each the only reader of the one before, up to the first node of another kind;
/// returns the chain and that node, if the chain ends on the shape it started from.
fn identity_reshapes(ix: &Index<'_>, first: usize, value: &str) -> Option<(Vec<usize>, usize)> {
    let start: Vec<SymDim> = vec![vec![0], vec![], vec![1], vec![2]];
    let (mut shape, mut chain, mut node, mut value) = (start.clone(), Vec::new(), first, value);
    loop {
        let n = ix.node(node);
        let is_reshape = ["Unsqueeze", "Squeeze", "Reshape"]
            .iter()
            .any(|op| ix.is(node, op));
        if !is_reshape {
            break;
        }
        if n.input.first().map(String::as_str) != Some(value) {
            return None;
        }
        shape = if ix.is(node, "Unsqueeze") {
            unsqueeze(&shape, &axes(ix, node)?)?
        } else if ix.is(node, "Squeeze") {
            squeeze(&shape, &axes(ix, node)?)?
        } else {
            if n.attribute
                .iter()
                .any(|a| a.name == "allowzero" && a.i != 0)
            {
                return None;
            }
            reshape(&shape, &ix.ints(n.input.get(1)?)?)?
        };
        chain.push(node);
        value = n.output.first()?.as_str();
        node = match ix.readers(node)? {
            [r] => *r,
            _ => return None,
        };
    }
    (shape == start).then_some((chain, node))
}

/// The `axes` of an Unsqueeze or Squeeze: its second input (opset 13) or attribute.
fn axes(ix: &Index<'_>, node: usize) -> Option<Vec<i64>> {
    match ix.node(node).input.get(1) {
        Some(name) => ix.ints(name),
        None => ix.ints_attr(node, "axes").map(<[i64]>::to_vec),
    }
}

/// `axis` (negative from the end) as an index into `rank` dimensions.
fn axis_index(axis: i64, rank: usize) -> Option<usize> {
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(axis).ok().filter(|&a| a < rank)
}

fn unsqueeze(shape: &[SymDim], axes: &[i64]) -> Option<Vec<SymDim>> {
    let rank = shape.len() + axes.len();
    let mut ones = vec![false; rank];
    for &a in axes {
        let a = axis_index(a, rank)?;
        if std::mem::replace(&mut ones[a], true) {
            return None;
        }
    }
    let mut dims = shape.iter();
    ones.iter()
        .map(|&one| {
            if one {
                Some(Vec::new())
            } else {
                dims.next().cloned()
            }
        })
        .collect()
}

fn squeeze(shape: &[SymDim], axes: &[i64]) -> Option<Vec<SymDim>> {
    let mut drop = vec![false; shape.len()];
    for &a in axes {
        let a = axis_index(a, shape.len())?;
        // Only a dimension known to be 1 may go (and an empty `axes` is refused: it squeezes
        // whatever is 1 at run time).
        if !shape[a].is_empty() || std::mem::replace(&mut drop[a], true) {
            return None;
        }
    }
    (!axes.is_empty()).then(|| {
        shape
            .iter()
            .zip(&drop)
            .filter(|(_, &d)| !d)
            .map(|(s, _)| s.clone())
            .collect()
    })
}

/// ONNX Reshape (allowzero = 0): 0 copies the input's dimension, -1 takes what is left, 1 is 1;
/// other constants cannot be followed symbolically.
fn reshape(shape: &[SymDim], target: &[i64]) -> Option<Vec<SymDim>> {
    let mut dims: Vec<Option<SymDim>> = Vec::with_capacity(target.len());
    for (i, &t) in target.iter().enumerate() {
        dims.push(match t {
            0 => Some(shape.get(i)?.clone()),
            1 => Some(Vec::new()),
            -1 => None,
            _ => return None,
        });
    }
    if dims.iter().filter(|d| d.is_none()).count() > 1 {
        return None;
    }
    // What -1 stands for: the whole product less the others'.
    let mut left: SymDim = shape.concat();
    for d in dims.iter().flatten().flatten() {
        let at = left.iter().position(|s| s == d)?;
        left.remove(at);
    }
    left.sort_unstable();
    if dims.iter().all(Option::is_some) && !left.is_empty() {
        return None;
    }
    Some(
        dims.into_iter()
            .map(|d| d.unwrap_or_else(|| left.clone()))
            .collect(),
    )
}
