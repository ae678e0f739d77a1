//! `validate` (one model, or a manifest gate) as HTML: the case verdicts first, then per case
//! its inputs, per output the histograms of absolute error and ULP distance with the tolerance
//! drawn on them and the worst elements, and with labels the losses of model and reference,
//! the clip counts and the decision flips.

use plotters::style::RGBColor;

use super::advice;
use super::chart::{self, F_DARK, F_LIGHT, GroupedBars, HistBar, Histogram, Rule};
use super::page::{
    self, METRIC_HEADERS, Page, Table, badge, count, esc, figure, fixed9, key_values, metric_cells,
    sci, word_badge,
};
use crate::metrics::distribution::{self, ErrorDistribution};
use crate::validate::{CaseReport, LossReport, OutputReport, ValidateReport};
use crate::verdict::Verdict;

pub(super) fn render(r: &ValidateReport) -> Vec<u8> {
    let s = &r.summary;
    let models: std::collections::BTreeSet<&str> =
        r.cases.iter().map(|c| c.model.as_str()).collect();
    let title = if models.len() == 1 {
        format!(
            "onnx-parity validate: {}",
            models.iter().next().unwrap_or(&"")
        )
    } else {
        format!("onnx-parity validate: {} models", models.len())
    };
    let mut p = Page::new(&title, Some(r.status));
    p.subtitle(format!(
        "{} case(s): {} pass, {} fail, {} could not run. A case is one model on one test set.",
        s.cases, s.passed, s.failed, s.errors
    ));
    p.section("Cases", &case_table(r));
    for (i, c) in r.cases.iter().enumerate() {
        p.section_at(
            &format!("case-{}", i + 1),
            &case_heading(i, c),
            &case_section(c),
        );
    }
    p.footer(format!(
        "Made by {} {}.",
        esc(&r.tool.name),
        esc(&r.tool.version)
    ));
    p.finish()
}

fn case_heading(i: usize, c: &CaseReport) -> String {
    let set = c
        .test_data
        .as_deref()
        .map(|t| {
            std::path::Path::new(t)
                .file_name()
                .map_or(t.to_owned(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    if set.is_empty() {
        format!("{}. {}", i + 1, c.model)
    } else {
        format!("{}. {} · {set}", i + 1, c.model)
    }
}

fn case_table(r: &ValidateReport) -> String {
    let mut t = Table::new(&["#", "model", "test data", "verdict", "why"]);
    for (i, c) in r.cases.iter().enumerate() {
        let why = match (&c.error, c.problems.first()) {
            (Some(e), _) => esc(e),
            (None, Some(p)) if c.problems.len() > 1 => {
                format!("{} (and {} more)", esc(p), c.problems.len() - 1)
            }
            (None, Some(p)) => esc(p),
            (None, None) => String::new(),
        };
        t.row(
            &[
                format!("<a href=\"#case-{0}\">{0}</a>", i + 1),
                format!("<code>{}</code>", esc(&c.model)),
                c.test_data
                    .as_deref()
                    .map_or("–".to_owned(), |d| format!("<code>{}</code>", esc(d))),
                badge(c.status),
                why,
            ],
            c.status != Verdict::Pass,
        );
    }
    t.finish()
}

fn case_section(c: &CaseReport) -> String {
    let mut html = format!("<p>{}", badge(c.status));
    if let Some(e) = &c.error {
        html.push_str(&format!(
            " could not run{}: {}</p>\n",
            c.error_kind.map_or(String::new(), |k| format!(
                " ({})",
                esc(&format!("{k:?}").to_lowercase())
            )),
            esc(e)
        ));
    } else {
        html.push_str(&format!(
            " tolerance {}</p>\n",
            esc(if c.tolerance_name.is_empty() {
                "-"
            } else {
                &c.tolerance_name
            })
        ));
    }
    if !c.problems.is_empty() {
        html.push_str("<ul>\n");
        for p in &c.problems {
            html.push_str(&format!("<li>{}</li>\n", esc(p)));
        }
        html.push_str("</ul>\n");
    }
    for w in &c.warnings {
        html.push_str(&format!(
            "<p class=\"warn\"><strong>Warning:</strong> {}</p>\n",
            esc(w)
        ));
    }
    if !c.left_out.is_empty() {
        let mut t = Table::new(&["output left out", "why"]);
        for l in &c.left_out {
            t.row(
                &[format!("<code>{}</code>", esc(&l.output)), esc(&l.reason)],
                false,
            );
        }
        html.push_str(
            "<p>Graph outputs not computed in this case (the graph was pruned to the \
             others):</p>\n",
        );
        html.push_str(&t.finish());
    }
    if !c.inputs.is_empty() {
        let mut t = Table::new(&["input", "file", "matched by", "type", "shape", "note"]);
        for i in &c.inputs {
            t.row(
                &[
                    format!("<code>{}</code>", esc(&i.name)),
                    esc(&i.file),
                    esc(&format!("{:?}", i.matched_by).to_lowercase()),
                    esc(&i.dtype),
                    esc(&format!("{:?}", i.shape)),
                    if i.bound_as_constant {
                        "bound into the graph as a constant".to_owned()
                    } else {
                        String::new()
                    },
                ],
                false,
            );
        }
        html.push_str(&t.finish());
    }
    if !c.outputs.is_empty() {
        let mut headers = vec!["output", "type, shape", "tolerance"];
        headers.extend(METRIC_HEADERS);
        headers.push("verdict");
        let mut t = Table::new(&headers);
        for o in &c.outputs {
            let mut cells = vec![
                format!("<code>{}</code>", esc(&o.name)),
                esc(&format!("{} {:?}", o.dtype, o.shape)),
                page::tolerance(&o.tolerance),
            ];
            cells.extend(metric_cells(&o.metrics));
            cells.push(badge(o.status));
            t.row(&cells, o.status != Verdict::Pass);
        }
        html.push_str(&t.finish());
        for o in &c.outputs {
            html.push_str(&output_detail(o));
        }
    }
    if let Some(l) = &c.loss {
        html.push_str(&loss_section(c, l));
    }
    if let Some(s) = &c.sha256 {
        html.push_str(&format!(
            "<p class=\"note\">sha256 of the model file: <code>{}</code>{}</p>\n",
            esc(&s.actual),
            match (&s.expected, s.matches) {
                (Some(_), true) => " (as the manifest lists)".to_owned(),
                (Some(e), false) => format!(
                    " — <strong>the manifest lists <code>{}</code></strong>",
                    esc(e)
                ),
                (None, _) => String::new(),
            }
        ));
    }
    html
}

fn hist_bars(h: &distribution::Histogram) -> Vec<HistBar> {
    h.bins
        .iter()
        .map(|b| HistBar {
            lo: b.lo,
            hi: b.hi,
            total: b.count.elements,
            beyond: b.count.beyond,
        })
        .collect()
}

fn output_detail(o: &OutputReport) -> String {
    let mut html = output_figures(o);
    if let Some(a) = &o.advice {
        html.push_str(&advice::block(a));
    }
    html
}

fn output_figures(o: &OutputReport) -> String {
    let mut html = format!("<h3>Output <code>{}</code></h3>\n", esc(&o.name));
    if let Some(p) = &o.problem {
        html.push_str(&format!(
            "<p>Not compared element by element: {}.</p>\n",
            esc(p)
        ));
        return html;
    }
    let Some(d) = &o.distribution else {
        html.push_str(
            "<p class=\"note\">No error histograms: this report was made without the \
             per-element data they need (it is recorded when the report is made for HTML, \
             with <code>--html FILE</code> or <code>--format html</code>).</p>\n",
        );
        return html;
    };
    html.push_str(&page::pair(
        &figure(&abs_histogram(o, d), ""),
        &figure(&ulp_histogram(o, d), ""),
    ));
    html.push_str(&format!(
        "<p class=\"note\">Bars are {} elements by their error, counts on a log scale; the dark \
         part of a bar is the elements beyond tolerance ({} of them). The tolerance is on absolute \
         and relative error, so it is drawn on the left chart only: an element passes when \
         |model − reference| ≤ atol + rtol·|reference|.</p>\n",
        count(d.elements() as u64),
        count(o.metrics.mismatches as u64)
    ));
    if !d.worst.is_empty() {
        let mut t = Table::new(&[
            "index",
            "#model",
            "#reference",
            "#|diff|",
            "#ULP",
            "within tolerance",
        ]);
        for w in &d.worst {
            t.row(
                &[
                    esc(&format!("{:?}", w.diff.index)),
                    esc(&w.diff.actual.to_string()),
                    esc(&w.diff.expected.to_string()),
                    sci(w.diff.abs_err),
                    if w.ulp == u64::MAX {
                        "max".to_owned()
                    } else {
                        count(w.ulp)
                    },
                    if w.within {
                        "yes"
                    } else {
                        "<strong>no</strong>"
                    }
                    .to_owned(),
                ],
                !w.within,
            );
        }
        html.push_str(&if d.worst.len() == 1 {
            "<p>The worst element by absolute error:</p>\n".to_owned()
        } else {
            format!(
                "<p>The {} worst elements by absolute error:</p>\n",
                d.worst.len()
            )
        });
        html.push_str(&t.finish());
    }
    html
}

fn abs_histogram(o: &OutputReport, d: &ErrorDistribution) -> String {
    let t = &o.tolerance;
    let mut rules = Vec::new();
    if t.atol > 0.0 {
        rules.push(Rule {
            at: t.atol,
            vertical: true,
            name: format!("atol {}", chart::power_or_sci(t.atol)),
            color: RGBColor(0, 0, 0),
        });
    }
    let widest = t.atol + t.rtol * d.max_abs_expected;
    if t.rtol > 0.0 && widest > t.atol * 1.05 {
        rules.push(Rule {
            at: widest,
            vertical: true,
            name: format!(
                "atol + rtol·max|reference| = {}",
                chart::power_or_sci(widest)
            ),
            color: RGBColor(120, 120, 120),
        });
    }
    chart::histogram(&Histogram {
        title: format!("Absolute error of '{}'", o.name),
        x_label: "|model − reference| (log scale)".to_owned(),
        bars: hist_bars(&d.abs_err),
        zero: (d.abs_err.zero.elements, d.abs_err.zero.beyond),
        nonfinite: (d.nonfinite.elements, d.nonfinite.beyond),
        rules,
        plain_powers: false,
        size: chart::HALF,
    })
}

fn ulp_histogram(o: &OutputReport, d: &ErrorDistribution) -> String {
    chart::histogram(&Histogram {
        title: format!("ULP distance of '{}'", o.name),
        x_label: format!("distance in {} ULPs (log scale)", o.dtype),
        bars: hist_bars(&d.ulp),
        zero: (d.ulp.zero.elements, d.ulp.zero.beyond),
        nonfinite: (d.nonfinite.elements, d.nonfinite.beyond),
        rules: Vec::new(),
        plain_powers: true,
        size: chart::HALF,
    })
}

fn loss_section(c: &CaseReport, l: &LossReport) -> String {
    let mut html = format!(
        "<h3>Losses on <code>{}</code> against <code>{}</code></h3>\n<p>{}</p>\n",
        esc(&l.head.output),
        esc(&l.labels),
        if l.head.kind == "sigmoid" {
            format!(
                "Sigmoid head: the logits form is computed from the tensor <code>{}</code> read \
                 under node <code>{}</code>, the probability form from the output, clipped to \
                 [1e-7, 1−1e-7]. Keras reduction: mean over the last axis, then the rest; {} \
                 elements.",
                esc(&l.head.logits_tensor),
                esc(l.head.sigmoid_node.as_deref().unwrap_or("")),
                count(l.elements as u64)
            )
        } else {
            format!(
                "The output is taken as logits; the probability form goes through a sigmoid and \
                 the clip [1e-7, 1−1e-7]. Keras reduction; {} elements.",
                count(l.elements as u64)
            )
        }
    );
    let forms = [
        ("logits form", &l.logits_form),
        ("probability form", &l.probs_form),
    ];
    let mut bars = vec![(
        "model (f32)".to_owned(),
        F_LIGHT,
        forms
            .iter()
            .map(|f| Some(f.1.value_f32))
            .collect::<Vec<_>>(),
    )];
    if forms.iter().any(|f| f.1.reference.is_some()) {
        bars.push((
            "reference outputs".to_owned(),
            RGBColor(90, 90, 90),
            forms.iter().map(|f| f.1.reference).collect(),
        ));
    }
    if forms.iter().any(|f| f.1.expected.is_some()) {
        bars.push((
            "expected (gate)".to_owned(),
            F_DARK,
            forms.iter().map(|f| f.1.expected).collect(),
        ));
    }
    let chart_svg = chart::grouped_bars(&GroupedBars {
        title: "Sigmoid binary cross-entropy, both formulations".to_owned(),
        y_label: "loss (mean per element)".to_owned(),
        groups: forms.iter().map(|f| f.0.to_owned()).collect(),
        bars,
        size: chart::HALF,
    });
    let sk = &l.sklearn_form;
    let rows = [
        ("logits form", l.reduction, &l.logits_form),
        ("probability form", l.reduction, &l.probs_form),
        ("scikit-learn binary_log_loss", sk.reduction, &sk.value),
    ];
    // The gate's columns only when the manifest or `--expect-*` gave an expected loss.
    let gated = rows.iter().any(|r| r.2.expected.is_some());
    let mut headers = vec![
        "formulation",
        "#f32",
        "#f64",
        "#reference",
        "#|f32 − reference|",
        "#allowed",
        "loss verdict",
    ];
    if gated {
        headers.extend(["#expected", "#|f32 − expected|", "gate"]);
    }
    let mut t = Table::new(&headers);
    for (name, reduction, f) in rows {
        let check = f.vs_reference.as_ref();
        let verdict_fails = check.is_some_and(|c| !c.passed && c.expected_divergence.is_none());
        let mut cells = vec![
            format!(
                "{name}<br><span class=\"note\">{}</span>",
                esc(reduction.describe())
            ),
            fixed9(f.value_f32),
            fixed9(f.value_f64),
            f.reference.map_or("–".to_owned(), fixed9),
            check.map_or("–".to_owned(), |c| sci(c.abs_diff)),
            check.map_or("–".to_owned(), |c| sci(c.allowed)),
            match check {
                None => "–".to_owned(),
                Some(c) if c.passed => badge(Verdict::Pass),
                Some(c) if c.expected_divergence.is_some() => {
                    word_badge("expected", "EXPECTED DIVERGENCE")
                }
                Some(_) => badge(Verdict::Fail),
            },
        ];
        if gated {
            cells.extend([
                f.expected.map_or("–".to_owned(), fixed9),
                f.abs_diff.map_or("–".to_owned(), sci),
                match f.passed {
                    Some(p) => badge(Verdict::of(p)),
                    None => "–".to_owned(),
                },
            ]);
        }
        t.row(&cells, f.passed == Some(false) || verdict_fails);
    }
    let mut notes = String::from(
        "<p class=\"note\">The loss verdict holds each form against the same formula on the \
         reference outputs, within the allowed difference; the gate holds it against an \
         expected value from the manifest. scikit-learn clips probabilities at its own epsilon \
         and sums the per-label means, so its loss is on another scale than the Keras forms \
         (it is left out of the chart).</p>\n",
    );
    if let Some(e) = &l.clip_explanation {
        notes.push_str(&format!(
            "<p class=\"warn\"><strong>Clipping:</strong> {}</p>\n",
            esc(e)
        ));
    }
    for (form, f) in l.forms() {
        if let Some(why) = f
            .vs_reference
            .as_ref()
            .and_then(|c| c.expected_divergence.as_ref())
        {
            notes.push_str(&format!(
                "<p class=\"warn\"><strong>Expected divergence ({} form):</strong> {}</p>\n",
                esc(form.short()),
                esc(why)
            ));
        }
    }
    let mut facts = vec![(
        "clipped by the probability form",
        format!(
            "{} of {} element(s){}",
            count(l.clipped as u64),
            count(l.elements as u64),
            l.reference_clipped.map_or(String::new(), |r| format!(
                "; reference outputs: {}",
                count(r as u64)
            ))
        ),
    )];
    if let Some(a) = &c.binary_accuracy {
        facts.push((
            "binary accuracy",
            format!(
                "{:.6}{}",
                a.model,
                a.reference
                    .map_or(String::new(), |r| format!(" (reference outputs {r:.6})"))
            ),
        ));
        if let Some(f) = a.decisions_flipped {
            facts.push((
                "decisions flipped",
                format!(
                    "{} of {} (p &gt; 0.5 differs between model and reference)",
                    count(f as u64),
                    count(a.elements as u64)
                ),
            ));
        }
    }
    facts.insert(
        1,
        (
            "clipped by scikit-learn",
            format!(
                "{} element(s) at clip {}{}",
                count(sk.clipped as u64),
                sci(sk.clip),
                sk.reference_clipped.map_or(String::new(), |r| format!(
                    "; reference outputs: {}",
                    count(r as u64)
                ))
            ),
        ),
    );
    facts.push(("loss verdict tolerance", esc(&l.loss_tolerance.to_string())));
    facts.push(("loss gate tolerance", sci(l.tolerance)));
    html.push_str(&page::pair(&figure(&chart_svg, ""), &key_values(&facts)));
    html.push_str(&t.finish());
    html.push_str(&notes);
    html
}
