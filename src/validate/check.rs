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
}

impl FormLoss {
    fn new(l32: f64, l64: f64, reference: Option<f64>, expected: Option<f64>, tol: f64) -> Self {
        let abs_diff = expected.map(|e| (l32 - e).abs());
        Self {
            value_f32: l32,
            value_f64: l64,
            reference,
            expected,
            abs_diff,
            // NaN differences fail.
            passed: abs_diff.map(|d| d <= tol),
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
    pub logits_form: FormLoss,
    pub probs_form: FormLoss,
    /// Absolute tolerance of the expected-loss gates.
    pub tolerance: f64,
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
    /// The Sigmoid's input, when the output has a sigmoid head.
    pub head: Option<(&'a SigmoidHead, &'a Tensor)>,
    pub reference: Option<&'a Tensor>,
    pub labels: &'a ArrayD<f32>,
    pub labels_file: &'a str,
}

/// Expected losses; each applies to one formulation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExpectLoss {
    pub logits_form: Option<f64>,
    pub probs_form: Option<f64>,
    pub tol: f64,
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
    match x.head {
        Some((h, logits)) => {
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
            head = HeadReport {
                kind: "sigmoid",
                output: x.output_name.to_owned(),
                sigmoid_node: Some(h.node.clone()),
                logits_tensor: h.logits.clone(),
            };
            logits_form = (
                l(loss::logits_form_f32(&z.view(), &y))?.value,
                l(loss::logits_form_f64(&z.view(), &y))?.value,
            );
            let p32 = l(loss::probs_form_f32(&output.view(), &y))?;
            probs_form = (
                p32.value,
                l(loss::probs_form_f64(&output.view(), &y))?.value,
            );
            clipped = p32.clipped;
            probs = output.clone();
            ref_logits = None;
            match &reference {
                Some(r) => {
                    let rp = l(loss::probs_form_f32(&r.view(), &y))?;
                    ref_probs = Some(rp.value);
                    ref_clipped = Some(rp.clipped);
                }
                None => (ref_probs, ref_clipped) = (None, None),
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
            match &reference {
                Some(r) => {
                    ref_logits = Some(l(loss::logits_form_f32(&r.view(), &y))?.value);
                    let rp = l(loss::probs_form_from_logits_f32(&r.view(), &y))?;
                    ref_probs = Some(rp.value);
                    ref_clipped = Some(rp.clipped);
                }
                None => (ref_logits, ref_probs, ref_clipped) = (None, None, None),
            }
        }
    }
    let ref_p = reference.as_ref().map(|r| match x.head {
        Some(_) => r.clone(),
        None => sigmoid(r),
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
    let report = LossReport {
        labels: x.labels_file.to_owned(),
        head,
        elements: output.len(),
        clipped,
        reference_clipped: ref_clipped,
        logits_form: FormLoss::new(
            logits_form.0,
            logits_form.1,
            ref_logits,
            expect.logits_form,
            expect.tol,
        ),
        probs_form: FormLoss::new(
            probs_form.0,
            probs_form.1,
            ref_probs,
            expect.probs_form,
            expect.tol,
        ),
        tolerance: expect.tol,
    };
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
            tol: 1e-6,
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
                head: Some((&head, &z)),
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
