//! The trained graph itself, in burn, as a runnable: from weights on disk or in memory, either
//! architecture.
//!
//! Its signature and tensor names are those of our ONNX export of the same weights (input
//! `input`, `[N, features]` for the MLP and NHWC `[N, h, w, c]` for the CNN; output `logits` or
//! `probabilities`; intermediates `dense/linear`, `dense/relu`, ... or `conv2d/linear`,
//! `conv2d/relu`, `max_pooling2d/output` in the export's NCHW layout, `flatten/output`), so a
//! comparison lines it up with any ONNX runtime by name, and [`Runnable::graph`] is that
//! export, built on first use, for layer matching.

use std::cell::OnceCell;

use ndarray::{Array2, ArrayD, Ix2};
use tract_onnx::prelude::{DatumType, Tensor};

use super::{Feed, RunOutput, Runnable, RuntimeError};
use crate::loss::Head;
use crate::model::burn_mlp;
use crate::model::export::{self, INPUT, LOGITS, PROBABILITIES};
use crate::model::graph::BurnModel;
use crate::model::weights::ModelWeights;
use crate::onnx::pb::ModelProto;
use crate::onnx::pb::tensor_proto::DataType;
use crate::onnx::{DimDecl, Signature, TensorDecl};

pub struct BurnRunnable {
    label: String,
    model: BurnModel,
    head: Head,
    weights: ModelWeights,
    signature: Signature,
    graph: OnceCell<ModelProto>,
}

impl BurnRunnable {
    /// The burn graph of `weights` with `head`. `label` names it in reports and errors.
    pub fn new(label: impl Into<String>, weights: &ModelWeights, head: Head) -> Self {
        let batch = || DimDecl::Symbolic("N".to_owned());
        let float = DataType::Float as i32;
        let mut input_dims = vec![batch()];
        input_dims.extend(
            weights
                .input_shape()
                .iter()
                .map(|&d| DimDecl::Fixed(d as i64)),
        );
        let signature = Signature {
            inputs: vec![TensorDecl::tensor(INPUT, float, input_dims)],
            outputs: vec![TensorDecl::tensor(
                export::output_name(head),
                float,
                vec![batch(), DimDecl::Fixed(weights.output_dim() as i64)],
            )],
        };
        Self {
            label: label.into(),
            model: BurnModel::new(weights, &burn_mlp::cpu()),
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

    /// The one input as `[n, features]`: whatever follows the batch dim, flattened in its
    /// order (row-major NHWC for the CNN), which must hold the model's features per sample.
    fn input(&self, inputs: &[Feed]) -> Result<Array2<f32>, RuntimeError> {
        let [x] = inputs else {
            return Err(self.request(format!("the model takes one input, got {}", inputs.len())));
        };
        let x = &x.value;
        if x.datum_type() != DatumType::F32 {
            return Err(self.request(format!(
                "the model takes float32 input, got {:?}",
                x.datum_type()
            )));
        }
        let n = x.shape().first().copied().unwrap_or(0);
        let flat = x.len().checked_div(n).unwrap_or(0);
        let features = self.weights.input_len();
        if n > 0 && flat != features {
            return Err(self.request(format!(
                "input shape {:?} holds {flat} values per sample, the model takes {features} ({:?})",
                x.shape(),
                self.weights.input_shape()
            )));
        }
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

impl Runnable for BurnRunnable {
    fn label(&self) -> &str {
        &self.label
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn graph(&self) -> Option<&ModelProto> {
        Some(self.graph.get_or_init(|| {
            let bytes = export::export_model(&self.weights, self.head, Vec::new())
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
        let computed: Vec<(String, ArrayD<f32>)> = if only_head {
            if sigmoid {
                let (z, p) = self.model.probabilities(x.view());
                vec![
                    (LOGITS.to_owned(), z.into_dyn()),
                    (PROBABILITIES.to_owned(), p.into_dyn()),
                ]
            } else {
                vec![(LOGITS.to_owned(), self.model.logits(x.view()).into_dyn())]
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
                    .map(|(_, v)| Tensor::from(v.clone()))
                    .ok_or_else(|| self.request(format!("burn computes no tensor named '{name}'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunOutput {
            values,
            bound_as_constants: Vec::new(),
        })
    }
}
