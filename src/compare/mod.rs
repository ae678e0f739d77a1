//! `compare`: two implementations of one model on the same inputs, output by output and, with
//! `--layers`, layer by layer: where they diverge, and which layer causes it.
//!
//! A side is an ONNX file (run by tract, with every dim bound from the inputs, or by onnxruntime:
//! [`CompareConfig::runtime_a`]) or a training run folder holding `weights.npz` (the trained burn
//! graph rebuilt from those weights). The stages,
//! one module each:
//!
//! - [`layers`]: each graph as semantic layers found by structure, aligned by kind, so exporters
//!   that spell a layer differently still line up;
//! - [`local`]: each of A's layers cut out and run alone on B's tensors, its own error apart
//!   from what it inherited;
//! - [`bound`]: the float rounding bound of that local error, from the layer's actual inputs;
//! - [`cause`]: the first layer beyond rounding, or the first op replaced by another;
//! - [`reduce`]: the smallest cut of A that still diverges, written for a bug report.
//!
//! This file runs them in order. Outputs come from runs that fetch nothing else; the layers
//! from a second run per side that fetches every layer's result (a runtime that computes
//! differently when asked for intermediates is reported, not failed). The difference between each
//! ONNX side's unoptimized graph (tract decluttered, onnxruntime without graph optimizations) and
//! its optimized one is measured separately, so a difference can be traced to the graph or to the
//! runtime's optimizer.
//!
//! Like `validate`, a divergence is data (status `fail`); `Err` means it could not run.

pub mod bound;
pub mod cause;
pub mod layers;
pub mod local;
pub mod reduce;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tract_onnx::prelude::Tensor;

use self::bound::{BoundReport, RoundingVerdict};
use self::cause::{FirstCause, Replacement};
use self::layers::{Layer, LayerKind};
use self::local::LocalReport;
use crate::loss::Head;
use crate::metrics::suggest::{self, Advice};
use crate::metrics::{Metrics, Tolerance, compare_tensors};
use crate::model::npz;
use crate::onnx::TensorLimits;
use crate::onnx::pb::GraphProto;
use crate::refdata::{MatchedBy, RefDataError, testset};
use crate::runtime::{
    BurnRunnable, Feed, OnnxModel, Runnable, Runtime, RuntimeError, RuntimeKind, head,
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
    /// Also give each output the tightest tolerance it would pass, next to the noise floor.
    pub suggest_tolerance: bool,
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
/// (its signature reads the test data; its runtime's unoptimized graph is measured against it).
struct Side {
    runnable: Box<dyn Runnable>,
    onnx: Option<Arc<OnnxModel>>,
    /// Who runs an ONNX side; `None` for the trained burn graph.
    runtime: Option<RuntimeKind>,
}

impl Side {
    fn open(path: &Path, limits: TensorLimits, kind: RuntimeKind) -> Result<Side, CompareError> {
        if !path.is_dir() {
            let model = OnnxModel::open(path, limits)?;
            return Ok(Side {
                runnable: kind.runtime()?.prepare(&model)?,
                onnx: Some(model),
                runtime: Some(kind),
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
            runnable: Box::new(BurnRunnable::new(
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

    /// The main graph of the ONNX model the side computes (empty when it has none).
    fn graph_proto(&self) -> GraphProto {
        self.runnable
            .graph()
            .and_then(|m| m.graph.clone())
            .unwrap_or_default()
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
    /// A conversion of A's value to B's float type made before comparing (`"DOUBLE -> FLOAT"`:
    /// a layer computed in another precision is judged in the reference's).
    pub cast: Option<String>,
    /// With `--suggest-tolerance` (outputs): the tightest tolerance that passes, and the noise
    /// floor (each ONNX side's unoptimized graph against its optimized one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
}

impl PairReport {
    /// A against B in the same element type (outputs: a type difference is a failure).
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
            cast: None,
            advice: None,
        }
    }

    /// A against B after casting A to B's float type when they differ (layers).
    fn in_reference_type(a: &str, b: &str, ta: &Tensor, tb: &Tensor, tol: &Tolerance) -> Self {
        let (metrics, cast) = local::compare_as_reference(ta, tb, tol);
        let (metrics, problem) = match metrics {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e)),
        };
        Self {
            a: a.into(),
            b: b.into(),
            shape_a: ta.shape().to_vec(),
            shape_b: tb.shape().to_vec(),
            metrics,
            problem,
            cast,
            advice: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.metrics.as_ref().is_some_and(Metrics::passed)
    }
}

/// A matched layer pair: its accumulated difference (as the whole graphs compute it), its
/// local error (A's layer on B's inputs) and what rounding says about that.
#[derive(Debug, Clone, Serialize)]
pub struct LayerPair {
    /// Position in A's layer sequence.
    pub index: usize,
    pub kind: LayerKind,
    pub nodes_a: Vec<String>,
    pub nodes_b: Vec<String>,
    #[serde(flatten)]
    pub pair: PairReport,
    /// `None` when side A is not an ONNX file: its layers cannot run alone.
    pub local: Option<LocalReport>,
    pub bound: Option<BoundReport>,
    /// The local error over the bound at the element where that ratio is largest.
    #[serde(serialize_with = "crate::metrics::serialize_opt_f64")]
    pub rounding_ratio: Option<f64>,
    pub verdict: RoundingVerdict,
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

/// The difference tract's optimizer makes on one ONNX side's outputs.
#[derive(Debug, Clone, Serialize)]
pub struct StageDelta {
    pub side: String,
    pub runtime: RuntimeKind,
    /// What the runtime's graph without optimizations is called: `decluttered` (tract),
    /// `unoptimized` (onnxruntime).
    pub unoptimized: &'static str,
    /// Optimized (actual) against unoptimized (expected), per output.
    pub outputs: Vec<PairReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseComparison {
    pub test_data: String,
    pub samples: usize,
    pub inputs_matched_by: MatchedBy,
    /// Final outputs: A (actual) against B (expected), from runs that fetch nothing else.
    pub outputs: Vec<PairReport>,
    pub outputs_matched_by: MatchedBy,
    /// Matched layers in A's order (with `--layers`).
    pub layers: Vec<LayerPair>,
    pub unmatched_a: Vec<Layer>,
    pub unmatched_b: Vec<Layer>,
    /// Unmatched layers of A and B standing at the same place: one op replaced by another.
    pub replaced: Vec<Replacement>,
    pub first_divergence: Option<Divergence>,
    /// The first layer in A's order that is wrong by itself: local error beyond rounding, or
    /// an op replaced by another that computes different values.
    pub first_cause: Option<FirstCause>,
    /// Whether fetching intermediate tensors changed any final output bit. The outputs above
    /// always come from runs that fetch nothing else, the layers from a separate run.
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

/// Both sides opened, and the ONNX side whose signature reads the test data.
fn open_sides(
    cfg_a: &Path,
    cfg_b: &Path,
    limits: TensorLimits,
    (runtime_a, runtime_b): (RuntimeKind, RuntimeKind),
) -> Result<(Side, Side), CompareError> {
    let a = Side::open(cfg_a, limits, runtime_a)?;
    let b = Side::open(cfg_b, limits, runtime_b)?;
    if a.onnx.is_none() && b.onnx.is_none() {
        return Err(side_err(
            cfg_a,
            "at least one side must be an ONNX file: its signature says how to read the test data",
        ));
    }
    Ok((a, b))
}

/// The test sets: those given, else those beside A's file, else those beside B's.
fn test_sets(a: &Side, b: &Side, given: &[PathBuf]) -> Result<Vec<PathBuf>, CompareError> {
    let files: Vec<&Path> = [a, b]
        .iter()
        .filter_map(|s| s.onnx.as_ref().map(|m| m.path.as_path()))
        .collect();
    let mut first_err = None;
    for file in &files {
        match testset::resolve(file, given) {
            Ok(sets) => return Ok(sets),
            Err(e) if given.is_empty() => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(first_err.expect("one side is an ONNX file").into())
}

/// One test set fed to both sides.
struct Inputs {
    set: PathBuf,
    a: Vec<Feed>,
    b: Vec<Feed>,
    matched_by: MatchedBy,
}

impl Inputs {
    /// Each ONNX side reads the set against its own signature: inputs are matched to its names
    /// (else positions) and checked against its declared types and dims.
    fn load(set: &Path, a: &Side, b: &Side, limits: TensorLimits) -> Result<Self, CompareError> {
        let reference = a
            .onnx
            .as_ref()
            .or(b.onnx.as_ref())
            .expect("checked when opened");
        let reference_set = testset::load(set, &reference.signature, limits)?;
        let inputs_of = |side: &Side| -> Result<(Vec<Feed>, bool), CompareError> {
            let refs = match &side.onnx {
                Some(m) => {
                    testset::load(set, &m.signature, limits)
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
        let ((a, a_by_name), (b, b_by_name)) = (inputs_of(a)?, inputs_of(b)?);
        Ok(Inputs {
            set: set.to_owned(),
            a,
            b,
            matched_by: if a_by_name && b_by_name {
                MatchedBy::Name
            } else {
                MatchedBy::Position
            },
        })
    }

    fn samples(&self) -> usize {
        self.a
            .first()
            .and_then(|f| f.value.shape().first().copied())
            .unwrap_or(0)
    }
}

/// Compare A and B on every test set.
pub fn compare(cfg: &CompareConfig) -> Result<CompareReport, CompareError> {
    let (mut a, mut b) = open_sides(&cfg.a, &cfg.b, cfg.limits, (cfg.runtime_a, cfg.runtime_b))?;
    let mut cases = Vec::new();
    for set in test_sets(&a, &b, &cfg.test_data)? {
        let inputs = Inputs::load(&set, &a, &b, cfg.limits)?;
        cases.push(compare_case(cfg, &mut a, &mut b, &inputs)?);
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

/// Adds `names` to `fetch` (once each).
fn with_fetched(mut fetch: Vec<String>, names: impl IntoIterator<Item = String>) -> Vec<String> {
    for n in names {
        if !fetch.contains(&n) {
            fetch.push(n);
        }
    }
    fetch
}

/// Name -> value: the feeds, then what a run fetched.
fn by_name(feeds: &[Feed], fetch: &[String], values: Vec<Tensor>) -> BTreeMap<String, Tensor> {
    let mut m: BTreeMap<String, Tensor> = feeds
        .iter()
        .map(|f| (f.name.clone(), (*f.value).clone()))
        .collect();
    m.extend(fetch.iter().cloned().zip(values));
    m
}

/// Both graphs as layers, aligned, with every layer's value from one run per side.
struct Probe {
    layers_a: Vec<Layer>,
    layers_b: Vec<Layer>,
    alignment: layers::Alignment,
    gaps: Vec<cause::Gap>,
    /// Which B tensor stands for which A tensor: inputs, matched layers, ops replaced one for
    /// one, and tensors A casts or copies them into (`aliases`).
    counterpart: BTreeMap<String, String>,
    /// A tensor made from a mapped A tensor by `Cast`/`Identity` only -> that tensor.
    aliases: BTreeMap<String, String>,
    /// Feeds and fetched tensors by name.
    values_a: BTreeMap<String, Tensor>,
    values_b: BTreeMap<String, Tensor>,
    /// Whether the outputs of these runs differ from those of runs fetching nothing else.
    changed_outputs: bool,
}

impl Probe {
    /// Finds and aligns the layers, then runs each side once fetching its outputs and every
    /// layer that has a counterpart (`plain_*`: the outputs of runs fetching nothing else).
    fn run(
        a: &mut Side,
        b: &mut Side,
        inputs: &Inputs,
        plain_a: &[Tensor],
        plain_b: &[Tensor],
    ) -> Result<Self, CompareError> {
        let (layers_a, layers_b) = (a.layers(), b.layers());
        let alignment = layers::align(&layers_a, &layers_b);
        let gaps = cause::replacements(&alignment);
        let mut counterpart: BTreeMap<String, String> = BTreeMap::new();
        for (i, f) in inputs.a.iter().enumerate() {
            let b_name = match inputs.matched_by {
                MatchedBy::Name => Some(f.name.clone()),
                MatchedBy::Position => inputs.b.get(i).map(|g| g.name.clone()),
            };
            counterpart.extend(b_name.map(|n| (f.name.clone(), n)));
        }
        for &(ia, ib) in &alignment.pairs {
            counterpart.insert(layers_a[ia].tensor.clone(), layers_b[ib].tensor.clone());
        }
        for g in gaps.iter().filter(|g| g.one_to_one) {
            counterpart.insert(layers_a[g.a].tensor.clone(), layers_b[g.b].tensor.clone());
        }
        let aliases = cast_aliases(&a.graph_proto(), &counterpart);
        for (alias, origin) in &aliases {
            let b_name = counterpart[origin].clone();
            counterpart.insert(alias.clone(), b_name);
        }
        let probe = |side: &mut Side, plain: &[Tensor], ins: &[Feed], ls: Vec<String>| {
            let fetch = with_fetched(side.output_names(), ls);
            let values = side.run(ins, &fetch)?;
            let changed = values.iter().zip(plain).any(|(v, p)| v != p);
            Ok::<_, CompareError>((by_name(ins, &fetch, values), changed))
        };
        let tensors = |ls: &[Layer], idx: &mut dyn Iterator<Item = usize>| -> Vec<String> {
            idx.map(|i| ls[i].tensor.clone()).collect()
        };
        let mut idx_a = alignment
            .pairs
            .iter()
            .map(|p| p.0)
            .chain(gaps.iter().map(|g| g.a));
        let mut fetch_a = tensors(&layers_a, &mut idx_a);
        fetch_a.extend(aliases.keys().cloned());
        let (values_a, changed_a) = probe(a, plain_a, &inputs.a, fetch_a)?;
        let mut idx_b = alignment
            .pairs
            .iter()
            .map(|p| p.1)
            .chain(gaps.iter().map(|g| g.b));
        let (values_b, changed_b) = probe(b, plain_b, &inputs.b, tensors(&layers_b, &mut idx_b))?;
        Ok(Probe {
            layers_a,
            layers_b,
            alignment,
            gaps,
            counterpart,
            aliases,
            values_a,
            values_b,
            changed_outputs: changed_a || changed_b,
        })
    }

    /// No layers (without `--layers`).
    fn none() -> Self {
        Probe {
            layers_a: Vec::new(),
            layers_b: Vec::new(),
            alignment: layers::align(&[], &[]),
            gaps: Vec::new(),
            counterpart: BTreeMap::new(),
            aliases: BTreeMap::new(),
            values_a: BTreeMap::new(),
            values_b: BTreeMap::new(),
            changed_outputs: false,
        }
    }

    /// The local-run context over these values, running A's cuts on `runtime`.
    fn context<'a>(
        &'a self,
        model_a: Option<&'a Arc<OnnxModel>>,
        runtime: &'a dyn Runtime,
        graph: &'a GraphProto,
        tolerance: Tolerance,
    ) -> local::Context<'a> {
        local::Context {
            graph,
            run: model_a.map(|model| local::CutRun {
                model,
                runtime,
                label: format!("{} [cut]", model.path.display()),
            }),
            values_a: &self.values_a,
            values_b: &self.values_b,
            counterpart: &self.counterpart,
            tolerance,
        }
    }
}

/// Tensors of `graph` made from a `mapped` tensor through `Cast` and `Identity` nodes only,
/// each with the mapped tensor it comes from. A layer after a `Cast` back from another precision
/// then starts from B's value at the cast's output, not at its input: feeding B's float32
/// value into a float16 tensor would round it, an error that is not the next layer's.
fn cast_aliases(graph: &GraphProto, mapped: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut aliases = BTreeMap::new();
    // Nodes are in topological order, so one pass follows chains.
    for n in &graph.node {
        let (Some(input), Some(output)) = (n.input.first(), n.output.first()) else {
            continue;
        };
        if !matches!(n.op_type(), "Cast" | "Identity") || mapped.contains_key(output) {
            continue;
        }
        let origin = if mapped.contains_key(input) {
            Some(input.clone())
        } else {
            aliases.get(input).cloned()
        };
        if let Some(origin) = origin {
            aliases.insert(output.clone(), origin);
        }
    }
    aliases
}

/// The runtime that runs side A's cuts: the one that runs side A, tract for the trained graph.
fn cut_runtime(a: &Side) -> Result<Box<dyn Runtime>, CompareError> {
    Ok(a.runtime.unwrap_or(RuntimeKind::Tract).runtime()?)
}

fn compare_case(
    cfg: &CompareConfig,
    a: &mut Side,
    b: &mut Side,
    inputs: &Inputs,
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

    // Outputs come from runs that fetch nothing else: a runtime may compute differently when
    // asked for intermediate tensors (fusing less, say), and the outputs are what users get.
    let plain_a = a.run(&inputs.a, &out_a)?;
    let plain_b = b.run(&inputs.b, &out_b)?;
    let output = |names: &[String], values: &[Tensor], n: &String| {
        values[names.iter().position(|x| x == n).expect("an output")].clone()
    };
    let mut outputs: Vec<PairReport> = pairs
        .iter()
        .map(|(na, nb)| {
            let (va, vb) = (output(&out_a, &plain_a, na), output(&out_b, &plain_b, nb));
            PairReport::new(na, nb, &va, &vb, tol)
        })
        .collect();

    let probe = if cfg.layers {
        Probe::run(a, b, inputs, &plain_a, &plain_b)?
    } else {
        Probe::none()
    };
    let runtime_a = cut_runtime(a)?;
    let graph_a = a.graph_proto();
    let ctx = probe.context(a.onnx.as_ref(), runtime_a.as_ref(), &graph_a, *tol);
    let (layer_pairs, replaced) = judge_layers(&probe, &ctx);
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
    let first_cause = cause::first_cause(&layer_pairs, &replaced);

    let (stage_a, stage_b) = (
        stage_delta(a, &plain_a, &inputs.a)?,
        stage_delta(b, &plain_b, &inputs.b)?,
    );
    if cfg.suggest_tolerance {
        // The noise floor: each ONNX side's unoptimized graph against its optimized one.
        for (o, (na, nb)) in outputs.iter_mut().zip(&pairs) {
            let noise: Vec<(String, Metrics)> = [(&stage_a, na), (&stage_b, nb)]
                .into_iter()
                .filter_map(|(st, name)| {
                    let st = st.as_ref()?;
                    let m = st.outputs.iter().find(|p| &&p.a == name)?.metrics.clone()?;
                    Some((format!("{}, {} vs optimized", st.side, st.unoptimized), m))
                })
                .collect();
            let (va, vb) = (output(&out_a, &plain_a, na), output(&out_b, &plain_b, nb));
            o.advice = suggest::advise(&va, &vb, tol, &noise);
        }
    }
    let ok = outputs.iter().all(PairReport::passed) && first_divergence.is_none();
    let unmatched = |ls: &[Layer], idx: &[usize]| idx.iter().map(|&i| ls[i].clone()).collect();
    Ok(CaseComparison {
        test_data: inputs.set.display().to_string(),
        samples: inputs.samples(),
        inputs_matched_by: inputs.matched_by,
        outputs,
        outputs_matched_by,
        layers: layer_pairs,
        unmatched_a: unmatched(&probe.layers_a, &probe.alignment.unmatched_a),
        unmatched_b: unmatched(&probe.layers_b, &probe.alignment.unmatched_b),
        replaced,
        first_divergence,
        first_cause,
        probes_changed_outputs: probe.changed_outputs,
        stages: stage_a.into_iter().chain(stage_b).collect(),
        status: Verdict::of(ok),
    })
}

/// Every matched layer (accumulated and local error, rounding verdict) and every replaced op.
fn judge_layers(probe: &Probe, ctx: &local::Context<'_>) -> (Vec<LayerPair>, Vec<Replacement>) {
    let (la, lb) = (&probe.layers_a, &probe.layers_b);
    let tol = ctx.tolerance;
    let accumulated = |ia: usize, ib: usize| {
        let (ta, tb) = (&la[ia].tensor, &lb[ib].tensor);
        PairReport::in_reference_type(ta, tb, &probe.values_a[ta], &probe.values_b[tb], &tol)
    };
    let assess = |ia: usize, ib: usize, judge: bool| {
        let ctx = local::Context {
            run: ctx.run.as_ref().map(|r| local::CutRun {
                model: r.model,
                runtime: r.runtime,
                label: format!("{} [cut: layer {ia}]", r.model.path.display()),
            }),
            ..*ctx
        };
        ctx.assess(&la[ia], &lb[ib].tensor, judge)
    };
    let layers = probe
        .alignment
        .pairs
        .iter()
        .map(|&(ia, ib)| {
            let assessed = assess(ia, ib, true);
            LayerPair {
                index: ia,
                kind: la[ia].kind.clone(),
                nodes_a: la[ia].nodes.clone(),
                nodes_b: lb[ib].nodes.clone(),
                pair: accumulated(ia, ib),
                rounding_ratio: assessed.as_ref().and_then(|x| x.rounding_ratio),
                verdict: assessed
                    .as_ref()
                    .map_or(RoundingVerdict::NotComputed, |x| x.verdict),
                bound: assessed.as_ref().and_then(|x| x.bound.clone()),
                local: assessed.map(|x| x.local),
            }
        })
        .collect();
    let replaced = probe
        .gaps
        .iter()
        .map(|g| {
            let pair = accumulated(g.a, g.b);
            let local = assess(g.a, g.b, false).map(|x| x.local);
            let diverges = match local.as_ref().and_then(|l| l.metrics.as_ref()) {
                Some(m) => !m.passed(),
                None => !pair.passed(),
            };
            Replacement {
                index: g.a,
                index_b: g.b,
                kind: la[g.a].kind.clone(),
                kind_b: lb[g.b].kind.clone(),
                nodes_a: la[g.a].nodes.clone(),
                nodes_b: lb[g.b].nodes.clone(),
                pair,
                local,
                diverges,
            }
        })
        .collect();
    (layers, replaced)
}

/// The side's runtime with graph optimizations off (tract decluttered, onnxruntime at level
/// "disabled") against the optimized one on an ONNX side's outputs (`None` for other sides).
fn stage_delta(
    side: &Side,
    optimized: &[Tensor],
    inputs: &[Feed],
) -> Result<Option<StageDelta>, CompareError> {
    let (Some(model), Some(kind)) = (&side.onnx, side.runtime) else {
        return Ok(None);
    };
    let Some(unoptimized) = kind.runtime()?.unoptimized() else {
        return Ok(None);
    };
    let outs = side.output_names();
    let decl = unoptimized.prepare(model)?.run(inputs, &outs)?.values;
    let exact = Tolerance::new(0.0, 0.0);
    Ok(Some(StageDelta {
        side: side.label(),
        runtime: kind,
        unoptimized: kind.unoptimized_stage(),
        outputs: outs
            .iter()
            .zip(&decl)
            .zip(optimized)
            .map(|((n, d), o)| PairReport::new(n, n, o, d, &exact))
            .collect(),
    }))
}
