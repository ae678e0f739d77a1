//! JUnit XML for CI dashboards, for the reports that are lists of checks.
//!
//! `validate`: one `<testsuite>` per model, one `<testcase>` per test set; a failed case carries
//! `<failure>` with its problems, a case that could not run `<error>`. `compare`: one
//! `<testsuite>` per test set (its first cause as a property), one `<testcase>` per output and
//! per matched layer, failed when the accumulated difference breaks the tolerance; a layer's
//! local error and rounding verdict go to its `<system-out>`. `matrix`: one `<testsuite>` per
//! case, one `<testcase>` per compared pair and, with labels, one per runtime column's loss
//! verdict; an unavailable column is a `<skipped>` test case.

use std::fmt::Write;

use super::text::{cause_line, local_line, pair_line};
use super::{Renderer, Report, ReportKind};
use crate::compare::CompareReport;
use crate::matrix::{MatrixCase, MatrixReport};
use crate::validate::{CaseReport, ValidateReport};
use crate::verdict::Verdict;

pub struct Junit;

impl Renderer for Junit {
    fn name(&self) -> &'static str {
        "junit"
    }

    fn renders(&self, kind: ReportKind) -> bool {
        matches!(
            kind,
            ReportKind::Validate | ReportKind::Compare | ReportKind::Matrix
        )
    }

    fn render(&self, report: &Report<'_>) -> Vec<u8> {
        match report {
            Report::Validate(r) => validate(r),
            Report::Compare(r) => compare(r),
            Report::Matrix(r) => matrix(r),
            other => unreachable!(
                "junit renders validate, compare and matrix only, not {:?}",
                other.kind()
            ),
        }
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot hold.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn case_details(c: &CaseReport) -> String {
    let mut s = String::new();
    for o in &c.outputs {
        let m = &o.metrics;
        let _ = writeln!(
            s,
            "output {}: max_abs_err {:e} max_rel_err {:e} max_ulp {} mismatches {}/{}",
            o.name, m.max_abs_err, m.max_rel_err, m.max_ulp, m.mismatches, m.elements
        );
    }
    if let Some(l) = &c.loss {
        let _ = writeln!(
            s,
            "loss: logits form {:.9}, probs form {:.9} (f32), clipped {}",
            l.logits_form.value_f32, l.probs_form.value_f32, l.clipped
        );
    }
    s
}

fn validate(r: &ValidateReport) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"onnx-parity validate\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        r.summary.cases, r.summary.failed, r.summary.errors
    );
    // Cases arrive grouped by model; keep that order.
    let mut groups: Vec<(&str, Vec<&CaseReport>)> = Vec::new();
    for c in &r.cases {
        match groups.last_mut() {
            Some((m, cases)) if *m == c.model => cases.push(c),
            _ => groups.push((&c.model, vec![c])),
        }
    }
    for (model, cases) in groups {
        let count = |st: Verdict| cases.iter().filter(|c| c.status == st).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            esc(model),
            cases.len(),
            count(Verdict::Fail),
            count(Verdict::Error)
        );
        for c in cases {
            let name = c.test_data.as_deref().unwrap_or(model);
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\"",
                esc(model),
                esc(name)
            );
            match c.status {
                Verdict::Pass => s.push_str("/>\n"),
                Verdict::Fail => {
                    let first = c.problems.first().map_or("failed", String::as_str);
                    let body = format!("{}\n{}", c.problems.join("\n"), case_details(c));
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        esc(first),
                        esc(&body)
                    );
                }
                Verdict::Error => {
                    let msg = c.error.as_deref().unwrap_or("could not run");
                    let _ = writeln!(
                        s,
                        ">\n      <error message=\"{}\">{}</error>\n    </testcase>",
                        esc(msg),
                        esc(msg)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s.into_bytes()
}

fn compare(r: &CompareReport) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = r
        .cases
        .iter()
        .map(|c| c.outputs.len() + c.layers.len())
        .sum();
    let failures: usize = r
        .cases
        .iter()
        .map(|c| {
            c.outputs
                .iter()
                .chain(c.layers.iter().map(|l| &l.pair))
                .filter(|p| !p.passed())
                .count()
        })
        .sum();
    let _ = writeln!(
        s,
        "<testsuites name=\"onnx-parity compare\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for c in &r.cases {
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\">",
            esc(&c.test_data),
            c.outputs.len() + c.layers.len()
        );
        if let Some(cause) = &c.first_cause {
            let _ = writeln!(
                s,
                "    <properties>\n      <property name=\"first_cause\" value=\"{}\"/>\n    </properties>",
                esc(&cause_line(cause))
            );
        }
        let rows = c
            .outputs
            .iter()
            .map(|o| (format!("output {} ~ {}", o.a, o.b), o, None))
            .chain(c.layers.iter().map(|l| {
                (
                    format!("layer {} {} {} ~ {}", l.index, l.kind, l.pair.a, l.pair.b),
                    &l.pair,
                    local_line(l),
                )
            }));
        for (name, p, local) in rows {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\"",
                esc(&c.test_data),
                esc(&name)
            );
            if p.passed() && local.is_none() {
                s.push_str("/>\n");
                continue;
            }
            s.push_str(">\n");
            if !p.passed() {
                let line = pair_line(p);
                let _ = writeln!(
                    s,
                    "      <failure message=\"{}\">{}</failure>",
                    esc(&line),
                    esc(&line)
                );
            }
            if let Some(local) = local {
                let _ = writeln!(s, "      <system-out>{}</system-out>", esc(&local));
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s.into_bytes()
}

/// One matrix test case: its name, the failure message if it failed, the note if skipped.
type MatrixRow = (String, Option<String>, Option<String>);

/// One matrix case's test cases.
fn matrix_rows(c: &MatrixCase) -> Vec<MatrixRow> {
    let tag = |i: usize| format!("[{}] {}", i + 1, c.columns[i].label);
    let mut rows = Vec::new();
    for p in &c.pairs {
        let failure = (!p.passed()).then(|| match &p.metrics {
            Some(m) => format!(
                "{} of {} elements outside tolerance; max abs {:e}, max ulp {}{}",
                m.mismatches,
                m.elements,
                m.max_abs_err,
                m.max_ulp,
                m.worst.as_ref().map_or(String::new(), |w| format!(
                    "; worst at {:?}: {} vs {}",
                    w.index, w.actual, w.expected
                ))
            ),
            None => p
                .outputs
                .iter()
                .filter_map(|o| {
                    o.problem
                        .as_ref()
                        .map(|pr| format!("output {}: {pr}", o.name))
                })
                .collect::<Vec<_>>()
                .join("; "),
        });
        rows.push((
            format!("{} vs {}", tag(p.actual), tag(p.expected)),
            failure,
            None,
        ));
    }
    for (i, col) in c.columns.iter().enumerate() {
        if let Some(note) = &col.unavailable {
            rows.push((tag(i), None, Some(note.clone())));
            continue;
        }
        let Some(l) = col.loss.as_ref().filter(|_| i > 0) else {
            continue;
        };
        let failure = (!l.passed()).then(|| {
            let mut m = [
                ("logits", &l.logits_vs_reference),
                ("probs", &l.probs_vs_reference),
            ]
            .into_iter()
            .filter_map(|(n, c)| {
                c.as_ref().filter(|c| !c.passed).map(|c| {
                    format!(
                        "{n}-form loss differs from the reference's by {:.3e} (allowed \
                             {:.3e})",
                        c.abs_diff, c.allowed
                    )
                })
            })
            .collect::<Vec<_>>()
            .join("; ");
            if let Some(e) = &l.clip_explanation {
                m.push_str("; ");
                m.push_str(e);
            }
            m
        });
        rows.push((format!("{} loss verdict", tag(i)), failure, None));
    }
    rows
}

fn matrix(r: &MatrixReport) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<(&MatrixCase, Vec<_>)> = r.cases.iter().map(|c| (c, matrix_rows(c))).collect();
    let count = |f: &dyn Fn(&MatrixRow) -> bool| -> usize {
        all.iter()
            .map(|(_, rows)| rows.iter().filter(|x| f(x)).count())
            .sum()
    };
    let _ = writeln!(
        s,
        "<testsuites name=\"onnx-parity matrix\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        count(&|_| true),
        count(&|x| x.1.is_some()),
        count(&|x| x.2.is_some())
    );
    for (c, rows) in &all {
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            esc(&c.case),
            rows.len(),
            rows.iter().filter(|x| x.1.is_some()).count(),
            rows.iter().filter(|x| x.2.is_some()).count()
        );
        for (name, failure, skipped) in rows {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\"",
                esc(&c.case),
                esc(name)
            );
            match (failure, skipped) {
                (Some(f), _) => {
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        esc(f),
                        esc(f)
                    );
                }
                (None, Some(note)) => {
                    let _ = writeln!(
                        s,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        esc(note)
                    );
                }
                (None, None) => s.push_str("/>\n"),
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::ValidateError;

    #[test]
    fn escapes_and_groups_by_model() {
        let err: ValidateError = crate::refdata::RefDataError::TestData {
            path: "a/<set>".into(),
            message: "bad \"quote\" & \u{1} control".into(),
        }
        .into();
        let mut pass = CaseReport::failed("a.onnx", "x".into());
        pass.status = Verdict::Pass;
        pass.problems.clear();
        let r = ValidateReport::new(vec![
            pass,
            CaseReport::error("a.onnx", Some("a/<set>".into()), &err),
            CaseReport::failed("b.onnx", "b.onnx is not listed".into()),
        ]);
        let xml = String::from_utf8(validate(&r)).unwrap();
        let want = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<testsuites name=\"onnx-parity validate\" tests=\"3\" failures=\"1\" errors=\"1\">
  <testsuite name=\"a.onnx\" tests=\"2\" failures=\"0\" errors=\"1\">
    <testcase classname=\"a.onnx\" name=\"a.onnx\"/>
    <testcase classname=\"a.onnx\" name=\"a/&lt;set&gt;\">
      <error message=\"a/&lt;set&gt;: bad &quot;quote&quot; &amp;  control\">a/&lt;set&gt;: bad &quot;quote&quot; &amp;  control</error>
    </testcase>
  </testsuite>
  <testsuite name=\"b.onnx\" tests=\"1\" failures=\"1\" errors=\"0\">
    <testcase classname=\"b.onnx\" name=\"b.onnx\">
      <failure message=\"b.onnx is not listed\">b.onnx is not listed
</failure>
    </testcase>
  </testsuite>
</testsuites>
";
        assert_eq!(xml, want);
    }
}
