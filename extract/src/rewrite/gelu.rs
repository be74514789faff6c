//! Keras' tanh-approximated GELU as tf2onnx lowers it -> one `Gelu(approximate = "tanh")`.
//!
//! `gelu(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))` arrives as
//!
//! ```text
//! h  = Mul(0.5, x)
//! c  = Mul(0.044715, Pow(Transpose(x, P), 3))     // the cube, in NHWC...
//! a  = Add(x, Transpose(c, P^-1))                 // ...and back to NCHW
//! out = Mul(h, Add(1, Tanh(Mul(0.7978846, a))))
//! ```
//!
//! (the Transposes are optional, but must come as an inverse pair). tract-onnx reads the ONNX
//! `Gelu` operator with `approximate = "tanh"` as its fused `GeluApproximate`, the same formula,
//! so the ten nodes become that one, reading `x` and writing `out`'s name.

use super::{splice, string_attr, Index};
use crate::error::{ExtractError, Result};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{GraphProto, NodeProto};

/// One GELU subgraph found.
struct Gelu {
    /// Its input `x`.
    input: String,
    /// The nodes it replaces, the last one (`out`) last.
    nodes: Vec<usize>,
}

/// Replaces every tanh-GELU subgraph of `graph` by one Gelu node; returns how many.
pub fn fuse_gelu(graph: &mut GraphProto) -> Result<usize> {
    let ix = Index::new(graph);
    let found: Vec<Gelu> = (0..graph.node.len())
        .filter(|&i| ix.is(i, "Tanh"))
        .filter_map(|tanh| gelu_at(&ix, tanh))
        .collect();
    let mut removed = HashSet::new();
    let mut replaced = HashMap::new();
    for gelu in &found {
        // The patterns cannot overlap (each node has a single reader inside its own), so a
        // second claim on a node means the graph is not what the matcher assumed.
        if !gelu.nodes.iter().all(|&n| removed.insert(n)) {
            return Err(ExtractError::DataCorruption(
                "two GELU subgraphs share nodes".into(),
            ));
        }
        let last = *gelu.nodes.last().expect("pattern nodes");
        let out = &graph.node[last];
        replaced.insert(
            last,
            vec![NodeProto {
                name: format!("{}__abis_gelu", out.name),
                op_type: "Gelu".into(),
                input: vec![gelu.input.clone()],
                output: out.output.clone(),
                attribute: vec![string_attr("approximate", "tanh")],
                ..Default::default()
            }],
        );
    }
    splice(graph, &removed, replaced);
    Ok(found.len())
}

/// The two inputs of binary node `i`, the constant one (equal to `value`) identified: returns
/// the other input.
fn with_constant<'g>(ix: &Index<'g>, i: usize, value: f32) -> Option<&'g str> {
    let close = |name: &str| {
        ix.scalar(name)
            .is_some_and(|v| (v - value).abs() <= 1e-6 * value.abs().max(1.0))
    };
    match ix.node(i).input.as_slice() {
        [a, b] if close(a) => Some(b.as_str()),
        [a, b] if close(b) => Some(a.as_str()),
        _ => None,
    }
}

/// The GELU whose Tanh is node `tanh`, if the subgraph is exactly the lowering above and none
/// of its intermediate values is read from outside it.
fn gelu_at(ix: &Index<'_>, tanh: usize) -> Option<Gelu> {
    let scale = ix.producer_of(ix.node(tanh).input.first()?, "Mul")?;
    let a = ix.producer_of(
        with_constant(ix, scale, (2.0 / std::f32::consts::PI).sqrt())?,
        "Add",
    )?;
    let one_plus = ix.only_reader(tanh, "Add")?;
    if with_constant(ix, one_plus, 1.0)? != ix.node(tanh).output[0] {
        return None;
    }
    let out = ix.only_reader(one_plus, "Mul")?;
    // out = Mul(h, one_plus), h = Mul(0.5, x).
    let h_value = ix
        .node(out)
        .input
        .iter()
        .find(|v| **v != ix.node(one_plus).output[0])?;
    let h = ix.producer_of(h_value, "Mul")?;
    let x = with_constant(ix, h, 0.5)?;

    // a = Add(x, cube term), either order.
    let [p, q] = ix.node(a).input.as_slice() else {
        return None;
    };
    let cube_value = match (p.as_str(), q.as_str()) {
        (p, q) if p == x => q,
        (p, q) if q == x => p,
        _ => return None,
    };
    // Optional Transpose back from the cube's layout.
    let (cube_value, back) = match ix.producer_of(cube_value, "Transpose") {
        Some(t) => (ix.node(t).input.first()?.as_str(), Some(t)),
        None => (cube_value, None),
    };
    let coef = ix.producer_of(cube_value, "Mul")?;
    let pow = ix.producer_of(with_constant(ix, coef, 0.044715)?, "Pow")?;
    let [base, exponent] = ix.node(pow).input.as_slice() else {
        return None;
    };
    if ix.scalar(exponent)? != 3.0 {
        return None;
    }
    // The cube's base is x, or x transposed by the inverse of `back`.
    let there = match (back, ix.producer_of(base, "Transpose")) {
        (None, None) if base == x => None,
        (Some(back), Some(there)) if ix.node(there).input.first()? == x => {
            let (p1, p2) = (ix.ints_attr(there, "perm")?, ix.ints_attr(back, "perm")?);
            // Transposing by p1 then p2 reads x[p1[p2[i]]]: the identity when p1[p2[i]] == i.
            let inverse = p1.len() == p2.len()
                && p2.iter().enumerate().all(|(i, &j)| {
                    usize::try_from(j).is_ok_and(|j| p1.get(j) == Some(&(i as i64)))
                });
            if !inverse {
                return None;
            }
            Some(there)
        }
        _ => return None,
    };

    // Every intermediate value is read only inside the pattern: removing it changes nothing
    // else. (x itself may have any readers.)
    let single = |from: usize, to: usize| ix.readers(from) == Some(&[to][..]);
    let mut nodes = Vec::new();
    if let (Some(there), Some(back)) = (there, back) {
        if !single(there, pow) || !single(coef, back) || !single(back, a) {
            return None;
        }
        nodes.extend([there, back]);
    } else if !single(coef, a) {
        return None;
    }
    let chain_ok = single(pow, coef)
        && single(a, scale)
        && single(scale, tanh)
        && single(tanh, one_plus)
        && single(one_plus, out)
        && single(h, out);
    if !chain_ok {
        return None;
    }
    nodes.extend([h, pow, coef, a, scale, tanh, one_plus, out]);
    Some(Gelu {
        input: x.to_string(),
        nodes,
    })
}
