//! Turning one run into verdicts: per-output metrics against the reference, and the
//! sigmoid-BCE losses, binary accuracy and decision flips against labels.
//!
//! Losses come from [`crate::loss`], never from formulas written here. Which tensors feed them
//! depends on the head:
//! - a logits output: the logits form from the output, the probability form from
//!   `sigmoid(output)` clipped (Keras `binary_crossentropy(y, sigmoid(z))`);
//! - an output computed by a `Sigmoid`: the logits form from the Sigmoid's input, read from the
//!   same run (what Keras reports from `fit`/`evaluate` for a model trained with
//!   `from_logits=True` on those logits, exact even where probabilities saturate), and the
//!   probability form from the output itself, as `keras.losses.binary_crossentropy(y,
//!   model.predict(x))` computes it.
//!
//! Both forms are reduced as Keras reduces them; the probability form is also given with
//! scikit-learn's reduction and clip (`binary_log_loss`, the data term of
//! `MLPClassifier.loss_curve_`), from the same probabilities.
//!
//! The loss verdict: each form is also computed the same way from the reference outputs, and
//! the runtime's value must stay within [`LossTolerance`] of it (outputs within tolerance are
//! not enough: a bounded `Sigmoid` keeps every probability within 1e-5 and still changes the
//! clipped probability form by percents). A failing difference that comes with different clip
//! counts is explained in one line ([`clip_explanation`]).

use std::borrow::Cow;

use ndarray::ArrayD;
use serde::Serialize;
use tract_onnx::prelude::{DatumType, Tensor};

use crate::loss;
use crate::metrics::{
    ErrorDistribution, Incomparable, Metrics, Tolerance, compare_tensors, compare_tensors_detailed,
    serialize_f64,
};
use crate::runtime::head::SigmoidHead;

/// Metrics standing for an output that could not be compared element by element (wrong type
/// or shape): every expected element counts as a mismatch and the errors as infinite, so that
/// the report keeps the same keys and no reader mistakes it for a pass.
pub fn total_mismatch(expected: &Tensor) -> Metrics {
    total_mismatch_of(expected.len())
}

/// [`total_mismatch`] for a reference of `n` elements.
pub fn total_mismatch_of(n: usize) -> Metrics {
    Metrics {
        elements: n,
        max_abs_err: f64::INFINITY,
        max_rel_err: f64::INFINITY,
        max_ulp: u64::MAX,
        mismatches: n.max(1),
        mismatch_fraction: 1.0,
        nonfinite: 0,
        first_mismatch: None,
        worst: None,
    }
}

/// Compares an output with its reference; a type or shape difference is a failed output with
/// the reason.
pub fn compare_output(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
) -> (Metrics, Option<Incomparable>) {
    match compare_tensors(actual, expected, tol) {
        Ok(m) => (m, None),
        Err(e) => (total_mismatch(expected), Some(e)),
    }
}

/// How far a runtime's loss may be from the same loss computed from the reference outputs:
/// `|loss - reference| <= max(atol, rtol * |reference|)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossTolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Default for LossTolerance {
    /// 0.1% relative or 1e-6 absolute, whichever is larger.
    fn default() -> Self {
        Self {
            rtol: 1e-3,
            atol: 1e-6,
        }
    }
}

impl LossTolerance {
    /// The largest difference allowed around `reference`.
    pub fn allowed(&self, reference: f64) -> f64 {
        self.atol.max(self.rtol * reference.abs())
    }
}

impl std::fmt::Display for LossTolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rtol {:e}, atol {:e}", self.rtol, self.atol)
    }
}

/// The losses a report gives, as manifests and reports name them: the two formulations with
/// Keras's reduction, and the probability form as scikit-learn reduces and clips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossForm {
    LogitsForm,
    ProbsForm,
    SklearnForm,
}

impl LossForm {
    pub const ALL: [LossForm; 3] = [
        LossForm::LogitsForm,
        LossForm::ProbsForm,
        LossForm::SklearnForm,
    ];

    pub fn short(self) -> &'static str {
        match self {
            LossForm::LogitsForm => "logits",
            LossForm::ProbsForm => "probs",
            LossForm::SklearnForm => "sklearn",
        }
    }
}

/// A loss the manifest expects one runtime to get wrong against the reference, and why: the
/// case passes while it diverges and fails once it does not (the entry is stale).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedDivergence {
    pub runtime: crate::runtime::RuntimeKind,
    pub loss: LossForm,
    pub why: String,
}

/// One form's loss against the same loss computed from the reference outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceCheck {
    #[serde(serialize_with = "serialize_f64")]
    pub abs_diff: f64,
    /// The difference [`LossTolerance`] allows here.
    pub allowed: f64,
    /// NaN differences fail.
    pub passed: bool,
    /// Why a failing difference is expected (a manifest entry); the case then does not fail.
    pub expected_divergence: Option<String>,
}

/// [`compare_output`], plus where the errors lie when `detail` is set (and the tensors could
/// be compared).
pub fn compare_output_detailed(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
    detail: bool,
) -> (Metrics, Option<ErrorDistribution>, Option<Incomparable>) {
    if !detail {
        let (m, problem) = compare_output(actual, expected, tol);
        return (m, None, problem);
    }
    match compare_tensors_detailed(actual, expected, tol) {
        Ok((m, d)) => (m, Some(d), None),
        Err(e) => (total_mismatch(expected), None, Some(e)),
    }
}

/// One loss formulation: our value in f32 and f64 element arithmetic, the same formula on the
/// reference outputs where they allow it, and the gate when an expected value was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormLoss {
    /// Element losses in f32 (as a float32 framework computes them), sums in f64. The gate
    /// compares this value.
    #[serde(rename = "f32", serialize_with = "serialize_f64")]
    pub value_f32: f64,
    #[serde(rename = "f64", serialize_with = "serialize_f64")]
    pub value_f64: f64,
    /// The same formula (f32) on the reference outputs; `None` where the reference cannot give
    /// it (a sigmoid head's reference holds probabilities, not logits).
    pub reference: Option<f64>,
    pub expected: Option<f64>,
    pub abs_diff: Option<f64>,
    pub passed: Option<bool>,
    /// The loss verdict: this value against `reference` (when there is one).
    pub vs_reference: Option<ReferenceCheck>,
}

impl FormLoss {
    fn new(
        l32: f64,
        l64: f64,
        reference: Option<f64>,
        expected: Option<f64>,
        tol: f64,
        loss_tol: &LossTolerance,
    ) -> Self {
        let abs_diff = expected.map(|e| (l32 - e).abs());
        let vs_reference = reference.map(|r| {
            let d = (l32 - r).abs();
            let allowed = loss_tol.allowed(r);
            ReferenceCheck {
                abs_diff: d,
                allowed,
                passed: d <= allowed,
                expected_divergence: None,
            }
        });
        Self {
            value_f32: l32,
            value_f64: l64,
            reference,
            expected,
            abs_diff,
            // NaN differences fail.
            passed: abs_diff.map(|d| d <= tol),
            vs_reference,
        }
    }
}

/// Which tensor the logits came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadReport {
    /// `"logits"`: the output is taken as logits. `"sigmoid"`: the output comes from a Sigmoid
    /// node and the logits are its input.
    pub kind: &'static str,
    pub output: String,
    pub sigmoid_node: Option<String>,
    pub logits_tensor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossReport {
    pub labels: String,
    pub head: HeadReport,
    pub elements: usize,
    /// Elements whose probability the probability form clipped to `[1e-7, 1 - 1e-7]` (f32).
    pub clipped: usize,
    /// Same count on the reference outputs, where available.
    pub reference_clipped: Option<usize>,
    /// Elements the reference clipped where this runtime did not.
    pub clipped_only_by_reference: Option<usize>,
    /// The smallest and largest probability this runtime produced (f32).
    pub probability_range: [f32; 2],
    pub logits_form: FormLoss,
    pub probs_form: FormLoss,
    /// Absolute tolerance of the expected-loss gates.
    pub tolerance: f64,
    /// Tolerance of the loss verdict against the reference.
    pub loss_tolerance: LossTolerance,
    /// Set when a form fails its reference check and the clip counts differ: why, in one line.
    pub clip_explanation: Option<String>,
    /// How `logits_form` and `probs_form` are reduced: `keras`.
    pub reduction: loss::Reduction,
    /// The probability form as scikit-learn's `binary_log_loss` computes it: clip at the float32
    /// epsilon, mean over samples, sum over labels (`reduction` says which).
    pub sklearn_form: SklearnLoss,
}

/// scikit-learn's `binary_log_loss` of the model's probabilities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SklearnLoss {
    /// `sklearn`.
    pub reduction: loss::Reduction,
    /// The clip: probabilities are held to `[clip, 1 - clip]`.
    pub clip: f64,
    #[serde(flatten)]
    pub value: FormLoss,
    /// Elements whose probability the clip moved (f32).
    pub clipped: usize,
    pub reference_clipped: Option<usize>,
}

impl LossReport {
    /// The forms whose loss verdict failed.
    pub fn reference_failures(&self) -> Vec<(LossForm, &FormLoss)> {
        self.forms()
            .into_iter()
            .filter(|(_, f)| f.vs_reference.as_ref().is_some_and(|c| !c.passed))
            .collect()
    }

    pub fn forms(&self) -> [(LossForm, &FormLoss); 3] {
        [
            (LossForm::LogitsForm, &self.logits_form),
            (LossForm::ProbsForm, &self.probs_form),
            (LossForm::SklearnForm, &self.sklearn_form.value),
        ]
    }

    pub fn form_mut(&mut self, form: LossForm) -> &mut FormLoss {
        match form {
            LossForm::LogitsForm => &mut self.logits_form,
            LossForm::ProbsForm => &mut self.probs_form,
            LossForm::SklearnForm => &mut self.sklearn_form.value,
        }
    }
}

/// The one line that explains a failing loss verdict by clipping: how many elements the
/// reference clipped that the runtime did not, and the range of the runtime's probabilities.
pub fn clip_explanation(only_reference: usize, clipped: usize, range: [f32; 2]) -> String {
    let [lo, hi] = range;
    format!(
        "the reference clipped {only_reference} element(s) to [1e-7, 1-1e-7] that this runtime \
         did not (it clipped {clipped}): its probabilities span {lo:.3e} to {hi} (1 - {:.3e})",
        1.0 - f64::from(hi)
    )
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyReport {
    /// Fraction of elements where `p > 0.5` (strict) agrees with `label > 0.5`.
    pub model: f64,
    pub reference: Option<f64>,
    /// Elements where the model's decision differs from the reference's.
    pub decisions_flipped: Option<usize>,
    pub elements: usize,
}

/// What the loss computation needs from a run.
pub struct LossInputs<'a> {
    pub output_name: &'a str,
    pub output: &'a Tensor,
    /// The sigmoid head and the Sigmoid's input, when the output has such a head; the input is
    /// `None` for a runtime that cannot show it (the logits form is then NaN).
    pub head: Option<(&'a SigmoidHead, Option<&'a Tensor>)>,
    pub reference: Option<&'a Tensor>,
    pub labels: &'a ArrayD<f32>,
    pub labels_file: &'a str,
}

/// Expected losses; each applies to one formulation. `reference` is the tolerance of the loss
/// verdict against the reference outputs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExpectLoss {
    pub logits_form: Option<f64>,
    pub probs_form: Option<f64>,
    /// scikit-learn's `binary_log_loss` (reduction `sklearn`).
    pub sklearn_form: Option<f64>,
    pub tol: f64,
    pub reference: LossTolerance,
}

/// A float tensor's elements as f32 in row-major order: borrowed when it holds f32 (no copy),
/// cast otherwise. `Err` names the element type for the caller's message.
pub fn f32_elements(t: &Tensor) -> Result<Cow<'_, [f32]>, String> {
    match t.datum_type() {
        DatumType::F32 => t
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map(Cow::Borrowed)
            .map_err(|e| format!("{e:#}")),
        DatumType::F16 | DatumType::F64 => t
            .cast_to::<f32>()
            .and_then(|c| c.try_as_plain_ram()?.as_slice::<f32>().map(<[f32]>::to_vec))
            .map(Cow::Owned)
            .map_err(|e| format!("{e:#}")),
        other => Err(crate::metrics::datum_name(other)),
    }
}

/// A float tensor as an owned f32 array (the matrix keeps each column's probabilities); `Err`
/// names the element type for the caller's message.
pub fn as_f32(t: &Tensor) -> Result<ArrayD<f32>, String> {
    match t.datum_type() {
        DatumType::F32 | DatumType::F16 | DatumType::F64 => t
            .cast_to::<f32>()
            .and_then(|c| c.to_plain_array_view::<f32>().map(|v| v.to_owned()))
            .map_err(|e| format!("{e:#}")),
        other => Err(crate::metrics::datum_name(other)),
    }
}

/// One chunk of rows for [`LossAccumulator::push`]: the loss output's elements, the logits under
/// its sigmoid (sigmoid head only), the reference output (when compared) and the labels, all of
/// the same length, in row-major order.
#[derive(Debug, Clone, Copy)]
pub struct LossChunk<'a> {
    pub output: &'a [f32],
    pub logits: Option<&'a [f32]>,
    pub reference: Option<&'a [f32]>,
    pub labels: &'a [f32],
    /// Samples (rows of the first axis) in the chunk.
    pub samples: usize,
}

/// Both losses (f32 and f64 element arithmetic, Keras and scikit-learn reductions), clip counts,
/// binary accuracy and decision flips, as a running state fed chunk by chunk in one pass.
///
/// Every sum is a [`loss::KerasSum`] or [`loss::SklearnSum`], which add in arrival order: the
/// figures are the same bits whether the data comes in one chunk or a thousand, and the same as
/// [`crate::loss`]'s whole-array functions. Nothing is allocated per element or per chunk. The
/// f64 figures and the f32 ones are independent sums, so a large chunk computes them on two
/// threads, each sum still in arrival order.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LossAccumulator {
    sigmoid_head: bool,
    /// A sigmoid head whose logits the runtime cannot show: the logits form is NaN.
    logits_missing: bool,
    with_reference: bool,
    samples: usize,
    elements: usize,
    f32s: Part32,
    f64s: Part64,
}

/// Elements from which a chunk's f64 figures are computed on a second thread.
const PARALLEL_FROM: usize = 8192;

/// The f32 figures: the model's and, with a reference, the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
struct Part32 {
    logits: loss::KerasSum,
    probs: loss::KerasSum,
    clipped: usize,
    sklearn: loss::SklearnSum,
    sklearn_clipped: usize,
    right: usize,
    ref_logits: loss::KerasSum,
    ref_probs: loss::KerasSum,
    ref_clipped: usize,
    ref_sklearn: loss::SklearnSum,
    ref_sklearn_clipped: usize,
    ref_right: usize,
    flipped: usize,
    /// Elements the reference clipped (probability form) where the model did not.
    only_ref_clipped: usize,
    /// The smallest and largest model probability (f32, NaN ignored).
    #[serde(with = "crate::metrics::exact::f32_pair")]
    range: [f32; 2],
}

impl Part32 {
    fn merge(&mut self, n: &Part32) -> Result<(), String> {
        for (a, b) in [
            (&mut self.logits, &n.logits),
            (&mut self.probs, &n.probs),
            (&mut self.ref_logits, &n.ref_logits),
            (&mut self.ref_probs, &n.ref_probs),
        ] {
            a.merge(b)?;
        }
        self.sklearn.merge(&n.sklearn);
        self.ref_sklearn.merge(&n.ref_sklearn);
        for (a, b) in [
            (&mut self.clipped, n.clipped),
            (&mut self.sklearn_clipped, n.sklearn_clipped),
            (&mut self.right, n.right),
            (&mut self.ref_clipped, n.ref_clipped),
            (&mut self.ref_sklearn_clipped, n.ref_sklearn_clipped),
            (&mut self.ref_right, n.ref_right),
            (&mut self.flipped, n.flipped),
            (&mut self.only_ref_clipped, n.only_ref_clipped),
        ] {
            *a += b;
        }
        self.range = [self.range[0].min(n.range[0]), self.range[1].max(n.range[1])];
        Ok(())
    }
}

/// The f64 figures of the model's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
struct Part64 {
    logits: loss::KerasSum,
    probs: loss::KerasSum,
    sklearn: loss::SklearnSum,
}

/// A chunk's slices, with the logits and the reference resolved for the head.
#[derive(Clone, Copy)]
struct Slices<'a> {
    output: &'a [f32],
    logits: &'a [f32],
    reference: &'a [f32],
    labels: &'a [f32],
}

impl Part32 {
    fn push<const SIGMOID: bool, const REFERENCE: bool>(&mut self, c: Slices<'_>) {
        for i in 0..c.labels.len() {
            let (z, y) = (c.logits[i], c.labels[i]);
            self.logits.push(f64::from(loss::logits_elem_f32(z, y)));
            // Probabilities: the output itself under a sigmoid head, else the f32 sigmoid of
            // the logits.
            let p = if SIGMOID {
                c.output[i]
            } else {
                loss::sigmoid_f32(z)
            };
            let ((l, clip), (ls, clip_s)) = loss::probs_and_sklearn_elem_f32(p, y);
            self.probs.push(f64::from(l));
            self.clipped += usize::from(clip);
            self.sklearn.push(f64::from(ls));
            self.sklearn_clipped += usize::from(clip_s);
            self.range = [self.range[0].min(p), self.range[1].max(p)];
            let truth = y > 0.5;
            let decision = p > 0.5;
            self.right += usize::from(decision == truth);
            if REFERENCE {
                let r = c.reference[i];
                let rp = if SIGMOID {
                    r
                } else {
                    self.ref_logits.push(f64::from(loss::logits_elem_f32(r, y)));
                    loss::sigmoid_f32(r)
                };
                let ((l, ref_clip), (ls, clip_s)) = loss::probs_and_sklearn_elem_f32(rp, y);
                self.ref_probs.push(f64::from(l));
                self.ref_clipped += usize::from(ref_clip);
                self.ref_sklearn.push(f64::from(ls));
                self.ref_sklearn_clipped += usize::from(clip_s);
                self.only_ref_clipped += usize::from(ref_clip && !clip);
                let ref_decision = rp > 0.5;
                self.ref_right += usize::from(ref_decision == truth);
                self.flipped += usize::from(decision != ref_decision);
            }
        }
    }
}

impl Part64 {
    fn push<const SIGMOID: bool>(&mut self, c: Slices<'_>) {
        for i in 0..c.labels.len() {
            let (z, y) = (f64::from(c.logits[i]), f64::from(c.labels[i]));
            self.logits.push(loss::logits_elem_f64(z, y));
            let p = if SIGMOID {
                f64::from(c.output[i])
            } else {
                loss::sigmoid_f64(z)
            };
            let ((l, _), (ls, _)) = loss::probs_and_sklearn_elem_f64(p, y);
            self.probs.push(l);
            self.sklearn.push(ls);
        }
    }
}

impl LossAccumulator {
    /// For outputs whose last axis has `k` labels (`k > 0`); `sigmoid_head` when the output is
    /// a Sigmoid's and logits come with every chunk; `with_reference` when reference outputs do.
    pub fn new(k: usize, sigmoid_head: bool, with_reference: bool) -> Self {
        Self::with_logits(k, sigmoid_head, true, with_reference)
    }

    /// [`LossAccumulator::new`] for a sigmoid head whose logits may be missing (`logits_shown`
    /// false: a runtime that shows only the output; the logits form is then NaN).
    pub fn with_logits(
        k: usize,
        sigmoid_head: bool,
        logits_shown: bool,
        with_reference: bool,
    ) -> Self {
        let keras = loss::KerasSum::new(k);
        let sklearn = loss::SklearnSum::default();
        Self {
            sigmoid_head,
            logits_missing: sigmoid_head && !logits_shown,
            with_reference,
            samples: 0,
            elements: 0,
            f32s: Part32 {
                logits: keras,
                probs: keras,
                clipped: 0,
                sklearn,
                sklearn_clipped: 0,
                right: 0,
                ref_logits: keras,
                ref_probs: keras,
                ref_clipped: 0,
                ref_sklearn: sklearn,
                ref_sklearn_clipped: 0,
                ref_right: 0,
                flipped: 0,
                only_ref_clipped: 0,
                range: [f32::INFINITY, f32::NEG_INFINITY],
            },
            f64s: Part64 {
                logits: keras,
                probs: keras,
                sklearn,
            },
        }
    }

    /// The next rows. Slices of unequal length, or a chunk without the logits or reference
    /// this accumulator was made for, are caller bugs (panics).
    pub fn push(&mut self, c: &LossChunk<'_>) {
        let n = c.labels.len();
        let slices = Slices {
            output: c.output,
            logits: match (self.sigmoid_head, c.logits) {
                (false, _) => c.output,
                (true, Some(z)) => z,
                // Summed but never reported: the logits form is NaN.
                (true, None) if self.logits_missing => c.output,
                (true, None) => panic!("a sigmoid head's chunk holds its logits"),
            },
            reference: match (self.with_reference, c.reference) {
                (false, _) => c.output,
                (true, Some(r)) => r,
                (true, None) => panic!("a chunk with reference outputs"),
            },
            labels: c.labels,
        };
        assert!(
            [slices.output, slices.logits, slices.reference]
                .iter()
                .all(|s| s.len() == n),
            "chunk slices differ in length"
        );
        self.samples += c.samples;
        self.elements += n;
        let (sigmoid, reference) = (self.sigmoid_head, self.with_reference);
        let Self { f32s, f64s, .. } = self;
        let mut part32 = move || match (sigmoid, reference) {
            (true, true) => f32s.push::<true, true>(slices),
            (true, false) => f32s.push::<true, false>(slices),
            (false, true) => f32s.push::<false, true>(slices),
            (false, false) => f32s.push::<false, false>(slices),
        };
        let mut part64 = move || match sigmoid {
            true => f64s.push::<true>(slices),
            false => f64s.push::<false>(slices),
        };
        if n >= PARALLEL_FROM {
            std::thread::scope(|s| {
                s.spawn(part64);
                part32();
            });
        } else {
            part64();
            part32();
        }
    }

    /// Folds in the state of the samples that follow (the next shard's), as if they had been
    /// pushed here. Counts, clip counts and the probability range come out as one pass gives
    /// them; each loss adds the two sums once, so it can differ from one pass in the last bits
    /// (the README says so). `Err` when the two were made for different outputs.
    pub fn merge(&mut self, next: &LossAccumulator) -> Result<(), String> {
        if (self.sigmoid_head, self.logits_missing, self.with_reference)
            != (next.sigmoid_head, next.logits_missing, next.with_reference)
        {
            return Err("the shards' losses were computed from different tensors".to_owned());
        }
        self.f32s.merge(&next.f32s)?;
        self.f64s.logits.merge(&next.f64s.logits)?;
        self.f64s.probs.merge(&next.f64s.probs)?;
        self.f64s.sklearn.merge(&next.f64s.sklearn);
        self.samples += next.samples;
        self.elements += next.elements;
        Ok(())
    }

    /// The reports of everything pushed.
    pub fn finish(
        &self,
        head: HeadReport,
        labels_file: &str,
        expect: &ExpectLoss,
    ) -> (LossReport, AccuracyReport) {
        let reference = |v: f64| self.with_reference.then_some(v);
        let ref_count = |v: usize| self.with_reference.then_some(v);
        let accuracy = AccuracyReport {
            model: self.f32s.right as f64 / self.elements as f64,
            reference: reference(self.f32s.ref_right as f64 / self.elements as f64),
            decisions_flipped: ref_count(self.f32s.flipped),
            elements: self.elements,
        };
        let ref_logits = if self.sigmoid_head {
            None
        } else {
            reference(self.f32s.ref_logits.value())
        };
        let logits_form = if self.logits_missing {
            (f64::NAN, f64::NAN)
        } else {
            (self.f32s.logits.value(), self.f64s.logits.value())
        };
        let clipped = self.f32s.clipped;
        let reference_clipped = ref_count(self.f32s.ref_clipped);
        let clipped_only_by_reference = ref_count(self.f32s.only_ref_clipped);
        let probability_range = self.f32s.range;
        let mut report = LossReport {
            labels: labels_file.to_owned(),
            head,
            elements: self.elements,
            clipped,
            reference_clipped,
            clipped_only_by_reference,
            probability_range,
            logits_form: FormLoss::new(
                logits_form.0,
                logits_form.1,
                ref_logits,
                expect.logits_form,
                expect.tol,
                &expect.reference,
            ),
            probs_form: FormLoss::new(
                self.f32s.probs.value(),
                self.f64s.probs.value(),
                reference(self.f32s.ref_probs.value()),
                expect.probs_form,
                expect.tol,
                &expect.reference,
            ),
            tolerance: expect.tol,
            reduction: loss::Reduction::Keras,
            sklearn_form: SklearnLoss {
                reduction: loss::Reduction::Sklearn,
                clip: f64::from(loss::SKLEARN_EPSILON_F32),
                value: FormLoss::new(
                    self.f32s.sklearn.value(self.samples),
                    self.f64s.sklearn.value(self.samples),
                    reference(self.f32s.ref_sklearn.value(self.samples)),
                    expect.sklearn_form,
                    expect.tol,
                    &expect.reference,
                ),
                clipped: self.f32s.sklearn_clipped,
                reference_clipped: ref_count(self.f32s.ref_sklearn_clipped),
            },
            loss_tolerance: expect.reference,
            clip_explanation: None,
        };
        if !report.reference_failures().is_empty() && reference_clipped != Some(clipped) {
            report.clip_explanation = Some(clip_explanation(
                clipped_only_by_reference.unwrap_or(0),
                clipped,
                probability_range,
            ));
        }
        (report, accuracy)
    }
}

/// Which tensor the logits of output `x_name` come from, for the report.
pub fn loss_head(x_name: &str, head: Option<&SigmoidHead>) -> HeadReport {
    match head {
        Some(h) => HeadReport {
            kind: "sigmoid",
            output: x_name.to_owned(),
            sigmoid_node: Some(h.node.clone()),
            logits_tensor: h.logits.clone(),
        },
        None => HeadReport {
            kind: "logits",
            output: x_name.to_owned(),
            sigmoid_node: None,
            logits_tensor: x_name.to_owned(),
        },
    }
}

/// Losses, accuracy and flips, in one pass over the elements. Shapes were checked by the caller
/// (labels == output).
pub fn losses(
    x: &LossInputs<'_>,
    expect: &ExpectLoss,
) -> Result<(LossReport, AccuracyReport), String> {
    let output = f32_elements(x.output).map_err(|t| {
        format!(
            "output '{}' is {t}; losses need a float output",
            x.output_name
        )
    })?;
    let reference = match x.reference {
        Some(r) if r.shape() == x.output.shape() => {
            Some(f32_elements(r).map_err(|t| format!("reference for '{}' is {t}", x.output_name))?)
        }
        _ => None,
    };
    // A runtime that shows only the output (burn-import) gives no logits: no logits form.
    let logits = match x.head {
        Some((h, Some(logits))) => {
            let z = f32_elements(logits).map_err(|t| format!("logits '{}' are {t}", h.logits))?;
            if logits.shape() != x.output.shape() {
                return Err(format!(
                    "logits '{}' have shape {:?}, output '{}' has {:?}",
                    h.logits,
                    logits.shape(),
                    x.output_name,
                    x.output.shape()
                ));
            }
            Some(z)
        }
        _ => None,
    };
    check_loss_shapes(x.output.shape(), x.labels.shape())?;
    let labels = x.labels.as_standard_layout();
    let labels = labels.as_slice().expect("standard layout");
    let shape = x.output.shape();
    let mut acc = LossAccumulator::with_logits(
        *shape.last().expect("checked: rank > 0"),
        x.head.is_some(),
        logits.is_some(),
        reference.is_some(),
    );
    acc.push(&LossChunk {
        output: &output,
        logits: logits.as_deref(),
        reference: reference.as_deref(),
        labels,
        samples: shape[0],
    });
    let head = loss_head(x.output_name, x.head.map(|(h, _)| h));
    Ok(acc.finish(head, x.labels_file, expect))
}

/// The shape rules of [`crate::loss`]: equal shapes, at least one axis and one element.
pub fn check_loss_shapes(output: &[usize], labels: &[usize]) -> Result<(), String> {
    if output != labels {
        return Err(loss::LossError::ShapeMismatch {
            pred: output.to_vec(),
            target: labels.to_vec(),
        }
        .to_string());
    }
    if output.is_empty() || output.contains(&0) {
        return Err(loss::LossError::Empty(output.to_vec()).to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    fn t(a: ndarray::Array2<f32>) -> Tensor {
        Tensor::from(a.into_dyn())
    }

    #[test]
    fn logits_head_takes_both_forms_from_the_output() {
        let z = t(arr2(&[[0.0f32, 2.0], [-1.0, 1.0]]));
        let r = t(arr2(&[[0.0f32, 2.0], [1.0, 1.0]]));
        let y = arr2(&[[1.0f32, 0.0], [0.0, 1.0]]).into_dyn();
        let expect = ExpectLoss {
            logits_form: Some(1.0),
            probs_form: None,
            sklearn_form: None,
            tol: 1e-6,
            reference: LossTolerance::default(),
        };
        let (l, a) = losses(
            &LossInputs {
                output_name: "z",
                output: &z,
                head: None,
                reference: Some(&r),
                labels: &y,
                labels_file: "y.npy",
            },
            &expect,
        )
        .unwrap();
        // Same numbers as loss.rs's keras_reduction test: ((ln2 + 2.1269280110429727)/2 +
        // 0.31326168751822286)/2.
        let want = ((std::f64::consts::LN_2 + 2.126_928_011_042_972_7) / 2.0
            + 0.313_261_687_518_222_86)
            / 2.0;
        assert!((l.logits_form.value_f64 - want).abs() < 1e-12);
        assert!((l.probs_form.value_f64 - want).abs() < 1e-9);
        assert_eq!(l.logits_form.passed, Some(false));
        assert_eq!(l.probs_form.passed, None);
        assert_eq!(l.head.kind, "logits");
        // Decisions: model p>0.5 at [F, T, F, T]; reference [F, T, T, T]; labels [T, F, F, T].
        assert_eq!(a.decisions_flipped, Some(1));
        assert_eq!(a.model, 0.5);
        assert_eq!(a.reference, Some(0.25));
        // scikit-learn's reduction of the same elements: sum of the two per-label means, that
        // is twice the mean of the four elements when nothing is clipped.
        assert!((l.sklearn_form.value.value_f64 - 2.0 * want).abs() < 1e-9);
        assert_eq!(l.sklearn_form.value.passed, None);
        assert_eq!(l.reduction, loss::Reduction::Keras);
    }

    #[test]
    fn sigmoid_head_takes_logits_from_under_the_sigmoid() {
        // Saturated: the output says 1.0 where the true logit is 30; probs form clips.
        let z = t(arr2(&[[30.0f32, -30.0]]));
        let p = t(arr2(&[[1.0f32, 0.0]]));
        let y = arr2(&[[0.0f32, 0.0]]).into_dyn();
        let head = SigmoidHead {
            output: "p".into(),
            node: "s".into(),
            logits: "z".into(),
        };
        let (l, _) = losses(
            &LossInputs {
                output_name: "p",
                output: &p,
                head: Some((&head, Some(&z))),
                reference: None,
                labels: &y,
                labels_file: "y.npy",
            },
            &ExpectLoss::default(),
        )
        .unwrap();
        // Logits form: (30 + log1p(e^-30) + log1p(e^-30)) / 2 ~ 15.0 (numpy: np.mean(np.maximum(z,0) - z*y + np.log1p(np.exp(-np.abs(z)))))
        assert!((l.logits_form.value_f64 - 15.0).abs() < 1e-9, "{l:?}");
        // Probs form: -ln(1 - f32(1-1e-7)) and -ln(1 - f32(1e-7)) averaged.
        let hi = f64::from(1.0f32 - loss::KERAS_EPSILON);
        let lo = f64::from(loss::KERAS_EPSILON);
        let want = (-(1.0 - hi).ln() - (1.0 - lo).ln()) / 2.0;
        assert!((l.probs_form.value_f64 - want).abs() < 1e-9, "{l:?}");
        assert_eq!(l.clipped, 2);
        assert_eq!(l.head.logits_tensor, "z");
    }

    /// Logits, probabilities through the f32 sigmoid, a perturbed reference and 0/1 labels.
    fn case(n: usize, k: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut rng = crate::rng::Rng::new(3);
        let z: Vec<f32> = (0..n * k)
            .map(|_| (rng.normal_f64() * 9.0) as f32)
            .collect();
        let p: Vec<f32> = z.iter().map(|&z| loss::sigmoid_f32(z)).collect();
        let r: Vec<f32> = p.iter().map(|&p| p + 1e-3 * (p - 0.5)).collect();
        let y: Vec<f32> = (0..n * k).map(|_| rng.below(2) as f32).collect();
        (z, p, r, y)
    }

    #[test]
    fn one_pass_is_bit_identical_to_the_loss_functions() {
        // 10,500 elements: the f64 figures are computed on a second thread.
        let (n, k) = (1500, 7);
        assert!(n * k >= PARALLEL_FROM);
        let (z, p, r, y) = case(n, k);
        let arr = |v: &Vec<f32>| ArrayD::from_shape_vec(vec![n, k], v.clone()).unwrap();
        let (za, pa, ra, ya) = (arr(&z), arr(&p), arr(&r), arr(&y));
        let (zv, pv, rv, yv) = (za.view(), pa.view(), ra.view(), ya.view());
        let head = SigmoidHead {
            output: "p".into(),
            node: "s".into(),
            logits: "z".into(),
        };
        let (zt, pt, rt) = (
            Tensor::from(za.clone()),
            Tensor::from(pa.clone()),
            Tensor::from(ra.clone()),
        );
        let inputs = |output, head, reference| LossInputs {
            output_name: "p",
            output,
            head,
            reference,
            labels: &ya,
            labels_file: "y.npy",
        };
        let (l, a) = losses(
            &inputs(&pt, Some((&head, Some(&zt))), Some(&rt)),
            &ExpectLoss::default(),
        )
        .unwrap();
        assert_eq!(
            l.logits_form.value_f32,
            loss::logits_form_f32(&zv, &yv).unwrap().value
        );
        assert_eq!(
            l.logits_form.value_f64,
            loss::logits_form_f64(&zv, &yv).unwrap().value
        );
        let p32 = loss::probs_form_f32(&pv, &yv).unwrap();
        assert_eq!(
            (l.probs_form.value_f32, l.clipped),
            (p32.value, p32.clipped)
        );
        assert_eq!(
            l.probs_form.value_f64,
            loss::probs_form_f64(&pv, &yv).unwrap().value
        );
        assert_eq!(
            l.probs_form.reference,
            Some(loss::probs_form_f32(&rv, &yv).unwrap().value)
        );
        let s32 = loss::binary_log_loss_f32(&pv, &yv).unwrap();
        assert_eq!(
            (l.sklearn_form.value.value_f32, l.sklearn_form.clipped),
            (s32.value, s32.clipped)
        );
        assert_eq!(
            l.sklearn_form.value.value_f64,
            loss::binary_log_loss_f64(&pv, &yv).unwrap().value
        );
        assert_eq!(a.model, loss::binary_accuracy(&pv, &yv).unwrap());
        assert_eq!(a.reference, Some(loss::binary_accuracy(&rv, &yv).unwrap()));
        assert!(l.clipped > 0, "the case should reach the clip");

        // The logits head: the same output read as logits.
        let (l, _) = losses(&inputs(&zt, None, Some(&rt)), &ExpectLoss::default()).unwrap();
        assert_eq!(
            l.probs_form.value_f32,
            loss::probs_form_from_logits_f32(&zv, &yv).unwrap().value
        );
        assert_eq!(
            l.probs_form.value_f64,
            loss::probs_form_from_logits_f64(&zv, &yv).unwrap().value
        );
        assert_eq!(
            l.logits_form.reference,
            Some(loss::logits_form_f32(&rv, &yv).unwrap().value)
        );
        assert_eq!(
            l.sklearn_form.value.value_f64,
            loss::binary_log_loss_from_logits_f64(&zv, &yv)
                .unwrap()
                .value
        );
    }

    #[test]
    fn chunked_losses_are_the_same_bits_as_one_chunk() {
        // The whole set in one chunk runs on two threads; small chunks on one.
        let (n, k) = (3000, 3);
        assert!(n * k >= PARALLEL_FROM);
        let (z, p, r, y) = case(n, k);
        let report = |chunk_rows: usize| {
            let mut acc = LossAccumulator::new(k, true, true);
            for start in (0..n).step_by(chunk_rows) {
                let end = (start + chunk_rows).min(n);
                let s = start * k..end * k;
                acc.push(&LossChunk {
                    output: &p[s.clone()],
                    logits: Some(&z[s.clone()]),
                    reference: Some(&r[s.clone()]),
                    labels: &y[s],
                    samples: end - start,
                });
            }
            acc.finish(loss_head("p", None), "y.npy", &ExpectLoss::default())
        };
        let whole = report(n);
        for rows in [1, 2, 7, 64, 2999] {
            assert_eq!(report(rows), whole, "chunks of {rows} rows");
        }
    }

    #[test]
    fn integer_outputs_cannot_feed_a_loss() {
        let out = Tensor::from(arr2(&[[1i64]]).into_dyn());
        let y = arr2(&[[1.0f32]]).into_dyn();
        let err = losses(
            &LossInputs {
                output_name: "o",
                output: &out,
                head: None,
                reference: None,
                labels: &y,
                labels_file: "y.npy",
            },
            &ExpectLoss::default(),
        )
        .unwrap_err();
        assert!(err.contains("INT64"), "{err}");
    }
}
