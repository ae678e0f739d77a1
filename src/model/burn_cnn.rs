//! The CNN as a burn graph: forward pass, both training losses, gradients, and every
//! intermediate result named like our ONNX export's tensors.
//!
//! Why the convolution is written as patches times a matrix instead of burn's `conv2d`: burn's
//! `flex` backend computes a convolution's kernel gradient as another convolution whose
//! reduction runs over the whole batch and every output position (100 * 26 * 26 = 67,600 terms
//! at batch 100), and `gemm` splits such a sum into blocks sized from the cache sizes the CPU
//! reports. The same training would then round differently on another machine. Here the input
//! patches are cut on the host (they are data, not parameters), and the product runs in
//! batches of at most 512 rows ([`MAX_REDUCTION_BLOCK`]): the forward pass sums `9 * channels`
//! terms per output, and the kernel gradient is one product of at most 512 terms per batch,
//! added up in batch order by burn's broadcast reduction; the biases' gradients are burn's
//! row-by-row sums. The dense layer goes through [`matmul_fixed_blocks`] like the MLP's, and
//! as there its kernel gradient, a sum over the batch, is fixed for batches of up to 512.
//!
//! The layout inside is NHWC, as Keras's: the kernel `[3, 3, in, filters]` viewed as a
//! `[9 * in, filters]` matrix is exactly the weight matrix of patches whose columns run over
//! (kernel row, kernel column, channel), and the pooled map flattens in Keras's (row, column,
//! channel) order with no transpose. The intermediates handed to comparisons are transposed
//! to NCHW, the layout of the export's `Conv` and `MaxPool` tensors.
//! Like [`super::burn_mlp`], this module never holds optimizer state.

use burn::tensor::{Device, Tensor, TensorData, activation};
use ndarray::{Array2, Array4, ArrayD, ArrayView2, Axis, IxDyn};

use super::burn_mlp::{
    MAX_REDUCTION_BLOCK, StepOutcome, array1, array2, host_vec, logits_form_loss,
    matmul_fixed_blocks, probs_form_loss, tensor1, tensor2,
};
use crate::loss::Formulation;
use crate::model::weights::{CONV_KERNEL, CnnDims, CnnWeights, Conv2d, Dense, POOL};

/// Samples per forward pass at inference: the patches of 2,000 MNIST images would take 49 MB;
/// each sample's outputs do not depend on the others in its pass, so the bits are the same.
const INFERENCE_CHUNK: usize = 256;

/// Output positions `(row, column)` of the whole convolution map, row-major.
pub fn map_positions(dims: &CnnDims) -> Vec<(usize, usize)> {
    let [oh, ow] = dims.conv;
    (0..oh).flat_map(|y| (0..ow).map(move |x| (y, x))).collect()
}

/// Output positions in pooling order: four planes, one per place in the 2x2 window (row-major:
/// top left, top right, bottom left, bottom right), each the pooled map row-major. Position
/// `(2*py + dy, 2*px + dx)` is in plane `2*dy + dx`. An odd last row or column, which Keras's
/// pooling drops, is in no plane.
pub fn pool_positions(dims: &CnnDims) -> Vec<(usize, usize)> {
    let [ph, pw] = dims.pooled;
    let mut out = Vec::with_capacity(POOL * POOL * ph * pw);
    for dy in 0..POOL {
        for dx in 0..POOL {
            for py in 0..ph {
                for px in 0..pw {
                    out.push((POOL * py + dy, POOL * px + dx));
                }
            }
        }
    }
    out
}

/// The patches of `x` (`[n, h * w * c]`, each row an NHWC image) for a valid 3x3 convolution
/// at `positions`, cut into `groups` equal runs: `[n * positions, 9 * c]`, rows in (group,
/// sample, position) order, columns in (kernel row, kernel column, channel) order. One group
/// is the plain (sample, position) order; the pooling planes are four groups, so that each
/// plane of the whole batch is one contiguous block.
pub fn im2col(
    x: ArrayView2<f32>,
    dims: &CnnDims,
    positions: &[(usize, usize)],
    groups: usize,
) -> Vec<f32> {
    let [_, w, c] = dims.input;
    let run = CONV_KERNEL * c; // one kernel row: 3 neighbouring pixels, all channels
    let mut out = Vec::with_capacity(x.nrows() * positions.len() * CONV_KERNEL * run);
    let images: Vec<std::borrow::Cow<[f32]>> = x
        .outer_iter()
        .map(|row| match row.to_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(row.to_vec()),
        })
        .collect();
    for group in positions.chunks(positions.len().div_ceil(groups.max(1)).max(1)) {
        for image in &images {
            for &(oy, ox) in group {
                for ky in 0..CONV_KERNEL {
                    let start = ((oy + ky) * w + ox) * c;
                    out.extend_from_slice(&image[start..start + run]);
                }
            }
        }
    }
    out
}

/// How the output positions of one sample are cut into equal batches of at most
/// [`MAX_REDUCTION_BLOCK`] rows: `(batches, rows)`. 26 x 26 = 676 positions are 2 of 338.
pub fn position_blocks(positions: usize) -> (usize, usize) {
    let fewest = positions.div_ceil(MAX_REDUCTION_BLOCK).max(1);
    let batches = (fewest..=positions)
        .find(|&d| positions.is_multiple_of(d))
        .unwrap_or(1);
    (batches, positions / batches)
}

/// The parameters on a device; `tracked` makes them autodiff leaves.
struct Params {
    dims: CnnDims,
    /// `[3, 3, in, filters]`, as on the host: its gradient comes back in Keras layout.
    kernel: Tensor<4>,
    conv_bias: Tensor<1>,
    dense_kernel: Tensor<2>,
    dense_bias: Tensor<1>,
}

/// The stages of one forward pass that lead to the logits (NHWC).
struct Forward {
    /// `[n, ph, pw, filters]`.
    pooled: Tensor<4>,
    /// `[n, ph * pw * filters]`, Keras's flatten order.
    flat: Tensor<2>,
    logits: Tensor<2>,
}

impl Params {
    fn load(w: &CnnWeights, device: &Device, tracked: bool) -> Self {
        let track4 = |t: Tensor<4>| if tracked { t.require_grad() } else { t };
        let track2 = |t: Tensor<2>| if tracked { t.require_grad() } else { t };
        let track1 = |t: Tensor<1>| if tracked { t.require_grad() } else { t };
        let k = w.conv.kernel.as_standard_layout();
        let kernel = Tensor::from_data(
            TensorData::new(
                k.as_slice().expect("standard layout").to_vec(),
                <[usize; 4]>::try_from(k.shape()).expect("4-D kernel"),
            ),
            device,
        );
        Self {
            dims: w.dims(),
            kernel: track4(kernel),
            conv_bias: track1(tensor1(&w.conv.bias, device)),
            dense_kernel: track2(tensor2(w.dense.kernel.view(), device)),
            dense_bias: track1(tensor1(&w.dense.bias, device)),
        }
    }

    /// Convolution plus bias at `positions` of each sample, cut into `groups` runs:
    /// `[n * positions, filters]`, rows in (group, sample, position) order as [`im2col`] makes
    /// them, computed in batches of at most 512 positions so that the kernel gradient sums in
    /// fixed blocks (see the module docs).
    fn conv(
        &self,
        x: ArrayView2<f32>,
        positions: &[(usize, usize)],
        groups: usize,
        device: &Device,
    ) -> Tensor<2> {
        let d = self.dims;
        let n = x.nrows();
        let f = d.filters;
        let taps = CONV_KERNEL * CONV_KERNEL * d.input[2];
        let (batches, rows) = position_blocks(positions.len() / groups);
        let patches: Tensor<3> = Tensor::from_data(
            TensorData::new(
                im2col(x, &d, positions, groups),
                [groups * n * batches, rows, taps],
            ),
            device,
        );
        let matrix: Tensor<3> = self.kernel.clone().reshape([taps, f]).unsqueeze::<3>();
        patches.matmul(matrix).reshape([n * positions.len(), f])
            + self.conv_bias.clone().unsqueeze::<2>()
    }

    /// The whole convolution map and its ReLU, `[n, oh, ow, filters]` each, for the
    /// intermediates. Every value is the same product and bias sum as in [`Params::forward`]
    /// (a row's result does not depend on which rows share its product).
    fn conv_map(&self, x: ArrayView2<f32>, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let [oh, ow] = self.dims.conv;
        let conv: Tensor<4> = self
            .conv(x, &map_positions(&self.dims), 1, device)
            .reshape([x.nrows(), oh, ow, self.dims.filters]);
        (conv.clone(), activation::relu(conv))
    }

    /// Conv + bias, ReLU, 2x2 max-pooling, flatten, dense.
    ///
    /// The pooling takes the element-wise maximum of the four window planes of
    /// [`pool_positions`], left to right in pairs, then the ReLU: `max(relu(a), relu(b)) =
    /// relu(max(a, b))` exactly, and a tie goes to the left operand (burn's `max_pair` keeps
    /// it unless the right one is greater), so the gradient of each window reaches exactly one
    /// position, its first maximum in row-major order, which is where TensorFlow's MaxPoolGrad
    /// puts it. Each plane of the batch is one contiguous `[n * ph * pw, filters]` block:
    /// burn's own `max_pool2d` (NCHW, a general 3-D kernel) and the layout changes around it
    /// took most of a training step.
    fn forward(&self, x: ArrayView2<f32>, device: &Device) -> Forward {
        let d = self.dims;
        let n = x.nrows();
        let [ph, pw] = d.pooled;
        let (f, plane) = (d.filters, ph * pw);
        let planes: Tensor<3> = self
            .conv(x, &pool_positions(&d), POOL * POOL, device)
            .reshape([POOL * POOL, n * plane, f]);
        let at = |q: usize| planes.clone().slice([q..q + 1, 0..n * plane, 0..f]);
        let top = at(0).max_pair(at(1));
        let bottom = at(2).max_pair(at(3));
        let pooled: Tensor<4> = activation::relu(top.max_pair(bottom)).reshape([n, ph, pw, f]);
        let flat: Tensor<2> = pooled.clone().reshape([n, plane * f]);
        let logits = matmul_fixed_blocks(flat.clone(), self.dense_kernel.clone())
            + self.dense_bias.clone().unsqueeze::<2>();
        Forward {
            pooled,
            flat,
            logits,
        }
    }
}

fn array4(t: Tensor<4>) -> Array4<f32> {
    let (values, dims) = host_vec(t);
    Array4::from_shape_vec(dims, values).expect("burn reported consistent dims")
}

/// An NHWC map as the export's NCHW tensor.
fn nchw(t: Tensor<4>) -> ArrayD<f32> {
    let (values, dims) = host_vec(t.permute([0, 3, 1, 2]));
    ArrayD::from_shape_vec(IxDyn(&dims), values).expect("burn reported consistent dims")
}

/// Forward and backward pass of one batch for one formulation. Nothing is updated here.
pub fn loss_and_grads(
    weights: &CnnWeights,
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    form: Formulation,
    device: &Device,
) -> StepOutcome<CnnWeights> {
    let device = device.clone().autodiff();
    let params = Params::load(weights, &device, true);
    let z = params.forward(x, &device).logits;
    let y = tensor2(y, &device);
    let loss = match form {
        Formulation::Logits => logits_form_loss(z.clone(), y),
        Formulation::Probs => probs_form_loss(activation::sigmoid(z.clone()), y),
    };
    let grads = loss.backward();
    let loss_value = loss.into_data().as_slice::<f32>().expect("f32 loss")[0];
    let leaf = "parameters are tracked leaves";
    let grads = CnnWeights {
        input: weights.input,
        conv: Conv2d {
            name: weights.conv.name.clone(),
            kernel: array4(params.kernel.grad(&grads).expect(leaf)),
            bias: array1(params.conv_bias.grad(&grads).expect(leaf)),
        },
        dense: Dense {
            name: weights.dense.name.clone(),
            kernel: array2(params.dense_kernel.grad(&grads).expect(leaf)),
            bias: array1(params.dense_bias.grad(&grads).expect(leaf)),
        },
    };
    StepOutcome {
        loss: loss_value,
        logits: array2(z.inner()),
        grads,
    }
}

/// Names of the export's tensors that [`BurnCnn::intermediates`] computes, in graph order.
pub fn intermediate_names() -> [String; 4] {
    use crate::model::weights::{CONV_NAME, FLATTEN_NAME, POOL_NAME};
    [
        format!("{CONV_NAME}/linear"),
        format!("{CONV_NAME}/relu"),
        format!("{POOL_NAME}/output"),
        format!("{FLATTEN_NAME}/output"),
    ]
}

/// The trained CNN as an inference function: logits for a batch, no autodiff.
pub struct BurnCnn {
    params: Params,
    device: Device,
}

impl BurnCnn {
    pub fn new(weights: &CnnWeights, device: &Device) -> Self {
        let device = device.clone().without_autodiff();
        Self {
            params: Params::load(weights, &device, false),
            device,
        }
    }

    /// `f` on every chunk of at most [`INFERENCE_CHUNK`] samples, results stacked by sample.
    fn chunked<const K: usize>(
        &self,
        x: ArrayView2<f32>,
        f: impl Fn(ArrayView2<f32>, Forward) -> [ArrayD<f32>; K],
    ) -> [ArrayD<f32>; K] {
        let parts: Vec<[ArrayD<f32>; K]> = x
            .axis_chunks_iter(Axis(0), INFERENCE_CHUNK.max(1))
            .map(|chunk| f(chunk, self.params.forward(chunk, &self.device)))
            .collect();
        if parts.len() == 1 {
            return parts.into_iter().next().expect("one part");
        }
        std::array::from_fn(|k| {
            let views: Vec<_> = parts.iter().map(|p| p[k].view()).collect();
            if views.is_empty() {
                ArrayD::zeros(IxDyn(&[0]))
            } else {
                ndarray::concatenate(Axis(0), &views).expect("chunks share their trailing dims")
            }
        })
    }

    fn two(a: ArrayD<f32>) -> Array2<f32> {
        a.into_dimensionality().expect("logits are 2-D")
    }

    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let [z] = self.chunked(x, |_, f| [array2(f.logits).into_dyn()]);
        Self::two(z)
    }

    /// The sigmoid head as burn computes it (what the probability model outputs).
    pub fn probabilities(&self, x: ArrayView2<f32>) -> (Array2<f32>, Array2<f32>) {
        let [z, p] = self.chunked(x, |_, f| {
            let p = activation::sigmoid(f.logits.clone());
            [array2(f.logits).into_dyn(), array2(p).into_dyn()]
        });
        (Self::two(z), Self::two(p))
    }

    /// Every intermediate result, named as the ONNX export names its tensors
    /// ([`intermediate_names`], then `logits` and, if `sigmoid`, `probabilities`), maps in
    /// NCHW like the export's `Conv` and `MaxPool`; computed by the same burn ops as
    /// [`BurnCnn::logits`], so the last values equal its output bit for bit.
    pub fn intermediates(&self, x: ArrayView2<f32>, sigmoid: bool) -> Vec<(String, ArrayD<f32>)> {
        let [conv, relu, pooled, flat, z, p] = self.chunked(x, |chunk, f| {
            let (conv, relu) = self.params.conv_map(chunk, &self.device);
            let p = activation::sigmoid(f.logits.clone());
            [
                nchw(conv),
                nchw(relu),
                nchw(f.pooled),
                array2(f.flat).into_dyn(),
                array2(f.logits).into_dyn(),
                array2(p).into_dyn(),
            ]
        });
        let mut out: Vec<(String, ArrayD<f32>)> = intermediate_names()
            .into_iter()
            .zip([conv, relu, pooled, flat])
            .collect();
        out.push((super::export::LOGITS.to_string(), z));
        if sigmoid {
            out.push((super::export::PROBABILITIES.to_string(), p));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss;
    use crate::model::burn_mlp::cpu;
    use ndarray::{Array2, Array4, arr2};

    /// The CNN in f64, straight from its definition (NHWC, Keras's flatten order).
    fn naive(w: &CnnWeights, x: &Array2<f32>) -> (Array4<f64>, Array2<f64>) {
        let d = w.dims();
        let [_, iw, c] = d.input;
        let [oh, ow] = d.conv;
        let [ph, pw] = d.pooled;
        let f = d.filters;
        let n = x.nrows();
        let mut pooled = Array4::<f64>::zeros((n, ph, pw, f));
        let mut logits = Array2::<f64>::zeros((n, w.output_dim()));
        for s in 0..n {
            let px = |y: usize, xx: usize, ch: usize| f64::from(x[[s, (y * iw + xx) * c + ch]]);
            let mut relu = Array4::<f64>::zeros((1, oh, ow, f));
            for oy in 0..oh {
                for ox in 0..ow {
                    for fi in 0..f {
                        let mut acc = f64::from(w.conv.bias[fi]);
                        for ky in 0..3 {
                            for kx in 0..3 {
                                for ch in 0..c {
                                    acc += px(oy + ky, ox + kx, ch)
                                        * f64::from(w.conv.kernel[[ky, kx, ch, fi]]);
                                }
                            }
                        }
                        relu[[0, oy, ox, fi]] = acc.max(0.0);
                    }
                }
            }
            for py in 0..ph {
                for qx in 0..pw {
                    for fi in 0..f {
                        let mut m = f64::NEG_INFINITY;
                        for dy in 0..2 {
                            for dx in 0..2 {
                                m = m.max(relu[[0, 2 * py + dy, 2 * qx + dx, fi]]);
                            }
                        }
                        pooled[[s, py, qx, fi]] = m;
                    }
                }
            }
            let flat: Vec<f64> = pooled.index_axis(Axis(0), s).iter().copied().collect();
            for j in 0..w.output_dim() {
                logits[[s, j]] = f64::from(w.dense.bias[j])
                    + flat
                        .iter()
                        .enumerate()
                        .map(|(i, v)| v * f64::from(w.dense.kernel[[i, j]]))
                        .sum::<f64>();
            }
        }
        (pooled, logits)
    }

    fn sample(n: usize, side: usize, seed: u64) -> Array2<f32> {
        let mut rng = crate::rng::Rng::new(seed);
        Array2::from_shape_simple_fn((n, side * side), || rng.uniform_f32(0.0, 1.0))
    }

    fn weights(side: usize, filters: usize, outputs: usize) -> CnnWeights {
        let mut w = CnnWeights::glorot_uniform([side, side, 1], filters, outputs, 3);
        // Non-zero biases, so their place in the sums is exercised.
        w.conv
            .bias
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = 0.01 * i as f32 - 0.02);
        w.dense
            .bias
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = 0.1 * i as f32);
        w
    }

    #[test]
    fn patches_run_over_kernel_row_column_channel() {
        // A 4x4 image with 2 channels whose values encode their position.
        let d = CnnDims::new([4, 4, 2], 1).unwrap();
        let x = Array2::from_shape_fn((1, 32), |(_, i)| i as f32);
        let p = im2col(x.view(), &d, &map_positions(&d), 1);
        assert_eq!(p.len(), 2 * 2 * 18);
        // Output (0, 1): rows 0..3, columns 1..3, both channels.
        let want: Vec<f32> = (0..3)
            .flat_map(|ky| {
                (1..4).flat_map(move |kx| (0..2).map(move |ch| ((ky * 4 + kx) * 2 + ch) as f32))
            })
            .collect();
        assert_eq!(&p[18..36], &want[..]);
    }

    #[test]
    fn pooling_planes_cover_each_window_in_row_major_order() {
        let d = CnnDims::new([9, 9, 1], 1).unwrap(); // conv 7x7, pooled 3x3: row 6, column 6 dropped
        let p = pool_positions(&d);
        assert_eq!(p.len(), 4 * 9);
        assert_eq!(&p[..3], &[(0, 0), (0, 2), (0, 4)]);
        assert_eq!(p[9], (0, 1)); // plane 1: top right of each window
        assert_eq!(p[18], (1, 0)); // plane 2: bottom left
        assert_eq!(p[35], (5, 5)); // last window's bottom right
        assert!(p.iter().all(|&(y, x)| y < 6 && x < 6));
        assert_eq!(map_positions(&d).len(), 49);
    }

    /// A window whose four values tie sends its gradient to one position, the first: the
    /// kernel gradient of a blank image is then exactly what TensorFlow computes, the conv
    /// bias's gradient counted once per window.
    #[test]
    fn tied_windows_send_their_gradient_to_one_position() {
        let mut w = CnnWeights::glorot_uniform([6, 6, 1], 1, 1, 2);
        w.conv.bias[0] = 0.5; // positive on a blank image: every window ties at 0.5
        w.dense.kernel.fill(1.0);
        let x = Array2::<f32>::zeros((1, 36));
        let y = Array2::<f32>::zeros((1, 1));
        let out = loss_and_grads(&w, x.view(), y.view(), Formulation::Logits, &cpu());
        // z = 4 windows * 0.5 + 0 = 2; dL/dz = sigmoid(2); each window passes it to one
        // position, so d/d(conv bias) = 4 * sigmoid(2).
        let want = 4.0 * loss::sigmoid_f64(2.0);
        let got = f64::from(out.grads.conv.bias[0]);
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert!(out.grads.conv.kernel.iter().all(|&g| g == 0.0));
    }

    #[test]
    fn positions_split_into_equal_blocks_of_at_most_512() {
        assert_eq!(position_blocks(676), (2, 338));
        assert_eq!(position_blocks(512), (1, 512));
        assert_eq!(position_blocks(4), (1, 4));
        assert_eq!(position_blocks(1031), (1031, 1)); // a prime: one row per batch
    }

    #[test]
    fn forward_matches_a_naive_f64_reference() {
        for (side, filters) in [(28, 8), (9, 3)] {
            let w = weights(side, filters, 5);
            let x = sample(3, side, 7);
            let m = BurnCnn::new(&w, &cpu());
            let got = m.logits(x.view());
            let (pooled, want) = naive(&w, &x);
            for (g, e) in got.iter().zip(&want) {
                assert!((f64::from(*g) - e).abs() < 1e-5, "{side}: {g} vs {e}");
            }
            // The pooled map, read back in NCHW, is the naive NHWC one transposed.
            let all = m.intermediates(x.view(), false);
            let (name, p) = &all[2];
            assert_eq!(name, "max_pooling2d/output");
            let d = w.dims();
            assert_eq!(p.shape(), [3, filters, d.pooled[0], d.pooled[1]]);
            for ((s, fi, py, qx), e) in pooled.permuted_axes([0, 3, 1, 2]).indexed_iter() {
                let g = f64::from(p[[s, fi, py, qx]]);
                assert!(
                    (g - e).abs() < 1e-5,
                    "pooled [{s},{fi},{py},{qx}]: {g} vs {e}"
                );
            }
        }
    }

    #[test]
    fn intermediates_end_in_the_outputs_bit_for_bit_in_any_chunking() {
        let w = weights(28, 4, 3);
        let x = sample(INFERENCE_CHUNK + 5, 28, 1);
        let m = BurnCnn::new(&w, &cpu());
        let all = m.intermediates(x.view(), true);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv2d/linear",
                "conv2d/relu",
                "max_pooling2d/output",
                "flatten/output",
                "logits",
                "probabilities"
            ]
        );
        assert_eq!(all[0].1.shape(), [INFERENCE_CHUNK + 5, 4, 26, 26]);
        // The pooled map is the 2x2 maximum of the ReLU map, to the bit: the map and the
        // pooling planes are the same products, whatever rows shared them.
        let (relu, pooled) = (&all[1].1, &all[2].1);
        for ((s, c, py, px), &got) in pooled
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
            .indexed_iter()
        {
            let window = (0..4).map(|q| relu[[s, c, 2 * py + q / 2, 2 * px + q % 2]]);
            let want = window.fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(got.to_bits(), want.to_bits(), "[{s}, {c}, {py}, {px}]");
        }
        let (z, p) = m.probabilities(x.view());
        assert_eq!(all[4].1, z.clone().into_dyn());
        assert_eq!(all[5].1, p.into_dyn());
        // Each sample's logits alone are the same bits as in the batch.
        let one = m.logits(x.slice(ndarray::s![INFERENCE_CHUNK + 2..INFERENCE_CHUNK + 3, ..]));
        assert_eq!(one.row(0), z.row(INFERENCE_CHUNK + 2));
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Central differences in f64 of the naive model's logits-form loss.
        let w = weights(9, 2, 3);
        let x = sample(4, 9, 11);
        let y = arr2(&[
            [1.0f32, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
        ]);
        // Keras's reduction over equal rows is the mean over all elements.
        let loss_of = |w: &CnnWeights| {
            let (_, z) = naive(w, &x);
            z.iter()
                .zip(&y)
                .map(|(&z, &y)| loss::logits_elem_f64(z, f64::from(y)))
                .sum::<f64>()
                / z.len() as f64
        };
        let out = loss_and_grads(&w, x.view(), y.view(), Formulation::Logits, &cpu());
        let h = 1e-3f32;
        let probes: [(&str, [usize; 4]); 3] = [
            ("kernel", [0, 0, 0, 0]),
            ("kernel", [2, 1, 0, 1]),
            ("bias", [1, 0, 0, 0]),
        ];
        for (what, at) in probes {
            let (mut up, mut down) = (w.clone(), w.clone());
            let got = if what == "kernel" {
                up.conv.kernel[at] += h;
                down.conv.kernel[at] -= h;
                out.grads.conv.kernel[at]
            } else {
                up.conv.bias[at[0]] += h;
                down.conv.bias[at[0]] -= h;
                out.grads.conv.bias[at[0]]
            };
            let want = (loss_of(&up) - loss_of(&down)) / (2.0 * f64::from(h));
            assert!(
                (f64::from(got) - want).abs() < 1e-4,
                "conv {what} {at:?}: {got} vs {want}"
            );
        }
        // Dense bias: mean over the batch of (sigmoid(z) - y) / outputs.
        let (_, z) = naive(&w, &x);
        for j in 0..3 {
            let want: f64 = (0..4)
                .map(|i| (loss::sigmoid_f64(z[[i, j]]) - f64::from(y[[i, j]])) / 3.0 / 4.0)
                .sum();
            let got = f64::from(out.grads.dense.bias[j]);
            assert!((got - want).abs() < 1e-6, "dense bias {j}: {got} vs {want}");
        }
        assert!((f64::from(out.loss) - loss_of(&w)).abs() < 1e-6);
    }

    /// The kernel gradient sums over batch * 676 positions; cut into batches of 338 rows it
    /// rounds the same whatever block size `gemm` would pick, so a repeat of the pass, or the
    /// same pass with another thread count, gives the same bits.
    #[test]
    fn kernel_gradient_is_the_same_bits_every_time() {
        let w = weights(28, 8, 10);
        let x = sample(100, 28, 5);
        let y = Array2::from_shape_fn((100, 10), |(i, j)| f32::from(u8::from(i % 10 == j)));
        let a = loss_and_grads(&w, x.view(), y.view(), Formulation::Probs, &cpu());
        let b = std::thread::spawn(move || {
            loss_and_grads(&w, x.view(), y.view(), Formulation::Probs, &cpu())
        })
        .join()
        .unwrap();
        assert_eq!(a.grads, b.grads);
        assert_eq!(a.loss.to_bits(), b.loss.to_bits());
    }
}
