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

use ndarray::{ArrayD, ArrayViewD};
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
    let n = expected.len();
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

/// A float tensor as f32 values; `Err` names the element type for the caller's message.
pub fn as_f32(t: &Tensor) -> Result<ArrayD<f32>, String> {
    match t.datum_type() {
        DatumType::F32 | DatumType::F16 | DatumType::F64 => t
            .cast_to::<f32>()
            .and_then(|c| c.to_plain_array_view::<f32>().map(|v| v.to_owned()))
            .map_err(|e| format!("{e:#}")),
        other => Err(crate::metrics::datum_name(other)),
    }
}

fn sigmoid(z: &ArrayD<f32>) -> ArrayD<f32> {
    z.mapv(loss::sigmoid_f32)
}

/// Losses, accuracy and flips. Shapes were checked by the caller (labels == output).
pub fn losses(
    x: &LossInputs<'_>,
    expect: &ExpectLoss,
) -> Result<(LossReport, AccuracyReport), String> {
    let y = x.labels.view();
    let output = as_f32(x.output).map_err(|t| {
        format!(
            "output '{}' is {t}; losses need a float output",
            x.output_name
        )
    })?;
    let reference = match x.reference {
        Some(r) if r.shape() == x.output.shape() => {
            Some(as_f32(r).map_err(|t| format!("reference for '{}' is {t}", x.output_name))?)
        }
        _ => None,
    };
    let l = |r: Result<loss::Loss, loss::LossError>| r.map_err(|e| e.to_string());
    // (logits-form f32, f64; probs-form f32 with clip count, f64), then probabilities.
    let (head, logits_form, probs_form, clipped, probs, ref_logits, ref_probs, ref_clipped);
    // scikit-learn's binary_log_loss: (f32 with its clip count, f64), and on the reference.
    let (sklearn, ref_sklearn): ((loss::Loss, f64), Option<loss::Loss>);
    match x.head {
        Some((h, logits)) => {
            head = HeadReport {
                kind: "sigmoid",
                output: x.output_name.to_owned(),
                sigmoid_node: Some(h.node.clone()),
                logits_tensor: h.logits.clone(),
            };
            logits_form = match logits {
                Some(logits) => {
                    let z = as_f32(logits).map_err(|t| format!("logits '{}' are {t}", h.logits))?;
                    if z.shape() != output.shape() {
                        return Err(format!(
                            "logits '{}' have shape {:?}, output '{}' has {:?}",
                            h.logits,
                            z.shape(),
                            x.output_name,
                            output.shape()
                        ));
                    }
                    (
                        l(loss::logits_form_f32(&z.view(), &y))?.value,
                        l(loss::logits_form_f64(&z.view(), &y))?.value,
                    )
                }
                // A runtime that shows only the output (burn-import): no logits form.
                None => (f64::NAN, f64::NAN),
            };
            let p32 = l(loss::probs_form_f32(&output.view(), &y))?;
            probs_form = (
                p32.value,
                l(loss::probs_form_f64(&output.view(), &y))?.value,
            );
            clipped = p32.clipped;
            probs = output.clone();
            let s32 = l(loss::binary_log_loss_f32(&output.view(), &y))?;
            sklearn = (s32, l(loss::binary_log_loss_f64(&output.view(), &y))?.value);
            ref_logits = None;
            match &reference {
                Some(r) => {
                    let rp = l(loss::probs_form_f32(&r.view(), &y))?;
                    ref_probs = Some(rp.value);
                    ref_clipped = Some(rp.clipped);
                    ref_sklearn = Some(l(loss::binary_log_loss_f32(&r.view(), &y))?);
                }
                None => (ref_probs, ref_clipped, ref_sklearn) = (None, None, None),
            }
        }
        None => {
            head = HeadReport {
                kind: "logits",
                output: x.output_name.to_owned(),
                sigmoid_node: None,
                logits_tensor: x.output_name.to_owned(),
            };
            let z = output.view();
            logits_form = (
                l(loss::logits_form_f32(&z, &y))?.value,
                l(loss::logits_form_f64(&z, &y))?.value,
            );
            let p32 = l(loss::probs_form_from_logits_f32(&z, &y))?;
            probs_form = (
                p32.value,
                l(loss::probs_form_from_logits_f64(&z, &y))?.value,
            );
            clipped = p32.clipped;
            probs = sigmoid(&output);
            sklearn = (
                l(loss::binary_log_loss_from_logits_f32(&z, &y))?,
                l(loss::binary_log_loss_from_logits_f64(&z, &y))?.value,
            );
            match &reference {
                Some(r) => {
                    ref_logits = Some(l(loss::logits_form_f32(&r.view(), &y))?.value);
                    let rp = l(loss::probs_form_from_logits_f32(&r.view(), &y))?;
                    ref_probs = Some(rp.value);
                    ref_clipped = Some(rp.clipped);
                    ref_sklearn = Some(l(loss::binary_log_loss_from_logits_f32(&r.view(), &y))?);
                }
                None => {
                    (ref_logits, ref_probs, ref_clipped, ref_sklearn) = (None, None, None, None)
                }
            }
        }
    }
    let ref_p = reference.as_ref().map(|r| match x.head {
        Some(_) => r.clone(),
        None => sigmoid(r),
    });
    let clips = |p: f32| loss::probs_elem_f32(p, 0.0).1;
    let clipped_only_by_reference = ref_p.as_ref().map(|rp| {
        probs
            .iter()
            .zip(rp.iter())
            .filter(|(p, q)| clips(**q) && !clips(**p))
            .count()
    });
    let probability_range = probs
        .iter()
        .fold([f32::INFINITY, f32::NEG_INFINITY], |[lo, hi], &p| {
            [lo.min(p), hi.max(p)]
        });
    let accuracy = AccuracyReport {
        model: loss::binary_accuracy(&probs.view(), &y).map_err(|e| e.to_string())?,
        reference: ref_p
            .as_ref()
            .map(|p| loss::binary_accuracy(&p.view(), &y))
            .transpose()
            .map_err(|e| e.to_string())?,
        decisions_flipped: ref_p.as_ref().map(|p| flips(&probs.view(), &p.view())),
        elements: probs.len(),
    };
    let mut report = LossReport {
        labels: x.labels_file.to_owned(),
        head,
        elements: output.len(),
        clipped,
        reference_clipped: ref_clipped,
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
            probs_form.0,
            probs_form.1,
            ref_probs,
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
                sklearn.0.value,
                sklearn.1,
                ref_sklearn.map(|r| r.value),
                expect.sklearn_form,
                expect.tol,
                &expect.reference,
            ),
            clipped: sklearn.0.clipped,
            reference_clipped: ref_sklearn.map(|r| r.clipped),
        },
        loss_tolerance: expect.reference,
        clip_explanation: None,
    };
    if !report.reference_failures().is_empty() && ref_clipped != Some(clipped) {
        report.clip_explanation = Some(clip_explanation(
            clipped_only_by_reference.unwrap_or(0),
            clipped,
            probability_range,
        ));
    }
    Ok((report, accuracy))
}

/// Elements where `p > 0.5` differs between the two sides.
fn flips(a: &ArrayViewD<f32>, b: &ArrayViewD<f32>) -> usize {
    a.iter()
        .zip(b.iter())
        .filter(|(p, q)| (**p > 0.5) != (**q > 0.5))
        .count()
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
