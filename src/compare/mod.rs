//! Comparing numbers: named tolerances and the metrics of a pair of tensors.
//!
//! Why one place: every verdict this tool prints rests on the rule written here, and a failure
//! must name its first and worst outlier, both values and how many elements broke the rule.
//! A mismatch is data (a [`Metrics`] with `mismatches > 0`), never an error.
//! This module must never run a model or decide what is compared with what.

mod metrics;
mod tensor;
mod tolerance;

pub use metrics::{Metrics, Outlier, compare, ulp_distance};
pub use tensor::{
    CompareError, ElementDiff, TensorMetrics, Value, compare_tensors, datum_name, serialize_f64,
};
pub use tolerance::{ONNX_BACKEND, Preset, Tolerance};
