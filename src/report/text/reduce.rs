//! The `reduce` report as text: where the divergence starts, the windows tried, and the case
//! written with the commands that reproduce it.

use std::fmt::Write;

use crate::compare::reduce::{ReduceReport, WrittenCut};
use crate::metrics::Metrics;

fn figures(m: &Metrics) -> String {
    format!(
        "max abs {:.3e}  max ulp {}  mismatches {}/{}",
        m.max_abs_err, m.max_ulp, m.mismatches, m.elements
    )
}

fn cut(s: &mut String, title: &str, c: &WrittenCut) {
    let _ = writeln!(
        s,
        "  {title} {} ({} node{}): {}",
        c.model,
        c.nodes.len(),
        if c.nodes.len() == 1 { "" } else { "s" },
        c.nodes.join(", ")
    );
    for i in &c.inputs {
        let _ = writeln!(
            s,
            "    input {} <- B's {} {} {:?}",
            i.name, i.from, i.dtype, i.shape
        );
    }
    let _ = writeln!(
        s,
        "    output {} against B's: {}: {}",
        c.output,
        figures(&c.metrics),
        c.status
    );
}

pub(super) fn render(r: &ReduceReport) -> Vec<u8> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "A: {}\nB: {} (reference)\ntest data: {}\ntolerance {}: {}",
        r.a, r.b, r.test_data, r.tolerance_name, r.tolerance
    );
    if let Some(l) = &r.diverging_layer {
        let _ = writeln!(
            s,
            "\nfirst diverging layer: {} ({}) {} ~ {}",
            l.index, l.kind, l.a, l.b
        );
    }
    if !r.tried.is_empty() {
        let _ = writeln!(
            s,
            "windows tried, smallest first (A's layers, fed B's tensors):"
        );
        for t in &r.tried {
            let what = match (&t.metrics, &t.problem) {
                (_, Some(p)) => format!("not tried: {p}"),
                (Some(m), None) => format!(
                    "{}: {}",
                    if t.diverges { "diverges" } else { "agrees" },
                    figures(m)
                ),
                (None, None) => "not comparable: diverges".to_owned(),
            };
            let _ = writeln!(
                s,
                "  layers {}..={}{} ({} node{}): {what}",
                t.first,
                t.last,
                if t.core_only { ", own nodes only" } else { "" },
                t.nodes,
                if t.nodes == 1 { "" } else { "s" },
            );
        }
    }
    if let Some(c) = &r.case {
        let _ = writeln!(
            s,
            "\ncase written to {} (layers {}; {} of {} samples: {:?}):",
            c.dir,
            c.layers.join(", "),
            c.samples.len(),
            c.samples_in,
            c.samples
        );
        cut(&mut s, "A's cut", &c.case);
        cut(&mut s, "B's cut", &c.reference);
        let _ = writeln!(s, "reproduce (the first fails, the second passes):");
        for cmd in &c.reproduce {
            let _ = writeln!(s, "  {cmd}");
        }
    }
    if let Some(note) = &r.note {
        let _ = writeln!(s, "\n{note}");
    }
    let _ = writeln!(s, "\nverdict: {}", r.status);
    s.into_bytes()
}
