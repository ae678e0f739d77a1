//! `matrix`: every runtime we have on the same reference inputs, every pair of outputs compared.
//!
//! For one model, the columns are its implementations: TensorFlow's recorded outputs, the
//! trained burn graph, tract on each ONNX export, and the burn code burn-import generated from
//! each export at build time (feature `burn-import`). Each pair gets the metrics of
//! [`crate::compare`], the column listed first being the expected side of the tolerance rule.
//!
//! Only graph outputs are compared: burn-import's generated models expose nothing else (see
//! [`crate::runtime`]). A runtime that is not in this build, or that could not convert a file,
//! is a column with a note, not an error and not a failure; a pair outside tolerance is a
//! failure (data), and `Err` means a file could not be read or run.

mod render;

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayD, Ix2};
use serde::Serialize;

use crate::metrics::{Metrics, Tolerance, compare_arrays};
use crate::model::export::Head;
use crate::model::npz;
use crate::onnx::{TensorLimits, array_from_proto, read_tensor_pb};
use crate::report::Tool;
use crate::runtime::{BurnRuntime, Runtime, RuntimeError};
use crate::validate::ValidateError;
use crate::validate::model::{LoadedModel, load_model};
use crate::validate::run;

pub use render::{render_json, render_text};

/// The models a matrix can be made for, each from committed artifacts under `models/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// The seed MLP trained by onnx-parity (`mnist-mlp/sigmoid`), our export and the tf2onnx
    /// export of the same weights (`keras-from-rust-mlp`), with TensorFlow's outputs.
    Seed,
    /// The Keras-trained seed MLP (`keras-mlp-sigmoid`): its tf2onnx export and TF's outputs.
    KerasSeed,
    /// The Keras-trained CNN (`keras-cnn`): its tf2onnx export and TF's outputs.
    KerasCnn,
}

impl Case {
    pub const ALL: [Case; 3] = [Case::Seed, Case::KerasSeed, Case::KerasCnn];

    pub fn name(self) -> &'static str {
        match self {
            Case::Seed => "seed",
            Case::KerasSeed => "keras-seed",
            Case::KerasCnn => "keras-cnn",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Case::Seed => {
                "the seed MLP 784-128-10 trained by onnx-parity (sigmoid head), its weights in every runtime"
            }
            Case::KerasSeed => "the Keras-trained seed MLP 784-128-10 (sigmoid head)",
            Case::KerasCnn => "the Keras-trained CNN (conv 3x3, max pool, dense, sigmoid head)",
        }
    }
}

/// What `matrix` needs, as library types.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// The folder holding the committed artifacts (`models/` of the repository).
    pub models: PathBuf,
    pub cases: Vec<Case>,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error(transparent)]
    Validate(#[from] ValidateError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

fn file_err(path: &Path, message: impl ToString) -> MatrixError {
    MatrixError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// The whole result: one matrix per case.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixReport {
    pub tool: Tool,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
    /// Whether burn-import's generated models are in this build.
    pub burn_import_built: bool,
    /// `pass` when every compared pair of every case is within tolerance, else `fail`.
    pub status: &'static str,
    pub cases: Vec<CaseReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub case: Case,
    pub title: &'static str,
    pub inputs: String,
    pub input_shape: Vec<usize>,
    pub columns: Vec<Column>,
    /// Every pair of available columns, `expected` listed before `actual`.
    pub pairs: Vec<Pair>,
    pub status: &'static str,
}

/// One implementation of the model.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub label: String,
    /// The file it computes from (weights, ONNX, or recorded outputs).
    pub source: String,
    /// Shape of its outputs; `None` when it is unavailable.
    pub output_shape: Option<Vec<usize>>,
    /// Why it is unavailable (not built, or burn-import could not convert the file).
    pub unavailable: Option<String>,
}

/// Two columns' outputs compared; indices into [`CaseReport::columns`].
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub expected: usize,
    pub actual: usize,
    /// `None` when the shapes differ (which fails the pair).
    pub metrics: Option<Metrics>,
}

impl Pair {
    pub fn passed(&self) -> bool {
        self.metrics.as_ref().is_some_and(Metrics::passed)
    }
}

/// How a column gets its outputs.
enum Source {
    /// Outputs recorded by another framework (a `test_data_set_N/output_0.pb`).
    Recorded,
    /// The trained burn graph rebuilt from a Keras-layout weights file (sigmoid head).
    BurnWeights,
    /// tract on an ONNX file, every dim bound from the inputs (tf2onnx exports need that).
    Tract,
    /// The burn code burn-import generated from this ONNX file at build time.
    BurnImport,
}

struct Spec {
    label: &'static str,
    /// Relative to the models folder.
    file: &'static str,
    source: Source,
}

const fn spec(label: &'static str, file: &'static str, source: Source) -> Spec {
    Spec {
        label,
        file,
        source,
    }
}

/// The inputs, the test sets whose inputs must equal them, and the columns, reference first.
fn layout(case: Case) -> (&'static str, &'static [&'static str], Vec<Spec>) {
    use Source::*;
    match case {
        Case::Seed => (
            "mnist-mlp/sigmoid/test_data_set_0/input_0.pb",
            &["keras-from-rust-mlp/test_data_set_0/input_0.pb"],
            vec![
                spec(
                    "TensorFlow (reference outputs)",
                    "keras-from-rust-mlp/test_data_set_0/output_0.pb",
                    Recorded,
                ),
                spec(
                    "burn (trained)",
                    "mnist-mlp/sigmoid/weights.npz",
                    BurnWeights,
                ),
                spec("tract (our export)", "mnist-mlp/sigmoid/model.onnx", Tract),
                spec(
                    "tract (tf2onnx export)",
                    "keras-from-rust-mlp/model.onnx",
                    Tract,
                ),
                spec(
                    "burn-import (our export)",
                    "mnist-mlp/sigmoid/model.onnx",
                    BurnImport,
                ),
                spec(
                    "burn-import (tf2onnx export)",
                    "keras-from-rust-mlp/model.onnx",
                    BurnImport,
                ),
            ],
        ),
        Case::KerasSeed => (
            "keras-mlp-sigmoid/test_data_set_0/input_0.pb",
            &[],
            vec![
                spec(
                    "TensorFlow (reference outputs)",
                    "keras-mlp-sigmoid/test_data_set_0/output_0.pb",
                    Recorded,
                ),
                spec(
                    "tract (tf2onnx export)",
                    "keras-mlp-sigmoid/model.onnx",
                    Tract,
                ),
                spec(
                    "burn-import (tf2onnx export)",
                    "keras-mlp-sigmoid/model.onnx",
                    BurnImport,
                ),
            ],
        ),
        Case::KerasCnn => (
            "keras-cnn/test_data_set_0/input_0.pb",
            &[],
            vec![
                spec(
                    "TensorFlow (reference outputs)",
                    "keras-cnn/test_data_set_0/output_0.pb",
                    Recorded,
                ),
                spec("tract (tf2onnx export)", "keras-cnn/model.onnx", Tract),
                spec(
                    "burn-import (tf2onnx export)",
                    "keras-cnn/model.onnx",
                    BurnImport,
                ),
            ],
        ),
    }
}

/// Whether this build holds burn-import's generated models.
pub const BURN_IMPORT_BUILT: bool = cfg!(feature = "burn-import");

/// What an unavailable burn-import column says in a build without the feature.
pub const NOT_BUILT: &str = "not in this build: burn-import generates its code at build time only with `--features burn-import`";

/// Run every case and compare every pair of its columns.
pub fn run_matrix(cfg: &MatrixConfig) -> Result<MatrixReport, MatrixError> {
    if !cfg.models.is_dir() {
        return Err(file_err(
            &cfg.models,
            "not a folder; pass the repository's models/ folder (--models DIR)",
        ));
    }
    let cases = cfg
        .cases
        .iter()
        .map(|&case| run_case(cfg, case))
        .collect::<Result<Vec<_>, _>>()?;
    let passed = cases.iter().all(|c| c.status == "pass");
    Ok(MatrixReport {
        tool: Tool::default(),
        tolerance: cfg.tolerance,
        tolerance_name: cfg.tolerance_name.clone(),
        burn_import_built: BURN_IMPORT_BUILT,
        status: if passed { "pass" } else { "fail" },
        cases,
    })
}

fn read_f32(path: &Path) -> Result<ArrayD<f32>, MatrixError> {
    let proto = read_tensor_pb(path).map_err(ValidateError::from)?;
    Ok(array_from_proto(&proto, TensorLimits::default()).map_err(ValidateError::from)?)
}

fn to_2d(path: &Path, a: ArrayD<f32>) -> Result<Array2<f32>, MatrixError> {
    let shape = a.shape().to_vec();
    a.into_dimensionality::<Ix2>().map_err(|_| {
        file_err(
            path,
            format!("outputs of shape {shape:?}, expected [n, classes]"),
        )
    })
}

fn run_case(cfg: &MatrixConfig, case: Case) -> Result<CaseReport, MatrixError> {
    let (inputs_file, same_inputs, specs) = layout(case);
    let inputs_path = cfg.models.join(inputs_file);
    let x = read_f32(&inputs_path)?;
    for other in same_inputs {
        let path = cfg.models.join(other);
        if read_f32(&path)? != x {
            return Err(file_err(
                &path,
                format!(
                    "these inputs differ from {}: the recorded outputs beside them are not comparable",
                    inputs_path.display()
                ),
            ));
        }
    }
    let mut columns = Vec::new();
    let mut outputs = Vec::new();
    for spec in &specs {
        let path = cfg.models.join(spec.file);
        let computed = outputs_of(spec, &path, &x)?;
        columns.push(Column {
            label: spec.label.to_string(),
            source: path.display().to_string(),
            output_shape: computed.as_ref().ok().map(|o| o.shape().to_vec()),
            unavailable: computed.as_ref().err().cloned(),
        });
        outputs.push(computed.ok());
    }
    let mut pairs = Vec::new();
    for (expected, e) in outputs.iter().enumerate() {
        for (actual, a) in outputs.iter().enumerate().skip(expected + 1) {
            let (Some(e), Some(a)) = (e, a) else { continue };
            let metrics = (e.shape() == a.shape()).then(|| {
                compare_arrays(&a.view().into_dyn(), &e.view().into_dyn(), &cfg.tolerance)
            });
            pairs.push(Pair {
                expected,
                actual,
                metrics,
            });
        }
    }
    let passed = pairs.iter().all(Pair::passed);
    Ok(CaseReport {
        case,
        title: case.title(),
        inputs: inputs_path.display().to_string(),
        input_shape: x.shape().to_vec(),
        columns,
        pairs,
        status: if passed { "pass" } else { "fail" },
    })
}

/// A column's outputs, `Ok(Err(note))` when the runtime is unavailable.
fn outputs_of(
    spec: &Spec,
    path: &Path,
    x: &ArrayD<f32>,
) -> Result<Result<Array2<f32>, String>, MatrixError> {
    Ok(Ok(match spec.source {
        Source::Recorded => to_2d(path, read_f32(path)?)?,
        Source::BurnWeights => {
            let weights = npz::read_weights(path).map_err(|e| file_err(path, e))?;
            let x = to_2d(path, x.clone())?;
            BurnRuntime::new(spec.label, &weights, Head::Sigmoid)
                .predict(x.view())?
                .output
        }
        Source::Tract => {
            let model = load_model(path, TensorLimits::default())?;
            tract_outputs(&model, x)?
        }
        Source::BurnImport => match burn_import_outputs(spec.label, path, x)? {
            Ok(o) => o,
            Err(note) => return Ok(Err(note)),
        },
    }))
}

fn tract_outputs(model: &LoadedModel, x: &ArrayD<f32>) -> Result<Array2<f32>, MatrixError> {
    let output = model
        .signature
        .outputs
        .first()
        .map(|o| o.name.clone())
        .ok_or_else(|| file_err(&model.path, "the graph declares no output"))?;
    let input = tract_onnx::prelude::Tensor::from(x.clone());
    let plan = run::prepare(model, &[&input], std::slice::from_ref(&output))?;
    let out = run::execute(model, &plan, &[&input])?.remove(0);
    let out = out.into_plain_array::<f32>().map_err(|e| {
        file_err(
            &model.path,
            format!("output {output} is not float32: {e:#}"),
        )
    })?;
    to_2d(&model.path, out)
}

#[cfg(feature = "burn-import")]
fn burn_import_outputs(
    label: &str,
    path: &Path,
    x: &ArrayD<f32>,
) -> Result<Result<Array2<f32>, String>, MatrixError> {
    use crate::runtime::BurnImportRuntime;
    use crate::validate::model::sha256_hex;

    let bytes = std::fs::read(path).map_err(|e| file_err(path, format!("reading: {e}")))?;
    let mut runtime = match BurnImportRuntime::for_artifact(
        label,
        &path.display().to_string(),
        &sha256_hex(&bytes),
    ) {
        Ok(r) => r,
        // Not converted (or not built from these bytes): a note in the matrix, not an error.
        Err(RuntimeError::Load { message, .. }) => return Ok(Err(message)),
        Err(e) => return Err(e.into()),
    };
    Ok(Ok(runtime.predict_output(x.view())?))
}

#[cfg(not(feature = "burn-import"))]
fn burn_import_outputs(
    _label: &str,
    _path: &Path,
    _x: &ArrayD<f32>,
) -> Result<Result<Array2<f32>, String>, MatrixError> {
    Ok(Err(NOT_BUILT.to_string()))
}
