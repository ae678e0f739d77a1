//! Where the errors of one comparison lie: histograms of absolute error and of ULP distance,
//! and the worst elements.
//!
//! Why beside [`Metrics`]: a histogram bar counted "beyond tolerance" must be exactly the
//! elements the verdict counted as mismatches, so the element loop of
//! [`compare_views`](super::compare_views) fills it with the very figures it judged. It is
//! filled only when a caller asks ([`compare_tensors_detailed`](super::compare_tensors_detailed)):
//! the HTML report draws it, nothing decides on it.
//!
//! [`Metrics`]: super::Metrics

use serde::Serialize;

use super::tensor::{ElementDiff, serialize_f64};

/// Bins per factor of ten of the absolute-error histogram.
pub const ABS_BINS_PER_DECADE: i32 = 4;
/// How many of the worst elements are kept.
pub const WORST_KEPT: usize = 10;

/// Elements in one bin, and how many of them broke the tolerance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub elements: usize,
    pub beyond: usize,
}

impl Count {
    fn add(&mut self, beyond: bool) {
        self.elements += 1;
        self.beyond += usize::from(beyond);
    }
}

/// Elements whose error lies in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    #[serde(flatten)]
    pub count: Count,
}

/// A histogram over positive values on log-spaced bins, with exact zeros counted apart (a log
/// axis has no place for them). `bins` runs from the first non-empty bin to the last, empty
/// bins between included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub zero: Count,
    pub bins: Vec<Bin>,
}

/// One of the worst elements, with its ULP distance and whether it is within tolerance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstElement {
    #[serde(flatten)]
    pub diff: ElementDiff,
    pub ulp: u64,
    pub within: bool,
}

/// The distribution of one output's errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDistribution {
    /// `|actual - expected|`, bins of a quarter decade (`[10^(k/4), 10^((k+1)/4))`).
    pub abs_err: Histogram,
    /// ULP distance in the element type, bins of powers of two (`[2^k, 2^(k+1))`).
    pub ulp: Histogram,
    /// Elements where either side is NaN or infinite (in neither histogram).
    pub nonfinite: Count,
    /// The largest `|expected|` among finite elements: `atol + rtol * max_abs_expected` is the
    /// widest error the tolerance allows anywhere in the tensor.
    #[serde(serialize_with = "serialize_f64")]
    pub max_abs_expected: f64,
    /// The worst elements by absolute error, worst first (ties in row-major order).
    pub worst: Vec<WorstElement>,
}

/// Quarter-decade bins cover every positive f64 (about 1e-324 to 1.8e308).
const ABS_LO: i32 = -330 * ABS_BINS_PER_DECADE;
const ABS_HI: i32 = 310 * ABS_BINS_PER_DECADE;

fn abs_edge(k: i32) -> f64 {
    10f64.powf(f64::from(k) / f64::from(ABS_BINS_PER_DECADE))
}

/// The bin of a positive finite `x`, exact at the edges.
fn abs_bin(x: f64) -> i32 {
    let mut k = (x.log10() * f64::from(ABS_BINS_PER_DECADE)).floor() as i32;
    if x < abs_edge(k) {
        k -= 1;
    } else if x >= abs_edge(k + 1) {
        k += 1;
    }
    k.clamp(ABS_LO, ABS_HI - 1)
}

/// Collects the distribution while the element loop runs.
#[derive(Debug, Clone)]
pub(super) struct Accumulator {
    abs_zero: Count,
    abs: Vec<Count>,
    ulp_zero: Count,
    ulp: [Count; 64],
    nonfinite: Count,
    max_abs_expected: f64,
    worst: Vec<WorstElement>,
}

impl Accumulator {
    pub(super) fn new() -> Self {
        Self {
            abs_zero: Count::default(),
            abs: vec![Count::default(); (ABS_HI - ABS_LO) as usize],
            ulp_zero: Count::default(),
            ulp: [Count::default(); 64],
            nonfinite: Count::default(),
            max_abs_expected: 0.0,
            worst: Vec::with_capacity(WORST_KEPT + 1),
        }
    }

    /// One element as the loop judged it. `diff` builds its description, called only when the
    /// element enters the worst list.
    pub(super) fn add(
        &mut self,
        finite: bool,
        abs_expected: f64,
        abs_err: f64,
        ulp: u64,
        ok: bool,
        diff: impl FnOnce() -> ElementDiff,
    ) {
        let beyond = !ok;
        if finite {
            self.max_abs_expected = self.max_abs_expected.max(abs_expected);
            if abs_err == 0.0 {
                self.abs_zero.add(beyond);
            } else {
                self.abs[(abs_bin(abs_err) - ABS_LO) as usize].add(beyond);
            }
            if ulp == 0 {
                self.ulp_zero.add(beyond);
            } else {
                self.ulp[63 - ulp.leading_zeros() as usize].add(beyond);
            }
        } else {
            self.nonfinite.add(beyond);
        }
        let full = self.worst.len() == WORST_KEPT;
        if !full || abs_err > self.worst[WORST_KEPT - 1].diff.abs_err {
            let entry = WorstElement {
                diff: diff(),
                ulp,
                within: ok,
            };
            // After every element of equal error: earlier elements win ties.
            let at = self.worst.partition_point(|w| w.diff.abs_err >= abs_err);
            self.worst.insert(at, entry);
            self.worst.truncate(WORST_KEPT);
        }
    }

    pub(super) fn finish(self) -> ErrorDistribution {
        let trimmed = |counts: &[Count], edge: &dyn Fn(usize) -> (f64, f64)| {
            let first = counts.iter().position(|c| c.elements > 0);
            let last = counts.iter().rposition(|c| c.elements > 0);
            match (first, last) {
                (Some(a), Some(b)) => (a..=b)
                    .map(|i| {
                        let (lo, hi) = edge(i);
                        Bin {
                            lo,
                            hi,
                            count: counts[i],
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        let abs_edges = |i: usize| {
            let k = i as i32 + ABS_LO;
            (abs_edge(k), abs_edge(k + 1))
        };
        let ulp_edges = |i: usize| (2f64.powi(i as i32), 2f64.powi(i as i32 + 1));
        ErrorDistribution {
            abs_err: Histogram {
                zero: self.abs_zero,
                bins: trimmed(&self.abs, &abs_edges),
            },
            ulp: Histogram {
                zero: self.ulp_zero,
                bins: trimmed(&self.ulp, &ulp_edges),
            },
            nonfinite: self.nonfinite,
            max_abs_expected: self.max_abs_expected,
            worst: self.worst,
        }
    }
}

impl ErrorDistribution {
    /// Elements counted, over both histograms' zero bins and bins and the non-finite ones.
    pub fn elements(&self) -> usize {
        self.abs_err.zero.elements
            + self
                .abs_err
                .bins
                .iter()
                .map(|b| b.count.elements)
                .sum::<usize>()
            + self.nonfinite.elements
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Preset, compare_tensors, compare_tensors_detailed};
    use ndarray::{ArrayD, IxDyn};
    use tract_onnx::prelude::Tensor;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap())
    }

    #[test]
    fn bins_are_exact_at_their_edges() {
        for k in [-40, -28, -20, -1, 0, 1, 7] {
            let edge = abs_edge(k);
            assert_eq!(abs_bin(edge), k, "10^({k}/4)");
            assert_eq!(abs_bin(edge * (1.0 - 1e-12)), k - 1);
        }
        // The smallest subnormal and the largest float have bins of their own.
        assert!(abs_bin(f64::from_bits(1)) > ABS_LO);
        assert!(abs_bin(f64::MAX) < ABS_HI - 1);
    }

    #[test]
    fn the_histogram_counts_exactly_the_mismatches_the_verdict_counts() {
        // Errors 0, 1e-7, 3e-6, 2e-5 (beyond default), 0.5 (beyond), and a NaN.
        let e = t(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        let a = t(&[1.0, 1.0 + 1e-7, 1.0 + 3e-6, 1.0 + 2.5e-5, 1.5, f32::NAN]);
        let tol = Preset::Default.tolerance();
        let (m, d) = compare_tensors_detailed(&a, &e, &tol).unwrap();
        // The same metrics as without the distribution (Debug: NaN != NaN under ==).
        assert_eq!(
            format!("{m:?}"),
            format!("{:?}", compare_tensors(&a, &e, &tol).unwrap())
        );
        let beyond: usize = d.abs_err.bins.iter().map(|b| b.count.beyond).sum::<usize>()
            + d.abs_err.zero.beyond
            + d.nonfinite.beyond;
        assert_eq!(beyond, m.mismatches);
        assert_eq!(d.elements(), m.elements);
        assert_eq!(d.abs_err.zero.elements, 1);
        assert_eq!(
            d.nonfinite,
            Count {
                elements: 1,
                beyond: 1
            }
        );
        // Bins run contiguously from the smallest error's bin to the largest's.
        let first = d.abs_err.bins.first().unwrap();
        let last = d.abs_err.bins.last().unwrap();
        assert!(first.lo <= 1.19e-7 && 1.19e-7 < first.hi, "{first:?}");
        assert!(last.lo <= 0.5 && 0.5 < last.hi, "{last:?}");
        for w in d.abs_err.bins.windows(2) {
            assert_eq!(w[0].hi, w[1].lo);
        }
        // The worst list leads with the NaN (infinite error), then 0.5.
        assert_eq!(d.worst[0].diff.index, vec![5]);
        assert_eq!(d.worst[1].diff.index, vec![4]);
        assert!(!d.worst[1].within);
        assert_eq!(d.worst.len(), 6);
        assert_eq!(d.max_abs_expected, 1.0);
        // ULP bins: 1.0 + 1e-7 is one f32 step above 1.0.
        assert_eq!(d.ulp.zero.elements, 1);
        assert_eq!(d.ulp.bins[0].lo, 1.0);
        assert_eq!(d.ulp.bins[0].count.elements, 1);
    }

    #[test]
    fn ties_keep_row_major_order_and_only_the_worst_ten() {
        let e = t(&[0.0; 25]);
        let a = t(&(0..25)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.5 })
            .collect::<Vec<_>>());
        let (_, d) = compare_tensors_detailed(&a, &e, &Preset::Exact.tolerance()).unwrap();
        let idx: Vec<usize> = d.worst.iter().map(|w| w.diff.index[0]).collect();
        assert_eq!(idx, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    }
}
