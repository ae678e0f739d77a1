//! Parameters of the models as plain host arrays, in Keras layout.
//!
//! Why plain arrays: the same numbers move between burn (training), our ONNX exporter, npz files
//! and Keras. Keeping the canonical copy here, outside any framework, makes every hand-over
//! explicit and bit-exact. Dense kernels are `[fan_in, fan_out]` (Keras `Dense` and burn
//! `Linear`), biases `[fan_out]`; layer `i` is named like Keras names them: `dense`, `dense_1`,
//! ... A convolution kernel is Keras's `[kh, kw, in, filters]` (HWIO), named `conv2d`.
//! [`ModelWeights`] is either architecture; optimizers, files and comparisons see it as a list
//! of named arrays ([`ModelWeights::arrays`]), so they need not know which.

use ndarray::{Array1, Array2, Array4, ArrayViewD, ArrayViewMutD};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Which network: the dense stack, or the small CNN. Stored in training configs; the MLP's
/// hidden widths sit beside it (`TrainConfig::hidden`), the CNN's one setting inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Arch {
    /// Dense layers with ReLU between them.
    #[default]
    Mlp,
    /// `Conv2D(filters, 3x3, valid, relu) -> MaxPooling2D(2) -> Flatten -> Dense`.
    Cnn { filters: usize },
}

impl Arch {
    pub fn is_mlp(&self) -> bool {
        matches!(self, Arch::Mlp)
    }

    /// `mlp` or `cnn`, as the `--arch` flag spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Arch::Mlp => "mlp",
            Arch::Cnn { .. } => "cnn",
        }
    }
}

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

/// Side of the CNN's convolution kernel (Keras `Conv2D(filters, 3)`).
pub const CONV_KERNEL: usize = 3;
/// Window and stride of the CNN's max-pooling (Keras `MaxPooling2D(2)`).
pub const POOL: usize = 2;
/// Keras's names of the CNN's layers, in order.
pub const CONV_NAME: &str = "conv2d";
pub const POOL_NAME: &str = "max_pooling2d";
pub const FLATTEN_NAME: &str = "flatten";

/// A 2-D convolution, `y = conv(x, kernel) + bias`, Keras layout: kernel `[kh, kw, in,
/// filters]` (HWIO), bias `[filters]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    pub name: String,
    pub kernel: Array4<f32>,
    pub bias: Array1<f32>,
}

impl Conv2d {
    pub fn in_channels(&self) -> usize {
        self.kernel.shape()[2]
    }

    pub fn filters(&self) -> usize {
        self.kernel.shape()[3]
    }
}

/// The CNN: `conv2d` (3x3, valid padding, stride 1, ReLU), 2x2 max-pooling (stride 2, valid),
/// flatten in Keras's NHWC order (row, column, channel), then one `dense` layer whose output
/// is the logits. `input` is the image `[height, width, channels]` (NHWC without the batch).
#[derive(Debug, Clone, PartialEq)]
pub struct CnnWeights {
    pub input: [usize; 3],
    pub conv: Conv2d,
    pub dense: Dense,
}

/// What the CNN's layers make of an input image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CnnDims {
    pub input: [usize; 3],
    /// Convolution output `[height, width]` (valid 3x3: two less each way).
    pub conv: [usize; 2],
    /// Pooled `[height, width]` (Keras floors: an odd last row or column is dropped).
    pub pooled: [usize; 2],
    pub filters: usize,
}

impl CnnDims {
    /// `None` when the image is too small for a 3x3 convolution and a 2x2 pool.
    pub fn new(input: [usize; 3], filters: usize) -> Option<Self> {
        let [h, w, _] = input;
        let conv = [
            h.checked_sub(CONV_KERNEL - 1)?,
            w.checked_sub(CONV_KERNEL - 1)?,
        ];
        let pooled = [conv[0] / POOL, conv[1] / POOL];
        (pooled[0] > 0 && pooled[1] > 0).then_some(Self {
            input,
            conv,
            pooled,
            filters,
        })
    }

    /// Inputs of the dense layer: `pooled height * pooled width * filters`.
    pub fn flat(&self) -> usize {
        self.pooled[0] * self.pooled[1] * self.filters
    }

    /// Features of one input image.
    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }
}

impl CnnWeights {
    /// Keras default initialisation: glorot-uniform kernels with Keras's receptive-field fans
    /// (conv: `fan_in = 3*3*in`, `fan_out = 3*3*filters`; dense: its rows and columns), drawn
    /// row-major, conv first; zero biases.
    ///
    /// # Panics
    /// If the image is smaller than 4x4 (no pooled output); callers check with
    /// [`CnnDims::new`] first.
    pub fn glorot_uniform(input: [usize; 3], filters: usize, outputs: usize, seed: u64) -> Self {
        let dims = CnnDims::new(input, filters).expect("an image of at least 4x4");
        let mut rng = Rng::derive(seed, "glorot-uniform");
        let limit = |fan_in: usize, fan_out: usize| (6.0 / (fan_in + fan_out) as f64).sqrt();
        let area = CONV_KERNEL * CONV_KERNEL;
        let conv_limit = limit(area * input[2], area * filters) as f32;
        let kernel =
            Array4::from_shape_simple_fn((CONV_KERNEL, CONV_KERNEL, input[2], filters), || {
                rng.uniform_f32(-conv_limit, conv_limit)
            });
        let dense_limit = limit(dims.flat(), outputs) as f32;
        let dense_kernel = Array2::from_shape_simple_fn((dims.flat(), outputs), || {
            rng.uniform_f32(-dense_limit, dense_limit)
        });
        Self {
            input,
            conv: Conv2d {
                name: CONV_NAME.to_string(),
                kernel,
                bias: Array1::zeros(filters),
            },
            dense: Dense {
                name: keras_dense_name(0),
                kernel: dense_kernel,
                bias: Array1::zeros(outputs),
            },
        }
    }

    pub fn dims(&self) -> CnnDims {
        CnnDims::new(self.input, self.conv.filters()).expect("checked when the weights were made")
    }

    pub fn output_dim(&self) -> usize {
        self.dense.kernel.ncols()
    }
}

/// The weights of either architecture (the CNN's fixed-size parts are boxed, so the enum
/// stays small).
#[derive(Debug, Clone, PartialEq)]
pub enum ModelWeights {
    Mlp(MlpWeights),
    Cnn(Box<CnnWeights>),
}

impl From<MlpWeights> for ModelWeights {
    fn from(w: MlpWeights) -> Self {
        ModelWeights::Mlp(w)
    }
}

impl From<CnnWeights> for ModelWeights {
    fn from(w: CnnWeights) -> Self {
        ModelWeights::Cnn(Box::new(w))
    }
}

impl ModelWeights {
    pub fn arch(&self) -> Arch {
        match self {
            ModelWeights::Mlp(_) => Arch::Mlp,
            ModelWeights::Cnn(c) => Arch::Cnn {
                filters: c.conv.filters(),
            },
        }
    }

    /// Every array with its Keras name (`dense/kernel`, `conv2d/bias`, ...), layer by layer,
    /// kernel before bias: the order files and optimizers use.
    pub fn arrays(&self) -> Vec<(String, ArrayViewD<'_, f32>)> {
        fn dense(l: &Dense) -> [(String, ArrayViewD<'_, f32>); 2] {
            [
                (format!("{}/kernel", l.name), l.kernel.view().into_dyn()),
                (format!("{}/bias", l.name), l.bias.view().into_dyn()),
            ]
        }
        match self {
            ModelWeights::Mlp(m) => m.layers.iter().flat_map(dense).collect(),
            ModelWeights::Cnn(c) => {
                let mut out = vec![
                    (
                        format!("{}/kernel", c.conv.name),
                        c.conv.kernel.view().into_dyn(),
                    ),
                    (
                        format!("{}/bias", c.conv.name),
                        c.conv.bias.view().into_dyn(),
                    ),
                ];
                out.extend(dense(&c.dense));
                out
            }
        }
    }

    /// The arrays of [`ModelWeights::arrays`], in the same order, to update in place.
    pub fn arrays_mut(&mut self) -> Vec<ArrayViewMutD<'_, f32>> {
        match self {
            ModelWeights::Mlp(m) => m
                .layers
                .iter_mut()
                .flat_map(|l| [l.kernel.view_mut().into_dyn(), l.bias.view_mut().into_dyn()])
                .collect(),
            ModelWeights::Cnn(c) => vec![
                c.conv.kernel.view_mut().into_dyn(),
                c.conv.bias.view_mut().into_dyn(),
                c.dense.kernel.view_mut().into_dyn(),
                c.dense.bias.view_mut().into_dyn(),
            ],
        }
    }

    /// Names and shapes of the arrays, plus the input they take: equal exactly when two
    /// weight sets fit the same network.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = vec![("input".to_string(), self.input_shape())];
        out.extend(
            self.arrays()
                .iter()
                .map(|(n, a)| (n.clone(), a.shape().to_vec())),
        );
        out
    }

    /// Zeros shaped like these weights (optimizer state).
    pub fn zeros_like(&self) -> Self {
        let mut z = self.clone();
        for mut a in z.arrays_mut() {
            a.fill(0.0);
        }
        z
    }

    /// One input sample's shape without the batch: `[features]` for the MLP, `[h, w, c]` for
    /// the CNN (NHWC, as Keras takes it).
    pub fn input_shape(&self) -> Vec<usize> {
        match self {
            ModelWeights::Mlp(m) => vec![m.input_dim()],
            ModelWeights::Cnn(c) => c.input.to_vec(),
        }
    }

    /// Features of one input sample (the product of [`ModelWeights::input_shape`]).
    pub fn input_len(&self) -> usize {
        self.input_shape().iter().product()
    }

    pub fn output_dim(&self) -> usize {
        match self {
            ModelWeights::Mlp(m) => m.output_dim(),
            ModelWeights::Cnn(c) => c.output_dim(),
        }
    }

    pub fn param_count(&self) -> usize {
        self.arrays().iter().map(|(_, a)| a.len()).sum()
    }

    /// Largest absolute difference over all parameters; `None` if the architectures differ.
    pub fn max_abs_diff(&self, other: &ModelWeights) -> Option<f32> {
        if self.shapes() != other.shapes() {
            return None;
        }
        let worst = self
            .arrays()
            .iter()
            .zip(other.arrays())
            .flat_map(|((_, a), (_, b))| {
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| (x - y).abs())
                    .collect::<Vec<_>>()
            })
            .fold(0.0f32, f32::max);
        Some(worst)
    }

    /// The network in one line: `MLP 784-128-10, relu` or `CNN 28x28x1, conv2d 8 3x3 relu,
    /// max-pool 2x2, dense 1352-10`.
    pub fn describe(&self) -> String {
        match self {
            ModelWeights::Mlp(m) => format!(
                "MLP {}, relu",
                m.sizes()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("-")
            ),
            ModelWeights::Cnn(c) => {
                let [h, w, ch] = c.input;
                format!(
                    "CNN {h}x{w}x{ch}, conv2d {} 3x3 relu, max-pool 2x2, dense {}-{}",
                    c.conv.filters(),
                    c.dense.kernel.nrows(),
                    c.output_dim()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnn_glorot_uses_receptive_field_fans_and_keras_names() {
        let w = CnnWeights::glorot_uniform([28, 28, 1], 8, 13, 42);
        assert_eq!(w, CnnWeights::glorot_uniform([28, 28, 1], 8, 13, 42));
        assert_eq!(w.conv.kernel.shape(), [3, 3, 1, 8]);
        assert_eq!(w.dense.kernel.shape(), [13 * 13 * 8, 13]);
        let dims = w.dims();
        assert_eq!((dims.conv, dims.pooled), ([26, 26], [13, 13]));
        // Keras: fan_in = 3*3*1 = 9, fan_out = 3*3*8 = 72 -> limit sqrt(6/81).
        let conv_limit = (6.0f64 / 81.0).sqrt() as f32;
        assert!(w.conv.kernel.iter().all(|v| v.abs() <= conv_limit));
        let largest = w.conv.kernel.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(largest > 0.8 * conv_limit, "{largest} vs {conv_limit}");
        let dense_limit = (6.0f64 / (1352.0 + 13.0)).sqrt() as f32;
        assert!(w.dense.kernel.iter().all(|v| v.abs() <= dense_limit));
        let m = ModelWeights::from(w);
        let names: Vec<String> = m.arrays().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias"]
        );
        assert_eq!(m.param_count(), 72 + 8 + 1352 * 13 + 13);
        assert_eq!(m.input_shape(), [28, 28, 1]);
        assert_eq!(
            m.describe(),
            "CNN 28x28x1, conv2d 8 3x3 relu, max-pool 2x2, dense 1352-13"
        );
        assert_eq!(m.arch(), Arch::Cnn { filters: 8 });
        assert_eq!(
            m.max_abs_diff(&m.zeros_like()),
            Some(largest.max(m.arrays()[2].1.iter().fold(0.0f32, |a, v| a.max(v.abs()))))
        );
    }

    #[test]
    fn odd_and_tiny_images() {
        // Keras floors the pooled size: 27 -> 25 -> 12; below 4x4 nothing is left to pool.
        assert_eq!(CnnDims::new([27, 28, 1], 4).unwrap().pooled, [12, 13]);
        assert!(CnnDims::new([3, 28, 1], 4).is_none());
        assert!(CnnDims::new([2, 2, 1], 4).is_none());
    }

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
