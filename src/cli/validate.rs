//! `validate`, `inspect` and `conformance`: flags to [`crate::validate`] configs, reports to
//! stdout (and `--report FILE`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use super::args::{
    HtmlArg, ToleranceArgs, emit, format_parser, non_negative, require, runtime_parser,
};
use super::progress;
use crate::conformance::{self, Outcome};
use crate::inspect;
use crate::metrics::Tolerance;
use crate::onnx::TensorLimits;
use crate::report::{Report, ReportKind};
use crate::runtime::RuntimeKind;
use crate::validate::{
    DEFAULT_LOSS_TOL, ExpectLoss, LossTolerance, Shard, ValidateConfig, ValidateReport, manifest,
    validate_report,
};
use crate::verdict::Verdict;

#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// The ONNX model to validate.
    #[arg(value_name = "MODEL.onnx", required_unless_present = "manifest")]
    model: Option<PathBuf>,
    /// Validate every model listed in a TOML manifest (see README) instead of one model.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "model", "test_data", "labels", "loss_output", "atol", "rtol", "output_tol",
        "allow_nonfinite", "expect_loss", "expect_logits_loss", "expect_probs_loss",
        "expect_sklearn_loss", "outputs", "suggest_tolerance", "map", "loss_rtol", "loss_atol",
        "chunk", "shard",
    ])]
    manifest: Option<PathBuf>,
    /// Reference data: a test_data_set_N folder (input_K.pb / output_K.pb), a folder of
    /// test_data_set_* folders, a folder of NAME.npy files, or an .npz file. Repeatable.
    /// Default: every test_data_set_* beside the model.
    #[arg(long = "test-data", value_name = "PATH")]
    test_data: Vec<PathBuf>,
    /// Who runs the model: tract, or onnxruntime (its library from the pinned wheel, found
    /// through ORT_DYLIB_PATH or the venv; see README).
    #[arg(long, value_parser = runtime_parser(), default_value = "tract")]
    runtime: RuntimeKind,
    /// Binary targets (.npy, same shape as the loss output): report both sigmoid-BCE losses.
    #[arg(long, value_name = "FILE.npy")]
    labels: Option<PathBuf>,
    /// Output the losses are computed on. Default: the first floating-point graph output.
    #[arg(long, value_name = "NAME")]
    loss_output: Option<String>,
    /// Check only these outputs (comma-separated). The graph is pruned to them (and the loss
    /// output) before the runtime prepares it, so an operator the runtime lacks on another
    /// branch does not block the check. Default: the outputs the reference data covers.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    outputs: Vec<String>,
    #[command(flatten)]
    tol: ToleranceArgs,
    /// Tolerance of one output, e.g. `--output-tol probabilities=1e-6,1e-6`. Repeatable.
    #[arg(long = "output-tol", value_name = "NAME=ATOL,RTOL")]
    output_tol: Vec<String>,
    /// Expected loss for both formulations (gated with --loss-tol).
    #[arg(long, value_name = "V")]
    expect_loss: Option<f64>,
    /// Expected logits-form loss (overrides --expect-loss for that form).
    #[arg(long, value_name = "V")]
    expect_logits_loss: Option<f64>,
    /// Expected probability-form loss (overrides --expect-loss for that form).
    #[arg(long, value_name = "V")]
    expect_probs_loss: Option<f64>,
    /// Expected scikit-learn binary_log_loss (sum over labels of the mean over samples, clip
    /// at the float32 epsilon); --expect-loss does not set it.
    #[arg(long, value_name = "V")]
    expect_sklearn_loss: Option<f64>,
    /// Absolute tolerance of the expected-loss checks.
    #[arg(long, value_name = "ATOL", default_value_t = DEFAULT_LOSS_TOL)]
    loss_tol: f64,
    /// Print the tightest atol/rtol/ULP each output would pass (and without the worst 0.1%),
    /// next to the noise floor: the runtime's unoptimized graph against its optimized one, and
    /// every other runtime available here.
    #[arg(long)]
    suggest_tolerance: bool,
    /// The loss verdict: each form's loss may differ from the same loss computed from the
    /// reference outputs by max(LOSS_ATOL, LOSS_RTOL * |reference|).
    #[arg(long, value_name = "RTOL", default_value_t = LossTolerance::default().rtol)]
    loss_rtol: f64,
    /// See --loss-rtol.
    #[arg(long, value_name = "ATOL", default_value_t = LossTolerance::default().atol)]
    loss_atol: f64,
    /// Map a name in the reference files to a model input or output, e.g. `--map input=x`
    /// (npz members, NAME.npy stems, names stored in .pb files). Repeatable.
    #[arg(long = "map", value_name = "FILE_NAME=MODEL_NAME")]
    map: Vec<String>,
    /// Read the test data (a folder of NAME.npy files) and the labels N samples at a time:
    /// memory stays at a few chunks whatever the size of the set. Figures are accumulated as
    /// reading whole computes them (README: "Test sets larger than memory").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..),
          conflicts_with = "suggest_tolerance")]
    chunk: Option<u64>,
    /// Validate only shard I of N: a contiguous slice of every test set's samples (a folder of
    /// NAME.npy files, read as --chunk reads it). Write each shard's report with `--format json
    /// --report FILE` and combine them with `onnx-parity merge` (README: "Sharding across
    /// machines"). Expected-loss gates are judged by merge, on the whole set.
    #[arg(long, value_name = "I/N", value_parser = clap::value_parser!(Shard),
          conflicts_with = "suggest_tolerance")]
    shard: Option<Shard>,
    /// Report format on stdout (or in --report FILE).
    #[arg(long, value_parser = format_parser(ReportKind::Validate), default_value = "text")]
    format: String,
    /// Write the report (in --format) to FILE; stdout then gets the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    html: HtmlArg,
}

#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,
    #[arg(long, value_parser = format_parser(ReportKind::Inspect), default_value = "text")]
    format: String,
}

#[derive(Debug, Args)]
pub(super) struct ConformanceArgs {
    /// Folder of ONNX node-test cases (each a folder with model.onnx and test_data_set_*).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Who runs the cases: tract or onnxruntime.
    #[arg(long, value_parser = runtime_parser(), default_value = "tract")]
    runtime: RuntimeKind,
    /// A case running longer than this is a hang: the run stops with exit code 2, naming it.
    #[arg(long, value_name = "N", default_value_t = 60)]
    timeout_secs: u64,
    #[arg(long, value_parser = format_parser(ReportKind::Conformance), default_value = "text")]
    format: String,
    /// List the cases with these verdicts and why (text format), e.g. `--list fail,unsupported`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "VERDICTS")]
    list: Vec<ListVerdict>,
    /// Exit 1 when fewer than N cases pass (guards against silent regressions).
    #[arg(long, value_name = "N")]
    min_pass: Option<usize>,
    #[command(flatten)]
    html: HtmlArg,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
enum ListVerdict {
    Pass,
    Fail,
    Unsupported,
    Error,
}

fn finite(flag: &str, v: Option<f64>) -> Result<Option<f64>> {
    match v {
        Some(x) if !x.is_finite() => bail!("{flag}: must be a finite number, got {x}"),
        _ => Ok(v),
    }
}

/// `NAME=ATOL,RTOL`.
fn parse_output_tol(spec: &str, allow_nonfinite: bool) -> Result<(String, Tolerance)> {
    let bad = || anyhow::anyhow!("--output-tol {spec:?}: expected NAME=ATOL,RTOL");
    let (name, nums) = spec.rsplit_once('=').ok_or_else(bad)?;
    let (a, r) = nums.split_once(',').ok_or_else(bad)?;
    let a: f64 = a.trim().parse().map_err(|_| bad())?;
    let r: f64 = r.trim().parse().map_err(|_| bad())?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok((
        name.to_owned(),
        Tolerance {
            atol: non_negative("--output-tol ATOL", a)?,
            rtol: non_negative("--output-tol RTOL", r)?,
            allow_nonfinite,
        },
    ))
}

/// `FILE_NAME=MODEL_NAME`.
pub(super) fn parse_map(spec: &str) -> Result<(String, String)> {
    match spec.split_once('=') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => {
            Ok((from.to_owned(), to.to_owned()))
        }
        _ => bail!("--map {spec:?}: expected FILE_NAME=MODEL_NAME"),
    }
}

impl ValidateArgs {
    fn config(&self, model: &Path) -> Result<ValidateConfig> {
        let (tolerance, tolerance_name) = self.tol.resolve()?;
        let output_tolerances = self
            .output_tol
            .iter()
            .map(|s| parse_output_tol(s, tolerance.allow_nonfinite))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let both = finite("--expect-loss", self.expect_loss)?;
        let expect = ExpectLoss {
            logits_form: finite("--expect-logits-loss", self.expect_logits_loss)?.or(both),
            probs_form: finite("--expect-probs-loss", self.expect_probs_loss)?.or(both),
            sklearn_form: finite("--expect-sklearn-loss", self.expect_sklearn_loss)?,
            tol: non_negative("--loss-tol", self.loss_tol)?,
            reference: LossTolerance {
                rtol: non_negative("--loss-rtol", self.loss_rtol)?,
                atol: non_negative("--loss-atol", self.loss_atol)?,
            },
        };
        let has_expect = expect.logits_form.is_some()
            || expect.probs_form.is_some()
            || expect.sklearn_form.is_some();
        if has_expect && self.labels.is_none() {
            bail!("--expect-loss needs --labels: losses are computed against labels");
        }
        Ok(ValidateConfig {
            test_data: self.test_data.clone(),
            labels: self.labels.clone(),
            loss_output: self.loss_output.clone(),
            outputs: self.outputs.clone(),
            tolerance,
            tolerance_name,
            output_tolerances,
            expect,
            suggest_tolerance: self.suggest_tolerance,
            chunk: self.chunk.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            shard: self.shard,
            runtime: self.runtime,
            map: self
                .map
                .iter()
                .map(|m| parse_map(m))
                .collect::<Result<_>>()?,
            error_detail: self.html.wanted(&self.format),
            ..ValidateConfig::new(model)
        })
    }
}

pub(super) fn run_validate(args: &ValidateArgs) -> Result<Verdict> {
    require(args.runtime)?;
    if args.chunk.is_some() || args.shard.is_some() {
        bounded_heap();
    }
    let report = match (&args.manifest, &args.model) {
        (Some(path), _) => {
            let bar = progress::bar("validating", "models");
            let detail = args.html.wanted(&args.format);
            let limits = TensorLimits::default();
            let report = manifest::run_with(path, limits, args.runtime, detail, |s| {
                progress::started(&bar, s)
            });
            bar.finish_and_clear();
            report?
        }
        (None, Some(model)) => validate_report(&args.config(model)?),
        (None, None) => bail!("give a MODEL.onnx or --manifest FILE"),
    };
    emit_validate(
        &report,
        &args.format,
        args.report.as_deref(),
        args.html.path(),
    )
}

/// A validate report out (`validate`, `merge`): what could not run also said on stderr, one
/// line each whatever the format, then the report emitted; its verdict back.
pub(super) fn emit_validate(
    report: &ValidateReport,
    format: &str,
    report_file: Option<&Path>,
    html: Option<&Path>,
) -> Result<Verdict> {
    for c in &report.cases {
        if let Some(e) = &c.error {
            eprintln!("error: {e}");
        }
    }
    emit(Report::Validate(report), format, report_file, html)?;
    Ok(report.status)
}

pub(super) fn run_inspect(args: &InspectArgs) -> Result<Verdict> {
    let i = inspect::inspect(&args.model)?;
    emit(Report::Inspect(&i), &args.format, None, None)?;
    Ok(Verdict::Pass)
}

/// Stops the process as could-not-run, naming the case, if one case runs longer than `timeout`.
/// In-process cases cannot be interrupted safely; stopping everything is what CI needs.
fn watchdog(timeout: Duration) -> Arc<Mutex<Option<(String, Instant)>>> {
    let current: Arc<Mutex<Option<(String, Instant)>>> = Arc::new(Mutex::new(None));
    let watched = Arc::clone(&current);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let guard = watched.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((name, started)) = guard.as_ref()
                && started.elapsed() > timeout
            {
                eprintln!(
                    "error: conformance case {name} still running after {} s: stopping (a hang)",
                    timeout.as_secs()
                );
                let _ = std::io::stderr().flush();
                std::process::exit(i32::from(Verdict::Error.exit_code()));
            }
        }
    });
    current
}

pub(super) fn run_conformance(args: &ConformanceArgs) -> Result<Verdict> {
    if args.timeout_secs == 0 {
        bail!("--timeout-secs: must be at least 1");
    }
    require(args.runtime)?;
    let current = watchdog(Duration::from_secs(args.timeout_secs));
    let bar = progress::bar("conformance", "cases");
    let suite = conformance::run_suite(&args.dir, None, args.runtime, |s| {
        progress::started(&bar, s);
        *current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((s.name.to_owned(), Instant::now()));
    })?;
    bar.finish_and_clear();
    *current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let list: Vec<Outcome> = args
        .list
        .iter()
        .map(|v| match v {
            ListVerdict::Pass => Outcome::Pass,
            ListVerdict::Fail => Outcome::Fail,
            ListVerdict::Unsupported => Outcome::Unsupported,
            ListVerdict::Error => Outcome::Error,
        })
        .collect();
    let report = Report::Conformance(&suite, &list);
    emit(report, &args.format, None, args.html.path())?;
    let (verdict, problem) = suite.verdict(args.min_pass);
    if let Some(problem) = problem {
        eprintln!("error: {problem}");
    }
    Ok(verdict)
}

/// For `--chunk` and `--shard`, whose memory must stay at a few chunks: buffers of 4 MiB and more
/// are mapped on their own and returned to the system when freed. glibc's default raises that
/// threshold to the largest buffer freed (up to 32 MiB), so 31 MB chunk buffers came from the
/// heap, which freed chunks fragmented: a million-sample run peaked at 280-540 MB instead of
/// about 95 MB. Not for whole-set runs: there the same setting faults tract's larger scratch
/// buffers in afresh on every run (the MLP at batch 256 lost 30% in `bench`).
fn bounded_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters (under its own lock).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
