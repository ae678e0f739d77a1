//! A layer's own error: A's layer cut out of its graph and run alone on B's tensors.
//!
//! Why: the difference at a layer's output is what the layer did plus everything it inherited,
//! so after a real bug every later layer looks guilty too. Fed B's values of its inputs, A's
//! layer can only differ from B's by its own arithmetic; that local error is what the rounding
//! bound ([`super::bound`]) judges.
//!
//! The cut is the layer's nodes plus the plumbing upstream of them (reshapes, transposes,
//! casts, shape arithmetic), back to tensors that B also has: graph inputs and other layers'
//! results ([`Cut`]). It is written as a standalone model by the ONNX builder
//! ([`crate::onnx::cut`]), opened like any model file and run by the runtime that runs side A
//! (never by tract directly). The same cut with absolute weights, fed `|x|`, gives the sums the
//! dot-product bound scales with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use ndarray::ArrayD;
use serde::Serialize;
use tract_onnx::prelude::{DatumType, Tensor};

use super::bound::{
    BoundReport, RoundingVerdict, Types, bound, rule_for, unit_roundoff, worst_ratio,
};
use super::layers::{Layer, is_plumbing, node_label};
use crate::metrics::{Metrics, Tolerance, compare_tensors, datum_name};
use crate::onnx::pb::{GraphProto, ModelProto};
use crate::onnx::{CutTensor, abs_tensor, encode_model, onnx_data_type, with_abs_weights};
use crate::runtime::{Feed, OnnxModel, Runtime};

/// Nodes of A's graph that compute some tensor from tensors outside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// Indices into the main graph's nodes, in graph order.
    pub nodes: Vec<usize>,
    /// Tensors read from outside the cut (not constants), in the order first met.
    pub inputs: Vec<String>,
    pub output: String,
}

/// The cut computing `output` from `core` (a layer's nodes, or several layers'): the core
/// nodes plus every plumbing node upstream of them, up to graph inputs, constants, tensors
/// made by other (non-plumbing) nodes, and tensors `start` accepts (those the other side has a
/// value for, so that a `Cast` back from another precision is not cut in front of a layer).
pub fn closure(
    graph: &GraphProto,
    core: &[usize],
    output: &str,
    start: &dyn Fn(&str) -> bool,
) -> Cut {
    let producer: BTreeMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let constant: BTreeSet<&str> = graph.initializer.iter().map(|t| t.name()).collect();
    let mut nodes: BTreeSet<usize> = core.iter().copied().collect();
    let mut inputs: Vec<String> = Vec::new();
    let reads = |i: usize| -> Vec<String> {
        let mut r = BTreeSet::new();
        let n = &graph.node[i];
        let mut own: Vec<String> = n.input.iter().filter(|s| !s.is_empty()).cloned().collect();
        // Subgraphs may read outer-scope tensors too.
        for a in &n.attribute {
            for g in a.g.iter().chain(&a.graphs) {
                for sub in &g.node {
                    r.extend(sub.input.iter().filter(|s| !s.is_empty()).cloned());
                }
            }
        }
        own.extend(r);
        own
    };
    let mut stack: Vec<String> = core.iter().flat_map(|&i| reads(i)).collect();
    stack.reverse();
    let mut seen = BTreeSet::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t.clone()) || constant.contains(t.as_str()) {
            continue;
        }
        match producer.get(t.as_str()) {
            Some(p) if nodes.contains(p) => {}
            _ if start(&t) => inputs.push(t),
            Some(&p) if is_plumbing(graph.node[p].op_type()) => {
                nodes.insert(p);
                let mut more = reads(p);
                more.reverse();
                stack.extend(more);
            }
            _ => inputs.push(t),
        }
    }
    Cut {
        nodes: nodes.into_iter().collect(),
        inputs,
        output: output.to_owned(),
    }
}

/// A cut run on given values: the model it became and the runtime that ran it.
pub struct CutRun<'a> {
    pub model: &'a Arc<OnnxModel>,
    pub runtime: &'a dyn Runtime,
    /// Names the cut in errors: `MODEL [layer 2]`.
    pub label: String,
}

impl CutRun<'_> {
    /// The cut as a standalone model fed `feeds` (named like the cut's inputs, in its order).
    pub fn model(
        &self,
        cut: &Cut,
        feeds: &[Feed],
        output: (DatumType, &[usize]),
    ) -> Result<ModelProto, String> {
        let decl = |name: &str, dt: DatumType, dims: &[usize]| -> Result<CutTensor, String> {
            Ok(CutTensor {
                name: name.to_owned(),
                elem_type: onnx_data_type(dt)
                    .ok_or_else(|| format!("'{name}': element type {dt:?} has no ONNX type"))?,
                dims: dims.to_vec(),
            })
        };
        let inputs = feeds
            .iter()
            .map(|f| decl(&f.name, f.value.datum_type(), f.value.shape()))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = [decl(&cut.output, output.0, output.1)?];
        crate::onnx::cut(
            &self.model.proto,
            &cut.nodes,
            &inputs,
            &outputs,
            &self.label,
        )
    }

    /// Runs the cut on `feeds` and returns its output. With `abs`, every float weight and feed
    /// is replaced by its absolute value first.
    pub fn run(
        &self,
        cut: &Cut,
        feeds: &[Feed],
        output: (DatumType, &[usize]),
        abs: bool,
    ) -> Result<Tensor, String> {
        let mut proto = self.model(cut, feeds, output)?;
        let mut feeds = feeds.to_vec();
        if abs {
            proto = with_abs_weights(&proto, self.model.limits())
                .map_err(|e| crate::error_chain(&e))?;
            for f in &mut feeds {
                f.value = Arc::new(abs_tensor(&f.value));
            }
        }
        let bytes = encode_model(&proto);
        let m = OnnxModel::from_bytes(
            &bytes,
            Path::new(&self.label),
            self.model.dir(),
            self.model.limits(),
        )
        .map_err(|e| crate::error_chain(&e))?;
        let mut r = self
            .runtime
            .prepare(&m)
            .map_err(|e| crate::error_chain(&e))?;
        let mut out = r
            .run(&feeds, std::slice::from_ref(&cut.output))
            .map_err(|e| crate::error_chain(&e))?;
        Ok(out.values.remove(0))
    }
}

/// A float tensor in another float type (`None` for other types).
pub fn cast_float(t: &Tensor, dt: DatumType) -> Option<Tensor> {
    if t.datum_type() == dt {
        return Some(t.clone());
    }
    let float = |d: DatumType| matches!(d, DatumType::F16 | DatumType::F32 | DatumType::F64);
    if !(float(t.datum_type()) && float(dt)) {
        return None;
    }
    t.cast_to_dt(dt).ok().map(|c| c.into_owned())
}

/// A float tensor's values widened to f64 (exactly).
pub fn as_f64(t: &Tensor) -> Option<ArrayD<f64>> {
    cast_float(t, DatumType::F64)?
        .into_plain_array::<f64>()
        .ok()
}

/// A value compared in the reference's element type: `(metrics, cast)`, where `cast` says
/// which conversion was made (`"DOUBLE -> FLOAT"`) when the float types differ.
pub fn compare_as_reference(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
) -> (Result<Metrics, String>, Option<String>) {
    let (at, et) = (actual.datum_type(), expected.datum_type());
    let cast = (at != et)
        .then(|| cast_float(actual, et))
        .flatten()
        .map(|c| (c, format!("{} -> {}", datum_name(at), datum_name(et))));
    match cast {
        Some((c, how)) => (
            compare_tensors(&c, expected, tol).map_err(|e| e.to_string()),
            Some(how),
        ),
        None => (
            compare_tensors(actual, expected, tol).map_err(|e| e.to_string()),
            None,
        ),
    }
}

/// The local error of one layer as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalReport {
    /// The nodes of A that ran, plumbing included.
    pub nodes: Vec<String>,
    /// Which B tensor fed each input of the cut: `A name <- B name`.
    pub inputs: Vec<String>,
    pub metrics: Option<Metrics>,
    /// Set when the cut could not run or its result cannot be compared.
    pub problem: Option<String>,
    /// A conversion made before comparing (`"DOUBLE -> FLOAT"`).
    pub cast: Option<String>,
}

/// What the local run of one layer needs: A's graph and how to run a cut of it, both sides'
/// values by tensor name (feeds included), and which B tensor stands for which A tensor.
pub struct Context<'a> {
    pub graph: &'a GraphProto,
    /// `None` when side A is not an ONNX file (its layers cannot run alone).
    pub run: Option<CutRun<'a>>,
    pub values_a: &'a BTreeMap<String, Tensor>,
    pub values_b: &'a BTreeMap<String, Tensor>,
    pub counterpart: &'a BTreeMap<String, String>,
    pub tolerance: Tolerance,
}

/// A layer's local error, its bound, and what rounding says.
pub struct Assessment {
    pub local: LocalReport,
    pub bound: Option<BoundReport>,
    pub rounding_ratio: Option<f64>,
    pub verdict: RoundingVerdict,
}

impl Context<'_> {
    /// Runs A's `layer` on B's inputs to it and compares the result with B's `tensor_b`;
    /// judges the difference against the rounding bound when `judge` (a matched pair: the
    /// same computation on both sides).
    pub fn assess(&self, layer: &Layer, tensor_b: &str, judge: bool) -> Option<Assessment> {
        let run = self.run.as_ref()?;
        let c = closure(self.graph, &layer.node_ids, &layer.tensor, &|t| {
            self.counterpart.contains_key(t)
        });
        let mut local = LocalReport {
            nodes: c
                .nodes
                .iter()
                .map(|&i| node_label(&self.graph.node[i], i))
                .collect(),
            inputs: Vec::new(),
            metrics: None,
            problem: None,
            cast: None,
        };
        let not_computed = |local: LocalReport| Assessment {
            local,
            bound: None,
            rounding_ratio: None,
            verdict: RoundingVerdict::NotComputed,
        };
        let feeds = match self.feeds(&c, &mut local.inputs) {
            Ok(f) => f,
            Err(problem) => {
                local.problem = Some(problem);
                return Some(not_computed(local));
            }
        };
        let (Some(own), Some(expected)) = (
            self.values_a.get(&layer.tensor),
            self.values_b.get(tensor_b),
        ) else {
            local.problem = Some("the layer's result was not fetched from both sides".into());
            return Some(not_computed(local));
        };
        let output = (own.datum_type(), own.shape());
        let actual = match run.run(&c, &feeds, output, false) {
            Ok(t) => t,
            Err(e) => {
                local.problem = Some(format!("the cut did not run: {e}"));
                return Some(not_computed(local));
            }
        };
        let (metrics, cast) = compare_as_reference(&actual, expected, &self.tolerance);
        local.cast = cast;
        match metrics {
            Ok(m) => local.metrics = Some(m),
            Err(problem) => {
                local.problem = Some(problem);
                return Some(not_computed(local));
            }
        }
        if !judge {
            return Some(not_computed(local));
        }
        let first = &self.graph.node[layer.node_ids[0]];
        let no_bound = |local| Assessment {
            local,
            bound: None,
            rounding_ratio: None,
            verdict: RoundingVerdict::NoBound,
        };
        let Some(rule) = rule_for(&layer.kind, first, self.graph) else {
            return Some(no_bound(local));
        };
        let s = if rule.needs_abs_run() {
            match run.run(&c, &feeds, output, true) {
                Ok(t) => as_f64(&t),
                Err(e) => {
                    local.problem = Some(format!("the absolute-value cut did not run: {e}"));
                    return Some(no_bound(local));
                }
            }
        } else {
            None
        };
        let reference = expected.datum_type();
        let types = Types {
            a: actual.datum_type(),
            b: reference,
            reference,
        };
        let (Some(y), Some(a)) = (
            as_f64(expected),
            cast_float(&actual, reference).and_then(|t| as_f64(&t)),
        ) else {
            return Some(no_bound(local));
        };
        let Some(b) = bound(
            &rule,
            types,
            &y.view(),
            s.as_ref().map(|s| s.view()).as_ref(),
        ) else {
            return Some(no_bound(local));
        };
        let worst = worst_ratio(&a.view(), &y.view(), &b.view());
        let ratio = worst.as_ref().map_or(0.0, |w| w.ratio);
        let unit = |dt| unit_roundoff(dt).map_or(f64::NAN, |(u, _)| u);
        Some(Assessment {
            bound: Some(BoundReport {
                formula: rule.describe(),
                rule,
                unit_roundoff_a: unit(types.a),
                unit_roundoff_b: unit(types.b),
                max: b.iter().copied().fold(0.0, f64::max),
                worst,
            }),
            rounding_ratio: Some(ratio),
            verdict: if ratio <= 1.0 {
                RoundingVerdict::WithinRounding
            } else {
                RoundingVerdict::BeyondRounding
            },
            local,
        })
    }

    /// B's values for the cut's inputs, in A's element types, named as A names them.
    pub fn feeds(&self, c: &Cut, described: &mut Vec<String>) -> Result<Vec<Feed>, String> {
        let mut feeds = Vec::new();
        for name in &c.inputs {
            let b_name = self.counterpart.get(name).ok_or_else(|| {
                format!("its input '{name}' comes from a layer that has no counterpart in B")
            })?;
            let (Some(b), Some(a)) = (self.values_b.get(b_name), self.values_a.get(name)) else {
                return Err(format!("'{name}' or '{b_name}' was not fetched"));
            };
            if a.shape() != b.shape() {
                return Err(format!(
                    "its input '{name}' has shape {:?} in A, B's '{b_name}' has {:?}",
                    a.shape(),
                    b.shape()
                ));
            }
            let value = cast_float(b, a.datum_type())
                .or_else(|| (a.datum_type() == b.datum_type()).then(|| b.clone()))
                .ok_or_else(|| {
                    format!(
                        "its input '{name}' is {} in A, B's '{b_name}' is {}",
                        datum_name(a.datum_type()),
                        datum_name(b.datum_type())
                    )
                })?;
            described.push(format!("{name} <- {b_name}"));
            feeds.push(Feed::new(name.clone(), Arc::new(value)));
        }
        Ok(feeds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::pb::tensor_proto::DataType;
    use crate::onnx::{Dim, GraphBuilder, ModelMeta};

    /// A tf2onnx-like CNN tail: pool -> Transpose -> Shape/Gather/Concat -> Reshape -> MatMul -> Add.
    #[test]
    fn a_cut_takes_the_plumbing_upstream_back_to_the_previous_layer() {
        let mut g = GraphBuilder::new();
        g.input("x", DataType::Float, &[Dim::Fixed(1), Dim::Fixed(4)]);
        g.initializer_f32("w", &[4, 2], &[0.0; 8]).unwrap();
        g.initializer_f32("b", &[2], &[0.0; 2]).unwrap();
        g.node("Relu", "relu", &["x"], &["r"], vec![]);
        g.node("Transpose", "t", &["r"], &["rt"], vec![]);
        g.node("Shape", "s", &["r"], &["shape"], vec![]);
        g.node("Reshape", "reshape", &["rt", "shape"], &["flat"], vec![]);
        g.node("MatMul", "mm", &["flat", "w"], &["m"], vec![]);
        g.node("Add", "add", &["m", "b"], &["y"], vec![]);
        g.output("y", DataType::Float, &[Dim::Fixed(1), Dim::Fixed(2)]);
        let m = g.finish(ModelMeta::default());
        let graph = m.graph.as_ref().unwrap();
        let none = |_: &str| false;
        let c = closure(graph, &[4, 5], "y", &none);
        assert_eq!(c.nodes, [1, 2, 3, 4, 5]);
        assert_eq!(c.inputs, ["r"], "stops at the Relu's result");
        let c = closure(graph, &[0], "r", &none);
        assert_eq!((c.nodes, c.inputs), (vec![0], vec!["x".to_owned()]));
        // A tensor the other side has stops the walk early.
        let c = closure(graph, &[4, 5], "y", &|t| t == "flat");
        assert_eq!((c.nodes, c.inputs), (vec![4, 5], vec!["flat".to_owned()]));
    }
}
