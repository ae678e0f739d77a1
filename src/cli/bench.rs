//! `bench`: flags to a [`crate::bench`] config, the report to stdout as a table or JSON.
//!
//! `--validate-child` is the other half of the peak-memory figure: the benchmark starts this
//! binary again to run one `validate` in a process of its own and read its peak RSS.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use super::args::{emit, format_parser};
use super::progress;
use crate::bench::{self, BenchConfig, Sections};
use crate::report::{self, Report, ReportKind};
use crate::verdict::Verdict;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub(super) enum Section {
    Train,
    Infer,
    Validate,
    Roof,
}

#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    /// Folder with MNIST IDX files (its first 10,000 samples). Default: embedded synthetic digits.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Folder of the committed models (mnist-mlp/, keras-mlp-sigmoid/, keras-cnn/).
    #[arg(long, value_name = "DIR", default_value = "models")]
    models: PathBuf,
    /// Timed repetitions of each figure; the median is reported.
    #[arg(long, value_name = "N", default_value_t = 5)]
    repeat: usize,
    /// Untimed runs before the timed ones.
    #[arg(long, value_name = "N", default_value_t = 1)]
    warmup: usize,
    /// Measure only these groups (comma-separated). Default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Section>,
    /// Report format on stdout (json is what scripts/bench_reference.py reads).
    #[arg(long, value_parser = format_parser(ReportKind::Bench), default_value = "text")]
    format: String,
    /// The same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Internal: validate MODEL once in this process and print its time and peak RSS as JSON.
    #[arg(
        long,
        value_name = "MODEL.onnx",
        hide = true,
        requires = "validate_labels"
    )]
    validate_child: Option<PathBuf>,
    /// Internal: the labels of --validate-child.
    #[arg(long, value_name = "FILE.npy", hide = true)]
    validate_labels: Option<PathBuf>,
}

pub(super) fn run_bench(args: &BenchArgs) -> Result<Verdict> {
    if let (Some(model), Some(labels)) = (&args.validate_child, &args.validate_labels) {
        // Its exit code is its verdict, so the benchmark never reports the memory of a run
        // that did not validate.
        let child = bench::run_validate_child(model, labels);
        std::io::stdout().write_all(&report::to_json_bytes(&child))?;
        return Ok(child.status);
    }
    if args.repeat == 0 {
        bail!("--repeat: must be at least 1");
    }
    let sections = if args.only.is_empty() {
        Sections::default()
    } else {
        Sections {
            train: args.only.contains(&Section::Train),
            infer: args.only.contains(&Section::Infer),
            validate: args.only.contains(&Section::Validate),
            roof: args.only.contains(&Section::Roof),
        }
    };
    let cfg = BenchConfig {
        data: args.data.clone(),
        models: args.models.clone(),
        repeat: args.repeat,
        warmup: args.warmup,
        sections,
        validate_child: std::env::current_exe().ok(),
    };
    let bar = progress::bar("bench", "sections");
    let report = bench::run_with(&cfg, |s| progress::started(&bar, s))?;
    bar.finish_and_clear();
    let format = if args.json { "json" } else { &args.format };
    emit(Report::Bench(&report), format, None, None)?;
    Ok(Verdict::Pass)
}
