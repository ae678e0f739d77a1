//! Text for people: what a terminal shows, one file per report.

mod advice;
mod bench;
mod compare;
mod conformance;
mod demo;
mod inspect;
mod matrix;
mod reduce;
mod validate;

pub(crate) use bench::{number as bench_number, range as bench_range};
pub(crate) use compare::{cause_line, local_line, pair_line};
pub(crate) use demo::optimizer_line;

use super::{Renderer, Report, ReportKind};

pub struct Text;

impl Renderer for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn renders(&self, _: ReportKind) -> bool {
        true
    }

    fn render(&self, report: &Report<'_>) -> Vec<u8> {
        match report {
            Report::Demo { report, .. } => demo::render(report).into_bytes(),
            Report::Train { log: r, .. } => {
                let mut out = String::from(
                    "Both formulations on the held-out set, each model by its own loss:\n",
                );
                out.push_str(&demo::epoch_table(r.epochs));
                out.into_bytes()
            }
            Report::Validate(r) => validate::render(r),
            Report::Compare(r) => compare::render(r),
            Report::Reduce(r) => reduce::render(r),
            Report::Matrix(r) => matrix::render(r),
            Report::Bench(r) => bench::render(r).into_bytes(),
            Report::Inspect(r) => inspect::render(r),
            Report::Conformance(r, list) => conformance::render(r, list),
        }
    }
}
