//! `matrix`: flags to a [`crate::matrix`] config, the report to stdout.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::args::{HtmlArg, emit, format_parser, preset_parser};
use crate::matrix::{self, Case, MatrixConfig};
use crate::metrics::Preset;
use crate::report::{Report, ReportKind};
use crate::verdict::Verdict;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CaseChoice {
    /// The seed MLP trained here: TF, burn, tract and burn-import on the same weights.
    Seed,
    /// The Keras-trained seed MLP: TF, tract and burn-import on its tf2onnx export.
    KerasSeed,
    /// The Keras-trained CNN: TF, tract and burn-import on its tf2onnx export.
    KerasCnn,
    /// Every case above.
    All,
}

#[derive(Debug, Args)]
pub(super) struct MatrixArgs {
    /// Which model's matrix.
    #[arg(long, value_enum, default_value_t = CaseChoice::All)]
    model: CaseChoice,
    /// The folder holding the committed artifacts.
    #[arg(long, value_name = "DIR", default_value = "models")]
    models: PathBuf,
    /// Tolerance preset every pair must meet (exact, strict, default, relaxed, loose).
    #[arg(long, value_parser = preset_parser(), default_value = "default")]
    tolerance: Preset,
    /// Report format on stdout.
    #[arg(long, value_parser = format_parser(ReportKind::Matrix), default_value = "text")]
    format: String,
    #[command(flatten)]
    html: HtmlArg,
}

pub(super) fn run_matrix(args: &MatrixArgs) -> Result<Verdict> {
    let cases = match args.model {
        CaseChoice::Seed => vec![Case::Seed],
        CaseChoice::KerasSeed => vec![Case::KerasSeed],
        CaseChoice::KerasCnn => vec![Case::KerasCnn],
        CaseChoice::All => Case::ALL.to_vec(),
    };
    let cfg = MatrixConfig {
        models: args.models.clone(),
        cases,
        tolerance: args.tolerance.tolerance(),
        tolerance_name: args.tolerance.name().to_string(),
    };
    let report = matrix::run_matrix(&cfg)?;
    emit(
        Report::Matrix(&report),
        &args.format,
        None,
        args.html.path(),
    )?;
    Ok(report.status)
}
