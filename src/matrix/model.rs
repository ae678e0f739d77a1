//! `matrix MODEL.onnx`: any ONNX file through every runtime available here, on its reference
//! data, every pair of columns compared.
//!
//! Columns, in order: the reference outputs of the test set (the expected side of every pair
//! it is in); tract optimized and decluttered; onnxruntime with all graph optimizations and
//! with none; the burn code burn-import generated from this very file (builds with the
//! feature, for the files it was built from); and the trained burn graph when a `weights.npz`
//! sits beside the model (our own exports). A runtime missing here is a column with a note.
//!
//! With labels, every column also gets both losses, binary accuracy and its loss verdict
//! against the reference column ([`crate::validate::check::losses`], the same computation and
//! tolerance `validate` uses), and every pair the number of decisions (`p > 0.5`) that flip.
//! The verdict fails on any pair outside tolerance and on any column failing its loss verdict.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::ArrayD;
use tract_onnx::prelude::Tensor;

use super::{
    BURN_IMPORT_BUILT, Column, ColumnLoss, LossSetup, MatrixCase, MatrixError, MatrixReport, Pair,
    PairOutput, file_err, merge_metrics,
};
use crate::artifacts::Tool;
use crate::loss::{self, Head};
use crate::metrics::{Metrics, Tolerance, compare_tensors};
use crate::model::npz;
use crate::onnx::TensorLimits;
use crate::refdata::{self, testset};
use crate::runtime::head::{self, SigmoidHead};
use crate::runtime::{
    BurnRunnable, Feed, OnnxModel, OnnxRuntime, Optimization, Runnable, Runtime, RuntimeError,
    Stage, Tract,
};
use crate::validate::LossTolerance;
use crate::validate::check::{self, ExpectLoss, LossInputs};
use crate::verdict::Verdict;

/// What `matrix MODEL.onnx` needs, as library types.
#[derive(Debug, Clone)]
pub struct ModelMatrixConfig {
    pub model: PathBuf,
    /// Test sets (as `validate --test-data` takes them); empty: those beside the model.
    pub test_data: Vec<PathBuf>,
    /// Binary targets of the first output's shape: losses, accuracy and flips per column.
    pub labels: Option<PathBuf>,
    /// Reference file names mapped to model names (`--map`).
    pub map: Vec<(String, String)>,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
    pub loss_tolerance: LossTolerance,
    pub limits: TensorLimits,
}

/// A column before it runs: its label, source, and the runnable or why there is none.
struct Lane {
    label: String,
    source: String,
    runnable: Result<Box<dyn Runnable>, String>,
    /// Whether it can show tensors inside the graph (the logits under a sigmoid head).
    sees_inside: bool,
}

/// A runtime's runnable for the model, or the note saying why it is not available.
fn lane(
    label: &str,
    model: &Arc<OnnxModel>,
    runtime: &dyn Runtime,
    sees_inside: bool,
) -> Result<Lane, MatrixError> {
    let runnable = match runtime.prepare(model) {
        Ok(r) => Ok(r),
        Err(RuntimeError::Unavailable { message, .. }) => Err(message),
        // The file is fine (it passed our checks) but this runtime cannot run it: a note, as
        // for burn-import, so the other runtimes still answer.
        Err(e) if e.is_unsupported() => Err(crate::error_chain(&e)),
        Err(e) => return Err(e.into()),
    };
    Ok(Lane {
        label: label.to_owned(),
        source: model.path.display().to_string(),
        runnable,
        sees_inside,
    })
}

fn lanes(cfg: &ModelMatrixConfig, model: &Arc<OnnxModel>) -> Result<Vec<Lane>, MatrixError> {
    let mut lanes = vec![
        lane("tract (optimized)", model, &Tract::default(), true)?,
        lane(
            "tract (decluttered)",
            model,
            &Tract {
                stage: Stage::Decluttered,
                ..Tract::default()
            },
            true,
        )?,
        lane(
            "onnxruntime (all optimizations)",
            model,
            &OnnxRuntime::default(),
            true,
        )?,
        lane(
            "onnxruntime (unoptimized)",
            model,
            &OnnxRuntime {
                optimization: Optimization::Disabled,
            },
            true,
        )?,
    ];
    lanes.push(Lane {
        label: "burn-import".to_owned(),
        source: model.path.display().to_string(),
        runnable: super::burn_import(model),
        sees_inside: false,
    });
    let weights = cfg.model.with_file_name("weights.npz");
    if weights.is_file() {
        let w = npz::read_weights(&weights).map_err(|e| file_err(&weights, e))?;
        let head = if head::sigmoid_heads(model.graph()).is_empty() {
            Head::Logits
        } else {
            Head::Sigmoid
        };
        lanes.push(Lane {
            label: "burn (trained)".to_owned(),
            source: weights.display().to_string(),
            runnable: Ok(Box::new(BurnRunnable::new("burn (trained)", &w, head))),
            sees_inside: true,
        });
    }
    Ok(lanes)
}

/// One column's values on one test set: the model's outputs in the model's order, and the
/// logits under the sigmoid head when the column shows them.
struct Computed {
    outputs: Vec<Tensor>,
    logits: Option<Tensor>,
}

/// Runs a lane on the test set's inputs. Inputs pair with the runnable's by name, or by
/// position when it names them otherwise (the trained graph calls its input `input`); outputs
/// likewise.
fn compute(
    lane: &mut Lane,
    model: &OnnxModel,
    feeds: &[Feed],
    sigmoid: Option<&SigmoidHead>,
) -> Result<Computed, String> {
    let runnable = lane.runnable.as_mut().map_err(|n| n.clone())?;
    let sig = runnable.signature().clone();
    let by_name = |decls: &[crate::onnx::TensorDecl], names: &[String]| {
        decls.len() == names.len() && names.iter().all(|n| decls.iter().any(|d| &d.name == n))
    };
    let feed_names: Vec<String> = feeds.iter().map(|f| f.name.clone()).collect();
    let feeds: Vec<Feed> = if by_name(&sig.inputs, &feed_names) {
        feeds.to_vec()
    } else if sig.inputs.len() == feeds.len() {
        sig.inputs
            .iter()
            .zip(feeds)
            .map(|(d, f)| Feed::new(d.name.clone(), Arc::clone(&f.value)))
            .collect()
    } else {
        return Err(format!(
            "takes {} input(s), the model {}",
            sig.inputs.len(),
            feeds.len()
        ));
    };
    let model_outputs = model.signature.output_names();
    let mut fetch: Vec<String> = if by_name(&sig.outputs, &model_outputs) {
        model_outputs.clone()
    } else if sig.outputs.len() == model_outputs.len() {
        sig.output_names()
    } else {
        return Err(format!(
            "gives {} output(s), the model {}",
            sig.outputs.len(),
            model_outputs.len()
        ));
    };
    let n = fetch.len();
    // The logits under the head, by the runnable's own name for them.
    let logits_name = sigmoid
        .filter(|_| lane.sees_inside)
        .and_then(|_| head::sigmoid_head(runnable.as_ref(), &fetch[0]))
        .map(|h| h.logits);
    fetch.extend(logits_name.clone());
    let mut values = runnable
        .run(&feeds, &fetch)
        .map_err(|e| crate::error_chain(&e))?
        .values;
    let logits = (values.len() > n).then(|| values.pop()).flatten();
    Ok(Computed {
        outputs: values,
        logits,
    })
}

/// Runs every available runtime on every test set of the model.
pub fn run_model_matrix(cfg: &ModelMatrixConfig) -> Result<MatrixReport, MatrixError> {
    let model = OnnxModel::open(&cfg.model, cfg.limits)?;
    let labels = cfg
        .labels
        .as_deref()
        .map(|p| refdata::read_labels(p, cfg.limits).map(|y| (p, y)))
        .transpose()?;
    let sets = testset::resolve(&cfg.model, &cfg.test_data)?;
    let mut lanes = lanes(cfg, &model)?;
    let mut cases = Vec::new();
    for set in &sets {
        cases.push(run_set(cfg, &model, &mut lanes, set, labels.as_ref())?);
    }
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

fn run_set(
    cfg: &ModelMatrixConfig,
    model: &Arc<OnnxModel>,
    lanes: &mut [Lane],
    set_path: &Path,
    labels: Option<&(&Path, ArrayD<f32>)>,
) -> Result<MatrixCase, MatrixError> {
    let set = testset::load_mapped(set_path, &model.signature, cfg.limits, &cfg.map)?;
    let feeds: Vec<Feed> = set
        .inputs
        .iter()
        .map(|r| Feed::new(r.name.clone(), Arc::clone(&r.tensor)))
        .collect();
    let output_names = model.signature.output_names();
    let loss_output = output_names.first().cloned();
    let sigmoid = loss_output
        .as_ref()
        .and_then(|o| head::sigmoid_heads(model.graph()).remove(o));

    let mut columns = Vec::new();
    let mut values: Vec<Option<Computed>> = Vec::new();
    // The reference column: the test set's recorded outputs, when it holds every one.
    let complete = set.outputs.len() == output_names.len();
    columns.push(Column {
        label: "reference (recorded outputs)".to_owned(),
        source: set_path.display().to_string(),
        output_shape: set.outputs.first().map(|r| r.tensor.shape().to_vec()),
        unavailable: (!complete).then(|| {
            format!(
                "the test set records {} of the model's {} outputs",
                set.outputs.len(),
                output_names.len()
            )
        }),
        loss: None,
    });
    values.push(complete.then(|| Computed {
        outputs: set.outputs.iter().map(|r| (*r.tensor).clone()).collect(),
        logits: None,
    }));
    for lane in lanes.iter_mut() {
        let computed = compute(lane, model, &feeds, sigmoid.as_ref());
        columns.push(Column {
            label: lane.label.clone(),
            source: lane.source.clone(),
            output_shape: computed
                .as_ref()
                .ok()
                .and_then(|c| c.outputs.first())
                .map(|t| t.shape().to_vec()),
            unavailable: computed.as_ref().err().cloned(),
            loss: None,
        });
        values.push(computed.ok());
    }

    let mut losses = None;
    let mut probs: Vec<Option<ArrayD<f32>>> = vec![None; values.len()];
    if let (Some((labels_path, y)), Some(name)) = (labels, &loss_output) {
        losses = Some(LossSetup {
            labels: labels_path.display().to_string(),
            output: name.clone(),
            head: if sigmoid.is_some() {
                "sigmoid"
            } else {
                "logits"
            },
            tolerance: cfg.loss_tolerance,
        });
        let reference = values[0].as_ref().map(|c| &c.outputs[0]);
        for (i, v) in values.iter().enumerate() {
            let Some(c) = v else { continue };
            let output = &c.outputs[0];
            if y.shape() != output.shape() {
                return Err(file_err(
                    labels_path,
                    format!(
                        "labels have shape {:?}, output '{name}' has {:?} on {}",
                        y.shape(),
                        output.shape(),
                        set_path.display()
                    ),
                ));
            }
            let inputs = LossInputs {
                output_name: name,
                output,
                head: sigmoid.as_ref().map(|h| (h, c.logits.as_ref())),
                // The first column is the reference of every other.
                reference: if i == 0 { None } else { reference },
                labels: y,
                labels_file: &labels_path.display().to_string(),
            };
            let expect = ExpectLoss {
                reference: cfg.loss_tolerance,
                ..ExpectLoss::default()
            };
            let (l, a) = check::losses(&inputs, &expect)
                .map_err(|message| file_err(labels_path, message))?;
            let finite = |v: f64| (!v.is_nan()).then_some(v);
            // The reference's logits form only where its outputs are logits.
            let logits_form = if i == 0 && sigmoid.is_some() {
                None
            } else {
                finite(l.logits_form.value_f32)
            };
            columns[i].loss = Some(ColumnLoss {
                logits_form,
                probs_form: l.probs_form.value_f32,
                clipped: l.clipped,
                probability_range: l.probability_range,
                binary_accuracy: a.model,
                logits_vs_reference: l.logits_form.vs_reference.clone(),
                probs_vs_reference: l.probs_form.vs_reference.clone(),
                clip_explanation: l.clip_explanation.clone(),
            });
            probs[i] = check::as_f32(output).ok().map(|p| match &sigmoid {
                Some(_) => p,
                None => p.mapv(loss::sigmoid_f32),
            });
        }
    }

    let mut pairs = Vec::new();
    for e in 0..values.len() {
        for a in e + 1..values.len() {
            let (Some(ve), Some(va)) = (&values[e], &values[a]) else {
                continue;
            };
            let outputs: Vec<PairOutput> = output_names
                .iter()
                .zip(ve.outputs.iter().zip(&va.outputs))
                .map(|(name, (te, ta))| {
                    let (metrics, problem) = match compare_tensors(ta, te, &cfg.tolerance) {
                        Ok(m) => (Some(m), None),
                        Err(p) => (None, Some(p.to_string())),
                    };
                    PairOutput {
                        name: name.clone(),
                        metrics,
                        problem,
                    }
                })
                .collect();
            let all: Option<Vec<&Metrics>> = outputs.iter().map(|o| o.metrics.as_ref()).collect();
            let decisions_flipped = match (&probs[e], &probs[a]) {
                (Some(p), Some(q)) if p.shape() == q.shape() => Some(
                    p.iter()
                        .zip(q.iter())
                        .filter(|(x, y)| (**x > 0.5) != (**y > 0.5))
                        .count(),
                ),
                _ => None,
            };
            pairs.push(Pair {
                expected: e,
                actual: a,
                metrics: all.map(|m| merge_metrics(&m)),
                outputs,
                decisions_flipped,
            });
        }
    }
    let mut case = MatrixCase {
        case: set_path.display().to_string(),
        title: format!("{} on every runtime available here", cfg.model.display()),
        inputs: set
            .inputs
            .iter()
            .map(|r| format!("{}:{}", set_path.display(), r.file))
            .collect::<Vec<_>>()
            .join(", "),
        input_shape: set
            .inputs
            .first()
            .map(|r| r.tensor.shape().to_vec())
            .unwrap_or_default(),
        columns,
        pairs,
        losses,
        status: Verdict::Pass,
    };
    case.status = Verdict::of(case.failures() == 0);
    Ok(case)
}
