//! The rewrites on small graphs built here with the same subgraphs tf2onnx writes into LEADER
//! (the upsampling chain with Reshape targets computed at run time from `Shape`; the GELU with
//! its cube between Transposes), checked against values computed by hand. The rewrites on
//! LEADER itself are checked against onnxruntime in `tests/leader.rs`.

use super::*;
use tract_onnx::pb::{
    tensor_shape_proto::{dimension::Value as Dim, Dimension},
    type_proto, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use tract_onnx::prelude::*;

const C: usize = 3;
const H: usize = 2;
const W: usize = 3;

fn i64_tensor(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: DataType::Int64 as i32,
        // Raw little-endian bytes, as tf2onnx stores them.
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: format!("{op}_{output}"),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn value_info(name: &str, shape: Option<&[i64]>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: shape.map(|shape| TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(Dim::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn model_of(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>) -> ModelProto {
    let graph = GraphProto {
        name: "test".into(),
        node: nodes,
        initializer,
        input: vec![value_info("x", Some(&[1, C as i64, H as i64, W as i64]))],
        output: vec![value_info("out", None)],
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(graph),
        ..Default::default()
    }
}

/// `x` (NCHW `[1, C, H, W]`) -> the tf2onnx UpSampling2D chain with factors `(2, col)` and
/// transpose `perm1` -> `y` (NHWC), then `y + 0` so the chain's output is not a graph output.
fn model(col: i64, perm1: &[i64]) -> ModelProto {
    let nodes = vec![
        node("Unsqueeze", &["x", "axis3"], "u1", vec![]),
        node("Tile", &["u1", "reps_row"], "t1", vec![]),
        node("Transpose", &["t1"], "tr", vec![ints_attr("perm", perm1)]),
        // [N, C, H, W] -> [N, H, W, C], rows doubled: the shape from Shape(x), as in LEADER.
        node("Shape", &["x"], "x_shape", vec![]),
        node(
            "Gather",
            &["x_shape", "nhwc"],
            "x_shape_nhwc",
            vec![ints_attr_single("axis", 0)],
        ),
        node("Mul", &["x_shape_nhwc", "double_rows"], "r1_shape", vec![]),
        node("Reshape", &["tr", "r1_shape"], "r1", vec![]),
        node("Unsqueeze", &["r1", "axis3"], "u2", vec![]),
        node("Tile", &["u2", "reps_col"], "t2", vec![]),
        node("Shape", &["r1"], "r1_shape_again", vec![]),
        node("Mul", &["r1_shape_again", "times_cols"], "r2_shape", vec![]),
        node("Reshape", &["t2", "r2_shape"], "y", vec![]),
        node("Add", &["y", "zero"], "out", vec![]),
    ];
    model_of(
        nodes,
        vec![
            i64_tensor("axis3", &[3]),
            i64_tensor("reps_row", &[1, 1, 1, 2, 1]),
            i64_tensor("reps_col", &[1, 1, 1, col, 1]),
            i64_tensor("nhwc", &[0, 2, 3, 1]),
            i64_tensor("double_rows", &[1, 2, 1, 1]),
            i64_tensor("times_cols", &[1, 1, col, 1]),
            f32_tensor("zero", &[0.0]),
        ],
    )
}

/// `x` -> Keras' tanh GELU as tf2onnx writes it (the cube between Transposes) -> `out`.
fn gelu_model() -> ModelProto {
    let nodes = vec![
        node("Mul", &["half", "x"], "h", vec![]),
        node(
            "Transpose",
            &["x"],
            "x_nhwc",
            vec![ints_attr("perm", &[0, 2, 3, 1])],
        ),
        node("Pow", &["x_nhwc", "three"], "cube", vec![]),
        node("Mul", &["coef", "cube"], "c", vec![]),
        node(
            "Transpose",
            &["c"],
            "c_nchw",
            vec![ints_attr("perm", &[0, 3, 1, 2])],
        ),
        node("Add", &["x", "c_nchw"], "a", vec![]),
        node("Mul", &["sqrt_2_over_pi", "a"], "s", vec![]),
        node("Tanh", &["s"], "t", vec![]),
        node("Add", &["one", "t"], "one_plus", vec![]),
        node("Mul", &["h", "one_plus"], "out", vec![]),
    ];
    let scalar = |name: &str, v: f32| TensorProto {
        dims: vec![],
        // Raw little-endian bytes, as tf2onnx stores them.
        raw_data: v.to_le_bytes().to_vec(),
        ..f32_tensor(name, &[])
    };
    model_of(
        nodes,
        vec![
            scalar("half", 0.5),
            scalar("three", 3.0),
            scalar("coef", 0.044715),
            scalar("sqrt_2_over_pi", 0.797_884_6),
            f32_tensor("one", &[1.0]),
        ],
    )
}

fn ints_attr_single(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

/// Runs `proto` with tract on `x` = 0, 1, 2, ... and returns `out` with its shape.
fn run(proto: &ModelProto) -> (Vec<usize>, Vec<f32>) {
    run_on(proto, (0..C * H * W).map(|v| v as f32).collect())
}

fn run_on(proto: &ModelProto, x: Vec<f32>) -> (Vec<usize>, Vec<f32>) {
    let x = Tensor::from_shape(&[1, C, H, W], &x).unwrap();
    let plan = tract_onnx::onnx()
        .model_for_proto_model(proto)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let out = plan.run(tvec![x.into()]).unwrap().remove(0);
    let view = out.to_plain_array_view::<f32>().unwrap();
    (
        view.shape().to_vec(),
        view.iter().copied().collect::<Vec<_>>(),
    )
}

#[test]
fn chain_becomes_a_resize_with_the_same_output() {
    for col in [2, 3] {
        let mut proto = model(col, &[0, 2, 3, 4, 1]);
        let report = prepare(proto.graph.as_mut().unwrap()).unwrap();
        assert_eq!((report.upsamplings, report.gelus), (1, 0));
        assert_eq!(report.tiles_left, 0);
        // 13 nodes -> Resize, Transpose, Add: the shape computations died with the chain.
        assert_eq!((report.nodes_before, report.nodes_after), (13, 3));
        let graph = proto.graph.as_ref().unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Resize", "Transpose", "Add"]);
        assert_eq!(
            graph.initializer.len(),
            2,
            "only the scales and `zero` are left"
        );

        let (shape, y) = run(&proto);
        let cols = W * col as usize;
        assert_eq!(shape, [1, 2 * H, cols, C]);
        // Nearest-neighbour upsampling by hand: y[0, i, j, c] = x[0, c, i / 2, j / col].
        let mut expected = Vec::new();
        for i in 0..2 * H {
            for j in 0..cols {
                for c in 0..C {
                    expected.push((c * H * W + (i / 2) * W + j / col as usize) as f32);
                }
            }
        }
        assert_eq!(y, expected);
    }
}

#[test]
fn other_chains_are_left_alone() {
    // A different transpose is not the UpSampling2D lowering: nothing is rewritten, and the
    // Tiles left are what makes `Leader::load` refuse such a model.
    let mut proto = model(2, &[0, 1, 3, 4, 2]);
    let report = prepare(proto.graph.as_mut().unwrap()).unwrap();
    assert_eq!(report.upsamplings, 0);
    assert_eq!(report.tiles_left, 2);
    assert_eq!(report.nodes_after, report.nodes_before);
}

#[test]
fn gelu_subgraph_becomes_one_gelu_with_the_same_output() {
    let x: Vec<f32> = (0..C * H * W).map(|v| v as f32 * 0.7 - 6.0).collect();
    let original = gelu_model();
    let mut fused = original.clone();
    let report = prepare(fused.graph.as_mut().unwrap()).unwrap();
    assert_eq!((report.upsamplings, report.gelus), (0, 1));
    assert_eq!((report.nodes_before, report.nodes_after), (10, 1));
    let graph = fused.graph.as_ref().unwrap();
    assert_eq!(graph.node[0].op_type, "Gelu");
    assert_eq!(
        (
            graph.node[0].input.as_slice(),
            graph.node[0].output.as_slice()
        ),
        (&["x".to_string()][..], &["out".to_string()][..])
    );
    assert!(
        graph.initializer.is_empty(),
        "the constants died with the subgraph"
    );

    let (shape, before) = run_on(&original, x.clone());
    let (fused_shape, after) = run_on(&fused, x.clone());
    assert_eq!(shape, [1, C, H, W]);
    assert_eq!(fused_shape, shape);
    for ((&x, &b), &a) in x.iter().zip(&before).zip(&after) {
        let x64 = f64::from(x);
        let exact = 0.5
            * x64
            * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x64 + 0.044715 * x64.powi(3))).tanh());
        assert!(
            (f64::from(b) - exact).abs() <= 1e-5 * exact.abs().max(1.0),
            "x {x}: unfused {b}, exact {exact}"
        );
        assert!(
            (f64::from(a) - exact).abs() <= 1e-5 * exact.abs().max(1.0),
            "x {x}: fused {a}, exact {exact}"
        );
    }
}

#[test]
fn gelu_with_an_outside_reader_is_left_alone() {
    // The cube also feeds the output: removing the subgraph would change the graph.
    let mut proto = gelu_model();
    let graph = proto.graph.as_mut().unwrap();
    graph.node.push(node("Add", &["out", "c"], "out2", vec![]));
    graph.output[0].name = "out2".into();
    let report = prepare(graph).unwrap();
    assert_eq!(report.gelus, 0);
    assert_eq!(report.nodes_after, 11);
}

#[test]
fn int64_values_read_raw_and_repeated_fields() {
    assert_eq!(
        int64_values(&i64_tensor("a", &[1, -2, 3])),
        Some(vec![1, -2, 3])
    );
    let repeated = TensorProto {
        data_type: DataType::Int64 as i32,
        int64_data: vec![4, 5],
        ..Default::default()
    };
    assert_eq!(int64_values(&repeated), Some(vec![4, 5]));
    assert_eq!(int64_values(&f32_tensor("f", &[1.0])), None);
}

/// `x` -> Keras' channel LayerNorm as tf2onnx writes it (gamma, beta and eps as in LEADER; the
/// mean reshaped by `reshapes`, a list of (op, constant) pairs) -> `ln`, then optionally the tanh
/// GELU -> `out`.
fn layer_norm_model(reshapes: &[(&str, &[i64])], gelu: bool) -> ModelProto {
    let mut nodes = vec![
        node(
            "ReduceMean",
            &["x"],
            "mean",
            vec![ints_attr("axes", &[1]), ints_attr_single("keepdims", 1)],
        ),
        node("Neg", &["mean"], "neg", vec![]),
    ];
    let mut initializer = vec![];
    let mut centred = "mean".to_string();
    for (i, (op, constant)) in reshapes.iter().enumerate() {
        let (name, out) = (format!("c{i}"), format!("r{i}"));
        nodes.push(node(op, &[&centred, &name], &out, vec![]));
        initializer.push(i64_tensor(&name, constant));
        centred = out;
    }
    nodes.extend([
        node("Sub", &["x", &centred], "d", vec![]),
        node("Mul", &["d", "d"], "dd", vec![]),
        node(
            "ReduceMean",
            &["dd"],
            "var",
            vec![ints_attr("axes", &[1]), ints_attr_single("keepdims", 1)],
        ),
        node("Add", &["var", "eps"], "ve", vec![]),
        node("Sqrt", &["ve"], "sd", vec![]),
        node("Reciprocal", &["sd"], "r", vec![]),
        node("Mul", &["r", "gamma"], "m", vec![]),
        node("Mul", &["x", "m"], "xm", vec![]),
        node("Mul", &["neg", "m"], "nm", vec![]),
        node("Add", &["nm", "beta"], "shift", vec![]),
        node(
            "Add",
            &["xm", "shift"],
            if gelu { "ln" } else { "out" },
            vec![],
        ),
    ]);
    if gelu {
        nodes.push(node(
            "Gelu",
            &["ln"],
            "out",
            vec![string_attr("approximate", "tanh")],
        ));
    }
    let channel = |name: &str, values: [f32; C]| TensorProto {
        dims: vec![1, C as i64, 1, 1],
        ..f32_tensor(name, &values)
    };
    initializer.extend([
        TensorProto {
            dims: vec![1, 1, 1, 1],
            ..f32_tensor("eps", &[1e-3])
        },
        channel("gamma", [0.5, -1.25, 2.0]),
        channel("beta", [0.1, 0.0, -0.3]),
    ]);
    model_of(nodes, initializer)
}

/// Runs `proto` with our operators registered.
fn run_ours(proto: &ModelProto, x: Vec<f32>) -> Vec<f32> {
    let mut onnx = tract_onnx::onnx();
    crate::ops::register(&mut onnx);
    let plan = onnx
        .model_for_proto_model(proto)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let x = Tensor::from_shape(&[1, C, H, W], &x).unwrap();
    let out = plan.run(tvec![x.into()]).unwrap().remove(0);
    out.to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// The two mean reshapes found in LEADER.
const LEADER_RESHAPES: [&[(&str, &[i64])]; 3] = [
    &[],
    &[("Reshape", &[-1, 1, 0, 0])],
    &[
        ("Unsqueeze", &[0]),
        ("Reshape", &[1, 1, -1, 0, 0, 1]),
        ("Squeeze", &[0]),
        ("Reshape", &[-1, 1, 0, 0]),
    ],
];

#[test]
fn layer_norm_becomes_one_node_with_the_same_output() {
    let x: Vec<f32> = (0..C * H * W)
        .map(|v| ((v * 7) % 11) as f32 * 0.9 - 4.0)
        .collect();
    for reshapes in LEADER_RESHAPES {
        for gelu in [false, true] {
            let original = layer_norm_model(reshapes, gelu);
            let mut fused = original.clone();
            let report = prepare(fused.graph.as_mut().unwrap()).unwrap();
            assert_eq!(
                (report.layer_norms, report.layer_norm_gelus),
                (1, usize::from(gelu))
            );
            assert_eq!(report.reduce_means_left, 0);
            let graph = fused.graph.as_ref().unwrap();
            assert_eq!(graph.node.len(), 1);
            assert_eq!(graph.node[0].op_type, crate::ops::CHANNEL_LAYER_NORM);
            assert_eq!(graph.node[0].output, ["out"]);

            let (_, before) = run_on(&original, x.clone());
            let after = run_ours(&fused, x.clone());
            // By hand, per pixel, in f64.
            let (gamma, beta) = ([0.5, -1.25, 2.0], [0.1, 0.0, -0.3]);
            for p in 0..H * W {
                let at = |c: usize| x[c * H * W + p] as f64;
                let mean = (0..C).map(at).sum::<f64>() / C as f64;
                let var = (0..C).map(|c| (at(c) - mean).powi(2)).sum::<f64>() / C as f64;
                for c in 0..C {
                    let mut y = (at(c) - mean) / (var + 1e-3).sqrt() * gamma[c] + beta[c];
                    if gelu {
                        y = 0.5
                            * y
                            * (1.0
                                + ((2.0 / std::f64::consts::PI).sqrt()
                                    * (y + 0.044715 * y.powi(3)))
                                .tanh());
                    }
                    let i = c * H * W + p;
                    for (what, got) in [("unfused", before[i]), ("fused", after[i])] {
                        assert!(
                            (f64::from(got) - y).abs() <= 1e-5,
                            "{reshapes:?} gelu {gelu} {what} at {i}: {got} vs {y}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn layer_norms_that_are_not_leaders_are_left_alone() {
    let refused: [&[(&str, &[i64])]; 3] = [
        // Not the same shape back (and a constant dimension that cannot be followed).
        &[("Reshape", &[-1, 1, 0])],
        &[("Reshape", &[1, 1, -1, 2])],
        // A Squeeze of a dimension that is not 1.
        &[("Squeeze", &[0])],
    ];
    for reshapes in refused {
        let mut proto = layer_norm_model(reshapes, false);
        let report = prepare(proto.graph.as_mut().unwrap()).unwrap();
        assert_eq!(report.layer_norms, 0, "{reshapes:?}");
        assert_eq!(report.reduce_means_left, 2);
    }
    // The centred value also read elsewhere.
    let mut proto = layer_norm_model(&[], false);
    let graph = proto.graph.as_mut().unwrap();
    graph.node.push(node("Add", &["out", "d"], "out2", vec![]));
    graph.output[0].name = "out2".into();
    assert_eq!(prepare(graph).unwrap().layer_norms, 0);
}

/// `x` -> 1x1 Conv (3 -> 4) -> tanh Gelu -> 1x1 Conv (4 -> 2) -> `out`.
fn pointwise_mlp_model(second_kernel: i64) -> ModelProto {
    let conv = |w: &str, b: &str, out: &str, kernel: i64| {
        let input = if out == "h" { "x" } else { "g" };
        node(
            "Conv",
            &[input, w, b],
            out,
            vec![
                ints_attr("kernel_shape", &[kernel, kernel]),
                ints_attr("strides", &[1, 1]),
                ints_attr("dilations", &[1, 1]),
            ],
        )
    };
    let weights = |name: &str, dims: [i64; 4]| TensorProto {
        dims: dims.to_vec(),
        ..f32_tensor(
            name,
            &(0..dims.iter().product::<i64>())
                .map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.3)
                .collect::<Vec<_>>(),
        )
    };
    model_of(
        vec![
            conv("w1", "b1", "h", 1),
            node(
                "Gelu",
                &["h"],
                "g",
                vec![string_attr("approximate", "tanh")],
            ),
            conv("w2", "b2", "out", second_kernel),
        ],
        vec![
            weights("w1", [4, C as i64, 1, 1]),
            f32_tensor("b1", &[0.1, -0.2, 0.3, 0.0]),
            weights("w2", [2, 4, second_kernel, second_kernel]),
            f32_tensor("b2", &[0.5, -0.5]),
        ],
    )
}

#[test]
fn pointwise_convolution_pair_becomes_one_node_with_the_same_output() {
    let x: Vec<f32> = (0..C * H * W).map(|v| v as f32 * 0.3 - 2.0).collect();
    let original = pointwise_mlp_model(1);
    let mut fused = original.clone();
    let report = prepare(fused.graph.as_mut().unwrap()).unwrap();
    assert_eq!(report.pointwise_mlps, 1);
    let graph = fused.graph.as_ref().unwrap();
    assert_eq!(graph.node.len(), 1);
    assert_eq!(graph.node[0].op_type, crate::ops::POINTWISE_MLP);
    let (shape, before) = run_on(&original, x.clone());
    assert_eq!(shape, [1, 2, H, W]);
    let after = run_ours(&fused, x);
    for (b, a) in before.iter().zip(&after) {
        assert!((b - a).abs() <= 1e-5, "unfused {b}, fused {a}");
    }
    // A 3x3 second convolution is not a pointwise one.
    let mut proto = pointwise_mlp_model(3);
    assert_eq!(
        prepare(proto.graph.as_mut().unwrap())
            .unwrap()
            .pointwise_mlps,
        0
    );
}
