//! `validate` on 10,000 samples with labels (reference outputs, both losses, accuracy, flips),
//! timed stage by stage, and its peak memory in a process of its own.
//!
//! The case is our sigmoid export (`mnist-mlp/probs`) with reference outputs computed by the
//! trained burn graph from the committed weights, written in the backend-test layout into a
//! temporary folder. Stages call the same library functions `validate` calls, in its order:
//! read and check the model and parse it in tract, read the test set and labels, plan (bind
//! shapes, optimize), run, compare outputs and compute the losses. `validate.after_load` is
//! [`validate_model`] end to end (all but reading and checking the file) and `validate.total`
//! is [`validate::validate`] end to end, so the split can be checked against the whole.
//! `validate.after_load_detail` and `validate.render_html` are what an HTML report adds: the
//! same validation recording per-element error histograms, and rendering the page.
//!
//! [`validate_model`]: crate::validate::validate_model

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::{BenchConfig, BenchError, Figure, Timer, Unit};
use crate::artifacts::{self, ArtifactDir};
use crate::dataset::Dataset;
use crate::loss::{Formulation, Head};
use crate::model::npz;
use crate::onnx::TensorLimits;
use crate::refdata::{self, TestSet, testset};
use crate::runtime::head::{self, predict};
use crate::runtime::tract::TractRunnable;
use crate::runtime::{BurnRunnable, Feed, OnnxModel, Runnable, Stage};
use crate::validate::{self, ValidateConfig, check};
use crate::verdict::Verdict;

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The validate case on disk.
struct Fixture {
    _dir: TempDir,
    model: PathBuf,
    set: PathBuf,
    labels: PathBuf,
    samples: usize,
}

fn fixture(models: &Path, data: &Dataset) -> Result<Fixture, BenchError> {
    let case = models.join("mnist-mlp/probs");
    let weights = npz::read_weights(&case.join("weights.npz"))
        .map_err(|e| BenchError::setup("the validate case", e))?;
    let onnx = std::fs::read(case.join("model.onnx")).map_err(|e| {
        BenchError::setup(format!("reading {}", case.join("model.onnx").display()), e)
    })?;
    let outputs = predict(
        &mut BurnRunnable::new("burn", &weights, Head::Sigmoid),
        data.images.view(),
    )
    .map_err(|e| BenchError::setup("reference outputs", e))?
    .output;
    let root = std::env::temp_dir().join(format!("onnx-parity-bench-{}", std::process::id()));
    let dir = ArtifactDir::create(&root).map_err(|e| BenchError::setup("temporary folder", e))?;
    let guard = TempDir(root.clone());
    let write = |e| BenchError::setup("writing the validate case", e);
    artifacts::write_model_case(
        &dir,
        Formulation::Probs,
        &onnx,
        data.images.view().into_dyn(),
        &outputs,
    )
    .map_err(write)?;
    let labels = data.targets();
    dir.write(
        "labels.npy",
        &crate::refdata::npy::npy_bytes(&labels.view().into_dyn()),
    )
    .map_err(write)?;
    let folder = root.join(artifacts::model_folder(Formulation::Probs));
    Ok(Fixture {
        _dir: guard,
        model: folder.join("model.onnx"),
        set: folder.join("test_data_set_0"),
        labels: root.join("labels.npy"),
        samples: data.len(),
    })
}

fn config(f: &Fixture) -> ValidateConfig {
    ValidateConfig {
        labels: Some(f.labels.clone()),
        ..ValidateConfig::new(&f.model)
    }
}

fn failed(stage: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::setup(format!("validate benchmark, {stage}"), e)
}

pub fn run(timer: &Timer, cfg: &BenchConfig, data: &Dataset) -> Result<Vec<Figure>, BenchError> {
    let f = fixture(&cfg.models, data)?;
    let limits = TensorLimits::default();
    let n = f.samples;
    let what = |stage: &str| format!("validate {n} samples with labels: {stage}");
    let mut figures = Vec::new();

    // Each stage once untimed to get its result for the next stage, then timed.
    let open = || -> Result<(Arc<OnnxModel>, TractRunnable), String> {
        let model = OnnxModel::open(&f.model, limits).map_err(|e| e.to_string())?;
        let runnable =
            TractRunnable::new(Arc::clone(&model), Stage::Optimized).map_err(|e| e.to_string())?;
        Ok((model, runnable))
    };
    let (model, mut runnable) = open().map_err(|e| failed("load", e))?;
    figures.push(timer.time(|| open().map(|(m, _)| m.bytes)).seconds(
        "validate.load_model",
        &what("read and check the model, tract parse"),
    ));
    let load_data = || -> Result<(TestSet, ArrayD<f32>), String> {
        let set = testset::load(&f.set, &model.signature, limits).map_err(|e| e.to_string())?;
        let labels = refdata::read_labels(&f.labels, limits).map_err(|e| e.to_string())?;
        Ok((set, labels))
    };
    let (set, labels) = load_data().map_err(|e| failed("test data", e))?;
    figures.push(
        timer
            .time(|| load_data().map(|(s, _)| s.inputs.len()))
            .seconds("validate.load_data", &what("read the test set and labels")),
    );
    let output = model.signature.outputs[0].name.clone();
    let head = head::sigmoid_head(&runnable, &output);
    let mut fetch = vec![output.clone()];
    fetch.extend(head.as_ref().map(|h| h.logits.clone()));
    let feeds: Vec<Feed> = set
        .inputs
        .iter()
        .map(|r| Feed::new(r.name.clone(), Arc::clone(&r.tensor)))
        .collect();
    runnable
        .plan(&feeds, &fetch)
        .map_err(|e| failed("plan", e))?;
    figures.push(
        timer
            .time(|| runnable.plan(&feeds, &fetch).is_ok())
            .seconds("validate.plan", &what("bind shapes and optimize in tract")),
    );
    let outputs = runnable
        .run(&feeds, &fetch)
        .map_err(|e| failed("run", e))?
        .values;
    figures.push(
        timer
            .time(|| runnable.run(&feeds, &fetch).map(|o| o.values.len()))
            .seconds("validate.run", &what("tract run")),
    );
    let reference = &set.outputs[0].tensor;
    let tolerance = crate::metrics::Preset::Default.tolerance();
    let expect = validate::ExpectLoss::default();
    let compare = || {
        let (metrics, problem) = check::compare_output(&outputs[0], reference, &tolerance);
        let inputs = check::LossInputs {
            output_name: &output,
            output: &outputs[0],
            head: head.as_ref().zip(outputs.get(1).map(Some)),
            reference: Some(reference),
            labels: &labels,
            labels_file: "labels.npy",
        };
        let losses = check::losses(&inputs, &expect);
        (metrics.passed() && problem.is_none(), losses.is_ok())
    };
    let (passed, losses_ok) = compare();
    if !(passed && losses_ok) {
        return Err(failed(
            "compare",
            "the case should pass: tract and burn agree on this export",
        ));
    }
    figures.push(timer.time(compare).seconds(
        "validate.compare",
        &what("output metrics, both losses in f32 and f64, accuracy, flips"),
    ));
    let cfg_validate = config(&f);
    figures.push(
        timer
            .time(|| validate::validate_model(&model, &cfg_validate).len())
            .seconds(
                "validate.after_load",
                &what("validate_model end to end (all but reading and checking the file)"),
            ),
    );
    figures.push(
        timer
            .time(|| validate::validate(&cfg_validate).len())
            .seconds("validate.total", &what("validate() end to end")),
    );
    // The HTML page: validate_model with the per-element error histograms it draws, then the
    // page itself (charts included) from that report.
    let cfg_detail = ValidateConfig {
        error_detail: true,
        ..config(&f)
    };
    figures.push(
        timer
            .time(|| validate::validate_model(&model, &cfg_detail).len())
            .seconds(
                "validate.after_load_detail",
                &what("validate_model recording error histograms and worst elements"),
            ),
    );
    let detailed = validate::ValidateReport::new(validate::validate_model(&model, &cfg_detail));
    if detailed.status != Verdict::Pass {
        return Err(failed("detail", "the case should pass with histograms too"));
    }
    let page = || {
        crate::report::render("html", &crate::report::Report::Validate(&detailed))
            .map(|bytes| bytes.len())
    };
    if page().is_err() {
        return Err(failed("render", "no HTML rendering of a validate report"));
    }
    figures.push(timer.time(page).seconds(
        "validate.render_html",
        &what("render the HTML page (histograms, tables) of the validate report"),
    ));
    if let Some(exe) = &cfg.validate_child {
        let child = run_child(exe, &f)?;
        figures.push(Figure {
            key: "validate.peak_rss".to_string(),
            what: what("peak RSS (VmHWM) of a process that runs validate once"),
            unit: Unit::MiB,
            value: child.vm_hwm_kib as f64 / 1024.0,
            low: child.vm_hwm_kib as f64 / 1024.0,
            high: child.vm_hwm_kib as f64 / 1024.0,
            repetitions: 1,
            flops_per_sample: None,
        });
    }
    Ok(figures)
}

/// What the child process reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidateChild {
    pub status: Verdict,
    pub seconds: f64,
    /// Peak resident set size of the process, from `/proc/self/status`.
    pub vm_hwm_kib: u64,
}

fn run_child(exe: &Path, f: &Fixture) -> Result<ValidateChild, BenchError> {
    let out = Command::new(exe)
        .args(["bench", "--validate-child"])
        .arg(&f.model)
        .arg("--validate-labels")
        .arg(&f.labels)
        // The child runs tract on as many threads as this process does.
        .arg("--threads")
        .arg(crate::runtime::tract::default_threads().to_string())
        .output()
        .map_err(|e| failed("starting the child process", e))?;
    if !out.status.success() {
        return Err(failed(
            "child process",
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| failed("child process output", e))
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The child side: validate `model` with `labels` once, in this process, and report.
pub fn run_validate_child(model: &Path, labels: &Path) -> ValidateChild {
    let start = std::time::Instant::now();
    let cfg = ValidateConfig {
        labels: Some(labels.to_owned()),
        ..ValidateConfig::new(model)
    };
    let report = validate::ValidateReport::new(validate::validate(&cfg));
    ValidateChild {
        status: report.status,
        seconds: start.elapsed().as_secs_f64(),
        vm_hwm_kib: vm_hwm_kib(),
    }
}
