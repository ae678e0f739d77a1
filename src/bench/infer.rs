//! tract inference throughput at batch 1 and 256, on our exports and the committed Keras ones.
//!
//! Each model runs through the tract runtime exactly as `validate` runs it: planned for the
//! concrete batch shape before timing (tf2onnx's distinct `unk__N` batch dims need it), one
//! state spawned and reused. Inputs are prepared as tensors before timing, so a figure is
//! tract's work plus the runtime's bookkeeping; the `.runtime` figures add what `demo` does
//! around it (array to tensor, outputs back to arrays, the logits under a Sigmoid head read
//! from the same run).
//!
//! Each model is measured with tract on one thread (`infer.KEY.bN`) and, when `--threads` (default
//! every core) gives more, on that many (`infer.KEY.bN.threads`), as `scripts/bench_reference.py`
//! measures onnxruntime with one thread and with its default.

use std::path::Path;
use std::sync::Arc;

use ndarray::s;
use tract_onnx::prelude::Tensor;

use super::{Figure, Timer, dense_flops};
use crate::dataset::Dataset;
use crate::onnx::TensorLimits;
use crate::runtime::head::predict;
use crate::runtime::tract::{TractRunnable, default_threads};
use crate::runtime::{Feed, OnnxModel, Runnable, Stage};

/// Samples pushed through a model per timed repetition, at either batch size.
pub const SAMPLES_PER_REPETITION: usize = 4_096;
pub const BATCHES: [usize; 2] = [1, 256];

/// One committed model and how its input is laid out.
struct Case {
    key: &'static str,
    path: &'static str,
    /// NHWC `[n, 28, 28, 1]` rather than `[n, 784]`.
    image: bool,
    flops_per_sample: f64,
}

fn mlp_flops() -> f64 {
    dense_flops(784, 128) + dense_flops(128, 10)
}

/// Conv 3x3x1 -> 8 over 26x26 outputs, then Dense 13*13*8 -> 10.
fn cnn_flops() -> f64 {
    2.0 * (3 * 3 * 8 * 26 * 26) as f64 + dense_flops(13 * 13 * 8, 10)
}

fn cases() -> [Case; 4] {
    [
        Case {
            key: "mnist-mlp-logits",
            path: "mnist-mlp/logits/model.onnx",
            image: false,
            flops_per_sample: mlp_flops(),
        },
        Case {
            key: "mnist-mlp-probs",
            path: "mnist-mlp/probs/model.onnx",
            image: false,
            flops_per_sample: mlp_flops(),
        },
        Case {
            key: "keras-mlp-sigmoid",
            path: "keras-mlp-sigmoid/model.onnx",
            image: false,
            flops_per_sample: mlp_flops(),
        },
        Case {
            key: "keras-cnn",
            path: "keras-cnn/model.onnx",
            image: true,
            flops_per_sample: cnn_flops(),
        },
    ]
}

fn shape(image: bool, batch: usize) -> Vec<usize> {
    if image {
        vec![batch, 28, 28, 1]
    } else {
        vec![batch, 784]
    }
}

/// The model, opened and parsed by tract, to run on `threads` threads.
fn open(models: &Path, case: &Case, threads: usize) -> Result<TractRunnable, String> {
    let path = models.join(case.path);
    let model = OnnxModel::open(&path, TensorLimits::default()).map_err(|e| e.to_string())?;
    Ok(TractRunnable::new(model, Stage::Optimized)
        .map_err(|e| e.to_string())?
        .with_threads(threads))
}

/// The thread counts measured, with their key suffix: one thread, then `--threads` if more.
fn thread_counts() -> Vec<(usize, &'static str)> {
    let threads = default_threads();
    let mut counts = vec![(1, "")];
    if threads > 1 {
        counts.push((threads, ".threads"));
    }
    counts
}

fn threads_label(threads: usize) -> String {
    match threads {
        1 => "1 thread".to_owned(),
        n => format!("{n} threads"),
    }
}

/// `count` input batches of `batch` samples, cycling through the data, as named feeds.
fn batches(data: &Dataset, input: &str, image: bool, batch: usize, count: usize) -> Vec<Feed> {
    (0..count)
        .map(|i| {
            let start = (i * batch) % (data.len() - batch + 1);
            let rows = data.images.slice(s![start..start + batch, ..]).to_owned();
            let t: Tensor = rows.into();
            let t = t
                .into_shape(&shape(image, batch))
                .expect("784 pixels are 28x28x1");
            Feed::new(input, Arc::new(t))
        })
        .collect()
}

fn bench_case(
    timer: &Timer,
    models: &Path,
    case: &Case,
    data: &Dataset,
    (threads, suffix): (usize, &str),
) -> Result<Vec<Figure>, String> {
    let path = models.join(case.path);
    let mut runnable = open(models, case, threads)?;
    let input = runnable.signature().inputs[0].name.clone();
    let fetch = runnable.signature().output_names();
    let mut figures = Vec::new();
    for batch in BATCHES {
        let runs = SAMPLES_PER_REPETITION / batch;
        let inputs = batches(data, &input, case.image, batch, runs.min(256));
        runnable
            .plan(&inputs[..1], &fetch)
            .map_err(|e| format!("{}: planning batch {batch}: {e}", path.display()))?;
        let mut failure = None;
        let times = timer.time(|| {
            for i in 0..runs {
                let feed = std::slice::from_ref(&inputs[i % inputs.len()]);
                if let Err(e) = runnable.run(feed, &fetch) {
                    failure.get_or_insert(e.to_string());
                }
            }
        });
        if let Some(e) = failure {
            return Err(format!("{}: running batch {batch}: {e}", path.display()));
        }
        figures.push(times.throughput(
            &format!("infer.{}.b{batch}{suffix}", case.key),
            &format!(
                "tract {}, batch {batch}, {}",
                case.path,
                threads_label(threads)
            ),
            SAMPLES_PER_REPETITION,
            Some(case.flops_per_sample),
        ));
    }
    Ok(figures)
}

/// The sigmoid export as `demo` runs it (arrays in and out, the logits read from under the
/// Sigmoid in the same run), on `--threads` threads like `demo`.
fn bench_runtime(timer: &Timer, models: &Path, data: &Dataset) -> Result<Vec<Figure>, String> {
    let case = &cases()[1];
    let threads = default_threads();
    let mut runnable = open(models, case, threads)?;
    let mut figures = Vec::new();
    for batch in BATCHES {
        let runs = SAMPLES_PER_REPETITION / batch;
        // Plan outside the timing, as the figures above do.
        predict(&mut runnable, data.images.slice(s![..batch, ..])).map_err(|e| e.to_string())?;
        let mut failure = None;
        let times = timer.time(|| {
            for i in 0..runs {
                let start = (i * batch) % (data.len() - batch + 1);
                if let Err(e) = predict(
                    &mut runnable,
                    data.images.slice(s![start..start + batch, ..]),
                ) {
                    failure.get_or_insert(e.to_string());
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        figures.push(times.throughput(
            &format!("infer.{}.b{batch}.runtime", case.key),
            &format!(
                "runtime::head::predict on {}, batch {batch}, {}",
                case.path,
                threads_label(threads)
            ),
            SAMPLES_PER_REPETITION,
            Some(case.flops_per_sample),
        ));
    }
    Ok(figures)
}

/// Figures for every committed model found; a missing or failing one is reported as skipped.
pub fn run(timer: &Timer, models: &Path, data: &Dataset) -> (Vec<Figure>, Vec<String>) {
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    for case in cases() {
        for threads in thread_counts() {
            match bench_case(timer, models, &case, data, threads) {
                Ok(f) => figures.extend(f),
                Err(e) => skipped.push(e),
            }
        }
    }
    match bench_runtime(timer, models, data) {
        Ok(f) => figures.extend(f),
        Err(e) => skipped.push(e),
    }
    (figures, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_per_sample_of_the_committed_architectures() {
        // 2*(784*128 + 128*10); conv 2*3*3*8*26*26 + dense 2*1352*10.
        assert_eq!(mlp_flops(), 203_264.0);
        assert_eq!(cnn_flops(), 97_344.0 + 27_040.0);
    }
}
