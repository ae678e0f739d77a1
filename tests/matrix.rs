//! `matrix` through the real binary: every runtime on the committed reference inputs, every
//! pair within tolerance, burn-import present exactly when the feature is built, exit codes.
//!
//! CI runs this file twice: in the plain `cargo test` and with `--features burn-import`.

mod common;

use common::{copy_dir, root, run};
use serde_json::Value;

/// The binary from a temp dir, pointed at the committed artifacts: nothing depends on the
/// working directory.
fn matrix(args: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let models = root().join("models");
    let mut argv = vec!["matrix", "--models", models.to_str().unwrap()];
    argv.extend(args);
    argv.extend(["--format", "json"]);
    let r = run(&argv, dir.path());
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

fn case<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {report}"))
}

fn column_index(case: &Value, label: &str) -> usize {
    case["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("no column {label}"))
}

/// The metrics of the pair of columns `a` and `b` (in either order).
fn pair<'a>(case: &'a Value, a: &str, b: &str) -> &'a Value {
    let (a, b) = (column_index(case, a), column_index(case, b));
    let (e, x) = (a.min(b), a.max(b));
    let p = case["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["expected"] == e && p["actual"] == x)
        .unwrap_or_else(|| panic!("no pair {e}/{x}"));
    &p["metrics"]
}

fn max_abs(m: &Value) -> f64 {
    m["max_abs_err"].as_f64().unwrap()
}

const BURN_IMPORT_COLUMNS: [(&str, &str); 4] = [
    ("seed", "burn-import (our export)"),
    ("seed", "burn-import (tf2onnx export)"),
    ("keras-seed", "burn-import (tf2onnx export)"),
    ("keras-cnn", "burn-import (tf2onnx export)"),
];

#[test]
fn every_pair_of_every_case_is_within_the_default_tolerance() {
    let (code, v, err) = matrix(&[]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(v["status"], "pass");
    assert_eq!(v["tolerance_name"], "default");
    assert_eq!(v["burn_import_built"], cfg!(feature = "burn-import"));
    let names: Vec<&Value> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["case"])
        .collect();
    assert_eq!(names, ["seed", "keras-seed", "keras-cnn"]);

    let seed = case(&v, "seed");
    assert_eq!(seed["input_shape"], serde_json::json!([50, 784]));
    // TF, burn, tract on both exports; onnxruntime on both where its library is found, and
    // burn-import on both in builds with the feature: every available pair is compared.
    let ort = common::onnxruntime();
    let available = 4 + if ort { 2 } else { 0 } + if cfg!(feature = "burn-import") { 2 } else { 0 };
    assert_eq!(
        seed["pairs"].as_array().unwrap().len(),
        available * (available - 1) / 2
    );
    for c in v["cases"].as_array().unwrap() {
        for col in c["columns"].as_array().unwrap() {
            if col["label"].as_str().unwrap().starts_with("onnxruntime") {
                assert_eq!(col["unavailable"].is_null(), ort, "{col}");
            }
        }
    }
    for p in seed["pairs"].as_array().unwrap() {
        assert_eq!(p["metrics"]["elements"], 500, "{p}");
        assert_eq!(p["metrics"]["mismatches"], 0, "{p}");
    }
    // Our Gemm export and tf2onnx's MatMul+Add export of the same weights end up as the same
    // kernels in tract: bit-identical outputs (measured: 0 ULP).
    let m = pair(seed, "tract (our export)", "tract (tf2onnx export)");
    assert_eq!(m["max_ulp"], 0, "{m}");
    // Against TensorFlow's own outputs every runtime stays far inside the default tolerance:
    // measured at most 4.47e-7 over the three cases (tract's Sigmoid floor, 4.47e-7 where TF
    // gives 1.3e-10); the margin to 1e-6 leaves room for the seed model being retrained.
    for c in v["cases"].as_array().unwrap() {
        let tf = "TensorFlow (reference outputs)";
        for col in c["columns"].as_array().unwrap().iter().skip(1) {
            let label = col["label"].as_str().unwrap();
            if col["unavailable"].is_null() {
                let m = pair(c, tf, label);
                assert!(max_abs(m) < 1e-6, "{} {label}: {m}", c["case"]);
            }
        }
    }
}

#[cfg(not(feature = "burn-import"))]
#[test]
fn without_the_feature_burn_import_columns_say_how_to_build_them() {
    let (code, v, err) = matrix(&[]);
    assert_eq!(code, 0, "{err}");
    for (case_name, label) in BURN_IMPORT_COLUMNS {
        let c = case(&v, case_name);
        let col = &c["columns"][column_index(c, label)];
        let note = col["unavailable"].as_str().unwrap_or_default();
        assert!(note.contains("--features burn-import"), "{col}");
        assert!(col["output_shape"].is_null());
    }
    let text = run(
        &[
            "matrix",
            "--model",
            "seed",
            "--models",
            root().join("models").to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("unavailable: not in this build: burn-import generates its code at build time only with `--features burn-import`"),
        "{}",
        text.stdout
    );
}

#[cfg(feature = "burn-import")]
#[test]
fn burn_import_runs_every_committed_artifact_it_was_built_from() {
    let (code, v, err) = matrix(&[]);
    assert_eq!(code, 0, "{err}");
    for (case_name, label) in BURN_IMPORT_COLUMNS {
        let c = case(&v, case_name);
        let col = &c["columns"][column_index(c, label)];
        assert!(col["unavailable"].is_null(), "{col}");
    }
    let seed = case(&v, "seed");
    // burn-import turns our `Gemm` into `matmul + bias.unsqueeze()`, the very ops of the trained
    // burn graph, and tf2onnx's `MatMul, Add` into burn's `Linear` (the same two ops). The two
    // generated models are bit-identical everywhere (measured: 0 ULP on all 500 outputs).
    let m = pair(
        seed,
        "burn-import (our export)",
        "burn-import (tf2onnx export)",
    );
    assert_eq!(m["max_ulp"], 0, "{m}");
    // The trained graph sums its 784 inputs in two fixed blocks of 392; the generated code
    // lets `gemm` pick blocks from the cache sizes. Where `gemm` picks the same (this machine
    // does), all three are bit-identical and differ from tract by the same figures; elsewhere
    // they agree within the default tolerance, as every pair above does.
    if onnx_parity::model::burn_mlp::plain_matmul_blocks_like_fixed(784) {
        for import in ["burn-import (our export)", "burn-import (tf2onnx export)"] {
            let m = pair(seed, "burn (trained)", import);
            assert_eq!(m["max_ulp"], 0, "burn (trained) vs {import}: {m}");
        }
        for tract in ["tract (our export)", "tract (tf2onnx export)"] {
            let via_import = pair(seed, "burn-import (our export)", tract);
            let trained = pair(seed, "burn (trained)", tract);
            assert_eq!(via_import["max_abs_err"], trained["max_abs_err"]);
            assert_eq!(via_import["max_ulp"], trained["max_ulp"]);
        }
    } else {
        eprintln!(
            "this machine's gemm blocks a 784-term sum differently: no bit-identity to check"
        );
    }
    // The CNN converts too (Conv, MaxPool, Transpose and a Shape/Cast/Gather/Slice/Concat chain
    // computing the Reshape target):
    // 10 sigmoid outputs for each of the 500 [28, 28, 1] images.
    let cnn = case(&v, "keras-cnn");
    let col = &cnn["columns"][column_index(cnn, "burn-import (tf2onnx export)")];
    assert_eq!(col["output_shape"], serde_json::json!([500, 10]));
}

#[cfg(feature = "burn-import")]
#[test]
fn burn_import_is_picked_by_content_and_refuses_other_bytes() {
    // The same artifacts copied elsewhere still find their generated code...
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("models/keras-mlp-sigmoid");
    let dst = dir.path().join("keras-mlp-sigmoid");
    copy_dir(&src, &dst);
    let models = dir.path().to_str().unwrap();
    let r = run(
        &[
            "matrix",
            "--model",
            "keras-seed",
            "--models",
            models,
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let c = case(&v, "keras-seed");
    let import = column_index(c, "burn-import (tf2onnx export)");
    assert!(c["columns"][import]["unavailable"].is_null(), "{c}");

    // ...while a changed file (same graph, another producer string) is not silently run by code
    // generated from the old bytes.
    let onnx_path = dst.join("model.onnx");
    let mut model = onnx_parity::onnx::read_model(&onnx_path).unwrap();
    model.producer_version = Some("edited".to_string());
    onnx_parity::onnx::write_model(&onnx_path, &model).unwrap();
    let r = run(
        &[
            "matrix",
            "--model",
            "keras-seed",
            "--models",
            models,
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let note = case(&v, "keras-seed")["columns"][import]["unavailable"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        note.contains("as it was at build time") && note.contains("rebuild"),
        "{note}"
    );
}

#[test]
fn a_pair_outside_tolerance_exits_1_and_names_it() {
    // TensorFlow and burn sum in another order: bit-exactness between them does not hold.
    let r = run(
        &[
            "matrix",
            "--model",
            "seed",
            "--tolerance",
            "exact",
            "--models",
            root().join("models").to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("[2] vs [1]: ") && r.stdout.contains("outside tolerance, worst at"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("verdict: FAIL"), "{}", r.stdout);
}

#[test]
fn a_missing_models_folder_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&["matrix", "--models", "no-such-folder"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("no-such-folder"), "{}", r.stderr);
    assert!(r.stderr.contains("--models DIR"), "{}", r.stderr);
}

#[test]
fn recorded_outputs_for_other_inputs_are_refused() {
    // The seed case takes TF's outputs from keras-from-rust-mlp; if its inputs were not the
    // seed's own, the comparison would be meaningless: that is an error, not a verdict.
    let dir = tempfile::tempdir().unwrap();
    for sub in ["mnist-mlp/probs", "keras-from-rust-mlp"] {
        copy_dir(&root().join("models").join(sub), &dir.path().join(sub));
    }
    let other = root().join("models/keras-mlp-sigmoid/test_data_set_0/input_0.pb");
    std::fs::copy(
        other,
        dir.path()
            .join("keras-from-rust-mlp/test_data_set_0/input_0.pb"),
    )
    .unwrap();
    let r = run(
        &[
            "matrix",
            "--model",
            "seed",
            "--models",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("inputs differ"), "{}", r.stderr);
}

/// `matrix MODEL.onnx` from a temp dir, paths absolute.
fn model_matrix(args: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut argv = vec!["matrix"];
    argv.extend(args);
    argv.extend(["--format", "json"]);
    let r = run(&argv, dir.path());
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

#[test]
fn any_model_gets_every_runtime_and_the_saturated_one_fails_the_loss_verdict_under_tract() {
    let dir = root().join("models/keras-mlp-saturated");
    let (m, y) = (dir.join("model.onnx"), dir.join("labels.npy"));
    let (code, v, err) = model_matrix(&[m.to_str().unwrap(), "--labels", y.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}\n{v}");
    let c = &v["cases"][0];
    let labels: Vec<&str> = c["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "reference (recorded outputs)",
            "tract (optimized)",
            "tract (decluttered)",
            "onnxruntime (all optimizations)",
            "onnxruntime (unoptimized)",
            "burn-import",
        ]
    );
    // Every available pair is within the default tolerance: the outputs agree...
    for p in c["pairs"].as_array().unwrap() {
        assert_eq!(p["metrics"]["mismatches"], 0, "{p}");
        assert_eq!(p["decisions_flipped"], 0, "{p}");
    }
    // ...and tract's probability form does not: TensorFlow clipped 4930 elements, tract none.
    let reference = &c["columns"][0]["loss"];
    assert_eq!(reference["clipped"], 4930);
    assert!(
        reference["logits_form"].is_null(),
        "TF recorded probabilities only"
    );
    for i in [1, 2] {
        let l = &c["columns"][i]["loss"];
        assert_eq!(l["probs_vs_reference"]["passed"], false, "{l}");
        assert_eq!(l["clipped"], 0);
        assert!(
            l["clip_explanation"]
                .as_str()
                .unwrap()
                .starts_with("the reference clipped 4930 element(s)"),
            "{l}"
        );
    }
    if common::onnxruntime() {
        for i in [3, 4] {
            let l = &c["columns"][i]["loss"];
            assert!(c["columns"][i]["unavailable"].is_null());
            assert_eq!(l["probs_vs_reference"]["passed"], true, "{l}");
        }
    }
    // JUnit: one test case per pair and per loss verdict; the two tract verdicts fail.
    let r = run(
        &[
            "matrix",
            m.to_str().unwrap(),
            "--labels",
            y.to_str().unwrap(),
            "--format",
            "junit",
        ],
        &root(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("<testsuites name=\"onnx-parity matrix\""),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("<failure ").count(), 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("name=\"[2] tract (optimized) loss verdict\">"),
        "{}",
        r.stdout
    );
}

#[test]
fn our_export_gets_its_trained_graph_as_a_column() {
    let dir = root().join("models/mnist-mlp/probs");
    let y = root().join("models/mnist-mlp/labels.npy");
    let (code, v, err) = model_matrix(&[
        dir.join("model.onnx").to_str().unwrap(),
        "--labels",
        y.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}\n{v}");
    let c = &v["cases"][0];
    let last = c["columns"].as_array().unwrap().last().unwrap();
    assert_eq!(last["label"], "burn (trained)");
    assert!(last["source"].as_str().unwrap().ends_with("weights.npz"));
    // The reference outputs are the trained graph's own: bit for bit.
    let n = c["columns"].as_array().unwrap().len() - 1;
    let p = c["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["expected"] == 0 && p["actual"] == n)
        .unwrap();
    assert_eq!(p["metrics"]["max_ulp"], 0, "{p}");
    // Every runtime column passes the loss verdict; the trained graph shows its logits too.
    for col in c["columns"].as_array().unwrap().iter().skip(1) {
        if col["unavailable"].is_null() {
            assert_eq!(col["loss"]["probs_vs_reference"]["passed"], true, "{col}");
        }
    }
    assert!(last["loss"]["logits_form"].is_number(), "{last}");
    // A model matrix takes no --model; --labels needs a model.
    let r = run(&["matrix", "--labels", y.to_str().unwrap()], &root());
    assert_eq!(r.code, 2, "{}", r.stderr);
}
