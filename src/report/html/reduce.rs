//! `reduce` as HTML: where the divergence starts, every window tried, and the case written with
//! the commands that reproduce it.

use super::page::{METRIC_HEADERS, Page, Table, badge, esc, key_values, metric_cells};
use crate::compare::reduce::{ReduceReport, WrittenCut};

fn cut_table(c: &WrittenCut) -> String {
    let mut html = format!(
        "<p><code>{}</code>: {} node(s), {}</p>\n",
        esc(&c.model),
        c.nodes.len(),
        esc(&c.nodes.join(", "))
    );
    let mut inputs = Table::new(&["input", "fed from B's", "type", "shape"]);
    for i in &c.inputs {
        inputs.row(
            &[
                format!("<code>{}</code>", esc(&i.name)),
                format!("<code>{}</code>", esc(&i.from)),
                esc(&i.dtype),
                esc(&format!("{:?}", i.shape)),
            ],
            false,
        );
    }
    html.push_str(&inputs.finish());
    let mut headers = vec!["output against B's", "verdict"];
    headers.extend(METRIC_HEADERS);
    let mut out = Table::new(&headers);
    let mut cells = vec![format!("<code>{}</code>", esc(&c.output)), badge(c.status)];
    cells.extend(metric_cells(&c.metrics));
    out.row(&cells, false);
    html.push_str(&out.finish());
    html
}

pub(super) fn render(r: &ReduceReport) -> Vec<u8> {
    let mut p = Page::new("onnx-parity reduce", Some(r.status));
    p.subtitle(format!(
        "A <code>{}</code> against B <code>{}</code> (reference)",
        esc(&r.a),
        esc(&r.b)
    ));
    p.subtitle(format!(
        "test data <code>{}</code>, tolerance {}: {}",
        esc(&r.test_data),
        esc(&r.tolerance_name),
        esc(&r.tolerance.to_string())
    ));
    if let Some(l) = &r.diverging_layer {
        p.section(
            "First diverging layer",
            &key_values(&[
                ("index", l.index.to_string()),
                ("kind", esc(&l.kind.to_string())),
                ("A's tensor", format!("<code>{}</code>", esc(&l.a))),
                ("B's tensor", format!("<code>{}</code>", esc(&l.b))),
            ]),
        );
    }
    if !r.tried.is_empty() {
        let mut headers = vec!["A's layers", "nodes", "result"];
        headers.extend(METRIC_HEADERS);
        let mut t = Table::new(&headers);
        for a in &r.tried {
            let window = format!(
                "{}..={}{}",
                a.first,
                a.last,
                if a.core_only { ", own nodes only" } else { "" }
            );
            let result = match (&a.problem, a.diverges) {
                (Some(p), _) => format!("not tried: {}", esc(p)),
                (None, true) => "diverges".to_owned(),
                (None, false) => "agrees".to_owned(),
            };
            let mut cells = vec![window, a.nodes.to_string(), result];
            match &a.metrics {
                Some(m) => cells.extend(metric_cells(m)),
                None => cells.extend(std::iter::repeat_n("–".to_owned(), METRIC_HEADERS.len())),
            }
            t.row(&cells, a.diverges);
        }
        p.section(
            "Windows tried, smallest first (A's layers, fed B's tensors)",
            &t.finish(),
        );
    }
    if let Some(c) = &r.case {
        let mut html = format!(
            "<p>Written to <code>{}</code>: layers {}; {} of {} samples ({}).</p>\n",
            esc(&c.dir),
            esc(&c.layers.join(", ")),
            c.samples.len(),
            c.samples_in,
            esc(&format!("{:?}", c.samples))
        );
        html.push_str("<h3>A's cut (must fail)</h3>\n");
        html.push_str(&cut_table(&c.case));
        html.push_str("<h3>B's cut (must pass)</h3>\n");
        html.push_str(&cut_table(&c.reference));
        html.push_str("<p>Reproduce (the first fails, the second passes):</p>\n<pre>");
        for cmd in &c.reproduce {
            html.push_str(&esc(cmd));
            html.push('\n');
        }
        html.push_str("</pre>\n");
        p.section("The case", &html);
    }
    if let Some(note) = &r.note {
        p.section("Note", &format!("<p>{}</p>\n", esc(note)));
    }
    p.finish()
}
