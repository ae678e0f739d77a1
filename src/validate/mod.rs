//! `validate`: any ONNX file against reference data, with a verdict a CI can trust.
//!
//! The model is opened and checked ([`crate::runtime::OnnxModel`]); each test set
//! ([`crate::refdata::testset`]: backend `.pb` layout or NumPy files) decides which outputs
//! are checked (those it holds reference data for, or `--outputs`, plus the loss output), the
//! graph is pruned to them ([`OnnxModel::with_outputs`]) and prepared by a runtime (tract or
//! onnxruntime, [`ValidateConfig::runtime`]), run
//! once with every dim bound from the data, and outputs, losses and decisions are compared
//! ([`check`]). What the model produces is what gets compared: an output declared with another
//! shape or type than it comes out with is a warning, not an error. [`manifest`] runs a list of
//! models as a CI gate; [`fuzzing`] is the decode path the fuzz target drives.
//!
//! A mismatch is data: a [`CaseReport`] with status `fail`. An `Err` (kept in the report as a
//! case with status `error`) means it could not run, and names the file. Nothing here panics
//! on bad input, prints, or exits.

pub mod check;
pub mod error;
pub mod fuzzing;
pub mod manifest;
pub mod report;
pub mod shard;
mod stream;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::ArrayD;
use tract_onnx::prelude::DatumType;

pub use check::{
    AccuracyReport, ExpectLoss, ExpectedDivergence, FormLoss, HeadReport, LossForm, LossReport,
    LossTolerance, ReferenceCheck, SklearnLoss,
};
pub use error::{ErrorKind, ValidateError};
pub use report::{
    CaseReport, InputReport, LeftOut, OutputReport, ShaCheck, Summary, ValidateReport,
};
pub use shard::Shard;
pub use stream::{CaseState, Finish};

use crate::metrics::{Incomparable, Metrics, Preset, Tolerance, datum_name, suggest};
use crate::onnx::{TensorLimits, exotic};
use crate::refdata::{self, RefDataError, testset};
use crate::runtime::{
    Feed, NoiseSource, OnnxModel, RunOutput, Runnable, Runtime, RuntimeError, RuntimeKind, head,
};
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
    /// Output the losses are computed on; default the first floating-point graph output.
    pub loss_output: Option<String>,
    /// Outputs to check (`--outputs`); empty: every output the reference data covers. The
    /// graph is pruned to these (and the loss output) before a runtime prepares it.
    pub outputs: Vec<String>,
    pub tolerance: Tolerance,
    /// Label of `tolerance` in reports (a preset name or `custom`).
    pub tolerance_name: String,
    /// Per-output tolerances overriding `tolerance`.
    pub output_tolerances: BTreeMap<String, Tolerance>,
    pub expect: ExpectLoss,
    /// Losses expected to diverge from the reference under a runtime (manifest entries).
    pub expect_divergence: Vec<ExpectedDivergence>,
    /// The model file's expected sha256 (manifest entries); a difference fails the case.
    pub sha256: Option<String>,
    pub limits: TensorLimits,
    /// Report the tightest tolerance each output would pass, next to the noise floor.
    pub suggest_tolerance: bool,
    /// Read `.npy` test data and labels this many samples at a time (`--chunk`), so that a test
    /// set larger than memory can be validated; `None` reads each file whole.
    pub chunk: Option<usize>,
    /// Validate only this shard's slice of every test set's samples (`--shard I/N`), and
    /// keep the state [`shard::merge`] combines into the whole set's report.
    pub shard: Option<Shard>,
    /// Who runs the model.
    pub runtime: RuntimeKind,
    /// Reference file names mapped to model names (`--map FILE_NAME=MODEL_NAME`).
    pub map: Vec<(String, String)>,
    /// Also record where each output's errors lie (histograms of absolute error and ULP
    /// distance, the worst elements), for the HTML report. Off by default: it costs a
    /// logarithm per element.
    pub error_detail: bool,
}

impl ValidateConfig {
    /// Whether test sets are read in slices of samples (`--chunk`, `--shard`) rather than whole.
    fn reads_rows(&self) -> bool {
        self.chunk.is_some() || self.shard.is_some()
    }

    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            test_data: Vec::new(),
            labels: None,
            loss_output: None,
            outputs: Vec::new(),
            tolerance: Preset::Default.tolerance(),
            tolerance_name: Preset::Default.name().to_owned(),
            output_tolerances: BTreeMap::new(),
            expect: ExpectLoss {
                tol: DEFAULT_LOSS_TOL,
                ..ExpectLoss::default()
            },
            expect_divergence: Vec::new(),
            sha256: None,
            limits: TensorLimits::default(),
            suggest_tolerance: false,
            chunk: None,
            shard: None,
            runtime: RuntimeKind::Tract,
            map: Vec::new(),
            error_detail: false,
        }
    }
}

/// Validates one model on each of its test sets. Never fails as a whole: what could not run
/// becomes a case with status `error`.
pub fn validate(cfg: &ValidateConfig) -> Vec<CaseReport> {
    reports(open_and_validate(cfg).1)
}

/// [`validate`] for a model already opened (the fuzz target and the benchmark), run by the
/// configured runtime.
pub fn validate_model(model: &Arc<OnnxModel>, cfg: &ValidateConfig) -> Vec<CaseReport> {
    reports(model_cases(model, cfg))
}

/// [`validate`] with the model prepared by `runtime`: each test set runs on the model pruned to
/// the outputs it checks; a preparation serves every set that checks the same outputs.
pub fn validate_on(
    model: &Arc<OnnxModel>,
    runtime: &dyn Runtime,
    cfg: &ValidateConfig,
) -> Vec<CaseReport> {
    reports(validate_cases(model, runtime, cfg))
}

/// [`validate`] as a report; with [`ValidateConfig::shard`], the report carries the shard's
/// state for [`shard::merge`].
pub fn validate_report(cfg: &ValidateConfig) -> ValidateReport {
    let (sha256, cases) = open_and_validate(cfg);
    let state = cfg
        .shard
        .map(|s| shard::ShardState::new(s, cfg, sha256, &cases));
    let mut report = ValidateReport::new(reports(cases));
    report.shard = state;
    report
}

/// The reports of cases run with their states.
fn reports(cases: Vec<(CaseReport, Option<CaseState>)>) -> Vec<CaseReport> {
    cases.into_iter().map(|(case, _)| case).collect()
}

/// Opens the model and validates it: its sha256 (empty when it could not be opened) and every
/// case with its state.
fn open_and_validate(cfg: &ValidateConfig) -> (String, Vec<(CaseReport, Option<CaseState>)>) {
    match OnnxModel::open(&cfg.model, cfg.limits) {
        Ok(model) => (model.sha256.clone(), model_cases(&model, cfg)),
        Err(e) => (
            String::new(),
            vec![(CaseReport::error(&model_name(cfg), None, &e.into()), None)],
        ),
    }
}

/// The cases of an opened model under the configured runtime, with their states.
fn model_cases(
    model: &Arc<OnnxModel>,
    cfg: &ValidateConfig,
) -> Vec<(CaseReport, Option<CaseState>)> {
    match cfg.runtime.runtime() {
        Ok(runtime) => validate_cases(model, runtime.as_ref(), cfg),
        Err(e) => vec![(CaseReport::error(&model_name(cfg), None, &e.into()), None)],
    }
}

/// Each case's report, and its state where it was read in slices (`--chunk`, `--shard`).
fn validate_cases(
    model: &Arc<OnnxModel>,
    runtime: &dyn Runtime,
    cfg: &ValidateConfig,
) -> Vec<(CaseReport, Option<CaseState>)> {
    let name = model_name(cfg);
    let prepared = (|| {
        if let Some(o) = cfg
            .outputs
            .iter()
            .find(|o| !model.signature.outputs.iter().any(|d| &&d.name == o))
        {
            return Err(ValidateError::from(RuntimeError::Model {
                path: cfg.model.clone(),
                message: format!(
                    "--outputs '{o}' is not a graph output (outputs: {})",
                    model.signature.output_names().join(", ")
                ),
            }));
        }
        // Read in chunks with the test data under --chunk; here only its header is checked.
        let labels = match cfg.reads_rows() {
            false => cfg
                .labels
                .as_deref()
                .map(|p| refdata::read_labels(p, cfg.limits).map(|t| (p, t)))
                .transpose()?,
            true => {
                if let Some(p) = cfg.labels.as_deref() {
                    refdata::NpyRows::open(p, cfg.limits)?;
                }
                None
            }
        };
        let sets = testset::resolve(&cfg.model, &cfg.test_data)?;
        Ok::<_, ValidateError>((labels, sets))
    })();
    let (labels, sets) = match prepared {
        Ok(x) => x,
        Err(e) => return vec![(CaseReport::error(&name, None, &e), None)],
    };
    let sha = ShaCheck {
        actual: model.sha256.clone(),
        expected: cfg.sha256.clone(),
        matches: cfg
            .sha256
            .as_ref()
            .is_none_or(|s| s.eq_ignore_ascii_case(&model.sha256)),
    };
    // One preparation per set of kept outputs (with the noise sources of `--suggest-tolerance`
    // for that pruned model); one that failed is reported once, as the model's error (as when
    // the whole model cannot be prepared).
    let mut runnables: Vec<Prepared> = Vec::new();
    let mut failed: Vec<Vec<String>> = Vec::new();
    let mut cases = Vec::new();
    for set in &sets {
        let label = set.display().to_string();
        let loaded = match load_case(model, cfg, set, cfg.labels.is_some()) {
            Ok(l) => l,
            Err(e) => {
                let mut case = CaseReport::error(&name, Some(label), &e);
                case.sha256 = Some(sha.clone());
                cases.push((case, None));
                continue;
            }
        };
        if failed.contains(&loaded.keep) {
            continue;
        }
        let at = match runnables.iter().position(|(k, ..)| k == &loaded.keep) {
            Some(at) => at,
            None => {
                let prepared = model.with_outputs(&loaded.keep).and_then(|m| {
                    let noise = if cfg.suggest_tolerance {
                        crate::runtime::noise_sources(&m, cfg.runtime)?
                    } else {
                        Vec::new()
                    };
                    Ok((runtime.prepare(&m)?, noise))
                });
                match prepared {
                    Ok((r, noise)) => runnables.push((loaded.keep.clone(), r, noise)),
                    Err(e) => {
                        cases.push((CaseReport::error(&name, None, &e.into()), None));
                        failed.push(loaded.keep);
                        continue;
                    }
                }
                runnables.len() - 1
            }
        };
        let (_, runnable, noise) = &mut runnables[at];
        cases.push(
            match run_case(
                runnable.as_mut(),
                noise,
                runtime.name(),
                model,
                cfg,
                loaded,
                labels.as_ref(),
            ) {
                Ok((mut case, state)) => {
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
                    (case, state)
                }
                Err(e) => {
                    let mut case = CaseReport::error(&name, Some(label), &e);
                    case.sha256 = Some(sha.clone());
                    (case, None)
                }
            },
        );
    }
    cases
}

/// The outputs a preparation keeps, the model prepared for them, and its noise sources.
type Prepared = (Vec<String>, Box<dyn Runnable>, Vec<NoiseSource>);
/// Each form's loss against the same loss from the reference outputs: a failure is a problem
/// (with the clip explanation when the clip counts differ), unless the manifest expects this
/// runtime to diverge there; an expected divergence that does not happen is a problem too.
fn loss_verdict(
    loss: &mut LossReport,
    divergences: &[ExpectedDivergence],
    runtime: RuntimeKind,
    problems: &mut Vec<String>,
) {
    let explanation = loss.clip_explanation.clone();
    let tol = loss.loss_tolerance;
    for form in LossForm::ALL {
        let expected = divergences
            .iter()
            .find(|d| d.runtime == runtime && d.loss == form);
        let f = loss.form_mut(form);
        let value = f.value_f32;
        let reference = f.reference;
        match (f.vs_reference.as_mut(), expected) {
            (Some(c), Some(d)) if !c.passed => c.expected_divergence = Some(d.why.clone()),
            (Some(c), None) if !c.passed => problems.push(format!(
                "{}-form loss {value:.9} differs from {:.9}, the same loss on the reference \
                 outputs, by {:.3e} (allowed {:.3e}: loss tolerance {tol}){}",
                form.short(),
                reference.unwrap_or(f64::NAN),
                c.abs_diff,
                c.allowed,
                explanation
                    .as_ref()
                    .map_or(String::new(), |e| format!("; {e}"))
            )),
            (check, Some(d)) => problems.push(format!(
                "the manifest expects the {}-form loss to diverge under {} ({}), but it {}: \
                 remove that expect_divergence entry",
                form.short(),
                runtime,
                d.why,
                if check.is_some() {
                    "matches the reference within the loss tolerance"
                } else {
                    "has no reference value to diverge from"
                }
            )),
            _ => {}
        }
    }
}

/// What a run fetches: the signature's outputs, plus the logits under the loss output's sigmoid
/// head when the head has one that is not already an output.
struct Fetch {
    names: Vec<String>,
    head: Option<head::SigmoidHead>,
    /// Where the logits are among `names`.
    logits_at: Option<usize>,
}

impl Fetch {
    fn for_run(
        runnable: &dyn Runnable,
        sig: &crate::onnx::Signature,
        loss_output: Option<&str>,
    ) -> Self {
        let head = loss_output.and_then(|o| head::sigmoid_head(runnable, o));
        let mut names = sig.output_names();
        let logits_at = head
            .as_ref()
            .map(|h| match names.iter().position(|f| f == &h.logits) {
                Some(i) => i,
                None => {
                    names.push(h.logits.clone());
                    names.len() - 1
                }
            });
        Self {
            names,
            head,
            logits_at,
        }
    }
}

fn model_name(cfg: &ValidateConfig) -> String {
    cfg.model.display().to_string()
}

/// A test set's data: read whole, or opened to be read in chunks of samples (`--chunk`).
enum SetData {
    Whole(testset::TestSet),
    Rows(testset::RowSet),
}

impl SetData {
    fn has_output(&self, name: &str) -> bool {
        match self {
            SetData::Whole(s) => s.outputs.iter().any(|r| r.name == name),
            SetData::Rows(s) => s.outputs.iter().any(|r| r.name == name),
        }
    }

    fn retain_outputs(&mut self, keep: &[String]) {
        match self {
            SetData::Whole(s) => s.outputs.retain(|r| keep.contains(&r.name)),
            SetData::Rows(s) => s.outputs.retain(|r| keep.contains(&r.name)),
        }
    }

    fn no_outputs(&self) -> bool {
        match self {
            SetData::Whole(s) => s.outputs.is_empty(),
            SetData::Rows(s) => s.outputs.is_empty(),
        }
    }
}

/// A test set read against the whole model, and what it checks.
struct Loaded {
    set: SetData,
    /// Graph outputs to compute, in the graph's order: the ones checked, and the loss output.
    keep: Vec<String>,
    left_out: Vec<LeftOut>,
    loss_output: Option<String>,
}

/// Reads a test set (matched to the whole model's signature, so `output_K.pb` keeps its
/// meaning) and decides which outputs it checks.
fn load_case(
    model: &OnnxModel,
    cfg: &ValidateConfig,
    set_path: &Path,
    has_labels: bool,
) -> Result<Loaded, ValidateError> {
    let sig = &model.signature;
    let flag = if cfg.shard.is_some() {
        "--shard"
    } else {
        "--chunk"
    };
    let mut set = match cfg.reads_rows() {
        false => SetData::Whole(testset::load_mapped(set_path, sig, cfg.limits, &cfg.map)?),
        true if !cfg.map.is_empty() => {
            return Err(RefDataError::TestData {
                path: set_path.to_owned(),
                message: format!(
                    "{flag} matches NAME.npy files to the model by name only; drop --map \
                     (rename the files) or drop {flag}"
                ),
            }
            .into());
        }
        true if cfg.error_detail => {
            return Err(RefDataError::TestData {
                path: set_path.to_owned(),
                message: format!(
                    "the HTML report's error distribution needs each output whole, which \
                     {flag} does not keep; drop {flag} or choose another --format"
                ),
            }
            .into());
        }
        true => SetData::Rows(testset::open_rows(set_path, sig, cfg.limits)?),
    };
    let loss_output = match (&cfg.loss_output, has_labels) {
        (_, false) => None,
        (Some(name), true) => {
            if !sig.outputs.iter().any(|o| &o.name == name) {
                return Err(RuntimeError::Model {
                    path: cfg.model.clone(),
                    message: format!("--loss-output '{name}' is not a graph output"),
                }
                .into());
            }
            Some(name.clone())
        }
        (None, true) => default_loss_output(sig, &cfg.outputs),
    };
    let asked = |name: &str| cfg.outputs.is_empty() || cfg.outputs.iter().any(|o| o == name);
    let has_reference = |name: &str| set.has_output(name);
    let mut keep = Vec::new();
    let mut left_out = Vec::new();
    for o in &sig.outputs {
        let name = o.name.as_str();
        if loss_output.as_deref() == Some(name) || (asked(name) && has_reference(name)) {
            keep.push(o.name.clone());
            continue;
        }
        let reason = if has_reference(name) {
            "not among --outputs; its reference data is not compared"
        } else if cfg.outputs.is_empty() {
            "no reference data for it in this test set"
        } else if asked(name) {
            "asked for by --outputs, but this test set has no reference data for it"
        } else {
            "not among --outputs, and no reference data for it in this test set"
        };
        left_out.push(LeftOut {
            output: o.name.clone(),
            reason: reason.to_owned(),
        });
    }
    set.retain_outputs(&keep);
    if set.no_outputs() && !has_labels {
        return Err(RefDataError::TestData {
            path: set_path.to_owned(),
            message: if cfg.outputs.is_empty() {
                "no expected outputs and no labels: nothing to check".to_owned()
            } else {
                format!(
                    "no expected outputs for --outputs {} and no labels: nothing to check",
                    cfg.outputs.join(",")
                )
            },
        }
        .into());
    }
    Ok(Loaded {
        set,
        keep,
        left_out,
        loss_output,
    })
}

/// The output losses are computed on by default: the first one declared floating point (a
/// classifier's probabilities rather than its integer labels), preferring those in `asked`
/// (`--outputs`), else the first output.
fn default_loss_output(sig: &crate::onnx::Signature, asked: &[String]) -> Option<String> {
    use crate::onnx::pb::tensor_proto::DataType;
    let float = [
        DataType::Float,
        DataType::Double,
        DataType::Float16,
        DataType::Bfloat16,
    ]
    .map(|d| d as i32);
    let is_float = |o: &&crate::onnx::TensorDecl| o.elem_type.is_some_and(|e| float.contains(&e));
    let is_asked = |o: &&crate::onnx::TensorDecl| asked.is_empty() || asked.contains(&o.name);
    sig.outputs
        .iter()
        .find(|o| is_float(o) && is_asked(o))
        .or_else(|| sig.outputs.iter().find(is_float))
        .or(sig.outputs.first())
        .map(|o| o.name.clone())
}

fn run_case(
    runnable: &mut dyn Runnable,
    noise: &mut [NoiseSource],
    runtime: &str,
    model: &OnnxModel,
    cfg: &ValidateConfig,
    loaded: Loaded,
    labels: Option<&(&Path, ArrayD<f32>)>,
) -> Result<(CaseReport, Option<CaseState>), ValidateError> {
    let Loaded {
        set,
        left_out,
        loss_output,
        ..
    } = loaded;
    let set = match set {
        SetData::Whole(set) => set,
        SetData::Rows(set) => {
            return stream::run_rows(
                runnable,
                runtime,
                model,
                cfg,
                stream::Rows {
                    set,
                    left_out,
                    loss_output,
                    labels: cfg.labels.as_deref(),
                    chunk: cfg.chunk.unwrap_or(usize::MAX).max(1),
                    shard: cfg.shard,
                },
            )
            .map(|(case, state)| (case, Some(state)));
        }
    };
    let set_path = set.path.as_path();
    // The pruned model's signature: the outputs kept, in the graph's order.
    let sig = runnable.signature().clone();
    let Fetch {
        names: fetch,
        head,
        logits_at,
    } = Fetch::for_run(runnable, &sig, loss_output.as_deref());
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
    // The noise floor: each other way of computing the model against this run's outputs.
    let mut floors: Vec<Vec<(String, Metrics)>> = vec![Vec::new(); sig.outputs.len()];
    if cfg.suggest_tolerance {
        let names = sig.output_names();
        for (label, other) in noise.iter_mut() {
            let theirs = other.run(&feeds, &names)?.values;
            for (i, t) in theirs.iter().enumerate() {
                if let Ok(m) =
                    crate::metrics::compare_tensors(&outputs[i], t, &Tolerance::new(0.0, 0.0))
                {
                    floors[i].push((label.clone(), m));
                }
            }
        }
    }

    let mut case = CaseReport::empty(
        &cfg.model.display().to_string(),
        Some(set_path.display().to_string()),
        &cfg.tolerance_name,
    );
    case.left_out = left_out;
    case.warnings = declaration_warnings(runtime, model, &set, &sig, &outputs);
    case.inputs = set
        .inputs
        .iter()
        .map(|r| InputReport {
            name: r.name.clone(),
            file: r.file.clone(),
            matched_by: r.matched_by,
            dtype: r.dtype_name(),
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
        let advice = cfg
            .suggest_tolerance
            .then(|| suggest::advise(actual, &r.tensor, &tol, &floors[i]))
            .flatten();
        let mut report = output_report(
            &mut case.problems,
            r,
            (
                exotic::type_name(actual, sig.outputs[i].elem_type),
                actual.shape().to_vec(),
            ),
            (r.dtype_name(), r.tensor.shape().to_vec()),
            tol,
            metrics,
            problem,
        );
        report.advice = advice;
        report.distribution = distribution;
        case.outputs.push(report);
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
            head: head.as_ref().zip(logits_at.map(|j| Some(&outputs[j]))),
            reference: reference.map(|r| &*r.tensor),
            labels: y,
            labels_file: &labels_path.display().to_string(),
        };
        let (loss, accuracy) = check::losses(&inputs, &cfg.expect).map_err(labels_err)?;
        record_losses(
            &mut case,
            (loss, accuracy),
            &cfg.expect_divergence,
            cfg.runtime,
        );
    }
    if !case.problems.is_empty() {
        case.status = Verdict::Fail;
    }
    Ok((case, None))
}

/// An output's report, and its problem line when it failed: `actual` and `expected` are the
/// element types and (whole) shapes of what the model produced and of the reference.
fn output_report(
    problems: &mut Vec<String>,
    r: &dyn RefFile,
    actual: (String, Vec<usize>),
    expected: (String, Vec<usize>),
    tol: Tolerance,
    metrics: Metrics,
    problem: Option<Incomparable>,
) -> OutputReport {
    let (name, file) = (r.name(), r.file());
    let status = if metrics.passed() && problem.is_none() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    if let Some(p) = &problem {
        problems.push(match p {
            Incomparable::Shape { actual, expected } => format!(
                "output '{name}': the model produced shape {actual:?}, the reference ({file}) has \
                 {expected:?}"
            ),
            _ => format!("output '{name}' cannot be compared: {p}"),
        });
    } else if let (false, Some(w)) = (metrics.passed(), &metrics.worst) {
        problems.push(format!(
            "output '{name}': {} of {} elements beyond tolerance ({tol}); worst at {:?}: \
             model {} vs reference {}",
            metrics.mismatches, metrics.elements, w.index, w.actual, w.expected
        ));
    }
    OutputReport {
        name: name.to_owned(),
        file: file.to_owned(),
        matched_by: r.matched_by(),
        status,
        dtype: actual.0,
        shape: actual.1,
        expected_dtype: expected.0,
        expected_shape: expected.1,
        tolerance: tol,
        metrics,
        problem: problem.map(|p| p.to_string()),
        advice: None,
        distribution: None,
    }
}

/// A reference file, read whole or in chunks.
trait RefFile {
    fn name(&self) -> &str;
    fn file(&self) -> &str;
    fn matched_by(&self) -> refdata::MatchedBy;
}

impl RefFile for refdata::RefTensor {
    fn name(&self) -> &str {
        &self.name
    }
    fn file(&self) -> &str {
        &self.file
    }
    fn matched_by(&self) -> refdata::MatchedBy {
        self.matched_by
    }
}

/// Puts the losses and accuracy into the case, with a problem line for each failed loss verdict
/// ([`loss_verdict`]) and expected-loss gate ([`loss_problems`]): one order for whole and
/// streamed cases.
fn record_losses(
    case: &mut CaseReport,
    (mut loss, accuracy): (LossReport, AccuracyReport),
    divergences: &[ExpectedDivergence],
    runtime: RuntimeKind,
) {
    loss_verdict(&mut loss, divergences, runtime, &mut case.problems);
    loss_problems(&mut case.problems, &loss);
    case.loss = Some(loss);
    case.binary_accuracy = Some(accuracy);
}

/// One problem line per expected-loss gate that failed.
fn loss_problems(problems: &mut Vec<String>, loss: &LossReport) {
    for (form, f) in [
        ("logits-form loss", &loss.logits_form),
        ("probs-form loss", &loss.probs_form),
        ("scikit-learn binary_log_loss", &loss.sklearn_form.value),
    ] {
        if f.passed == Some(false) {
            problems.push(format!(
                "{form} {:.9} differs from the expected {:.9} by {:.3e} (loss \
                 tolerance {:e})",
                f.value_f32,
                f.expected.unwrap_or(f64::NAN),
                f.abs_diff.unwrap_or(f64::NAN),
                loss.tolerance
            ));
        }
    }
}

/// Outputs the runtime produced with another element type or shape than the graph declares
/// (symbolic dims bound by the inputs first): one warning each. The produced tensor is what
/// gets compared; a declaration is only the exporter's claim.
fn declaration_warnings(
    runtime: &str,
    model: &OnnxModel,
    set: &testset::TestSet,
    sig: &crate::onnx::Signature,
    produced: &[tract_onnx::prelude::Tensor],
) -> Vec<String> {
    declaration_warnings_of(
        runtime,
        model,
        set.inputs.iter().map(|r| {
            (
                r.name.as_str(),
                Some(r.data_type),
                r.tensor.shape().to_vec(),
            )
        }),
        sig,
        produced
            .iter()
            .map(|t| (t.datum_type(), t.shape().to_vec())),
    )
}

/// [`declaration_warnings`] from element types and shapes: the inputs fed (by name) and the
/// tensors produced (in `sig`'s output order).
fn declaration_warnings_of<'a>(
    runtime: &str,
    model: &OnnxModel,
    inputs: impl Iterator<Item = (&'a str, Option<i32>, Vec<usize>)>,
    sig: &crate::onnx::Signature,
    produced: impl Iterator<Item = (DatumType, Vec<usize>)>,
) -> Vec<String> {
    let mut bound = BTreeMap::new();
    for (name, data_type, shape) in inputs {
        if let Some(d) = model.signature.inputs.iter().find(|d| d.name == name) {
            testset::disagreement_in(d, data_type, &shape, &mut bound);
        }
    }
    sig.outputs
        .iter()
        .zip(produced)
        .filter_map(|(d, (dt, shape))| {
            let have = crate::onnx::onnx_data_type(dt).map(|dt| dt as i32);
            let why = testset::disagreement_in(d, have, &shape, &mut bound)?;
            Some(format!(
                "output '{}' is declared {} {} but {runtime} produced {} {:?} ({why}); the \
                 produced tensor is what is compared",
                d.name,
                d.elem_type
                    .map_or("any type".to_owned(), crate::onnx::dtype_name),
                d.dims_text(),
                datum_name(dt),
                shape
            ))
        })
        .collect()
}
