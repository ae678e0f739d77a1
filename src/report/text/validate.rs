//! The `validate` report as text: per model and test set, every input, output, loss and gate.

use std::fmt::Write;

use crate::metrics::Metrics;
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
            "    loss on '{}' ({head}), labels {}, {} elements, Keras reduction",
            l.head.output, l.labels, l.elements
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
    let _ = writeln!(
        s,
        "\nverdict: {} ({} case(s): {} pass, {} fail, {} error)",
        r.status, r.summary.cases, r.summary.passed, r.summary.failed, r.summary.errors
    );
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ElementDiff, Preset, Value};
    use crate::refdata::MatchedBy;
    use crate::validate::{
        AccuracyReport, HeadReport, InputReport, LossReport, OutputReport, ShaCheck, ValidateError,
    };
    use crate::verdict::Verdict;

    fn metrics(mismatches: usize) -> Metrics {
        let worst = ElementDiff {
            index: vec![3, 7],
            actual: Value::F32(0.25),
            expected: Value::F32(0.5),
            abs_err: 0.25,
        };
        Metrics {
            elements: 20,
            max_abs_err: if mismatches > 0 { 0.25 } else { 0.0 },
            max_rel_err: if mismatches > 0 { 0.5 } else { 0.0 },
            max_ulp: if mismatches > 0 { 8388608 } else { 0 },
            mismatches,
            mismatch_fraction: mismatches as f64 / 20.0,
            nonfinite: 0,
            first_mismatch: (mismatches > 0).then(|| worst.clone()),
            worst: (mismatches > 0).then_some(worst),
        }
    }

    fn case(mismatches: usize) -> CaseReport {
        let status = if mismatches > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        let form = |v: f64| FormLoss {
            value_f32: v,
            value_f64: v,
            reference: Some(v),
            expected: Some(v),
            abs_diff: Some(0.0),
            passed: Some(true),
        };
        CaseReport {
            model: "m/model.onnx".into(),
            test_data: Some("m/test_data_set_0".into()),
            status,
            error: None,
            error_kind: None,
            problems: if mismatches > 0 {
                vec!["output 'y': 1 of 20 elements beyond tolerance".into()]
            } else {
                vec![]
            },
            sha256: Some(ShaCheck {
                actual: "ab".repeat(32),
                expected: Some("ab".repeat(32)),
                matches: true,
            }),
            tolerance_name: "default".into(),
            inputs: vec![InputReport {
                name: "x".into(),
                file: "input_0.pb".into(),
                matched_by: MatchedBy::Position,
                dtype: "FLOAT".into(),
                shape: vec![4, 5],
                bound_as_constant: false,
            }],
            outputs: vec![OutputReport {
                name: "y".into(),
                file: "output_0.pb".into(),
                matched_by: MatchedBy::Name,
                status,
                dtype: "FLOAT".into(),
                shape: vec![4, 5],
                expected_dtype: "FLOAT".into(),
                expected_shape: vec![4, 5],
                tolerance: Preset::Default.tolerance(),
                metrics: metrics(mismatches),
                problem: None,
            }],
            loss: Some(LossReport {
                labels: "labels.npy".into(),
                head: HeadReport {
                    kind: "sigmoid",
                    output: "y".into(),
                    sigmoid_node: Some("head/Sigmoid".into()),
                    logits_tensor: "logits".into(),
                },
                elements: 20,
                clipped: 1,
                reference_clipped: Some(0),
                logits_form: form(0.125),
                probs_form: form(0.25),
                tolerance: 1e-6,
            }),
            binary_accuracy: Some(AccuracyReport {
                model: 0.75,
                reference: Some(0.8),
                decisions_flipped: Some(1),
                elements: 20,
            }),
        }
    }

    #[test]
    fn text_names_inputs_outputs_losses_and_the_worst_element() {
        let r = ValidateReport::new(vec![case(1)]);
        let text = String::from_utf8(render(&r)).unwrap();
        let want = "\
m/model.onnx
  m/test_data_set_0: FAIL
    input  'x' <- input_0.pb (by position) FLOAT [4, 5]
    output 'y' <- output_0.pb FLOAT [4, 5], tolerance atol 1e-5, rtol 1e-5: FAIL
      max abs 2.500e-1  max rel 5.000e-1  max ulp 8388608  mismatches 1/20 (5.00%)
      worst at [3, 7]: model 0.25 vs reference 0.5 (|diff| 2.500e-1)
      first at [3, 7]: model 0.25 vs reference 0.5
    loss on 'y' (sigmoid head: logits 'logits' read under node 'head/Sigmoid'), labels labels.npy, 20 elements, Keras reduction
      logits form  f32 0.125000000  f64 0.125000000  reference 0.125000000  expected 0.125000000 |diff| 0.00e0 PASS
      probs form   f32 0.250000000  f64 0.250000000  reference 0.250000000  expected 0.250000000 |diff| 0.00e0 PASS
      probability clip [1e-7, 1-1e-7] hit 1 element(s) (reference 0)
    binary accuracy 0.750000 (reference 0.800000), decisions flipped 1 of 20
    sha256 abababababababababababababababababababababababababababababababab (as listed)
    FAIL: output 'y': 1 of 20 elements beyond tolerance

verdict: FAIL (1 case(s): 0 pass, 1 fail, 0 error)
";
        assert_eq!(text, want);
    }

    #[test]
    fn json_has_the_documented_stable_keys() {
        let err: ValidateError = crate::refdata::RefDataError::TestData {
            path: "m/test_data_set_1".into(),
            message: "empty test set".into(),
        }
        .into();
        let r = ValidateReport::new(vec![
            case(0),
            CaseReport::error("m/model.onnx", Some("m/test_data_set_1".into()), &err),
        ]);
        let v: serde_json::Value =
            serde_json::from_slice(&crate::report::to_json_bytes(&r)).unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["summary"]["errors"], 1);
        let c = &v["cases"][0];
        assert_eq!(c["model"], "m/model.onnx");
        assert_eq!(c["status"], "pass");
        let o = &c["outputs"][0];
        for key in [
            "name",
            "max_abs_err",
            "max_rel_err",
            "max_ulp",
            "mismatches",
        ] {
            assert!(!o[key].is_null(), "outputs[].{key}");
        }
        assert_eq!(c["loss"]["logits_form"]["f32"], 0.125);
        assert_eq!(c["loss"]["probs_form"]["f64"], 0.25);
        assert_eq!(c["binary_accuracy"]["model"], 0.75);
        let e = &v["cases"][1];
        assert_eq!(e["status"], "error");
        assert_eq!(e["error_kind"], "invalid");
        assert_eq!(e["error"], "m/test_data_set_1: empty test set");
    }

    #[test]
    fn infinite_errors_stay_valid_json() {
        let mut c = case(1);
        c.outputs[0].metrics.max_abs_err = f64::INFINITY;
        let v: serde_json::Value =
            serde_json::from_slice(&crate::report::to_json_bytes(&ValidateReport::new(vec![c])))
                .unwrap();
        assert_eq!(v["cases"][0]["outputs"][0]["max_abs_err"], "inf");
    }
}
