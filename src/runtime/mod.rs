//! Runtimes: one trait, several ways of computing a model's outputs.
//!
//! Why a trait: the claim "these compute the same thing" is symmetric. The trained burn graph
//! and tract running ONNX bytes answer the same question (`predict`), so the comparison stage
//! never knows which is which. The export round trip is itself a runtime: export to bytes in
//! memory, reload, run.
//! This module must never compare or judge outputs; it only produces them.

mod burn;
#[cfg(feature = "burn-import")]
mod burn_import;
mod tract;

pub use self::burn::BurnRuntime;
#[cfg(feature = "burn-import")]
pub use self::burn_import::{BurnImportRuntime, GENERATED, Generated};
pub use self::tract::TractRuntime;

use ndarray::{Array2, ArrayView2};

/// What a runtime computed for a batch of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The model's graph output (logits or probabilities, as the head decides).
    pub output: Array2<f32>,
    /// The true logits: the graph output for a logits head, the input of the final `Sigmoid`
    /// for a sigmoid head.
    pub logits: Array2<f32>,
}

/// Errors from loading or running a model, with the model named.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{model}: {message}")]
    Load { model: String, message: String },
    #[error("{model}: running on a batch of shape {shape:?}: {message}")]
    Run {
        model: String,
        shape: Vec<usize>,
        message: String,
    },
}

/// Something that computes a model's outputs for a batch `[n, features]` of f32 samples.
pub trait Runtime {
    /// A short label for reports ("burn (trained)", "tract (sigmoid.onnx)").
    fn name(&self) -> &str;
    fn predict(&mut self, x: ArrayView2<f32>) -> Result<Prediction, RuntimeError>;
}
