//! `compare A B`: flags to a [`crate::compare`] config, the report to stdout (and
//! `--report FILE`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{HtmlArg, ToleranceArgs, emit, format_parser, require, runtime_parser};
use crate::compare::{CompareConfig, compare};
use crate::onnx::TensorLimits;
use crate::report::{Report, ReportKind};
use crate::runtime::RuntimeKind;
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
    /// Who runs A when it is an ONNX file: tract or onnxruntime. `compare m.onnx m.onnx
    /// --runtime-a onnxruntime` compares the two runtimes on the same file.
    #[arg(long, value_parser = runtime_parser(), default_value = "tract")]
    runtime_a: RuntimeKind,
    /// Who runs B when it is an ONNX file: tract or onnxruntime.
    #[arg(long, value_parser = runtime_parser(), default_value = "tract")]
    runtime_b: RuntimeKind,
    /// Also compare every layer matched by structure, run each of A's layers alone on B's
    /// tensors and judge its own error against its float rounding bound; name the first
    /// diverging layer and the first cause (a layer beyond rounding, or a replaced op).
    #[arg(long)]
    layers: bool,
    /// Print the tightest atol/rtol/ULP each output would pass (and without the worst 0.1%),
    /// next to the noise floor: each ONNX side's unoptimized graph against its optimized one.
    #[arg(long)]
    suggest_tolerance: bool,
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
    require(args.runtime_a)?;
    require(args.runtime_b)?;
    let cfg = CompareConfig {
        a: args.a.clone(),
        b: args.b.clone(),
        test_data: args.test_data.clone(),
        layers: args.layers,
        suggest_tolerance: args.suggest_tolerance,
        tolerance,
        tolerance_name,
        limits: TensorLimits::default(),
        runtime_a: args.runtime_a,
        runtime_b: args.runtime_b,
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
