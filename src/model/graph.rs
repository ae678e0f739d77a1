//! The trained graph of either architecture: one training pass and one inference function over
//! [`ModelWeights`], each handing over to [`super::burn_mlp`] or [`super::burn_cnn`].
//!
//! Why a module of its own: training, evaluation, the runnable and the benchmarks take any
//! model; only the two graph modules know what a layer is.

use burn::tensor::Device;
use ndarray::{Array2, ArrayD, ArrayView2};

use super::burn_cnn::{self, BurnCnn};
use super::burn_mlp::{self, BurnMlp, StepOutcome};
use super::weights::ModelWeights;
use crate::loss::Formulation;

/// Forward and backward pass of one batch for one formulation, gradients shaped like
/// `weights`. `x` holds one flattened sample per row (NHWC order for the CNN).
pub fn loss_and_grads(
    weights: &ModelWeights,
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    form: Formulation,
    device: &Device,
) -> StepOutcome<ModelWeights> {
    match weights {
        ModelWeights::Mlp(w) => {
            let out = burn_mlp::loss_and_grads(w, x, y, form, device);
            StepOutcome {
                loss: out.loss,
                logits: out.logits,
                grads: out.grads.into(),
            }
        }
        ModelWeights::Cnn(w) => {
            let out = burn_cnn::loss_and_grads(w, x, y, form, device);
            StepOutcome {
                loss: out.loss,
                logits: out.logits,
                grads: out.grads.into(),
            }
        }
    }
}

/// The trained graph as an inference function, no autodiff.
pub enum BurnModel {
    Mlp(BurnMlp),
    Cnn(Box<BurnCnn>),
}

impl BurnModel {
    pub fn new(weights: &ModelWeights, device: &Device) -> Self {
        match weights {
            ModelWeights::Mlp(w) => BurnModel::Mlp(BurnMlp::new(w, device)),
            ModelWeights::Cnn(w) => BurnModel::Cnn(Box::new(BurnCnn::new(w, device))),
        }
    }

    /// Logits for one flattened sample per row.
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        match self {
            BurnModel::Mlp(m) => m.logits(x),
            BurnModel::Cnn(m) => m.logits(x),
        }
    }

    /// Logits and the sigmoid of them, from one pass.
    pub fn probabilities(&self, x: ArrayView2<f32>) -> (Array2<f32>, Array2<f32>) {
        match self {
            BurnModel::Mlp(m) => m.probabilities(x),
            BurnModel::Cnn(m) => m.probabilities(x),
        }
    }

    /// Every intermediate result, named and shaped like our export's tensors, ending in
    /// `logits` (and `probabilities` if `sigmoid`) equal to the outputs bit for bit.
    pub fn intermediates(&self, x: ArrayView2<f32>, sigmoid: bool) -> Vec<(String, ArrayD<f32>)> {
        match self {
            BurnModel::Mlp(m) => m
                .intermediates(x, sigmoid)
                .into_iter()
                .map(|(n, a)| (n, a.into_dyn()))
                .collect(),
            BurnModel::Cnn(m) => m.intermediates(x, sigmoid),
        }
    }
}
