//! `validate`, `inspect` and `conformance`: arguments to [`crate::validate`] configs, reports
//! to stdout (and `--report FILE`), verdicts to exit codes (0 pass, 1 fail, 2 could not run).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::conformance::{self, Verdict};
use crate::inspect;
use crate::metrics::{Preset, Tolerance};
use crate::onnx::TensorLimits;
use crate::report;
use crate::validate::{
    DEFAULT_LOSS_TOL, ExpectLoss, Status, ValidateConfig, ValidateReport, manifest, validate,
};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub(super) enum ReportFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub(super) enum PlainFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// The ONNX model to validate.
    #[arg(value_name = "MODEL.onnx", required_unless_present = "manifest")]
    model: Option<PathBuf>,
    /// Validate every model listed in a TOML manifest (see README) instead of one model.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "model", "test_data", "labels", "loss_output", "atol", "rtol", "output_tol",
        "allow_nonfinite", "expect_loss", "expect_logits_loss", "expect_probs_loss",
    ])]
    manifest: Option<PathBuf>,
    /// Reference data: a test_data_set_N folder (input_K.pb / output_K.pb), a folder of
    /// test_data_set_* folders, a folder of NAME.npy files, or an .npz file. Repeatable.
    /// Default: every test_data_set_* beside the model.
    #[arg(long = "test-data", value_name = "PATH")]
    test_data: Vec<PathBuf>,
    /// Binary targets (.npy, same shape as the loss output): report both sigmoid-BCE losses.
    #[arg(long, value_name = "FILE.npy")]
    labels: Option<PathBuf>,
    /// Output the losses are computed on. Default: the first graph output.
    #[arg(long, value_name = "NAME")]
    loss_output: Option<String>,
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
    /// Absolute tolerance of the expected-loss checks.
    #[arg(long, value_name = "ATOL", default_value_t = DEFAULT_LOSS_TOL)]
    loss_tol: f64,
    /// Report format on stdout (or in --report FILE).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Write the report (in --format) to FILE; stdout then gets the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,
    #[arg(long, value_enum, default_value_t = PlainFormat::Text)]
    format: PlainFormat,
}

#[derive(Debug, Args)]
pub(super) struct ConformanceArgs {
    /// Folder of ONNX node-test cases (each a folder with model.onnx and test_data_set_*).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// A case running longer than this is a hang: the run stops with exit code 2, naming it.
    #[arg(long, value_name = "N", default_value_t = 60)]
    timeout_secs: u64,
    #[arg(long, value_enum, default_value_t = PlainFormat::Text)]
    format: PlainFormat,
    /// List the cases with these verdicts and why (text format), e.g. `--list fail,unsupported`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "VERDICTS")]
    list: Vec<ListVerdict>,
    /// Exit 1 when fewer than N cases pass (guards against silent regressions).
    #[arg(long, value_name = "N")]
    min_pass: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
enum ListVerdict {
    Pass,
    Fail,
    Unsupported,
    Error,
}

fn non_negative(flag: &str, v: f64) -> Result<f64> {
    if !(v.is_finite() && v >= 0.0) {
        bail!("{flag}: must be a finite number >= 0, got {v}");
    }
    Ok(v)
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

/// `--tolerance`, `--atol`, `--rtol` and `--allow-nonfinite`, shared by every command that
/// compares tensors.
#[derive(Debug, Args)]
pub(super) struct ToleranceArgs {
    /// Tolerance preset (exact, strict, default, relaxed, loose; see README).
    #[arg(long, value_parser = super::preset_parser(), default_value = "default")]
    tolerance: Preset,
    /// Absolute tolerance, overriding the preset's.
    #[arg(long, value_name = "ATOL")]
    atol: Option<f64>,
    /// Relative tolerance, overriding the preset's.
    #[arg(long, value_name = "RTOL")]
    rtol: Option<f64>,
    /// Let NaN/inf pass where both sides hold the same non-finite value.
    #[arg(long)]
    allow_nonfinite: bool,
}

impl ToleranceArgs {
    /// The tolerance with its label for reports (the preset's name, marked when --atol/--rtol
    /// override it).
    pub(super) fn resolve(&self) -> Result<(Tolerance, String)> {
        let p = self.tolerance.tolerance();
        let tolerance = Tolerance {
            atol: non_negative("--atol", self.atol.unwrap_or(p.atol))?,
            rtol: non_negative("--rtol", self.rtol.unwrap_or(p.rtol))?,
            allow_nonfinite: self.allow_nonfinite,
        };
        let name = if self.atol.is_some() || self.rtol.is_some() {
            format!("{} with --atol/--rtol", self.tolerance.name())
        } else {
            self.tolerance.name().to_owned()
        };
        Ok((tolerance, name))
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
            tol: non_negative("--loss-tol", self.loss_tol)?,
        };
        let has_expect = expect.logits_form.is_some() || expect.probs_form.is_some();
        if has_expect && self.labels.is_none() {
            bail!("--expect-loss needs --labels: losses are computed against labels");
        }
        Ok(ValidateConfig {
            test_data: self.test_data.clone(),
            labels: self.labels.clone(),
            loss_output: self.loss_output.clone(),
            tolerance,
            tolerance_name,
            output_tolerances,
            expect,
            ..ValidateConfig::new(model)
        })
    }
}

fn exit_code(status: Status) -> ExitCode {
    match status {
        Status::Pass => ExitCode::SUCCESS,
        Status::Fail => ExitCode::from(1),
        Status::Error => ExitCode::from(2),
    }
}

fn render(report: &ValidateReport, format: ReportFormat) -> Vec<u8> {
    match format {
        ReportFormat::Text => report::render_validate_text(report),
        ReportFormat::Json => report::render_validate_json(report),
        ReportFormat::Junit => report::render_validate_junit(report),
    }
}

pub(super) fn run_validate(args: &ValidateArgs) -> Result<ExitCode> {
    let report = match (&args.manifest, &args.model) {
        (Some(path), _) => manifest::run(path, TensorLimits::default())?,
        (None, Some(model)) => ValidateReport::new(validate(&args.config(model)?)),
        (None, None) => bail!("give a MODEL.onnx or --manifest FILE"),
    };
    // Whatever the format, what could not run is also said on stderr, one line each.
    for c in &report.cases {
        if let Some(e) = &c.error {
            eprintln!("error: {e}");
        }
    }
    let mut stdout = std::io::stdout();
    match &args.report {
        Some(path) => {
            std::fs::write(path, render(&report, args.format))
                .with_context(|| format!("--report: writing {}", path.display()))?;
            stdout.write_all(&report::render_validate_text(&report))?;
        }
        None => stdout.write_all(&render(&report, args.format))?,
    }
    Ok(exit_code(report.status))
}

pub(super) fn run_inspect(args: &InspectArgs) -> Result<ExitCode> {
    let i = inspect::inspect(&args.model)?;
    let bytes = match args.format {
        PlainFormat::Text => report::render_inspect_text(&i),
        PlainFormat::Json => report::render_inspect_json(&i),
    };
    std::io::stdout().write_all(&bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// Exits the process with code 2, naming the case, if one case runs longer than `timeout`.
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
                std::process::exit(2);
            }
        }
    });
    current
}

pub(super) fn run_conformance(args: &ConformanceArgs) -> Result<ExitCode> {
    if args.timeout_secs == 0 {
        bail!("--timeout-secs: must be at least 1");
    }
    let current = watchdog(Duration::from_secs(args.timeout_secs));
    let suite = conformance::run_suite(&args.dir, None, |name| {
        *current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((name.to_owned(), Instant::now()));
    })?;
    *current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let list: Vec<Verdict> = args
        .list
        .iter()
        .map(|v| match v {
            ListVerdict::Pass => Verdict::Pass,
            ListVerdict::Fail => Verdict::Fail,
            ListVerdict::Unsupported => Verdict::Unsupported,
            ListVerdict::Error => Verdict::Error,
        })
        .collect();
    let bytes = match args.format {
        PlainFormat::Text => report::render_conformance_text(&suite, &list),
        PlainFormat::Json => report::render_conformance_json(&suite),
    };
    std::io::stdout().write_all(&bytes)?;
    let c = &suite.counts;
    if c.error > 0 {
        eprintln!(
            "error: {} conformance case(s) ended in an error on our side (list them with --list error)",
            c.error
        );
        return Ok(ExitCode::from(1));
    }
    if let Some(min) = args.min_pass
        && c.pass < min
    {
        eprintln!(
            "error: {} case(s) passed, fewer than --min-pass {min}",
            c.pass
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
