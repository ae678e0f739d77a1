//! Cutting a few nodes out of a model into a standalone model, and the same cut with every
//! float weight replaced by its absolute value.
//!
//! Why: `compare` runs one layer of a graph on its own, fed another implementation's tensors,
//! to separate a layer's own error from what it inherited, and `reduce` writes the smallest
//! diverging piece of a graph as a model a bug report can carry. Both need a valid model made of
//! some of another model's nodes: those nodes in graph order, the initializers they read (also
//! from inside subgraphs), the cut's inputs and outputs declared with concrete types and dims,
//! and the source's IR version and operator sets. The absolute-value cut computes
//! `sum |w| |x| + |b|` for a dot product when fed `|x|`, the quantity rounding bounds scale with.
//!
//! This module must never run a model or choose what to cut: callers pick the nodes.

use std::collections::BTreeSet;

use tract_onnx::prelude::{DatumType, Tensor, f16};

use super::builder::{GraphBuilder, ModelMeta};
use super::pb::attribute_proto::AttributeType;
use super::pb::tensor_proto::DataType;
use super::pb::{GraphProto, ModelProto, NodeProto, TensorProto};
use super::{Dim, OnnxError, TensorLimits, tensor_from_proto, tensor_to_proto};

/// A tensor crossing the cut: a graph input or output of the cut model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutTensor {
    pub name: String,
    pub elem_type: DataType,
    pub dims: Vec<usize>,
}

/// Names a node reads, its subgraphs' reads of outer-scope names included.
fn reads(node: &NodeProto, out: &mut BTreeSet<String>) {
    out.extend(node.input.iter().filter(|i| !i.is_empty()).cloned());
    for attr in &node.attribute {
        for g in attr.g.iter().chain(&attr.graphs) {
            for n in &g.node {
                reads(n, out);
            }
        }
    }
}

/// The nodes `nodes` (indices into the main graph, kept in graph order) as a model of their
/// own, reading `inputs` and giving `outputs`. Every initializer a kept node reads comes along.
/// `Err` names a node index that does not exist.
pub fn cut(
    model: &ModelProto,
    nodes: &[usize],
    inputs: &[CutTensor],
    outputs: &[CutTensor],
    graph_name: &str,
) -> Result<ModelProto, String> {
    let graph = model.graph.as_ref().ok_or("the model has no graph")?;
    let mut ids: Vec<usize> = nodes.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut b = GraphBuilder::new();
    for t in inputs {
        b.input(&t.name, t.elem_type, &dims(&t.dims));
    }
    let mut read = BTreeSet::new();
    for &i in &ids {
        let n = graph
            .node
            .get(i)
            .ok_or_else(|| format!("node #{i} is not in the graph"))?;
        reads(n, &mut read);
    }
    for t in graph.initializer.iter().filter(|t| read.contains(t.name())) {
        b.push_initializer(t.clone());
    }
    for &i in &ids {
        b.push_node(graph.node[i].clone());
    }
    for t in outputs {
        b.output(&t.name, t.elem_type, &dims(&t.dims));
    }
    let mut m = b.finish(ModelMeta {
        graph_name: graph_name.to_owned(),
        ..ModelMeta::default()
    });
    // The source's versions: the nodes mean what they meant there.
    m.ir_version = model.ir_version;
    m.opset_import = model.opset_import.clone();
    Ok(m)
}

fn dims(d: &[usize]) -> Vec<Dim> {
    d.iter().map(|&n| Dim::Fixed(n as i64)).collect()
}

/// `t` with every element replaced by its absolute value; other element types unchanged.
pub fn abs_tensor(t: &Tensor) -> Tensor {
    fn map<T: tract_onnx::prelude::Datum + Copy>(t: &Tensor, f: impl Fn(T) -> T) -> Tensor {
        match t.to_plain_array_view::<T>() {
            Ok(v) => Tensor::from(v.mapv(f)),
            Err(_) => t.clone(),
        }
    }
    match t.datum_type() {
        DatumType::F32 => map::<f32>(t, f32::abs),
        DatumType::F64 => map::<f64>(t, f64::abs),
        DatumType::F16 => map::<f16>(t, |x| f16::from_f32(x.to_f32().abs())),
        _ => t.clone(),
    }
}

fn is_float(dt: i32) -> bool {
    [DataType::Float, DataType::Double, DataType::Float16]
        .iter()
        .any(|d| *d as i32 == dt)
}

fn abs_proto(t: &TensorProto, limits: TensorLimits) -> Result<TensorProto, OnnxError> {
    if !is_float(t.data_type()) {
        return Ok(t.clone());
    }
    tensor_to_proto(t.name(), &abs_tensor(&tensor_from_proto(t, limits)?))
}

/// The same model with every float initializer and float `Constant` value replaced by its
/// absolute value, and `Gemm`'s `alpha` and `beta` by theirs. Fed `|x|`, a dot product layer
/// (`Gemm`, `MatMul` + `Add`, `Conv`) then computes `sum |w||x| + |b|` per output element, and
/// an `AveragePool` the mean of `|x|`; data movement (reshapes, transposes, gathers) commutes
/// with `abs`, and integer tensors (shapes, indices) are left alone.
pub fn with_abs_weights(model: &ModelProto, limits: TensorLimits) -> Result<ModelProto, OnnxError> {
    let mut m = model.clone();
    if let Some(g) = m.graph.as_mut() {
        abs_graph(g, limits)?;
    }
    Ok(m)
}

fn abs_graph(g: &mut GraphProto, limits: TensorLimits) -> Result<(), OnnxError> {
    for t in &mut g.initializer {
        *t = abs_proto(t, limits)?;
    }
    for n in &mut g.node {
        let op = n.op_type().to_owned();
        for a in &mut n.attribute {
            if let Some(t) = a.t.as_mut()
                && op == "Constant"
            {
                *t = abs_proto(t, limits)?;
            }
            if op == "Constant" && a.r#type() == AttributeType::Float {
                a.f = a.f.map(f32::abs);
            }
            if op == "Gemm" && matches!(a.name(), "alpha" | "beta") {
                a.f = a.f.map(f32::abs);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::attr_float;

    fn two_layers() -> ModelProto {
        let mut g = GraphBuilder::new();
        g.input("x", DataType::Float, &["N".into(), 2.into()]);
        g.initializer_f32("w", &[2, 2], &[1.0, -2.0, -3.0, 4.0])
            .unwrap()
            .initializer_f32("b", &[2], &[-0.5, 0.5])
            .unwrap()
            .initializer_f32("unused", &[1], &[9.0])
            .unwrap();
        g.node(
            "Gemm",
            "g",
            &["x", "w", "b"],
            &["y"],
            vec![attr_float("alpha", -2.0)],
        );
        g.node("Relu", "r", &["y"], &["z"], vec![]);
        g.output("z", DataType::Float, &["N".into(), 2.into()]);
        let mut m = g.finish(ModelMeta::default());
        m.opset_import[0].version = Some(13);
        m
    }

    #[test]
    fn a_cut_keeps_its_nodes_their_initializers_and_the_source_opset() {
        let m = two_layers();
        let t = |name: &str| CutTensor {
            name: name.into(),
            elem_type: DataType::Float,
            dims: vec![3, 2],
        };
        let c = cut(&m, &[1], &[t("y")], &[t("z")], "relu").unwrap();
        let g = c.graph.as_ref().unwrap();
        assert_eq!(g.node.len(), 1);
        assert_eq!(g.node[0].op_type(), "Relu");
        assert!(g.initializer.is_empty(), "Relu reads no initializer");
        assert_eq!(c.opset_import[0].version, Some(13));
        let c = cut(&m, &[0], &[t("x")], &[t("y")], "gemm").unwrap();
        let names: Vec<_> = c
            .graph
            .unwrap()
            .initializer
            .iter()
            .map(|i| i.name().to_owned())
            .collect();
        assert_eq!(names, ["w", "b"]);
        assert!(cut(&m, &[7], &[], &[], "none").unwrap_err().contains("#7"));
    }

    #[test]
    fn abs_weights_make_a_gemm_compute_the_sum_of_absolute_products() {
        let m = with_abs_weights(&two_layers(), TensorLimits::default()).unwrap();
        let g = m.graph.unwrap();
        let w = tensor_from_proto(&g.initializer[0], TensorLimits::default()).unwrap();
        assert_eq!(
            w.to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(g.node[0].attribute[0].f, Some(2.0));
    }
}
