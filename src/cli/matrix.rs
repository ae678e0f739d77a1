//! `matrix`: flags to a [`crate::matrix`] config, the report to stdout.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::args::{HtmlArg, emit, format_parser, non_negative, preset_parser};
use super::validate::parse_map;
use crate::matrix::model::{ModelMatrixConfig, run_model_matrix};
use crate::matrix::{self, Case, MatrixConfig};
use crate::metrics::Preset;
use crate::onnx::TensorLimits;
use crate::report::{Report, ReportKind};
use crate::validate::LossTolerance;
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
    /// Any ONNX file: its reference data through every runtime available here (tract
    /// optimized and decluttered, onnxruntime optimized and not, burn-import where built from
    /// this file, the trained burn graph when weights.npz is beside it). Without it: the
    /// committed cases of --model.
    #[arg(value_name = "MODEL.onnx", conflicts_with_all = ["model", "models"])]
    onnx: Option<PathBuf>,
    /// Reference data for MODEL.onnx (as validate takes it). Repeatable. Default: every
    /// test_data_set_* beside the model.
    #[arg(long = "test-data", value_name = "PATH", requires = "onnx")]
    test_data: Vec<PathBuf>,
    /// Binary targets of the first output's shape: each column's two losses, accuracy and loss
    /// verdict against the reference column, and decisions flipped per pair.
    #[arg(long, value_name = "FILE.npy", requires = "onnx")]
    labels: Option<PathBuf>,
    /// Map a name in the reference files to a model input or output. Repeatable.
    #[arg(long = "map", value_name = "FILE_NAME=MODEL_NAME", requires = "onnx")]
    map: Vec<String>,
    /// The loss verdict: |loss - reference loss| <= max(LOSS_ATOL, LOSS_RTOL * |reference|).
    #[arg(long, value_name = "RTOL", default_value_t = LossTolerance::default().rtol)]
    loss_rtol: f64,
    /// See --loss-rtol.
    #[arg(long, value_name = "ATOL", default_value_t = LossTolerance::default().atol)]
    loss_atol: f64,
    /// Which committed model's matrix.
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
    if let Some(onnx) = &args.onnx {
        let cfg = ModelMatrixConfig {
            model: onnx.clone(),
            test_data: args.test_data.clone(),
            labels: args.labels.clone(),
            map: args
                .map
                .iter()
                .map(|m| parse_map(m))
                .collect::<Result<_>>()?,
            tolerance: args.tolerance.tolerance(),
            tolerance_name: args.tolerance.name().to_string(),
            loss_tolerance: LossTolerance {
                rtol: non_negative("--loss-rtol", args.loss_rtol)?,
                atol: non_negative("--loss-atol", args.loss_atol)?,
            },
            limits: TensorLimits::default(),
        };
        let report = run_model_matrix(&cfg)?;
        emit(
            Report::Matrix(&report),
            &args.format,
            None,
            args.html.path(),
        )?;
        return Ok(report.status);
    }
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
