//! `matrix` as HTML: per model, the runtimes and a runtime-by-runtime heatmap of the largest
//! absolute difference of their outputs (the ULP distance written in each cell), the pairs
//! outside tolerance framed and named below; with labels the decisions flipped per pair and
//! every column's losses with its loss verdict against the first column.

use super::chart::{self, Cell, Heatmap};
use super::page::{self, Page, Table, badge, count, esc, figure, fixed9, sci};
use crate::matrix::{MatrixCase, MatrixReport};
use crate::validate::ReferenceCheck;
use crate::verdict::Verdict;

pub(super) fn render(r: &MatrixReport) -> Vec<u8> {
    let mut p = Page::new("onnx-parity matrix", Some(r.status));
    p.subtitle(format!(
        "Every runtime on the same inputs, every pair of outputs compared; tolerance {}: {}.",
        esc(&r.tolerance_name),
        page::tolerance(&r.tolerance)
    ));
    if !r.burn_import_built {
        p.subtitle(
            "burn-import's columns are not in this build (<code>--features burn-import</code>)."
                .to_owned(),
        );
    }
    for c in &r.cases {
        p.section(&format!("{}: {}", c.case, c.title), &case_section(c));
    }
    p.footer(format!(
        "Made by {} {}.",
        esc(&r.tool.name),
        esc(&r.tool.version)
    ));
    p.finish()
}

/// `[i]` with 1-based numbering, as the text report shows it.
fn tag(i: usize) -> String {
    format!("[{}]", i + 1)
}

fn case_section(c: &MatrixCase) -> String {
    let mut html = format!(
        "<p>{} inputs <code>{}</code> {}</p>\n",
        badge(c.status),
        esc(&c.inputs),
        esc(&format!("{:?}", c.input_shape))
    );
    let mut t = Table::new(&["", "runtime", "computes from", "output shape"]);
    for (i, col) in c.columns.iter().enumerate() {
        t.row(
            &[
                tag(i),
                esc(&col.label),
                format!("<code>{}</code>", esc(&col.source)),
                match (&col.output_shape, &col.unavailable) {
                    (_, Some(note)) => format!("unavailable: {}", esc(note)),
                    (Some(s), None) => esc(&format!("{s:?}")),
                    (None, None) => "–".to_owned(),
                },
            ],
            false,
        );
    }
    html.push_str(&t.finish());
    if c.pairs.is_empty() {
        html.push_str("<p>Fewer than two runtimes available: nothing compared.</p>\n");
        return html;
    }
    let n = c.columns.len();
    let mut cells = Vec::new();
    for row in 1..n {
        for col in 0..row {
            let pair = c
                .pairs
                .iter()
                .find(|p| p.expected == col && p.actual == row);
            let cell = match pair {
                None => Cell {
                    row: row - 1,
                    col,
                    value: None,
                    text: "n/a".to_owned(),
                    bad: false,
                },
                Some(p) => match &p.metrics {
                    None => Cell {
                        row: row - 1,
                        col,
                        value: None,
                        text: "FAIL\nshapes differ".to_owned(),
                        bad: true,
                    },
                    Some(m) => Cell {
                        row: row - 1,
                        col,
                        value: Some(m.max_abs_err),
                        text: format!(
                            "{}{}\n{} ULP",
                            if m.passed() { "" } else { "FAIL " },
                            page::sci(m.max_abs_err).replace(".000e", "e"),
                            if m.max_ulp == u64::MAX {
                                "max".to_owned()
                            } else {
                                count(m.max_ulp)
                            }
                        ),
                        bad: !m.passed(),
                    },
                },
            };
            cells.push(cell);
        }
    }
    let label = |i: usize| {
        let l = &c.columns[i].label;
        format!("{} {l}", tag(i))
    };
    let heatmap = chart::heatmap(&Heatmap {
        title: format!("Max absolute difference of the outputs, {}", c.case),
        rows: (1..n).map(label).collect(),
        cols: (0..n - 1).map(tag).collect(),
        row_label: "actual side".to_owned(),
        col_label: "expected side (the runtime listed first)".to_owned(),
        cells,
        value_label: "max |difference| (log scale)".to_owned(),
    });
    html.push_str(&figure(
        &heatmap,
        "Each cell compares the row's runtime (actual) with the column's (expected); the \
         number is the largest absolute difference, with the ULP distance beneath. A framed \
         cell marked FAIL is outside tolerance; n/a: one side is unavailable.",
    ));
    let failed: Vec<_> = c.pairs.iter().filter(|p| !p.passed()).collect();
    if !failed.is_empty() {
        html.push_str("<p>Outside tolerance:</p>\n<ul>\n");
        for p in failed {
            let (a, e) = (tag(p.actual), tag(p.expected));
            match &p.metrics {
                None => html.push_str(&format!("<li>{a} vs {e}: the output shapes differ</li>\n")),
                Some(m) => {
                    let worst = m.worst.as_ref().map_or(String::new(), |w| {
                        format!(
                            ", worst at {}: {} vs {}",
                            esc(&format!("{:?}", w.index)),
                            esc(&w.actual.to_string()),
                            esc(&w.expected.to_string())
                        )
                    });
                    html.push_str(&format!(
                        "<li>{a} vs {e}: {} of {} elements{worst}</li>\n",
                        count(m.mismatches as u64),
                        count(m.elements as u64)
                    ));
                }
            }
        }
        html.push_str("</ul>\n");
    }
    if c.pairs.iter().any(|p| p.decisions_flipped.is_some()) {
        html.push_str(&flips_table(c));
    }
    let passed = c.pairs.iter().filter(|p| p.passed()).count();
    html.push_str(&format!(
        "<p>{} of {} pairs within tolerance: {}</p>\n",
        passed,
        c.pairs.len(),
        badge(Verdict::of(passed == c.pairs.len()))
    ));
    html.push_str(&losses(c));
    html
}

/// Decisions (`p > 0.5`) that differ between two columns, lower-triangular like the heatmap.
fn flips_table(c: &MatrixCase) -> String {
    let n = c.columns.len();
    let mut headers = vec!["decisions flipped".to_owned()];
    headers.extend((0..n - 1).map(|j| format!("#{}", tag(j))));
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut t = Table::new(&refs);
    for i in 1..n {
        let mut cells = vec![format!("{} {}", tag(i), esc(&c.columns[i].label))];
        for j in 0..n - 1 {
            cells.push(if j >= i {
                String::new()
            } else {
                c.pairs
                    .iter()
                    .find(|p| p.expected == j && p.actual == i)
                    .and_then(|p| p.decisions_flipped)
                    .map_or("–".to_owned(), |f| count(f as u64))
            });
        }
        t.row(&cells, false);
    }
    t.finish()
}

/// With labels: every column's losses and its loss verdict against the first column.
fn losses(c: &MatrixCase) -> String {
    let Some(setup) = &c.losses else {
        return String::new();
    };
    let mut html = format!(
        "<h3>Losses</h3>\n<p>On <code>{}</code> ({} head) against <code>{}</code>; each column's \
         losses against the same formula on column [1]'s outputs, loss tolerance {}.</p>\n",
        esc(&setup.output),
        esc(setup.head),
        esc(&setup.labels),
        esc(&setup.tolerance.to_string())
    );
    let mut t = Table::new(&[
        "",
        "runtime",
        "#logits form",
        "#|diff| (allowed)",
        "#probability form",
        "#|diff| (allowed)",
        "#clipped",
        "#binary accuracy",
        "loss verdict",
    ]);
    let check = |r: &Option<ReferenceCheck>| {
        r.as_ref().map_or("–".to_owned(), |c| {
            format!("{} ({})", sci(c.abs_diff), sci(c.allowed))
        })
    };
    for (i, col) in c.columns.iter().enumerate() {
        let Some(l) = &col.loss else { continue };
        let judged = l.logits_vs_reference.is_some() || l.probs_vs_reference.is_some();
        t.row(
            &[
                tag(i),
                esc(&col.label),
                l.logits_form.map_or("–".to_owned(), fixed9),
                check(&l.logits_vs_reference),
                fixed9(l.probs_form),
                check(&l.probs_vs_reference),
                count(l.clipped as u64),
                format!("{:.6}", l.binary_accuracy),
                if i == 0 {
                    "reference".to_owned()
                } else if judged {
                    badge(Verdict::of(l.passed()))
                } else {
                    "–".to_owned()
                },
            ],
            !l.passed(),
        );
    }
    html.push_str(&t.finish());
    for (i, col) in c.columns.iter().enumerate() {
        if let Some(e) = col
            .loss
            .as_ref()
            .filter(|l| !l.passed())
            .and_then(|l| l.clip_explanation.as_ref())
        {
            html.push_str(&format!(
                "<p class=\"warn\"><strong>{} clipping:</strong> {}</p>\n",
                tag(i),
                esc(e)
            ));
        }
    }
    let judged: Vec<_> = c
        .columns
        .iter()
        .skip(1)
        .filter_map(|c| c.loss.as_ref())
        .collect();
    if !judged.is_empty() {
        let ok = judged.iter().filter(|l| l.passed()).count();
        html.push_str(&format!(
            "<p>{ok} of {} runtime columns within the loss tolerance: {}</p>\n",
            judged.len(),
            badge(Verdict::of(ok == judged.len()))
        ));
    }
    html
}
