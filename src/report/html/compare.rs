//! `compare` as HTML: per test set the outputs, and with `--layers` the error of every matched
//! layer on one log-scale chart in A's graph order, the first divergence marked, then the layer
//! table with each layer's local error, rounding bound and verdict, the first cause, the ops
//! replaced, the unmatched layers, `--suggest-tolerance` advice and each runtime's
//! optimized-vs-unoptimized difference.
//!
//! The chart plots per layer the accumulated error (A's output against B's, differences from
//! every earlier layer included), the local error (the layer run alone on B's inputs) and its
//! rounding bound.

use plotters::style::RGBColor;

use super::advice;
use super::chart::{self, Axis, LineChart, Rule, S_BLACK, S_ORANGE, S_PURPLE_DOTS, Series, Style};
use super::page::{
    self, METRIC_HEADERS, Page, Table, badge, count, esc, figure, metric_cells, sci, word_badge,
};
use crate::compare::bound::RoundingVerdict;
use crate::compare::cause::{CauseReason, FirstCause};
use crate::compare::layers::Layer;
use crate::compare::{CaseComparison, CompareReport, LayerPair, PairReport};
use crate::verdict::Verdict;

pub(super) fn render(r: &CompareReport) -> Vec<u8> {
    let mut p = Page::new("onnx-parity compare", Some(r.status));
    p.subtitle(format!("A (actual): <code>{}</code>", esc(&r.a)));
    p.subtitle(format!("B (reference): <code>{}</code>", esc(&r.b)));
    p.subtitle(format!(
        "Tolerance {}: {}",
        esc(&r.tolerance_name),
        page::tolerance(&r.tolerance)
    ));
    for c in &r.cases {
        p.section(
            &format!("{} ({} samples)", c.test_data, c.samples),
            &case_section(r, c),
        );
    }
    p.finish()
}

fn pair_cells(p: &PairReport) -> Vec<String> {
    match (&p.metrics, &p.problem) {
        (Some(m), _) => metric_cells(m),
        (None, problem) => {
            let why = problem.as_deref().unwrap_or("not compared");
            vec![
                format!("not comparable: {}", esc(why)),
                String::new(),
                String::new(),
                String::new(),
            ]
        }
    }
}

fn case_section(r: &CompareReport, c: &CaseComparison) -> String {
    let mut html = format!(
        "<p>{} inputs matched by {}, outputs by {}.</p>\n",
        badge(c.status),
        esc(&format!("{:?}", c.inputs_matched_by).to_lowercase()),
        esc(&format!("{:?}", c.outputs_matched_by).to_lowercase())
    );
    if c.probes_changed_outputs {
        html.push_str(
            "<p class=\"warn\">Fetching the intermediate tensors changed an output bit: the \
             layer figures may not describe the run without them.</p>\n",
        );
    }
    let mut headers = vec!["output of A", "output of B", "shape"];
    headers.extend(METRIC_HEADERS);
    headers.push("verdict");
    let mut t = Table::new(&headers);
    for o in &c.outputs {
        let mut cells = vec![
            format!("<code>{}</code>", esc(&o.a)),
            format!("<code>{}</code>", esc(&o.b)),
            esc(&format!("{:?}", o.shape_a)),
        ];
        cells.extend(pair_cells(o));
        cells.push(badge(Verdict::of(o.passed())));
        t.row(&cells, !o.passed());
    }
    html.push_str(&t.finish());
    for o in &c.outputs {
        if let Some(a) = &o.advice {
            html.push_str(&format!(
                "<h3>Output <code>{}</code> ~ <code>{}</code></h3>\n",
                esc(&o.a),
                esc(&o.b)
            ));
            html.push_str(&advice::block(a));
        }
    }

    if !c.layers.is_empty() {
        html.push_str("<h3>Layers, in A's graph order</h3>\n");
        html.push_str(&figure(
            &layer_chart(r, c),
            "Accumulated error (squares): each layer's output in A against the matching layer's \
             output in B, so a layer inherits every difference made before it. Local error \
             (circles): the layer of A run alone on B's inputs to it, against B's output, so \
             only its own rounding counts; the dashed line is its rounding bound (the largest \
             per-element bound). The row labelled 0 holds bit-identical outputs; a layer that \
             could not be compared has no point.",
        ));
        match &c.first_divergence {
            Some(d) => html.push_str(&format!(
                "<p><strong>First divergence:</strong> layer {} ({}), <code>{}</code> ~ \
                 <code>{}</code>: {} of {} elements beyond {}.</p>\n",
                d.index,
                esc(&d.kind.to_string()),
                esc(&d.a),
                esc(&d.b),
                d.metrics.mismatches,
                d.metrics.elements,
                page::tolerance(&d.tolerance)
            )),
            None => {
                html.push_str("<p>No divergence: every matched layer is within tolerance.</p>\n")
            }
        }
        match &c.first_cause {
            Some(cause) => html.push_str(&format!(
                "<p><strong>First cause:</strong> {}.</p>\n",
                cause_html(cause)
            )),
            None if c.layers.iter().any(|l| l.local.is_some()) => html.push_str(
                "<p><strong>First cause:</strong> none: no local error beyond rounding, no op \
                 replaced.</p>\n",
            ),
            None => {}
        }
        let mut t = Table::new(&[
            "#layer",
            "kind",
            "nodes (A ~ B)",
            "#max abs",
            "#max ULP",
            "#mismatches",
            "tolerance",
        ]);
        for l in &c.layers {
            let mut cells = vec![
                l.index.to_string(),
                esc(&l.kind.to_string()),
                nodes_cell(&l.nodes_a, &l.nodes_b),
            ];
            let acc = pair_cells(&l.pair);
            cells.extend([acc[0].clone(), acc[2].clone(), acc[3].clone()]);
            cells.push(badge(Verdict::of(l.pair.passed())));
            t.row(&cells, !l.pair.passed());
        }
        html.push_str("<p>Accumulated error, against the tolerance:</p>\n");
        html.push_str(&t.finish());
        if c.layers.iter().any(|l| l.local.is_some()) {
            let mut t = Table::new(&[
                "#layer",
                "kind",
                "#local max abs",
                "#local max ULP",
                "#rounding bound",
                "bound rule",
                "#local / bound",
                "rounding",
            ]);
            for l in &c.layers {
                let mut cells = vec![l.index.to_string(), esc(&l.kind.to_string())];
                cells.extend(local_cells(l));
                t.row(&cells, l.verdict == RoundingVerdict::BeyondRounding);
            }
            html.push_str(
                "<p>Local error: each layer of A run alone on B's inputs to it, against the \
                 bound float rounding allows:</p>\n",
            );
            html.push_str(&t.finish());
        }
        let beyond: Vec<String> = c
            .layers
            .iter()
            .filter(|l| l.verdict == RoundingVerdict::BeyondRounding)
            .filter_map(|l| {
                let b = l.bound.as_ref()?;
                let w = b.worst.as_ref()?;
                Some(format!(
                    "<li>layer {} ({}): at {} |diff| {} against a bound of {} ({})</li>\n",
                    l.index,
                    esc(&l.kind.to_string()),
                    esc(&format!("{:?}", w.index)),
                    sci(w.abs_err),
                    sci(w.bound),
                    esc(&b.formula)
                ))
            })
            .collect();
        if !beyond.is_empty() {
            html.push_str("<p>Beyond rounding, where the local error is largest against its bound:</p>\n<ul>\n");
            html.push_str(&beyond.concat());
            html.push_str("</ul>\n");
        }
        if c.layers.iter().all(|l| l.local.is_none()) {
            html.push_str(
                "<p class=\"note\">Local errors not computed: side A is not an ONNX file, its \
                 layers cannot run alone.</p>\n",
            );
        } else {
            html.push_str(
                "<p class=\"note\">Rounding bounds by op: a dot product of k terms \
                 γ<sub>k+2</sub>·Σ|w||x|, an average γ<sub>k+1</sub>·mean|x|, an elementwise op \
                 a few ULP; γ<sub>n</sub> = n·u/(1 − n·u) with u the unit roundoff of the \
                 element type. Within rounding: the layer's own error is what float arithmetic \
                 allows; beyond: the layer itself computes something else.</p>\n",
            );
        }
    }
    if !c.replaced.is_empty() {
        let mut t = Table::new(&[
            "#layer",
            "op in A",
            "nodes of A",
            "op in B",
            "nodes of B",
            "#max abs",
            "#max ULP",
            "measured",
            "values",
        ]);
        for r in &c.replaced {
            let (m, measured) = match r.local.as_ref().and_then(|l| l.metrics.as_ref()) {
                Some(m) => (Some(m), "locally"),
                None => (r.pair.metrics.as_ref(), "accumulated"),
            };
            t.row(
                &[
                    r.index.to_string(),
                    esc(&r.kind.to_string()),
                    format!("<code>{}</code>", esc(&r.nodes_a.join(" + "))),
                    esc(&r.kind_b.to_string()),
                    format!("<code>{}</code>", esc(&r.nodes_b.join(" + "))),
                    m.map_or("–".to_owned(), |m| sci(m.max_abs_err)),
                    m.map_or("–".to_owned(), |m| ulp(m.max_ulp)),
                    measured.to_owned(),
                    if r.diverges {
                        "<strong>other values</strong>".to_owned()
                    } else {
                        "same values".to_owned()
                    },
                ],
                r.diverges,
            );
        }
        html.push_str("<h3>Ops replaced by other ops</h3>\n");
        html.push_str(
            "<p>Layers of A and B at the same place in the graph with different ops; A's op run \
             on B's inputs to B's op where it can run alone.</p>\n",
        );
        html.push_str(&t.finish());
    }
    for (side, all) in [("A", &c.unmatched_a), ("B", &c.unmatched_b)] {
        // Replacements are listed above; the rest stand alone.
        let list: Vec<_> = all.iter().filter(|l| !replaced_layer(c, side, l)).collect();
        if !list.is_empty() {
            html.push_str(&format!(
                "<p>Layers of {side} with no match in the other graph:</p>\n<ul>\n"
            ));
            for l in list {
                html.push_str(&format!(
                    "<li>{} <code>{}</code> ({})</li>\n",
                    esc(&l.kind.to_string()),
                    esc(&l.tensor),
                    esc(&l.nodes.join(", "))
                ));
            }
            html.push_str("</ul>\n");
        }
    }
    if !c.stages.is_empty() {
        html.push_str("<h3>Optimizer: optimized graph vs unoptimized graph</h3>\n");
        let mut headers = vec!["side", "runtime", "compared", "output"];
        headers.extend(METRIC_HEADERS);
        let mut t = Table::new(&headers);
        for s in &c.stages {
            for o in &s.outputs {
                let mut cells = vec![
                    esc(&s.side),
                    esc(&s.runtime.to_string()),
                    format!("optimized vs {}", esc(s.unoptimized)),
                    format!("<code>{}</code>", esc(&o.a)),
                ];
                cells.extend(pair_cells(o));
                t.row(&cells, !o.passed());
            }
        }
        html.push_str(&t.finish());
    }
    html
}

/// A's nodes, and B's when they are named otherwise.
fn nodes_cell(a: &[String], b: &[String]) -> String {
    if a == b {
        format!("<code>{}</code>", esc(&a.join(" + ")))
    } else {
        format!(
            "<code>{}</code> ~ <code>{}</code>",
            esc(&a.join(" + ")),
            esc(&b.join(" + "))
        )
    }
}

fn ulp(u: u64) -> String {
    if u == u64::MAX {
        "max".to_owned()
    } else {
        count(u)
    }
}

fn replaced_layer(c: &CaseComparison, side: &str, l: &Layer) -> bool {
    c.replaced.iter().any(|r| {
        let (nodes, kind) = if side == "A" {
            (&r.nodes_a, &r.kind)
        } else {
            (&r.nodes_b, &r.kind_b)
        };
        *nodes == l.nodes && *kind == l.kind
    })
}

/// A ratio readable at any size, as the text report writes it.
fn ratio(r: f64) -> String {
    if r == 0.0 {
        "0".to_owned()
    } else if r < 1e-2 {
        format!("{r:.1e}")
    } else {
        format!("{r:.3}")
    }
}

/// Local max abs and ULP, the bound and its rule, the ratio and the rounding verdict of one
/// layer.
fn local_cells(l: &LayerPair) -> [String; 6] {
    // Why the local run failed goes in the last (text) column: numeric cells do not wrap.
    let mut why = None;
    let (abs, ulps) = match l.local.as_ref() {
        None => ("–".to_owned(), "–".to_owned()),
        Some(lr) => match (&lr.metrics, &lr.problem) {
            (Some(m), _) => {
                let mut s = sci(m.max_abs_err);
                if let Some(cast) = &lr.cast {
                    s.push_str(&format!(" (as {})", esc(cast)));
                }
                (s, ulp(m.max_ulp))
            }
            (None, p) => {
                why = p.as_deref();
                ("–".to_owned(), "–".to_owned())
            }
        },
    };
    let (bound, rule) = l
        .bound
        .as_ref()
        .map_or(("–".to_owned(), "–".to_owned()), |b| {
            (sci(b.max), esc(&b.formula))
        });
    let r = l.rounding_ratio.map_or("–".to_owned(), ratio);
    let verdict = match l.verdict {
        RoundingVerdict::WithinRounding => word_badge("pass", "WITHIN"),
        RoundingVerdict::BeyondRounding => word_badge("fail", "BEYOND"),
        RoundingVerdict::NoBound => "no bound: tolerance only".to_owned(),
        RoundingVerdict::NotComputed => match why {
            Some(p) => format!("not computed: {}", esc(p)),
            None => "not computed".to_owned(),
        },
    };
    [abs, ulps, bound, rule, r, verdict]
}

fn cause_html(c: &FirstCause) -> String {
    match c.reason {
        CauseReason::BeyondRounding => format!(
            "layer {} ({}), <code>{}</code> ~ <code>{}</code>: its local error is {}× the \
             rounding bound",
            c.index,
            esc(&c.kind.to_string()),
            esc(&c.a),
            esc(&c.b),
            ratio(c.rounding_ratio.unwrap_or(f64::NAN))
        ),
        CauseReason::OpReplaced => format!(
            "layer {}: {} in A where B has {} (<code>{}</code> ~ <code>{}</code>), computing \
             other values",
            c.index,
            esc(&c.kind.to_string()),
            esc(&c
                .kind_b
                .as_ref()
                .map_or("another op".to_owned(), ToString::to_string)),
            esc(&c.a),
            esc(&c.b)
        ),
    }
}

/// Per matched layer, its error on a log scale; the tolerance's atol and the first divergence
/// as reference lines.
fn layer_chart(r: &CompareReport, c: &CaseComparison) -> String {
    let mut chart = LineChart::new(
        "Error per layer: accumulated, local, rounding bound",
        Axis::integer("layer (index in A's graph order)"),
        Axis::log("max |A − B| (log scale)"),
    );
    chart.x_extent = c.layers.iter().map(|l| l.index as f64).collect();
    if c.layers.len() <= 16 {
        let last = c.layers.iter().map(|l| l.index).max().unwrap_or(0);
        chart.x_names = (0..=last)
            .map(|i| {
                // A replaced op is no matched layer, but it has a place in A's order.
                let kind = c
                    .layers
                    .iter()
                    .find(|l| l.index == i)
                    .map(|l| &l.kind)
                    .or_else(|| c.replaced.iter().find(|r| r.index == i).map(|r| &r.kind));
                kind.map_or(i.to_string(), |k| format!("{i} {k}"))
            })
            .collect();
    }
    let accumulated: Vec<(f64, f64)> = c
        .layers
        .iter()
        .filter_map(|l| Some((l.index as f64, l.pair.metrics.as_ref()?.max_abs_err)))
        .collect();
    chart.series.push(Series::line(
        "accumulated error (max |A − B| of the layer's output)",
        accumulated,
        Style {
            dash: chart::Dash::Solid,
            ..S_BLACK
        },
    ));
    let local: Vec<(f64, f64)> = c
        .layers
        .iter()
        .filter_map(|l| {
            let m = l.local.as_ref()?.metrics.as_ref()?;
            Some((l.index as f64, m.max_abs_err))
        })
        .collect();
    if !local.is_empty() {
        chart.series.push(Series::line(
            "local error (the layer alone on B's inputs)",
            local,
            S_PURPLE_DOTS,
        ));
    }
    let bounds: Vec<(f64, f64)> = c
        .layers
        .iter()
        .filter_map(|l| Some((l.index as f64, l.bound.as_ref()?.max)))
        .collect();
    if !bounds.is_empty() {
        chart.series.push(Series::line(
            "rounding bound (largest per element)",
            bounds,
            S_ORANGE,
        ));
    }
    if let Some(cause) = &c.first_cause {
        chart.rules.push(Rule {
            at: cause.index as f64,
            vertical: true,
            name: format!("first cause: layer {} ({})", cause.index, cause.kind),
            color: RGBColor(118, 42, 131),
        });
    }
    if r.tolerance.atol > 0.0 {
        chart.rules.push(Rule {
            at: r.tolerance.atol,
            vertical: false,
            name: format!("atol {}", chart::power_or_sci(r.tolerance.atol)),
            color: RGBColor(120, 120, 120),
        });
    }
    if let Some(d) = &c.first_divergence {
        chart.rules.push(Rule {
            at: d.index as f64,
            vertical: true,
            name: format!("first divergence: layer {} ({})", d.index, d.kind),
            color: RGBColor(165, 15, 21),
        });
    }
    chart::line_chart(&chart)
}
