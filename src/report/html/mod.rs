//! HTML: one self-contained page per report, charts as inline SVG ([`chart`]), styles inline
//! ([`page`]); no script, font or URL fetched, so a page opens offline from a CI artifact and
//! prints. One file per report kind draws what that report holds.
//!
//! A report field that a chart needs and that is absent (an older report, a report made
//! without `--html`) is said in a note in place of the chart, never guessed at.

mod advice;
mod bench;
pub(crate) mod chart;
mod compare;
mod conformance;
mod demo;
mod inspect;
mod matrix;
pub(crate) mod page;
mod reduce;
mod validate;

use super::{Renderer, Report, ReportKind};

pub struct Html;

impl Renderer for Html {
    fn name(&self) -> &'static str {
        "html"
    }

    fn renders(&self, _: ReportKind) -> bool {
        true
    }

    fn render(&self, report: &Report<'_>) -> Vec<u8> {
        match report {
            Report::Demo { report, log, tf } => demo::render_demo(report, log, *tf),
            Report::Train { log, tf } => demo::render_train(log, *tf),
            Report::Validate(r) => validate::render(r),
            Report::Compare(r) => compare::render(r),
            Report::Reduce(r) => reduce::render(r),
            Report::Matrix(r) => matrix::render(r),
            Report::Bench(r) => bench::render(r),
            Report::Inspect(r) => inspect::render(r),
            Report::Conformance(r, _) => conformance::render(r),
        }
    }
}
