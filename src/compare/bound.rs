//! How far two correct floating-point implementations of one layer may drift apart by rounding
//! alone, computed per output element from the layer's actual inputs.
//!
//! Why: a tolerance says whether a difference is acceptable, not where it comes from. Two
//! correct implementations of a layer differ because each rounds; a bug differs by more than
//! rounding can explain. `compare` runs A's layer on B's inputs (its local error) and divides
//! that difference by the bound below: a ratio above 1 cannot be rounding, so the first such
//! layer is where the bug is.
//!
//! Each side `s` computes in its own element type, with unit roundoff `u_s` (2^-24 for float32,
//! 2^-53 for float64, 2^-11 for float16) and smallest subnormal `eta_s`. Per output element `i`
//! the error of one side is bounded by `e_s(i)`; the difference of the two sides by
//! `e_A(i) + e_B(i)`, plus half an ULP of the reference's type where a side computes in another
//! type and is cast to the reference's before comparing. The rules:
//!
//! - **Dot products** (`Gemm`, `MatMul` with or without its bias `Add`, `Conv`): with `k` the
//!   reduction length (`Gemm`/`MatMul`: the weight's inner dim; `Conv`: input channels per group
//!   times the kernel size), `n = k + 2` (the bias add and `Gemm`'s `alpha` scale round too):
//!   `e_s(i) = gamma_n(u_s) * S(i) + n * eta_s`, where `gamma_n(u) = n u / (1 - n u)` and
//!   `S(i) = sum_j |w_ij| |x_j| + |b_i|`. This is the standard bound for any summation order, with
//!   or without fused multiply-adds (Higham, *Accuracy and Stability of Numerical Algorithms*,
//!   2nd ed., 2002, eq. 3.5 and §3.1; the `eta` term covers products that underflow, §2.1).
//!   `S` is computed by running the same layer with `|w|`, `|b|` on `|x|`.
//! - **Averages** (`AveragePool` over `k` elements): a sum of `k` terms and a division:
//!   `e_s(i) = gamma_{k+1}(u_s) * mean_j |x_j|` (same source), `mean |x|` computed the same way.
//! - **Single correctly rounded operations** (`Relu`, `LeakyRelu`, `Add`, `Mul`, `MaxPool`, ...):
//!   IEEE 754 rounds each result to nearest, half an ULP; the bound allows 1 ULP of the result
//!   per side. `HardSigmoid` (`max(0, min(1, alpha x + beta))`) rounds twice and may cancel
//!   against `beta`: 2 ULPs plus `2^-24` absolute.
//! - **Transcendental activations** have no IEEE accuracy requirement; each library documents or
//!   chooses its own. [`TRANSCENDENTAL`] lists a per-op bound `ulps * ulp(y) + abs` that covers
//!   a faithful libm (at most 1 ULP) and tract's rational approximations, whose error this
//!   module's test measures on a dense grid (tract's `Sigmoid` is off by up to 4.8e-7 absolute
//!   near 0 and 1, where the exact value is far smaller; its `Erf` by 1.4e-6 near 0). The
//!   absolute terms are powers of two above those measurements. An implementation worse than that is
//!   reported as beyond rounding, which for an approximation is what a user needs to know.
//!
//! Other ops have no rule (`no_bound`): they are compared by tolerance only and never named a
//! first cause by this test. This module computes bounds; it never runs a model.

use ndarray::{ArrayD, ArrayViewD, Dimension, Zip};
use serde::Serialize;
use tract_onnx::prelude::DatumType;

use super::layers::LayerKind;
use crate::metrics::serialize_f64;
use crate::onnx::pb::{GraphProto, NodeProto};

/// The transcendental activations with a bound: op, ULPs of the result, absolute term.
pub const TRANSCENDENTAL: &[(&str, f64, f64)] = &[
    // Measured on tract over [-40, 40] (step 1e-3) by the test below: max abs error, worst ULPs.
    // 4.77e-7 absolute near 0 and 1 (a rational approximation that never reaches 0 or 1).
    ("Sigmoid", 4.0, ABS_2_20),
    // 5.96e-7 absolute, 9.5 ULPs near -1.
    ("Tanh", 4.0, ABS_2_20),
    // at most 1 ULP.
    ("Exp", 4.0, 0.0),
    // at most 1 ULP.
    ("Log", 4.0, 0.0),
    // 1.38e-6 absolute near 0 (3565 ULPs at -0.002, where erf is tiny).
    ("Erf", 4.0, ABS_2_19),
    // 5.4e-7 absolute.
    ("Softplus", 4.0, ABS_2_20),
];

const ABS_2_20: f64 = 1.0 / (1u32 << 20) as f64;
const ABS_2_19: f64 = 1.0 / (1u32 << 19) as f64;

/// Ops computed as one correctly rounded operation per element (or exactly).
const SINGLE_ROUNDING: &[&str] = &[
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "Abs",
    "Max",
    "Min",
    "Clip",
    "MaxPool",
    "GlobalMaxPool",
    "ReduceMax",
    "ReduceMin",
    "Sqrt",
    "Reciprocal",
    "Where",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
];

/// Which bound applies to a layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// `gamma_{k+2} * (sum |w||x| + |b|)`.
    DotProduct { k: usize },
    /// `gamma_{k+1} * mean |x|` over `k` elements.
    Average { k: usize },
    /// `ulps * ulp(y) + abs` per side.
    Elementwise {
        ulps: f64,
        #[serde(serialize_with = "serialize_f64")]
        abs: f64,
    },
}

impl Rule {
    /// Whether the rule needs `S`, the layer run on absolute values.
    pub fn needs_abs_run(&self) -> bool {
        matches!(self, Rule::DotProduct { .. } | Rule::Average { .. })
    }

    /// The rule in a few words, for reports.
    pub fn describe(&self) -> String {
        match self {
            Rule::DotProduct { k } => format!("gamma_{} * sum|w||x|", k + 2),
            Rule::Average { k } => format!("gamma_{} * mean|x|", k + 1),
            Rule::Elementwise { ulps, abs } if *abs > 0.0 => format!("{ulps} ulp + {abs:.1e}"),
            Rule::Elementwise { ulps, .. } => format!("{ulps} ulp"),
        }
    }
}

/// Dims of a constant (initializer or `Constant` output) named `name`.
fn constant_dims(g: &GraphProto, name: &str) -> Option<Vec<i64>> {
    if let Some(t) = g.initializer.iter().find(|t| t.name() == name) {
        return Some(t.dims.clone());
    }
    g.node
        .iter()
        .find(|n| n.op_type() == "Constant" && n.output.first().is_some_and(|o| o == name))
        .and_then(|n| n.attribute.iter().find_map(|a| a.t.as_ref()))
        .map(|t| t.dims.clone())
}

fn attr_int(n: &NodeProto, name: &str) -> Option<i64> {
    n.attribute
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.i)
}

fn positive(dims: &[i64]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
        .filter(|&k| k > 0)
}

/// The bound rule of a layer whose first node is `first` in `graph`, or `None` when no rule is
/// known (or a dot product's weight is not a constant, so its reduction length is unknown).
pub fn rule_for(kind: &LayerKind, first: &NodeProto, graph: &GraphProto) -> Option<Rule> {
    let weight_dims = || constant_dims(graph, first.input.get(1)?);
    match kind {
        LayerKind::Dense => {
            let w = weight_dims()?;
            let k = match (first.op_type(), w.len()) {
                ("Gemm", 2) => {
                    w[if attr_int(first, "transB") == Some(1) {
                        1
                    } else {
                        0
                    }]
                }
                ("MatMul", 1) => w[0],
                ("MatMul", r) if r >= 2 => w[r - 2],
                _ => return None,
            };
            Some(Rule::DotProduct { k: positive(&[k])? })
        }
        LayerKind::Conv => {
            let w = weight_dims()?;
            Some(Rule::DotProduct {
                k: positive(w.get(1..)?)?,
            })
        }
        LayerKind::Op(op) if op == "AveragePool" => {
            let ks = first
                .attribute
                .iter()
                .find(|a| a.name() == "kernel_shape")?;
            Some(Rule::Average {
                k: positive(&ks.ints)?,
            })
        }
        LayerKind::Op(op) if op == "HardSigmoid" => Some(Rule::Elementwise {
            ulps: 2.0,
            abs: f64::from(f32::EPSILON) / 2.0,
        }),
        LayerKind::Op(op) => {
            if SINGLE_ROUNDING.contains(&op.as_str()) {
                return Some(Rule::Elementwise {
                    ulps: 1.0,
                    abs: 0.0,
                });
            }
            TRANSCENDENTAL
                .iter()
                .find(|(name, ..)| name == op)
                .map(|&(_, ulps, abs)| Rule::Elementwise { ulps, abs })
        }
    }
}

/// Unit roundoff and smallest subnormal of a float type; `None` for other types.
pub fn unit_roundoff(dt: DatumType) -> Option<(f64, f64)> {
    match dt {
        DatumType::F16 => Some((2f64.powi(-11), 2f64.powi(-24))),
        DatumType::F32 => Some((2f64.powi(-24), 2f64.powi(-149))),
        DatumType::F64 => Some((2f64.powi(-53), 2f64.powi(-1074))),
        _ => None,
    }
}

/// The spacing of floats of type `dt` at `|y|` (one ULP).
pub fn ulp(dt: DatumType, y: f64) -> f64 {
    let a = y.abs();
    match dt {
        DatumType::F64 => {
            let next = f64::from_bits(a.to_bits() + 1);
            if next.is_finite() {
                next - a
            } else {
                a - f64::from_bits(a.to_bits() - 1)
            }
        }
        DatumType::F16 => {
            let (u, eta) = unit_roundoff(DatumType::F16).expect("float");
            // 2u * 2^floor(log2 a), at least the subnormal spacing.
            if a < 2f64.powi(-14) {
                eta
            } else {
                2.0 * u * 2f64.powi(a.log2().floor() as i32)
            }
        }
        _ => {
            let f = a as f32;
            let next = f32::from_bits(f.to_bits() + 1);
            f64::from(if next.is_finite() {
                next - f
            } else {
                f - f32::from_bits(f.to_bits() - 1)
            })
        }
    }
}

fn gamma(n: usize, u: f64) -> f64 {
    let nu = n as f64 * u;
    if nu >= 1.0 {
        f64::INFINITY
    } else {
        nu / (1.0 - nu)
    }
}

/// The element types involved: each side's, and the reference's (what both are compared in).
#[derive(Debug, Clone, Copy)]
pub struct Types {
    pub a: DatumType,
    pub b: DatumType,
    pub reference: DatumType,
}

/// Per-element bound on `|A - B|` for a layer under `rule`: `y` is the reference's result,
/// `s` the layer run on absolute values (required by dot products and averages). `None` when
/// an element type is not a float or `s` is missing where needed.
pub fn bound(
    rule: &Rule,
    types: Types,
    y: &ArrayViewD<f64>,
    s: Option<&ArrayViewD<f64>>,
) -> Option<ArrayD<f64>> {
    let sides = [types.a, types.b];
    let mut rounding = Vec::new();
    for dt in sides {
        rounding.push(unit_roundoff(dt)?);
    }
    unit_roundoff(types.reference)?;
    let cast = |dt: DatumType, y: f64| {
        if dt == types.reference {
            0.0
        } else {
            ulp(types.reference, y) / 2.0
        }
    };
    let side = |(u, eta): (f64, f64), dt: DatumType, y: f64, s: f64| -> f64 {
        let own = match rule {
            Rule::DotProduct { k } => gamma(k + 2, u) * s + (k + 2) as f64 * eta,
            Rule::Average { k } => gamma(k + 1, u) * s + eta,
            Rule::Elementwise { ulps, abs } => ulps * ulp(dt, y) + abs,
        };
        own + cast(dt, y)
    };
    let zeros;
    let s = match (rule.needs_abs_run(), s) {
        (true, Some(s)) if s.shape() == y.shape() => s.view(),
        (true, _) => return None,
        (false, _) => {
            zeros = ArrayD::<f64>::zeros(y.raw_dim());
            zeros.view()
        }
    };
    let mut out = ArrayD::<f64>::zeros(y.raw_dim());
    Zip::from(&mut out).and(y).and(&s).for_each(|o, &y, &s| {
        *o = side(rounding[0], types.a, y, s) + side(rounding[1], types.b, y, s);
    });
    Some(out)
}

/// What rounding says about one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingVerdict {
    /// Its local error is at most the bound: rounding explains it.
    WithinRounding,
    /// Its local error exceeds the bound: rounding cannot explain it.
    BeyondRounding,
    /// No bound rule for this op (or a non-float result): judged by tolerance only.
    NoBound,
    /// The local error could not be computed (the report says why).
    NotComputed,
}

impl RoundingVerdict {
    pub fn text(self) -> &'static str {
        match self {
            RoundingVerdict::WithinRounding => "within rounding",
            RoundingVerdict::BeyondRounding => "beyond rounding",
            RoundingVerdict::NoBound => "no bound",
            RoundingVerdict::NotComputed => "not computed",
        }
    }
}

/// A layer's bound as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundReport {
    #[serde(flatten)]
    pub rule: Rule,
    /// The rule in words: `gamma_786 * sum|w||x|`.
    pub formula: String,
    /// Unit roundoff of A's and of B's element type.
    #[serde(serialize_with = "serialize_f64")]
    pub unit_roundoff_a: f64,
    #[serde(serialize_with = "serialize_f64")]
    pub unit_roundoff_b: f64,
    /// The largest per-element bound.
    #[serde(serialize_with = "serialize_f64")]
    pub max: f64,
    /// The element where the local error is largest relative to its bound.
    pub worst: Option<RatioAt>,
}

/// How a local error compares with its bound: the largest ratio and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioAt {
    #[serde(serialize_with = "serialize_f64")]
    pub ratio: f64,
    pub index: Vec<usize>,
    #[serde(serialize_with = "serialize_f64")]
    pub abs_err: f64,
    #[serde(serialize_with = "serialize_f64")]
    pub bound: f64,
}

/// The largest `|a - b| / bound` over the elements (infinite where the bound is 0 and the
/// values differ; NaN against a number counts as infinite). `a` and `b` in the reference type,
/// widened to f64.
pub fn worst_ratio(
    a: &ArrayViewD<f64>,
    b: &ArrayViewD<f64>,
    bound: &ArrayViewD<f64>,
) -> Option<RatioAt> {
    let mut worst: Option<RatioAt> = None;
    for ((index, &x), (&y, &e)) in a.indexed_iter().zip(b.iter().zip(bound.iter())) {
        let d = if x == y || (x.is_nan() && y.is_nan()) {
            0.0
        } else {
            (x - y).abs()
        };
        let r = if d == 0.0 {
            0.0
        } else if d.is_nan() || e == 0.0 {
            f64::INFINITY
        } else {
            d / e
        };
        if worst.as_ref().is_none_or(|w| r > w.ratio) {
            worst = Some(RatioAt {
                ratio: r,
                index: index.slice().to_vec(),
                abs_err: if d.is_nan() { f64::INFINITY } else { d },
                bound: e,
            });
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ndarray::{ArrayD, IxDyn};
    use tract_onnx::prelude::Tensor;

    use super::*;
    use crate::onnx::pb::tensor_proto::DataType;
    use crate::onnx::{GraphBuilder, ModelMeta, TensorLimits, encode_model};
    use crate::runtime::{Feed, OnnxModel, Runtime, Tract};

    #[test]
    fn ulps_are_the_spacing_of_the_type() {
        assert_eq!(ulp(DatumType::F32, 1.0), f64::from(f32::EPSILON));
        assert_eq!(ulp(DatumType::F32, -3.0), 2.0 * f64::from(f32::EPSILON));
        assert_eq!(ulp(DatumType::F64, 1.0), f64::EPSILON);
        assert_eq!(ulp(DatumType::F16, 1.0), 2f64.powi(-10));
        assert_eq!(ulp(DatumType::F32, 0.0), 2f64.powi(-149));
    }

    #[test]
    fn a_dot_product_bound_is_gamma_times_the_absolute_sum_for_each_side() {
        let y = ArrayD::from_elem(IxDyn(&[1]), 1.0);
        let s = ArrayD::from_elem(IxDyn(&[1]), 10.0);
        let t = Types {
            a: DatumType::F32,
            b: DatumType::F32,
            reference: DatumType::F32,
        };
        let b = bound(&Rule::DotProduct { k: 98 }, t, &y.view(), Some(&s.view())).unwrap();
        let u = 2f64.powi(-24);
        let one = 100.0 * u / (1.0 - 100.0 * u) * 10.0 + 100.0 * 2f64.powi(-149);
        assert!(
            (b[0] - 2.0 * one).abs() < 1e-18,
            "{} vs {}",
            b[0],
            2.0 * one
        );
        // A float64 side rounds far less, but its cast back to float32 adds half an ULP.
        let t64 = Types {
            a: DatumType::F64,
            ..t
        };
        let b64 = bound(&Rule::DotProduct { k: 98 }, t64, &y.view(), Some(&s.view())).unwrap();
        assert!(b64[0] < b[0] && b64[0] > one);
        assert!(bound(&Rule::DotProduct { k: 98 }, t, &y.view(), None).is_none());
    }

    #[test]
    fn the_worst_ratio_names_its_element() {
        let a = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0, 2.0, 3.0]).unwrap();
        let b = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0, 2.5, 3.1]).unwrap();
        let e = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.0, 1.0, 0.01]).unwrap();
        let w = worst_ratio(&a.view(), &b.view(), &e.view()).unwrap();
        assert_eq!(w.index, [2]);
        assert!((w.ratio - 10.0).abs() < 1e-9);
        let same = worst_ratio(&a.view(), &a.view(), &e.view()).unwrap();
        assert_eq!(same.ratio, 0.0, "equal values are within any bound, even 0");
    }

    /// tract's activations against the f64 functions on a dense grid: each stays within its
    /// bound for one side (the table above is what this measures, with a margin).
    #[test]
    fn tracts_transcendental_activations_stay_within_their_documented_bounds() {
        let xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 * 1e-3).collect();
        let exact = |op: &str, x: f64| -> Option<f64> {
            Some(match op {
                "Sigmoid" => 1.0 / (1.0 + (-x).exp()),
                "Tanh" => x.tanh(),
                "Exp" if x < 80.0 => x.exp(),
                "Log" if x > 0.0 => x.ln(),
                "Erf" => erf(x),
                "Softplus" if x < 80.0 => x.exp().ln_1p(),
                _ => return None,
            })
        };
        for &(op, ulps, abs) in TRANSCENDENTAL {
            let mut g = GraphBuilder::new();
            g.input("x", DataType::Float, &[(xs.len() as i64).into()]);
            g.node(op, op, &["x"], &["y"], vec![]);
            g.output("y", DataType::Float, &[(xs.len() as i64).into()]);
            let bytes = encode_model(&g.finish(ModelMeta::default()));
            let m =
                OnnxModel::from_bytes(&bytes, op.as_ref(), None, TensorLimits::default()).unwrap();
            let mut r = Tract::default().prepare(&m).unwrap();
            let x = Tensor::from(ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs.clone()).unwrap());
            let out = r
                .run(&[Feed::new("x", Arc::new(x))], &["y".into()])
                .unwrap();
            let y = out.values[0]
                .to_plain_array_view::<f32>()
                .unwrap()
                .to_owned();
            let mut worst = (0.0f64, 0.0f32);
            for (&x, &y) in xs.iter().zip(y.iter()) {
                let Some(e) = exact(op, f64::from(x)) else {
                    continue;
                };
                let (d, limit) = (
                    (f64::from(y) - e).abs(),
                    ulps * ulp(DatumType::F32, e) + abs,
                );
                assert!(
                    d <= limit,
                    "{op}({x}) = {y}, exact {e}: off by {d:e}, bound {limit:e}"
                );
                if d > worst.0 {
                    worst = (d, x);
                }
            }
            eprintln!("{op}: max abs error {:.3e} at {}", worst.0, worst.1);
        }
    }

    /// erf to double precision (Abramowitz-Stegun 7.1.26 is too coarse): the series for small
    /// |x|, the continued fraction of erfc otherwise.
    fn erf(x: f64) -> f64 {
        if x.abs() < 2.5 {
            let (mut sum, mut term, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let a = x.abs();
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f);
            (1.0 - erfc).copysign(x)
        }
    }
}
