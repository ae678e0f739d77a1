//! Error metrics of an actual f32 array against an expected one (the demo's API); the element
//! loop itself lives in `tensor.rs`, shared with every other element type.

use ndarray::ArrayViewD;
use serde::Serialize;

use super::Tolerance;
use super::tensor::{Element, ElementDiff, Value, compare_views};

/// One element that broke the rule (or the worst one), with where it is and both values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    pub index: Vec<usize>,
    pub actual: f32,
    pub expected: f32,
    pub abs_err: f64,
}

/// How two tensors differ. `max_rel_err` uses the normalizer `max(|actual|, |expected|)` and
/// counts 0 where both are 0, so it is symmetric and never divides by zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub elements: usize,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    /// Largest distance in units of last place between the f32 values (0 == -0).
    pub max_ulp: u64,
    /// Elements that broke the tolerance rule.
    pub mismatches: usize,
    pub mismatch_fraction: f64,
    /// Elements where either side is NaN or infinite.
    pub nonfinite: usize,
    /// First mismatch in row-major order.
    pub first_mismatch: Option<Outlier>,
    /// The element with the largest absolute error (a mismatch if any exists).
    pub worst: Option<Outlier>,
}

impl Metrics {
    pub fn passed(&self) -> bool {
        self.mismatches == 0
    }
}

/// Distance in ULPs between two finite f32 values; `u64::MAX` when either is NaN.
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    <f32 as Element>::ulps(a, b)
}

fn f32_outlier(d: ElementDiff) -> Outlier {
    let as_f32 = |v: Value| match v {
        Value::F32(x) => x,
        // compare_views::<f32> only produces F32 values.
        other => unreachable!("f32 comparison produced {other:?}"),
    };
    Outlier {
        index: d.index,
        actual: as_f32(d.actual),
        expected: as_f32(d.expected),
        abs_err: d.abs_err,
    }
}

/// Compare element by element. Shapes must already agree (the caller reports a shape mismatch
/// with its own context); this function panics otherwise because that is a caller bug.
pub fn compare(actual: &ArrayViewD<f32>, expected: &ArrayViewD<f32>, tol: &Tolerance) -> Metrics {
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "compare() needs equal shapes"
    );
    let m = compare_views(actual, expected, tol);
    Metrics {
        elements: m.elements,
        max_abs_err: m.max_abs_err,
        max_rel_err: m.max_rel_err,
        max_ulp: m.max_ulp,
        mismatches: m.mismatches,
        mismatch_fraction: m.mismatch_fraction,
        nonfinite: m.nonfinite,
        first_mismatch: m.first_mismatch.map(f32_outlier),
        worst: m.worst.map(f32_outlier),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Preset;
    use ndarray::{ArrayD, IxDyn, arr2};

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
        let m = compare(&a.view(), &e.view(), &Preset::Default.tolerance());
        assert_eq!(m.mismatches, 2);
        assert_eq!(m.first_mismatch.as_ref().unwrap().index, vec![0, 1]);
        let worst = m.worst.unwrap();
        assert_eq!(worst.index, vec![1, 1]);
        assert_eq!((worst.actual, worst.expected), (5.5, 5.0));
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
            compare(&a.view(), &b.view(), &t),
            compare(&b.view(), &a.view(), &t),
        );
        assert_eq!(ab.max_abs_err, ba.max_abs_err);
        assert_eq!(ab.max_rel_err, ba.max_rel_err);
        assert_eq!(ab.max_ulp, ba.max_ulp);
        assert_eq!(ab.mismatches, ba.mismatches);
    }

    #[test]
    fn nan_never_passes_by_default() {
        let a = ArrayD::from_elem(IxDyn(&[2]), f32::NAN);
        let m = compare(&a.view(), &a.view(), &Preset::Loose.tolerance());
        assert_eq!(m.mismatches, 2);
        assert_eq!(m.nonfinite, 2);
        let mut allow = Preset::Loose.tolerance();
        allow.allow_nonfinite = true;
        assert!(compare(&a.view(), &a.view(), &allow).passed());
    }

    #[test]
    fn zero_vs_zero_is_not_a_relative_error() {
        let z = ArrayD::<f32>::zeros(IxDyn(&[3]));
        let m = compare(&z.view(), &z.view(), &Preset::Exact.tolerance());
        assert_eq!((m.max_abs_err, m.max_rel_err, m.max_ulp), (0.0, 0.0, 0));
        assert!(m.passed());
    }
}
