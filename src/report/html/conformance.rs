//! `conformance` as HTML: the counts, pass/fail/unsupported/error per operator as stacked bars,
//! and every case that did not pass with its reason.

use std::collections::BTreeMap;

use plotters::style::RGBColor;

use super::chart::{self, StackRow, StackedBars};
use super::page::{self, Page, Table, count, esc, figure, key_values, word_badge};
use crate::conformance::{Outcome, SuiteReport};

/// Fills by outcome, light to dark: pass, unsupported, fail, error.
fn fill(o: Outcome) -> RGBColor {
    match o {
        Outcome::Pass => RGBColor(166, 219, 160),
        Outcome::Unsupported => RGBColor(150, 150, 150),
        Outcome::Fail => RGBColor(165, 0, 38),
        Outcome::Error => RGBColor(10, 10, 10),
    }
}

pub(super) fn render(r: &SuiteReport) -> Vec<u8> {
    let c = &r.counts;
    let mut p = Page::new("onnx-parity conformance", None);
    let unsupported = format!("unsupported ({} cannot load or run it)", r.runtime);
    p.subtitle(format!(
        "The ONNX node tests in <code>{}</code> through <code>validate</code> on {}, tolerance {}.",
        esc(&r.dir),
        esc(&r.runtime.to_string()),
        page::tolerance(&r.tolerance)
    ));
    p.section(
        "Counts",
        &key_values(&[
            ("cases", count(c.total as u64)),
            ("pass", count(c.pass as u64)),
            ("fail (ran, an output differs)", count(c.fail as u64)),
            ("runtime", esc(&r.runtime.to_string())),
            (&unsupported, count(c.unsupported as u64)),
            (
                "error (a bug on our side, or a broken case)",
                count(c.error as u64),
            ),
            ("time", format!("{:.1} s", r.seconds)),
        ]),
    );
    let order = [
        Outcome::Pass,
        Outcome::Unsupported,
        Outcome::Fail,
        Outcome::Error,
    ];
    let mut by_op: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for case in &r.cases {
        let op = case
            .op
            .clone()
            .unwrap_or_else(|| "(model not opened)".to_owned());
        let k = order.iter().position(|o| *o == case.verdict).unwrap_or(3);
        by_op.entry(op).or_default()[k] += 1;
    }
    let rows: Vec<StackRow> = by_op
        .iter()
        .map(|(op, counts)| StackRow {
            name: op.clone(),
            counts: counts.to_vec(),
        })
        .collect();
    let panels = if rows.len() > 90 {
        3
    } else if rows.len() > 30 {
        2
    } else {
        1
    };
    let chart = chart::stacked_bars(&StackedBars {
        title: format!("Outcome per operator ({} operators)", rows.len()),
        parts: order
            .iter()
            .map(|o| (o.name().to_owned(), fill(*o)))
            .collect(),
        rows,
        panels,
    });
    p.section(
        "Per operator",
        &figure(
            &chart,
            "Each bar splits one operator's cases by outcome, from pass (lightest) through \
             unsupported and fail to error (black); the number after it is how many cases test \
             that operator. A case counts for the operator it tests (from its name and graph; an \
             <code>_expanded</code> case for the operator it spells out).",
        ),
    );
    let listed: Vec<_> = r
        .cases
        .iter()
        .filter(|c| c.verdict != Outcome::Pass)
        .collect();
    if !listed.is_empty() {
        let mut t = Table::new(&["case", "operator", "verdict", "why"]);
        for c in listed {
            t.row(
                &[
                    format!("<code>{}</code>", esc(&c.name)),
                    esc(c.op.as_deref().unwrap_or("")),
                    word_badge(c.verdict.name(), &c.verdict.name().to_uppercase()),
                    esc(c.reason.as_deref().unwrap_or("")),
                ],
                matches!(c.verdict, Outcome::Fail | Outcome::Error),
            );
        }
        p.section("Cases that did not pass", &t.finish());
    }
    p.finish()
}
