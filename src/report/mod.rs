//! Renderers: a report in, bytes out, one implementation per format.
//!
//! Why one seam: the same result goes to a terminal, a JSON file for CI, a JUnit file for a CI
//! dashboard, and snapshot tests. Every command's result is one [`Report`]; every format is one
//! [`Renderer`] in a file of its own and one line in [`FORMATS`]. Adding a format is that file
//! and that line; the CLI offers each command exactly the formats that render its report.
//! Renderers do no I/O and make no decisions: the verdict is already in the data.

pub mod html;
pub mod json;
pub mod junit;
pub mod text;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::bench::BenchReport;
use crate::compare::CompareReport;
use crate::compare::reduce::ReduceReport;
use crate::conformance::{Outcome, SuiteReport};
use crate::inspect::Inspection;
use crate::matrix::MatrixReport;
use crate::pipeline::{DemoReport, TrainLog};
use crate::refdata::TfReference;
use crate::validate::ValidateReport;

/// Every command's result, as the renderers take it.
#[derive(Debug, Clone, Copy)]
pub enum Report<'a> {
    /// The demo's report, with its training log (the per-step records the report does not keep)
    /// and, when given, a TensorFlow run of the same training to set beside it.
    Demo {
        report: &'a DemoReport,
        log: &'a TrainLog<'a>,
        tf: Option<&'a TfReference>,
    },
    /// A training log, with a TensorFlow run of the same training when given.
    Train {
        log: &'a TrainLog<'a>,
        tf: Option<&'a TfReference>,
    },
    Validate(&'a ValidateReport),
    Compare(&'a CompareReport),
    Reduce(&'a ReduceReport),
    Matrix(&'a MatrixReport),
    Bench(&'a BenchReport),
    Inspect(&'a Inspection),
    /// With the outcomes whose cases the text lists one by one.
    Conformance(&'a SuiteReport, &'a [Outcome]),
}

/// Which command a report comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Demo,
    Train,
    Validate,
    Compare,
    Reduce,
    Matrix,
    Bench,
    Inspect,
    Conformance,
}

impl Report<'_> {
    pub fn kind(&self) -> ReportKind {
        match self {
            Report::Demo { .. } => ReportKind::Demo,
            Report::Train { .. } => ReportKind::Train,
            Report::Validate(_) => ReportKind::Validate,
            Report::Compare(_) => ReportKind::Compare,
            Report::Reduce(_) => ReportKind::Reduce,
            Report::Matrix(_) => ReportKind::Matrix,
            Report::Bench(_) => ReportKind::Bench,
            Report::Inspect(_) => ReportKind::Inspect,
            Report::Conformance(..) => ReportKind::Conformance,
        }
    }
}

/// One output format.
pub trait Renderer: Sync {
    /// Its name, as `--format` takes it.
    fn name(&self) -> &'static str;

    /// Whether it has a rendering of this kind of report.
    fn renders(&self, kind: ReportKind) -> bool;

    /// The report's bytes. Only called for kinds it [`renders`](Renderer::renders).
    fn render(&self, report: &Report<'_>) -> Vec<u8>;
}

/// Every format, in the order `--help` lists them.
pub static FORMATS: &[&dyn Renderer] = &[&text::Text, &json::Json, &junit::Junit, &html::Html];

/// The names of the formats that render `kind`.
pub fn formats_for(kind: ReportKind) -> Vec<&'static str> {
    FORMATS
        .iter()
        .filter(|f| f.renders(kind))
        .map(|f| f.name())
        .collect()
}

/// A format that cannot render what it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format '{format}' has no rendering of a {kind:?} report (formats: {})", formats_for(*kind).join(", "))]
pub struct NoRendering {
    pub format: String,
    pub kind: ReportKind,
}

/// Renders `report` in the format named `format`.
pub fn render(format: &str, report: &Report<'_>) -> Result<Vec<u8>, NoRendering> {
    FORMATS
        .iter()
        .find(|f| f.name() == format && f.renders(report.kind()))
        .map(|f| f.render(report))
        .ok_or_else(|| NoRendering {
            format: format.to_owned(),
            kind: report.kind(),
        })
}

/// Pretty JSON with a trailing newline.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("plain data serializes");
    out.push(b'\n');
    out
}
