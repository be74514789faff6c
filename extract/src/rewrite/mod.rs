//! Load-time rewrites of LEADER's ONNX graph, on the protobuf, before tract reads it.
//!
//! The weights file stays as published (its SHA-256 is checked by `scripts/fetch-models.sh`);
//! only the in-memory graph changes, by three exact pattern replacements:
//!
//! 1. **Upsampling** ([`upsampling`]), needed: tract refuses the graph without it. tf2onnx
//!    lowered each Keras `UpSampling2D` to two "Repeat" chains
//!    (Unsqueeze/Tile/Transpose/Reshape, Unsqueeze/Tile/Reshape) whose Reshape targets are
//!    computed at run time; tract's declutter pass fails on them. Each pair becomes
//!    `Resize(nearest)` + `Transpose`, the same values by construction.
//! 2. **GELU** ([`gelu`]), for speed: Keras' tanh-approximated GELU arrives as ten elementwise
//!    nodes around `Pow(x, 3)`, which tract evaluates with `powf` per element (a third of the
//!    run time) because the Transposes tf2onnx put around the cube hide the pattern from
//!    tract's own GELU detection. Each becomes one `Gelu(approximate = "tanh")` node, the same
//!    function, which tract runs as one fused kernel.
//! 3. **LayerNorm** ([`layer_norm`]), for speed: Keras' `LayerNormalization` over the channels
//!    arrives as fourteen nodes that tract runs as seven full passes over the tensor, two of them
//!    reductions along the strided channel axis (a quarter of the run time). Each becomes one
//!    `AbisChannelLayerNorm` node ([`crate::ops::ChannelLayerNorm`], taught to tract-onnx by
//!    [`crate::ops::register`]), with the GELU that follows it when there is one.
//!
//! All are strict: a subgraph that does not have exactly the expected shape is left alone.
//! [`crate::Leader::load`] then refuses a model in which a Tile survives, so a different export
//! fails loudly rather than running a graph we have not checked. After the replacements, nodes
//! and initializers that nothing reads any more (the Repeat chains' shape computations) are
//! removed, and every input left is checked to be defined.

mod gelu;
mod layer_norm;
mod pointwise_mlp;
mod upsampling;

use crate::error::{ExtractError, Result};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, GraphProto, NodeProto,
    TensorProto,
};

pub use gelu::fuse_gelu;
pub use layer_norm::{fuse_layer_norm, LayerNormCount};
pub use pointwise_mlp::fuse_pointwise_mlp;
pub use upsampling::rewrite_upsampling;

/// What [`prepare`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewriteReport {
    /// Upsampling layers (pairs of Repeat chains) replaced by a Resize.
    pub upsamplings: usize,
    /// tanh-GELU subgraphs replaced by one Gelu node.
    pub gelus: usize,
    /// Channel LayerNorms replaced by one `AbisChannelLayerNorm` node...
    pub layer_norms: usize,
    /// ...of which this many took in the GELU that followed them.
    pub layer_norm_gelus: usize,
    /// 1x1 Conv -> GELU -> 1x1 Conv chains replaced by one `AbisPointwiseMlp` node.
    pub pointwise_mlps: usize,
    /// `ReduceMean` nodes left (0 for LEADER: all of them are in its LayerNorms).
    pub reduce_means_left: usize,
    /// Nodes before the rewrite.
    pub nodes_before: usize,
    /// Nodes after it, dead shape computations removed.
    pub nodes_after: usize,
    /// Tile nodes left (0 for LEADER; tract cannot run the ones in Repeat chains).
    pub tiles_left: usize,
}

/// The three rewrites (GELU before LayerNorm, which takes in the GELUs after it), then the
/// removal of what became dead. The result needs [`crate::ops::register`] to load.
pub fn prepare(graph: &mut GraphProto) -> Result<RewriteReport> {
    let nodes_before = graph.node.len();
    let upsamplings = rewrite_upsampling(graph)?;
    let gelus = fuse_gelu(graph)?;
    let norms = fuse_layer_norm(graph)?;
    let pointwise_mlps = fuse_pointwise_mlp(graph)?;
    remove_dead(graph)?;
    Ok(RewriteReport {
        upsamplings,
        gelus,
        layer_norms: norms.fused,
        layer_norm_gelus: norms.with_gelu,
        pointwise_mlps,
        reduce_means_left: graph
            .node
            .iter()
            .filter(|n| n.op_type == "ReduceMean")
            .count(),
        nodes_before,
        nodes_after: graph.node.len(),
        tiles_left: graph.node.iter().filter(|n| n.op_type == "Tile").count(),
    })
}

/// Who produces and who reads each value of a graph, and its constants.
struct Index<'g> {
    graph: &'g GraphProto,
    initializers: HashMap<&'g str, &'g TensorProto>,
    producer: HashMap<&'g str, usize>,
    consumers: HashMap<&'g str, Vec<usize>>,
    outputs: HashSet<&'g str>,
}

impl<'g> Index<'g> {
    fn new(graph: &'g GraphProto) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for out in &node.output {
                producer.insert(out.as_str(), i);
            }
            for input in node.input.iter().filter(|s| !s.is_empty()) {
                consumers.entry(input.as_str()).or_default().push(i);
            }
        }
        Index {
            graph,
            initializers: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
            producer,
            consumers,
            outputs: graph.output.iter().map(|o| o.name.as_str()).collect(),
        }
    }

    fn node(&self, i: usize) -> &'g NodeProto {
        &self.graph.node[i]
    }

    /// Whether node `i` is the standard-domain operator `op`.
    fn is(&self, i: usize, op: &str) -> bool {
        let n = self.node(i);
        n.op_type == op && n.domain.is_empty()
    }

    /// The node producing `value`, if it is an `op`.
    fn producer_of(&self, value: &str, op: &str) -> Option<usize> {
        self.producer
            .get(value)
            .copied()
            .filter(|&i| self.is(i, op))
    }

    /// The readers of node `i`'s first output (none when it is a graph output, which must
    /// never be rewritten away).
    fn readers(&self, i: usize) -> Option<&[usize]> {
        let out = self.node(i).output.first()?.as_str();
        if self.outputs.contains(out) {
            return None;
        }
        self.consumers.get(out).map(Vec::as_slice)
    }

    /// The one reader of node `i`'s first output, if there is exactly one and it is an `op`.
    fn only_reader(&self, i: usize, op: &str) -> Option<usize> {
        match self.readers(i)? {
            [r] if self.is(*r, op) => Some(*r),
            _ => None,
        }
    }

    /// The INT64 constant named `name`.
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.initializers.get(name).and_then(|t| int64_values(t))
    }

    /// The value of a one-element FLOAT constant named `name` (any shape of one element).
    fn scalar(&self, name: &str) -> Option<f32> {
        let t = self.initializers.get(name)?;
        if t.data_type != DataType::Float as i32 || t.dims.iter().product::<i64>() != 1 {
            return None;
        }
        match (t.raw_data.as_slice(), t.float_data.as_slice()) {
            (raw, _) if raw.len() == 4 => Some(f32::from_le_bytes(raw.try_into().ok()?)),
            ([], [v]) => Some(*v),
            _ => None,
        }
    }

    /// An integer-list attribute of node `i`.
    fn ints_attr(&self, i: usize, name: &str) -> Option<&'g [i64]> {
        self.node(i)
            .attribute
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.ints.as_slice())
    }
}

/// Rebuilds the node list: nodes in `removed` dropped, and at each key of `replaced` the
/// replacement nodes instead of that node (the key must also be in `removed` or it is kept
/// before its replacement).
fn splice(
    graph: &mut GraphProto,
    removed: &HashSet<usize>,
    replaced: HashMap<usize, Vec<NodeProto>>,
) {
    let mut replaced = replaced;
    let old = std::mem::take(&mut graph.node);
    for (i, node) in old.into_iter().enumerate() {
        if !removed.contains(&i) {
            graph.node.push(node);
        }
        if let Some(new) = replaced.remove(&i) {
            graph.node.extend(new);
        }
    }
}

/// Removes nodes no graph output depends on, then initializers no node reads; checks that
/// every input left is defined.
fn remove_dead(graph: &mut GraphProto) -> Result<()> {
    let mut live: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut keep = vec![false; graph.node.len()];
    // Nodes are in topological order (ONNX requires it), so one backward pass finds them all.
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| live.contains(o)) {
            keep[i] = true;
            live.extend(node.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut keep = keep.into_iter();
    graph.node.retain(|_| keep.next().unwrap_or(false));
    graph.initializer.retain(|t| live.contains(&t.name));

    let mut defined: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    defined.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for node in &graph.node {
        if let Some(missing) = node
            .input
            .iter()
            .find(|i| !i.is_empty() && !defined.contains(i.as_str()))
        {
            return Err(ExtractError::DataCorruption(format!(
                "after the rewrite, node {} reads {missing}, which nothing produces",
                node.name
            )));
        }
        defined.extend(node.output.iter().map(String::as_str));
    }
    Ok(())
}

/// The values of an INT64 tensor (raw little-endian bytes or the repeated field).
fn int64_values(t: &TensorProto) -> Option<Vec<i64>> {
    if t.data_type != DataType::Int64 as i32 {
        return None;
    }
    if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(8) {
            return None;
        }
        return Some(
            t.raw_data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("chunks of 8")))
                .collect(),
        );
    }
    Some(t.int64_data.clone())
}

fn f32_tensor(name: &str, values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: DataType::Float as i32,
        float_data: values.to_vec(),
        ..Default::default()
    }
}

fn string_attr(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn ints_attr(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
