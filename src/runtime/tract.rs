//! tract-onnx running ONNX bytes, as a runtime.
//!
//! When the graph output comes out of a `Sigmoid` node, that node's input is selected as a second
//! output before optimization, so the true logits are read from the same run (the optimizer then
//! keeps the tensor alive instead of fusing it away).

use std::sync::Arc;

use ndarray::{Array2, ArrayView2, Ix2};
use prost::Message;
use tract_onnx::prelude::{
    Framework, InferenceModelExt, IntoRunnable, Tensor, TypedRunnableModel, TypedSimpleState, tvec,
};

use super::{Prediction, Runtime, RuntimeError};
use crate::onnx::pb::ModelProto;

pub struct TractRuntime {
    name: String,
    /// One state spawned from the optimized plan and reused by every `predict` (spawning one per
    /// call, as `plan.run` does, costs a third of a batch-1 call).
    state: TypedSimpleState,
    /// Whether a second output (the logits under a final Sigmoid) was selected.
    has_logits_output: bool,
}

/// The tensor feeding the node that produces graph output `output`, if that node is a Sigmoid.
fn sigmoid_input(model: &ModelProto, output: &str) -> Option<String> {
    let graph = model.graph.as_ref()?;
    let node = graph
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == output))?;
    (node.op_type() == "Sigmoid")
        .then(|| node.input.first().cloned())
        .flatten()
}

impl TractRuntime {
    /// Load and optimize a model from ONNX bytes. `name` labels reports and errors.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> Result<Self, RuntimeError> {
        let name = name.into();
        let fail = |message: String| RuntimeError::Load {
            model: name.clone(),
            message,
        };
        let proto = ModelProto::decode(bytes)
            .map_err(|e| fail(format!("not a valid ONNX protobuf: {e}")))?;
        let output = proto
            .graph
            .as_ref()
            .and_then(|g| g.output.first())
            .map(|o| o.name().to_string())
            .ok_or_else(|| fail("the graph declares no output".to_string()))?;
        let logits = sigmoid_input(&proto, &output);
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(|e| fail(format!("tract could not load the graph: {e:#}")))?;
        if let Some(logits) = &logits {
            model
                .select_outputs_by_name([output.as_str(), logits.as_str()])
                .map_err(|e| fail(format!("selecting outputs {output} and {logits}: {e:#}")))?;
        }
        let plan: Arc<TypedRunnableModel> = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| fail(format!("tract could not optimize the graph: {e:#}")))?;
        let state = plan
            .spawn()
            .map_err(|e| fail(format!("tract could not prepare a run: {e:#}")))?;
        Ok(Self {
            name,
            state,
            has_logits_output: logits.is_some(),
        })
    }
}

fn to_array2(t: &Tensor) -> Result<Array2<f32>, String> {
    let view = t
        .to_plain_array_view::<f32>()
        .map_err(|e| format!("output is not f32: {e:#}"))?;
    view.into_dimensionality::<Ix2>()
        .map(|v| v.to_owned())
        .map_err(|_| format!("output has shape {:?}, expected 2 dims", t.shape()))
}

impl Runtime for TractRuntime {
    fn name(&self) -> &str {
        &self.name
    }

    fn predict(&mut self, x: ArrayView2<f32>) -> Result<Prediction, RuntimeError> {
        let fail = |message: String| RuntimeError::Run {
            model: self.name.clone(),
            shape: x.shape().to_vec(),
            message,
        };
        // One copy into tract's aligned buffer (an owned ndarray first would make it two).
        let input = match x.as_slice() {
            Some(row_major) => Tensor::from_shape(x.shape(), row_major),
            None => Ok(x.to_owned().into()),
        }
        .map_err(|e| fail(format!("{e:#}")))?;
        let outputs = self
            .state
            .run(tvec![input.into()])
            .map_err(|e| fail(format!("{e:#}")))?;
        let output = to_array2(&outputs[0]).map_err(fail)?;
        let logits = if self.has_logits_output {
            to_array2(&outputs[1]).map_err(fail)?
        } else {
            output.clone()
        };
        Ok(Prediction { output, logits })
    }
}
