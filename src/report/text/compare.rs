//! The `compare` report as text: outputs, layers in A's order (accumulated and local error,
//! the rounding verdict), replaced ops, the first divergence and the first cause.

use std::fmt::Write;

use crate::compare::bound::RoundingVerdict;
use crate::compare::cause::{CauseReason, FirstCause};
use crate::compare::{CaseComparison, CompareReport, LayerPair, PairReport};
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

/// `local ...: within rounding (...)`: the second line of a layer.
pub(crate) fn local_line(l: &LayerPair) -> Option<String> {
    let local = l.local.as_ref()?;
    let mut s = match (&local.metrics, &local.problem) {
        (Some(m), _) => format!(
            "local: max abs {:.3e}  max ulp {}  mismatches {}/{}",
            m.max_abs_err, m.max_ulp, m.mismatches, m.elements
        ),
        (None, Some(p)) => return Some(format!("local: not computed: {p}")),
        (None, None) => return Some("local: not computed".into()),
    };
    if let Some(cast) = &local.cast {
        let _ = write!(s, " (compared as {cast})");
    }
    let _ = write!(s, " | {}", verdict_text(l));
    Some(s)
}

/// A ratio readable at any size: `0`, `3.1e-4`, `0.412`, `41.024`.
fn ratio_text(r: f64) -> String {
    if r == 0.0 {
        "0".to_owned()
    } else if r < 1e-2 {
        format!("{r:.1e}")
    } else {
        format!("{r:.3}")
    }
}

fn verdict_text(l: &LayerPair) -> String {
    let ratio = l.rounding_ratio.unwrap_or(0.0);
    match (l.verdict, &l.bound) {
        (RoundingVerdict::BeyondRounding, Some(b)) => {
            let mut s = format!("BEYOND ROUNDING x{}", ratio_text(ratio));
            if let Some(w) = &b.worst {
                let _ = write!(
                    s,
                    " (at {:?}: |diff| {:.3e}, bound {:.3e}; {})",
                    w.index, w.abs_err, w.bound, b.formula
                );
            }
            s
        }
        (RoundingVerdict::WithinRounding, Some(b)) => format!(
            "within rounding: {} of the bound ({}, up to {:.3e})",
            ratio_text(ratio),
            b.formula,
            b.max
        ),
        (RoundingVerdict::NoBound, _) => {
            format!("no rounding bound for {}: tolerance only", l.kind)
        }
        (v, _) => v.text().to_owned(),
    }
}

pub(crate) fn cause_line(c: &FirstCause) -> String {
    match c.reason {
        CauseReason::BeyondRounding => format!(
            "layer {} ({}) {} ~ {}: its local error is {}x the rounding bound",
            c.index,
            c.kind,
            c.a,
            c.b,
            ratio_text(c.rounding_ratio.unwrap_or(f64::NAN))
        ),
        CauseReason::OpReplaced => format!(
            "layer {}: {} in A where B has {} ({} ~ {}), computing other values",
            c.index,
            c.kind,
            c.kind_b
                .as_ref()
                .map_or("another op".to_owned(), ToString::to_string),
            c.a,
            c.b
        ),
    }
}

fn layers(s: &mut String, c: &CaseComparison) {
    let _ = writeln!(s, "  layers, in A's graph order (accumulated, then local):");
    for l in &c.layers {
        let mark = if l.pair.passed() { " " } else { "!" };
        let _ = writeln!(
            s,
            "  {mark} {:>2} {:<8} {} ~ {}: {}{}",
            l.index,
            l.kind.to_string(),
            l.nodes_a.join(" + "),
            l.nodes_b.join(" + "),
            pair_line(&l.pair),
            l.pair
                .cast
                .as_ref()
                .map_or(String::new(), |c| format!(" (compared as {c})"))
        );
        if let Some(line) = local_line(l) {
            let _ = writeln!(s, "          {line}");
        }
    }
    if c.layers.iter().all(|l| l.local.is_none()) && !c.layers.is_empty() {
        let _ = writeln!(
            s,
            "    local errors not computed: side A is not an ONNX file, its layers cannot run alone"
        );
    }
    for r in &c.replaced {
        let local = match r.local.as_ref().and_then(|l| l.metrics.as_ref()) {
            Some(m) => format!("local {}", figures(m)),
            None => format!("accumulated {}", pair_line(&r.pair)),
        };
        let _ = writeln!(
            s,
            "    replaced: {} {} in A ({}) where B has {} ({}): {local}{}",
            r.index,
            r.kind,
            r.nodes_a.join(" + "),
            r.kind_b,
            r.nodes_b.join(" + "),
            if r.diverges { "" } else { " (same values)" }
        );
    }
    for (side, ls) in [("A", &c.unmatched_a), ("B", &c.unmatched_b)] {
        for l in ls.iter() {
            // Replacements are listed above; the rest stand alone.
            if replaced_layer(c, side, l) {
                continue;
            }
            let _ = writeln!(
                s,
                "    unmatched in {side}: {} {} ({})",
                l.kind,
                l.tensor,
                l.nodes.join(" + ")
            );
        }
    }
}

fn replaced_layer(c: &CaseComparison, side: &str, l: &crate::compare::layers::Layer) -> bool {
    c.replaced.iter().any(|r| {
        let (nodes, kind) = if side == "A" {
            (&r.nodes_a, &r.kind)
        } else {
            (&r.nodes_b, &r.kind_b)
        };
        *nodes == l.nodes && *kind == l.kind
    })
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
            if let Some(a) = &o.advice {
                s.push_str(&super::advice::lines(a, "      "));
            }
        }
        if !c.layers.is_empty() || !c.unmatched_a.is_empty() || !c.unmatched_b.is_empty() {
            layers(&mut s, c);
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
            match &c.first_cause {
                Some(cause) => {
                    let _ = writeln!(s, "  first cause: {}", cause_line(cause));
                }
                None if c.layers.iter().any(|l| l.local.is_some()) => {
                    let _ = writeln!(
                        s,
                        "  first cause: none: no local error beyond rounding, no op replaced"
                    );
                }
                None => {}
            }
            if c.probes_changed_outputs {
                let _ = writeln!(
                    s,
                    "  note: fetching intermediate tensors changes the runtime's outputs; the \
                     outputs above come from runs that fetch nothing else, the layers from a \
                     separate run"
                );
            }
        }
        for st in &c.stages {
            let stages = format!("{} optimized vs {}", st.runtime, st.unoptimized);
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
