//! The `matrix` report as text: two lower-triangular tables per case (max abs, max ULP).

use std::fmt::Write as _;

use crate::matrix::{MatrixCase, MatrixReport, Pair};

pub(super) fn render(report: &MatrixReport) -> Vec<u8> {
    let mut out = String::new();
    for case in &report.cases {
        render_case(&mut out, case);
        out.push('\n');
    }
    let pairs: Vec<&Pair> = report.cases.iter().flat_map(|c| &c.pairs).collect();
    let failed = pairs.iter().filter(|p| !p.passed()).count();
    let _ = writeln!(
        out,
        "verdict: {} ({} of {} pairs within tolerance {}: {})",
        report.status,
        pairs.len() - failed,
        pairs.len(),
        report.tolerance_name,
        report.tolerance
    );
    out.into_bytes()
}

/// `[i]` with 1-based numbering, as the column list shows it.
fn tag(i: usize) -> String {
    format!("[{}]", i + 1)
}

fn render_case(out: &mut String, case: &MatrixCase) {
    let _ = writeln!(out, "{}: {}", case.case.name(), case.title);
    let _ = writeln!(out, "  inputs {} {:?}", case.inputs, case.input_shape);
    let width = case
        .columns
        .iter()
        .map(|c| c.label.len())
        .max()
        .unwrap_or(0);
    for (i, c) in case.columns.iter().enumerate() {
        let _ = write!(out, "  {:>4} {:<width$}  {}", tag(i), c.label, c.source);
        match &c.unavailable {
            Some(note) => {
                let _ = writeln!(out, "\n         unavailable: {note}");
            }
            None => out.push('\n'),
        }
    }
    if case.pairs.is_empty() {
        let _ = writeln!(out, "  fewer than two runtimes available: nothing compared");
        return;
    }
    table(out, case, "max abs difference", |p| {
        p.metrics
            .as_ref()
            .map_or("shape".to_string(), |m| format!("{:.2e}", m.max_abs_err))
    });
    table(out, case, "max ULP distance", |p| {
        p.metrics
            .as_ref()
            .map_or("shape".to_string(), |m| m.max_ulp.to_string())
    });
    for p in case.pairs.iter().filter(|p| !p.passed()) {
        let (a, e) = (tag(p.actual), tag(p.expected));
        match &p.metrics {
            None => {
                let shape = |i: usize| {
                    case.columns[i]
                        .output_shape
                        .as_ref()
                        .map_or("-".to_owned(), |s| format!("{s:?}"))
                };
                let _ = writeln!(
                    out,
                    "  {a} vs {e}: output shapes {} and {} differ",
                    shape(p.actual),
                    shape(p.expected)
                );
            }
            Some(m) => {
                let _ = write!(
                    out,
                    "  {a} vs {e}: {} of {} elements outside tolerance",
                    m.mismatches, m.elements
                );
                if let Some(w) = &m.worst {
                    let _ = write!(
                        out,
                        ", worst at {:?}: {:e} vs {:e}",
                        w.index, w.actual, w.expected
                    );
                }
                out.push('\n');
            }
        }
    }
    let failed = case.pairs.iter().filter(|p| !p.passed()).count();
    let _ = writeln!(
        out,
        "  {}: {} ({} of {} pairs within tolerance)",
        case.case.name(),
        case.status,
        case.pairs.len() - failed,
        case.pairs.len()
    );
}

/// Rows are the later column of each pair, columns the earlier one (the expected side); a
/// column with no outputs shows `-`.
fn table(out: &mut String, case: &MatrixCase, title: &str, cell: impl Fn(&Pair) -> String) {
    const CELL: usize = 10;
    let n = case.columns.len();
    let _ = write!(out, "  {title:<24}");
    for j in 0..n - 1 {
        let _ = write!(out, "{:>CELL$}", tag(j));
    }
    out.push('\n');
    for i in 1..n {
        let _ = write!(out, "  {:<24}", format!("  {}", tag(i)));
        for j in 0..i {
            let text = case
                .pairs
                .iter()
                .find(|p| p.expected == j && p.actual == i)
                .map_or("-".to_string(), &cell);
            let _ = write!(out, "{text:>CELL$}");
        }
        out.push('\n');
    }
}
