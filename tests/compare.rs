//! `compare` through the real binary: layer pairing across exporters, planted divergences,
//! the burn side, exit codes.

mod common;

use common::{root, run};
use onnx_parity::onnx::{self, pb::ModelProto};
use prost::Message;

const OURS: &str = "models/mnist-mlp/probs/model.onnx";
const TF2ONNX: &str = "models/keras-from-rust-mlp/model.onnx";

fn json(args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut argv = args.to_vec();
    argv.extend(["--format", "json"]);
    let r = run(&argv, &root());
    let v = serde_json::from_str(&r.stdout).unwrap_or(serde_json::Value::Null);
    (r.code, v, r.stderr)
}

#[test]
fn our_export_and_tf2onnx_agree_at_every_layer() {
    let (code, v, err) = json(&[
        "compare",
        OURS,
        TF2ONNX,
        "--test-data",
        "models/keras-from-rust-mlp/test_data_set_0",
        "--layers",
    ]);
    assert_eq!(code, 0, "{err}");
    let case = &v["cases"][0];
    let kinds: Vec<&str> = case["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds, ["Dense", "Relu", "Dense", "Sigmoid"]);
    for l in case["layers"].as_array().unwrap() {
        assert!(l["metrics"]["max_abs_err"].as_f64().unwrap() <= 1e-5, "{l}");
    }
    // The pairing it found: our Gemm with tf2onnx's MatMul + BiasAdd.
    assert_eq!(
        case["layers"][0]["nodes_a"],
        serde_json::json!(["dense/Gemm"])
    );
    let b0: Vec<&str> = case["layers"][0]["nodes_b"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        b0.len() == 2 && b0[0].ends_with("/MatMul") && b0[1].ends_with("/BiasAdd"),
        "{b0:?}"
    );
    assert!(case["first_divergence"].is_null());
    assert!(case["unmatched_a"].as_array().unwrap().is_empty());
    assert_eq!(case["probes_changed_outputs"], false);
    assert_eq!(case["outputs_matched_by"], "position");
}

#[test]
fn our_cnn_export_and_tf2onnx_agree_at_every_layer_and_so_does_the_burn_graph() {
    // Our export (Transpose, Conv, Relu, MaxPool, Transpose, Flatten, Gemm, Sigmoid) against
    // tf2onnx's of the same weights (Reshape, Conv, Relu, MaxPool, Transpose, shape arithmetic,
    // Reshape, MatMul + BiasAdd, Sigmoid); then the trained burn CNN itself against tf2onnx's,
    // its maps read in NCHW like the exports'.
    let set = "models/keras-from-rust-cnn/test_data_set_0";
    for a in [
        "models/synthetic-cnn/probs/model.onnx",
        "models/synthetic-cnn/probs",
    ] {
        let (code, v, err) = json(&[
            "compare",
            a,
            "models/keras-from-rust-cnn/model.onnx",
            "--test-data",
            set,
            "--layers",
        ]);
        assert_eq!(code, 0, "{a}: {err}");
        let case = &v["cases"][0];
        let kinds: Vec<&str> = case["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["kind"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(
            kinds,
            ["Conv", "Relu", "MaxPool", "Dense", "Sigmoid"],
            "{a}"
        );
        // Every layer within the default tolerance; the maps before the 1352-term dense sum
        // (which burn runs in fixed blocks, tract in another order) within 1e-5 absolute.
        for (i, l) in case["layers"].as_array().unwrap().iter().enumerate() {
            assert_eq!(l["metrics"]["mismatches"], 0, "{a}: {l}");
            if i < 3 {
                assert!(
                    l["metrics"]["max_abs_err"].as_f64().unwrap() <= 1e-5,
                    "{a}: {l}"
                );
            }
        }
        assert_eq!(
            case["layers"][0]["shape_a"],
            serde_json::json!([50, 8, 26, 26])
        );
        assert_eq!(
            case["layers"][2]["shape_b"],
            serde_json::json!([50, 8, 13, 13])
        );
        assert!(case["first_divergence"].is_null(), "{a}");
        assert!(case["unmatched_a"].as_array().unwrap().is_empty(), "{a}");
        assert!(case["unmatched_b"].as_array().unwrap().is_empty(), "{a}");
    }
}

/// A copy of our export with `f` applied to one initializer, written into `dir`.
fn nudged(dir: &std::path::Path, initializer: &str, f: impl Fn(&mut [f32])) -> String {
    let bytes = std::fs::read(root().join(OURS)).unwrap();
    let mut m = ModelProto::decode(&bytes[..]).unwrap();
    let g = m.graph.as_mut().unwrap();
    let t = g
        .initializer
        .iter_mut()
        .find(|t| t.name() == initializer)
        .unwrap();
    let raw = t.raw_data.as_mut().unwrap();
    let mut values: Vec<f32> = raw
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    f(&mut values);
    *raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = dir.join("nudged.onnx");
    onnx::write_model(&path, &m).unwrap();
    path.to_str().unwrap().to_string()
}

fn first_divergence(nudged: &str) -> serde_json::Value {
    let (code, v, err) = json(&[
        "compare",
        nudged,
        OURS,
        "--test-data",
        "models/mnist-mlp/probs/test_data_set_0",
        "--layers",
    ]);
    assert_eq!(code, 1, "a planted divergence must fail: {err}");
    v["cases"][0].clone()
}

#[test]
fn a_nudged_bias_is_named_as_the_first_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let path = nudged(dir.path(), "dense_1/bias", |b| b[3] += 1e-3);
    let case = first_divergence(&path);
    let d = &case["first_divergence"];
    assert_eq!(d["index"], 2, "{d}");
    assert_eq!(d["a"], "logits");
    assert_eq!(d["kind"], "Dense");
    // Every earlier layer is within tolerance (bit-identical here).
    for l in &case["layers"].as_array().unwrap()[..2] {
        assert_eq!(l["metrics"]["mismatches"], 0, "{l}");
    }
}

#[test]
fn a_nudged_first_kernel_is_named_as_the_first_divergence() {
    let dir = tempfile::tempdir().unwrap();
    // Nudge a whole row of the first kernel: an input pixel's weight into every hidden unit.
    let path = nudged(dir.path(), "dense/kernel", |k| {
        for v in &mut k[400 * 128..401 * 128] {
            *v += 1e-3;
        }
    });
    let case = first_divergence(&path);
    assert_eq!(case["first_divergence"]["index"], 0);
    assert_eq!(case["first_divergence"]["a"], "dense/linear");
}

#[test]
fn the_trained_burn_graph_matches_its_export_layer_by_layer() {
    let (code, v, err) = json(&["compare", "models/mnist-mlp/probs", OURS, "--layers"]);
    assert_eq!(code, 0, "{err}");
    assert!(v["a"].as_str().unwrap().starts_with("burn:"));
    let layers = v["cases"][0]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 4);
    // Dense and Relu differ only by the order of the 784-term sum (burn adds two blocks of 392
    // on every machine, tract sums in one run): measured 3.3e-6 at most, far below what a wrong
    // weight or a transposed kernel would give (the nudge tests above move it by 1e-3).
    for l in &layers[..3] {
        assert_eq!(l["metrics"]["mismatches"], 0, "{l}");
        assert!(l["metrics"]["max_abs_err"].as_f64().unwrap() < 5e-6, "{l}");
    }
    // The decluttered and optimized tract graphs are reported separately.
    assert_eq!(v["cases"][0]["stages"].as_array().unwrap().len(), 1);
}

#[test]
fn text_and_junit_reports_name_the_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let path = nudged(dir.path(), "dense_1/bias", |b| b[0] -= 1e-2);
    let report = dir.path().join("r.xml");
    let r = run(
        &[
            "compare",
            &path,
            OURS,
            "--test-data",
            "models/mnist-mlp/probs/test_data_set_0",
            "--layers",
            "--format",
            "junit",
            "--report",
            report.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("first divergence: layer 2 (Dense) logits ~ logits"),
        "{}",
        r.stdout
    );
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.starts_with("<?xml") && xml.contains("<failure message="),
        "{xml}"
    );
    assert!(
        xml.contains("tests=\"5\""),
        "one output and four layers: {xml}"
    );
}

#[test]
fn sides_that_cannot_be_compared_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["compare".into(), "models/mnist-mlp".into(), OURS.into()],
            "weights.npz",
        ),
        (
            vec![
                "compare".into(),
                "models/mnist-mlp/probs".into(),
                "models/mnist-mlp/logits".into(),
            ],
            "at least one side must be an ONNX file",
        ),
        (
            vec![
                "compare".into(),
                dir.path().join("none.onnx").to_str().unwrap().into(),
                OURS.into(),
            ],
            "none.onnx",
        ),
        (
            vec![
                "compare".into(),
                OURS.into(),
                "models/keras-cnn/model.onnx".into(),
                "--test-data".into(),
                "models/mnist-mlp/probs/test_data_set_0".into(),
            ],
            "keras-cnn",
        ),
    ];
    for (args, needle) in cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&argv, &root());
        assert_eq!(r.code, 2, "{args:?}: {} {}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}
