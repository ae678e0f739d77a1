//! Parameters of the MLP as plain host arrays, in Keras layout.
//!
//! Why plain arrays: the same numbers move between burn (training), our ONNX exporter, npz files
//! and Keras. Keeping the canonical copy here, outside any framework, makes every hand-over
//! explicit and bit-exact. Kernels are `[fan_in, fan_out]` (Keras `Dense` and burn `Linear`),
//! biases `[fan_out]`; layer `i` is named like Keras names them: `dense`, `dense_1`, ...

use ndarray::{Array1, Array2};

use crate::rng::Rng;

/// One fully connected layer, `y = x @ kernel + bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub name: String,
    pub kernel: Array2<f32>,
    pub bias: Array1<f32>,
}

/// A stack of dense layers with ReLU between them; the head activation is decided elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpWeights {
    pub layers: Vec<Dense>,
}

/// Keras's layer names in creation order: `dense`, `dense_1`, `dense_2`, ...
pub fn keras_dense_name(index: usize) -> String {
    if index == 0 {
        "dense".to_string()
    } else {
        format!("dense_{index}")
    }
}

impl MlpWeights {
    /// Keras default initialisation: glorot-uniform kernels `U(±sqrt(6/(fan_in+fan_out)))` drawn
    /// row-major, zero biases. `sizes` lists the widths, input first (e.g. `[784, 128, 10]`).
    pub fn glorot_uniform(sizes: &[usize], seed: u64) -> Self {
        let mut rng = Rng::derive(seed, "glorot-uniform");
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let (fan_in, fan_out) = (w[0], w[1]);
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
                let kernel = Array2::from_shape_simple_fn((fan_in, fan_out), || {
                    rng.uniform_f32(-limit, limit)
                });
                Dense {
                    name: keras_dense_name(i),
                    kernel,
                    bias: Array1::zeros(fan_out),
                }
            })
            .collect();
        Self { layers }
    }

    pub fn input_dim(&self) -> usize {
        self.layers.first().map_or(0, |l| l.kernel.nrows())
    }

    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.kernel.ncols())
    }

    /// Widths, input first, as given to [`MlpWeights::glorot_uniform`].
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.input_dim()];
        s.extend(self.layers.iter().map(|l| l.kernel.ncols()));
        s
    }

    pub fn param_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.kernel.len() + l.bias.len())
            .sum()
    }

    /// Largest absolute difference over all parameters; `None` if the architectures differ.
    pub fn max_abs_diff(&self, other: &MlpWeights) -> Option<f32> {
        if self.sizes() != other.sizes() {
            return None;
        }
        let mut worst = 0.0f32;
        for (a, b) in self.layers.iter().zip(&other.layers) {
            for (x, y) in a
                .kernel
                .iter()
                .zip(&b.kernel)
                .chain(a.bias.iter().zip(&b.bias))
            {
                worst = worst.max((x - y).abs());
            }
        }
        Some(worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_is_seeded_bounded_and_keras_named() {
        let a = MlpWeights::glorot_uniform(&[784, 128, 10], 42);
        let b = MlpWeights::glorot_uniform(&[784, 128, 10], 42);
        assert_eq!(a, b);
        assert_ne!(a, MlpWeights::glorot_uniform(&[784, 128, 10], 43));
        assert_eq!(a.sizes(), vec![784, 128, 10]);
        assert_eq!(a.param_count(), 784 * 128 + 128 + 128 * 10 + 10);
        assert_eq!(a.layers[0].name, "dense");
        assert_eq!(a.layers[1].name, "dense_1");
        let limit = (6.0f64 / (784.0 + 128.0)).sqrt() as f32;
        assert!(a.layers[0].kernel.iter().all(|v| v.abs() <= limit));
        // Uniform on ±limit has standard deviation limit/sqrt(3).
        let n = a.layers[0].kernel.len() as f64;
        let var = a.layers[0]
            .kernel
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            / n;
        let want = f64::from(limit).powi(2) / 3.0;
        assert!((var / want - 1.0).abs() < 0.02, "variance {var} vs {want}");
        assert!(a.layers.iter().all(|l| l.bias.iter().all(|&b| b == 0.0)));
    }
}
