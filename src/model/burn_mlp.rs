//! The MLP as a burn graph: forward pass, both training losses, and gradients.
//!
//! Why it is built from raw tensors rather than `burn::nn::Linear`: parameters are loaded from
//! [`MlpWeights`] every step and gradients go back to host arrays, where the optimizer applies the
//! exact Keras update. What burn owns here is what it is good at: the forward graph and autodiff.
//! This module must never hold optimizer state or decide the update rule.

use burn::tensor::{Device, Tensor, TensorData, activation};
use ndarray::{Array1, Array2, ArrayView2};

use crate::loss::{Formulation, KERAS_EPSILON};
use crate::model::weights::{Dense, MlpWeights};

/// The CPU device all burn work runs on: the pure-Rust `flex` backend.
pub fn cpu() -> Device {
    Device::flex()
}

/// Host array to a burn tensor (copies; burn owns its buffers). A row-major array (weights, a
/// batch of rows) is one memcpy rather than an element-by-element walk.
pub fn tensor2(a: ArrayView2<f32>, device: &Device) -> Tensor<2> {
    let shape = [a.nrows(), a.ncols()];
    let data: Vec<f32> = match a.as_slice() {
        Some(row_major) => row_major.to_vec(),
        None => a.iter().copied().collect(),
    };
    Tensor::from_data(TensorData::new(data, shape), device)
}

pub(crate) fn tensor1(a: &Array1<f32>, device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(a.to_vec(), [a.len()]), device)
}

/// The values of a tensor read back from burn, reusing its buffer where burn allows.
pub(crate) fn host_vec<const D: usize>(t: Tensor<D>) -> (Vec<f32>, [usize; D]) {
    let dims = t.dims();
    let values = t
        .into_data()
        .try_into_vec::<f32>()
        .expect("burn float tensors hold f32 here");
    (values, dims)
}

/// Burn tensor back to a host array.
pub fn array2(t: Tensor<2>) -> Array2<f32> {
    let (values, [r, c]) = host_vec(t);
    Array2::from_shape_vec((r, c), values).expect("burn reported consistent dims")
}

pub(crate) fn array1(t: Tensor<1>) -> Array1<f32> {
    Array1::from(host_vec(t).0)
}

/// The parameters placed on a device; `tracked` makes them autodiff leaves.
struct Params {
    layers: Vec<(Tensor<2>, Tensor<1>)>,
}

impl Params {
    fn load(weights: &MlpWeights, device: &Device, tracked: bool) -> Self {
        let layers = weights
            .layers
            .iter()
            .map(|l| {
                let k = tensor2(l.kernel.view(), device);
                let b = tensor1(&l.bias, device);
                if tracked {
                    (k.require_grad(), b.require_grad())
                } else {
                    (k, b)
                }
            })
            .collect();
        Self { layers }
    }

    /// `relu(x W + b)` for every layer but the last, which stays linear: the logits.
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |h, (i, layer)| {
            let z = linear(h, layer);
            if i == last { z } else { activation::relu(z) }
        })
    }
}

/// One dense layer's `h W + b`: the single place its burn ops are written, so every path
/// through the model (training, inference, intermediates) computes the same bits.
fn linear(h: Tensor<2>, (k, b): &(Tensor<2>, Tensor<1>)) -> Tensor<2> {
    matmul_fixed_blocks(h, k.clone()) + b.clone().unsqueeze::<2>()
}

/// Longest reduction one matrix product may run over: the smallest block the `gemm` crate
/// (under burn's `flex` backend) ever picks.
pub const MAX_REDUCTION_BLOCK: usize = 512;

/// Whether this machine's `gemm`, left to itself, splits a reduction of length `k` into the same
/// blocks as [`matmul_fixed_blocks`]. Code that multiplies through burn directly (burn-import's
/// generated models) then rounds like the trained graph here; elsewhere it need not.
pub fn plain_matmul_blocks_like_fixed(k: usize) -> bool {
    let device = cpu();
    let mut rng = crate::rng::Rng::new(k as u64);
    let a = Array2::from_shape_simple_fn((2, k), || rng.uniform_f32(-1.0, 1.0));
    let b = Array2::from_shape_simple_fn((k, 3), || rng.uniform_f32(-1.0, 1.0));
    let (ta, tb) = (tensor2(a.view(), &device), tensor2(b.view(), &device));
    array2(ta.clone().matmul(tb.clone())) == array2(matmul_fixed_blocks(ta, tb))
}

/// `a b`, with the reduction split into the same blocks on every machine.
///
/// Why: `gemm` sizes its reduction blocks from the cache sizes the CPU reports, and a product
/// over 784 inputs is one block of 784 on some machines and two of 392 on others, which rounds
/// differently. Training would then give other bits on another machine, and committed artifacts
/// would not reproduce. Here the reduction is cut into `ceil(k / 512)` blocks of equal length
/// (the last one shorter), which `gemm` runs as one block each everywhere, and the partial
/// products are added left to right, exactly what `gemm` does when it splits itself.
pub fn matmul_fixed_blocks(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let [m, k] = a.dims();
    let n = b.dims()[1];
    if k <= MAX_REDUCTION_BLOCK {
        return a.matmul(b);
    }
    let block = k.div_ceil(k.div_ceil(MAX_REDUCTION_BLOCK));
    (0..k)
        .step_by(block)
        .map(|start| {
            let end = (start + block).min(k);
            a.clone()
                .slice([0..m, start..end])
                .matmul(b.clone().slice([start..end, 0..n]))
        })
        .reduce(|sum, part| sum + part)
        .expect("k > 512, so at least two blocks")
}

/// Logits-form training loss as a burn graph (TensorFlow's stable expression).
pub fn logits_form_loss(z: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    let per_elem = z.clone().clamp_min(0.0) - z.clone() * y + z.abs().neg().exp().log1p();
    per_elem.mean_dim(1).mean()
}

/// Probability-form training loss as a burn graph (Keras `binary_crossentropy` on a sigmoid).
/// The clip's gradient is zero outside `[eps, 1-eps]`, exactly as `tf.clip_by_value`'s.
pub fn probs_form_loss(p: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    let p = p.clamp(KERAS_EPSILON, 1.0 - KERAS_EPSILON);
    let one_minus_y = y.clone().neg().add_scalar(1.0);
    let one_minus_p = p.clone().neg().add_scalar(1.0);
    let per_elem = (y * p.log() + one_minus_y * one_minus_p.log()).neg();
    per_elem.mean_dim(1).mean()
}

/// What one training step's forward and backward pass produced.
#[derive(Debug, Clone)]
pub struct StepOutcome<W = MlpWeights> {
    /// The formulation's loss as the training graph computed it (f32).
    pub loss: f32,
    /// Logits of the batch, before the update.
    pub logits: Array2<f32>,
    /// Gradients of the loss, shaped like the weights.
    pub grads: W,
}

/// Forward and backward pass of one batch for one formulation. Nothing is updated here.
pub fn loss_and_grads(
    weights: &MlpWeights,
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    form: Formulation,
    device: &Device,
) -> StepOutcome {
    let device = device.clone().autodiff();
    let params = Params::load(weights, &device, true);
    let x = tensor2(x, &device);
    let y = tensor2(y, &device);
    let z = params.logits(x);
    let loss = match form {
        Formulation::Logits => logits_form_loss(z.clone(), y),
        Formulation::Probs => probs_form_loss(activation::sigmoid(z.clone()), y),
    };
    let grads = loss.backward();
    let loss_value = loss.into_data().as_slice::<f32>().expect("f32 loss")[0];
    let grads = MlpWeights {
        layers: params
            .layers
            .iter()
            .zip(&weights.layers)
            .map(|((k, b), l)| Dense {
                name: l.name.clone(),
                kernel: array2(k.grad(&grads).expect("kernel is a tracked leaf")),
                bias: array1(b.grad(&grads).expect("bias is a tracked leaf")),
            })
            .collect(),
    };
    StepOutcome {
        loss: loss_value,
        logits: array2(z.inner()),
        grads,
    }
}

/// The trained graph as an inference function: logits for a batch, no autodiff.
pub struct BurnMlp {
    params: Params,
    /// Layer names (`dense`, `dense_1`, ...), for naming intermediate results.
    names: Vec<String>,
    device: Device,
}

impl BurnMlp {
    pub fn new(weights: &MlpWeights, device: &Device) -> Self {
        let device = device.clone().without_autodiff();
        Self {
            params: Params::load(weights, &device, false),
            names: weights.layers.iter().map(|l| l.name.clone()).collect(),
            device,
        }
    }

    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        array2(self.params.logits(tensor2(x, &self.device)))
    }

    /// The sigmoid head as burn computes it (what the probability model outputs).
    pub fn probabilities(&self, x: ArrayView2<f32>) -> (Array2<f32>, Array2<f32>) {
        let z = self.params.logits(tensor2(x, &self.device));
        (array2(z.clone()), array2(activation::sigmoid(z)))
    }

    /// Every intermediate result, named as the ONNX export names its tensors
    /// (`dense/linear`, `dense/relu`, ..., `logits`, then `probabilities` if `sigmoid`), computed
    /// by the same burn ops as [`BurnMlp::logits`], so the last values equal its output bit for
    /// bit. This is what lets a layer-by-layer comparison line burn up with an ONNX runtime.
    pub fn intermediates(&self, x: ArrayView2<f32>, sigmoid: bool) -> Vec<(String, Array2<f32>)> {
        let mut out = Vec::new();
        let last = self.params.layers.len() - 1;
        let mut h = tensor2(x, &self.device);
        for (i, (layer, name)) in self.params.layers.iter().zip(&self.names).enumerate() {
            let z = linear(h, layer);
            if i == last {
                out.push((super::export::LOGITS.to_string(), array2(z.clone())));
                if sigmoid {
                    let p = activation::sigmoid(z.clone());
                    out.push((super::export::PROBABILITIES.to_string(), array2(p)));
                }
                break;
            } else {
                out.push((format!("{name}/linear"), array2(z.clone())));
                let r = activation::relu(z);
                out.push((format!("{name}/relu"), array2(r.clone())));
                h = r;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss;
    use ndarray::{Array2, arr2};

    fn small_weights() -> MlpWeights {
        MlpWeights::glorot_uniform(&[4, 3, 2], 5)
    }

    fn naive_logits(w: &MlpWeights, x: &Array2<f32>) -> Array2<f64> {
        let mut h = x.mapv(f64::from);
        for (i, l) in w.layers.iter().enumerate() {
            let z = h.dot(&l.kernel.mapv(f64::from)) + l.bias.mapv(f64::from);
            h = if i + 1 == w.layers.len() {
                z
            } else {
                z.mapv(|v| v.max(0.0))
            };
        }
        h
    }

    #[test]
    fn forward_matches_a_naive_f64_reference() {
        let w = small_weights();
        let x = arr2(&[[0.1f32, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 0.0]]);
        let got = BurnMlp::new(&w, &cpu()).logits(x.view());
        let want = naive_logits(&w, &x);
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-6);
        }
    }

    /// Each block is one fused multiply-add chain from zero, blocks added left to right: the
    /// same bits whatever cache sizes the CPU reports (the reason for the fixed blocks).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn long_reductions_round_the_same_on_every_machine() {
        if !std::arch::is_x86_feature_detected!("fma") {
            eprintln!("no FMA on this CPU: gemm's kernels round each product, nothing to pin");
            return;
        }
        let (m, k, n) = (3, 784, 5);
        let mut rng = crate::rng::Rng::new(7);
        let a = Array2::from_shape_simple_fn((m, k), || rng.uniform_f32(-1.0, 1.0));
        let b = Array2::from_shape_simple_fn((k, n), || rng.uniform_f32(-1.0, 1.0));
        let dev = cpu();
        let got = array2(matmul_fixed_blocks(
            tensor2(a.view(), &dev),
            tensor2(b.view(), &dev),
        ));
        // 784 = two blocks of 392.
        let chain = |i: usize, j: usize, lo: usize, hi: usize| {
            (lo..hi).fold(0.0f32, |acc, t| a[[i, t]].mul_add(b[[t, j]], acc))
        };
        for ((i, j), g) in got.indexed_iter() {
            let want = chain(i, j, 0, 392) + chain(i, j, 392, 784);
            assert_eq!(g.to_bits(), want.to_bits(), "[{i}, {j}]: {g} vs {want}");
        }
    }

    #[test]
    fn training_losses_equal_the_reference_losses() {
        let w = small_weights();
        let x = arr2(&[[0.1f32, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 0.0]]);
        let y = arr2(&[[1.0f32, 0.0], [0.0, 1.0]]);
        let dev = cpu();
        for form in Formulation::BOTH {
            let out = loss_and_grads(&w, x.view(), y.view(), form, &dev);
            let z = out.logits.clone().into_dyn();
            let yy = y.clone().into_dyn();
            let want = loss::logits_form_f64(&z.view(), &yy.view()).unwrap().value;
            assert!(
                (f64::from(out.loss) - want).abs() < 1e-6,
                "{form}: {} vs {want}",
                out.loss
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        // d loss / d bias of the last layer = mean over batch of (sigmoid(z) - y) / classes.
        let w = small_weights();
        let x = arr2(&[[0.1f32, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 0.0]]);
        let y = arr2(&[[1.0f32, 0.0], [0.0, 1.0]]);
        let dev = cpu();
        for form in Formulation::BOTH {
            let out = loss_and_grads(&w, x.view(), y.view(), form, &dev);
            let z = naive_logits(&w, &x);
            for j in 0..2 {
                let want: f64 = (0..2)
                    .map(|i| (loss::sigmoid_f64(z[[i, j]]) - f64::from(y[[i, j]])) / 2.0 / 2.0)
                    .sum();
                let got = f64::from(out.grads.layers[1].bias[j]);
                assert!(
                    (got - want).abs() < 1e-6,
                    "{form} bias {j}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn intermediates_end_in_the_outputs_bit_for_bit() {
        let w = MlpWeights::glorot_uniform(&[4, 3, 3, 2], 8);
        let x = arr2(&[[0.1f32, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 0.0]]);
        let m = BurnMlp::new(&w, &cpu());
        let all = m.intermediates(x.view(), true);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "dense/linear",
                "dense/relu",
                "dense_1/linear",
                "dense_1/relu",
                "logits",
                "probabilities"
            ]
        );
        let (z, p) = m.probabilities(x.view());
        assert_eq!(all[4].1, z);
        assert_eq!(all[5].1, p);
        assert!(all[1].1.iter().all(|&v| v >= 0.0));
    }

    #[test]
    fn clip_kills_the_probability_gradient_when_saturated() {
        // One logit pushed to +40 with target 0: the logits form still pulls it back, the
        // probability form's clip gives exactly zero gradient.
        let mut w = MlpWeights::glorot_uniform(&[1, 1, 1], 1);
        w.layers[0].kernel[[0, 0]] = 1.0;
        w.layers[1].kernel[[0, 0]] = 1.0;
        let x = arr2(&[[40.0f32]]);
        let y = arr2(&[[0.0f32]]);
        let dev = cpu();
        let lg = loss_and_grads(&w, x.view(), y.view(), Formulation::Logits, &dev);
        let pr = loss_and_grads(&w, x.view(), y.view(), Formulation::Probs, &dev);
        assert!((lg.grads.layers[1].bias[0] - 1.0).abs() < 1e-6);
        assert_eq!(pr.grads.layers[1].bias[0], 0.0);
        assert!((pr.loss - 15.942385).abs() < 1e-4, "{}", pr.loss);
        assert_eq!(lg.loss, 40.0);

        // At +40 the sigmoid is exactly 1 in f32, so its own derivative is 0 and the case
        // above cannot tell a clip that stops the gradient from one that passes it through.
        // At z = -16.5 the probability (6.8e-8) is below the clip but the sigmoid's derivative
        // is not 0: only the clip's zero gradient gives exactly 0 here (a pass-through clip
        // gives about -0.68). The upper side cannot show this in f32: there burn's sigmoid is
        // either exactly 1 or at most 1 - 2^-23, the clip's own bound.
        // The hidden unit is a relu carrying 16.5; the head's kernel -1 makes z = -16.5.
        let mut w = w.clone();
        w.layers[1].kernel[[0, 0]] = -1.0;
        let x = arr2(&[[16.5f32]]);
        let y = arr2(&[[1.0f32]]);
        let lg = loss_and_grads(&w, x.view(), y.view(), Formulation::Logits, &dev);
        let pr = loss_and_grads(&w, x.view(), y.view(), Formulation::Probs, &dev);
        assert!((lg.grads.layers[1].bias[0] + 1.0).abs() < 1e-6);
        assert_eq!(
            pr.grads.layers[1].bias[0], 0.0,
            "the clip let a gradient through"
        );
        assert_eq!(pr.grads.layers[0].kernel[[0, 0]], 0.0);
    }
}
