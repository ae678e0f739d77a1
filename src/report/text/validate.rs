//! The `validate` report as text: per model and test set, every input, output, loss and gate.

use std::fmt::Write;

use crate::metrics::Metrics;
use crate::validate::shard::ShardCase;
use crate::validate::{CaseReport, FormLoss, ValidateReport};

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".to_owned(), |x| format!("{x:.prec$}"))
}

fn metrics_line(m: &Metrics) -> String {
    let mut s = format!(
        "max abs {:.3e}  max rel {:.3e}  max ulp {}  mismatches {}/{} ({:.2}%)",
        m.max_abs_err,
        m.max_rel_err,
        if m.max_ulp == u64::MAX {
            "inf".to_owned()
        } else {
            m.max_ulp.to_string()
        },
        m.mismatches,
        m.elements,
        100.0 * m.mismatch_fraction
    );
    if m.nonfinite > 0 {
        let _ = write!(s, "  non-finite {}", m.nonfinite);
    }
    s
}

fn form_line(name: &str, f: &FormLoss) -> String {
    let mut s = format!(
        "{name:<12} f32 {:.9}  f64 {:.9}  reference {}",
        f.value_f32,
        f.value_f64,
        opt(f.reference, 9)
    );
    if let Some(c) = &f.vs_reference {
        let verdict = match (c.passed, &c.expected_divergence) {
            (true, _) => "PASS",
            (false, Some(_)) => "EXPECTED DIVERGENCE",
            (false, None) => "FAIL",
        };
        let _ = write!(
            s,
            " |diff| {:.2e} (allowed {:.2e}) {verdict}",
            c.abs_diff, c.allowed
        );
    }
    if let (Some(e), Some(d), Some(ok)) = (f.expected, f.abs_diff, f.passed) {
        let _ = write!(
            s,
            "  expected {e:.9} |diff| {d:.2e} {}",
            if ok { "PASS" } else { "FAIL" }
        );
    }
    s
}

fn render_case(s: &mut String, c: &CaseReport) {
    let _ = writeln!(
        s,
        "  {}: {}",
        c.test_data.as_deref().unwrap_or("(no test data)"),
        c.status
    );
    if let Some(e) = &c.error {
        let _ = writeln!(s, "    error: {e}");
    }
    for w in &c.warnings {
        let _ = writeln!(s, "    warning: {w}");
    }
    for l in &c.left_out {
        let _ = writeln!(s, "    left out: output '{}': {}", l.output, l.reason);
    }
    for i in &c.inputs {
        let _ = writeln!(
            s,
            "    input  '{}' <- {} (by {}) {} {:?}{}",
            i.name,
            i.file,
            match i.matched_by {
                crate::refdata::MatchedBy::Name => "name",
                crate::refdata::MatchedBy::Position => "position",
            },
            i.dtype,
            i.shape,
            if i.bound_as_constant {
                ", bound as a constant (tract needs it constant)"
            } else {
                ""
            }
        );
    }
    for o in &c.outputs {
        let _ = writeln!(
            s,
            "    output '{}' <- {} {} {:?}, tolerance {}: {}",
            o.name, o.file, o.dtype, o.shape, o.tolerance, o.status
        );
        match &o.problem {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "      {p} (reference {} {:?})",
                    o.expected_dtype, o.expected_shape
                );
            }
            None => {
                let _ = writeln!(s, "      {}", metrics_line(&o.metrics));
                if let Some(a) = &o.advice {
                    s.push_str(&super::advice::lines(a, "      "));
                }
                let m = &o.metrics;
                if !m.passed() {
                    if let Some(w) = &m.worst {
                        let _ = writeln!(
                            s,
                            "      worst at {:?}: model {} vs reference {} (|diff| {:.3e})",
                            w.index, w.actual, w.expected, w.abs_err
                        );
                    }
                    if let Some(f) = &m.first_mismatch {
                        let _ = writeln!(
                            s,
                            "      first at {:?}: model {} vs reference {}",
                            f.index, f.actual, f.expected
                        );
                    }
                }
            }
        }
    }
    if let Some(l) = &c.loss {
        let head = match &l.head.sigmoid_node {
            Some(node) => format!(
                "sigmoid head: logits '{}' read under node '{}'",
                l.head.logits_tensor, node
            ),
            None => "output taken as logits".to_owned(),
        };
        let _ = writeln!(
            s,
            "    loss on '{}' ({head}), labels {}, {} elements, Keras reduction ({})",
            l.head.output,
            l.labels,
            l.elements,
            l.reduction.describe()
        );
        let _ = writeln!(s, "      {}", form_line("logits form", &l.logits_form));
        let _ = writeln!(s, "      {}", form_line("probs form", &l.probs_form));
        let _ = writeln!(
            s,
            "      probability clip [1e-7, 1-1e-7] hit {} element(s){}",
            l.clipped,
            l.reference_clipped
                .map_or(String::new(), |r| format!(" (reference {r})"))
        );
        if let Some(e) = &l.clip_explanation {
            let _ = writeln!(s, "      {e}");
        }
        for (form, f) in l.forms() {
            if let Some(why) = f
                .vs_reference
                .as_ref()
                .and_then(|c| c.expected_divergence.as_ref())
            {
                let _ = writeln!(s, "      expected divergence ({}): {why}", form.short());
            }
        }
        let sk = &l.sklearn_form;
        let _ = writeln!(
            s,
            "    scikit-learn binary_log_loss ({}, clip {:.3e}): {} element(s) clipped{}",
            sk.reduction.describe(),
            sk.clip,
            sk.clipped,
            sk.reference_clipped
                .map_or(String::new(), |r| format!(" (reference {r})"))
        );
        let _ = writeln!(s, "      {}", form_line("sklearn", &sk.value));
    }
    if let Some(a) = &c.binary_accuracy {
        let _ = writeln!(
            s,
            "    binary accuracy {:.6} (reference {}), decisions flipped {} of {}",
            a.model,
            opt(a.reference, 6),
            a.decisions_flipped
                .map_or("-".to_owned(), |n| n.to_string()),
            a.elements
        );
    }
    if let Some(sha) = &c.sha256 {
        let _ = writeln!(
            s,
            "    sha256 {}{}",
            sha.actual,
            match (&sha.expected, sha.matches) {
                (None, _) => "",
                (Some(_), true) => " (as listed)",
                (Some(_), false) => " (CHANGED)",
            }
        );
    }
    for p in &c.problems {
        let _ = writeln!(s, "    FAIL: {p}");
    }
}

pub(super) fn render(r: &ValidateReport) -> Vec<u8> {
    let mut s = String::new();
    let mut last_model: Option<&str> = None;
    for c in &r.cases {
        if last_model != Some(c.model.as_str()) {
            if last_model.is_some() {
                s.push('\n');
            }
            let _ = writeln!(s, "{}", c.model);
            last_model = Some(&c.model);
        }
        render_case(&mut s, c);
    }
    if let Some(shard) = &r.shard {
        let _ = writeln!(
            s,
            "\nshard {}/{}: these samples only; expected-loss gates wait for `onnx-parity merge` \
             of every shard's JSON report",
            shard.index, shard.count
        );
        for c in &shard.cases {
            if let ShardCase::Ran(c) = c {
                let _ = writeln!(
                    s,
                    "  {}: samples {}..{} of {}",
                    c.test_data, c.start, c.end, c.total
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\nverdict: {} ({} case(s): {} pass, {} fail, {} error)",
        r.status, r.summary.cases, r.summary.passed, r.summary.failed, r.summary.errors
    );
    s.into_bytes()
}
