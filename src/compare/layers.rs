//! Layers of an ONNX graph, recognized by structure, and their alignment across two graphs.
//!
//! Why: users ask *where* two graphs start to differ. Names do not help (`dense_1/Gemm` in our
//! export is `mlp_1/dense_1/MatMul` + `.../BiasAdd` in tf2onnx), so each graph is reduced to a
//! sequence of semantic layers (a dense layer is `Gemm`, or `MatMul` followed by a bias `Add`;
//! activations are their own layers; reshapes and casts are plumbing, not layers), and the two
//! sequences are aligned by kind, in order. Every layer keeps the tensor that holds its result,
//! so a runtime can be asked for exactly those values.
//! This module must never run a model: it reads structure only.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::onnx::pb::{GraphProto, ModelProto, NodeProto};

/// What a layer computes, independent of how an exporter spelled it. Serialized as its
/// display name: `"Dense"`, `"Conv"`, or the op type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// `x W (+ b)`: `Gemm`, or `MatMul` with an optional bias `Add`.
    Dense,
    /// `Conv` with an optional bias `Add`.
    Conv,
    /// An element-wise activation or other single op, by its ONNX op type (`Relu`, `Sigmoid`,
    /// `MaxPool`, ...).
    Op(String),
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerKind::Dense => f.write_str("Dense"),
            LayerKind::Conv => f.write_str("Conv"),
            LayerKind::Op(op) => f.write_str(op),
        }
    }
}

impl Serialize for LayerKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One semantic layer: its kind, the tensor holding its result, the nodes it spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub kind: LayerKind,
    pub tensor: String,
    pub nodes: Vec<String>,
    /// The same nodes as indices into the main graph's node list.
    #[serde(skip)]
    pub node_ids: Vec<usize>,
}

/// Ops that move or relabel data without computing new values: not layers.
pub fn is_plumbing(op: &str) -> bool {
    PLUMBING.contains(&op)
}

/// Ops that move or relabel data without computing new values; they are not layers.
const PLUMBING: &[&str] = &[
    "Identity",
    "Reshape",
    "Flatten",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Shape",
    "Gather",
    "Cast",
    "Slice",
    "Concat",
    "Constant",
    "Dropout",
    "ConstantOfShape",
    "Expand",
];

pub(crate) fn node_label(n: &NodeProto, index: usize) -> String {
    match n.name() {
        "" => format!("#{index} ({})", n.op_type()),
        name => name.to_string(),
    }
}

/// Tensors whose value is fixed in the file: initializers and `Constant` outputs.
fn constants(g: &GraphProto) -> BTreeSet<String> {
    let mut c: BTreeSet<String> = g.initializer.iter().map(|t| t.name().to_string()).collect();
    for n in g.node.iter().filter(|n| n.op_type() == "Constant") {
        c.extend(n.output.iter().cloned());
    }
    c
}

/// The semantic layers of the main graph, in graph (topological) order.
pub fn layers(model: &ModelProto) -> Vec<Layer> {
    let Some(g) = model.graph.as_ref() else {
        return Vec::new();
    };
    let consts = constants(g);
    let mut consumers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for input in &n.input {
            consumers.entry(input.as_str()).or_default().push(i);
        }
    }
    // A `MatMul`/`Conv` output consumed only by an `Add` whose other operand is a constant: the
    // pair is one layer ending at the `Add`.
    let bias_add = |i: usize| -> Option<usize> {
        let out = g.node[i].output.first()?;
        match consumers.get(out.as_str()).map(Vec::as_slice) {
            Some([j]) => {
                let add = &g.node[*j];
                let other = add.input.iter().find(|x| *x != out)?;
                (add.op_type() == "Add" && consts.contains(other)).then_some(*j)
            }
            _ => None,
        }
    };
    let mut absorbed = BTreeSet::new();
    let mut out = Vec::new();
    for (i, n) in g.node.iter().enumerate() {
        if absorbed.contains(&i) || PLUMBING.contains(&n.op_type()) {
            continue;
        }
        let Some(first_output) = n.output.first() else {
            continue;
        };
        let (kind, tensor, nodes, node_ids) = match n.op_type() {
            "Gemm" => (
                LayerKind::Dense,
                first_output.clone(),
                vec![node_label(n, i)],
                vec![i],
            ),
            op @ ("MatMul" | "Conv") => {
                let kind = if op == "MatMul" {
                    LayerKind::Dense
                } else {
                    LayerKind::Conv
                };
                match bias_add(i) {
                    Some(j) => {
                        absorbed.insert(j);
                        let add = &g.node[j];
                        (
                            kind,
                            add.output[0].clone(),
                            vec![node_label(n, i), node_label(add, j)],
                            vec![i, j],
                        )
                    }
                    None => (kind, first_output.clone(), vec![node_label(n, i)], vec![i]),
                }
            }
            op => (
                LayerKind::Op(op.to_string()),
                first_output.clone(),
                vec![node_label(n, i)],
                vec![i],
            ),
        };
        out.push(Layer {
            kind,
            tensor,
            nodes,
            node_ids,
        });
    }
    out
}

/// The alignment of two layer sequences: matched pairs in order, and what matched nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alignment {
    /// Indices into the A and B sequences.
    pub pairs: Vec<(usize, usize)>,
    pub unmatched_a: Vec<usize>,
    pub unmatched_b: Vec<usize>,
}

/// Longest common subsequence of the kinds: the largest in-order pairing of same-kind layers.
/// Ties prefer pairing earlier layers, so a layer missing in one graph leaves the other's
/// extra layer unmatched where it stands.
pub fn align(a: &[Layer], b: &[Layer]) -> Alignment {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i].kind == b[j].kind {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut al = Alignment {
        pairs: Vec::new(),
        unmatched_a: Vec::new(),
        unmatched_b: Vec::new(),
    };
    while i < n && j < m {
        if a[i].kind == b[j].kind && lcs[i][j] == lcs[i + 1][j + 1] + 1 {
            al.pairs.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            al.unmatched_a.push(i);
            i += 1;
        } else {
            al.unmatched_b.push(j);
            j += 1;
        }
    }
    al.unmatched_a.extend(i..n);
    al.unmatched_b.extend(j..m);
    al
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Head;
    use crate::model::MlpWeights;
    use crate::model::export::export_mlp;
    use crate::onnx::GraphBuilder;
    use crate::onnx::pb::tensor_proto::DataType;
    use crate::onnx::{Dim, ModelMeta};

    fn kinds(ls: &[Layer]) -> Vec<String> {
        ls.iter().map(|l| l.kind.to_string()).collect()
    }

    /// A tf2onnx-shaped MLP: MatMul + bias Add per layer, Relu, Sigmoid, an Identity at the end.
    fn tf2onnx_like() -> ModelProto {
        let mut g = GraphBuilder::new();
        g.input(
            "input",
            DataType::Float,
            &[Dim::from("unk__6"), Dim::Fixed(4)],
        );
        for (name, r, c) in [("w1", 4, 3), ("w2", 3, 2)] {
            g.initializer_f32(name, &[r, c], &vec![0.0; r * c]).unwrap();
        }
        g.initializer_f32("b1", &[3], &[0.0; 3]).unwrap();
        g.initializer_f32("b2", &[2], &[0.0; 2]).unwrap();
        g.node(
            "MatMul",
            "mlp/dense/MatMul",
            &["input", "w1"],
            &["mm1"],
            vec![],
        );
        g.node("Add", "mlp/dense/BiasAdd", &["mm1", "b1"], &["ba1"], vec![]);
        g.node("Relu", "mlp/dense/Relu", &["ba1"], &["r1"], vec![]);
        g.node("MatMul", "mlp/head/MatMul", &["r1", "w2"], &["mm2"], vec![]);
        g.node("Add", "mlp/head/BiasAdd", &["mm2", "b2"], &["ba2"], vec![]);
        g.node("Sigmoid", "mlp/head/Sigmoid", &["ba2"], &["sig"], vec![]);
        g.node("Identity", "Identity", &["sig"], &["Identity:0"], vec![]);
        g.output(
            "Identity:0",
            DataType::Float,
            &[Dim::from("unk__7"), Dim::Fixed(2)],
        );
        g.finish(ModelMeta::default())
    }

    #[test]
    fn our_export_and_a_tf2onnx_graph_reduce_to_the_same_layers() {
        let w = MlpWeights::glorot_uniform(&[4, 3, 2], 1);
        let ours = crate::onnx::decode_model(&export_mlp(&w, Head::Sigmoid, vec![]).unwrap(), "m")
            .unwrap();
        let a = layers(&ours);
        let b = layers(&tf2onnx_like());
        assert_eq!(kinds(&a), ["Dense", "Relu", "Dense", "Sigmoid"]);
        assert_eq!(kinds(&b), kinds(&a));
        assert_eq!(a[2].tensor, "logits");
        assert_eq!(b[2].tensor, "ba2");
        assert_eq!(b[0].nodes, ["mlp/dense/MatMul", "mlp/dense/BiasAdd"]);
        let al = align(&a, &b);
        assert_eq!(al.pairs, [(0, 0), (1, 1), (2, 2), (3, 3)]);
        assert!(al.unmatched_a.is_empty() && al.unmatched_b.is_empty());
    }

    #[test]
    fn a_layer_missing_on_one_side_is_left_unmatched() {
        let w = MlpWeights::glorot_uniform(&[4, 3, 2], 1);
        let sig = layers(
            &crate::onnx::decode_model(&export_mlp(&w, Head::Sigmoid, vec![]).unwrap(), "m")
                .unwrap(),
        );
        let lgt = layers(
            &crate::onnx::decode_model(&export_mlp(&w, Head::Logits, vec![]).unwrap(), "m")
                .unwrap(),
        );
        let al = align(&sig, &lgt);
        assert_eq!(al.pairs, [(0, 0), (1, 1), (2, 2)]);
        assert_eq!(al.unmatched_a, [3]);
        assert!(al.unmatched_b.is_empty());
    }

    #[test]
    fn matmul_without_constant_bias_stays_a_bare_dense_layer() {
        let mut g = GraphBuilder::new();
        g.input("x", DataType::Float, &[Dim::Fixed(1), Dim::Fixed(2)]);
        g.input("y", DataType::Float, &[Dim::Fixed(1), Dim::Fixed(2)]);
        g.initializer_f32("w", &[2, 2], &[0.0; 4]).unwrap();
        g.node("MatMul", "mm", &["x", "w"], &["z"], vec![]);
        g.node("Add", "add", &["z", "y"], &["s"], vec![]);
        g.output("s", DataType::Float, &[Dim::Fixed(1), Dim::Fixed(2)]);
        let ls = layers(&g.finish(ModelMeta::default()));
        assert_eq!(kinds(&ls), ["Dense", "Add"]);
        assert_eq!(ls[0].tensor, "z");
    }
}
