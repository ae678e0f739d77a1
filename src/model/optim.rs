//! Optimizers that apply Keras's update rules, in f32, on host arrays.
//!
//! Why our own: parity with TensorFlow needs the update written the way Keras writes it (burn's
//! Adam puts epsilon after the bias correction, Keras before; burn's SGD momentum has dampening).
//! The rules are short; having them here, element by element, makes the arithmetic auditable.
//! This module must never compute gradients or touch a framework tensor.

use ndarray::Zip;
use serde::{Deserialize, Serialize};

use crate::model::weights::ModelWeights;

/// The update rule and its hyper-parameters, as stored in configs and logs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// Plain SGD: `w -= lr * g`.
    Sgd { lr: f32 },
    /// Adam; `variant` says where epsilon goes.
    Adam {
        lr: f32,
        /// Kept in f64, as Keras keeps them as Python floats: `1 - beta` is computed in double
        /// precision and rounded once to f32 (0.1, not f32(0.9) subtracted from 1).
        beta1: f64,
        beta2: f64,
        epsilon: f32,
        #[serde(default)]
        variant: AdamVariant,
    },
}

/// The two published placements of Adam's epsilon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AdamVariant {
    /// Keras/TensorFlow: `alpha = lr*sqrt(1-b2^t)/(1-b1^t)`, `m += (g-m)(1-b1)`,
    /// `v += (g²-v)(1-b2)`, `w -= alpha*m / (sqrt(v) + eps)`: epsilon meets the raw `sqrt(v)`.
    #[default]
    Keras,
    /// PyTorch (and burn): `m = b1*m + (1-b1)*g`, `v = b2*v + (1-b2)*g²`,
    /// `w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)`: epsilon meets the bias-corrected root.
    Pytorch,
}

impl AdamVariant {
    /// The variant's customary epsilon: 1e-7 in Keras, 1e-8 in PyTorch.
    pub fn default_epsilon(self) -> f32 {
        match self {
            AdamVariant::Keras => 1e-7,
            AdamVariant::Pytorch => 1e-8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AdamVariant::Keras => "keras",
            AdamVariant::Pytorch => "pytorch",
        }
    }
}

impl OptimizerConfig {
    pub fn sgd(lr: f32) -> Self {
        OptimizerConfig::Sgd { lr }
    }

    /// Keras defaults: beta1 0.9, beta2 0.999, epsilon 1e-7.
    pub fn adam(lr: f32) -> Self {
        Self::adam_variant(lr, AdamVariant::Keras)
    }

    /// beta1 0.9, beta2 0.999 and the variant's customary epsilon.
    pub fn adam_variant(lr: f32, variant: AdamVariant) -> Self {
        OptimizerConfig::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: variant.default_epsilon(),
            variant,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Adam { .. } => "adam",
        }
    }

    pub fn lr(&self) -> f32 {
        match *self {
            OptimizerConfig::Sgd { lr } | OptimizerConfig::Adam { lr, .. } => lr,
        }
    }

    pub fn build(&self, like: &ModelWeights) -> Box<dyn Optimizer> {
        match *self {
            OptimizerConfig::Sgd { lr } => Box::new(Sgd { lr }),
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                epsilon,
                variant,
            } => Box::new(Adam {
                lr,
                beta1,
                beta2,
                epsilon,
                variant,
                step: 0,
                m: like.zeros_like(),
                v: like.zeros_like(),
            }),
        }
    }
}

/// One update rule. `step` is called once per batch with gradients shaped like the weights
/// (of either architecture: the rules are element by element, array by array).
pub trait Optimizer {
    fn step(&mut self, weights: &mut ModelWeights, grads: &ModelWeights);
}

/// The arrays of weights and gradients, paired, checked to fit each other.
fn paired<'a>(
    weights: &'a mut ModelWeights,
    grads: &'a ModelWeights,
) -> impl Iterator<
    Item = (
        ndarray::ArrayViewMutD<'a, f32>,
        ndarray::ArrayViewD<'a, f32>,
    ),
> {
    assert_eq!(
        weights.shapes(),
        grads.shapes(),
        "gradients are shaped like the weights"
    );
    weights
        .arrays_mut()
        .into_iter()
        .zip(grads.arrays().into_iter().map(|(_, g)| g))
}

struct Sgd {
    lr: f32,
}

impl Optimizer for Sgd {
    fn step(&mut self, weights: &mut ModelWeights, grads: &ModelWeights) {
        let lr = self.lr;
        for (mut w, g) in paired(weights, grads) {
            Zip::from(&mut w).and(&g).for_each(|w, &g| *w -= g * lr);
        }
    }
}

struct Adam {
    lr: f32,
    beta1: f64,
    beta2: f64,
    epsilon: f32,
    variant: AdamVariant,
    step: i32,
    m: ModelWeights,
    v: ModelWeights,
}

/// Apply `f(w, g, m, v)` to every parameter with its gradient and Adam's two state slots, array
/// by array. `Zip` walks each contiguous array as one flat loop that the compiler vectorizes
/// (the same f32 operations per element, so the same bits); this step used to index a list of
/// references to every parameter, rebuilt each step, and was most of a training step's time.
fn for_each_param_with_state(
    weights: &mut ModelWeights,
    grads: &ModelWeights,
    m: &mut ModelWeights,
    v: &mut ModelWeights,
    f: impl Fn(&mut f32, f32, &mut f32, &mut f32),
) {
    let state = m.arrays_mut().into_iter().zip(v.arrays_mut());
    for ((mut w, g), (mut m, mut v)) in paired(weights, grads).zip(state) {
        Zip::from(&mut w)
            .and(&g)
            .and(&mut m)
            .and(&mut v)
            .for_each(|w, &g, m, v| f(w, g, m, v));
    }
}

impl Optimizer for Adam {
    fn step(&mut self, weights: &mut ModelWeights, grads: &ModelWeights) {
        self.step += 1;
        // Both variants compute in float32 tensors in their frameworks; so do we, with the
        // constants rounded as Keras rounds them: `beta ** t` is a float32 `pow` of the float32
        // beta (powf, not repeated multiplication), `1 - beta` a double rounded to float32.
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let b1_power = b1.powf(self.step as f32);
        let b2_power = b2.powf(self.step as f32);
        let (one_minus_b1, one_minus_b2) = ((1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32);
        let (lr, eps) = (self.lr, self.epsilon);
        let (m, v) = (&mut self.m, &mut self.v);
        match self.variant {
            AdamVariant::Keras => {
                let alpha = lr * (1.0 - b2_power).sqrt() / (1.0 - b1_power);
                for_each_param_with_state(weights, grads, m, v, |w, g, m, v| {
                    *m += (g - *m) * one_minus_b1;
                    *v += (g * g - *v) * one_minus_b2;
                    *w -= (*m * alpha) / (v.sqrt() + eps);
                });
            }
            AdamVariant::Pytorch => {
                let (c1, c2) = (1.0 - b1_power, 1.0 - b2_power);
                for_each_param_with_state(weights, grads, m, v, |w, g, m, v| {
                    *m = b1 * *m + one_minus_b1 * g;
                    *v = b2 * *v + one_minus_b2 * g * g;
                    *w -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::weights::MlpWeights;

    fn one_param(value: f32) -> ModelWeights {
        let mut w = MlpWeights::glorot_uniform(&[1, 1], 0);
        w.layers[0].kernel[[0, 0]] = value;
        w.into()
    }

    fn first(w: &ModelWeights) -> f32 {
        w.arrays()[0].1[[0, 0]]
    }

    #[test]
    fn sgd_subtracts_lr_times_gradient() {
        let mut w = one_param(1.0);
        let g = one_param(0.5);
        let mut opt = OptimizerConfig::sgd(0.1).build(&w);
        opt.step(&mut w, &g);
        assert_eq!(first(&w), 1.0 - 0.05);
    }

    #[test]
    fn adam_variants_differ_only_where_epsilon_matters() {
        // With a gradient far above epsilon both rules move by lr on step 1; with a tiny
        // gradient the Keras rule (epsilon against the uncorrected root) moves less.
        let run = |variant, g: f32, eps: f32| {
            let mut w = one_param(1.0);
            let cfg = OptimizerConfig::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: eps,
                variant,
            };
            cfg.build(&w).step(&mut w, &one_param(g));
            1.0 - first(&w)
        };
        for v in [AdamVariant::Keras, AdamVariant::Pytorch] {
            assert!((run(v, 1.0, 1e-7) - 1e-3).abs() < 1e-6);
        }
        // g = 1e-6: sqrt(v) = 3.16e-8 uncorrected, 1e-6 corrected; eps 1e-7 dominates Keras's.
        let keras = run(AdamVariant::Keras, 1e-6, 1e-7);
        let torch = run(AdamVariant::Pytorch, 1e-6, 1e-7);
        assert!(
            keras < 0.3e-3 && torch > 0.9e-3,
            "keras {keras}, pytorch {torch}"
        );
    }

    #[test]
    fn adam_first_step_moves_by_about_lr_whatever_the_gradient_size() {
        for g in [1e-2f32, 1.0, 1e3] {
            let mut w = one_param(1.0);
            OptimizerConfig::adam(1e-3)
                .build(&w)
                .step(&mut w, &one_param(g));
            let moved = 1.0 - first(&w);
            assert!((moved - 1e-3).abs() < 1e-5, "gradient {g}: moved {moved}");
        }
    }

    #[test]
    fn adam_first_steps_match_a_hand_computed_f64_reference() {
        // Keras Adam, f64 reference of three steps with gradients 0.5, -0.25, 1.0:
        // t=1: m=0.05, v=0.00025, alpha=1e-3*sqrt(0.001)/0.1 -> w -= alpha*m/(sqrt(v)+1e-7)
        let grads = [0.5f64, -0.25, 1.0];
        let (lr, b1, b2, eps) = (1e-3f64, 0.9f64, 0.999f64, 1e-7f64);
        let (mut w, mut m, mut v) = (1.0f64, 0.0f64, 0.0f64);
        let mut ww = one_param(1.0);
        let mut opt = OptimizerConfig::adam(1e-3).build(&ww);
        for (t, &g) in grads.iter().enumerate() {
            let t = t as i32 + 1;
            let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            m += (g - m) * (1.0 - b1);
            v += (g * g - v) * (1.0 - b2);
            w -= alpha * m / (v.sqrt() + eps);
            opt.step(&mut ww, &one_param(g as f32));
            let got = f64::from(first(&ww));
            assert!((got - w).abs() < 1e-6, "step {t}: {got} vs {w}");
        }
    }
}
