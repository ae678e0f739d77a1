//! `reduce A --against B --out DIR`: flags to a [`crate::compare::reduce`] config, the report to
//! stdout (and `--report FILE`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{HtmlArg, ToleranceArgs, emit, format_parser, require, runtime_parser};
use crate::compare::reduce::{ReduceConfig, reduce};
use crate::onnx::TensorLimits;
use crate::report::{Report, ReportKind};
use crate::runtime::RuntimeKind;
use crate::verdict::Verdict;

#[derive(Debug, Args)]
pub(super) struct ReduceArgs {
    /// The model that diverges: an ONNX file.
    #[arg(value_name = "A.onnx")]
    a: PathBuf,
    /// The reference it diverges from: an ONNX file computing the same thing. Its tensors feed
    /// the cut and give the expected outputs.
    #[arg(long, value_name = "B.onnx")]
    against: PathBuf,
    /// Inputs, as compare takes them (the first test set is used). Default: the test sets
    /// beside A, else beside B.
    #[arg(long = "test-data", value_name = "PATH")]
    test_data: Vec<PathBuf>,
    /// Folder to write the case into: model.onnx and test_data_set_0/ (A's cut), reference/
    /// (B's cut), reduce.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Keep at most N samples, those that diverge most (0: keep all).
    #[arg(long, value_name = "N", default_value_t = 4)]
    samples: usize,
    /// Who runs A and its cuts: tract or onnxruntime.
    #[arg(long, value_parser = runtime_parser(), default_value = "tract")]
    runtime_a: RuntimeKind,
    /// Who runs B and its cuts: tract or onnxruntime.
    #[arg(long, value_parser = runtime_parser(), default_value = "tract")]
    runtime_b: RuntimeKind,
    #[command(flatten)]
    tol: ToleranceArgs,
    /// Report format on stdout (or in --report FILE).
    #[arg(long, value_parser = format_parser(ReportKind::Reduce), default_value = "text")]
    format: String,
    /// Write the report (in --format) to FILE; stdout then gets the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    html: HtmlArg,
}

pub(super) fn run_reduce(args: &ReduceArgs) -> Result<Verdict> {
    let (tolerance, tolerance_name) = args.tol.resolve()?;
    require(args.runtime_a)?;
    require(args.runtime_b)?;
    let cfg = ReduceConfig {
        a: args.a.clone(),
        b: args.against.clone(),
        test_data: args.test_data.clone(),
        out: args.out.clone(),
        tolerance,
        tolerance_name,
        samples: args.samples,
        runtime_a: args.runtime_a,
        runtime_b: args.runtime_b,
        limits: TensorLimits::default(),
    };
    let report = reduce(&cfg)?;
    emit(
        Report::Reduce(&report),
        &args.format,
        args.report.as_deref(),
        args.html.path(),
    )?;
    Ok(report.status)
}
