//! `demo`, `train`, `export` and `data`: flags to the seed pipeline's configs, progress on
//! stderr, the report on stdout; what the run writes is the library's
//! ([`crate::pipeline::outputs`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;

use super::args::{HtmlArg, emit, format_parser, preset_parser};
use super::progress;
use crate::artifacts::ArtifactDir;
use crate::dataset::DatasetError;
use crate::loss::Head;
use crate::metrics::Preset;
use crate::model::npz;
use crate::model::train::{InitSource, Progress, TrainConfig};
use crate::model::{AdamVariant, Arch, ModelWeights, OptimizerConfig};
use crate::pipeline::{self, DataConfig, DataSource, DemoReport, PipelineError, Trained};
use crate::refdata::{TfReference, read_tf_reference};
use crate::report::{Report, ReportKind};
use crate::verdict::Verdict;

/// Largest sample count accepted for --train/--eval (guards against absurd allocations).
const MAX_SAMPLES: usize = 1_000_000;

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

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ArchKind {
    /// Dense layers with ReLU between them (--hidden).
    Mlp,
    /// Conv2D(--filters, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense, on NHWC images.
    Cnn,
}

impl ArchKind {
    fn of(arch: Arch) -> Self {
        match arch {
            Arch::Mlp => ArchKind::Mlp,
            Arch::Cnn { .. } => ArchKind::Cnn,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ArchKind::Mlp => "mlp",
            ArchKind::Cnn => "cnn",
        }
    }
}

/// Filters of the CNN when neither --filters nor --init says.
const DEFAULT_FILTERS: usize = 8;

#[derive(Debug, Args)]
pub(super) struct TrainArgs {
    /// Folder with MNIST IDX files (train-*/t10k-*, optionally .gz). Default: embedded synthetic digits.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The network: mlp (dense layers, --hidden) or cnn (conv 3x3 + max-pool + dense, --filters).
    /// Default: what --init holds, else mlp.
    #[arg(long, value_enum)]
    arch: Option<ArchKind>,
    /// Filters of the CNN's convolution (default 8; taken from --init when given).
    #[arg(long, value_name = "N")]
    filters: Option<usize>,
    /// Binary targets instead of the digits one-hot: float32 [samples, k] of 0/1 (.npy), one row
    /// per image of the whole data in file order; the models get k outputs.
    #[arg(long, value_name = "FILE.npy")]
    targets: Option<PathBuf>,
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
    /// A TensorFlow run of the same training (reference.json of scripts/tf_reference.py): the
    /// HTML report draws its per-step losses beside this run's.
    #[arg(long, value_name = "FILE")]
    tf_reference: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct TrainCommandArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Format of the per-epoch table on stdout (json: the training log).
    #[arg(long, value_parser = format_parser(ReportKind::Train), default_value = "text")]
    format: String,
    #[command(flatten)]
    html: HtmlArg,
}

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Tolerance preset for every comparison (see README).
    #[arg(long, value_parser = preset_parser(), default_value = "default")]
    tolerance: Preset,
    /// Report format on stdout.
    #[arg(long, value_parser = format_parser(ReportKind::Demo), default_value = "text")]
    format: String,
    #[command(flatten)]
    html: HtmlArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum HeadKind {
    Logits,
    Sigmoid,
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// Weights in Keras layout, float32: dense/kernel [in,out], dense/bias, dense_1/... (MLP), or
    /// conv2d/kernel [3,3,in,filters], conv2d/bias, dense/kernel, dense/bias (CNN).
    #[arg(long, value_name = "FILE.npz")]
    weights: PathBuf,
    /// Refuse weights of another architecture. Default: whichever the file holds.
    #[arg(long, value_enum)]
    arch: Option<ArchKind>,
    /// What the graph outputs: logits, or a Sigmoid of them (the tensor "logits" stays inside).
    #[arg(long, value_enum)]
    head: HeadKind,
    /// Where to write the ONNX file.
    #[arg(long, value_name = "FILE.onnx")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct DataArgs {
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
    fn configs(&self) -> Result<(TrainConfig, DataConfig, Option<ModelWeights>)> {
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
                let (source, weights) = pipeline::read_init(path)?;
                (source, Some(weights))
            }
            None => (InitSource::GlorotUniform, None),
        };
        let init_path = || {
            self.init
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        };
        let init_arch = initial.as_ref().map(ModelWeights::arch);
        let kind = match (self.arch, init_arch.map(ArchKind::of)) {
            (Some(asked), Some(found)) if asked != found => bail!(
                "--arch {} disagrees with --init {}, which holds a {}",
                asked.name(),
                init_path(),
                initial
                    .as_ref()
                    .map_or(String::new(), ModelWeights::describe)
            ),
            (asked, found) => found.or(asked).unwrap_or(ArchKind::Mlp),
        };
        let (arch, hidden) = if kind == ArchKind::Cnn {
            if self.hidden.is_some() {
                bail!("--hidden: applies to --arch mlp only (the CNN's width is --filters)");
            }
            let filters = match (self.filters, init_arch) {
                (Some(f), Some(Arch::Cnn { filters })) if f != filters => bail!(
                    "--filters {f} disagrees with --init {}, whose conv2d has {filters} filters",
                    init_path()
                ),
                (_, Some(Arch::Cnn { filters })) => filters,
                (Some(f), _) => f,
                (None, _) => DEFAULT_FILTERS,
            };
            (Arch::Cnn { filters }, Vec::new())
        } else {
            if self.filters.is_some() {
                bail!("--filters: applies to --arch cnn only (the MLP's widths are --hidden)");
            }
            let init_hidden = match &initial {
                Some(ModelWeights::Mlp(w)) => Some(w.sizes()[1..w.sizes().len() - 1].to_vec()),
                _ => None,
            };
            let hidden = match (&self.hidden, init_hidden) {
                (Some(h), Some(w)) if *h != w => bail!(
                    "--hidden {h:?} disagrees with --init {}, whose hidden widths are {w:?}",
                    init_path()
                ),
                (Some(h), _) => h.clone(),
                (None, Some(w)) => w,
                (None, None) => vec![128],
            };
            (Arch::Mlp, hidden)
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
            arch,
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
            targets: self.targets.clone(),
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
    let bar = progress::bar("training", "steps");
    let trained = pipeline::train_and_export(&config, &data, initial, observer(&bar)).map_err(
        |e| match (&e, &args.indices, &args.init) {
            (PipelineError::Data(DatasetError::IndexOutOfRange { .. }), Some(p), _) => {
                anyhow::Error::new(e).context(format!("--indices {}", p.display()))
            }
            (PipelineError::InitMismatch { .. }, _, Some(p)) => {
                anyhow::Error::new(e).context(format!("--init {}", p.display()))
            }
            (PipelineError::Data(DatasetError::Targets(_)), _, _) => {
                anyhow::Error::new(e).context("--targets")
            }
            _ => e.into(),
        },
    )?;
    bar.finish_and_clear();
    let report = report_for(&trained)?;
    if let Some(dir) = &out {
        pipeline::write_run(dir, &trained, report.as_ref(), args.reference_samples)?;
    }
    if let Some(path) = &args.log_json {
        pipeline::write_log(path, &trained)?;
    }
    if let Some(path) = &args.save_weights {
        pipeline::save_weights(path, &trained)?;
    }
    Ok((trained, report))
}

impl TrainArgs {
    /// The TensorFlow run of `--tf-reference`, read before training so that a bad file fails
    /// fast; only an HTML page draws it.
    fn tf_reference(&self, html: bool) -> Result<Option<TfReference>> {
        match &self.tf_reference {
            Some(_) if !html => {
                bail!(
                    "--tf-reference: only the HTML report draws it; add --html FILE or --format html"
                )
            }
            Some(path) => Ok(Some(read_tf_reference(path)?)),
            None => Ok(None),
        }
    }
}

/// `w.npz` -> `w-logits.npz`.
pub(super) fn run_demo(args: &DemoArgs) -> Result<Verdict> {
    let preset = args.tolerance;
    let tf = args.train.tf_reference(args.html.wanted(&args.format))?;
    let (trained, report) = train_with_outputs(&args.train, |t| {
        Ok(Some(pipeline::check_parity(
            t,
            preset.tolerance(),
            preset.name(),
        )?))
    })?;
    let report = report.expect("the demo always makes a report");
    let log = pipeline::train_log(&trained);
    let tf = tf.as_ref();
    let demo = Report::Demo {
        report: &report,
        log: &log,
        tf,
    };
    emit(demo, &args.format, None, args.html.path())?;
    Ok(report.status)
}

pub(super) fn run_train(args: &TrainCommandArgs) -> Result<Verdict> {
    let tf = args.train.tf_reference(args.html.wanted(&args.format))?;
    let (trained, _) = train_with_outputs(&args.train, |_| Ok(None))?;
    let log = pipeline::train_log(&trained);
    let train = Report::Train {
        log: &log,
        tf: tf.as_ref(),
    };
    emit(train, &args.format, None, args.html.path())?;
    Ok(Verdict::Pass)
}

pub(super) fn run_export(args: &ExportArgs) -> Result<Verdict> {
    let head = match args.head {
        HeadKind::Logits => Head::Logits,
        HeadKind::Sigmoid => Head::Sigmoid,
    };
    let arch = args.arch.map(|a| match a {
        ArchKind::Mlp => Arch::Mlp,
        // Only the kind is checked; the filters are the file's.
        ArchKind::Cnn => Arch::Cnn { filters: 0 },
    });
    let summary = pipeline::export_weights(&args.weights, head, arch, &args.out)
        .with_context(|| format!("exporting {}", args.weights.display()))?;
    println!(
        "wrote {} ({} bytes): {}, {} head",
        args.out.display(),
        summary.bytes,
        summary.model,
        head.name()
    );
    Ok(Verdict::Pass)
}

pub(super) fn run_data(args: &DataArgs) -> Result<Verdict> {
    if args.samples == 0 || args.samples > MAX_SAMPLES {
        bail!(
            "--samples: must be between 1 and {MAX_SAMPLES}, got {}",
            args.samples
        );
    }
    let (img_name, lbl_name) = pipeline::write_synthetic_idx(&args.out, args.samples, args.seed)?;
    println!(
        "wrote {} synthetic samples (seed {}) to {} as {img_name} and {lbl_name}",
        args.samples,
        args.seed,
        args.out.display()
    );
    Ok(Verdict::Pass)
}
