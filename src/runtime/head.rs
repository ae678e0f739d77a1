//! The true logits under a sigmoid head, read from any runnable.
//!
//! A Keras model with a sigmoid head exports a graph whose output is a `Sigmoid` (possibly
//! behind `Identity` nodes). Its probabilities saturate, so losses are only exact from the
//! logits: the `Sigmoid`'s input, fetched from the same run as the output. This is the one place
//! that finds that tensor; [`predict`] is the shortcut for a model with one f32 input, one sample
//! per row.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Ix2};
use tract_onnx::prelude::Tensor;

use super::{Feed, Runnable, RuntimeError};
use crate::onnx::DimDecl;
use crate::onnx::pb::GraphProto;

/// A graph output computed by a `Sigmoid` (possibly through `Identity` nodes): the case of a
/// Keras model with a sigmoid head. `logits` is the Sigmoid's input tensor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SigmoidHead {
    pub output: String,
    pub node: String,
    pub logits: String,
}

/// Graph outputs produced by a `Sigmoid`, looking through `Identity` nodes.
pub fn sigmoid_heads(graph: &GraphProto) -> BTreeMap<String, SigmoidHead> {
    let producer = |tensor: &str| {
        graph
            .node
            .iter()
            .find(|n| n.output.iter().any(|o| o == tensor))
    };
    let mut heads = BTreeMap::new();
    for output in &graph.output {
        let mut tensor = output.name();
        // Bounded: a malformed graph may loop through Identity nodes.
        for _ in 0..16 {
            let Some(node) = producer(tensor) else { break };
            let Some(input) = node.input.first().filter(|i| !i.is_empty()) else {
                break;
            };
            let op = node.op_type();
            if op == "Identity" && node.domain().is_empty() {
                tensor = input;
                continue;
            }
            if op == "Sigmoid" && node.domain().is_empty() {
                heads.insert(
                    output.name().to_owned(),
                    SigmoidHead {
                        output: output.name().to_owned(),
                        node: node.name().to_owned(),
                        logits: input.clone(),
                    },
                );
            }
            break;
        }
    }
    heads
}

/// The sigmoid head under `output` of a runnable's graph, if it has one.
pub fn sigmoid_head(model: &dyn Runnable, output: &str) -> Option<SigmoidHead> {
    let graph = model.graph()?.graph.as_ref()?;
    sigmoid_heads(graph).remove(output)
}

/// What a model computed for a batch of samples: its (first) output and its true logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The graph output (logits or probabilities, as the head decides).
    pub output: Array2<f32>,
    /// The graph output for a logits head; the input of the final `Sigmoid` for a sigmoid
    /// head, read from the same run.
    pub logits: Array2<f32>,
}

/// The shape to feed `n` samples of `features` values each to an input declared `dims`: the
/// declared fixed dims after the batch when they hold exactly `features` values (an NHWC image
/// input `[N, 28, 28, 1]` takes rows of 784 pixels), else `[n, features]`.
fn feed_shape(dims: Option<&[DimDecl]>, n: usize, features: usize) -> Vec<usize> {
    let sample: Option<Vec<usize>> = dims
        .and_then(|d| d.get(1..))
        .filter(|rest| rest.len() > 1)
        .and_then(|rest| {
            rest.iter()
                .map(|d| match d {
                    DimDecl::Fixed(v) => usize::try_from(*v).ok(),
                    _ => None,
                })
                .collect()
        });
    match sample {
        Some(sample) if sample.iter().product::<usize>() == features => {
            std::iter::once(n).chain(sample).collect()
        }
        _ => vec![n, features],
    }
}

/// Runs a model that takes one f32 input of `features` values per sample (`x` holds one sample
/// per row, reshaped to the declared input shape when that is an image) and returns its first
/// output and the logits under it.
pub fn predict(model: &mut dyn Runnable, x: ArrayView2<f32>) -> Result<Prediction, RuntimeError> {
    let label = model.label().to_owned();
    let request = |message: String| RuntimeError::Request {
        model: label.clone(),
        message,
    };
    let sig = model.signature();
    let (Some(input), Some(output)) = (sig.inputs.first(), sig.outputs.first()) else {
        return Err(request("it declares no input or no output".to_owned()));
    };
    let shape = feed_shape(input.dims.as_deref(), x.nrows(), x.ncols());
    let (input, output) = (input.name.clone(), output.name.clone());
    let mut fetch = vec![output.clone()];
    fetch.extend(sigmoid_head(model, &output).map(|h| h.logits));
    // One copy into a tensor (an owned ndarray first would make it two).
    let x = match x.as_slice() {
        Some(row_major) => Tensor::from_shape(&shape, row_major),
        None => Tensor::from_shape(&shape, &x.iter().copied().collect::<Vec<_>>()),
    }
    .map_err(|e| request(format!("{e:#}")))?;
    let mut values = model
        .run(&[Feed::new(input, x)], &fetch)?
        .values
        .into_iter();
    let mut next = |name: &str| -> Result<Array2<f32>, RuntimeError> {
        let t = values.next().expect("one value per fetched name");
        let view = t
            .to_plain_array_view::<f32>()
            .map_err(|e| request(format!("'{name}' is not f32: {e:#}")))?;
        view.into_dimensionality::<Ix2>()
            .map(|v| v.to_owned())
            .map_err(|_| {
                request(format!(
                    "'{name}' has shape {:?}, expected 2 dims",
                    t.shape()
                ))
            })
    };
    let output_values = next(&output)?;
    let logits = match fetch.get(1) {
        Some(name) => next(name)?,
        None => output_values.clone(),
    };
    Ok(Prediction {
        output: output_values,
        logits,
    })
}
