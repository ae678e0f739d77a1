//! `validate`: any ONNX file against reference data, with a verdict a CI can trust.
//!
//! The stage reads a model safely ([`model`]), reads its reference data ([`testdata`], backend
//! `.pb` layout or NumPy files), runs tract once per test set with every dim bound from the
//! data ([`run`]), and compares outputs, losses and decisions ([`check`]). [`manifest`] runs a
//! list of models as a CI gate, [`conformance`] runs a folder of ONNX node tests, [`inspect`]
//! describes a file.
//!
//! A mismatch is data: a [`CaseReport`] with status `fail`. An `Err` (kept in the report as a
//! case with status `error`) means it could not run, and names the file. Nothing here panics
//! on bad input, prints, or exits.

pub mod check;
pub mod conformance;
pub mod error;
pub mod fuzzing;
pub mod guard;
pub mod inspect;
pub mod manifest;
pub mod model;
pub mod npy;
pub mod run;
pub mod sizes;
pub mod testdata;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use serde::Serialize;
use tract_onnx::prelude::{DatumType, Tensor};

pub use check::{AccuracyReport, ExpectLoss, FormLoss, HeadReport, LossReport};
pub use error::{ErrorKind, ValidateError};
pub use testdata::MatchedBy;

use crate::metrics::{Metrics, Preset, Tolerance, datum_name};
use crate::onnx::TensorLimits;
use crate::report::Tool;
use model::LoadedModel;

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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShaCheck {
    pub actual: String,
    pub expected: Option<String>,
    pub matches: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputReport {
    pub name: String,
    pub file: String,
    pub matched_by: MatchedBy,
    pub dtype: String,
    pub shape: Vec<usize>,
    /// The input was bound into the graph as a constant because tract could not run the graph
    /// with it as an input (see [`model::with_constants`]).
    pub bound_as_constant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputReport {
    pub name: String,
    pub file: String,
    pub matched_by: MatchedBy,
    pub status: Status,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub expected_dtype: String,
    pub expected_shape: Vec<usize>,
    pub tolerance: Tolerance,
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Why the output could not be compared element by element (type or shape differ).
    pub problem: Option<String>,
}

/// One model on one test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    pub model: String,
    pub test_data: Option<String>,
    pub status: Status,
    /// Why it could not run (status `error`), with the file named.
    pub error: Option<String>,
    pub error_kind: Option<ErrorKind>,
    /// Why it failed, one line each (outputs, loss gates, sha256).
    pub problems: Vec<String>,
    pub sha256: Option<ShaCheck>,
    pub tolerance_name: String,
    pub inputs: Vec<InputReport>,
    pub outputs: Vec<OutputReport>,
    pub loss: Option<LossReport>,
    pub binary_accuracy: Option<AccuracyReport>,
}

impl CaseReport {
    fn empty(model: &str, test_data: Option<String>, tolerance_name: &str) -> Self {
        Self {
            model: model.to_owned(),
            test_data,
            status: Status::Pass,
            error: None,
            error_kind: None,
            problems: Vec::new(),
            sha256: None,
            tolerance_name: tolerance_name.to_owned(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            loss: None,
            binary_accuracy: None,
        }
    }

    /// A case that could not run.
    pub fn error(model: &str, test_data: Option<String>, e: &ValidateError) -> Self {
        Self {
            status: Status::Error,
            error: Some(e.chain()),
            error_kind: Some(e.kind()),
            ..Self::empty(model, test_data, "")
        }
    }

    /// A case that failed for a reason outside any run (an unlisted file in a manifest).
    pub fn failed(model: &str, problem: String) -> Self {
        Self {
            status: Status::Fail,
            problems: vec![problem],
            ..Self::empty(model, None, "")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

/// The whole verdict: `error` if any case could not run, else `fail` if any failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateReport {
    pub tool: Tool,
    pub status: Status,
    pub summary: Summary,
    pub cases: Vec<CaseReport>,
}

impl ValidateReport {
    pub fn new(cases: Vec<CaseReport>) -> Self {
        let count = |s: Status| cases.iter().filter(|c| c.status == s).count();
        let summary = Summary {
            cases: cases.len(),
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            errors: count(Status::Error),
        };
        let status = if summary.errors > 0 {
            Status::Error
        } else if summary.failed > 0 || cases.is_empty() {
            Status::Fail
        } else {
            Status::Pass
        };
        Self {
            tool: Tool::default(),
            status,
            summary,
            cases,
        }
    }
}

/// Validates one model on each of its test sets. Never fails as a whole: what could not run
/// becomes a case with status `error`.
pub fn validate(cfg: &ValidateConfig) -> Vec<CaseReport> {
    let name = cfg.model.display().to_string();
    let model = match model::load_model(&cfg.model, cfg.limits) {
        Ok(m) => m,
        Err(e) => return vec![CaseReport::error(&name, None, &e)],
    };
    validate_loaded(&model, cfg)
}

/// [`validate`] for a model already loaded (the fuzz target and the conformance runner).
pub fn validate_loaded(model: &LoadedModel, cfg: &ValidateConfig) -> Vec<CaseReport> {
    let name = cfg.model.display().to_string();
    let prepared = (|| {
        let labels = cfg
            .labels
            .as_deref()
            .map(|p| load_labels(p, cfg.limits).map(|t| (p, t)))
            .transpose()?;
        let sets = testdata::resolve(&cfg.model, &cfg.test_data)?;
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
    let mut plans = HashMap::new();
    sets.iter()
        .map(|set| {
            let label = set.display().to_string();
            match run_case(model, cfg, set, labels.as_ref(), &mut plans) {
                Ok(mut case) => {
                    if !sha.matches {
                        case.problems.push(format!(
                            "model file changed: sha256 is {}, the manifest says {}; update its \
                             entry if the change is intended",
                            sha.actual,
                            sha.expected.as_deref().unwrap_or("")
                        ));
                        case.status = Status::Fail;
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

/// Labels as f32, whatever numeric type the file holds.
fn load_labels(path: &Path, limits: TensorLimits) -> Result<ArrayD<f32>, ValidateError> {
    let labels_err = |message: String| ValidateError::Labels {
        path: path.to_owned(),
        message,
    };
    if path.extension().and_then(|e| e.to_str()) != Some("npy") {
        return Err(labels_err("labels must be a .npy file".to_owned()));
    }
    let t = npy::read_npy(path, limits)?;
    let t = match t.datum_type() {
        DatumType::F32 => t,
        DatumType::Bool => t
            .cast_to::<u8>()
            .and_then(|c| c.cast_to::<f32>().map(|c| c.into_owned()))
            .map_err(|e| labels_err(format!("{e:#}")))?,
        _ => t
            .cast_to::<f32>()
            .map(|c| c.into_owned())
            .map_err(|e| labels_err(format!("{e:#}")))?,
    };
    t.into_plain_array::<f32>()
        .map_err(|e| labels_err(format!("{e:#}")))
}

type PlanKey = Vec<(DatumType, Vec<usize>)>;

/// Inputs of at most this many elements may be bound as constants when tract refuses a graph
/// (see [`model::with_constants`]).
pub const MAX_CONSTANT_ELEMENTS: usize = 64;

/// Runs one test set; returns the fetched tensors and the inputs that had to be bound as
/// constants.
///
/// tract requires some operands to be constants (reduction axes, reshape targets, pads, Resize
/// scales) that ONNX lets a graph take as inputs. When tract refuses the graph as it is, the
/// run is retried with small inputs bound to their values: first the integer and boolean ones
/// (axes, shapes, indices), then any small one. The computation is still tract's; the report
/// marks the bound inputs. If no retry works, the error gives tract's first message and what the
/// last retry ran into.
fn run_set(
    model: &LoadedModel,
    set: &testdata::TestSet,
    fetch: &[String],
    plans: &mut HashMap<PlanKey, run::Plan>,
) -> Result<(Vec<Tensor>, Vec<String>), ValidateError> {
    let inputs: Vec<&Tensor> = set.inputs.iter().map(|r| &r.tensor).collect();
    let key: PlanKey = inputs
        .iter()
        .map(|t| (t.datum_type(), t.shape().to_vec()))
        .collect();
    let first = match plans.get(&key) {
        Some(plan) => run::execute(model, plan, &inputs),
        None => run::prepare(model, &inputs, fetch).and_then(|plan| {
            let out = run::execute(model, &plan, &inputs);
            plans.insert(key, plan);
            out
        }),
    };
    let err = match first {
        Ok(outputs) => return Ok((outputs, Vec::new())),
        Err(e @ ValidateError::Tract { .. }) => e,
        Err(e) => return Err(e),
    };
    let tiers: [fn(&Tensor) -> bool; 2] = [
        |t| t.len() <= MAX_CONSTANT_ELEMENTS && !t.datum_type().is_float(),
        |t| t.len() <= MAX_CONSTANT_ELEMENTS,
    ];
    let mut tried: Vec<Vec<usize>> = Vec::new();
    let mut retry_err: Option<(Vec<String>, ValidateError)> = None;
    for bind in tiers {
        let chosen: Vec<usize> = (0..inputs.len()).filter(|&i| bind(inputs[i])).collect();
        if chosen.is_empty() || tried.contains(&chosen) {
            continue;
        }
        tried.push(chosen.clone());
        let constants: Vec<(String, Tensor)> = chosen
            .iter()
            .map(|&i| (set.inputs[i].name.clone(), set.inputs[i].tensor.clone()))
            .collect();
        let rest: Vec<&Tensor> = (0..inputs.len())
            .filter(|i| !chosen.contains(i))
            .map(|i| inputs[i])
            .collect();
        let attempt = model::with_constants(model, &constants).and_then(|m| {
            let plan = run::prepare(&m, &rest, fetch)?;
            run::execute(&m, &plan, &rest)
        });
        let names: Vec<String> = constants.into_iter().map(|(n, _)| n).collect();
        match attempt {
            Ok(outputs) => return Ok((outputs, names)),
            Err(e) => retry_err = Some((names, e)),
        }
    }
    // Say what the retry ran into too: it is often the real limitation.
    match (err, retry_err) {
        (
            ValidateError::Tract {
                path,
                stage,
                message,
                panicked,
            },
            Some((names, retry)),
        ) => {
            let retry = match retry {
                ValidateError::Tract { message, .. } | ValidateError::Model { message, .. } => {
                    message
                }
                other => other.chain(),
            };
            Err(ValidateError::Tract {
                path,
                stage,
                message: format!(
                    "{message}; retried with input(s) {} bound as constants: {retry}",
                    names.join(", ")
                ),
                panicked,
            })
        }
        (err, _) => Err(err),
    }
}

fn run_case(
    model: &LoadedModel,
    cfg: &ValidateConfig,
    set_path: &Path,
    labels: Option<&(&Path, ArrayD<f32>)>,
    plans: &mut HashMap<PlanKey, run::Plan>,
) -> Result<CaseReport, ValidateError> {
    let set = testdata::load(set_path, &model.signature, cfg.limits)?;
    if set.outputs.is_empty() && labels.is_none() {
        return Err(ValidateError::TestData {
            path: set_path.to_owned(),
            message: "no expected outputs and no labels: nothing to check".to_owned(),
        });
    }
    let sig = &model.signature;
    let loss_output = match (&cfg.loss_output, labels) {
        (_, None) => None,
        (Some(name), Some(_)) => {
            if !sig.outputs.iter().any(|o| &o.name == name) {
                return Err(ValidateError::Model {
                    path: model.path.clone(),
                    message: format!("--loss-output '{name}' is not a graph output"),
                });
            }
            Some(name.clone())
        }
        (None, Some(_)) => sig.outputs.first().map(|o| o.name.clone()),
    };
    let head = loss_output
        .as_ref()
        .and_then(|o| model.sigmoid_heads.get(o));

    let mut fetch: Vec<String> = sig.outputs.iter().map(|o| o.name.clone()).collect();
    let logits_at = head.map(|h| match fetch.iter().position(|f| f == &h.logits) {
        Some(i) => i,
        None => {
            fetch.push(h.logits.clone());
            fetch.len() - 1
        }
    });
    let (outputs, constants) = run_set(model, &set, &fetch, plans)?;

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
        let (metrics, problem) = check::compare_output(actual, &r.tensor, &tol);
        let status = if metrics.passed() && problem.is_none() {
            Status::Pass
        } else {
            Status::Fail
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
            head: head.zip(logits_at.map(|j| &outputs[j])),
            reference: reference.map(|r| &r.tensor),
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
        case.status = Status::Fail;
    }
    Ok(case)
}
