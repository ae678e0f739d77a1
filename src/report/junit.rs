//! JUnit XML for CI systems: one `<testsuite>` per model, one `<testcase>` per test set;
//! a failed case carries `<failure>` with its problems, a case that could not run `<error>`.

use std::fmt::Write;

use crate::validate::{CaseReport, Status, ValidateReport};

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot hold.
pub(super) fn esc(s: &str) -> String {
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

pub fn render_validate_junit(r: &ValidateReport) -> Vec<u8> {
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
        let count = |st: Status| cases.iter().filter(|c| c.status == st).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            esc(model),
            cases.len(),
            count(Status::Fail),
            count(Status::Error)
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
                Status::Pass => s.push_str("/>\n"),
                Status::Fail => {
                    let first = c.problems.first().map_or("failed", String::as_str);
                    let body = format!("{}\n{}", c.problems.join("\n"), case_details(c));
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        esc(first),
                        esc(&body)
                    );
                }
                Status::Error => {
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
        pass.status = Status::Pass;
        pass.problems.clear();
        let r = ValidateReport::new(vec![
            pass,
            CaseReport::error("a.onnx", Some("a/<set>".into()), &err),
            CaseReport::failed("b.onnx", "b.onnx is not listed".into()),
        ]);
        let xml = String::from_utf8(render_validate_junit(&r)).unwrap();
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
