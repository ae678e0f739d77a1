//! The `inspect` report as text: versions, inputs and outputs, operators, parameters, metadata.

use std::fmt::Write;

use crate::inspect::Inspection;

pub(super) fn render(i: &Inspection) -> Vec<u8> {
    let mut s = String::new();
    let _ = writeln!(s, "{}", i.path);
    let _ = writeln!(s, "  sha256      {}", i.sha256);
    let _ = writeln!(s, "  file bytes  {}", i.file_bytes);
    let _ = writeln!(
        s,
        "  ir_version  {}",
        i.ir_version.map_or("-".to_owned(), |v| v.to_string())
    );
    let opsets: Vec<String> = i
        .opsets
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                if o.domain.is_empty() {
                    "ai.onnx"
                } else {
                    &o.domain
                },
                o.version
            )
        })
        .collect();
    let _ = writeln!(s, "  opsets      {}", opsets.join(", "));
    let _ = writeln!(
        s,
        "  producer    {} {}",
        i.producer_name, i.producer_version
    );
    if !i.domain.is_empty() || i.model_version.is_some() {
        let _ = writeln!(
            s,
            "  domain      {} (model version {})",
            i.domain,
            i.model_version.map_or("-".to_owned(), |v| v.to_string())
        );
    }
    let _ = writeln!(s, "  graph       {}", i.graph_name);
    for (what, values) in [("input ", &i.inputs), ("output", &i.outputs)] {
        for v in values {
            let dims = v
                .dims
                .as_ref()
                .map_or("[any rank]".to_owned(), |d| format!("[{}]", d.join(", ")));
            let _ = writeln!(s, "  {what}      '{}' {} {dims}", v.name, v.dtype);
        }
    }
    let _ = writeln!(
        s,
        "  parameters  {} in {} initializer(s), {} bytes{}",
        i.parameters,
        i.initializers,
        i.initializer_bytes,
        if i.external_initializers > 0 {
            format!(" ({} external)", i.external_initializers)
        } else {
            String::new()
        }
    );
    let _ = writeln!(s, "  nodes       {}", i.nodes);
    for (op, n) in &i.ops {
        let _ = writeln!(s, "    {n:>6}  {op}");
    }
    for r in &i.runtimes {
        match (&r.missing, &r.error) {
            (_, Some(e)) => {
                let _ = writeln!(s, "  {:<11} {e}", r.runtime);
            }
            (Some(m), None) if m.is_empty() => {
                let _ = writeln!(s, "  {:<11} has an operator for every node", r.runtime);
            }
            (Some(m), None) => {
                let _ = writeln!(s, "  {:<11} cannot run {} node(s):", r.runtime, m.len());
                for n in m {
                    let _ = writeln!(s, "    {}  (node '{}')", n.op, n.node);
                }
            }
            (None, None) => {
                let _ = writeln!(
                    s,
                    "  {:<11} cannot tell which operators it lacks",
                    r.runtime
                );
            }
        }
    }
    if !i.metadata.is_empty() {
        let _ = writeln!(s, "  metadata");
        for (k, v) in &i.metadata {
            // Values can be long JSON blobs: keep the listing readable.
            let shown: String = v.chars().take(120).collect();
            let more = if v.chars().count() > 120 { "..." } else { "" };
            let _ = writeln!(s, "    {k} = {shown}{more}");
        }
    }
    if !i.doc_string.is_empty() {
        let _ = writeln!(
            s,
            "  doc         {}",
            i.doc_string.lines().next().unwrap_or("")
        );
    }
    s.into_bytes()
}
