//! The trained graph itself, in burn, as a runnable: from weights on disk or in memory.
//!
//! Its signature and tensor names are those of our ONNX export of the same weights (input
//! `input`, output `logits` or `probabilities`, intermediates `dense/linear`, `dense/relu`, ...),
//! so a comparison lines it up with any ONNX runtime by name, and [`Runnable::graph`] is that
//! export, built on first use, for layer matching.

use std::cell::OnceCell;

use ndarray::{Array2, Ix2};
use tract_onnx::prelude::{DatumType, Tensor};

use super::{Feed, RunOutput, Runnable, RuntimeError};
use crate::loss::Head;
use crate::model::burn_mlp::{self, BurnMlp};
use crate::model::export::{self, INPUT, LOGITS, PROBABILITIES};
use crate::model::weights::MlpWeights;
use crate::onnx::pb::ModelProto;
use crate::onnx::pb::tensor_proto::DataType;
use crate::onnx::{DimDecl, Signature, TensorDecl};

pub struct BurnMlpRunnable {
    label: String,
    model: BurnMlp,
    head: Head,
    weights: MlpWeights,
    signature: Signature,
    graph: OnceCell<ModelProto>,
}

impl BurnMlpRunnable {
    /// The burn graph of `weights` with `head`. `label` names it in reports and errors.
    pub fn new(label: impl Into<String>, weights: &MlpWeights, head: Head) -> Self {
        let batch = || DimDecl::Symbolic("N".to_owned());
        let float = DataType::Float as i32;
        let signature = Signature {
            inputs: vec![TensorDecl::tensor(
                INPUT,
                float,
                vec![batch(), DimDecl::Fixed(weights.input_dim() as i64)],
            )],
            outputs: vec![TensorDecl::tensor(
                export::output_name(head),
                float,
                vec![batch(), DimDecl::Fixed(weights.output_dim() as i64)],
            )],
        };
        Self {
            label: label.into(),
            model: BurnMlp::new(weights, &burn_mlp::cpu()),
            head,
            weights: weights.clone(),
            signature,
            graph: OnceCell::new(),
        }
    }

    fn request(&self, message: String) -> RuntimeError {
        RuntimeError::Request {
            model: self.label.clone(),
            message,
        }
    }

    /// The one input as `[n, features]`: the MLP flattens whatever follows the batch dim.
    fn input(&self, inputs: &[Feed]) -> Result<Array2<f32>, RuntimeError> {
        let [x] = inputs else {
            return Err(self.request(format!("the MLP takes one input, got {}", inputs.len())));
        };
        let x = &x.value;
        if x.datum_type() != DatumType::F32 {
            return Err(self.request(format!(
                "the MLP takes float32 input, got {:?}",
                x.datum_type()
            )));
        }
        let n = x.shape().first().copied().unwrap_or(0);
        let flat = x.len().checked_div(n).unwrap_or(0);
        let view = x
            .to_plain_array_view::<f32>()
            .map_err(|e| self.request(format!("{e:#}")))?;
        view.to_shape((n, flat))
            .map_err(|e| self.request(format!("input shape {:?}: {e}", x.shape())))?
            .into_dimensionality::<Ix2>()
            .map(|v| v.to_owned())
            .map_err(|e| self.request(e.to_string()))
    }
}

impl Runnable for BurnMlpRunnable {
    fn label(&self) -> &str {
        &self.label
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn graph(&self) -> Option<&ModelProto> {
        Some(self.graph.get_or_init(|| {
            let bytes = export::export_mlp(&self.weights, self.head, Vec::new())
                .expect("weights that built a burn graph export");
            crate::onnx::decode_model(&bytes, "export").expect("our own export decodes")
        }))
    }

    fn run(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<RunOutput, RuntimeError> {
        let x = self.input(inputs)?;
        let sigmoid = self.head == Head::Sigmoid;
        let only_head = fetch
            .iter()
            .all(|f| f == LOGITS || (sigmoid && f == PROBABILITIES));
        // The output and its logits come from one pass; anything else from the layer-by-layer
        // pass, which computes the same bits (both go through the same burn ops).
        let computed: Vec<(String, Array2<f32>)> = if only_head {
            if sigmoid {
                let (z, p) = self.model.probabilities(x.view());
                vec![(LOGITS.to_owned(), z), (PROBABILITIES.to_owned(), p)]
            } else {
                vec![(LOGITS.to_owned(), self.model.logits(x.view()))]
            }
        } else {
            self.model.intermediates(x.view(), sigmoid)
        };
        let values = fetch
            .iter()
            .map(|name| {
                computed
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| Tensor::from(v.clone().into_dyn()))
                    .ok_or_else(|| self.request(format!("burn computes no tensor named '{name}'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunOutput {
            values,
            bound_as_constants: Vec::new(),
        })
    }
}
