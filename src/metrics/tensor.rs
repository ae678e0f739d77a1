//! Metrics of two tensors of any numeric element type: the one element loop of the crate.
//!
//! Floats (f16, f32, f64) are compared through f64 values with the ULP distance taken in their
//! own type; integers and booleans through exact differences, under the same tolerance rule.
//! Tensors ([`compare_tensors`]) and plain f32 arrays ([`compare_arrays`]) run the same loop, so
//! every verdict rests on the same arithmetic and reports the same [`Metrics`].

use ndarray::{ArrayViewD, Dimension};
use serde::{Deserialize, Serialize, Serializer};
use tract_onnx::prelude::{Datum, DatumType, Tensor, f16};

use super::Tolerance;
use super::distribution::{Accumulator as DistAccumulator, ErrorDistribution};

/// One element value as stored, in its own type (f16 widened exactly to f32).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    F32(f32),
    F64(f64),
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(String),
}

/// Floats far from 1 in scientific notation (`-3.4028235e38`, not 39 digits).
fn float_text(v: f64, plain: impl std::fmt::Display, sci: impl std::fmt::LowerExp) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() || (1e-4..1e7).contains(&a) {
        plain.to_string()
    } else {
        format!("{sci:e}")
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::F32(v) => f.write_str(&float_text(f64::from(*v), v, v)),
            Value::F64(v) => f.write_str(&float_text(*v, v, v)),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v:?}"),
        }
    }
}

/// Scientific notation in the value's own precision (integers as they are).
impl std::fmt::LowerExp for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::F32(v) => std::fmt::LowerExp::fmt(v, f),
            Value::F64(v) => std::fmt::LowerExp::fmt(v, f),
            other => std::fmt::Display::fmt(other, f),
        }
    }
}

/// JSON has no NaN or infinity: finite numbers are written as numbers, the rest as the strings
/// `"NaN"`, `"inf"` and `"-inf"`.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::F32(v) if v.is_finite() => s.serialize_f32(v),
            Value::F32(v) => s.serialize_str(nonfinite_name(f64::from(v))),
            Value::F64(v) => serialize_f64(&v, s),
            Value::Int(v) => s.serialize_i64(v),
            Value::UInt(v) => s.serialize_u64(v),
            Value::Bool(v) => s.serialize_bool(v),
            Value::Str(ref v) => s.serialize_str(v),
        }
    }
}

fn nonfinite_name(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// Serializes an f64 as a JSON number when finite, else as `"NaN"`, `"inf"` or `"-inf"`.
/// Usable as `#[serde(serialize_with = "...")]`.
pub fn serialize_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_str(nonfinite_name(*v))
    }
}

/// `Option<f64>` as JSON: null, a number, or `"NaN"`/`"inf"`/`"-inf"`.
pub(crate) fn serialize_opt_f64<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => serialize_f64(x, s),
        None => s.serialize_none(),
    }
}

/// A mismatching (or the worst) element: where it is and both values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElementDiff {
    pub index: Vec<usize>,
    pub actual: Value,
    pub expected: Value,
    #[serde(serialize_with = "serialize_f64")]
    pub abs_err: f64,
}

/// How two tensors of the same element type and shape differ.
///
/// `max_rel_err` uses the normalizer `max(|actual|, |expected|)` and counts 0 where both are 0.
/// `max_ulp` is the distance in units of last place of the element type (for integers, the
/// difference itself; `u64::MAX` when a NaN meets a number).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub elements: usize,
    #[serde(serialize_with = "serialize_f64")]
    pub max_abs_err: f64,
    #[serde(serialize_with = "serialize_f64")]
    pub max_rel_err: f64,
    pub max_ulp: u64,
    pub mismatches: usize,
    pub mismatch_fraction: f64,
    /// Elements where either side is NaN or infinite.
    pub nonfinite: usize,
    /// First mismatch in row-major order.
    pub first_mismatch: Option<ElementDiff>,
    /// The element with the largest absolute error; a mismatch whenever one exists.
    pub worst: Option<ElementDiff>,
}

impl Metrics {
    pub fn passed(&self) -> bool {
        self.mismatches == 0
    }
}

/// Why two tensors could not be compared element by element. Reported as a failed output,
/// not as an error: a model that computes the wrong type or shape ran and got it wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum Incomparable {
    #[error("element type {actual}, expected {expected}")]
    Dtype { actual: String, expected: String },
    #[error("shape {actual:?}, expected {expected:?}")]
    Shape {
        actual: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("element type {0} cannot be compared")]
    Unsupported(String),
}

/// An element type the comparison understands.
pub trait Element: Datum + Copy {
    fn value(self) -> Value;
    fn to_f64(self) -> f64;
    fn is_finite_value(self) -> bool;
    /// `|a - b|` computed exactly where the type allows, as f64.
    fn abs_diff(a: Self, b: Self) -> f64;
    fn ulps(a: Self, b: Self) -> u64;
    /// The value's bits, zero-extended (integers: their two's complement, sign-extended to 64).
    fn to_bits64(self) -> u64;
    /// The value [`to_bits64`](Element::to_bits64) came from.
    fn from_bits64(bits: u64) -> Self;
}

/// Map float bits onto integers whose order is the order of the floats, with -0 == +0.
fn ordered_f32(x: f32) -> i64 {
    let bits = i64::from(x.to_bits() as i32);
    if bits < 0 {
        -(bits & 0x7fff_ffff)
    } else {
        bits
    }
}

fn ordered_f64(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    if bits < 0 {
        -(bits & 0x7fff_ffff_ffff_ffff)
    } else {
        bits
    }
}

fn ordered_f16(x: f16) -> i64 {
    let bits = i64::from(x.to_bits() as i16);
    if bits < 0 { -(bits & 0x7fff) } else { bits }
}

impl Element for f32 {
    fn value(self) -> Value {
        Value::F32(self)
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn is_finite_value(self) -> bool {
        self.is_finite()
    }
    fn abs_diff(a: Self, b: Self) -> f64 {
        (f64::from(a) - f64::from(b)).abs()
    }
    fn ulps(a: Self, b: Self) -> u64 {
        if a.is_nan() || b.is_nan() {
            return u64::MAX;
        }
        ordered_f32(a).abs_diff(ordered_f32(b))
    }
    fn to_bits64(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn from_bits64(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

impl Element for f64 {
    fn value(self) -> Value {
        Value::F64(self)
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn is_finite_value(self) -> bool {
        self.is_finite()
    }
    fn abs_diff(a: Self, b: Self) -> f64 {
        (a - b).abs()
    }
    fn ulps(a: Self, b: Self) -> u64 {
        if a.is_nan() || b.is_nan() {
            return u64::MAX;
        }
        ordered_f64(a).abs_diff(ordered_f64(b))
    }
    fn to_bits64(self) -> u64 {
        self.to_bits()
    }
    fn from_bits64(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl Element for f16 {
    fn value(self) -> Value {
        Value::F32(self.to_f32())
    }
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn is_finite_value(self) -> bool {
        self.is_finite()
    }
    fn abs_diff(a: Self, b: Self) -> f64 {
        // Exact: both are exactly representable in f64 and so is their difference.
        (a.to_f64() - b.to_f64()).abs()
    }
    fn ulps(a: Self, b: Self) -> u64 {
        if a.is_nan() || b.is_nan() {
            return u64::MAX;
        }
        ordered_f16(a).abs_diff(ordered_f16(b))
    }
    fn to_bits64(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn from_bits64(bits: u64) -> Self {
        f16::from_bits(bits as u16)
    }
}

macro_rules! int_elements {
    ($($t:ty => $variant:ident as $wide:ty),*) => {$(
        impl Element for $t {
            fn value(self) -> Value {
                Value::$variant(self as $wide)
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn is_finite_value(self) -> bool {
                true
            }
            fn abs_diff(a: Self, b: Self) -> f64 {
                (i128::from(a) - i128::from(b)).unsigned_abs() as f64
            }
            fn ulps(a: Self, b: Self) -> u64 {
                u64::try_from((i128::from(a) - i128::from(b)).unsigned_abs()).unwrap_or(u64::MAX)
            }
            fn to_bits64(self) -> u64 {
                self as u64
            }
            fn from_bits64(bits: u64) -> Self {
                bits as Self
            }
        }
    )*};
}

int_elements!(
    i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => UInt as u64, u16 => UInt as u64, u32 => UInt as u64, u64 => UInt as u64
);

impl Element for bool {
    fn value(self) -> Value {
        Value::Bool(self)
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn is_finite_value(self) -> bool {
        true
    }
    fn abs_diff(a: Self, b: Self) -> f64 {
        f64::from(u8::from(a != b))
    }
    fn ulps(a: Self, b: Self) -> u64 {
        u64::from(a != b)
    }
    fn to_bits64(self) -> u64 {
        u64::from(self)
    }
    fn from_bits64(bits: u64) -> Self {
        bits != 0
    }
}

/// Where an element sits and both values, kept as a flat row-major position so that recording
/// it allocates nothing; [`ElementDiff`] gets the multi-index at [`Accumulator::finish`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spot<T> {
    flat: usize,
    actual: T,
    expected: T,
    abs_err: f64,
}

impl<T: Element> Spot<T> {
    fn diff(&self, shape: &[usize]) -> ElementDiff {
        ElementDiff {
            index: unravel(self.flat, shape),
            actual: self.actual.value(),
            expected: self.expected.value(),
            abs_err: self.abs_err,
        }
    }
}

/// The row-major multi-index of flat position `flat` in `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = flat % d;
            flat /= d;
        }
    }
    index
}

/// How the element loop judges one pair: the figures every consumer of the loop (the metrics
/// accumulator, the error distribution) reads, computed in one place.
#[derive(Debug, Clone, Copy)]
struct Judged {
    finite: bool,
    abs_err: f64,
    rel: f64,
    ulps: u64,
    ok: bool,
}

#[inline]
fn judge<T: Element>(a: T, e: T, tol: &Tolerance) -> Judged {
    let finite = a.is_finite_value() && e.is_finite_value();
    let (a64, e64) = (a.to_f64(), e.to_f64());
    let abs_err = if finite {
        T::abs_diff(a, e)
    } else if a64 == e64 || (a64.is_nan() && e64.is_nan()) {
        0.0
    } else {
        f64::INFINITY
    };
    let norm = a64.abs().max(e64.abs());
    let rel = if abs_err == 0.0 { 0.0 } else { abs_err / norm };
    let ok = if finite {
        tol.accepts_error(abs_err, e64.abs())
    } else {
        tol.accepts(a64, e64)
    };
    Judged {
        finite,
        abs_err,
        rel,
        ulps: T::ulps(a, e),
        ok,
    }
}

/// The comparison of two tensors, fed in row-major chunks: the one element loop of the crate.
///
/// Push the elements in row-major order, in as many chunks as convenient (a whole tensor, or a
/// block of samples at a time when the data does not fit in memory), then [`finish`] with the
/// full shape. The state is a handful of numbers and two recorded elements: nothing is
/// allocated per element or per chunk, and the result does not depend on where the chunks are
/// cut. [`merge`] folds in the state of the elements that follow, so shards of one tensor can be
/// compared apart and combined into the same [`Metrics`].
///
/// [`finish`]: Accumulator::finish
/// [`merge`]: Accumulator::merge
#[derive(Debug, Clone)]
pub struct Accumulator<T> {
    tol: Tolerance,
    elements: usize,
    max_abs_err: f64,
    max_rel_err: f64,
    max_ulp: u64,
    mismatches: usize,
    nonfinite: usize,
    first_mismatch: Option<Spot<T>>,
    worst: Option<Spot<T>>,
    worst_is_mismatch: bool,
}

impl<T: Element> Accumulator<T> {
    pub fn new(tol: Tolerance) -> Self {
        Self {
            tol,
            elements: 0,
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            max_ulp: 0,
            mismatches: 0,
            nonfinite: 0,
            first_mismatch: None,
            worst: None,
            worst_is_mismatch: false,
        }
    }

    /// Elements pushed so far.
    pub fn elements(&self) -> usize {
        self.elements
    }

    /// The next elements, in row-major order. Both slices have the same length (a caller bug
    /// otherwise: panics).
    pub fn push(&mut self, actual: &[T], expected: &[T]) {
        assert_eq!(actual.len(), expected.len(), "chunks of unequal length");
        for (&a, &e) in actual.iter().zip(expected) {
            self.push_one(a, e);
        }
    }

    /// Elements from any iterator of pairs (views that are not contiguous).
    pub fn push_iter(&mut self, pairs: impl Iterator<Item = (T, T)>) {
        for (a, e) in pairs {
            self.push_one(a, e);
        }
    }

    #[inline]
    fn push_one(&mut self, a: T, e: T) {
        let flat = self.elements;
        self.elements += 1;
        let j = judge(a, e, &self.tol);
        if !j.finite {
            self.nonfinite += 1;
        }
        self.max_abs_err = self.max_abs_err.max(j.abs_err);
        self.max_rel_err = self
            .max_rel_err
            .max(if j.rel.is_nan() { f64::INFINITY } else { j.rel });
        self.max_ulp = self.max_ulp.max(j.ulps);
        let spot = Spot {
            flat,
            actual: a,
            expected: e,
            abs_err: j.abs_err,
        };
        if !j.ok {
            self.mismatches += 1;
            if self.first_mismatch.is_none() {
                self.first_mismatch = Some(spot);
            }
        }
        if self.replaces_worst(!j.ok, j.abs_err) {
            self.worst_is_mismatch = !j.ok;
            self.worst = Some(spot);
        }
    }

    /// The worst element is the largest error among mismatches if there are any, else among
    /// all elements; on a tie the earlier element stays.
    fn replaces_worst(&self, mismatch: bool, abs_err: f64) -> bool {
        let Some(w) = &self.worst else {
            return true;
        };
        if mismatch {
            !self.worst_is_mismatch || abs_err > w.abs_err
        } else {
            !self.worst_is_mismatch && abs_err > w.abs_err
        }
    }

    /// Folds in the state of the elements that come right after this one's (the next shard),
    /// as if they had been pushed here.
    pub fn merge(&mut self, next: Accumulator<T>) {
        let offset = self.elements;
        let shift = |s: Spot<T>| Spot {
            flat: s.flat + offset,
            ..s
        };
        self.elements += next.elements;
        self.max_abs_err = self.max_abs_err.max(next.max_abs_err);
        self.max_rel_err = self.max_rel_err.max(next.max_rel_err);
        self.max_ulp = self.max_ulp.max(next.max_ulp);
        self.mismatches += next.mismatches;
        self.nonfinite += next.nonfinite;
        if self.first_mismatch.is_none() {
            self.first_mismatch = next.first_mismatch.map(shift);
        }
        if let Some(w) = next.worst
            && self.replaces_worst(next.worst_is_mismatch, w.abs_err)
        {
            self.worst_is_mismatch = next.worst_is_mismatch;
            self.worst = Some(shift(w));
        }
    }

    /// The metrics of everything pushed, with indices in `shape` (the full tensor's).
    pub fn finish(&self, shape: &[usize]) -> Metrics {
        self.finish_from(0, shape)
    }

    /// [`finish`](Self::finish) for elements that start at row-major position `first` of the
    /// full tensor (a shard's): indices are the full tensor's.
    pub fn finish_from(&self, first: usize, shape: &[usize]) -> Metrics {
        let diff = |s: Spot<T>| {
            Spot {
                flat: s.flat + first,
                ..s
            }
            .diff(shape)
        };
        Metrics {
            elements: self.elements,
            max_abs_err: self.max_abs_err,
            max_rel_err: self.max_rel_err,
            max_ulp: self.max_ulp,
            mismatches: self.mismatches,
            mismatch_fraction: if self.elements == 0 {
                0.0
            } else {
                self.mismatches as f64 / self.elements as f64
            },
            nonfinite: self.nonfinite,
            first_mismatch: self.first_mismatch.map(diff),
            worst: self.worst.map(diff),
        }
    }

    fn state(&self, dtype: DatumType) -> AccumulatorState {
        let spot = |s: Spot<T>| SpotState {
            flat: s.flat,
            actual: s.actual.to_bits64(),
            expected: s.expected.to_bits64(),
            abs_err: s.abs_err,
        };
        AccumulatorState {
            dtype: datum_name(dtype),
            tolerance: self.tol,
            elements: self.elements,
            max_abs_err: self.max_abs_err,
            max_rel_err: self.max_rel_err,
            max_ulp: self.max_ulp,
            mismatches: self.mismatches,
            nonfinite: self.nonfinite,
            first_mismatch: self.first_mismatch.map(spot),
            worst: self.worst.map(spot),
            worst_is_mismatch: self.worst_is_mismatch,
        }
    }

    fn from_state(s: &AccumulatorState) -> Self {
        let spot = |s: &SpotState| Spot {
            flat: s.flat,
            actual: T::from_bits64(s.actual),
            expected: T::from_bits64(s.expected),
            abs_err: s.abs_err,
        };
        Self {
            tol: s.tolerance,
            elements: s.elements,
            max_abs_err: s.max_abs_err,
            max_rel_err: s.max_rel_err,
            max_ulp: s.max_ulp,
            mismatches: s.mismatches,
            nonfinite: s.nonfinite,
            first_mismatch: s.first_mismatch.as_ref().map(spot),
            worst: s.worst.as_ref().map(spot),
            worst_is_mismatch: s.worst_is_mismatch,
        }
    }
}

/// An [`Accumulator`]'s whole state as data, floats and element values as bit patterns
/// ([`super::exact`]): what a shard hands to `merge`, read back into the same accumulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccumulatorState {
    /// The element type, as [`datum_name`] names it.
    pub dtype: String,
    pub tolerance: Tolerance,
    pub elements: usize,
    #[serde(with = "super::exact")]
    pub max_abs_err: f64,
    #[serde(with = "super::exact")]
    pub max_rel_err: f64,
    pub max_ulp: u64,
    pub mismatches: usize,
    pub nonfinite: usize,
    pub first_mismatch: Option<SpotState>,
    pub worst: Option<SpotState>,
    pub worst_is_mismatch: bool,
}

/// A recorded element: its row-major position among the elements pushed, and both values' bits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpotState {
    pub flat: usize,
    pub actual: u64,
    pub expected: u64,
    #[serde(with = "super::exact")]
    pub abs_err: f64,
}

/// The element loop on two views. Shapes must agree (callers check and report otherwise).
pub fn compare_views<T: Element>(
    actual: &ArrayViewD<T>,
    expected: &ArrayViewD<T>,
    tol: &Tolerance,
) -> Metrics {
    debug_assert_eq!(actual.shape(), expected.shape());
    let mut acc = Accumulator::new(*tol);
    match (actual.as_slice(), expected.as_slice()) {
        (Some(a), Some(e)) => acc.push(a, e),
        _ => acc.push_iter(actual.iter().copied().zip(expected.iter().copied())),
    }
    acc.finish(actual.shape())
}

/// The metrics of [`compare_views`], and every element judged the same way fed to `dist` when
/// given (a second pass: the distribution needs each element, the metrics only a few numbers).
fn compare_views_into<T: Element>(
    actual: &ArrayViewD<T>,
    expected: &ArrayViewD<T>,
    tol: &Tolerance,
    dist: Option<&mut DistAccumulator>,
) -> Metrics {
    let m = compare_views(actual, expected, tol);
    if let Some(d) = dist {
        for ((index, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
            let j = judge(a, e, tol);
            d.add(j.finite, e.to_f64().abs(), j.abs_err, j.ulps, j.ok, || {
                ElementDiff {
                    index: index.slice().to_vec(),
                    actual: a.value(),
                    expected: e.value(),
                    abs_err: j.abs_err,
                }
            });
        }
    }
    m
}

/// Strings are equal or not: no tolerance applies. A differing element counts as an absolute
/// error of 1 (as a flipped boolean does), and both values are shown.
fn compare_strings(actual: &ArrayViewD<String>, expected: &ArrayViewD<String>) -> Metrics {
    let mut m = Metrics {
        elements: actual.len(),
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        max_ulp: 0,
        mismatches: 0,
        mismatch_fraction: 0.0,
        nonfinite: 0,
        first_mismatch: None,
        worst: None,
    };
    for ((index, a), e) in actual.indexed_iter().zip(expected.iter()) {
        if a == e {
            continue;
        }
        m.mismatches += 1;
        m.max_abs_err = 1.0;
        m.max_rel_err = 1.0;
        m.max_ulp = 1;
        if m.first_mismatch.is_none() {
            let diff = ElementDiff {
                index: index.slice().to_vec(),
                actual: Value::Str(a.clone()),
                expected: Value::Str(e.clone()),
                abs_err: 1.0,
            };
            m.worst = Some(diff.clone());
            m.first_mismatch = Some(diff);
        }
    }
    if m.elements > 0 {
        m.mismatch_fraction = m.mismatches as f64 / m.elements as f64;
    }
    m
}

/// Compares two f32 arrays of equal shape (callers check and report a shape difference with
/// their own context; unequal shapes here are a caller bug and panic).
pub fn compare_arrays(
    actual: &ArrayViewD<f32>,
    expected: &ArrayViewD<f32>,
    tol: &Tolerance,
) -> Metrics {
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "compare_arrays() needs equal shapes"
    );
    compare_views(actual, expected, tol)
}

/// Distance in ULPs between two f32 values (0 == -0); `u64::MAX` when either is NaN.
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    <f32 as Element>::ulps(a, b)
}

/// The ONNX-style name of a tract element type (`FLOAT`, `INT64`), for messages and reports.
pub fn datum_name(dt: DatumType) -> String {
    match dt {
        DatumType::F16 => "FLOAT16".into(),
        DatumType::F32 => "FLOAT".into(),
        DatumType::F64 => "DOUBLE".into(),
        DatumType::I8 => "INT8".into(),
        DatumType::I16 => "INT16".into(),
        DatumType::I32 => "INT32".into(),
        DatumType::I64 => "INT64".into(),
        DatumType::U8 => "UINT8".into(),
        DatumType::U16 => "UINT16".into(),
        DatumType::U32 => "UINT32".into(),
        DatumType::U64 => "UINT64".into(),
        DatumType::Bool => "BOOL".into(),
        DatumType::String => "STRING".into(),
        other => format!("{other:?}"),
    }
}

/// An [`Accumulator`] for tensors whose element type is known only at run time.
#[derive(Debug, Clone)]
pub enum TensorAccumulator {
    F16(Accumulator<f16>),
    F32(Accumulator<f32>),
    F64(Accumulator<f64>),
    I8(Accumulator<i8>),
    I16(Accumulator<i16>),
    I32(Accumulator<i32>),
    I64(Accumulator<i64>),
    U8(Accumulator<u8>),
    U16(Accumulator<u16>),
    U32(Accumulator<u32>),
    U64(Accumulator<u64>),
    Bool(Accumulator<bool>),
}

/// Runs `$body` with `$acc` bound to the typed accumulator and `$t` to its element type.
macro_rules! each_type {
    ($self:expr, $acc:ident, $t:ident => $body:expr) => {
        match $self {
            TensorAccumulator::F16($acc) => {
                type $t = f16;
                $body
            }
            TensorAccumulator::F32($acc) => {
                type $t = f32;
                $body
            }
            TensorAccumulator::F64($acc) => {
                type $t = f64;
                $body
            }
            TensorAccumulator::I8($acc) => {
                type $t = i8;
                $body
            }
            TensorAccumulator::I16($acc) => {
                type $t = i16;
                $body
            }
            TensorAccumulator::I32($acc) => {
                type $t = i32;
                $body
            }
            TensorAccumulator::I64($acc) => {
                type $t = i64;
                $body
            }
            TensorAccumulator::U8($acc) => {
                type $t = u8;
                $body
            }
            TensorAccumulator::U16($acc) => {
                type $t = u16;
                $body
            }
            TensorAccumulator::U32($acc) => {
                type $t = u32;
                $body
            }
            TensorAccumulator::U64($acc) => {
                type $t = u64;
                $body
            }
            TensorAccumulator::Bool($acc) => {
                type $t = bool;
                $body
            }
        }
    };
    ($self:expr, $acc:ident => $body:expr) => {
        match $self {
            TensorAccumulator::F16($acc) => $body,
            TensorAccumulator::F32($acc) => $body,
            TensorAccumulator::F64($acc) => $body,
            TensorAccumulator::I8($acc) => $body,
            TensorAccumulator::I16($acc) => $body,
            TensorAccumulator::I32($acc) => $body,
            TensorAccumulator::I64($acc) => $body,
            TensorAccumulator::U8($acc) => $body,
            TensorAccumulator::U16($acc) => $body,
            TensorAccumulator::U32($acc) => $body,
            TensorAccumulator::U64($acc) => $body,
            TensorAccumulator::Bool($acc) => $body,
        }
    };
}

impl TensorAccumulator {
    /// An empty accumulator for elements of type `dt`.
    pub fn new(dt: DatumType, tol: Tolerance) -> Result<Self, Incomparable> {
        Ok(match dt {
            DatumType::F16 => Self::F16(Accumulator::new(tol)),
            DatumType::F32 => Self::F32(Accumulator::new(tol)),
            DatumType::F64 => Self::F64(Accumulator::new(tol)),
            DatumType::I8 => Self::I8(Accumulator::new(tol)),
            DatumType::I16 => Self::I16(Accumulator::new(tol)),
            DatumType::I32 => Self::I32(Accumulator::new(tol)),
            DatumType::I64 => Self::I64(Accumulator::new(tol)),
            DatumType::U8 => Self::U8(Accumulator::new(tol)),
            DatumType::U16 => Self::U16(Accumulator::new(tol)),
            DatumType::U32 => Self::U32(Accumulator::new(tol)),
            DatumType::U64 => Self::U64(Accumulator::new(tol)),
            DatumType::Bool => Self::Bool(Accumulator::new(tol)),
            other => return Err(Incomparable::Unsupported(datum_name(other))),
        })
    }

    /// Pushes the elements of two tensors of this accumulator's element type and of equal
    /// length, in row-major order (shapes are the caller's to check).
    pub fn push(&mut self, actual: &Tensor, expected: &Tensor) -> Result<(), Incomparable> {
        each_type!(self, acc, T => {
            let unsupported = |t: &Tensor| Incomparable::Unsupported(datum_name(t.datum_type()));
            let a = actual.to_plain_array_view::<T>().map_err(|_| unsupported(actual))?;
            let e = expected.to_plain_array_view::<T>().map_err(|_| unsupported(expected))?;
            if a.len() != e.len() {
                return Err(Incomparable::Shape {
                    actual: actual.shape().to_vec(),
                    expected: expected.shape().to_vec(),
                });
            }
            match (a.as_slice(), e.as_slice()) {
                (Some(a), Some(e)) => acc.push(a, e),
                _ => acc.push_iter(a.iter().copied().zip(e.iter().copied())),
            }
            Ok(())
        })
    }

    /// Elements pushed so far.
    pub fn elements(&self) -> usize {
        each_type!(self, acc => acc.elements())
    }

    /// [`Accumulator::merge`]; `next` must hold the same element type (a caller bug otherwise:
    /// panics).
    pub fn merge(&mut self, next: TensorAccumulator) {
        macro_rules! pair {
            ($($v:ident),*) => {
                match (self, next) {
                    $((Self::$v(a), Self::$v(b)) => a.merge(b),)*
                    _ => panic!("merging accumulators of different element types"),
                }
            };
        }
        pair!(F16, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, Bool)
    }

    /// [`Accumulator::finish`].
    pub fn finish(&self, shape: &[usize]) -> Metrics {
        each_type!(self, acc => acc.finish(shape))
    }

    /// [`Accumulator::finish_from`].
    pub fn finish_from(&self, first: usize, shape: &[usize]) -> Metrics {
        each_type!(self, acc => acc.finish_from(first, shape))
    }

    /// The state as data, for [`TensorAccumulator::from_state`].
    pub fn state(&self) -> AccumulatorState {
        each_type!(self, acc, T => acc.state(T::datum_type()))
    }

    /// The accumulator [`TensorAccumulator::state`] described; `Err` names an element type no
    /// accumulator holds (a state not written by this program).
    pub fn from_state(s: &AccumulatorState) -> Result<Self, String> {
        let dt = ACCUMULATED
            .iter()
            .copied()
            .find(|dt| datum_name(*dt) == s.dtype)
            .ok_or_else(|| format!("no accumulator holds element type {:?}", s.dtype))?;
        let mut acc = Self::new(dt, s.tolerance).map_err(|e| e.to_string())?;
        each_type!(&mut acc, a, T => *a = Accumulator::<T>::from_state(s));
        Ok(acc)
    }
}

/// The element types a [`TensorAccumulator`] holds.
const ACCUMULATED: [DatumType; 12] = [
    DatumType::F16,
    DatumType::F32,
    DatumType::F64,
    DatumType::I8,
    DatumType::I16,
    DatumType::I32,
    DatumType::I64,
    DatumType::U8,
    DatumType::U16,
    DatumType::U32,
    DatumType::U64,
    DatumType::Bool,
];

fn typed<T: Element>(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
    dist: Option<&mut DistAccumulator>,
) -> Result<Metrics, Incomparable> {
    let unsupported = |_| Incomparable::Unsupported(datum_name(actual.datum_type()));
    let a = actual.to_plain_array_view::<T>().map_err(unsupported)?;
    let e = expected.to_plain_array_view::<T>().map_err(unsupported)?;
    Ok(compare_views_into(&a, &e, tol, dist))
}

/// Compares two tensors of equal element type and shape. A type or shape difference comes back
/// as a [`Incomparable`] for the caller to report as a failed output.
pub fn compare_tensors(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
) -> Result<Metrics, Incomparable> {
    compare_tensors_into(actual, expected, tol, None)
}

/// [`compare_tensors`], plus where the errors lie (histograms and the worst elements), from
/// the same loop. Costs a log per element and the worst-list upkeep: for reports that draw it.
pub fn compare_tensors_detailed(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
) -> Result<(Metrics, ErrorDistribution), Incomparable> {
    let mut acc = DistAccumulator::new();
    let m = compare_tensors_into(actual, expected, tol, Some(&mut acc))?;
    Ok((m, acc.finish()))
}

fn compare_tensors_into(
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
    dist: Option<&mut DistAccumulator>,
) -> Result<Metrics, Incomparable> {
    let dt = actual.datum_type();
    if dt != expected.datum_type() {
        return Err(Incomparable::Dtype {
            actual: datum_name(dt),
            expected: datum_name(expected.datum_type()),
        });
    }
    if actual.shape() != expected.shape() {
        return Err(Incomparable::Shape {
            actual: actual.shape().to_vec(),
            expected: expected.shape().to_vec(),
        });
    }
    match dt {
        DatumType::F16 => typed::<f16>(actual, expected, tol, dist),
        DatumType::F32 => typed::<f32>(actual, expected, tol, dist),
        DatumType::F64 => typed::<f64>(actual, expected, tol, dist),
        DatumType::I8 => typed::<i8>(actual, expected, tol, dist),
        DatumType::I16 => typed::<i16>(actual, expected, tol, dist),
        DatumType::I32 => typed::<i32>(actual, expected, tol, dist),
        DatumType::I64 => typed::<i64>(actual, expected, tol, dist),
        DatumType::U8 => typed::<u8>(actual, expected, tol, dist),
        DatumType::U16 => typed::<u16>(actual, expected, tol, dist),
        DatumType::U32 => typed::<u32>(actual, expected, tol, dist),
        DatumType::U64 => typed::<u64>(actual, expected, tol, dist),
        DatumType::Bool => typed::<bool>(actual, expected, tol, dist),
        DatumType::String => {
            let unsupported = |_| Incomparable::Unsupported(datum_name(dt));
            let a = actual
                .to_plain_array_view::<String>()
                .map_err(unsupported)?;
            let e = expected
                .to_plain_array_view::<String>()
                .map_err(unsupported)?;
            Ok(compare_strings(&a, &e))
        }
        other => Err(Incomparable::Unsupported(datum_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accumulator_state_read_back_and_merged_finishes_as_one_pass() {
        let tol = Tolerance::new(1e-3, 0.0);
        let actual: Vec<f32> = (0..90).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut expected = actual.clone();
        expected[17] += 0.25;
        expected[40] = f32::NAN;
        expected[63] -= 0.25;
        let mut one = Accumulator::new(tol);
        one.push(&actual, &expected);
        let mut merged: Option<TensorAccumulator> = None;
        for (a, e) in actual.chunks(30).zip(expected.chunks(30)) {
            let mut part = TensorAccumulator::new(DatumType::F32, tol).unwrap();
            let a = Tensor::from_shape(&[a.len()], a).unwrap();
            let e = Tensor::from_shape(&[e.len()], e).unwrap();
            part.push(&a, &e).unwrap();
            let json = serde_json::to_string(&part.state()).unwrap();
            let back =
                TensorAccumulator::from_state(&serde_json::from_str(&json).unwrap()).unwrap();
            match &mut merged {
                Some(m) => m.merge(back),
                None => merged = Some(back),
            }
        }
        let shape = [9, 10];
        // Debug text: the expected NaN is not equal to itself.
        assert_eq!(
            format!("{:?}", merged.unwrap().finish(&shape)),
            format!("{:?}", one.finish(&shape))
        );
        let bad = AccumulatorState {
            dtype: "COMPLEX64".into(),
            ..TensorAccumulator::F32(one).state()
        };
        assert!(TensorAccumulator::from_state(&bad).is_err());
    }
    use crate::metrics::Preset;
    use ndarray::{ArrayD, IxDyn, arr2};

    fn t<T: Datum + Copy>(shape: &[usize], v: &[T]) -> Tensor {
        Tensor::from(ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap())
    }

    #[test]
    fn ulps_are_counted_in_the_native_type() {
        let one = f16::from_f32(1.0);
        let next = f16::from_bits(one.to_bits() + 1);
        let m = compare_tensors(
            &t(&[2], &[one, next]),
            &t(&[2], &[one, one]),
            &Preset::Exact.tolerance(),
        )
        .unwrap();
        assert_eq!(m.max_ulp, 1);
        // 2^-10 is one f16 ULP at 1.0.
        assert_eq!(m.max_abs_err, 2f64.powi(-10));

        let next64 = f64::from_bits(1.0f64.to_bits() + 5);
        let m = compare_tensors(
            &t(&[1], &[next64]),
            &t(&[1], &[1.0f64]),
            &Preset::Exact.tolerance(),
        )
        .unwrap();
        assert_eq!(m.max_ulp, 5);
        assert_eq!(m.mismatches, 1);
        // Across zero: the smallest subnormals on both sides are 2 steps apart.
        assert_eq!(f64::ulps(f64::from_bits(1), -f64::from_bits(1)), 2);
        assert_eq!(f16::ulps(f16::from_f32(0.0), f16::from_f32(-0.0)), 0);
    }

    #[test]
    fn integers_are_exact_even_beyond_f64_precision() {
        let a = t(&[2], &[u64::MAX, 3]);
        let e = t(&[2], &[u64::MAX - 1, 3]);
        let m = compare_tensors(&a, &e, &Preset::Exact.tolerance()).unwrap();
        assert_eq!((m.mismatches, m.max_ulp), (1, 1));
        let w = m.worst.unwrap();
        assert_eq!(w.index, vec![0]);
        assert_eq!(
            (w.actual, w.expected),
            (Value::UInt(u64::MAX), Value::UInt(u64::MAX - 1))
        );
        // The same rule with an atol of 1 accepts it.
        let m = compare_tensors(&a, &e, &Tolerance::new(1.0, 0.0)).unwrap();
        assert!(m.passed());

        let m = compare_tensors(
            &t(&[3], &[i64::MIN, 0, 7]),
            &t(&[3], &[i64::MAX, 0, 7]),
            &Preset::Loose.tolerance(),
        )
        .unwrap();
        assert_eq!(m.max_ulp, u64::MAX);
        assert_eq!(m.mismatches, 1);
    }

    #[test]
    fn booleans_compare_exactly() {
        let m = compare_tensors(
            &t(&[2, 2], &[true, false, true, true]),
            &t(&[2, 2], &[true, false, false, true]),
            &Preset::Loose.tolerance(),
        )
        .unwrap();
        assert_eq!(m.mismatches, 1);
        assert_eq!(m.first_mismatch.unwrap().index, vec![1, 0]);
    }

    #[test]
    fn dtype_and_shape_differences_are_reported_not_compared() {
        let tol = Preset::Default.tolerance();
        assert_eq!(
            compare_tensors(&t(&[1], &[1.0f32]), &t(&[1], &[1.0f64]), &tol),
            Err(Incomparable::Dtype {
                actual: "FLOAT".into(),
                expected: "DOUBLE".into()
            })
        );
        assert!(matches!(
            compare_tensors(&t(&[2], &[1i32, 2]), &t(&[1, 2], &[1i32, 2]), &tol),
            Err(Incomparable::Shape { .. })
        ));
        let s = tract_onnx::prelude::tensor0(tract_onnx::prelude::TDim::from(3));
        assert!(matches!(
            compare_tensors(&s, &s, &tol),
            Err(Incomparable::Unsupported(_))
        ));
    }

    #[test]
    fn values_print_in_their_own_precision() {
        assert_eq!(Value::F32(0.1).to_string(), "0.1");
        assert_eq!(Value::F32(-f32::MAX).to_string(), "-3.4028235e38");
        assert_eq!(Value::F32(1.9073486e-6).to_string(), "1.9073486e-6");
        assert_eq!(Value::F64(f64::NEG_INFINITY).to_string(), "-inf");
        assert_eq!(Value::F64(0.0).to_string(), "0");
        assert_eq!(Value::UInt(u64::MAX).to_string(), "18446744073709551615");
    }

    #[test]
    fn nonfinite_values_serialize_as_strings() {
        let json = serde_json::to_string(&[
            Value::F32(f32::NAN),
            Value::F64(f64::NEG_INFINITY),
            Value::F32(0.5),
            Value::Int(-3),
        ])
        .unwrap();
        assert_eq!(json, r#"["NaN","-inf",0.5,-3]"#);
    }

    #[test]
    fn nan_agreement_passes_only_when_allowed() {
        let a = t(&[2], &[f64::NAN, f64::INFINITY]);
        let m = compare_tensors(&a, &a, &Preset::Loose.tolerance()).unwrap();
        assert_eq!((m.mismatches, m.nonfinite), (2, 2));
        let mut allow = Preset::Loose.tolerance();
        allow.allow_nonfinite = true;
        assert!(compare_tensors(&a, &a, &allow).unwrap().passed());
        let b = t(&[2], &[f64::NAN, f64::NEG_INFINITY]);
        assert_eq!(compare_tensors(&a, &b, &allow).unwrap().mismatches, 1);
    }

    #[test]
    fn ulp_distance_counts_representable_steps() {
        assert_eq!(ulp_distance(1.0, 1.0), 0);
        assert_eq!(ulp_distance(1.0, f32::from_bits(1.0f32.to_bits() + 3)), 3);
        assert_eq!(ulp_distance(0.0, -0.0), 0);
        assert_eq!(ulp_distance(f32::from_bits(1), -f32::from_bits(1)), 2);
        assert_eq!(ulp_distance(f32::NAN, 1.0), u64::MAX);
    }

    #[test]
    fn metrics_name_first_and_worst_mismatch() {
        let a = arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.5, 6.0]]).into_dyn();
        let e = arr2(&[[1.0f32, 2.1, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
        let m = compare_arrays(&a.view(), &e.view(), &Preset::Default.tolerance());
        assert_eq!(m.mismatches, 2);
        assert_eq!(m.first_mismatch.as_ref().unwrap().index, vec![0, 1]);
        let worst = m.worst.unwrap();
        assert_eq!(worst.index, vec![1, 1]);
        assert_eq!(
            (worst.actual, worst.expected),
            (Value::F32(5.5), Value::F32(5.0))
        );
        assert!((m.max_abs_err - 0.5).abs() < 1e-12);
        assert!((m.max_rel_err - 0.5 / 5.5).abs() < 1e-12);
        assert!((m.mismatch_fraction - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn metrics_are_symmetric_except_for_the_rtol_side() {
        let a = arr2(&[[0.0f32, 1e-3, -7.0]]).into_dyn();
        let b = arr2(&[[0.0f32, 2e-3, -7.5]]).into_dyn();
        let t = Preset::Exact.tolerance();
        let (ab, ba) = (
            compare_arrays(&a.view(), &b.view(), &t),
            compare_arrays(&b.view(), &a.view(), &t),
        );
        assert_eq!(ab.max_abs_err, ba.max_abs_err);
        assert_eq!(ab.max_rel_err, ba.max_rel_err);
        assert_eq!(ab.max_ulp, ba.max_ulp);
        assert_eq!(ab.mismatches, ba.mismatches);
    }

    #[test]
    fn nan_never_passes_by_default() {
        let a = ArrayD::from_elem(IxDyn(&[2]), f32::NAN);
        let m = compare_arrays(&a.view(), &a.view(), &Preset::Loose.tolerance());
        assert_eq!(m.mismatches, 2);
        assert_eq!(m.nonfinite, 2);
        let mut allow = Preset::Loose.tolerance();
        allow.allow_nonfinite = true;
        assert!(compare_arrays(&a.view(), &a.view(), &allow).passed());
    }

    /// A pseudo-random f32 pair with mismatches, ties, NaN and infinities sprinkled in.
    fn noisy(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = crate::rng::Rng::new(seed);
        let mut a = Vec::with_capacity(n);
        let mut e = Vec::with_capacity(n);
        for i in 0..n {
            let x = rng.normal_f64() as f32;
            let d = match i % 97 {
                0 => 1e-3,
                13 => -1e-3,
                29 => f32::NAN,
                41 => f32::INFINITY,
                _ => rng.normal_f64() as f32 * 1e-6,
            };
            a.push(x + d);
            e.push(if i % 89 == 5 { f32::NAN } else { x });
        }
        (a, e)
    }

    #[test]
    fn chunks_and_merges_give_the_same_metrics_as_one_pass() {
        let (a, e) = noisy(6000, 7);
        let shape = [60, 100];
        let tol = Preset::Strict.tolerance();
        let whole = {
            let av = ArrayD::from_shape_vec(IxDyn(&shape), a.clone()).unwrap();
            let ev = ArrayD::from_shape_vec(IxDyn(&shape), e.clone()).unwrap();
            compare_arrays(&av.view(), &ev.view(), &tol)
        };
        assert!(whole.mismatches > 0 && whole.nonfinite > 0);
        for chunk in [1, 7, 100, 999, 6000] {
            let mut acc = Accumulator::<f32>::new(tol);
            for (ca, ce) in a.chunks(chunk).zip(e.chunks(chunk)) {
                acc.push(ca, ce);
            }
            // Debug text: NaN values are equal there.
            assert_eq!(
                format!("{:?}", acc.finish(&shape)),
                format!("{whole:?}"),
                "chunks of {chunk}"
            );
        }
        for shards in [2, 3, 4, 7] {
            let per = a.len().div_ceil(shards);
            let mut parts = a.chunks(per).zip(e.chunks(per)).map(|(ca, ce)| {
                let mut acc = Accumulator::<f32>::new(tol);
                acc.push(ca, ce);
                acc
            });
            let mut merged = parts.next().unwrap();
            parts.for_each(|p| merged.merge(p));
            assert_eq!(
                format!("{:?}", merged.finish(&shape)),
                format!("{whole:?}"),
                "{shards} shards"
            );
        }
    }

    #[test]
    fn worst_ties_keep_the_earlier_element_across_merges() {
        let tol = Preset::Exact.tolerance();
        let mut first = Accumulator::<f32>::new(tol);
        first.push(&[1.0, 2.5], &[1.0, 2.0]);
        let mut second = Accumulator::<f32>::new(tol);
        second.push(&[3.5, 4.0], &[3.0, 4.0]);
        first.merge(second);
        let m = first.finish(&[4]);
        assert_eq!(m.worst.unwrap().index, vec![1]);
        assert_eq!(m.first_mismatch.unwrap().index, vec![1]);
        assert_eq!(m.mismatches, 2);
        assert_eq!(unravel(7, &[2, 2, 3]), vec![1, 0, 1]);
    }

    #[test]
    fn views_that_are_not_contiguous_compare_in_logical_order() {
        let a = arr2(&[[1.0f32, 2.0], [3.0, 4.5]]);
        let e = arr2(&[[1.0f32, 3.0], [2.0, 4.0]]);
        let m = compare_arrays(
            &a.t().into_dyn(),
            &e.t().into_dyn(),
            &Preset::Exact.tolerance(),
        );
        // Transposed: [[1, 3], [2, 4.5]] vs [[1, 2], [3, 4]]; first mismatch at [0, 1].
        assert_eq!(m.first_mismatch.unwrap().index, vec![0, 1]);
        assert_eq!(m.worst.unwrap().index, vec![0, 1]);
    }

    #[test]
    fn zero_vs_zero_is_not_a_relative_error() {
        let z = ArrayD::<f32>::zeros(IxDyn(&[3]));
        let m = compare_arrays(&z.view(), &z.view(), &Preset::Exact.tolerance());
        assert_eq!((m.max_abs_err, m.max_rel_err, m.max_ulp), (0.0, 0.0, 0));
        assert!(m.passed());
    }

    #[test]
    fn strings_compare_exactly_whatever_the_tolerance() {
        let s = |v: &[&str]| {
            Tensor::from(
                ArrayD::from_shape_vec(
                    IxDyn(&[v.len()]),
                    v.iter().map(|x| x.to_string()).collect(),
                )
                .unwrap(),
            )
        };
        let loose = Tolerance {
            atol: 10.0,
            rtol: 10.0,
            allow_nonfinite: true,
        };
        let m = compare_tensors(&s(&["a", "b", "c"]), &s(&["a", "B", "c"]), &loose).unwrap();
        assert_eq!((m.mismatches, m.elements), (1, 3));
        let w = m.worst.unwrap();
        assert_eq!(w.index, [1]);
        assert_eq!(
            (w.actual.to_string(), w.expected.to_string()),
            ("\"b\"".into(), "\"B\"".into())
        );
        assert!(
            compare_tensors(&s(&["x"]), &s(&["x"]), &Preset::Exact.tolerance())
                .unwrap()
                .passed()
        );
    }
}
