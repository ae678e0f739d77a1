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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{Array2, Ix2};
use serde::Serialize;
use tract_onnx::prelude::Tensor;

use crate::artifacts::Tool;
use crate::loss::Head;
use crate::metrics::{Metrics, Tolerance, compare_arrays};
use crate::model::npz;
use crate::onnx::{TensorLimits, load_tensor_pb};
use crate::runtime::recorded::RecordedRunnable;
use crate::runtime::{BurnRunnable, Feed, OnnxModel, Runnable, Runtime, RuntimeError, Tract};
use crate::verdict::Verdict;

/// The models a matrix can be made for, each from committed artifacts under `models/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// The seed MLP trained by onnx-parity (`mnist-mlp/probs`), our export and the tf2onnx
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
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Onnx(#[from] crate::onnx::OnnxError),
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
    pub status: Verdict,
    pub cases: Vec<MatrixCase>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixCase {
    pub case: Case,
    pub title: &'static str,
    pub inputs: String,
    pub input_shape: Vec<usize>,
    pub columns: Vec<Column>,
    /// Every pair of available columns, `expected` listed before `actual`.
    pub pairs: Vec<Pair>,
    pub status: Verdict,
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

/// Two columns' outputs compared; indices into [`MatrixCase::columns`].
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

/// The inputs and the columns, reference first.
fn layout(case: Case) -> (&'static str, Vec<Spec>) {
    use Source::*;
    match case {
        Case::Seed => (
            "mnist-mlp/probs/test_data_set_0/input_0.pb",
            vec![
                spec(
                    "TensorFlow (reference outputs)",
                    "keras-from-rust-mlp/test_data_set_0/output_0.pb",
                    Recorded,
                ),
                spec("burn (trained)", "mnist-mlp/probs/weights.npz", BurnWeights),
                spec("tract (our export)", "mnist-mlp/probs/model.onnx", Tract),
                spec(
                    "tract (tf2onnx export)",
                    "keras-from-rust-mlp/model.onnx",
                    Tract,
                ),
                spec(
                    "burn-import (our export)",
                    "mnist-mlp/probs/model.onnx",
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
    let passed = cases.iter().all(|c| c.status == Verdict::Pass);
    Ok(MatrixReport {
        tool: Tool::default(),
        tolerance: cfg.tolerance,
        tolerance_name: cfg.tolerance_name.clone(),
        burn_import_built: BURN_IMPORT_BUILT,
        status: Verdict::of(passed),
        cases,
    })
}

fn to_2d(path: &Path, t: &Tensor) -> Result<Array2<f32>, MatrixError> {
    let view = t.to_plain_array_view::<f32>().map_err(|e| {
        file_err(
            path,
            format!("outputs are {:?}, expected float32: {e:#}", t.datum_type()),
        )
    })?;
    view.into_dimensionality::<Ix2>()
        .map(|v| v.to_owned())
        .map_err(|_| {
            file_err(
                path,
                format!("outputs of shape {:?}, expected [n, classes]", t.shape()),
            )
        })
}

fn run_case(cfg: &MatrixConfig, case: Case) -> Result<MatrixCase, MatrixError> {
    let (inputs_file, specs) = layout(case);
    let inputs_path = cfg.models.join(inputs_file);
    let x = Arc::new(load_tensor_pb(&inputs_path, TensorLimits::default())?);
    let mut columns = Vec::new();
    let mut outputs = Vec::new();
    for spec in &specs {
        let path = cfg.models.join(spec.file);
        let computed = match open_column(spec, &path)? {
            Ok(mut runnable) => Ok(outputs_of(runnable.as_mut(), &path, &x)?),
            Err(note) => Err(note),
        };
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
    Ok(MatrixCase {
        case,
        title: case.title(),
        inputs: inputs_path.display().to_string(),
        input_shape: x.shape().to_vec(),
        columns,
        pairs,
        status: Verdict::of(passed),
    })
}

/// The runnable of a column, `Ok(Err(note))` when its runtime is unavailable.
fn open_column(spec: &Spec, path: &Path) -> Result<Result<Box<dyn Runnable>, String>, MatrixError> {
    let limits = TensorLimits::default();
    Ok(Ok(match spec.source {
        // The test set the recorded outputs belong to: it answers only for its own inputs.
        Source::Recorded => Box::new(RecordedRunnable::open(
            spec.label,
            path.parent().unwrap_or(Path::new(".")),
            limits,
        )?),
        Source::BurnWeights => {
            let weights = npz::read_weights(path).map_err(|e| file_err(path, e))?;
            Box::new(BurnRunnable::new(spec.label, &weights, Head::Sigmoid))
        }
        Source::Tract => Tract::default().prepare(&OnnxModel::open(path, limits)?)?,
        Source::BurnImport => match burn_import(&OnnxModel::open(path, limits)?) {
            Ok(r) => r,
            Err(note) => return Ok(Err(note)),
        },
    }))
}

/// A column's first output for the case's inputs, as `[n, classes]`.
fn outputs_of(
    runnable: &mut dyn Runnable,
    path: &Path,
    x: &Arc<Tensor>,
) -> Result<Array2<f32>, MatrixError> {
    let sig = runnable.signature();
    let (Some(input), Some(output)) = (sig.inputs.first(), sig.outputs.first()) else {
        return Err(file_err(path, "no input or no output to compare"));
    };
    let feed = Feed::new(input.name.clone(), Arc::clone(x));
    let fetch = [output.name.clone()];
    let out = runnable.run(&[feed], &fetch)?;
    to_2d(path, &out.values[0])
}

/// burn-import's runnable; a file it was not built from, or could not convert, is a note.
#[cfg(feature = "burn-import")]
fn burn_import(model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, String> {
    use crate::runtime::burn_import::BurnImport;
    BurnImport.prepare(model).map_err(|e| match e {
        RuntimeError::Unsupported { message, .. } => message,
        other => crate::error_chain(&other),
    })
}

#[cfg(not(feature = "burn-import"))]
fn burn_import(_model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, String> {
    Err(NOT_BUILT.to_string())
}
