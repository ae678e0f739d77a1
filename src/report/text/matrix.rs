//! The `matrix` report as text: lower-triangular tables per case (max abs, max ULP, and with
//! labels decisions flipped), then with labels a table of every column's losses and verdict.

use std::fmt::Write as _;

use crate::matrix::{ColumnLoss, MatrixCase, MatrixReport, Pair};
use crate::validate::ReferenceCheck;

pub(super) fn render(report: &MatrixReport) -> Vec<u8> {
    let mut out = String::new();
    for case in &report.cases {
        render_case(&mut out, case);
        out.push('\n');
    }
    let pairs: Vec<&Pair> = report.cases.iter().flat_map(|c| &c.pairs).collect();
    let failed = pairs.iter().filter(|p| !p.passed()).count();
    let _ = write!(
        out,
        "verdict: {} ({} of {} pairs within tolerance {}: {}",
        report.status,
        pairs.len() - failed,
        pairs.len(),
        report.tolerance_name,
        report.tolerance
    );
    let losses: Vec<&ColumnLoss> = report
        .cases
        .iter()
        .flat_map(|c| c.columns.iter().skip(1))
        .filter_map(|c| c.loss.as_ref())
        .collect();
    if !losses.is_empty() {
        let ok = losses.iter().filter(|l| l.passed()).count();
        let _ = write!(
            out,
            "; {ok} of {} runtime columns within the loss tolerance",
            losses.len()
        );
    }
    out.push_str(")\n");
    out.into_bytes()
}

/// `[i]` with 1-based numbering, as the column list shows it.
fn tag(i: usize) -> String {
    format!("[{}]", i + 1)
}

fn render_case(out: &mut String, case: &MatrixCase) {
    let _ = writeln!(out, "{}: {}", case.case, case.title);
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
    if case.pairs.iter().any(|p| p.decisions_flipped.is_some()) {
        table(out, case, "decisions flipped", |p| {
            p.decisions_flipped
                .map_or("-".to_string(), |n| n.to_string())
        });
    }
    losses(out, case);
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
    let _ = write!(
        out,
        "  {}: {} ({} of {} pairs within tolerance",
        case.case,
        case.status,
        case.pairs.len() - failed,
        case.pairs.len()
    );
    let judged: Vec<&ColumnLoss> = case
        .columns
        .iter()
        .skip(1)
        .filter_map(|c| c.loss.as_ref())
        .collect();
    if !judged.is_empty() {
        let ok = judged.iter().filter(|l| l.passed()).count();
        let _ = write!(out, ", {ok} of {} within the loss tolerance", judged.len());
    }
    out.push_str(")\n");
}

/// One column's loss verdict in a cell: `PASS`, or the failing form with its difference.
fn verdict_cell(l: &ColumnLoss) -> String {
    let failed = |name: &str, c: &Option<ReferenceCheck>| {
        c.as_ref()
            .filter(|c| !c.passed)
            .map(|c| format!("{name} |diff| {:.2e} > {:.2e}", c.abs_diff, c.allowed))
    };
    let fails: Vec<String> = [
        failed("logits", &l.logits_vs_reference),
        failed("probs", &l.probs_vs_reference),
    ]
    .into_iter()
    .flatten()
    .collect();
    match (
        l.logits_vs_reference.is_some() || l.probs_vs_reference.is_some(),
        fails.is_empty(),
    ) {
        (false, _) => "-".to_owned(),
        (true, true) => "PASS".to_owned(),
        (true, false) => format!("FAIL ({})", fails.join(", ")),
    }
}

/// With labels: every column's losses, accuracy and loss verdict against the first column.
fn losses(out: &mut String, case: &MatrixCase) {
    let Some(setup) = &case.losses else { return };
    let _ = writeln!(
        out,
        "  losses on '{}' ({} head), labels {}, loss tolerance {}; verdict against [1]",
        setup.output, setup.head, setup.labels, setup.tolerance
    );
    let _ = writeln!(
        out,
        "  {:>6} {:>12} {:>12} {:>8} {:>9}  verdict",
        "", "logits form", "probs form", "clipped", "accuracy"
    );
    for (i, c) in case.columns.iter().enumerate() {
        let Some(l) = &c.loss else { continue };
        let _ = writeln!(
            out,
            "  {:>6} {:>12} {:>12.9} {:>8} {:>9.6}  {}",
            tag(i),
            l.logits_form.map_or("-".to_owned(), |v| format!("{v:.9}")),
            l.probs_form,
            l.clipped,
            l.binary_accuracy,
            if i == 0 {
                "reference".to_owned()
            } else {
                verdict_cell(l)
            }
        );
    }
    for (i, c) in case.columns.iter().enumerate() {
        if let Some(e) = c
            .loss
            .as_ref()
            .filter(|l| !l.passed())
            .and_then(|l| l.clip_explanation.as_ref())
        {
            let _ = writeln!(out, "  {}: {e}", tag(i));
        }
    }
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
