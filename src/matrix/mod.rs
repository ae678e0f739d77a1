//! `matrix`: every runtime we have on the same reference inputs, every pair of outputs compared.
//!
//! Two kinds of matrix. For the committed cases ([`Case`]), the columns are a model's
//! implementations in the repository: TensorFlow's recorded outputs, the trained burn graph,
//! tract and onnxruntime on each ONNX export, and the burn code burn-import generated from each
//! export at build time (feature `burn-import`). For any ONNX file ([`model`]), the columns are
//! the reference outputs of its test sets and every runtime available here at each of its
//! stages, and with labels each column's losses, accuracy and loss verdict. Each pair gets the
//! metrics of [`crate::metrics`], the column listed first being the expected side of the
//! tolerance rule.
//!
//! Only graph outputs are compared: burn-import's generated models expose nothing else (see
//! [`crate::runtime`]). A runtime that is not in this build or not on this machine, or that
//! could not convert a file, is a column with a note, not an error and not a failure; a pair
//! outside tolerance is a failure (data), and `Err` means a file could not be read or run.

pub mod model;

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
use crate::runtime::{
    BurnRunnable, Feed, OnnxModel, OnnxRuntime, Runnable, Runtime, RuntimeError, Tract,
};
use crate::validate::{LossTolerance, ReferenceCheck};
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
    #[error(transparent)]
    RefData(#[from] crate::refdata::RefDataError),
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
    /// The committed case's name (`seed`), or the test set of a model's matrix.
    pub case: String,
    pub title: String,
    pub inputs: String,
    pub input_shape: Vec<usize>,
    pub columns: Vec<Column>,
    /// Every pair of available columns, `expected` listed before `actual`.
    pub pairs: Vec<Pair>,
    /// With labels: what the columns' losses are computed on.
    pub losses: Option<LossSetup>,
    pub status: Verdict,
}

impl MatrixCase {
    /// Pairs outside tolerance and columns failing the loss verdict.
    pub fn failures(&self) -> usize {
        self.pairs.iter().filter(|p| !p.passed()).count()
            + self
                .columns
                .iter()
                .filter(|c| c.loss.as_ref().is_some_and(|l| !l.passed()))
                .count()
    }
}

/// The labels and the output losses are computed on, and the loss verdict's tolerance.
#[derive(Debug, Clone, Serialize)]
pub struct LossSetup {
    pub labels: String,
    pub output: String,
    /// `sigmoid` (logits read under the Sigmoid where the runtime shows them) or `logits`.
    pub head: &'static str,
    pub tolerance: LossTolerance,
}

/// One implementation of the model.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub label: String,
    /// The file it computes from (weights, ONNX, or recorded outputs).
    pub source: String,
    /// Shape of its (first) output; `None` when it is unavailable.
    pub output_shape: Option<Vec<usize>>,
    /// Why it is unavailable (not built, not installed, or could not convert the file).
    pub unavailable: Option<String>,
    /// With labels: its losses, accuracy and loss verdict against the first column.
    pub loss: Option<ColumnLoss>,
}

/// One column's losses (Keras reduction, f32 element losses) and its loss verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnLoss {
    /// `None` where the logits are not available (a sigmoid head's recorded probabilities, a
    /// runtime that shows only outputs).
    pub logits_form: Option<f64>,
    pub probs_form: f64,
    /// Elements the probability form clipped to `[1e-7, 1 - 1e-7]`.
    pub clipped: usize,
    pub probability_range: [f32; 2],
    pub binary_accuracy: f64,
    /// Each form against the same loss on the first column's outputs (none for the first).
    pub logits_vs_reference: Option<ReferenceCheck>,
    pub probs_vs_reference: Option<ReferenceCheck>,
    /// Why a failing loss verdict comes with other clip counts, in one line.
    pub clip_explanation: Option<String>,
}

impl ColumnLoss {
    pub fn passed(&self) -> bool {
        [&self.logits_vs_reference, &self.probs_vs_reference]
            .into_iter()
            .flatten()
            .all(|c| c.passed)
    }
}

/// Two columns' outputs compared; indices into [`MatrixCase::columns`].
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub expected: usize,
    pub actual: usize,
    /// Every output together; `None` when some output's types or shapes differ (which fails
    /// the pair).
    pub metrics: Option<Metrics>,
    /// Output by output.
    pub outputs: Vec<PairOutput>,
    /// With labels: elements where the two columns' decisions (`p > 0.5`) differ.
    pub decisions_flipped: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairOutput {
    pub name: String,
    pub metrics: Option<Metrics>,
    /// Why it could not be compared element by element.
    pub problem: Option<String>,
}

impl Pair {
    pub fn passed(&self) -> bool {
        self.metrics.as_ref().is_some_and(Metrics::passed)
    }
}

/// Several outputs' metrics as one: counts add up, maxima are the largest, the first mismatch
/// and the worst element are those of the first output that has one / the largest error.
pub fn merge_metrics(all: &[&Metrics]) -> Metrics {
    let mut m = Metrics {
        elements: 0,
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        max_ulp: 0,
        mismatches: 0,
        mismatch_fraction: 0.0,
        nonfinite: 0,
        first_mismatch: None,
        worst: None,
    };
    for x in all {
        m.elements += x.elements;
        m.max_abs_err = m.max_abs_err.max(x.max_abs_err);
        m.max_rel_err = m.max_rel_err.max(x.max_rel_err);
        m.max_ulp = m.max_ulp.max(x.max_ulp);
        m.mismatches += x.mismatches;
        m.nonfinite += x.nonfinite;
        if m.first_mismatch.is_none() {
            m.first_mismatch.clone_from(&x.first_mismatch);
        }
    }
    // The worst among mismatching outputs if any output mismatches, else among all.
    let mismatching = all.iter().any(|x| x.mismatches > 0);
    m.worst = all
        .iter()
        .filter(|x| !mismatching || x.mismatches > 0)
        .filter_map(|x| x.worst.as_ref())
        .max_by(|a, b| a.abs_err.total_cmp(&b.abs_err))
        .cloned();
    if m.elements > 0 {
        m.mismatch_fraction = m.mismatches as f64 / m.elements as f64;
    }
    m
}

/// How a column gets its outputs.
enum Source {
    /// Outputs recorded by another framework (a `test_data_set_N/output_0.pb`).
    Recorded,
    /// The trained burn graph rebuilt from a Keras-layout weights file (sigmoid head).
    BurnWeights,
    /// tract on an ONNX file, every dim bound from the inputs (tf2onnx exports need that).
    Tract,
    /// onnxruntime on an ONNX file (a note where its library is not found).
    OnnxRuntime,
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
                    "onnxruntime (our export)",
                    "mnist-mlp/probs/model.onnx",
                    OnnxRuntime,
                ),
                spec(
                    "onnxruntime (tf2onnx export)",
                    "keras-from-rust-mlp/model.onnx",
                    OnnxRuntime,
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
                    "onnxruntime (tf2onnx export)",
                    "keras-mlp-sigmoid/model.onnx",
                    OnnxRuntime,
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
                    "onnxruntime (tf2onnx export)",
                    "keras-cnn/model.onnx",
                    OnnxRuntime,
                ),
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
            loss: None,
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
            let problem = metrics
                .is_none()
                .then(|| format!("shape {:?}, expected {:?}", a.shape(), e.shape()));
            pairs.push(Pair {
                expected,
                actual,
                outputs: vec![PairOutput {
                    name: "output 0".to_owned(),
                    metrics: metrics.clone(),
                    problem,
                }],
                metrics,
                decisions_flipped: None,
            });
        }
    }
    let passed = pairs.iter().all(Pair::passed);
    Ok(MatrixCase {
        case: case.name().to_owned(),
        title: case.title().to_owned(),
        inputs: inputs_path.display().to_string(),
        input_shape: x.shape().to_vec(),
        columns,
        pairs,
        losses: None,
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
        Source::OnnxRuntime => {
            let model = OnnxModel::open(path, limits)?;
            match OnnxRuntime::default().prepare(&model) {
                Ok(r) => r,
                Err(RuntimeError::Unavailable { message, .. }) => return Ok(Err(message)),
                Err(e) => return Err(e.into()),
            }
        }
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
pub(crate) fn burn_import(model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, String> {
    use crate::runtime::burn_import::BurnImport;
    BurnImport.prepare(model).map_err(|e| match e {
        RuntimeError::Unsupported { message, .. } => message,
        other => crate::error_chain(&other),
    })
}

#[cfg(not(feature = "burn-import"))]
pub(crate) fn burn_import(_model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, String> {
    Err(NOT_BUILT.to_string())
}
