//! The `compare` report as text: outputs, layers in A's order, the first divergence.

use std::fmt::Write;

use crate::compare::{CompareReport, PairReport};
use crate::metrics::Metrics;

fn figures(m: &Metrics) -> String {
    format!(
        "max abs {:.3e}  max rel {:.3e}  max ulp {:>4}  mismatches {}/{}",
        m.max_abs_err, m.max_rel_err, m.max_ulp, m.mismatches, m.elements
    )
}

pub(crate) fn pair_line(p: &PairReport) -> String {
    match (&p.metrics, &p.problem) {
        (Some(m), _) => {
            let mut s = figures(m);
            if let Some(w) = m.worst.as_ref().filter(|_| !m.passed()) {
                let _ = write!(
                    s,
                    "  worst at {:?}: {} vs {}",
                    w.index, w.actual, w.expected
                );
            }
            s
        }
        (None, Some(problem)) => format!("not comparable: {problem}"),
        (None, None) => "not compared".to_string(),
    }
}

pub(super) fn render(r: &CompareReport) -> Vec<u8> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "A: {}\nB: {}\ntolerance {}: {}",
        r.a, r.b, r.tolerance_name, r.tolerance
    );
    for c in &r.cases {
        let _ = writeln!(
            s,
            "\n{} ({} samples; inputs matched by {:?}, outputs by {:?}): {}",
            c.test_data, c.samples, c.inputs_matched_by, c.outputs_matched_by, c.status
        );
        for o in &c.outputs {
            let _ = writeln!(s, "  output {} ~ {}: {}", o.a, o.b, pair_line(o));
        }
        if !c.layers.is_empty() || !c.unmatched_a.is_empty() || !c.unmatched_b.is_empty() {
            let _ = writeln!(s, "  layers, in A's graph order:");
            for l in &c.layers {
                let mark = if l.pair.passed() { " " } else { "!" };
                let _ = writeln!(
                    s,
                    "  {mark} {:>2} {:<8} {} ~ {}: {}",
                    l.index,
                    l.kind.to_string(),
                    l.nodes_a.join(" + "),
                    l.nodes_b.join(" + "),
                    pair_line(&l.pair)
                );
            }
            for (side, ls) in [("A", &c.unmatched_a), ("B", &c.unmatched_b)] {
                for l in ls.iter() {
                    let _ = writeln!(
                        s,
                        "    unmatched in {side}: {} {} ({})",
                        l.kind,
                        l.tensor,
                        l.nodes.join(" + ")
                    );
                }
            }
            match &c.first_divergence {
                Some(d) => {
                    let _ = writeln!(
                        s,
                        "  first divergence: layer {} ({}) {} ~ {}: {} elements beyond {}",
                        d.index, d.kind, d.a, d.b, d.metrics.mismatches, d.tolerance
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "  no divergence: every matched layer is within tolerance"
                    );
                }
            }
            if c.probes_changed_outputs {
                let _ = writeln!(
                    s,
                    "  WARNING: fetching intermediate tensors changed the final outputs"
                );
            }
        }
        for st in &c.stages {
            // The side's label starts with its runtime's name.
            let stages = if st.side.starts_with("onnxruntime") {
                "onnxruntime optimized vs unoptimized"
            } else {
                "tract optimized vs decluttered"
            };
            for o in &st.outputs {
                let _ = writeln!(
                    s,
                    "  {stages}, {} output {}: {}",
                    st.side,
                    o.a,
                    pair_line(o)
                );
            }
        }
    }
    let _ = writeln!(s, "\nverdict: {}", r.status);
    s.into_bytes()
}
