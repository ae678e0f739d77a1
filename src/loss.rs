//! The two sigmoid binary cross-entropy formulations, one reference implementation each.
//!
//! Why this module exists: users mix up the two forms, and the numbers they compare come from
//! different places (a training log, a recomputation from predictions). Every loss this crate
//! reports, for any runtime, is computed here, from plain arrays, so the formulas live once.
//!
//! - **logits form** (TensorFlow `sigmoid_cross_entropy_with_logits`), per element
//!   `max(z, 0) - z*y + log1p(exp(-|z|))`; finite for every finite `z`.
//! - **probability form** (Keras `binary_crossentropy` on a sigmoid head): `p` clipped to
//!   `[1e-7, 1 - 1e-7]`, per element `-(y*ln p + (1-y)*ln(1-p))`; at most `-ln(1e-7) ≈ 16.118`.
//!
//! Reduction is Keras's: mean over the last axis, then mean over every other element (the batch).
//! Element losses are computed in the precision named by the function (`f32` mimics what a float32
//! framework computes, `f64` is the reference); sums are always accumulated in `f64` so that the
//! reduction adds no error of its own to the comparison.
//!
//! scikit-learn reduces the probability form another way ([`Reduction::Sklearn`]):
//! `sklearn.neural_network._base.binary_log_loss`, the data term of `MLPClassifier.loss_curve_`,
//! clips at the machine epsilon of the probabilities' dtype (`f32::EPSILON` ≈ 1.19e-7 for float32
//! outputs, not 1e-7), takes the mean over samples (the first axis) and *sums* over the labels,
//! so it is about `k` times Keras's figure for `k` labels ([`binary_log_loss_f32`]).
//!
//! This module must never depend on a runtime or a tensor library other than ndarray.

use ndarray::{ArrayViewD, Zip};

/// Keras's `backend.epsilon()`: the probability clip used by `binary_crossentropy`.
pub const KERAS_EPSILON: f32 = 1e-7;

/// Which sigmoid-BCE formula a model was trained with or a loss was computed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Formulation {
    /// The graph outputs logits; loss by `sigmoid_cross_entropy_with_logits`.
    Logits,
    /// The graph ends in a sigmoid; loss by clipped binary cross-entropy on probabilities.
    Probs,
}

impl Formulation {
    pub const BOTH: [Formulation; 2] = [Formulation::Logits, Formulation::Probs];

    pub fn name(self) -> &'static str {
        match self {
            Formulation::Logits => "logits",
            Formulation::Probs => "probs",
        }
    }
}

impl std::fmt::Display for Formulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a graph outputs: its logits, or a `Sigmoid` of them. The head a model trains through
/// decides its [`Formulation`]; validating any ONNX file, the head is read off the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// The last dense layer's output, unbounded.
    Logits,
    /// `Sigmoid` of the logits: probabilities in (0, 1).
    Sigmoid,
}

impl Head {
    /// The head a model trained with `form` was trained through.
    pub fn for_formulation(form: Formulation) -> Self {
        match form {
            Formulation::Logits => Head::Logits,
            Formulation::Probs => Head::Sigmoid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Head::Logits => "logits",
            Head::Sigmoid => "sigmoid",
        }
    }
}

/// scikit-learn's probability clip for float32 probabilities: `np.finfo(np.float32).eps`.
pub const SKLEARN_EPSILON_F32: f32 = f32::EPSILON;

/// How element losses become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// Keras: mean over the last axis (the labels), then over the rest (the samples).
    Keras,
    /// scikit-learn's `binary_log_loss`: mean over the first axis (the samples), summed over the
    /// rest (the labels).
    Sklearn,
}

impl Reduction {
    /// How it reduces, in words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Reduction::Keras => "mean over labels, then samples",
            Reduction::Sklearn => "sum over labels of the mean over samples",
        }
    }
}

/// Logits-form loss of one element, in f32 arithmetic.
pub fn logits_elem_f32(z: f32, y: f32) -> f32 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// Logits-form loss of one element, in f64 arithmetic.
pub fn logits_elem_f64(z: f64, y: f64) -> f64 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// Logistic sigmoid in f32, written so that neither branch overflows.
pub fn sigmoid_f32(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Logistic sigmoid in f64, written so that neither branch overflows.
pub fn sigmoid_f64(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Probability-form loss of one element in f32 arithmetic; also says whether `p` was clipped.
pub fn probs_elem_f32(p: f32, y: f32) -> (f32, bool) {
    let lo = KERAS_EPSILON;
    let hi = 1.0 - KERAS_EPSILON;
    let clipped = p < lo || p > hi;
    let p = p.clamp(lo, hi);
    (-(y * p.ln() + (1.0 - y) * (1.0 - p).ln()), clipped)
}

/// Probability-form loss of one element in f64 arithmetic, with the same f32 clip bounds.
pub fn probs_elem_f64(p: f64, y: f64) -> (f64, bool) {
    let lo = f64::from(KERAS_EPSILON);
    let hi = f64::from(1.0 - KERAS_EPSILON);
    let clipped = p < lo || p > hi;
    let p = p.clamp(lo, hi);
    (-(y * p.ln() + (1.0 - y) * (1.0 - p).ln()), clipped)
}

/// scikit-learn's element loss in f32 (`xlogy(y, p) + xlogy(1 - y, 1 - p)`, negated, after
/// `np.clip(p, eps, 1 - eps)` with the float32 epsilon); also says whether `p` was clipped.
pub fn sklearn_elem_f32(p: f32, y: f32) -> (f32, bool) {
    let lo = SKLEARN_EPSILON_F32;
    let hi = 1.0 - SKLEARN_EPSILON_F32;
    let clipped = p < lo || p > hi;
    let p = p.clamp(lo, hi);
    (-(xlogy_f32(y, p) + xlogy_f32(1.0 - y, 1.0 - p)), clipped)
}

/// The same in f64 arithmetic, with the float32 clip bounds (the probabilities are float32).
pub fn sklearn_elem_f64(p: f64, y: f64) -> (f64, bool) {
    let lo = f64::from(SKLEARN_EPSILON_F32);
    let hi = f64::from(1.0 - SKLEARN_EPSILON_F32);
    let clipped = p < lo || p > hi;
    let p = p.clamp(lo, hi);
    (-(xlogy_f64(y, p) + xlogy_f64(1.0 - y, 1.0 - p)), clipped)
}

/// [`probs_elem_f32`] and [`sklearn_elem_f32`] of the same element at once, the same bits as
/// calling both. Where neither clip moves `p` (all but the outermost probabilities) both take
/// the logarithms of the same two numbers, which are then computed once.
#[inline]
pub fn probs_and_sklearn_elem_f32(p: f32, y: f32) -> ((f32, bool), (f32, bool)) {
    // Not `!(lo..=hi).contains(&p)`: a NaN is not clipped.
    let (klo, khi) = (KERAS_EPSILON, 1.0 - KERAS_EPSILON);
    let (slo, shi) = (SKLEARN_EPSILON_F32, 1.0 - SKLEARN_EPSILON_F32);
    let keras = p.clamp(klo, khi);
    let sklearn = p.clamp(slo, shi);
    if keras.to_bits() != sklearn.to_bits() {
        return (probs_elem_f32(p, y), sklearn_elem_f32(p, y));
    }
    let (ln_p, ln_q) = (keras.ln(), (1.0 - keras).ln());
    let xlog = |x: f32, ln: f32| {
        if x == 0.0 && !keras.is_nan() {
            0.0
        } else {
            x * ln
        }
    };
    (
        (-(y * ln_p + (1.0 - y) * ln_q), p < klo || p > khi),
        (-(xlog(y, ln_p) + xlog(1.0 - y, ln_q)), p < slo || p > shi),
    )
}

/// [`probs_and_sklearn_elem_f32`] in f64 arithmetic: [`probs_elem_f64`] and
/// [`sklearn_elem_f64`], the same bits as calling both.
#[inline]
pub fn probs_and_sklearn_elem_f64(p: f64, y: f64) -> ((f64, bool), (f64, bool)) {
    let (klo, khi) = (f64::from(KERAS_EPSILON), f64::from(1.0 - KERAS_EPSILON));
    let (slo, shi) = (
        f64::from(SKLEARN_EPSILON_F32),
        f64::from(1.0 - SKLEARN_EPSILON_F32),
    );
    let keras = p.clamp(klo, khi);
    let sklearn = p.clamp(slo, shi);
    if keras.to_bits() != sklearn.to_bits() {
        return (probs_elem_f64(p, y), sklearn_elem_f64(p, y));
    }
    let (ln_p, ln_q) = (keras.ln(), (1.0 - keras).ln());
    let xlog = |x: f64, ln: f64| {
        if x == 0.0 && !keras.is_nan() {
            0.0
        } else {
            x * ln
        }
    };
    (
        (-(y * ln_p + (1.0 - y) * ln_q), p < klo || p > khi),
        (-(xlog(y, ln_p) + xlog(1.0 - y, ln_q)), p < slo || p > shi),
    )
}

/// SciPy's `xlogy`: `x * ln(y)`, and 0 where `x` is 0 (whatever `y`).
fn xlogy_f32(x: f32, y: f32) -> f32 {
    if x == 0.0 && !y.is_nan() {
        0.0
    } else {
        x * y.ln()
    }
}

fn xlogy_f64(x: f64, y: f64) -> f64 {
    if x == 0.0 && !y.is_nan() {
        0.0
    } else {
        x * y.ln()
    }
}

/// A loss value with the facts needed to trust it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Loss {
    /// Keras reduction of the element losses.
    pub value: f64,
    /// Elements whose probability hit the clip (always 0 for the logits form).
    pub clipped: usize,
    /// Elements that took part.
    pub elements: usize,
}

/// Both formulations, each in f32 and f64, computed from one set of logits.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossPair {
    pub logits_form_f32: f64,
    pub logits_form_f64: f64,
    pub probs_form_f32: f64,
    pub probs_form_f64: f64,
    /// Elements the probability form clipped (in f32, where clipping actually bites).
    pub clipped: usize,
    pub elements: usize,
}

/// Errors are only about shapes: values never fail (NaN propagates into the result).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LossError {
    #[error("loss inputs differ in shape: predictions {pred:?}, targets {target:?}")]
    ShapeMismatch {
        pred: Vec<usize>,
        target: Vec<usize>,
    },
    #[error("loss inputs must have at least one axis and one element (shape {0:?})")]
    Empty(Vec<usize>),
}

fn check_shapes<A, B>(pred: &ArrayViewD<A>, target: &ArrayViewD<B>) -> Result<(), LossError> {
    if pred.shape() != target.shape() {
        return Err(LossError::ShapeMismatch {
            pred: pred.shape().to_vec(),
            target: target.shape().to_vec(),
        });
    }
    if pred.is_empty() || pred.ndim() == 0 {
        return Err(LossError::Empty(pred.shape().to_vec()));
    }
    Ok(())
}

/// Keras's reduction as a running sum: element losses arrive in row-major order, rows of `k`
/// (the last axis); each row's sum is divided by `k` when the row is complete, and the row
/// means are summed, all in f64 and in arrival order. Fed in chunks of whole or partial rows it
/// gives the same bits as in one go: the additions happen in the same order.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KerasSum {
    k: usize,
    #[serde(with = "crate::metrics::exact")]
    row: f64,
    in_row: usize,
    #[serde(with = "crate::metrics::exact")]
    total: f64,
    rows: usize,
}

impl KerasSum {
    /// Rows of `k` elements (`k > 0`).
    pub fn new(k: usize) -> Self {
        Self {
            k,
            row: 0.0,
            in_row: 0,
            total: 0.0,
            rows: 0,
        }
    }

    #[inline]
    pub fn push(&mut self, loss: f64) {
        self.row += loss;
        self.in_row += 1;
        if self.in_row == self.k {
            self.total += self.row / self.k as f64;
            self.rows += 1;
            self.row = 0.0;
            self.in_row = 0;
        }
    }

    /// The sum of the row means and the number of rows (what a shard's merge needs).
    pub fn parts(&self) -> (f64, usize) {
        (self.total, self.rows)
    }

    /// The mean of the row means (NaN for no rows, as `0 / 0`).
    pub fn value(&self) -> f64 {
        self.total / self.rows as f64
    }

    /// Folds in the sum of the rows that follow (a shard's). The two totals add once, so the
    /// result can differ from one running sum in the last bits; `Err` when this sum stops
    /// inside a row or the row lengths differ.
    pub fn merge(&mut self, next: &KerasSum) -> Result<(), String> {
        if self.k != next.k || self.in_row != 0 {
            return Err(format!(
                "rows of {} and {} elements, {} left in a row",
                self.k, next.k, self.in_row
            ));
        }
        self.total += next.total;
        self.rows += next.rows;
        self.row = next.row;
        self.in_row = next.in_row;
        Ok(())
    }
}

/// scikit-learn's reduction as a running sum: element losses summed in f64 in arrival order,
/// divided by the number of samples at the end.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SklearnSum {
    #[serde(with = "crate::metrics::exact")]
    total: f64,
}

impl SklearnSum {
    #[inline]
    pub fn push(&mut self, loss: f64) {
        self.total += loss;
    }

    pub fn total(&self) -> f64 {
        self.total
    }

    /// The sum over labels of the mean over `samples` samples.
    pub fn value(&self, samples: usize) -> f64 {
        self.total / samples as f64
    }

    /// Folds in the sum of the elements that follow (a shard's), as [`KerasSum::merge`] does.
    pub fn merge(&mut self, next: &SklearnSum) {
        self.total += next.total;
    }
}

/// Mean over the last axis, then mean over the rest, accumulated in f64.
fn keras_reduce<T: Copy>(
    pred: &ArrayViewD<T>,
    target: &ArrayViewD<f32>,
    mut elem: impl FnMut(T, f32) -> (f64, bool),
) -> Loss {
    let k = pred.shape().last().copied().unwrap_or(1);
    let mut sum = KerasSum::new(k);
    let mut clipped = 0usize;
    // Logical row-major order whatever the memory layout: rows are lanes of the last axis.
    for (&p, &t) in pred.iter().zip(target.iter()) {
        let (l, c) = elem(p, t);
        sum.push(l);
        clipped += usize::from(c);
    }
    Loss {
        value: sum.value(),
        clipped,
        elements: pred.len(),
    }
}

/// Sum of the element losses over the mean of the first axis (scikit-learn's
/// `np.average(..., axis=0).sum()`), accumulated in f64.
fn sklearn_reduce<T: Copy>(
    pred: &ArrayViewD<T>,
    target: &ArrayViewD<f32>,
    mut elem: impl FnMut(T, f32) -> (f64, bool),
) -> Loss {
    let samples = pred.shape().first().copied().unwrap_or(1);
    let mut sum = SklearnSum::default();
    let mut clipped = 0usize;
    Zip::from(pred).and(target).for_each(|&p, &t| {
        let (l, c) = elem(p, t);
        sum.push(l);
        clipped += usize::from(c);
    });
    Loss {
        value: sum.value(samples),
        clipped,
        elements: pred.len(),
    }
}

/// scikit-learn's `binary_log_loss` of float32 probabilities: element losses in f32, clip at
/// the float32 epsilon, mean over samples, sum over labels.
pub fn binary_log_loss_f32(
    probs: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(probs, targets)?;
    Ok(sklearn_reduce(probs, targets, |p, y| {
        let (l, c) = sklearn_elem_f32(p, y);
        (f64::from(l), c)
    }))
}

/// scikit-learn's `binary_log_loss` of float32 probabilities, everything in f64.
pub fn binary_log_loss_f64(
    probs: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(probs, targets)?;
    Ok(sklearn_reduce(probs, targets, |p, y| {
        sklearn_elem_f64(f64::from(p), f64::from(y))
    }))
}

/// `binary_log_loss` from logits, the sigmoid taken in f32 as a float32 graph would.
pub fn binary_log_loss_from_logits_f32(
    logits: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(logits, targets)?;
    Ok(sklearn_reduce(logits, targets, |z, y| {
        let (l, c) = sklearn_elem_f32(sigmoid_f32(z), y);
        (f64::from(l), c)
    }))
}

/// `binary_log_loss` from logits, sigmoid and all in f64.
pub fn binary_log_loss_from_logits_f64(
    logits: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(logits, targets)?;
    Ok(sklearn_reduce(logits, targets, |z, y| {
        sklearn_elem_f64(sigmoid_f64(f64::from(z)), f64::from(y))
    }))
}

/// Logits-form loss with Keras reduction; element losses in f32.
pub fn logits_form_f32(
    logits: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(logits, targets)?;
    Ok(keras_reduce(logits, targets, |z, y| {
        (f64::from(logits_elem_f32(z, y)), false)
    }))
}

/// Logits-form loss with Keras reduction; everything in f64.
pub fn logits_form_f64(
    logits: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(logits, targets)?;
    Ok(keras_reduce(logits, targets, |z, y| {
        (logits_elem_f64(f64::from(z), f64::from(y)), false)
    }))
}

/// Probability-form loss with Keras reduction from probabilities; element losses in f32.
pub fn probs_form_f32(
    probs: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(probs, targets)?;
    Ok(keras_reduce(probs, targets, |p, y| {
        let (l, c) = probs_elem_f32(p, y);
        (f64::from(l), c)
    }))
}

/// Probability-form loss with Keras reduction from probabilities; everything in f64.
pub fn probs_form_f64(
    probs: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(probs, targets)?;
    Ok(keras_reduce(probs, targets, |p, y| {
        probs_elem_f64(f64::from(p), f64::from(y))
    }))
}

/// Probability-form loss computed from logits: the sigmoid is taken in the element's precision
/// (f32 here), as a float32 graph that ends in `Sigmoid` would.
pub fn probs_form_from_logits_f32(
    logits: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(logits, targets)?;
    Ok(keras_reduce(logits, targets, |z, y| {
        let (l, c) = probs_elem_f32(sigmoid_f32(z), y);
        (f64::from(l), c)
    }))
}

/// Probability-form loss computed from logits, sigmoid and all in f64.
pub fn probs_form_from_logits_f64(
    logits: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<Loss, LossError> {
    check_shapes(logits, targets)?;
    Ok(keras_reduce(logits, targets, |z, y| {
        probs_elem_f64(sigmoid_f64(f64::from(z)), f64::from(y))
    }))
}

/// Both formulations from true logits and, when the model has a sigmoid head, its own
/// probabilities. Giving `probs` makes the probability form use exactly what the model output
/// (what `keras.losses.binary_crossentropy(y, model.predict(x))` sees); without it the sigmoid is
/// applied here.
pub fn both_forms(
    logits: &ArrayViewD<f32>,
    probs: Option<&ArrayViewD<f32>>,
    targets: &ArrayViewD<f32>,
) -> Result<LossPair, LossError> {
    let l32 = logits_form_f32(logits, targets)?;
    let l64 = logits_form_f64(logits, targets)?;
    let (p32, p64) = match probs {
        Some(p) => (probs_form_f32(p, targets)?, probs_form_f64(p, targets)?),
        None => (
            probs_form_from_logits_f32(logits, targets)?,
            probs_form_from_logits_f64(logits, targets)?,
        ),
    };
    Ok(LossPair {
        logits_form_f32: l32.value,
        logits_form_f64: l64.value,
        probs_form_f32: p32.value,
        probs_form_f64: p64.value,
        clipped: p32.clipped,
        elements: l32.elements,
    })
}

/// Fraction of elements where the decision `p > 0.5` (strict) equals `target > 0.5`.
pub fn binary_accuracy(
    probs: &ArrayViewD<f32>,
    targets: &ArrayViewD<f32>,
) -> Result<f64, LossError> {
    check_shapes(probs, targets)?;
    let mut right = 0usize;
    Zip::from(probs).and(targets).for_each(|&p, &t| {
        right += usize::from((p > 0.5) == (t > 0.5));
    });
    Ok(right as f64 / probs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn, arr2};

    fn dyn2(a: ndarray::Array2<f32>) -> ArrayD<f32> {
        a.into_dyn()
    }

    #[test]
    fn logits_form_matches_hand_computed_values() {
        // z = 0: log(2) whatever y is.
        assert!((logits_elem_f64(0.0, 1.0) - std::f64::consts::LN_2).abs() < 1e-15);
        // z = 2, y = 1: log(1 + e^-2) = 0.12692801104297263 (numpy: np.log1p(np.exp(-2)))
        assert!((logits_elem_f64(2.0, 1.0) - 0.126_928_011_042_972_63).abs() < 1e-15);
        // z = 2, y = 0: 2 + log(1 + e^-2) = 2.1269280110429727
        assert!((logits_elem_f64(2.0, 0.0) - 2.126_928_011_042_972_7).abs() < 1e-15);
        // z = -3, y = 1: 3 + log1p(e^-3) = 3.048587351573742
        assert!((logits_elem_f64(-3.0, 1.0) - 3.048_587_351_573_742).abs() < 1e-15);
    }

    #[test]
    fn logits_form_is_stable_for_saturated_logits() {
        for z in [20.0f32, 50.0, 100.0] {
            // Right side: loss = log1p(exp(-z)) ~ exp(-z), tiny but positive.
            let right = logits_elem_f64(f64::from(z), 1.0);
            assert!(
                (right / (-f64::from(z)).exp() - 1.0).abs() < 1e-8,
                "z={z}: {right}"
            );
            // Wrong side: loss = z + log1p(exp(-z)) ~ z, exact in both precisions.
            assert!((logits_elem_f64(f64::from(z), 0.0) - f64::from(z)).abs() < 1e-8);
            assert_eq!(logits_elem_f32(z, 0.0), z);
            assert_eq!(logits_elem_f32(-z, 1.0), z);
            assert!(logits_elem_f32(z, 1.0).is_finite());
        }
    }

    #[test]
    fn probs_form_saturates_at_the_clip() {
        // -ln(1e-7 in f32) = 16.11809565095832 (numpy: -np.log(np.float32(1e-7)).astype(np.float64))
        let cap = -f64::from(KERAS_EPSILON).ln();
        for z in [20.0f64, 50.0, 100.0] {
            let (wrong, clipped) = probs_elem_f64(sigmoid_f64(z), 0.0);
            // 1 - p clipped at 1e-7 in f32 terms: hi = 1 - 1e-7 rounded to f32 = 0.99999988.
            let hi = f64::from(1.0 - KERAS_EPSILON);
            assert!(clipped);
            assert!((wrong + (1.0 - hi).ln()).abs() < 1e-12);
            assert!((wrong - cap).abs() < 0.2, "{wrong} vs {cap}");
            let (right, clipped) = probs_elem_f64(sigmoid_f64(z), 1.0);
            assert!(clipped);
            assert!((right + hi.ln()).abs() < 1e-15);
            // The logits form keeps growing where the probability form is capped.
            assert!(logits_elem_f64(z, 0.0) > wrong || z < 17.0);
        }
        let (l, c) = probs_elem_f32(0.0, 1.0);
        assert!(c);
        assert!((f64::from(l) - cap).abs() < 1e-5);
    }

    #[test]
    fn the_two_forms_agree_away_from_the_clip() {
        for &z in &[-8.0f64, -2.5, -0.1, 0.0, 0.3, 4.0, 9.0] {
            for &y in &[0.0, 1.0] {
                let (p, clipped) = probs_elem_f64(sigmoid_f64(z), y);
                assert!(!clipped);
                assert!((p - logits_elem_f64(z, y)).abs() < 1e-9, "z={z} y={y}");
            }
        }
    }

    #[test]
    fn keras_reduction_is_mean_of_row_means() {
        // Rows [0, 2] with y [1, 0] and [-1, 1] with y [0, 1]:
        // row0 = (ln2 + 2.1269280110429727)/2, row1 = (0.31326168751822286 + 0.31326168751822286)/2
        let z = dyn2(arr2(&[[0.0f32, 2.0], [-1.0, 1.0]]));
        let y = dyn2(arr2(&[[1.0f32, 0.0], [0.0, 1.0]]));
        let row0 = (std::f64::consts::LN_2 + 2.126_928_011_042_972_7) / 2.0;
        let row1 = 0.313_261_687_518_222_86;
        let want = (row0 + row1) / 2.0;
        let got = logits_form_f64(&z.view(), &y.view()).unwrap();
        assert!((got.value - want).abs() < 1e-15);
        assert_eq!(got.elements, 4);
        let got32 = logits_form_f32(&z.view(), &y.view()).unwrap();
        assert!((got32.value - want).abs() < 1e-6);
        let p = probs_form_from_logits_f64(&z.view(), &y.view()).unwrap();
        assert!((p.value - want).abs() < 1e-9);
    }

    #[test]
    fn both_forms_differ_visibly_for_large_logits() {
        let z = dyn2(arr2(&[[100.0f32, -100.0]]));
        let y = dyn2(arr2(&[[0.0f32, 1.0]]));
        let pair = both_forms(&z.view(), None, &y.view()).unwrap();
        assert!((pair.logits_form_f64 - 100.0).abs() < 1e-9);
        // Row mean of -ln(1 - f32(1 - 1e-7)) = 15.942385152878742 and -ln(f32(1e-7)) =
        // 16.118095639 (numpy, float64 of the float32 bounds).
        let want = (15.942_385_152_878_742 + 16.118_095_639_272_223) / 2.0;
        assert!(
            (pair.probs_form_f64 - want).abs() < 1e-6,
            "{}",
            pair.probs_form_f64
        );
        assert_eq!(pair.clipped, 2);
    }

    #[test]
    fn shape_mismatch_and_empty_are_errors() {
        let a = ArrayD::<f32>::zeros(IxDyn(&[2, 3]));
        let b = ArrayD::<f32>::zeros(IxDyn(&[3, 2]));
        assert!(matches!(
            logits_form_f32(&a.view(), &b.view()),
            Err(LossError::ShapeMismatch { .. })
        ));
        let e = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
        assert!(matches!(
            probs_form_f32(&e.view(), &e.view()),
            Err(LossError::Empty(_))
        ));
    }

    #[test]
    fn nan_propagates_into_the_loss() {
        let z = dyn2(arr2(&[[f32::NAN, 1.0]]));
        let y = dyn2(arr2(&[[1.0f32, 0.0]]));
        assert!(
            logits_form_f32(&z.view(), &y.view())
                .unwrap()
                .value
                .is_nan()
        );
    }

    #[test]
    fn sklearn_reduction_sums_labels_of_sample_means() {
        // p = [[0.9, 0.2], [0.6, 0.5]], y = [[1, 0], [0, 1]]. numpy:
        // -np.average(xlogy(y, p) + xlogy(1 - y, 1 - p), axis=0).sum()
        //   = (-ln 0.9 - ln 0.8 - ln 0.4 - ln 0.5) / 2 = 0.8393296...
        let p = dyn2(arr2(&[[0.9f32, 0.2], [0.6, 0.5]]));
        let y = dyn2(arr2(&[[1.0f32, 0.0], [0.0, 1.0]]));
        let want = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.5f64.ln()) / 2.0;
        let got = binary_log_loss_f64(&p.view(), &y.view()).unwrap();
        // f32 inputs: 0.9f32 etc. are not exactly 0.9.
        assert!((got.value - want).abs() < 1e-7, "{} vs {want}", got.value);
        assert_eq!(got.elements, 4);
        let got32 = binary_log_loss_f32(&p.view(), &y.view()).unwrap();
        assert!((got32.value - want).abs() < 1e-6);
        // Keras's figure on the same data is the mean over all four elements: k = 2 times less.
        let keras = probs_form_f64(&p.view(), &y.view()).unwrap().value;
        assert!((got.value - 2.0 * keras).abs() < 1e-12);
    }

    #[test]
    fn sklearn_clips_at_the_float32_epsilon() {
        // p = 0 against y = 1: -ln(np.finfo(np.float32).eps) = 15.942385152878742, where Keras's
        // 1e-7 clip gives 16.118095639272223.
        let (l, c) = sklearn_elem_f64(0.0, 1.0);
        assert!(c);
        assert!((l - 15.942_385_152_878_742).abs() < 1e-12, "{l}");
        let (l32, c32) = sklearn_elem_f32(0.0, 1.0);
        assert!(c32);
        assert!((f64::from(l32) - 15.942_385_152_878_742).abs() < 1e-5);
        // p = 1 against y = 1 is clipped to 1 - eps: loss eps-ish, finite, not 0.
        let (l, c) = sklearn_elem_f64(1.0, 1.0);
        assert!(c && l > 0.0 && l < 2e-7);
        // From logits: a saturated logit goes through the same clip.
        let z = dyn2(arr2(&[[100.0f32, -100.0]]));
        let y = dyn2(arr2(&[[0.0f32, 1.0]]));
        let got = binary_log_loss_from_logits_f64(&z.view(), &y.view()).unwrap();
        assert_eq!(got.clipped, 2);
        assert!((got.value - 2.0 * 15.942_385_152_878_742).abs() < 1e-9);
        let got32 = binary_log_loss_from_logits_f32(&z.view(), &y.view()).unwrap();
        assert!((got32.value - got.value).abs() < 1e-4);
    }

    #[test]
    fn shared_logarithms_give_the_bits_of_the_two_element_losses() {
        let mut ps: Vec<f32> = vec![
            0.0,
            -0.0,
            1.0,
            0.5,
            f32::NAN,
            f32::INFINITY,
            -1.0,
            2.0,
            KERAS_EPSILON,
            SKLEARN_EPSILON_F32,
            1.0 - KERAS_EPSILON,
            1.0 - SKLEARN_EPSILON_F32,
            f32::from_bits(1),
            f32::MIN_POSITIVE,
        ];
        for e in [
            KERAS_EPSILON,
            SKLEARN_EPSILON_F32,
            1.0 - SKLEARN_EPSILON_F32,
            0.5,
        ] {
            for d in -3i32..=3 {
                ps.push(f32::from_bits((e.to_bits() as i32 + d) as u32));
            }
        }
        let mut rng = crate::rng::Rng::new(11);
        ps.extend((0..20_000).map(|_| sigmoid_f32((rng.normal_f64() * 12.0) as f32)));
        let bits = |(l, c): (f32, bool)| (l.to_bits(), c);
        let bits64 = |(l, c): (f64, bool)| (l.to_bits(), c);
        for &p in &ps {
            for y in [0.0f32, 1.0, 0.25, f32::NAN] {
                let (k, s) = probs_and_sklearn_elem_f32(p, y);
                assert_eq!(
                    bits(k),
                    bits(probs_elem_f32(p, y)),
                    "keras f32 p={p:e} y={y}"
                );
                assert_eq!(
                    bits(s),
                    bits(sklearn_elem_f32(p, y)),
                    "sklearn f32 p={p:e} y={y}"
                );
                let (p64, y64) = (f64::from(p), f64::from(y));
                let (k, s) = probs_and_sklearn_elem_f64(p64, y64);
                assert_eq!(
                    bits64(k),
                    bits64(probs_elem_f64(p64, y64)),
                    "keras f64 p={p:e}"
                );
                assert_eq!(
                    bits64(s),
                    bits64(sklearn_elem_f64(p64, y64)),
                    "sklearn f64 p={p:e}"
                );
            }
        }
    }

    #[test]
    fn binary_accuracy_is_strict_at_one_half() {
        let p = dyn2(arr2(&[[0.5f32, 0.51, 0.2, 0.9]]));
        let y = dyn2(arr2(&[[1.0f32, 1.0, 0.0, 0.0]]));
        // 0.5 -> predicted 0 (wrong), 0.51 -> 1 (right), 0.2 -> 0 (right), 0.9 -> 1 (wrong)
        assert_eq!(binary_accuracy(&p.view(), &y.view()).unwrap(), 0.5);
    }
}
