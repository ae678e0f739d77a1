//! `inspect` as HTML: what the file holds, in tables, and which operators each runtime lacks.

use super::page::{Page, Table, count, esc, key_values};
use crate::inspect::{Inspection, ValueSummary};

fn values(list: &[ValueSummary]) -> String {
    let mut t = Table::new(&["name", "type", "dims"]);
    for v in list {
        t.row(
            &[
                format!("<code>{}</code>", esc(&v.name)),
                esc(&v.dtype),
                v.dims.as_ref().map_or("rank not declared".to_owned(), |d| {
                    esc(&format!("[{}]", d.join(", ")))
                }),
            ],
            false,
        );
    }
    t.finish()
}

pub(super) fn render(r: &Inspection) -> Vec<u8> {
    let mut p = Page::new(&format!("onnx-parity inspect: {}", r.path), None);
    p.subtitle(format!("sha256 <code>{}</code>", esc(&r.sha256)));
    let opsets: Vec<String> = r
        .opsets
        .iter()
        .map(|o| {
            let domain = if o.domain.is_empty() {
                "ai.onnx"
            } else {
                &o.domain
            };
            format!("{} {}", esc(domain), o.version)
        })
        .collect();
    p.section(
        "File",
        &key_values(&[
            ("bytes", count(r.file_bytes)),
            (
                "IR version",
                r.ir_version.map_or("–".to_owned(), |v| v.to_string()),
            ),
            ("opsets", opsets.join(", ")),
            (
                "producer",
                esc(&format!("{} {}", r.producer_name, r.producer_version)),
            ),
            (
                "model domain",
                if r.domain.is_empty() && r.model_version.is_none() {
                    "–".to_owned()
                } else {
                    esc(&format!(
                        "{} (model version {})",
                        r.domain,
                        r.model_version.map_or("–".to_owned(), |v| v.to_string())
                    ))
                },
            ),
            ("graph", esc(&r.graph_name)),
            ("description", esc(&r.doc_string)),
            (
                "parameters",
                format!(
                    "{} in {} initializer(s), {} bytes ({} stored outside the file)",
                    count(r.parameters),
                    r.initializers,
                    count(r.initializer_bytes),
                    r.external_initializers
                ),
            ),
        ]),
    );
    p.section("Inputs", &values(&r.inputs));
    p.section("Outputs", &values(&r.outputs));
    let mut t = Table::new(&["operator", "#nodes"]);
    for (op, n) in &r.ops {
        t.row(&[esc(op), n.to_string()], false);
    }
    p.section(&format!("Operators ({} nodes)", r.nodes), &t.finish());
    if !r.runtimes.is_empty() {
        let mut html = String::new();
        for rt in &r.runtimes {
            html.push_str(&match (&rt.missing, &rt.error) {
                (_, Some(e)) => format!(
                    "<p><strong>{}</strong>: not asked: {}</p>\n",
                    esc(&rt.runtime),
                    esc(e)
                ),
                (Some(m), None) if m.is_empty() => format!(
                    "<p><strong>{}</strong> has an operator for every node.</p>\n",
                    esc(&rt.runtime)
                ),
                (Some(m), None) => {
                    let mut t = Table::new(&["operator", "node"]);
                    for n in m {
                        t.row(
                            &[esc(&n.op), format!("<code>{}</code>", esc(&n.node))],
                            true,
                        );
                    }
                    format!(
                        "<p><strong>{}</strong> cannot run {} node(s):</p>\n{}",
                        esc(&rt.runtime),
                        m.len(),
                        t.finish()
                    )
                }
                (None, None) => format!(
                    "<p><strong>{}</strong> cannot tell which operators it lacks.</p>\n",
                    esc(&rt.runtime)
                ),
            });
        }
        p.section("Runtimes", &html);
    }
    if !r.metadata.is_empty() {
        let rows: Vec<(&str, String)> = r
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), format!("<code>{}</code>", esc(v))))
            .collect();
        p.section("Metadata", &key_values(&rows));
    }
    p.finish()
}
