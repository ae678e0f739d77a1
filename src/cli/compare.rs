//! `compare A B`: arguments to a [`crate::compare`] config, the report to stdout (and
//! `--report FILE`), the verdict to an exit code (0 pass, 1 divergence, 2 could not run).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::validate::{ReportFormat, ToleranceArgs};
use crate::compare::{CompareConfig, CompareReport};
use crate::onnx::TensorLimits;
use crate::report;

#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// First side: an ONNX file, or a training run folder with weights.npz (the trained burn
    /// graph rebuilt from its weights), e.g. DIR/sigmoid as `train --out DIR` writes it.
    #[arg(value_name = "A")]
    a: PathBuf,
    /// Second side, the reference: an ONNX file or a training run folder.
    #[arg(value_name = "B")]
    b: PathBuf,
    /// Inputs: a test_data_set_N folder, a folder of them, NAME.npy files or an .npz (as in
    /// validate). Repeatable. Default: the test sets beside the ONNX side.
    #[arg(long = "test-data", value_name = "PATH")]
    test_data: Vec<PathBuf>,
    /// Also compare every layer matched by structure and name the first diverging one.
    #[arg(long)]
    layers: bool,
    #[command(flatten)]
    tol: ToleranceArgs,
    /// Report format on stdout (or in --report FILE).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Write the report (in --format) to FILE; stdout then gets the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

fn render(r: &CompareReport, format: ReportFormat) -> Vec<u8> {
    match format {
        ReportFormat::Text => report::render_compare_text(r),
        ReportFormat::Json => report::render_compare_json(r),
        ReportFormat::Junit => report::render_compare_junit(r),
    }
}

pub(super) fn run_compare(args: &CompareArgs) -> Result<ExitCode> {
    let (tolerance, tolerance_name) = args.tol.resolve()?;
    let cfg = CompareConfig {
        a: args.a.clone(),
        b: args.b.clone(),
        test_data: args.test_data.clone(),
        layers: args.layers,
        tolerance,
        tolerance_name,
        limits: TensorLimits::default(),
    };
    let report = crate::compare::compare(&cfg)?;
    let mut stdout = std::io::stdout();
    match &args.report {
        Some(path) => {
            std::fs::write(path, render(&report, args.format))
                .with_context(|| format!("--report: writing {}", path.display()))?;
            stdout.write_all(&report::render_compare_text(&report))?;
        }
        None => stdout.write_all(&render(&report, args.format))?,
    }
    Ok(if report.status == "pass" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
