//! A test set played back as a runnable: the outputs another framework (TensorFlow, say)
//! recorded for its inputs, in the ONNX backend-test layout (`input_K.pb`, `output_K.pb`).
//!
//! It answers only for the inputs it recorded: any other inputs are an error, never outputs
//! that belong to something else. Its signature is what the files hold: the tensors' stored
//! names, element types and fixed dims.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::Tensor;

use super::{Feed, RunOutput, Runnable, RuntimeError};
use crate::onnx::pb::ModelProto;
use crate::onnx::{
    DimDecl, OnnxError, Signature, TensorDecl, TensorLimits, onnx_data_type, read_tensor_pb,
    tensor_from_proto,
};

/// One recorded tensor and the file it came from.
struct Recorded {
    file: PathBuf,
    value: Arc<Tensor>,
}

pub struct RecordedRunnable {
    label: String,
    signature: Signature,
    inputs: Vec<Recorded>,
    outputs: Vec<Recorded>,
}

/// `prefix_K.pb` files of `dir`, in the order of K.
fn numbered(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, RuntimeError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RuntimeError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<(usize, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let k = name
                .strip_prefix(prefix)?
                .strip_suffix(".pb")?
                .parse()
                .ok()?;
            Some((k, e.path()))
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

fn read(file: PathBuf, limits: TensorLimits) -> Result<(TensorDecl, Recorded), RuntimeError> {
    let proto = read_tensor_pb(&file)?;
    let value = tensor_from_proto(&proto, limits).map_err(|e| OnnxError::InFile {
        path: file.clone(),
        source: Box::new(e),
    })?;
    let decl = TensorDecl::tensor(
        proto.name(),
        onnx_data_type(value.datum_type()).map_or(0, |t| t as i32),
        value
            .shape()
            .iter()
            .map(|&d| DimDecl::Fixed(d as i64))
            .collect(),
    );
    Ok((
        decl,
        Recorded {
            file,
            value: Arc::new(value),
        },
    ))
}

impl RecordedRunnable {
    /// The test set in `dir`; `label` names it in reports.
    pub fn open(
        label: impl Into<String>,
        dir: &Path,
        limits: TensorLimits,
    ) -> Result<Self, RuntimeError> {
        let mut signature = Signature {
            inputs: Vec::new(),
            outputs: Vec::new(),
        };
        let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
        for file in numbered(dir, "input_")? {
            let (decl, r) = read(file, limits)?;
            signature.inputs.push(decl);
            inputs.push(r);
        }
        for file in numbered(dir, "output_")? {
            let (decl, r) = read(file, limits)?;
            signature.outputs.push(decl);
            outputs.push(r);
        }
        if outputs.is_empty() {
            return Err(RuntimeError::Model {
                path: dir.to_owned(),
                message: "no output_K.pb files: nothing recorded to play back".to_owned(),
            });
        }
        Ok(Self {
            label: label.into(),
            signature,
            inputs,
            outputs,
        })
    }
}

impl Runnable for RecordedRunnable {
    fn label(&self) -> &str {
        &self.label
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn graph(&self) -> Option<&ModelProto> {
        None
    }

    /// The recorded outputs, when `inputs` are the recorded inputs (compared by position,
    /// element for element).
    fn run(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<RunOutput, RuntimeError> {
        let request = |message: String| RuntimeError::Request {
            model: self.label.clone(),
            message,
        };
        if inputs.len() != self.inputs.len() {
            return Err(request(format!(
                "{} inputs were recorded, {} given",
                self.inputs.len(),
                inputs.len()
            )));
        }
        for (given, recorded) in inputs.iter().zip(&self.inputs) {
            if *given.value != *recorded.value {
                return Err(request(format!(
                    "inputs differ from {} (given as '{}'): the outputs recorded beside it are \
                     not comparable",
                    recorded.file.display(),
                    given.name
                )));
            }
        }
        let values = fetch
            .iter()
            .map(|name| {
                self.signature
                    .outputs
                    .iter()
                    .position(|o| &o.name == name)
                    .map(|i| (*self.outputs[i].value).clone())
                    .ok_or_else(|| request(format!("no output named '{name}' was recorded")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunOutput {
            values,
            bound_as_constants: Vec::new(),
        })
    }
}
