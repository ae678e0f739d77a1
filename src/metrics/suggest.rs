//! Tolerance advice: the tightest tolerance an output would pass, and the noise floor next to it.
//!
//! Why: a tolerance picked by hand is either too loose (it hides bugs) or too tight (it fails
//! on rounding). What a user needs is the smallest `atol` (with `rtol` 0), the smallest `rtol`
//! (with `atol` 0), the factor by which the given tolerance could shrink, and the largest ULP
//! distance; the same leaving out the worst 0.1% of the elements (so one outlier does not set
//! the figure); and, measured on the same inputs, how much the outputs move when only the
//! runtime's way of computing changes (its optimized against its unoptimized graph, another
//! runtime): the noise floor. An error at the noise floor is what any implementation gives; one
//! far above it is a difference between the implementations. This module only computes; the
//! noise measurements come from runs its callers made.

use serde::Serialize;
use tract_onnx::prelude::{DatumType, Tensor};

use super::{Metrics, Tolerance, serialize_f64};

/// Fraction of the elements the outlier-free figures leave out.
pub const OUTLIER_FRACTION: f64 = 1e-3;

/// The tightest tolerance of each kind that passes a set of elements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tightest {
    /// Smallest `atol` passing with `rtol` 0.
    #[serde(serialize_with = "serialize_f64")]
    pub atol: f64,
    /// Smallest `rtol` passing with `atol` 0 (infinite when a zero is expected and missed).
    #[serde(serialize_with = "serialize_f64")]
    pub rtol: f64,
    /// Smallest factor `s` such that `s * atol` and `s * rtol` of the given tolerance pass.
    #[serde(serialize_with = "serialize_f64")]
    pub scale: f64,
    /// Largest distance in ULPs of the expected side's element type.
    pub ulp: u64,
}

/// How far the outputs move when only the way of computing them changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoiseFloor {
    /// What was measured: `tract decluttered vs optimized`, ...
    pub sources: Vec<String>,
    #[serde(serialize_with = "serialize_f64")]
    pub max_abs_err: f64,
    #[serde(serialize_with = "serialize_f64")]
    pub max_rel_err: f64,
    pub max_ulp: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Floor {
    /// The observed error is no larger than the noise floor.
    AtNoiseFloor,
    /// The observed error exceeds the noise floor.
    AboveNoiseFloor,
    /// No noise floor was measured.
    Unmeasured,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub elements: usize,
    /// Passing every element.
    pub all: Tightest,
    /// How many elements `without_outliers` leaves out (the worst 0.1%, rounded down).
    pub outliers: usize,
    /// Passing all but `outliers` elements (each figure leaves out its own worst).
    pub without_outliers: Tightest,
    pub noise_floor: Option<NoiseFloor>,
    pub floor: Floor,
    /// Observed max abs error over the noise floor's (infinite over a floor of 0).
    #[serde(serialize_with = "super::tensor::serialize_opt_f64")]
    pub above_floor_by: Option<f64>,
}

fn values(t: &Tensor) -> Option<Vec<f64>> {
    let c = t.cast_to_dt(DatumType::F64).ok()?;
    Some(
        c.to_plain_array_view::<f64>()
            .ok()?
            .iter()
            .copied()
            .collect(),
    )
}

/// ULP distance of two values in the element type `dt` (exact differences for integers).
fn ulps(dt: DatumType, a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    match dt {
        DatumType::F32 => super::ulp_distance(a as f32, b as f32),
        DatumType::F64 => {
            let o = |x: f64| {
                let bits = x.to_bits() as i64;
                if bits < 0 { -(bits & i64::MAX) } else { bits }
            };
            o(a).abs_diff(o(b))
        }
        DatumType::F16 => {
            let h = |x: f64| tract_onnx::prelude::f16::from_f64(x);
            let o = |x: tract_onnx::prelude::f16| {
                let bits = i64::from(x.to_bits() as i16);
                if bits < 0 { -(bits & 0x7fff) } else { bits }
            };
            o(h(a)).abs_diff(o(h(b)))
        }
        _ => (a - b).abs().min(u64::MAX as f64) as u64,
    }
}

/// The `k`-th largest value (0: the largest) of `v`, which it sorts.
fn kth_largest(v: &mut [f64], k: usize) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| b.total_cmp(a));
    v[k.min(v.len() - 1)]
}

/// Advice for one output: `actual` against `expected` (same shape; `actual` read as
/// expected's element type), the given tolerance, and noise measurements (each the metrics of
/// the same model computed another way against `actual`). `None` when the shapes differ or an
/// element type is not numeric.
pub fn advise(
    actual: &Tensor,
    expected: &Tensor,
    given: &Tolerance,
    noise: &[(String, Metrics)],
) -> Option<Advice> {
    if actual.shape() != expected.shape() {
        return None;
    }
    let (a, e) = (values(actual)?, values(expected)?);
    let dt = expected.datum_type();
    let n = a.len();
    let (mut abs, mut rel, mut scale, mut ulp) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (&x, &y) in a.iter().zip(&e) {
        let same = x == y || (x.is_nan() && y.is_nan() && given.allow_nonfinite);
        let d = if same { 0.0 } else { (x - y).abs() };
        let d = if d.is_nan() { f64::INFINITY } else { d };
        let ratio = |num: f64, den: f64| {
            if num == 0.0 {
                0.0
            } else if den == 0.0 || !den.is_finite() {
                f64::INFINITY
            } else {
                num / den
            }
        };
        abs.push(d);
        rel.push(ratio(d, y.abs()));
        scale.push(ratio(d, given.atol + given.rtol * y.abs()));
        ulp.push(if same { 0.0 } else { ulps(dt, x, y) as f64 });
    }
    let outliers = (n as f64 * OUTLIER_FRACTION).floor() as usize;
    let mut tight = |k: usize| Tightest {
        atol: kth_largest(&mut abs, k),
        rtol: kth_largest(&mut rel, k),
        scale: kth_largest(&mut scale, k),
        ulp: kth_largest(&mut ulp, k) as u64,
    };
    let (all, without_outliers) = (tight(0), tight(outliers));
    let noise_floor = (!noise.is_empty()).then(|| NoiseFloor {
        sources: noise.iter().map(|(s, _)| s.clone()).collect(),
        max_abs_err: noise.iter().map(|(_, m)| m.max_abs_err).fold(0.0, f64::max),
        max_rel_err: noise.iter().map(|(_, m)| m.max_rel_err).fold(0.0, f64::max),
        max_ulp: noise.iter().map(|(_, m)| m.max_ulp).max().unwrap_or(0),
    });
    let (floor, above_floor_by) = match &noise_floor {
        None => (Floor::Unmeasured, None),
        Some(f) if all.atol <= f.max_abs_err => (Floor::AtNoiseFloor, None),
        Some(f) => (
            Floor::AboveNoiseFloor,
            Some(if f.max_abs_err > 0.0 {
                all.atol / f.max_abs_err
            } else {
                f64::INFINITY
            }),
        ),
    };
    Some(Advice {
        elements: n,
        all,
        outliers,
        without_outliers,
        noise_floor,
        floor,
        above_floor_by,
    })
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn};

    use super::*;
    use crate::metrics::{Preset, compare_tensors};

    fn t(v: &[f32]) -> Tensor {
        Tensor::from(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap())
    }

    #[test]
    fn the_tightest_tolerances_pass_exactly_and_nothing_tighter_does() {
        // |diff| = 0, 1e-3, 2e-3, 0.5 against expected 1, 2, 0.5, 4.
        let (a, e) = (t(&[1.0, 2.001, 0.502, 4.5]), t(&[1.0, 2.0, 0.5, 4.0]));
        let given = Preset::Default.tolerance();
        let adv = advise(&a, &e, &given, &[]).unwrap();
        assert!((adv.all.atol - 0.5).abs() < 1e-6);
        assert!((adv.all.rtol - 0.125).abs() < 1e-6);
        // s * (1e-5 + 1e-5 * 4) = 0.5
        assert!((adv.all.scale - 0.5 / 5e-5).abs() < 1.0);
        for tol in [
            Tolerance::new(adv.all.atol, 0.0),
            Tolerance::new(0.0, adv.all.rtol),
            Tolerance::new(given.atol * adv.all.scale, given.rtol * adv.all.scale),
        ] {
            assert!(compare_tensors(&a, &e, &tol).unwrap().passed(), "{tol}");
        }
        let tighter = Tolerance::new(adv.all.atol * 0.999, 0.0);
        assert!(!compare_tensors(&a, &e, &tighter).unwrap().passed());
        assert_eq!(adv.outliers, 0);
        assert_eq!(adv.floor, Floor::Unmeasured);
    }

    #[test]
    fn outliers_and_the_noise_floor() {
        let mut a = vec![1.0f32; 2000];
        let e = vec![1.0f32; 2000];
        a[7] = 1.5;
        a[8] = 1.0 + 1e-6;
        let (a, e) = (t(&a), t(&e));
        let noise = compare_tensors(&a, &a, &Preset::Exact.tolerance()).unwrap();
        let adv = advise(
            &a,
            &e,
            &Preset::Default.tolerance(),
            &[("same".into(), noise)],
        )
        .unwrap();
        assert_eq!(adv.outliers, 2);
        assert!((adv.all.atol - 0.5).abs() < 1e-6);
        assert_eq!(adv.without_outliers.atol, 0.0, "both outliers left out");
        assert_eq!(adv.floor, Floor::AboveNoiseFloor);
        assert_eq!(adv.above_floor_by, Some(f64::INFINITY));
        let same = advise(&e, &e, &Preset::Default.tolerance(), &[]).unwrap();
        assert_eq!(same.all.ulp, 0);
    }
}
