//! What a training run leaves on disk: the artifact folder, the training log, the final weights,
//! a standalone export, the synthetic data as IDX files. Library calls, so that a program using
//! the crate writes exactly what the CLI writes.
//!
//! Layout of the artifact folder (documented in the README):
//!
//! ```text
//! OUT/config.json                          training config, data fingerprint, tool version
//! OUT/train-log.json                       config, per-epoch and per-step records
//! OUT/logits/model.onnx                    export of the logits-formulation model
//! OUT/logits/test_data_set_0/input_0.pb    reference inputs (TensorProto "input")
//! OUT/logits/test_data_set_0/output_0.pb   the trained graph's outputs on them
//! OUT/logits/weights.npz                   its final weights, Keras layout
//! OUT/probs/...                          the same for the probability-formulation model
//! OUT/labels.npy                           binary targets of the reference inputs, f32 [n, k]
//! OUT/report.json                          the demo's report (demo only)
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{DataInfo, DemoReport, PipelineError, TrainLog, Trained, head_rows};
use crate::artifacts::{self, ArtifactDir, ArtifactError, Tool};
use crate::dataset;
use crate::loss::{Formulation, Head};
use crate::model::export;
use crate::model::npz;
use crate::model::train::TrainConfig;
use crate::model::weights::Arch;
use crate::refdata::npy;
use crate::report::to_json_bytes;
use crate::runtime::BurnRunnable;
use crate::runtime::head::predict;

/// The training log of a run, as `--log-json` writes it.
pub fn train_log(t: &Trained) -> TrainLog<'_> {
    TrainLog {
        tool: Tool::default(),
        config: &t.run.config,
        data: &t.data,
        epochs: &t.run.epochs,
        steps: &t.run.steps,
    }
}

/// `config.json`: enough to reproduce the run.
#[derive(Debug, Serialize)]
struct ConfigFile<'a> {
    tool: Tool,
    train: &'a TrainConfig,
    data: &'a DataInfo,
    reference_samples: usize,
}

/// Writes the artifact folder of a run (the layout above): both exports with the trained
/// graph's outputs on the first `reference_samples` held-out samples, their weights, the labels,
/// the config and the log, and the demo's report when there is one.
pub fn write_run(
    dir: &ArtifactDir,
    t: &Trained,
    report: Option<&DemoReport>,
    reference_samples: usize,
) -> Result<(), PipelineError> {
    let inputs = head_rows(&t.eval_set.images, reference_samples);
    let n = inputs.nrows();
    // The reference inputs in the shape the export takes: [n, 784], or NHWC [n, 28, 28, 1].
    let mut shape = vec![n];
    shape.extend(t.run.initial.input_shape());
    let shaped = inputs
        .view()
        .into_shape_with_order(shape)
        .expect("each row holds one sample's features");
    for form in Formulation::BOTH {
        let head = Head::for_formulation(form);
        let weights = t.run.trained.get(form);
        let mut burn = BurnRunnable::new("burn (trained)", weights, head);
        let outputs = predict(&mut burn, inputs.view())?.output;
        artifacts::write_model_case(dir, form, t.onnx.get(form), shaped.view(), &outputs)?;
        dir.write(
            &format!("{}/weights.npz", artifacts::model_folder(form)),
            &npz::weights_npz_bytes(weights),
        )?;
    }
    let labels = head_rows(&t.eval_set.targets(), n);
    dir.write("labels.npy", &npy::npy_bytes(&labels.view().into_dyn()))?;
    let config = ConfigFile {
        tool: Tool::default(),
        train: &t.run.config,
        data: &t.data,
        reference_samples: n,
    };
    dir.write("config.json", &to_json_bytes(&config))?;
    dir.write("train-log.json", &to_json_bytes(&train_log(t)))?;
    if let Some(report) = report {
        dir.write("report.json", &to_json_bytes(report))?;
    }
    Ok(())
}

/// Writes the training log to `path`.
pub fn write_log(path: &Path, t: &Trained) -> Result<(), ArtifactError> {
    artifacts::write_file(path, &to_json_bytes(&train_log(t)))
}

/// `w.npz` -> `w-logits.npz`.
pub fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "npz".to_string(), |e| e.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{suffix}.{ext}"))
}

/// Writes each model's final weights in `--init` layout: `FILE-logits.npz`, `FILE-probs.npz`.
pub fn save_weights(path: &Path, t: &Trained) -> Result<Vec<PathBuf>, ArtifactError> {
    Formulation::BOTH
        .iter()
        .map(|&form| {
            let target = suffixed(path, form.name());
            artifacts::write_file(&target, &npz::weights_npz_bytes(t.run.trained.get(form)))?;
            Ok(target)
        })
        .collect()
}

/// What [`export_weights`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    pub bytes: usize,
    /// The network in one line (`MLP 784-128-10, relu`).
    pub model: String,
}

/// Our ONNX export of the weights in `weights` (Keras layout, either architecture) with
/// `head`, written to `out`. With `arch`, the file must hold that architecture. The weights
/// file's sha256 is recorded in the model's metadata.
pub fn export_weights(
    weights: &Path,
    head: Head,
    arch: Option<Arch>,
    out: &Path,
) -> Result<ExportSummary, PipelineError> {
    let parsed = npz::read_weights(weights)?;
    if let Some(arch) = arch
        && arch.name() != parsed.arch().name()
    {
        return Err(PipelineError::ArchMismatch {
            path: weights.to_owned(),
            asked: arch.name(),
            found: parsed.describe(),
        });
    }
    let bytes = std::fs::read(weights).map_err(|source| ArtifactError::Read {
        path: weights.to_owned(),
        source,
    })?;
    let metadata = vec![(
        "onnx_parity.weights_sha256".to_string(),
        format!("{:x}", Sha256::digest(&bytes)),
    )];
    let onnx = export::export_model(&parsed, head, metadata)?;
    artifacts::write_file(out, &onnx)?;
    Ok(ExportSummary {
        bytes: onnx.len(),
        model: parsed.describe(),
    })
}

/// Writes `samples` synthetic digits (seed `seed`) into `dir` as MNIST's training pair of IDX
/// files; returns their names.
pub fn write_synthetic_idx(
    dir: &Path,
    samples: usize,
    seed: u64,
) -> Result<(&'static str, &'static str), ArtifactError> {
    let dir = ArtifactDir::create(dir)?;
    let ds = dataset::synthetic::generate(samples, seed);
    let (images, labels) = dataset::to_idx_pair(&ds);
    let (img_name, lbl_name) = dataset::MNIST_PAIRS[0];
    dir.write(img_name, &images)?;
    dir.write(lbl_name, &labels)?;
    Ok((img_name, lbl_name))
}
