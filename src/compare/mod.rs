//! `compare`: two implementations of one model on the same inputs, output by output and, with
//! `--layers`, layer by layer, naming the first layer where they diverge.
//!
//! A side is an ONNX file (run by tract, with every dim bound from the inputs, or by
//! onnxruntime: [`CompareConfig::runtime_a`]) or a training run folder holding `weights.npz` (the trained burn graph rebuilt from those weights). Layers are
//! found by structure ([`layers`]) and aligned by kind, so exporters that spell a layer
//! differently still line up. Intermediate tensors are fetched from the same run as the outputs;
//! a second run without them checks that fetching them changed nothing. The runtime-internal
//! difference between the unoptimized graph (tract decluttered, onnxruntime without graph
//! optimizations) and the optimized one is measured separately, so a difference can be traced
//! to the graph or to the runtime's optimizer.
//!
//! Like `validate`, a divergence is data (status `fail`); `Err` means it could not run.

pub mod layers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tract_onnx::prelude::Tensor;

use self::layers::{Layer, LayerKind};
use crate::loss::Head;
use crate::metrics::{Metrics, Tolerance, compare_tensors};
use crate::model::npz;
use crate::onnx::TensorLimits;
use crate::refdata::{MatchedBy, RefDataError, testset};
use crate::runtime::{
    BurnMlpRunnable, Feed, OnnxModel, Runnable, Runtime, RuntimeError, RuntimeKind, head,
};
use crate::verdict::Verdict;

/// What `compare` needs, as library types.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub a: PathBuf,
    pub b: PathBuf,
    /// Test sets (as `validate --test-data` takes them); empty: those beside the ONNX side.
    pub test_data: Vec<PathBuf>,
    pub layers: bool,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
    pub limits: TensorLimits,
    /// Who runs each side when it is an ONNX file.
    pub runtime_a: RuntimeKind,
    pub runtime_b: RuntimeKind,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    RefData(#[from] RefDataError),
    #[error("{}: {message}", path.display())]
    Side { path: PathBuf, message: String },
}

fn side_err(path: &Path, message: impl Into<String>) -> CompareError {
    CompareError::Side {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// One of the two things compared: a runnable, and the ONNX file behind it when there is one
/// (its signature reads the test data; tract's decluttered graph is measured against it).
struct Side {
    runnable: Box<dyn Runnable>,
    onnx: Option<Arc<OnnxModel>>,
    /// The runtime of an ONNX side (its unoptimized stage is measured against it).
    runtime: Option<Box<dyn Runtime>>,
}

impl Side {
    fn open(path: &Path, limits: TensorLimits, runtime: RuntimeKind) -> Result<Side, CompareError> {
        if !path.is_dir() {
            let model = OnnxModel::open(path, limits)?;
            let runtime = runtime.runtime()?;
            return Ok(Side {
                runnable: runtime.prepare(&model)?,
                onnx: Some(model),
                runtime: Some(runtime),
            });
        }
        let weights_path = path.join("weights.npz");
        if !weights_path.is_file() {
            return Err(side_err(
                path,
                "a folder side must be a training run folder holding weights.npz (as `train --out` writes: DIR/logits or DIR/probs)",
            ));
        }
        let weights =
            npz::read_weights(&weights_path).map_err(|e| side_err(path, e.to_string()))?;
        // The head: what the export beside the weights ends in, else the folder's name.
        let head = match path.join("model.onnx") {
            onnx if onnx.is_file() => {
                let m = OnnxModel::open(&onnx, limits)?;
                if head::sigmoid_heads(m.graph()).is_empty() {
                    Head::Logits
                } else {
                    Head::Sigmoid
                }
            }
            // The folder names the formulation it was trained with.
            _ => match path.file_name().and_then(|n| n.to_str()) {
                Some("probs") => Head::Sigmoid,
                Some("logits") => Head::Logits,
                _ => {
                    return Err(side_err(
                        path,
                        "cannot tell the head: no model.onnx beside weights.npz and the folder is not named logits or probs",
                    ));
                }
            },
        };
        Ok(Side {
            runnable: Box::new(BurnMlpRunnable::new(
                format!("burn: {}", path.display()),
                &weights,
                head,
            )),
            onnx: None,
            runtime: None,
        })
    }

    fn label(&self) -> String {
        self.runnable.label().to_owned()
    }

    fn output_names(&self) -> Vec<String> {
        self.runnable.signature().output_names()
    }

    fn layers(&self) -> Vec<Layer> {
        self.runnable
            .graph()
            .map(layers::layers)
            .unwrap_or_default()
    }

    /// Values of `fetch` (tensor names) for `inputs`, in `fetch` order.
    fn run(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<Vec<Tensor>, CompareError> {
        Ok(self.runnable.run(inputs, fetch)?.values)
    }
}

/// Two tensors compared, or why they could not be.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub a: String,
    pub b: String,
    pub shape_a: Vec<usize>,
    pub shape_b: Vec<usize>,
    pub metrics: Option<Metrics>,
    /// Set when the tensors cannot be compared element by element (dtype or layout differs).
    pub problem: Option<String>,
}

impl PairReport {
    fn new(a: &str, b: &str, ta: &Tensor, tb: &Tensor, tol: &Tolerance) -> Self {
        let (metrics, problem) = match compare_tensors(ta, tb, tol) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Self {
            a: a.into(),
            b: b.into(),
            shape_a: ta.shape().to_vec(),
            shape_b: tb.shape().to_vec(),
            metrics,
            problem,
        }
    }

    pub fn passed(&self) -> bool {
        self.metrics.as_ref().is_some_and(Metrics::passed)
    }
}

/// A matched layer pair.
#[derive(Debug, Clone, Serialize)]
pub struct LayerPair {
    /// Position in A's layer sequence.
    pub index: usize,
    pub kind: LayerKind,
    pub nodes_a: Vec<String>,
    pub nodes_b: Vec<String>,
    #[serde(flatten)]
    pub pair: PairReport,
}

/// The first matched layer, in graph order, whose values break the tolerance.
#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    pub a: String,
    pub b: String,
    pub kind: LayerKind,
    pub index: usize,
    pub tolerance: Tolerance,
    pub metrics: Metrics,
}

/// The difference the runtime's optimizer makes on one ONNX side's outputs.
#[derive(Debug, Clone, Serialize)]
pub struct StageDelta {
    pub side: String,
    /// Optimized (actual) against unoptimized (expected: tract decluttered, onnxruntime with
    /// graph optimizations off), per output.
    pub outputs: Vec<PairReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseComparison {
    pub test_data: String,
    pub samples: usize,
    pub inputs_matched_by: MatchedBy,
    /// Final outputs: A (actual) against B (expected).
    pub outputs: Vec<PairReport>,
    pub outputs_matched_by: MatchedBy,
    /// Matched layers in A's order (with `--layers`).
    pub layers: Vec<LayerPair>,
    pub unmatched_a: Vec<Layer>,
    pub unmatched_b: Vec<Layer>,
    pub first_divergence: Option<Divergence>,
    /// Whether fetching intermediate tensors changed any final output bit (it must not).
    pub probes_changed_outputs: bool,
    pub stages: Vec<StageDelta>,
    pub status: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub status: Verdict,
    pub a: String,
    pub b: String,
    pub tolerance: Tolerance,
    pub tolerance_name: String,
    pub cases: Vec<CaseComparison>,
}

fn matched_by(names_a: &[String], names_b: &[String]) -> MatchedBy {
    let mut a = names_a.to_vec();
    let mut b = names_b.to_vec();
    a.sort();
    b.sort();
    if a == b {
        MatchedBy::Name
    } else {
        MatchedBy::Position
    }
}

/// Reorder `names_b` to follow `names_a` when matching by name.
fn paired<'a>(
    names_a: &'a [String],
    names_b: &'a [String],
    by: MatchedBy,
) -> Vec<(&'a String, &'a String)> {
    match by {
        MatchedBy::Name => names_a
            .iter()
            .map(|n| (n, names_b.iter().find(|m| *m == n).expect("same name sets")))
            .collect(),
        MatchedBy::Position => names_a.iter().zip(names_b).collect(),
    }
}

/// Compare A and B on every test set.
pub fn compare(cfg: &CompareConfig) -> Result<CompareReport, CompareError> {
    let mut a = Side::open(&cfg.a, cfg.limits, cfg.runtime_a)?;
    let mut b = Side::open(&cfg.b, cfg.limits, cfg.runtime_b)?;
    let (reference, reference_path) = match (&a.onnx, &b.onnx) {
        (Some(m), _) => (Arc::clone(m), &cfg.a),
        (_, Some(m)) => (Arc::clone(m), &cfg.b),
        _ => {
            return Err(side_err(
                &cfg.a,
                "at least one side must be an ONNX file: its signature says how to read the test data",
            ));
        }
    };
    let sets = testset::resolve(reference_path, &cfg.test_data)?;
    let mut cases = Vec::new();
    for set_path in &sets {
        // Each ONNX side reads the set against its own signature: inputs are matched to its
        // names (else positions) and checked against its declared types and dims.
        let reference_set = testset::load(set_path, &reference.signature, cfg.limits)?;
        let inputs_of = |side: &Side| -> Result<(Vec<Feed>, bool), CompareError> {
            let refs = match &side.onnx {
                Some(m) => {
                    testset::load(set_path, &m.signature, cfg.limits)
                        .map_err(|e| {
                            side_err(
                                &m.path,
                                format!("as this model's input: {}", crate::error_chain(&e)),
                            )
                        })?
                        .inputs
                }
                None => reference_set.inputs.clone(),
            };
            let by_name = refs.iter().all(|r| r.matched_by == MatchedBy::Name);
            let feeds = refs
                .into_iter()
                .map(|r| Feed {
                    name: r.name,
                    value: r.tensor,
                })
                .collect();
            Ok((feeds, by_name))
        };
        let ((in_a, a_by_name), (in_b, b_by_name)) = (inputs_of(&a)?, inputs_of(&b)?);
        let by = if a_by_name && b_by_name {
            MatchedBy::Name
        } else {
            MatchedBy::Position
        };
        cases.push(compare_case(
            cfg, &mut a, &mut b, set_path, &in_a, &in_b, by,
        )?);
    }
    let passed = cases.iter().all(|c| c.status == Verdict::Pass);
    Ok(CompareReport {
        status: Verdict::of(passed),
        a: a.label(),
        b: b.label(),
        tolerance: cfg.tolerance,
        tolerance_name: cfg.tolerance_name.clone(),
        cases,
    })
}

fn compare_case(
    cfg: &CompareConfig,
    a: &mut Side,
    b: &mut Side,
    set_path: &Path,
    in_a: &[Feed],
    in_b: &[Feed],
    inputs_matched_by: MatchedBy,
) -> Result<CaseComparison, CompareError> {
    let tol = &cfg.tolerance;
    let (out_a, out_b) = (a.output_names(), b.output_names());
    if out_a.len() != out_b.len() {
        return Err(side_err(
            &cfg.b,
            format!(
                "A has {} outputs ({}), B has {} ({})",
                out_a.len(),
                out_a.join(", "),
                out_b.len(),
                out_b.join(", ")
            ),
        ));
    }
    let outputs_matched_by = matched_by(&out_a, &out_b);
    let pairs = paired(&out_a, &out_b, outputs_matched_by);

    let (layers_a, layers_b) = if cfg.layers {
        (a.layers(), b.layers())
    } else {
        (Vec::new(), Vec::new())
    };
    let alignment = layers::align(&layers_a, &layers_b);
    let fetch = |outs: Vec<String>, ls: &[Layer], idx: &mut dyn Iterator<Item = usize>| {
        let mut f = outs;
        for i in idx {
            if !f.contains(&ls[i].tensor) {
                f.push(ls[i].tensor.clone());
            }
        }
        f
    };
    let fetch_a = fetch(
        out_a.clone(),
        &layers_a,
        &mut alignment.pairs.iter().map(|p| p.0),
    );
    let fetch_b = fetch(
        out_b.clone(),
        &layers_b,
        &mut alignment.pairs.iter().map(|p| p.1),
    );
    let values_a = a.run(in_a, &fetch_a)?;
    let values_b = b.run(in_b, &fetch_b)?;
    let value = |fetch: &[String], values: &[Tensor], name: &str| {
        values[fetch.iter().position(|f| f == name).expect("fetched")].clone()
    };

    let outputs: Vec<PairReport> = pairs
        .iter()
        .map(|(na, nb)| {
            PairReport::new(
                na,
                nb,
                &value(&fetch_a, &values_a, na),
                &value(&fetch_b, &values_b, nb),
                tol,
            )
        })
        .collect();

    let mut layer_pairs = Vec::new();
    for &(ia, ib) in &alignment.pairs {
        let (la, lb) = (&layers_a[ia], &layers_b[ib]);
        let pair = PairReport::new(
            &la.tensor,
            &lb.tensor,
            &value(&fetch_a, &values_a, &la.tensor),
            &value(&fetch_b, &values_b, &lb.tensor),
            tol,
        );
        layer_pairs.push(LayerPair {
            index: ia,
            kind: la.kind.clone(),
            nodes_a: la.nodes.clone(),
            nodes_b: lb.nodes.clone(),
            pair,
        });
    }
    let first_divergence = layer_pairs.iter().find_map(|l| {
        let m = l.pair.metrics.as_ref().filter(|m| !m.passed())?;
        Some(Divergence {
            a: l.pair.a.clone(),
            b: l.pair.b.clone(),
            kind: l.kind.clone(),
            index: l.index,
            tolerance: *tol,
            metrics: m.clone(),
        })
    });

    // Fetching more tensors must not change the outputs: rerun with outputs only and compare bits.
    let mut probes_changed_outputs = false;
    if cfg.layers {
        for (side, fetch, values, ins) in [
            (&mut *a, &fetch_a, &values_a, in_a),
            (&mut *b, &fetch_b, &values_b, in_b),
        ] {
            let outs = side.output_names();
            if fetch.len() > outs.len() {
                let plain = side.run(ins, &outs)?;
                probes_changed_outputs |= plain.iter().zip(values.iter()).any(|(p, v)| p != v);
            }
        }
    }
    let mut stages = Vec::new();
    for (side, values, ins) in [(&*a, &values_a, in_a), (&*b, &values_b, in_b)] {
        if let (Some(model), Some(unoptimized)) = (
            &side.onnx,
            side.runtime.as_ref().and_then(|r| r.unoptimized()),
        ) {
            let outs = side.output_names();
            let decl = unoptimized.prepare(model)?.run(ins, &outs)?.values;
            let exact = Tolerance::new(0.0, 0.0);
            stages.push(StageDelta {
                side: side.label(),
                outputs: outs
                    .iter()
                    .zip(&decl)
                    .zip(values.iter())
                    .map(|((n, d), o)| PairReport::new(n, n, o, d, &exact))
                    .collect(),
            });
        }
    }
    let ok = outputs.iter().all(PairReport::passed)
        && first_divergence.is_none()
        && !probes_changed_outputs;
    Ok(CaseComparison {
        test_data: set_path.display().to_string(),
        samples: in_a
            .first()
            .and_then(|f| f.value.shape().first().copied())
            .unwrap_or(0),
        inputs_matched_by,
        outputs,
        outputs_matched_by,
        layers: layer_pairs,
        unmatched_a: alignment
            .unmatched_a
            .iter()
            .map(|&i| layers_a[i].clone())
            .collect(),
        unmatched_b: alignment
            .unmatched_b
            .iter()
            .map(|&i| layers_b[i].clone())
            .collect(),
        first_divergence,
        probes_changed_outputs,
        stages,
        status: Verdict::of(ok),
    })
}
