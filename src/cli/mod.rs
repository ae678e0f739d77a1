//! Command-line interface: turns arguments into library configs, runs, maps results to exit codes.
//!
//! The library never sees clap types. Exit codes: 0 all within tolerance, 1 it ran and found a
//! mismatch, 2 it could not run (bad input, I/O). Errors are printed once, as one line.

mod bench;
mod compare;
mod matrix;
mod validate;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::artifacts::Tool;
use crate::artifacts::{self, ArtifactDir};
use crate::dataset::DatasetError;
use crate::dataset::binarize;
use crate::loss::Formulation;
use crate::loss::Head;
use crate::metrics::Preset;
use crate::model::export;
use crate::model::npz;
use crate::model::train::InitSource;
use crate::model::train::{CLASSES, Progress, TrainConfig};
use crate::model::{AdamVariant, MlpWeights, OptimizerConfig};
use crate::pipeline::{self, DataConfig, DataSource, DemoError, DemoReport, Trained};
use crate::report::{self, TrainLog};
use crate::runtime::BurnMlpRunnable;
use crate::runtime::head::predict;
use sha2::{Digest, Sha256};

/// Largest sample count accepted for --train/--eval (guards against absurd allocations).
const MAX_SAMPLES: usize = 1_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "onnx-parity",
    version,
    about = "Prove that a trained model and its ONNX export compute the same thing"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train both sigmoid-BCE formulations, export both to ONNX, reload in tract, check parity.
    Demo(DemoArgs),
    /// Train both formulations from the same start and batches; print and log per-epoch figures.
    Train(TrainArgs),
    /// Write our ONNX export of given weights (Keras-layout .npz) without training.
    Export(ExportArgs),
    /// Write the embedded synthetic digits as MNIST IDX files, for Python tools to read.
    Data(DataArgs),
    /// Validate an ONNX model against reference data (outputs, both sigmoid-BCE losses), or
    /// every model of a manifest.
    Validate(validate::ValidateArgs),
    /// Describe an ONNX file: versions, inputs/outputs, operators, parameters, metadata, sha256.
    Inspect(validate::InspectArgs),
    /// Run two implementations of a model on the same inputs; with --layers, find where they diverge.
    Compare(compare::CompareArgs),
    /// Run validate over a folder of ONNX node tests and count pass/fail/unsupported.
    Conformance(validate::ConformanceArgs),
    /// Run every runtime (TensorFlow's recorded outputs, burn, tract, burn-import) on the same
    /// inputs and compare every pair of outputs.
    Matrix(matrix::MatrixArgs),
    /// Measure training, inference and validate throughput (see docs/PERFORMANCE.md).
    Bench(bench::BenchArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OptimizerKind {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AdamKind {
    Keras,
    Pytorch,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Folder with MNIST IDX files (train-*/t10k-*, optionally .gz). Default: embedded synthetic digits.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Training samples (the first N of the data).
    #[arg(long = "train", value_name = "N", default_value_t = 8000)]
    train_samples: usize,
    /// Held-out samples (the N after the training samples).
    #[arg(long = "eval", value_name = "N", default_value_t = 2000)]
    eval_samples: usize,
    /// Passes over the training samples.
    #[arg(long, value_name = "N", default_value_t = 3, conflicts_with = "steps")]
    epochs: usize,
    /// Stop after N steps (batches) instead of whole epochs.
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    /// Samples per step.
    #[arg(long, value_name = "N", default_value_t = 100)]
    batch: usize,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    optimizer: OptimizerKind,
    /// Learning rate. Default: 0.001 for adam, 0.1 for sgd.
    #[arg(long, value_name = "LR")]
    lr: Option<f32>,
    /// Hidden layer widths, comma-separated (default 128; taken from --init when given).
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Initial weights from an .npz in Keras layout (dense/kernel [in,out], dense/bias, dense_1/...).
    #[arg(long, value_name = "FILE.npz")]
    init: Option<PathBuf>,
    /// Train on these sample indices (int64/int32 .npy into the whole data), in order, unshuffled.
    #[arg(long, value_name = "FILE.npy")]
    indices: Option<PathBuf>,
    /// Where Adam adds epsilon: keras (TensorFlow) or pytorch (also burn's).
    #[arg(long, value_enum, default_value_t = AdamKind::Keras)]
    adam: AdamKind,
    /// Adam epsilon. Default: 1e-7 for keras, 1e-8 for pytorch.
    #[arg(long, value_name = "EPS")]
    adam_epsilon: Option<f32>,
    /// Write each model's final weights in --init layout: FILE-logits.npz and FILE-probs.npz.
    #[arg(long, value_name = "FILE.npz")]
    save_weights: Option<PathBuf>,
    /// Seed of the initial weights, the synthetic data and the batch order.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the training samples in file order instead of reshuffling every epoch.
    #[arg(long)]
    no_shuffle: bool,
    /// Write artifacts (config, log, both ONNX exports, reference data) into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write the training log (config, epochs, steps) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    log_json: Option<PathBuf>,
    /// Reference samples written next to each export (from the eval set).
    #[arg(long, value_name = "N", default_value_t = 100)]
    reference_samples: usize,
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Tolerance preset for every comparison (see README).
    #[arg(long, value_parser = preset_parser(), default_value = "default")]
    tolerance: Preset,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum HeadKind {
    Logits,
    Sigmoid,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Weights in Keras layout: dense/kernel [in,out], dense/bias, dense_1/..., float32.
    #[arg(long, value_name = "FILE.npz")]
    weights: PathBuf,
    /// What the graph outputs: logits, or a Sigmoid of them (the tensor "logits" stays inside).
    #[arg(long, value_enum)]
    head: HeadKind,
    /// Where to write the ONNX file.
    #[arg(long, value_name = "FILE.onnx")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct DataArgs {
    /// Folder to write train-images-idx3-ubyte and train-labels-idx1-ubyte into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of samples (the same samples `--train`/`--eval` split in the other commands).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    samples: usize,
    /// Seed of the synthetic data (the training seed of the other commands).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

impl TrainArgs {
    /// Library configs from the flags, plus initial weights when `--init` is given.
    fn configs(&self) -> Result<(TrainConfig, DataConfig, Option<MlpWeights>)> {
        let lr = self.lr.unwrap_or(match self.optimizer {
            OptimizerKind::Adam => 1e-3,
            OptimizerKind::Sgd => 0.1,
        });
        let optimizer = match (self.optimizer, self.adam) {
            (OptimizerKind::Sgd, _) => OptimizerConfig::sgd(lr),
            (OptimizerKind::Adam, kind) => {
                let variant = match kind {
                    AdamKind::Keras => AdamVariant::Keras,
                    AdamKind::Pytorch => AdamVariant::Pytorch,
                };
                let mut adam = OptimizerConfig::adam_variant(lr, variant);
                if let (Some(eps), OptimizerConfig::Adam { epsilon, .. }) =
                    (self.adam_epsilon, &mut adam)
                {
                    if !(eps.is_finite() && eps >= 0.0) {
                        bail!("--adam-epsilon: must be a finite number >= 0, got {eps}");
                    }
                    *epsilon = eps;
                }
                adam
            }
        };
        let stream = match &self.indices {
            Some(path) => Some(npz::read_indices(path)?),
            None => None,
        };
        let (init, initial) = match &self.init {
            Some(path) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let sha256 = format!("{:x}", Sha256::digest(&bytes));
                (InitSource::File { sha256 }, Some(npz::read_weights(path)?))
            }
            None => (InitSource::GlorotUniform, None),
        };
        let hidden = match (&self.hidden, &initial) {
            (Some(h), Some(w)) if *h != w.sizes()[1..w.sizes().len() - 1] => bail!(
                "--hidden {h:?} disagrees with --init {}, whose hidden widths are {:?}",
                self.init
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
                &w.sizes()[1..w.sizes().len() - 1]
            ),
            (Some(h), _) => h.clone(),
            (None, Some(w)) => w.sizes()[1..w.sizes().len() - 1].to_vec(),
            (None, None) => vec![128],
        };
        let stream_len = stream.as_ref().map_or(self.train_samples, Vec::len);
        let epochs = match self.steps {
            // Enough epochs to reach the step count; the step limit stops the run.
            Some(steps) => steps
                .div_ceil(stream_len.div_ceil(self.batch.max(1)).max(1))
                .max(1),
            None => self.epochs,
        };
        let config = TrainConfig {
            seed: self.seed,
            hidden,
            init,
            epochs,
            max_steps: self.steps,
            batch_size: self.batch,
            optimizer,
            shuffle: !self.no_shuffle && stream.is_none(),
        };
        config.validate()?;
        for (flag, n) in [
            ("--train", self.train_samples),
            ("--eval", self.eval_samples),
        ] {
            if n == 0 || n > MAX_SAMPLES {
                bail!("{flag}: must be between 1 and {MAX_SAMPLES}, got {n}");
            }
        }
        if self.reference_samples == 0 {
            bail!("--reference-samples: must be at least 1");
        }
        let source = match &self.data {
            Some(dir) => DataSource::Mnist(dir.clone()),
            None => DataSource::Synthetic,
        };
        let data = DataConfig {
            source,
            train: self.train_samples,
            eval: self.eval_samples,
            stream,
        };
        Ok((config, data, initial))
    }

    /// Fail before training if an output location cannot be written.
    fn prepare_outputs(&self) -> Result<Option<ArtifactDir>> {
        if let Some(log) = &self.log_json {
            let parent = log
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                bail!(
                    "--log-json {}: folder {} does not exist",
                    log.display(),
                    parent.display()
                );
            }
        }
        self.out
            .as_deref()
            .map(ArtifactDir::create)
            .transpose()
            .map_err(Into::into)
    }
}

/// `--tolerance PRESET`: the preset names, parsed into the library's [`Preset`].
fn preset_parser() -> impl clap::builder::TypedValueParser<Value = Preset> {
    clap::builder::PossibleValuesParser::new(Preset::ALL.map(Preset::name)).map(|name| {
        name.parse::<Preset>()
            .expect("only preset names pass the parser")
    })
}

fn progress_bar(stderr_is_terminal: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if stderr_is_terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} training [{bar:30}] {pos}/{len} steps {msg} ({eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar
}

fn observer(bar: &ProgressBar) -> impl FnMut(Progress<'_>) + '_ {
    move |p| match p {
        Progress::Started { total_steps } => bar.set_length(total_steps as u64),
        Progress::Step(s) => {
            bar.inc(1);
            bar.set_message(format!("loss {:.4} / {:.4}", s.logits.loss, s.probs.loss));
        }
        Progress::Epoch(_) => {}
    }
}

/// Train and export, showing progress; write the log and artifacts the arguments ask for
/// (the report too, when there is one).
fn train_with_outputs(
    args: &TrainArgs,
    report_for: impl FnOnce(&Trained) -> Result<Option<DemoReport>>,
) -> Result<(Trained, Option<DemoReport>)> {
    let (config, data, initial) = args.configs()?;
    let out = args.prepare_outputs()?;
    let bar = progress_bar(std::io::stderr().is_terminal());
    let trained = pipeline::train_and_export(&config, &data, initial, observer(&bar)).map_err(
        |e| match (&e, &args.indices, &args.init) {
            (DemoError::Data(DatasetError::IndexOutOfRange { .. }), Some(p), _) => {
                anyhow::Error::new(e).context(format!("--indices {}", p.display()))
            }
            (DemoError::InitMismatch { .. }, _, Some(p)) => {
                anyhow::Error::new(e).context(format!("--init {}", p.display()))
            }
            _ => e.into(),
        },
    )?;
    bar.finish_and_clear();
    let report = report_for(&trained)?;
    if let Some(dir) = &out {
        write_artifacts(dir, &trained, report.as_ref(), args.reference_samples)?;
    }
    if let Some(path) = &args.log_json {
        let bytes = report::to_json_bytes(&train_log(&trained));
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.save_weights {
        for form in Formulation::BOTH {
            let target = suffixed(path, form.name());
            std::fs::write(
                &target,
                npz::weights_npz_bytes(trained.run.trained.get(form)),
            )
            .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    Ok((trained, report))
}

/// `w.npz` -> `w-logits.npz`.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "npz".to_string(), |e| e.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{suffix}.{ext}"))
}

fn train_log(t: &Trained) -> TrainLog<'_> {
    TrainLog {
        tool: Tool::default(),
        config: &t.run.config,
        data: &t.data,
        epochs: &t.run.epochs,
        steps: &t.run.steps,
    }
}

fn write_artifacts(
    dir: &ArtifactDir,
    t: &Trained,
    report: Option<&DemoReport>,
    reference_samples: usize,
) -> Result<()> {
    let inputs = pipeline::head_rows(&t.eval_set.images, reference_samples);
    let n = inputs.nrows();
    for form in Formulation::BOTH {
        let mut burn = BurnMlpRunnable::new(
            "burn (trained)",
            t.run.trained.get(form),
            Head::for_formulation(form),
        );
        let outputs = predict(&mut burn, inputs.view())?.output;
        artifacts::write_model_case(dir, form, t.onnx.get(form), &inputs, &outputs)?;
        let weights = npz::weights_npz_bytes(t.run.trained.get(form));
        dir.write(
            &format!("{}/weights.npz", artifacts::model_folder(form)),
            &weights,
        )?;
    }
    let labels = binarize(&t.eval_set.labels, CLASSES);
    dir.write(
        "labels.npy",
        &crate::refdata::npy::npy_bytes(&pipeline::head_rows(&labels, n).view().into_dyn()),
    )?;
    #[derive(serde::Serialize)]
    struct ConfigFile<'a> {
        tool: Tool,
        train: &'a TrainConfig,
        data: &'a pipeline::DataInfo,
        reference_samples: usize,
    }
    let config = ConfigFile {
        tool: Tool::default(),
        train: &t.run.config,
        data: &t.data,
        reference_samples: n,
    };
    dir.write("config.json", &report::to_json_bytes(&config))?;
    dir.write("train-log.json", &report::to_json_bytes(&train_log(t)))?;
    if let Some(report) = report {
        dir.write("report.json", &report::render_demo_json(report))?;
    }
    Ok(())
}

fn run_demo(args: &DemoArgs) -> Result<ExitCode> {
    let preset = args.tolerance;
    let (_, report) = train_with_outputs(&args.train, |t| {
        Ok(Some(pipeline::check_parity(
            t,
            preset.tolerance(),
            preset.name(),
        )?))
    })?;
    let report = report.expect("the demo always makes a report");
    let bytes = match args.format {
        Format::Text => report::render_demo_text(&report).into_bytes(),
        Format::Json => report::render_demo_json(&report),
    };
    std::io::stdout().write_all(&bytes)?;
    Ok(if report.status == "pass" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_train(args: &TrainArgs) -> Result<ExitCode> {
    let (trained, _) = train_with_outputs(args, |_| Ok(None))?;
    let mut out = String::new();
    out.push_str("Both formulations on the held-out set, each model by its own loss:\n");
    out.push_str(&report::render_epoch_table(&trained.run.epochs));
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn run_export(args: &ExportArgs) -> Result<ExitCode> {
    let weights = npz::read_weights(&args.weights)?;
    let bytes = std::fs::read(&args.weights)
        .with_context(|| format!("reading {}", args.weights.display()))?;
    let head = match args.head {
        HeadKind::Logits => Head::Logits,
        HeadKind::Sigmoid => Head::Sigmoid,
    };
    let metadata = vec![(
        "onnx_parity.weights_sha256".to_string(),
        format!("{:x}", Sha256::digest(&bytes)),
    )];
    let onnx = export::export_mlp(&weights, head, metadata)
        .with_context(|| format!("exporting {}", args.weights.display()))?;
    let (dir, name) = match (args.out.parent(), args.out.file_name()) {
        (Some(dir), Some(name)) => (
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            },
            name,
        ),
        _ => bail!("--out {}: not a file path", args.out.display()),
    };
    ArtifactDir::create(dir)?.write(&name.to_string_lossy(), &onnx)?;
    println!(
        "wrote {} ({} bytes): MLP {}, {} head",
        args.out.display(),
        onnx.len(),
        weights
            .sizes()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        head.name()
    );
    Ok(ExitCode::SUCCESS)
}

fn run_data(args: &DataArgs) -> Result<ExitCode> {
    if args.samples == 0 || args.samples > MAX_SAMPLES {
        bail!(
            "--samples: must be between 1 and {MAX_SAMPLES}, got {}",
            args.samples
        );
    }
    let dir = ArtifactDir::create(&args.out)?;
    let ds = crate::dataset::synthetic::generate(args.samples, args.seed);
    let (images, labels) = crate::dataset::to_idx_pair(&ds);
    let (img_name, lbl_name) = crate::dataset::MNIST_PAIRS[0];
    dir.write(img_name, &images)?;
    dir.write(lbl_name, &labels)?;
    println!(
        "wrote {} synthetic samples (seed {}) to {} as {img_name} and {lbl_name}",
        args.samples,
        args.seed,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Parse arguments and run. Errors come back to `main`, which prints them and exits 2.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Demo(args) => run_demo(args),
        Command::Train(args) => run_train(args),
        Command::Validate(args) => validate::run_validate(args),
        Command::Inspect(args) => validate::run_inspect(args),
        Command::Conformance(args) => validate::run_conformance(args),
        Command::Compare(args) => compare::run_compare(args),
        Command::Matrix(args) => matrix::run_matrix(args),
        Command::Bench(args) => bench::run_bench(args),
        Command::Export(args) => run_export(args),
        Command::Data(args) => run_data(args),
    }
}
