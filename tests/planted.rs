//! The planted-bug corpus (`tests/data/planted`, made by `scripts/planted_bugs.py` from the
//! committed models) through the real binary: every planted bug gets the right first cause,
//! no rounding-only change gets a layer beyond rounding or a failing verdict, and `reduce` cuts
//! every bug down to a case of at most 3 nodes that `validate` fails while B's cut passes.

mod common;

use common::{root, run};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("tests/data/planted/cases.json"))
        .expect("tests/data/planted/cases.json (scripts/planted_bugs.py writes it)");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn compare(case: &Value) -> (i32, Value, String) {
    let r = run(
        &[
            "compare",
            s(&case["a"]),
            s(&case["b"]),
            "--test-data",
            s(&case["test_data"]),
            "--layers",
            "--format",
            "json",
        ],
        &root(),
    );
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

#[test]
fn the_corpus_has_bugs_and_rounding_only_changes() {
    let cases = cases();
    let bugs = cases.iter().filter(|c| c["kind"] == "bug").count();
    let rounding = cases.iter().filter(|c| c["kind"] == "rounding").count();
    assert!(
        bugs >= 7 && rounding >= 3,
        "{bugs} bugs, {rounding} rounding-only"
    );
}

#[test]
fn every_planted_bug_gets_the_right_first_cause() {
    for case in cases().iter().filter(|c| c["kind"] == "bug") {
        let name = s(&case["name"]);
        let (code, v, err) = compare(case);
        assert_eq!(code, 1, "{name}: a planted bug must fail: {err}");
        let c = &v["cases"][0];
        let cause = &c["first_cause"];
        let want = &case["first_cause"];
        assert_eq!(cause["index"], want["index"], "{name}: {cause}");
        assert_eq!(cause["kind"], want["kind"], "{name}: {cause}");
        assert_eq!(cause["reason"], want["reason"], "{name}: {cause}");
        if want["reason"] == "beyond_rounding" {
            assert!(cause["rounding_ratio"].as_f64().unwrap() > 1.0, "{name}");
        }
        // Every other matched layer is within rounding: the layers after the bug inherit a
        // large accumulated difference, but their own local error is rounding at most.
        for l in c["layers"].as_array().unwrap() {
            if l["index"] != want["index"] {
                assert_eq!(l["verdict"], "within_rounding", "{name}: {l}");
            }
        }
    }
}

#[test]
fn no_rounding_only_change_is_called_a_bug() {
    for case in cases().iter().filter(|c| c["kind"] == "rounding") {
        let name = s(&case["name"]);
        let (code, v, err) = compare(case);
        assert_eq!(code, 0, "{name}: {err}");
        let c = &v["cases"][0];
        assert!(c["first_cause"].is_null(), "{name}: {}", c["first_cause"]);
        assert!(c["replaced"].as_array().unwrap().is_empty(), "{name}");
        let layers = c["layers"].as_array().unwrap();
        assert!(!layers.is_empty(), "{name}");
        for l in layers {
            // Judged, not skipped: the local error ran and has a bound.
            assert_eq!(l["verdict"], "within_rounding", "{name}: {l}");
            assert!(l["rounding_ratio"].as_f64().unwrap() <= 1.0, "{name}: {l}");
        }
    }
}

#[test]
fn a_layer_computed_in_float64_is_compared_as_float32() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "dense-float64")
        .unwrap();
    let (code, v, err) = compare(&case);
    assert_eq!(code, 0, "{err}");
    let dense = &v["cases"][0]["layers"][0];
    assert_eq!(dense["cast"], "DOUBLE -> FLOAT", "{dense}");
    assert_eq!(dense["local"]["cast"], "DOUBLE -> FLOAT", "{dense}");
    // The float64 side is exact up to its cast: the bound counts B's float32 rounding, a
    // float64 one and half a float32 ULP for the cast.
    let u = |side: &str| dense["bound"][side].as_f64().unwrap();
    assert!((u("unit_roundoff_a") / 2f64.powi(-53) - 1.0).abs() < 1e-12);
    assert!((u("unit_roundoff_b") / 2f64.powi(-24) - 1.0).abs() < 1e-12);
    assert!(dense["metrics"]["max_abs_err"].as_f64().unwrap() > 0.0);
}

#[test]
fn reduce_cuts_every_planted_bug_to_a_case_validate_fails_and_bs_cut_passes() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases().iter().filter(|c| c["kind"] == "bug") {
        let name = s(&case["name"]);
        let out = dir.path().join(name);
        let out_s = out.to_str().unwrap();
        let r = run(
            &[
                "reduce",
                s(&case["a"]),
                "--against",
                s(&case["b"]),
                "--test-data",
                s(&case["test_data"]),
                "--out",
                out_s,
                "--format",
                "json",
            ],
            &root(),
        );
        assert_eq!(
            r.code, 1,
            "{name}: a diverging case is a failure: {}",
            r.stderr
        );
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        // The search ends at the planted layer.
        assert_eq!(
            v["diverging_layer"]["index"], case["first_cause"]["index"],
            "{name}: {}",
            v["diverging_layer"]
        );
        let model = std::fs::read(out.join("model.onnx")).unwrap();
        let m = onnx_parity::onnx::decode_model(&model, name).unwrap();
        let nodes = m.graph.as_ref().unwrap().node.len();
        assert!((1..=3).contains(&nodes), "{name}: {nodes} nodes");
        assert_eq!(v["case"]["case"]["nodes"].as_array().unwrap().len(), nodes);
        // The backend-test layout, with B's tensors at the cut.
        for f in ["test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb"] {
            assert!(out.join(f).is_file(), "{name}: {f}");
            assert!(
                out.join("reference").join(f).is_file(),
                "{name}: reference/{f}"
            );
        }
        // validate reproduces the failure; the same piece cut from B passes.
        let failing = run(&["validate", &format!("{out_s}/model.onnx")], &root());
        assert_eq!(
            failing.code, 1,
            "{name}: {}{}",
            failing.stdout, failing.stderr
        );
        let reference = run(
            &["validate", &format!("{out_s}/reference/model.onnx")],
            &root(),
        );
        assert_eq!(
            reference.code, 0,
            "{name}: {}{}",
            reference.stdout, reference.stderr
        );
        assert!(out.join("reduce.json").is_file());
    }
}

#[test]
fn reduce_writes_nothing_when_nothing_diverges_and_needs_two_onnx_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none");
    let r = run(
        &[
            "reduce",
            "models/mnist-mlp/probs/model.onnx",
            "--against",
            "models/keras-from-rust-mlp/model.onnx",
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nothing to reduce"), "{}", r.stdout);
    assert!(!out.exists());
    let r = run(
        &[
            "reduce",
            "models/mnist-mlp/probs",
            "--against",
            "models/mnist-mlp/probs/model.onnx",
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("must be ONNX files"), "{}", r.stderr);
}

#[test]
fn a_layer_in_float16_fails_the_tolerance_by_float16_rounding_alone() {
    let case = cases()
        .into_iter()
        .find(|c| c["kind"] == "precision")
        .expect("the corpus has a float16 case");
    let (code, v, err) = compare(&case);
    assert_eq!(
        code, 1,
        "float16 loses more than the default tolerance: {err}"
    );
    let c = &v["cases"][0];
    assert!(c["first_cause"].is_null(), "{}", c["first_cause"]);
    let layers = c["layers"].as_array().unwrap();
    assert_eq!(layers[0]["cast"], "FLOAT16 -> FLOAT");
    assert!(
        (layers[0]["bound"]["unit_roundoff_a"].as_f64().unwrap() / 2f64.powi(-11) - 1.0).abs()
            < 1e-12
    );
    // The Relu after the cast back is fed B's float32 values at the cast's output, not rounded
    // to float16 at its input: its own error is none.
    assert_eq!(
        layers[1]["local"]["metrics"]["max_abs_err"], 0.0,
        "{}",
        layers[1]
    );
    for l in layers {
        assert_eq!(l["verdict"], "within_rounding", "{l}");
    }
}
