//! `validate --chunk N`: a test set of `.npy` files read, run and compared `N` samples at a
//! time, so that a set larger than memory can be validated in a few hundred megabytes.
//!
//! Every figure is accumulated as the whole-set path computes it ([`TensorAccumulator`],
//! [`check::LossAccumulator`]): elements arrive in the same row-major order and the sums add in
//! the same order, so the report is the same, bit for bit, as reading the files whole. What
//! cannot be split by samples is refused with the reason: a model input whose first axis is
//! fixed to another size, an output whose first axis does not follow the samples.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::{DatumType, Tensor};

use serde::{Deserialize, Serialize};

use super::check::{self, ExpectLoss, ExpectedDivergence, LossAccumulator, LossChunk};
use super::shard::Shard;
use super::{
    CaseReport, Fetch, InputReport, LeftOut, RefFile, ValidateConfig, ValidateError,
    declaration_warnings_of, output_report, record_losses,
};
use crate::metrics::{AccumulatorState, Incomparable, TensorAccumulator, Tolerance, datum_name};
use crate::refdata::{self, NpyRows, RefDataError, testset};
use crate::runtime::{Feed, OnnxModel, RunOutput, Runnable, RuntimeKind, head};
use crate::verdict::Verdict;

/// A test set opened for reading in chunks, and what it checks.
pub(super) struct Rows<'a> {
    pub set: testset::RowSet,
    pub left_out: Vec<LeftOut>,
    pub loss_output: Option<String>,
    pub labels: Option<&'a Path>,
    /// Samples per chunk (at least 1).
    pub chunk: usize,
    /// With `--shard`: which shard this run is (its slice of every test set's samples).
    pub shard: Option<Shard>,
}

/// One compared output's running state.
struct Compared {
    /// Position among the fetched tensors.
    at: usize,
    tol: Tolerance,
    acc: Option<TensorAccumulator>,
    /// The produced element type and shape (first axis: every sample so far).
    produced: Option<(DatumType, Vec<usize>)>,
    problem: Option<Incomparable>,
}

/// Reads, runs and compares a test set chunk by chunk (with `--shard`, only the shard's slice of
/// its samples): the case's report, and its state for `merge`.
pub(super) fn run_rows(
    runnable: &mut dyn Runnable,
    runtime: &str,
    model: &OnnxModel,
    cfg: &ValidateConfig,
    rows: Rows<'_>,
) -> Result<(CaseReport, CaseState), ValidateError> {
    let Rows {
        mut set,
        left_out,
        loss_output,
        labels,
        chunk,
        shard,
    } = rows;
    let set_path = set.path.clone();
    let samples = set.samples;
    let range = match shard {
        None => 0..samples,
        Some(shard) => shard
            .range(samples)
            .map_err(|message| RefDataError::TestData {
                path: set_path.clone(),
                message,
            })?,
    };
    let sig = runnable.signature().clone();
    let Fetch {
        names: fetch,
        head,
        logits_at,
    } = Fetch::for_run(runnable, &sig, loss_output.as_deref());
    check_chunk_shapes(model, &set, range.len(), chunk)?;

    let position = |name: &str| {
        sig.outputs
            .iter()
            .position(|o| o.name == name)
            .expect("reference outputs and the loss output are graph outputs")
    };
    let mut compared: Vec<Compared> = set
        .outputs
        .iter()
        .map(|r| Compared {
            at: position(&r.name),
            tol: cfg
                .output_tolerances
                .get(&r.name)
                .copied()
                .unwrap_or(cfg.tolerance),
            acc: None,
            produced: None,
            problem: None,
        })
        .collect();
    let loss_at = loss_output.as_deref().map(position);
    let loss_reference = loss_output
        .as_deref()
        .and_then(|name| set.outputs.iter().position(|r| r.name == name));
    let mut labels = match (labels, loss_at) {
        (Some(p), Some(_)) => Some((p, NpyRows::open(p, cfg.limits)?)),
        _ => None,
    };
    for rows in set.inputs.iter_mut().chain(&mut set.outputs) {
        rows.rows.seek(range.start);
    }
    if let Some((_, rows)) = labels.as_mut() {
        rows.seek(range.start);
    }
    let labels_err = |path: &Path, message: String| ValidateError::Labels {
        path: path.to_path_buf(),
        message,
    };
    let mut loss_acc: Option<LossAccumulator> = None;
    let mut constants: Vec<String> = Vec::new();
    let mut warnings = Vec::new();

    if samples == 0 {
        return Err(RefDataError::TestData {
            path: set_path,
            message: "holds 0 samples: nothing to check".to_owned(),
        }
        .into());
    }
    let mut start = range.start;
    while start < range.end {
        let n = block(chunk, range.end - start);
        let feeds = set
            .inputs
            .iter_mut()
            .map(|r| {
                Ok(Feed {
                    name: r.name.clone(),
                    value: Arc::new(r.rows.read(n)?),
                })
            })
            .collect::<Result<Vec<Feed>, RefDataError>>()?;
        let RunOutput {
            values,
            bound_as_constants,
        } = runnable.run(&feeds, &fetch)?;
        for c in bound_as_constants {
            if !constants.contains(&c) {
                constants.push(c);
            }
        }
        // Every tensor read off a chunk must follow the samples along its first axis.
        for (name, t) in fetch.iter().zip(&values) {
            if t.shape().first() != Some(&n) {
                return Err(RefDataError::TestData {
                    path: set_path.clone(),
                    message: format!(
                        "output '{name}' came out with shape {:?} for a chunk of {n} samples: \
                         its first axis does not follow the samples, so it cannot be checked \
                         in chunks (drop --chunk)",
                        t.shape()
                    ),
                }
                .into());
            }
        }
        if start == range.start {
            warnings = declaration_warnings_of(
                runtime,
                model,
                set.inputs.iter().map(|r| {
                    (
                        r.name.as_str(),
                        crate::onnx::onnx_data_type(r.rows.datum_type()).map(|dt| dt as i32),
                        r.rows.shape().to_vec(),
                    )
                }),
                &sig,
                values
                    .iter()
                    .map(|t| (t.datum_type(), whole(t.shape(), samples))),
            );
        }
        let mut loss_reference_chunk: Option<Tensor> = None;
        for (j, (r, c)) in set.outputs.iter_mut().zip(&mut compared).enumerate() {
            let expected = r.rows.read(n)?;
            let actual = &values[c.at];
            c.produced = Some((actual.datum_type(), whole(actual.shape(), samples)));
            if c.problem.is_none() {
                c.problem = accumulate(c, actual, &expected, r.rows.shape(), samples).err();
            }
            if loss_reference == Some(j) {
                loss_reference_chunk = Some(expected);
            }
        }
        if let (Some((labels_path, label_rows)), Some(at)) = (labels.as_mut(), loss_at) {
            let name = loss_output.as_deref().expect("a loss output with labels");
            let output = &values[at];
            let full = whole(output.shape(), samples);
            if label_rows.shape() != full.as_slice() {
                return Err(labels_err(
                    labels_path,
                    format!(
                        "labels have shape {:?}, output '{name}' has {full:?} on {}",
                        label_rows.shape(),
                        set_path.display()
                    ),
                ));
            }
            let y =
                refdata::labels_f32(label_rows.read(n)?).map_err(|m| labels_err(labels_path, m))?;
            let chunk_loss = loss_chunk(
                name,
                output,
                head.as_ref().zip(logits_at.map(|i| &values[i])),
                loss_reference_chunk.as_ref(),
                &y,
            );
            let (output32, logits32, reference32) =
                chunk_loss.map_err(|m| labels_err(labels_path, m))?;
            let acc = match &mut loss_acc {
                Some(acc) => acc,
                None => {
                    check::check_loss_shapes(&full, label_rows.shape())
                        .map_err(|m| labels_err(labels_path, m))?;
                    loss_acc.insert(LossAccumulator::new(
                        *full.last().expect("checked: rank > 0"),
                        head.is_some(),
                        reference32.is_some(),
                    ))
                }
            };
            let y = y.as_slice().expect("a fresh standard array");
            acc.push(&LossChunk {
                output: &output32,
                logits: logits32.as_deref(),
                reference: reference32.as_deref(),
                labels: y,
                samples: n,
            });
        }
        start += n;
    }

    let state = CaseState {
        test_data: set_path.display().to_string(),
        start: range.start,
        end: range.end,
        total: samples,
        inputs: set
            .inputs
            .iter()
            .map(|r| InputReport {
                name: r.name.clone(),
                file: r.file.clone(),
                matched_by: refdata::MatchedBy::Name,
                dtype: datum_name(r.rows.datum_type()),
                shape: r.rows.shape().to_vec(),
                bound_as_constant: constants.contains(&r.name),
            })
            .collect(),
        outputs: set
            .outputs
            .iter()
            .zip(compared)
            .map(|(r, c)| OutputState {
                name: r.name.clone(),
                file: r.file.clone(),
                tolerance: c.tol.into(),
                expected_dtype: datum_name(r.rows.datum_type()),
                expected_shape: r.rows.shape().to_vec(),
                produced: c.produced.map(|(dt, shape)| (datum_name(dt), shape)),
                problem: c.problem,
                acc: c.acc.as_ref().map(TensorAccumulator::state),
            })
            .collect(),
        loss: match (loss_acc, loss_output, &labels) {
            (Some(acc), Some(output), Some((labels_path, _))) => Some(LossState {
                head: head.as_ref().map(|h| HeadState {
                    node: h.node.clone(),
                    logits: h.logits.clone(),
                }),
                output,
                labels: labels_path.display().to_string(),
                acc,
            }),
            _ => None,
        },
        warnings,
        left_out,
    };
    // A shard judges its own samples; the expected-loss gates (of the whole set's loss) are
    // merge's to judge.
    let finish = match shard {
        None => Finish::of(cfg),
        Some(_) => Finish {
            expect: ExpectLoss {
                logits_form: None,
                probs_form: None,
                sklearn_form: None,
                ..cfg.expect
            },
            ..Finish::of(cfg)
        },
    };
    let case = finish
        .case(&state)
        .map_err(|message| RefDataError::TestData {
            path: set_path.clone(),
            message,
        })?;
    Ok((case, state))
}

/// A test set's case as data: everything its report is made from, with the comparisons'
/// running state, so that the states of a set's shards merge into the state of the whole set
/// ([`super::shard`]). Floats inside are carried as bit patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    pub test_data: String,
    /// The samples compared: `start..end` of `total`.
    pub start: usize,
    pub end: usize,
    pub total: usize,
    pub inputs: Vec<InputReport>,
    pub outputs: Vec<OutputState>,
    pub loss: Option<LossState>,
    pub warnings: Vec<String>,
    pub left_out: Vec<LeftOut>,
}

/// One compared output of a [`CaseState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    pub name: String,
    pub file: String,
    pub tolerance: ExactTolerance,
    pub expected_dtype: String,
    /// The whole reference's shape.
    pub expected_shape: Vec<usize>,
    /// The element type and whole shape the model produced, once it ran.
    pub produced: Option<(String, Vec<usize>)>,
    pub problem: Option<Incomparable>,
    pub acc: Option<AccumulatorState>,
}

/// A [`Tolerance`] with its bounds carried bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExactTolerance {
    #[serde(with = "crate::metrics::exact")]
    pub atol: f64,
    #[serde(with = "crate::metrics::exact")]
    pub rtol: f64,
    pub allow_nonfinite: bool,
}

impl From<Tolerance> for ExactTolerance {
    fn from(t: Tolerance) -> Self {
        Self {
            atol: t.atol,
            rtol: t.rtol,
            allow_nonfinite: t.allow_nonfinite,
        }
    }
}

impl From<ExactTolerance> for Tolerance {
    fn from(t: ExactTolerance) -> Self {
        Self {
            atol: t.atol,
            rtol: t.rtol,
            allow_nonfinite: t.allow_nonfinite,
        }
    }
}

/// The losses of a [`CaseState`]: on which output, from which logits, against which labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossState {
    pub output: String,
    /// The sigmoid head the logits came from, if the output is a Sigmoid's.
    pub head: Option<HeadState>,
    pub labels: String,
    pub acc: LossAccumulator,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadState {
    pub node: String,
    pub logits: String,
}

/// What turns a [`CaseState`] into a report besides the state: the run's settings.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    /// The model as reports name it (its path, shown lossily where it is not UTF-8).
    pub model: std::borrow::Cow<'a, str>,
    pub tolerance_name: &'a str,
    pub expect: ExpectLoss,
    pub expect_divergence: &'a [ExpectedDivergence],
    pub runtime: RuntimeKind,
}

impl<'a> Finish<'a> {
    pub(super) fn of(cfg: &'a ValidateConfig) -> Self {
        Self {
            model: cfg.model.to_string_lossy(),
            tolerance_name: &cfg.tolerance_name,
            expect: cfg.expect,
            expect_divergence: &cfg.expect_divergence,
            runtime: cfg.runtime,
        }
    }

    /// The case's report: outputs against their tolerance (indices in the whole tensors), the
    /// losses and their verdicts, the status. `Err` names a state this program did not write.
    pub fn case(&self, state: &CaseState) -> Result<CaseReport, String> {
        let mut case = CaseReport::empty(
            &self.model,
            Some(state.test_data.clone()),
            self.tolerance_name,
        );
        case.left_out = state.left_out.clone();
        case.warnings = state.warnings.clone();
        case.inputs = state.inputs.clone();
        for o in &state.outputs {
            let expected = (o.expected_dtype.clone(), o.expected_shape.clone());
            let produced = o.produced.clone().unwrap_or_else(|| expected.clone());
            let metrics = match (&o.problem, &o.acc) {
                (None, Some(acc)) => {
                    let per_sample: usize = o.expected_shape.iter().skip(1).product();
                    TensorAccumulator::from_state(acc)?
                        .finish_from(state.start * per_sample, &o.expected_shape)
                }
                _ => check::total_mismatch_of(o.expected_shape.iter().product()),
            };
            let report = output_report(
                &mut case.problems,
                o,
                produced,
                expected,
                o.tolerance.into(),
                metrics,
                o.problem.clone(),
            );
            case.outputs.push(report);
        }
        if let Some(l) = &state.loss {
            let head = l.head.as_ref().map(|h| head::SigmoidHead {
                output: l.output.clone(),
                node: h.node.clone(),
                logits: h.logits.clone(),
            });
            let losses = l.acc.finish(
                check::loss_head(&l.output, head.as_ref()),
                &l.labels,
                &self.expect,
            );
            record_losses(&mut case, losses, self.expect_divergence, self.runtime);
        }
        if !case.problems.is_empty() {
            case.status = Verdict::Fail;
        }
        Ok(case)
    }
}

/// Samples in the next block when `rest` remain: `chunk`, except that a last block of one
/// sample joins the one before it. A batch of one takes tract's matrix-vector kernels, which
/// round differently from the batched ones; a set whose size is one more than a multiple of the
/// chunk would otherwise not give the bits reading it whole gives.
fn block(chunk: usize, rest: usize) -> usize {
    if chunk.checked_add(1) == Some(rest) && chunk > 1 {
        rest
    } else {
        chunk.min(rest)
    }
}

/// A chunk's shape with the first axis standing for every sample.
fn whole(shape: &[usize], samples: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    if let Some(first) = s.first_mut() {
        *first = samples;
    }
    s
}

/// Feeds one output chunk to its accumulator; a type or shape difference ends the comparison
/// of that output with the whole shapes named.
fn accumulate(
    c: &mut Compared,
    actual: &Tensor,
    expected: &Tensor,
    expected_shape: &[usize],
    samples: usize,
) -> Result<(), Incomparable> {
    if actual.datum_type() != expected.datum_type() {
        return Err(Incomparable::Dtype {
            actual: datum_name(actual.datum_type()),
            expected: datum_name(expected.datum_type()),
        });
    }
    if actual.shape() != expected.shape() {
        return Err(Incomparable::Shape {
            actual: whole(actual.shape(), samples),
            expected: expected_shape.to_vec(),
        });
    }
    let acc = match &mut c.acc {
        Some(acc) => acc,
        None => c
            .acc
            .insert(TensorAccumulator::new(actual.datum_type(), c.tol)?),
    };
    acc.push(actual, expected)
}

type F32Chunk<'a> = Cow<'a, [f32]>;

/// The loss output, its logits (sigmoid head) and its reference (when it has the output's
/// shape) of one chunk as f32, with the messages [`check::losses`] gives.
fn loss_chunk<'a>(
    name: &str,
    output: &'a Tensor,
    head: Option<(&head::SigmoidHead, &'a Tensor)>,
    reference: Option<&'a Tensor>,
    labels: &ndarray::ArrayD<f32>,
) -> Result<(F32Chunk<'a>, Option<F32Chunk<'a>>, Option<F32Chunk<'a>>), String> {
    let output32 = check::f32_elements(output)
        .map_err(|t| format!("output '{name}' is {t}; losses need a float output"))?;
    let reference32 = match reference {
        Some(r) if r.shape() == output.shape() => {
            Some(check::f32_elements(r).map_err(|t| format!("reference for '{name}' is {t}"))?)
        }
        _ => None,
    };
    let logits32 = match head {
        Some((h, logits)) => {
            let z = check::f32_elements(logits)
                .map_err(|t| format!("logits '{}' are {t}", h.logits))?;
            if logits.shape() != output.shape() {
                return Err(format!(
                    "logits '{}' have shape {:?}, output '{name}' has {:?}",
                    h.logits,
                    logits.shape(),
                    output.shape()
                ));
            }
            Some(z)
        }
        None => None,
    };
    if labels.len() != output32.len() {
        return Err(format!(
            "labels chunk has {} elements, output '{name}' {}",
            labels.len(),
            output32.len()
        ));
    }
    Ok((output32, logits32, reference32))
}

/// Refuses a model whose inputs cannot take chunks of `chunk` samples (a first axis fixed to
/// another size), before anything runs.
fn check_chunk_shapes(
    model: &OnnxModel,
    set: &testset::RowSet,
    samples: usize,
    chunk: usize,
) -> Result<(), ValidateError> {
    let mut sizes = Vec::new();
    let mut rest = samples;
    while rest > 0 {
        let n = block(chunk, rest);
        if !sizes.contains(&n) {
            sizes.push(n);
        }
        rest -= n;
    }
    for n in sizes {
        let mut bound = BTreeMap::new();
        for r in &set.inputs {
            let Some(d) = model.signature.inputs.iter().find(|d| d.name == r.name) else {
                continue;
            };
            let shape = whole(r.rows.shape(), n);
            if let Some(why) = testset::disagreement_of(d, r.rows.datum_type(), &shape, &mut bound)
            {
                return Err(RefDataError::TestData {
                    path: set.path.clone(),
                    message: format!(
                        "{}: a chunk of {n} samples is {} {shape:?}, which model input '{}' \
                         ({}) cannot take: {why}; use a --chunk that fits, or drop --chunk",
                        r.file,
                        datum_name(r.rows.datum_type()),
                        d.name,
                        d.dims_text()
                    ),
                }
                .into());
            }
        }
    }
    Ok(())
}

impl RefFile for OutputState {
    fn name(&self) -> &str {
        &self.name
    }
    fn file(&self) -> &str {
        &self.file
    }
    fn matched_by(&self) -> refdata::MatchedBy {
        refdata::MatchedBy::Name
    }
}
