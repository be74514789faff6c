//! Keras `UpSampling2D` as tf2onnx lowers it -> `Resize(nearest)` + `Transpose`.
//!
//! On an NCHW tensor `x` (`[N, C, H, W]`) the lowering is
//!
//! ```text
//! Unsqueeze(axes=[3]) -> Tile([1,1,1,s,1]) -> Transpose([0,2,3,4,1]) -> Reshape
//!     (rows repeated: NHWC [N, sH, W, C])
//! -> Unsqueeze(axes=[3]) -> Tile([1,1,1,t,1]) -> Reshape
//!     (columns repeated: NHWC [N, sH, tW, C])
//! ```
//!
//! with both Reshape targets computed at run time from `Shape(x)`. That is exactly
//! `out[n, i, j, c] = x[n, c, i / s, j / t]`, i.e. `Resize(x, scales = [1, 1, s, t],
//! mode = nearest, coordinate_transformation_mode = asymmetric, nearest_mode = floor)` followed
//! by `Transpose([0, 2, 3, 1])` back to the NHWC value the rest of the graph reads, written under
//! the chain's output name.

use super::{f32_tensor, ints_attr, splice, string_attr, Index};
use crate::error::{ExtractError, Result};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{GraphProto, NodeProto};

/// One upsampling layer found in the graph.
struct Chain {
    /// The NCHW input `x`.
    input: String,
    /// The seven nodes it replaces, by index.
    nodes: [usize; 7],
    /// Row and column repeat factors.
    scales: (i64, i64),
    /// The last Reshape's output: the NHWC upsampled value the graph reads.
    output: String,
}

/// Replaces every Repeat chain pair of `graph` by Resize (nearest) + Transpose; returns how
/// many. Leaves the chains' shape computations for [`super::remove_dead`].
pub fn rewrite_upsampling(graph: &mut GraphProto) -> Result<usize> {
    let chains = find_chains(&Index::new(graph))?;
    let mut removed = HashSet::new();
    let mut replaced = HashMap::new();
    for chain in &chains {
        removed.extend(chain.nodes);
        let last = graph.node[chain.nodes[6]].name.clone();
        let scales_name = format!("{}__abis_resize_scales", chain.output);
        let nchw = format!("{}__abis_resize_nchw", chain.output);
        graph.initializer.push(f32_tensor(
            &scales_name,
            &[1.0, 1.0, chain.scales.0 as f32, chain.scales.1 as f32],
        ));
        let resize = NodeProto {
            name: format!("{last}__abis_resize"),
            op_type: "Resize".into(),
            // Inputs X, roi (absent), scales.
            input: vec![chain.input.clone(), String::new(), scales_name],
            output: vec![nchw.clone()],
            attribute: vec![
                string_attr("mode", "nearest"),
                string_attr("coordinate_transformation_mode", "asymmetric"),
                string_attr("nearest_mode", "floor"),
            ],
            ..Default::default()
        };
        let to_nhwc = NodeProto {
            name: format!("{last}__abis_to_nhwc"),
            op_type: "Transpose".into(),
            input: vec![nchw],
            output: vec![chain.output.clone()],
            attribute: vec![ints_attr("perm", &[0, 2, 3, 1])],
            ..Default::default()
        };
        // At the last node of the chain: every reader of its output comes after it, and `x`
        // was produced before the first.
        replaced.insert(chain.nodes[6], vec![resize, to_nhwc]);
    }
    splice(graph, &removed, replaced);
    Ok(chains.len())
}

/// Every chain pair whose shape matches exactly; anything else is left alone.
fn find_chains(ix: &Index<'_>) -> Result<Vec<Chain>> {
    // Unsqueeze axes: an input since opset 13, an attribute before.
    let unsqueeze_axis_3 = |i: usize| -> bool {
        let axes = match ix.node(i).input.get(1) {
            Some(name) => ix.ints(name),
            None => ix.ints_attr(i, "axes").map(<[i64]>::to_vec),
        };
        axes.as_deref() == Some(&[3])
    };
    // Tile repeats [1, 1, 1, s, 1] with s >= 1: the factor.
    let tile_factor = |i: usize| -> Option<i64> {
        match ix.ints(ix.node(i).input.get(1)?)?.as_slice() {
            [1, 1, 1, s, 1] if *s >= 1 => Some(*s),
            _ => None,
        }
    };
    // The one reader of r1 that is an Unsqueeze; its other readers may only be Shape nodes
    // (they feed the second Reshape's target and die with the chain).
    let unsqueeze_after_reshape = |r1: usize| -> Option<usize> {
        let readers = ix.readers(r1)?;
        let mut unsqueezes = readers.iter().copied().filter(|&r| ix.is(r, "Unsqueeze"));
        let found = unsqueezes.next()?;
        let others_are_shapes = readers.iter().all(|&r| r == found || ix.is(r, "Shape"));
        (unsqueezes.next().is_none() && others_are_shapes).then_some(found)
    };
    // The chain whose first Tile is node `t1`, if it is exactly the UpSampling2D lowering.
    let chain_at = |t1: usize| -> Option<Chain> {
        let u1 = ix.producer_of(ix.node(t1).input.first()?, "Unsqueeze")?;
        if !unsqueeze_axis_3(u1) || ix.only_reader(u1, "Tile")? != t1 {
            return None;
        }
        let s = tile_factor(t1)?;
        let tr = ix.only_reader(t1, "Transpose")?;
        if ix.ints_attr(tr, "perm")? != [0, 2, 3, 4, 1] {
            return None;
        }
        let r1 = ix.only_reader(tr, "Reshape")?;
        let u2 = unsqueeze_after_reshape(r1)?;
        if !unsqueeze_axis_3(u2) {
            return None;
        }
        let t2 = ix.only_reader(u2, "Tile")?;
        let t = tile_factor(t2)?;
        let r2 = ix.only_reader(t2, "Reshape")?;
        Some(Chain {
            input: ix.node(u1).input[0].clone(),
            nodes: [u1, t1, tr, r1, u2, t2, r2],
            scales: (s, t),
            output: ix.node(r2).output.first()?.clone(),
        })
    };
    let chains: Vec<Chain> = (0..ix.graph.node.len())
        .filter(|&i| ix.is(i, "Tile"))
        .filter_map(chain_at)
        .collect();
    let mut seen = HashSet::new();
    for chain in &chains {
        if !chain.nodes.iter().all(|n| seen.insert(*n)) {
            return Err(ExtractError::DataCorruption(
                "two upsampling chains share nodes".into(),
            ));
        }
    }
    Ok(chains)
}
