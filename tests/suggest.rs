//! `--suggest-tolerance` on `validate` and `compare` through the real binary: the suggested
//! tolerance passes, anything tighter fails, and the noise floor is measured.

mod common;

use common::{root, run};
use serde_json::Value;

fn json(args: &[&str]) -> (i32, Value) {
    let mut argv = args.to_vec();
    argv.extend(["--format", "json"]);
    let r = run(&argv, &root());
    (
        r.code,
        serde_json::from_str(&r.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn validate_suggests_the_tightest_tolerance_that_passes() {
    let model = "models/keras-cnn/model.onnx";
    let (code, v) = json(&["validate", model, "--suggest-tolerance"]);
    assert_eq!(code, 0);
    let advice = &v["cases"][0]["outputs"][0]["advice"];
    let atol = advice["all"]["atol"].as_f64().unwrap();
    let rtol = advice["all"]["rtol"].as_f64().unwrap();
    assert!(atol > 0.0 && rtol > 0.0, "{advice}");
    // 5000 outputs: the worst 0.1% are 5 elements, and leaving them out lowers the figure.
    assert_eq!(advice["outliers"], 5);
    assert!(advice["without_outliers"]["atol"].as_f64().unwrap() <= atol);
    assert_eq!(
        advice["noise_floor"]["sources"][0],
        "tract decluttered vs optimized"
    );
    // The other runtime's outputs are a noise source too, when it is here (always under CI).
    if std::env::var_os("CI").is_some() {
        assert_eq!(advice["noise_floor"]["sources"][1], "onnxruntime vs tract");
    }
    assert!(advice["floor"].is_string());
    // The suggestion is exact: it passes, and 1% less does not.
    let pass = |atol: f64, rtol: f64| {
        let (a, r) = (format!("{atol:e}"), format!("{rtol:e}"));
        run(&["validate", model, "--atol", &a, "--rtol", &r], &root()).code
    };
    assert_eq!(pass(atol, 0.0), 0);
    assert_eq!(pass(atol * 0.99, 0.0), 1);
    assert_eq!(pass(0.0, rtol), 0);
    assert_eq!(pass(0.0, rtol * 0.99), 1);
    // Without the flag the report has no advice.
    let (_, v) = json(&["validate", model]);
    assert!(v["cases"][0]["outputs"][0].get("advice").is_none());
}

#[test]
fn compare_measures_the_noise_floor_on_both_onnx_sides() {
    let (code, v) = json(&[
        "compare",
        "tests/data/planted/dense-reordered-sum/model.onnx",
        "models/mnist-mlp/probs/model.onnx",
        "--test-data",
        "models/mnist-mlp/probs/test_data_set_0",
        "--suggest-tolerance",
    ]);
    assert_eq!(code, 0);
    let advice = &v["cases"][0]["outputs"][0]["advice"];
    assert_eq!(
        advice["noise_floor"]["sources"].as_array().unwrap().len(),
        2
    );
    // A reordered sum differs from the original by rounding, tract's two graphs not at all.
    assert!(advice["all"]["atol"].as_f64().unwrap() > 0.0);
    assert_eq!(advice["floor"], "above_noise_floor");
    let r = run(
        &[
            "compare",
            "models/mnist-mlp/probs",
            "models/mnist-mlp/probs/model.onnx",
            "--suggest-tolerance",
        ],
        &root(),
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("tightest that passes: atol"),
        "{}",
        r.stdout
    );
}
