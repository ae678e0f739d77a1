//! `compare A B`: flags to a [`crate::compare`] config, the report to stdout (and
//! `--report FILE`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{HtmlArg, ToleranceArgs, emit, format_parser};
use crate::compare::{CompareConfig, compare};
use crate::onnx::TensorLimits;
use crate::report::{Report, ReportKind};
use crate::verdict::Verdict;

#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// First side: an ONNX file, or a training run folder with weights.npz (the trained burn
    /// graph rebuilt from its weights), e.g. DIR/probs as `train --out DIR` writes it.
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
    #[arg(long, value_parser = format_parser(ReportKind::Compare), default_value = "text")]
    format: String,
    /// Write the report (in --format) to FILE; stdout then gets the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    html: HtmlArg,
}

pub(super) fn run_compare(args: &CompareArgs) -> Result<Verdict> {
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
    let report = compare(&cfg)?;
    emit(
        Report::Compare(&report),
        &args.format,
        args.report.as_deref(),
        args.html.path(),
    )?;
    Ok(report.status)
}
