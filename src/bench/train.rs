//! Training throughput: the seed MLP 784-128-10 and the CNN (8 filters), batch 100, Adam (Keras
//! rule), per formulation.
//!
//! A repetition is one pass over the first 8,000 samples in file order (80 steps) from the same
//! initial weights and a fresh optimizer, so every repetition does the same arithmetic. A step
//! is what `train` does for one formulation: burn's forward and backward pass, gradients back to
//! the host, the Keras update. That is the work of the reference's `tf.function` step.

use burn::tensor::{Tensor, TensorData};
use ndarray::s;

use super::{BenchError, Figure, Timer, dense_flops};
use crate::dataset::Dataset;
use crate::loss::Formulation;
use crate::model::burn_mlp;
use crate::model::graph;
use crate::model::train::{self, TrainConfig};
use crate::model::weights::{CONV_KERNEL, CnnDims};
use crate::model::{Arch, ModelWeights, OptimizerConfig};

pub const BATCH: usize = 100;
pub const TRAIN_SAMPLES: usize = 8_000;
pub const HIDDEN: usize = 128;
/// Filters of the benchmarked CNN (the `--filters` default).
pub const FILTERS: usize = 8;

/// FLOPs of one training sample: the forward pass, then the gradients of both kernels and of
/// the hidden activations (the input needs none). Bias, ReLU and loss are left out (<1%).
pub fn train_flops(sizes: &[usize]) -> f64 {
    let forward: f64 = sizes.windows(2).map(|w| dense_flops(w[0], w[1])).sum();
    let kernel_grads = forward;
    let hidden_grads: f64 = sizes[1..].windows(2).map(|w| dense_flops(w[0], w[1])).sum();
    forward + kernel_grads + hidden_grads
}

/// FLOPs of one CNN training sample: the convolution and the dense layer forward, their
/// kernel gradients, and the gradient flowing back into the pooled map (the input needs none).
/// Bias, ReLU, pooling and loss are left out.
pub fn cnn_train_flops(dims: &CnnDims, outputs: usize) -> f64 {
    let taps = CONV_KERNEL * CONV_KERNEL * dims.input[2];
    let conv = 2.0 * (dims.conv[0] * dims.conv[1] * taps * dims.filters) as f64;
    let dense = dense_flops(dims.flat(), outputs);
    2.0 * (conv + dense) + dense
}

/// One pass of `steps` batches for one formulation, as `train` runs it.
fn epoch(
    initial: &ModelWeights,
    optimizer: &OptimizerConfig,
    x: &ndarray::Array2<f32>,
    y: &ndarray::Array2<f32>,
    form: Formulation,
) -> f32 {
    let device = burn_mlp::cpu();
    let mut w = initial.clone();
    let mut opt = optimizer.build(&w);
    let mut last = 0.0;
    for start in (0..x.nrows()).step_by(BATCH) {
        let end = (start + BATCH).min(x.nrows());
        let out = graph::loss_and_grads(
            &w,
            x.slice(s![start..end, ..]),
            y.slice(s![start..end, ..]),
            form,
            &device,
        );
        opt.step(&mut w, &out.grads);
        last = out.loss;
    }
    last
}

pub fn run(timer: &Timer, data: &Dataset) -> Result<Vec<Figure>, BenchError> {
    let n = TRAIN_SAMPLES.min(data.len());
    let (train_set, eval_set) = data.split(n, data.len().min(n + 2_000) - n)?;
    let x = train_set.images.clone();
    let y = train_set.targets();
    let image = [train_set.rows, train_set.cols, 1];
    let config = TrainConfig {
        hidden: vec![HIDDEN],
        epochs: 1,
        batch_size: BATCH,
        optimizer: OptimizerConfig::adam(1e-3),
        shuffle: false,
        ..TrainConfig::default()
    };
    let initial = config.glorot_init(image, y.ncols());
    let ModelWeights::Mlp(mlp) = &initial else {
        unreachable!("the default config is the MLP")
    };
    let flops = Some(train_flops(&mlp.sizes()));
    let mut figures = Vec::new();
    for form in Formulation::BOTH {
        let what = format!(
            "train step ({} form), batch {BATCH}, adam, {n} samples",
            form.name()
        );
        let times = timer.time(|| epoch(&initial, &config.optimizer, &x, &y, form));
        figures.push(times.throughput(&format!("train.{}", form.name()), &what, n, flops));
    }
    // The `train` command itself: both formulations in lockstep, the per-step records, and the
    // held-out evaluation at the end of the epoch. A sample here is trained in both models.
    let times = timer.time(|| {
        train::train(&config, initial.clone(), &train_set, &eval_set, |_| {})
            .steps
            .len()
    });
    figures.push(times.throughput(
        "train.lockstep",
        &format!(
            "train command, both forms in lockstep + records + eval of {}, {n} samples",
            eval_set.len()
        ),
        n,
        flops.map(|f| 2.0 * f),
    ));
    // The CNN, the same loop: Conv2D(8, 3x3) relu, max-pool 2x2, dense 1352-10.
    let cnn_config = TrainConfig {
        arch: Arch::Cnn { filters: FILTERS },
        hidden: Vec::new(),
        ..config.clone()
    };
    let cnn = cnn_config.glorot_init(image, y.ncols());
    let ModelWeights::Cnn(cnn_weights) = &cnn else {
        unreachable!("a CNN config")
    };
    let cnn_flops = Some(cnn_train_flops(&cnn_weights.dims(), y.ncols()));
    for form in Formulation::BOTH {
        let what = format!(
            "CNN train step ({} form), {FILTERS} filters, batch {BATCH}, adam, {n} samples",
            form.name()
        );
        let times = timer.time(|| epoch(&cnn, &config.optimizer, &x, &y, form));
        figures.push(times.throughput(&format!("train.cnn.{}", form.name()), &what, n, cnn_flops));
    }
    Ok(figures)
}

/// What the matrix-multiply kernels burn uses reach on a large square product: the practical
/// ceiling the training figures can be set against.
pub fn roof(timer: &Timer) -> Vec<Figure> {
    const N: usize = 1024;
    let device = burn_mlp::cpu();
    let a: Tensor<2> = Tensor::from_data(
        TensorData::new((0..N * N).map(|i| (i % 7) as f32).collect(), [N, N]),
        &device,
    );
    let b = a.clone();
    let product = || a.clone().matmul(b.clone()).into_data().num_elements();
    let flops = dense_flops(N, N) * N as f64;
    let what = format!("burn (flex) matmul {N}x{N}x{N}, 1 product");
    let f = timer
        .time(product)
        .throughput("roof.gemm", &what, 1, Some(flops));
    // One product per repetition: its rate times its FLOPs is the figure.
    vec![Figure {
        unit: super::Unit::GflopsPerSecond,
        value: f.value * flops / 1e9,
        low: f.low * flops / 1e9,
        high: f.high * flops / 1e9,
        flops_per_sample: None,
        ..f
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_of_the_cnn() {
        // conv 2*26*26*9*8 = 97,344; dense 2*1352*10 = 27,040; twice each, plus the pooled
        // map's gradient 27,040.
        let dims = CnnDims::new([28, 28, 1], 8).unwrap();
        assert_eq!(
            cnn_train_flops(&dims, 10),
            2.0 * (97_344.0 + 27_040.0) + 27_040.0
        );
    }

    #[test]
    fn flops_of_the_seed_mlp() {
        // forward 2*(784*128 + 128*10) = 203,264; kernel grads the same; hidden grads 2*128*10.
        assert_eq!(train_flops(&[784, 128, 10]), 203_264.0 * 2.0 + 2_560.0);
    }
}
