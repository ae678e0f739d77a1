//! `compare` as HTML: per test set the outputs, and with `--layers` the error of every matched
//! layer on one log-scale chart in A's graph order, the first divergence marked, then the layer
//! table, the unmatched layers and tract's optimized-vs-decluttered difference.
//!
//! The chart plots what the report holds per layer today: the accumulated error, each layer's
//! output of A against B's (differences from every earlier layer included). A per-layer series
//! is one more [`Series`] pushed in [`layer_chart`].

use plotters::style::RGBColor;

use super::chart::{self, Axis, LineChart, Rule, S_BLACK, Series, Style};
use super::page::{self, METRIC_HEADERS, Page, Table, badge, esc, figure, metric_cells};
use crate::compare::{CaseComparison, CompareReport, PairReport};
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

    if !c.layers.is_empty() {
        html.push_str("<h3>Layers, in A's graph order</h3>\n");
        html.push_str(&figure(
            &layer_chart(r, c),
            "Accumulated error: each layer's output in A against the matching layer's output in \
             B, so a layer inherits every difference made before it. The row labelled 0 holds \
             layers whose outputs are bit-identical; a layer that could not be compared has no \
             point.",
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
        let mut headers = vec!["#layer", "kind", "nodes of A", "nodes of B"];
        headers.extend(METRIC_HEADERS);
        headers.push("verdict");
        let mut t = Table::new(&headers);
        for l in &c.layers {
            let mut cells = vec![
                l.index.to_string(),
                esc(&l.kind.to_string()),
                format!("<code>{}</code>", esc(&l.nodes_a.join(" + "))),
                format!("<code>{}</code>", esc(&l.nodes_b.join(" + "))),
            ];
            cells.extend(pair_cells(&l.pair));
            cells.push(badge(Verdict::of(l.pair.passed())));
            t.row(&cells, !l.pair.passed());
        }
        html.push_str(&t.finish());
    }
    for (side, list) in [("A", &c.unmatched_a), ("B", &c.unmatched_b)] {
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
        html.push_str("<h3>tract's optimizer: optimized graph vs decluttered graph</h3>\n");
        let mut headers = vec!["side", "output"];
        headers.extend(METRIC_HEADERS);
        let mut t = Table::new(&headers);
        for s in &c.stages {
            for o in &s.outputs {
                let mut cells = vec![esc(&s.side), format!("<code>{}</code>", esc(&o.a))];
                cells.extend(pair_cells(o));
                t.row(&cells, !o.passed());
            }
        }
        html.push_str(&t.finish());
    }
    html
}

/// Per matched layer, its error on a log scale; the tolerance's atol and the first divergence
/// as reference lines.
fn layer_chart(r: &CompareReport, c: &CaseComparison) -> String {
    let mut chart = LineChart::new(
        "Error per layer (accumulated)",
        Axis::integer("layer (index in A's graph order)"),
        Axis::log("max |A − B| (log scale)"),
    );
    chart.x_extent = c.layers.iter().map(|l| l.index as f64).collect();
    if c.layers.len() <= 16 {
        let last = c.layers.iter().map(|l| l.index).max().unwrap_or(0);
        chart.x_names = (0..=last)
            .map(|i| {
                c.layers
                    .iter()
                    .find(|l| l.index == i)
                    .map_or(i.to_string(), |l| format!("{i} {}", l.kind))
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
