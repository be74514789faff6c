//! Where LEADER's time goes: the optimised plan for an FVC2002 DB1 image (416x384 padded) run
//! a few times with every node timed, then the nodes grouped by operator, slowest first.
//!
//! ```text
//! cargo run --release -p abis-extract --example leader_profile -- [--runs N] [--top N]
//! ```

use abis_extract::{default_leader_path, ops, rewrite};
use anyhow::{bail, Context};
use std::collections::HashMap;
use std::time::Instant;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::eval;

fn main() -> anyhow::Result<()> {
    let (mut runs, mut top) = (5usize, 40usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--top" => top = args.next().context("--top N")?.parse()?,
            other => bail!("unknown argument {other}; usage: [--runs N] [--top N]"),
        }
    }
    let path = default_leader_path().context("no models folder")?;
    let bytes = std::fs::read(&path)?;
    let mut onnx = tract_onnx::onnx();
    ops::register(&mut onnx);
    let mut proto = onnx.proto_model_for_read(&mut bytes.as_slice())?;
    rewrite::prepare(proto.graph.as_mut().context("no graph")?)?;
    let (h, w) = (384, 416);
    let plan = onnx
        .model_for_proto_model(&proto)?
        .with_input_fact(0, f32::fact([1, h, w, 1]).into())?
        .into_optimized()?
        .into_runnable()?;
    let input: Vec<f32> = (0..h * w)
        .map(|i| ((i * 31 % 255) as f32) / 255.0)
        .collect();
    let input = Tensor::from_shape(&[1, h, w, 1], &input)?;
    let mut state = plan.spawn()?;
    state.run(tvec![input.clone().into()])?;
    let mut per_node: HashMap<usize, (String, String, f64)> = HashMap::new();
    let mut total = 0.0;
    for _ in 0..runs {
        let start = Instant::now();
        state.run_plan_with_eval(
            tvec![input.clone().into()],
            |ctx, op_state, node, inputs| {
                let t = Instant::now();
                let out = eval(ctx, op_state, node, inputs);
                let entry = per_node
                    .entry(node.id)
                    .or_insert_with(|| (node.op().name().to_string(), node.name.clone(), 0.0));
                entry.2 += t.elapsed().as_secs_f64() * 1e3;
                out
            },
        )?;
        total += start.elapsed().as_secs_f64() * 1e3;
    }
    let runs_f = runs as f64;
    println!("total {:.1} ms per run", total / runs_f);
    let mut by_op: HashMap<String, (usize, f64)> = HashMap::new();
    for (op, _, ms) in per_node.values() {
        let e = by_op.entry(op.clone()).or_default();
        e.0 += 1;
        e.1 += ms / runs_f;
    }
    let mut by_op: Vec<_> = by_op.into_iter().collect();
    by_op.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    for (op, (n, ms)) in by_op {
        println!("{op:<28} {n:>4} nodes {ms:>8.1} ms");
    }
    let mut nodes: Vec<_> = per_node.into_iter().collect();
    nodes.sort_by(|a, b| b.1 .2.total_cmp(&a.1 .2));
    for (id, (op, name, ms)) in nodes.into_iter().take(top) {
        let node = plan.model().node(id);
        let info = node.op().info().unwrap_or_default().join("; ");
        let fact = plan.model().outlet_fact(OutletId::new(id, 0))?;
        println!(
            "{:>7.2} ms  #{id:<4} {op:<20} {name:<50} {fact:?} {info}",
            ms / runs_f
        );
    }
    tile_profile(runs)?;
    Ok(())
}

/// The 1x1 pair's tile plan alone (64 -> 256 -> 64, as enc1_0), node by node.
fn tile_profile(runs: usize) -> anyhow::Result<()> {
    for tile in [256usize, 512, 1024, 2048] {
        let (inputs, hidden, outputs) = (64usize, 256usize, 64usize);
        let zeros = |rows: usize, cols: usize| Tensor::zero::<f32>(&[rows, cols]);
        let layers = [
            (zeros(hidden, inputs)?, zeros(hidden, 1)?),
            (zeros(outputs, hidden)?, zeros(outputs, 1)?),
        ];
        let model = ops::tile_model(layers, tile)?;
        let plan = model.into_optimized()?.into_runnable()?;
        let mut state = plan.spawn()?;
        let x = Tensor::zero::<f32>(&[inputs, tile])?;
        let reps = 39936 / tile * runs;
        let mut per_node: HashMap<usize, f64> = HashMap::new();
        let start = Instant::now();
        for _ in 0..reps {
            state.run_plan_with_eval(tvec![x.clone().into()], |ctx, op_state, node, inputs| {
                let t = Instant::now();
                let out = eval(ctx, op_state, node, inputs);
                *per_node.entry(node.id).or_default() += t.elapsed().as_secs_f64() * 1e3;
                out
            })?;
        }
        println!(
            "tile {tile}: {:.2} ms per 39936 pixels",
            start.elapsed().as_secs_f64() * 1e3 / runs as f64
        );
        for (id, ms) in per_node {
            let node = plan.model().node(id);
            println!(
                "   {:>7.2} ms {} {}",
                ms / runs as f64,
                node.op().name(),
                node.op()
                    .info()
                    .unwrap_or_default()
                    .join("; ")
                    .chars()
                    .take(150)
                    .collect::<String>()
            );
        }
    }
    Ok(())
}
