//! `matrix`: arguments to a [`crate::matrix`] config, the report to stdout, the verdict to an
//! exit code (0 every pair within tolerance, 1 some pair outside, 2 could not run).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::Format;
use crate::matrix::{self, Case, MatrixConfig};
use crate::metrics::Preset;

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
    #[arg(long, value_parser = super::preset_parser(), default_value = "default")]
    tolerance: Preset,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(super) fn run_matrix(args: &MatrixArgs) -> Result<ExitCode> {
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
    let bytes = match args.format {
        Format::Text => matrix::render_text(&report),
        Format::Json => matrix::render_json(&report),
    };
    std::io::stdout().write_all(&bytes)?;
    Ok(if report.status == "pass" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
