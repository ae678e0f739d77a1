//! Tolerances and metrics: the rule every verdict rests on, and how two tensors differ.
//!
//! Why one place: a failure must name its first and worst outlier, both values and how many
//! elements broke the rule, whichever command found it. A mismatch is data (a [`Metrics`] with
//! `mismatches > 0`), never an error; tensors of another type or shape are [`Incomparable`].
//! This module must never run a model or decide what is compared with what.

pub mod distribution;
pub mod exact;
pub mod suggest;
mod tensor;
mod tolerance;

pub use distribution::ErrorDistribution;
pub(crate) use tensor::serialize_opt_f64;
pub use tensor::{
    Accumulator, AccumulatorState, Element, ElementDiff, Incomparable, Metrics, TensorAccumulator,
    Value, compare_arrays, compare_tensors, compare_tensors_detailed, compare_views, datum_name,
    serialize_f64, ulp_distance, unravel,
};
pub use tolerance::{ONNX_BACKEND, Preset, Tolerance, UnknownPreset};
