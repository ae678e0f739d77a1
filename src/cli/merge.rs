//! `merge`: the shards' JSON reports to one report and verdict.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{HtmlArg, format_parser};
use super::validate::emit_validate;
use crate::report::ReportKind;
use crate::validate::shard;
use crate::verdict::Verdict;

#[derive(Debug, Args)]
pub(super) struct MergeArgs {
    /// The shards' reports, written by `validate ... --shard I/N --format json --report FILE`:
    /// every shard of the run once, in any order.
    #[arg(value_name = "REPORT.json", required = true)]
    reports: Vec<PathBuf>,
    /// Report format on stdout (or in --report FILE).
    #[arg(long, value_parser = format_parser(ReportKind::Validate), default_value = "text")]
    format: String,
    /// Write the report (in --format) to FILE; stdout then gets the text report.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    html: HtmlArg,
}

pub(super) fn run_merge(args: &MergeArgs) -> Result<Verdict> {
    let shards = args
        .reports
        .iter()
        .map(|p| Ok((p.clone(), shard::read(p)?)))
        .collect::<Result<Vec<_>, shard::MergeError>>()?;
    let report = shard::merge(&shards)?;
    emit_validate(
        &report,
        &args.format,
        args.report.as_deref(),
        args.html.path(),
    )
}
