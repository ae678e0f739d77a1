//! Sizes a graph asks for through tensor *values*, checked before tract folds them.
//!
//! Header dims are checked against the payload that backs them, but some operators take the
//! size of what they create from another tensor's values: `ConstantOfShape(shape)`,
//! `Expand(x, shape)`, `Tile(x, repeats)`, `Range(start, limit, delta)`, `Resize` sizes and
//! scales, `OneHot` depth, the `shape` attribute of the random generators. When those operands
//! are constants (in the file, or inputs bound as constants), tract evaluates the node while it
//! analyses the graph, so a 150-byte model could allocate gigabytes (found by the fuzz target).
//! Here such operands are read and the sizes they imply are held to [`TensorLimits`]. A runtime
//! that takes those operands from the inputs at run time (onnxruntime) checks the fed values
//! the same way before each run ([`check_graph_fed`]); values computed inside the graph while
//! it runs are the runtime's business.

use tract_onnx::prelude::{DatumType, Tensor};

use crate::onnx::pb::{GraphProto, NodeProto, TensorProto};
use crate::onnx::{TensorLimits, tensor_from_proto};

/// Bytes assumed per element of a created tensor (float32, the common case).
const ELEMENT_BYTES: f64 = 4.0;

/// Operands (by input position) that carry a size, per operator of the default domain.
fn size_operands(op: &str) -> &'static [usize] {
    match op {
        "ConstantOfShape" => &[0],
        "Expand" | "Tile" | "OneHot" | "Upsample" => &[1],
        "Range" => &[0, 1, 2],
        "Resize" => &[2, 3],
        _ => &[],
    }
}

fn within(elements: f64, limits: TensorLimits) -> bool {
    elements.is_finite()
        && elements <= limits.max_elements as f64
        && elements * ELEMENT_BYTES <= limits.max_bytes as f64
}

fn values(t: &Tensor) -> Option<Vec<f64>> {
    let c = t.cast_to_dt(DatumType::F64).ok()?;
    let v = c.to_plain_array_view::<f64>().ok()?;
    Some(v.iter().copied().collect())
}

/// The number of elements a size operand's values imply, as f64 (never overflows).
fn implied_elements(op: &str, slot: usize, v: &[f64], range: Option<&[f64; 3]>) -> f64 {
    match (op, range) {
        ("Range", Some([start, limit, delta])) if slot == 2 => {
            if *delta == 0.0 {
                0.0
            } else {
                ((limit - start) / delta).ceil().max(0.0)
            }
        }
        // Shapes, repeats, sizes, depths multiply; scales multiply the input's own size, which
        // its header bounds, so their product is the growth factor.
        _ => v.iter().map(|x| x.abs().max(1.0)).product(),
    }
}

/// Checks the size operands that are constants in `graph` (initializers or `Constant` nodes),
/// subgraphs included. `Err` names the node.
pub fn check_graph(graph: &GraphProto, limits: TensorLimits) -> Result<(), String> {
    check_graph_fed(graph, limits, &|_| None, "a runtime")
}

/// [`check_graph`] with graph inputs' values too: `fed(name)` is the value an input is given for
/// this run, if the caller wants it checked. `engine` names who would build the tensor.
pub fn check_graph_fed<'t>(
    graph: &GraphProto,
    limits: TensorLimits,
    fed: &dyn Fn(&str) -> Option<&'t Tensor>,
    engine: &str,
) -> Result<(), String> {
    check_at_depth(graph, limits, fed, engine, 0)
}

fn check_at_depth<'t>(
    graph: &GraphProto,
    limits: TensorLimits,
    fed: &dyn Fn(&str) -> Option<&'t Tensor>,
    engine: &str,
    depth: usize,
) -> Result<(), String> {
    if depth > 32 {
        return Ok(());
    }
    let constant = |name: &str| -> Option<&TensorProto> {
        graph
            .initializer
            .iter()
            .find(|t| t.name() == name)
            .or_else(|| {
                graph
                    .node
                    .iter()
                    .find(|n| n.op_type() == "Constant" && n.output.iter().any(|o| o == name))
                    .and_then(|n| n.attribute.iter().find(|a| a.name() == "value"))
                    .and_then(|a| a.t.as_ref())
            })
    };
    // Decoded with the limits already checked for this file; failures are left to the runtime.
    let value = |name: &str| -> Option<Vec<f64>> {
        if let Some(t) = fed(name) {
            return values(t);
        }
        values(&tensor_from_proto(constant(name)?, limits).ok()?)
    };
    for node in &graph.node {
        check_node(node, &value, limits, engine)?;
        for a in &node.attribute {
            for sub in a.g.iter().chain(&a.graphs) {
                check_at_depth(sub, limits, fed, engine, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn check_node(
    node: &NodeProto,
    value: &impl Fn(&str) -> Option<Vec<f64>>,
    limits: TensorLimits,
    engine: &str,
) -> Result<(), String> {
    let op = node.op_type();
    let name = if node.name().is_empty() {
        node.output.first().map_or("", String::as_str)
    } else {
        node.name()
    };
    let too_big = |what: &str, n: f64| {
        format!(
            "node {name} ({op}): {what} asks for {n:e} elements, more than the {} element / \
             {} byte limit; refusing to let {engine} build it",
            limits.max_elements, limits.max_bytes
        )
    };
    if matches!(op, "RandomNormal" | "RandomUniform")
        && let Some(a) = node.attribute.iter().find(|a| a.name() == "shape")
    {
        let n: f64 = a.ints.iter().map(|&d| (d as f64).abs().max(1.0)).product();
        if !within(n, limits) {
            return Err(too_big("attribute 'shape'", n));
        }
    }
    let slots = size_operands(op);
    if slots.is_empty() {
        return Ok(());
    }
    let read = |slot: usize| -> Option<Vec<f64>> {
        let input = node.input.get(slot).filter(|s| !s.is_empty())?;
        value(input)
    };
    let range = if op == "Range" {
        match (read(0), read(1), read(2)) {
            (Some(s), Some(l), Some(d)) if s.len() == 1 && l.len() == 1 && d.len() == 1 => {
                Some([s[0], l[0], d[0]])
            }
            _ => None,
        }
    } else {
        None
    };
    for &slot in slots {
        if op == "Range" && slot != 2 {
            continue;
        }
        let Some(v) = read(slot).or_else(|| range.map(|r| r.to_vec())) else {
            continue;
        };
        let n = implied_elements(op, slot, &v, range.as_ref());
        if !within(n, limits) {
            return Err(too_big(&format!("input {slot}"), n));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::pb::tensor_proto::DataType;
    use crate::onnx::{GraphBuilder, ModelMeta, attr_ints, tensor_to_proto};
    use ndarray::arr1;

    fn limits() -> TensorLimits {
        TensorLimits {
            max_elements: 1 << 20,
            max_bytes: 16 << 20,
        }
    }

    fn graph_with(op: &str, inputs: &[&str], consts: &[(&str, Tensor)]) -> GraphProto {
        let mut b = GraphBuilder::new();
        b.input("x", DataType::Float, &[1.into()])
            .node(op, "n", inputs, &["y"], vec![])
            .output("y", DataType::Float, &[]);
        let mut g = b.finish(ModelMeta::default()).graph.unwrap();
        for (name, t) in consts {
            g.initializer.push(tensor_to_proto(name, t).unwrap());
        }
        g
    }

    fn i64s(v: &[i64]) -> Tensor {
        Tensor::from(arr1(v).into_dyn())
    }

    #[test]
    fn fed_values_are_checked_like_constants() {
        let g = graph_with("ConstantOfShape", &["x"], &[]);
        let huge = i64s(&[4, 1 << 40]);
        let fed = |name: &str| (name == "x").then_some(&huge);
        let err = check_graph_fed(&g, limits(), &fed, "onnxruntime").unwrap_err();
        assert!(
            err.contains("refusing to let onnxruntime build it"),
            "{err}"
        );
        let small = i64s(&[4, 3]);
        let fed = |name: &str| (name == "x").then_some(&small);
        assert!(check_graph_fed(&g, limits(), &fed, "onnxruntime").is_ok());
    }

    #[test]
    fn constant_shapes_beyond_the_limits_are_refused() {
        let huge = graph_with("ConstantOfShape", &["s"], &[("s", i64s(&[4, 1 << 40, 2]))]);
        let err = check_graph(&huge, limits()).unwrap_err();
        assert!(
            err.contains("node n (ConstantOfShape): input 0 asks for")
                && err.contains("refusing to let a runtime build it"),
            "{err}"
        );
        let fine = graph_with("ConstantOfShape", &["s"], &[("s", i64s(&[4, 3, 2]))]);
        assert!(check_graph(&fine, limits()).is_ok());
        let expand = graph_with("Expand", &["x", "s"], &[("s", i64s(&[1 << 30, 1 << 30]))]);
        assert!(check_graph(&expand, limits()).is_err());
        // A shape computed at run time is not ours to judge.
        let runtime = graph_with("ConstantOfShape", &["x"], &[]);
        assert!(check_graph(&runtime, limits()).is_ok());
    }

    #[test]
    fn range_counts_its_steps() {
        let f = |v: f32| Tensor::from(v);
        let steps = graph_with(
            "Range",
            &["a", "b", "c"],
            &[("a", f(0.0)), ("b", f(10.0)), ("c", f(1e-9))],
        );
        assert!(check_graph(&steps, limits()).is_err());
        let ok = graph_with(
            "Range",
            &["a", "b", "c"],
            &[("a", f(0.0)), ("b", f(10.0)), ("c", f(0.5))],
        );
        assert!(check_graph(&ok, limits()).is_ok());
    }

    #[test]
    fn random_shape_attributes_are_checked() {
        let mut b = GraphBuilder::new();
        b.node(
            "RandomNormal",
            "r",
            &[],
            &["y"],
            vec![attr_ints("shape", &[1 << 20, 1 << 20])],
        )
        .output("y", DataType::Float, &[]);
        let g = b.finish(ModelMeta::default()).graph.unwrap();
        assert!(check_graph(&g, limits()).is_err());
    }
}
