//! tract inference throughput at batch 1 and 256, on our exports and the committed Keras ones.
//!
//! Each model is planned as `validate` plans it: the input fact bound to the concrete batch
//! shape before optimizing (tf2onnx's distinct `unk__N` batch dims need it), one state spawned
//! and reused. Inputs are prepared before timing, so a figure is tract's work alone; the
//! `.runtime` figures add what our `Runtime` wrapper does around it (array to tensor, outputs
//! back to arrays, the logits under a Sigmoid head read from the same run).

use std::path::Path;
use std::sync::Arc;

use ndarray::s;
use tract_onnx::prelude::{
    Datum, Framework, InferenceFact, InferenceModelExt, IntoRunnable, TValue, Tensor,
    TypedRunnableModel, tvec,
};

use super::{Figure, Timer, dense_flops};
use crate::dataset::Dataset;
use crate::runtime::{Runtime, TractRuntime};

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
            key: "mnist-mlp-sigmoid",
            path: "mnist-mlp/sigmoid/model.onnx",
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

/// The model optimized for inputs of exactly `shape`.
fn plan(bytes: &[u8], shape: &[usize]) -> Result<Arc<TypedRunnableModel>, String> {
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .map_err(|e| format!("{e:#}"))?;
    model
        .set_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape))
        .map_err(|e| format!("{e:#}"))?;
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| format!("{e:#}"))
}

/// `count` input batches of `batch` samples, cycling through the data.
fn batches(data: &Dataset, image: bool, batch: usize, count: usize) -> Vec<TValue> {
    (0..count)
        .map(|i| {
            let start = (i * batch) % (data.len() - batch + 1);
            let rows = data.images.slice(s![start..start + batch, ..]).to_owned();
            let t: Tensor = rows.into();
            t.into_shape(&shape(image, batch))
                .expect("784 pixels are 28x28x1")
                .into()
        })
        .collect()
}

fn bench_case(
    timer: &Timer,
    models: &Path,
    case: &Case,
    data: &Dataset,
) -> Result<Vec<Figure>, String> {
    let path = models.join(case.path);
    let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut figures = Vec::new();
    for batch in BATCHES {
        let runs = SAMPLES_PER_REPETITION / batch;
        let plan = plan(&bytes, &shape(case.image, batch))
            .map_err(|e| format!("{}: planning batch {batch}: {e}", path.display()))?;
        let mut state = plan.spawn().map_err(|e| format!("{e:#}"))?;
        let inputs = batches(data, case.image, batch, runs.min(256));
        let mut failure = None;
        let times = timer.time(|| {
            for i in 0..runs {
                if let Err(e) = state.run(tvec![inputs[i % inputs.len()].clone()]) {
                    failure.get_or_insert(format!("{e:#}"));
                }
            }
        });
        if let Some(e) = failure {
            return Err(format!("{}: running batch {batch}: {e}", path.display()));
        }
        figures.push(times.throughput(
            &format!("infer.{}.b{batch}", case.key),
            &format!("tract {}, batch {batch}", case.path),
            SAMPLES_PER_REPETITION,
            Some(case.flops_per_sample),
        ));
    }
    Ok(figures)
}

/// Our `Runtime` wrapper on the sigmoid export, as `demo` runs it (symbolic batch, logits read
/// from under the Sigmoid, arrays in and out).
fn bench_runtime(timer: &Timer, models: &Path, data: &Dataset) -> Result<Vec<Figure>, String> {
    let case = &cases()[1];
    let path = models.join(case.path);
    let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut rt = TractRuntime::from_bytes(case.path, &bytes).map_err(|e| e.to_string())?;
    let mut figures = Vec::new();
    for batch in BATCHES {
        let runs = SAMPLES_PER_REPETITION / batch;
        let mut failure = None;
        let times = timer.time(|| {
            for i in 0..runs {
                let start = (i * batch) % (data.len() - batch + 1);
                if let Err(e) = rt.predict(data.images.slice(s![start..start + batch, ..])) {
                    failure.get_or_insert(e.to_string());
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        figures.push(times.throughput(
            &format!("infer.{}.b{batch}.runtime", case.key),
            &format!("our TractRuntime::predict on {}, batch {batch}", case.path),
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
        match bench_case(timer, models, &case, data) {
            Ok(f) => figures.extend(f),
            Err(e) => skipped.push(e),
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
