//! `validate`: any ONNX file against reference data, with a verdict a CI can trust.
//!
//! The model is opened and checked ([`crate::runtime::OnnxModel`]) and prepared by a runtime
//! (tract); each test set ([`crate::refdata::testset`]: backend `.pb` layout or NumPy files) is
//! run once with every dim bound from the data, and outputs, losses and decisions are compared
//! ([`check`]). [`manifest`] runs a list of models as a CI gate; [`fuzzing`] is the decode path
//! the fuzz target drives.
//!
//! A mismatch is data: a [`CaseReport`] with status `fail`. An `Err` (kept in the report as a
//! case with status `error`) means it could not run, and names the file. Nothing here panics
//! on bad input, prints, or exits.

pub mod check;
pub mod error;
pub mod fuzzing;
pub mod manifest;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::ArrayD;

pub use check::{AccuracyReport, ExpectLoss, FormLoss, HeadReport, LossReport};
pub use error::{ErrorKind, ValidateError};
pub use report::{CaseReport, InputReport, OutputReport, ShaCheck, Summary, ValidateReport};

use crate::metrics::{Preset, Tolerance, datum_name};
use crate::onnx::TensorLimits;
use crate::refdata::{self, RefDataError, testset};
use crate::runtime::{Feed, OnnxModel, RunOutput, Runnable, Runtime, RuntimeError, Tract, head};
use crate::verdict::Verdict;

/// One item of a long run starting (a manifest entry, a conformance case): for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct Started<'a> {
    /// Position from 0, of `total`.
    pub index: usize,
    pub total: usize,
    pub name: &'a str,
}

/// Default absolute tolerance of `--expect-loss` gates.
pub const DEFAULT_LOSS_TOL: f64 = 1e-6;

/// Everything one model's validation needs, as library types.
#[derive(Debug, Clone)]
pub struct ValidateConfig {
    pub model: PathBuf,
    /// Test sets to use; empty means every `test_data_set_*` beside the model.
    pub test_data: Vec<PathBuf>,
    /// Binary targets (`.npy`), same shape as the loss output.
    pub labels: Option<PathBuf>,
    /// Output the losses are computed on; default the first graph output.
    pub loss_output: Option<String>,
    pub tolerance: Tolerance,
    /// Label of `tolerance` in reports (a preset name or `custom`).
    pub tolerance_name: String,
    /// Per-output tolerances overriding `tolerance`.
    pub output_tolerances: BTreeMap<String, Tolerance>,
    pub expect: ExpectLoss,
    /// The model file's expected sha256 (manifest entries); a difference fails the case.
    pub sha256: Option<String>,
    pub limits: TensorLimits,
    /// Also record where each output's errors lie (histograms of absolute error and ULP
    /// distance, the worst elements), for the HTML report. Off by default: it costs a
    /// logarithm per element.
    pub error_detail: bool,
}

impl ValidateConfig {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            test_data: Vec::new(),
            labels: None,
            loss_output: None,
            tolerance: Preset::Default.tolerance(),
            tolerance_name: Preset::Default.name().to_owned(),
            output_tolerances: BTreeMap::new(),
            expect: ExpectLoss {
                tol: DEFAULT_LOSS_TOL,
                ..ExpectLoss::default()
            },
            sha256: None,
            limits: TensorLimits::default(),
            error_detail: false,
        }
    }
}

/// Validates one model on each of its test sets. Never fails as a whole: what could not run
/// becomes a case with status `error`.
pub fn validate(cfg: &ValidateConfig) -> Vec<CaseReport> {
    match OnnxModel::open(&cfg.model, cfg.limits) {
        Ok(model) => validate_model(&model, cfg),
        Err(e) => vec![CaseReport::error(&model_name(cfg), None, &e.into())],
    }
}

/// [`validate`] for a model already opened (the fuzz target and the benchmark), run by tract.
pub fn validate_model(model: &Arc<OnnxModel>, cfg: &ValidateConfig) -> Vec<CaseReport> {
    match Tract::default().prepare(model) {
        Ok(mut runnable) => validate_with(model, runnable.as_mut(), cfg),
        Err(e) => vec![CaseReport::error(&model_name(cfg), None, &e.into())],
    }
}

/// [`validate`] with the model prepared by a runtime: every test set through `runnable`.
pub fn validate_with(
    model: &OnnxModel,
    runnable: &mut dyn Runnable,
    cfg: &ValidateConfig,
) -> Vec<CaseReport> {
    let name = model_name(cfg);
    let prepared = (|| {
        let labels = cfg
            .labels
            .as_deref()
            .map(|p| refdata::read_labels(p, cfg.limits).map(|t| (p, t)))
            .transpose()?;
        let sets = testset::resolve(&cfg.model, &cfg.test_data)?;
        Ok::<_, ValidateError>((labels, sets))
    })();
    let (labels, sets) = match prepared {
        Ok(x) => x,
        Err(e) => return vec![CaseReport::error(&name, None, &e)],
    };
    let sha = ShaCheck {
        actual: model.sha256.clone(),
        expected: cfg.sha256.clone(),
        matches: cfg
            .sha256
            .as_ref()
            .is_none_or(|s| s.eq_ignore_ascii_case(&model.sha256)),
    };
    sets.iter()
        .map(|set| {
            let label = set.display().to_string();
            match run_case(runnable, cfg, set, labels.as_ref()) {
                Ok(mut case) => {
                    if !sha.matches {
                        case.problems.push(format!(
                            "model file changed: sha256 is {}, the manifest says {}; update its \
                             entry if the change is intended",
                            sha.actual,
                            sha.expected.as_deref().unwrap_or("")
                        ));
                        case.status = Verdict::Fail;
                    }
                    case.sha256 = Some(sha.clone());
                    case
                }
                Err(e) => {
                    let mut case = CaseReport::error(&name, Some(label), &e);
                    case.sha256 = Some(sha.clone());
                    case
                }
            }
        })
        .collect()
}

fn model_name(cfg: &ValidateConfig) -> String {
    cfg.model.display().to_string()
}

fn run_case(
    runnable: &mut dyn Runnable,
    cfg: &ValidateConfig,
    set_path: &Path,
    labels: Option<&(&Path, ArrayD<f32>)>,
) -> Result<CaseReport, ValidateError> {
    let sig = runnable.signature().clone();
    let set = testset::load(set_path, &sig, cfg.limits)?;
    if set.outputs.is_empty() && labels.is_none() {
        return Err(RefDataError::TestData {
            path: set_path.to_owned(),
            message: "no expected outputs and no labels: nothing to check".to_owned(),
        }
        .into());
    }
    let loss_output = match (&cfg.loss_output, labels) {
        (_, None) => None,
        (Some(name), Some(_)) => {
            if !sig.outputs.iter().any(|o| &o.name == name) {
                return Err(RuntimeError::Model {
                    path: cfg.model.clone(),
                    message: format!("--loss-output '{name}' is not a graph output"),
                }
                .into());
            }
            Some(name.clone())
        }
        (None, Some(_)) => sig.outputs.first().map(|o| o.name.clone()),
    };
    let head = loss_output
        .as_ref()
        .and_then(|o| head::sigmoid_head(runnable, o));

    let mut fetch: Vec<String> = sig.output_names();
    let logits_at = head
        .as_ref()
        .map(|h| match fetch.iter().position(|f| f == &h.logits) {
            Some(i) => i,
            None => {
                fetch.push(h.logits.clone());
                fetch.len() - 1
            }
        });
    let feeds: Vec<Feed> = set
        .inputs
        .iter()
        .map(|r| Feed {
            name: r.name.clone(),
            value: Arc::clone(&r.tensor),
        })
        .collect();
    let RunOutput {
        values: outputs,
        bound_as_constants: constants,
    } = runnable.run(&feeds, &fetch)?;

    let mut case = CaseReport::empty(
        &cfg.model.display().to_string(),
        Some(set_path.display().to_string()),
        &cfg.tolerance_name,
    );
    case.inputs = set
        .inputs
        .iter()
        .map(|r| InputReport {
            name: r.name.clone(),
            file: r.file.clone(),
            matched_by: r.matched_by,
            dtype: datum_name(r.tensor.datum_type()),
            shape: r.tensor.shape().to_vec(),
            bound_as_constant: constants.contains(&r.name),
        })
        .collect();
    for r in &set.outputs {
        let i = sig
            .outputs
            .iter()
            .position(|o| o.name == r.name)
            .expect("reference outputs are graph outputs");
        let actual = &outputs[i];
        let tol = cfg
            .output_tolerances
            .get(&r.name)
            .copied()
            .unwrap_or(cfg.tolerance);
        let (metrics, distribution, problem) =
            check::compare_output_detailed(actual, &r.tensor, &tol, cfg.error_detail);
        let status = if metrics.passed() && problem.is_none() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        if let Some(p) = &problem {
            case.problems
                .push(format!("output '{}' cannot be compared: {p}", r.name));
        } else if let (false, Some(w)) = (metrics.passed(), &metrics.worst) {
            case.problems.push(format!(
                "output '{}': {} of {} elements beyond tolerance ({tol}); worst at {:?}: \
                 model {} vs reference {}",
                r.name, metrics.mismatches, metrics.elements, w.index, w.actual, w.expected
            ));
        }
        case.outputs.push(OutputReport {
            name: r.name.clone(),
            file: r.file.clone(),
            matched_by: r.matched_by,
            status,
            dtype: datum_name(actual.datum_type()),
            shape: actual.shape().to_vec(),
            expected_dtype: datum_name(r.tensor.datum_type()),
            expected_shape: r.tensor.shape().to_vec(),
            tolerance: tol,
            metrics,
            problem: problem.map(|p| p.to_string()),
            distribution,
        });
    }

    if let (Some(name), Some((labels_path, y))) = (&loss_output, labels) {
        let i = sig
            .outputs
            .iter()
            .position(|o| &o.name == name)
            .expect("checked above");
        let output = &outputs[i];
        let labels_err = |message: String| ValidateError::Labels {
            path: labels_path.to_path_buf(),
            message,
        };
        if y.shape() != output.shape() {
            return Err(labels_err(format!(
                "labels have shape {:?}, output '{name}' has {:?} on {}",
                y.shape(),
                output.shape(),
                set_path.display()
            )));
        }
        let reference = set.outputs.iter().find(|r| &r.name == name);
        let inputs = check::LossInputs {
            output_name: name,
            output,
            head: head.as_ref().zip(logits_at.map(|j| &outputs[j])),
            reference: reference.map(|r| &*r.tensor),
            labels: y,
            labels_file: &labels_path.display().to_string(),
        };
        let (loss, accuracy) = check::losses(&inputs, &cfg.expect).map_err(labels_err)?;
        for (form, f) in [("logits", &loss.logits_form), ("probs", &loss.probs_form)] {
            if f.passed == Some(false) {
                case.problems.push(format!(
                    "{form}-form loss {:.9} differs from the expected {:.9} by {:.3e} (loss \
                     tolerance {:e})",
                    f.value_f32,
                    f.expected.unwrap_or(f64::NAN),
                    f.abs_diff.unwrap_or(f64::NAN),
                    loss.tolerance
                ));
            }
        }
        case.loss = Some(loss);
        case.binary_accuracy = Some(accuracy);
    }
    if !case.problems.is_empty() {
        case.status = Verdict::Fail;
    }
    Ok(case)
}
