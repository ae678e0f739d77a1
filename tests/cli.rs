//! The CLI through the real binary: exit codes, messages, artifacts, determinism.

mod common;

use common::{files_below, root, run, shared_mnist, write_npy, write_npz};

/// A small, fast run: enough steps to train, small enough for a debug build.
const SMALL: &[&str] = &[
    "--train", "600", "--eval", "200", "--epochs", "1", "--hidden", "32",
];

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(SMALL).chain(tail).copied().collect()
}

#[test]
fn demo_passes_and_prints_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&args(&["demo"], &[]), dir.path());
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.contains("verdict: PASS"), "{}", r.stdout);
    assert!(r.stdout.contains("logits model -> logits head"));
    assert!(r.stdout.contains("probs model -> sigmoid head"));
    // Not a terminal: no progress bar on stderr.
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
}

#[test]
fn demo_json_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&args(&["demo"], &["--format", "json"]), dir.path());
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["status"], "pass");
    assert_eq!(v["exports"].as_array().unwrap().len(), 2);
    for e in v["exports"].as_array().unwrap() {
        for key in ["max_abs_err", "max_rel_err", "max_ulp", "mismatches"] {
            assert!(e["output"][key].is_number(), "missing output.{key}");
        }
        assert!(e["loss_burn"]["probs_form_f64"].is_number());
    }
    assert!(v["training_parity"]["max_eval_loss_diff"].is_number());
}

#[test]
fn exact_tolerance_reports_a_mismatch_with_exit_1() {
    // tract's sigmoid is not bit-identical to burn's, so `exact` must fail on the sigmoid head
    // and say where.
    let dir = tempfile::tempdir().unwrap();
    let r = run(&args(&["demo"], &["--tolerance", "exact"]), dir.path());
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("verdict: FAIL"));
    assert!(r.stdout.contains("worst at ["), "{}", r.stdout);
}

#[test]
fn demo_writes_the_documented_artifact_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("art");
    let log = dir.path().join("log.json");
    let r = run(
        &args(
            &["demo"],
            &[
                "--out",
                out.to_str().unwrap(),
                "--log-json",
                log.to_str().unwrap(),
                "--reference-samples",
                "7",
            ],
        ),
        dir.path(),
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let files: Vec<String> = files_below(&out)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        [
            "config.json",
            "labels.npy",
            "logits/model.onnx",
            "logits/test_data_set_0/input_0.pb",
            "logits/test_data_set_0/output_0.pb",
            "logits/weights.npz",
            "probs/model.onnx",
            "probs/test_data_set_0/input_0.pb",
            "probs/test_data_set_0/output_0.pb",
            "probs/weights.npz",
            "report.json",
            "train-log.json",
        ]
    );
    let logged: serde_json::Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let steps = logged["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6); // 600 samples / batch 100, one epoch
    for s in steps {
        for form in ["logits", "probs"] {
            assert!(s[form]["loss"].is_number() && s[form]["binary_accuracy"].is_number());
        }
    }
    assert_eq!(logged["config"]["hidden"], serde_json::json!([32]));
    assert_eq!(logged["epochs"].as_array().unwrap().len(), 1);
    assert_eq!(
        std::fs::read(&log).unwrap(),
        std::fs::read(out.join("train-log.json")).unwrap()
    );
}

#[test]
fn same_seed_gives_identical_logs_and_onnx_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let outs = ["a", "b"].map(|n| dir.path().join(n));
    for out in &outs {
        let r = run(
            &args(
                &["train"],
                &["--optimizer", "sgd", "--out", out.to_str().unwrap()],
            ),
            dir.path(),
        );
        assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    }
    let files = files_below(&outs[0]);
    assert_eq!(files, files_below(&outs[1]));
    for f in &files {
        assert_eq!(
            std::fs::read(outs[0].join(f)).unwrap(),
            std::fs::read(outs[1].join(f)).unwrap(),
            "{f:?} differs"
        );
    }
    // A different seed must change the weights.
    let c = dir.path().join("c");
    let r = run(
        &args(
            &["train"],
            &[
                "--optimizer",
                "sgd",
                "--seed",
                "7",
                "--out",
                c.to_str().unwrap(),
            ],
        ),
        dir.path(),
    );
    assert_eq!(r.code, 0);
    assert_ne!(
        std::fs::read(c.join("logits/model.onnx")).unwrap(),
        std::fs::read(outs[0].join("logits/model.onnx")).unwrap()
    );
}

#[test]
fn train_prints_the_epoch_table() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &[
            "train", "--train", "600", "--eval", "100", "--hidden", "8", "--steps", "3",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.contains("loss logits"));
    assert!(
        r.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("1      3 |")),
        "{}",
        r.stdout
    );
}

fn assert_usage_error(extra: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    // No --epochs here, so that --steps cases reach validation instead of clap's conflict check.
    let base = ["demo", "--train", "600", "--eval", "200", "--hidden", "8"];
    let argv: Vec<&str> = base.iter().chain(extra).copied().collect();
    let r = run(&argv, dir.path());
    assert_eq!(
        r.code, 2,
        "{extra:?}: stdout {} stderr {}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.contains(needle),
        "{extra:?}: stderr lacks {needle:?}: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn nonsense_hyper_parameters_exit_2_naming_the_flag() {
    assert_usage_error(&["--batch", "0"], "--batch: must be at least 1");
    assert_usage_error(&["--lr", "NaN"], "--lr: must be a finite number above 0");
    assert_usage_error(&["--lr=-1"], "--lr: must be a finite number above 0");
    assert_usage_error(&["--hidden", "0"], "--hidden");
    assert_usage_error(&["--steps", "0"], "--steps");
    assert_usage_error(&["--reference-samples", "0"], "--reference-samples");
    assert_usage_error(&["--batch", "x"], "--batch");
}

#[test]
fn bad_data_folders_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert_usage_error(&["--data", missing.to_str().unwrap()], "does not exist");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_usage_error(&["--data", empty.to_str().unwrap()], "no MNIST files in");
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    // A 2-dim header where images need 3 dims: the magic number says so.
    std::fs::write(
        corrupt.join("t10k-images-idx3-ubyte"),
        [0u8, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7],
    )
    .unwrap();
    std::fs::write(
        corrupt.join("t10k-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 1, 3],
    )
    .unwrap();
    assert_usage_error(
        &["--data", corrupt.to_str().unwrap()],
        "t10k-images-idx3-ubyte: bad magic number",
    );
}

#[test]
fn unwritable_outputs_fail_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("out");
    assert_usage_error(&["--out", under_file.to_str().unwrap()], "output folder");
    let log = dir.path().join("missing/log.json");
    assert_usage_error(&["--log-json", log.to_str().unwrap()], "does not exist");
}

#[test]
fn too_few_samples_in_real_mnist_is_a_clear_error() {
    let Some(mnist) = shared_mnist() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &[
            "demo",
            "--data",
            mnist.to_str().unwrap(),
            "--train",
            "9000",
            "--eval",
            "2000",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("10000"), "{}", r.stderr);
}

#[test]
fn demo_on_real_mnist_passes() {
    let Some(mnist) = shared_mnist() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &[
            "demo",
            "--data",
            mnist.to_str().unwrap(),
            "--train",
            "500",
            "--eval",
            "200",
            "--steps",
            "5",
            "--hidden",
            "32",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stdout {}\nstderr {}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("data: mnist (500 train / 200 eval samples)"),
        "{}",
        r.stdout
    );
}

#[test]
fn committed_artifacts_are_reproduced_byte_for_byte() {
    let case = root().join("models/mnist-mlp");
    let command =
        std::fs::read_to_string(case.join("command.txt")).expect("models/mnist-mlp/command.txt");
    let argv: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(
        argv[0], "onnx-parity",
        "command.txt starts with the binary name"
    );
    let out_at = argv
        .iter()
        .position(|a| *a == "--out")
        .expect("command has --out");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again");
    let mut rerun: Vec<&str> = argv[1..].to_vec();
    let out_str = out.to_str().unwrap();
    rerun[out_at] = out_str; // the value after --out (index shifted by the dropped binary name)
    let r = run(&rerun, &root());
    assert_eq!(r.code, 0, "stderr {}", r.stderr);
    let made = files_below(&out);
    let committed: Vec<_> = files_below(&case)
        .into_iter()
        .filter(|p| !["command.txt", "README.md"].contains(&p.to_str().unwrap()))
        .collect();
    assert_eq!(made, committed);
    for f in &made {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(case.join(f)).unwrap(),
            "{f:?} differs from the committed file"
        );
    }
}

#[test]
fn saved_weights_reload_as_init_and_export_reproduces_the_training_export() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // Train 4 steps, saving final weights and the artifacts.
    let r = run(
        &[
            "train",
            "--train",
            "600",
            "--eval",
            "100",
            "--hidden",
            "16",
            "--steps",
            "4",
            "--save-weights",
            &p("w.npz"),
            "--out",
            &p("a"),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    for form in ["logits", "probs"] {
        assert!(dir.path().join(format!("w-{form}.npz")).exists());
    }
    assert_eq!(
        std::fs::read(dir.path().join("w-logits.npz")).unwrap(),
        std::fs::read(dir.path().join("a/logits/weights.npz")).unwrap()
    );
    // Exporting the saved weights gives the same graph outputs as the training export.
    let r = run(
        &[
            "export",
            "--weights",
            &p("w-probs.npz"),
            "--head",
            "sigmoid",
            "--out",
            &p("e/m.onnx"),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(
        r.stdout.contains("MLP 784-16-10, relu, sigmoid head"),
        "{}",
        r.stdout
    );
    let ours = onnx_parity::onnx::read_model(dir.path().join("e/m.onnx")).unwrap();
    let trained = onnx_parity::onnx::read_model(dir.path().join("a/probs/model.onnx")).unwrap();
    assert_eq!(ours.graph, trained.graph, "same weights, same graph");
    // Training from saved weights starts where the first run ended: the first step's loss of
    // the second run equals the loss on those weights, and the init is recorded by hash.
    let r = run(
        &[
            "train",
            "--train",
            "600",
            "--eval",
            "100",
            "--init",
            &p("w-logits.npz"),
            "--steps",
            "1",
            "--log-json",
            &p("log.json"),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("log.json")).unwrap()).unwrap();
    assert_eq!(log["config"]["init"]["kind"], "file");
    assert_eq!(log["config"]["hidden"], serde_json::json!([16]));
}

#[test]
fn indices_fix_the_training_stream() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let write_indices = |name: &str, v: Vec<i64>| {
        write_npy(&dir.path().join(name), &ndarray::Array1::from(v));
    };
    write_indices("fwd.npy", (0..200).collect());
    write_indices("rev.npy", (0..200).rev().collect());
    let logs: Vec<serde_json::Value> = ["fwd", "rev"]
        .iter()
        .map(|name| {
            let log = p(&format!("{name}.json"));
            let r = run(
                &[
                    "train",
                    "--train",
                    "600",
                    "--eval",
                    "100",
                    "--hidden",
                    "8",
                    "--batch",
                    "50",
                    "--indices",
                    &p(&format!("{name}.npy")),
                    "--log-json",
                    &log,
                ],
                dir.path(),
            );
            assert_eq!(r.code, 0, "stderr: {}", r.stderr);
            serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap()
        })
        .collect();
    // 200 indices, batch 50, 3 epochs: 12 steps; no shuffling with --indices.
    assert_eq!(logs[0]["steps"].as_array().unwrap().len(), 12);
    assert_eq!(logs[0]["config"]["shuffle"], false);
    // Same first-step weights, different first batch: different first loss.
    assert_ne!(
        logs[0]["steps"][0]["logits"]["loss"],
        logs[1]["steps"][0]["logits"]["loss"]
    );
    // Out of range for the 700 synthetic samples: exit 2 naming the flag and file.
    write_indices("bad.npy", vec![0, 5, 700]);
    let r = run(
        &[
            "train",
            "--train",
            "600",
            "--eval",
            "100",
            "--indices",
            &p("bad.npy"),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--indices") && r.stderr.contains("bad.npy"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("sample index 700 at position 2 is out of range: the data has 700 samples"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_weight_files_exit_2_naming_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let write = |name: &str, arrays: &[(&str, ndarray::ArrayD<f32>)]| {
        let named: Vec<(&str, &ndarray::ArrayD<f32>)> =
            arrays.iter().map(|(n, a)| (*n, a)).collect();
        write_npz(&dir.path().join(name), &named, false);
    };
    let z = |s: &[usize]| ndarray::ArrayD::<f32>::zeros(s.to_vec());
    // Right layout but 100 inputs where the data has 784.
    write(
        "narrow.npz",
        &[
            ("dense/kernel", z(&[100, 8])),
            ("dense/bias", z(&[8])),
            ("dense_1/kernel", z(&[8, 10])),
            ("dense_1/bias", z(&[10])),
        ],
    );
    let r = run(
        &[
            "train",
            "--train",
            "600",
            "--eval",
            "100",
            "--init",
            &p("narrow.npz"),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--init")
            && r.stderr.contains("MLP 100-8-10")
            && r.stderr.contains("MLP 784-8-10"),
        "{}",
        r.stderr
    );
    write("missing.npz", &[("dense/kernel", z(&[784, 8]))]);
    for cmd in [
        &["train", "--init", &p("missing.npz")][..],
        &[
            "export",
            "--weights",
            &p("missing.npz"),
            "--head",
            "logits",
            "--out",
            &p("x.onnx"),
        ][..],
    ] {
        let r = run(cmd, dir.path());
        assert_eq!(r.code, 2, "{cmd:?}");
        assert!(
            r.stderr.contains("missing.npz: dense/bias is present but")
                || r.stderr
                    .contains("missing.npz: dense/kernel is present but dense/bias is missing"),
            "{}",
            r.stderr
        );
    }
    assert!(!dir.path().join("x.onnx").exists(), "no output on error");
    let r = run(
        &["train", "--init", &p("w.npz"), "--hidden", "8"],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("w.npz"), "{}", r.stderr);
}

#[test]
fn synthetic_data_exported_as_idx_trains_identically() {
    // The data command writes the embedded set as MNIST files; training from them must give the
    // same log as training on the embedded set directly (pixels are exact k/255 values).
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let r = run(
        &["data", "--out", &p("idx"), "--samples", "700"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let common = [
        "train", "--train", "600", "--eval", "100", "--hidden", "8", "--steps", "3",
    ];
    let (idx, f, e) = (p("idx"), p("f.json"), p("e.json"));
    let from_files: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--data", &idx, "--log-json", &f])
        .collect();
    let embedded: Vec<&str> = common.iter().copied().chain(["--log-json", &e]).collect();
    assert_eq!(run(&from_files, dir.path()).code, 0);
    assert_eq!(run(&embedded, dir.path()).code, 0);
    let strip = |f: &str| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p(f)).unwrap()).unwrap();
        v["data"]["source"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip("f.json"), strip("e.json"));
}

/// 13 binary targets per synthetic sample: the digit one-hot, even, >= 5, prime (what
/// `scripts/multilabel_targets.py` writes), for `n` samples of `onnx-parity data`'s digits.
fn multilabel(labels: &[u8]) -> ndarray::Array2<f32> {
    ndarray::Array2::from_shape_fn((labels.len(), 13), |(i, j)| {
        let d = labels[i];
        let on = match j {
            0..=9 => usize::from(d) == j,
            10 => d.is_multiple_of(2),
            11 => d >= 5,
            _ => [2, 3, 5, 7].contains(&d),
        };
        f32::from(u8::from(on))
    })
}

#[test]
fn cnn_demo_learns_13_multilabel_targets_and_writes_nhwc_reference_data() {
    let dir = tempfile::tempdir().unwrap();
    let labels = onnx_parity::dataset::synthetic::generate(400, 42)
        .labels
        .to_vec();
    let targets = dir.path().join("t.npy");
    write_npy(&targets, &multilabel(&labels));
    let out = dir.path().join("art");
    let r = run(
        &[
            "demo",
            "--arch",
            "cnn",
            "--filters",
            "4",
            "--train",
            "300",
            "--eval",
            "100",
            "--epochs",
            "1",
            "--lr",
            "0.01",
            "--targets",
            targets.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--reference-samples",
            "5",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "stdout {}\nstderr {}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("model: CNN 28x28x1, conv2d 4 3x3 relu, max-pool 2x2, dense 676-13"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("13 binary targets from a file"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("verdict: PASS"), "{}", r.stdout);
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["train"]["arch"],
        serde_json::json!({"kind": "cnn", "filters": 4})
    );
    assert!(config["train"].get("hidden").is_none(), "{config}");
    assert_eq!(config["data"]["targets"]["columns"], 13);
    // The reference inputs are NHWC images, the labels the file's rows of the eval samples.
    let set = out.join("probs/test_data_set_0");
    let x = onnx_parity::onnx::read_tensor_pb(set.join("input_0.pb")).unwrap();
    assert_eq!(x.dims, [5, 28, 28, 1]);
    let y: ndarray::Array2<f32> = ndarray_npy::read_npy(out.join("labels.npy")).unwrap();
    assert_eq!(y, multilabel(&labels[300..305]));
    // The folder is a compare side: the burn CNN against its own export, layer by layer.
    let r = run(
        &[
            "compare",
            out.join("probs").to_str().unwrap(),
            set.parent().unwrap().join("model.onnx").to_str().unwrap(),
            "--layers",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for layer in ["0 Conv", "1 Relu", "2 MaxPool", "3 Dense", "4 Sigmoid"] {
        assert!(r.stdout.contains(layer), "{layer}: {}", r.stdout);
    }
}

#[test]
fn bad_targets_exit_2_naming_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let labels = onnx_parity::dataset::synthetic::generate(800, 42)
        .labels
        .to_vec();
    let good = multilabel(&labels);
    let mut nan = good.clone();
    nan[[5, 11]] = f32::NAN;
    let mut half = good.clone();
    half[[7, 2]] = 0.5;
    let cases: Vec<(&str, ndarray::Array2<f32>, &str)> = vec![
        (
            "short.npy",
            good.slice(ndarray::s![..799, ..]).to_owned(),
            "has 799 rows but the data has 800 samples",
        ),
        ("nan.npy", nan, "NaN at row 5, column 11"),
        (
            "half.npy",
            half,
            "value 0.5 at row 7, column 2 is not 0 or 1",
        ),
    ];
    for (name, t, needle) in cases {
        let path = dir.path().join(name);
        write_npy(&path, &t);
        let r = run(
            &[
                "train",
                "--train",
                "600",
                "--eval",
                "200",
                "--targets",
                path.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains("--targets") && r.stderr.contains(name) && r.stderr.contains(needle),
            "{name}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    }
    let f64s = dir.path().join("f64.npy");
    write_npy(&f64s, &good.mapv(f64::from));
    let r = run(
        &[
            "train",
            "--train",
            "600",
            "--eval",
            "200",
            "--targets",
            f64s.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("f64.npy") && r.stderr.contains("expected float32"),
        "{}",
        r.stderr
    );
    let r = run(&["train", "--targets", "missing.npy"], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.npy"), "{}", r.stderr);
}

#[test]
fn arch_flags_that_do_not_fit_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, needle) in [
        (
            &["--arch", "cnn", "--hidden", "32"][..],
            "--hidden: applies to --arch mlp only",
        ),
        (
            &["--filters", "4"][..],
            "--filters: applies to --arch cnn only",
        ),
        (
            &["--arch", "cnn", "--filters", "0"][..],
            "--filters: must be at least 1",
        ),
    ] {
        let mut argv = vec!["train", "--train", "600", "--eval", "200"];
        argv.extend_from_slice(extra);
        let r = run(&argv, dir.path());
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{extra:?}: {}", r.stderr);
    }
    // CNN weights are a CNN's: --init takes the architecture and filters from them, and an
    // explicit flag that disagrees is refused; export --arch likewise.
    let w = onnx_parity::model::CnnWeights::glorot_uniform([28, 28, 1], 3, 10, 1);
    let init = dir.path().join("cnn.npz");
    std::fs::write(&init, onnx_parity::model::npz::weights_npz_bytes(&w.into())).unwrap();
    let i = init.to_str().unwrap();
    let r = run(
        &[
            "train", "--train", "300", "--eval", "100", "--steps", "1", "--init", i,
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (extra, needle) in [
        (&["--arch", "mlp"][..], "--arch mlp disagrees with --init"),
        (&["--filters", "4"][..], "--filters 4 disagrees with --init"),
    ] {
        let mut argv = vec!["train", "--steps", "1", "--init", i];
        argv.extend_from_slice(extra);
        let r = run(&argv, dir.path());
        assert_eq!(r.code, 2, "{extra:?}");
        assert!(
            r.stderr.contains(needle) && r.stderr.contains("cnn.npz"),
            "{}",
            r.stderr
        );
    }
    let out = dir.path().join("x.onnx");
    let o = out.to_str().unwrap();
    let r = run(
        &[
            "export",
            "--weights",
            i,
            "--head",
            "logits",
            "--arch",
            "mlp",
            "--out",
            o,
        ],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cnn.npz: --arch mlp, but the file holds a CNN"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    let r = run(
        &["export", "--weights", i, "--head", "logits", "--out", o],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("CNN 28x28x1, conv2d 3 3x3 relu"),
        "{}",
        r.stdout
    );
}

#[test]
fn committed_cnn_artifacts_are_reproduced_byte_for_byte() {
    // As committed_artifacts_are_reproduced_byte_for_byte, for the CNN: the convolution's and
    // the dense layer's long sums run in fixed blocks, so the same command gives the same
    // bytes on any machine.
    let case = root().join("models/synthetic-cnn");
    let command = std::fs::read_to_string(case.join("command.txt")).unwrap();
    let argv: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(argv[0], "onnx-parity");
    let out_at = argv.iter().position(|a| *a == "--out").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again");
    let mut rerun: Vec<&str> = argv[1..].to_vec();
    rerun[out_at] = out.to_str().unwrap();
    let r = run(&rerun, &root());
    assert_eq!(r.code, 0, "stderr {}", r.stderr);
    let made = files_below(&out);
    let committed: Vec<_> = files_below(&case)
        .into_iter()
        .filter(|p| !["command.txt", "README.md"].contains(&p.to_str().unwrap()))
        .collect();
    assert_eq!(made, committed);
    for f in &made {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(case.join(f)).unwrap(),
            "{f:?} differs from the committed file"
        );
    }
}
