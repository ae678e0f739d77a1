//! The CLI through the real binary: exit codes, messages, artifacts, determinism.

mod common;

use common::{files_below, root, run, shared_mnist};

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
            "report.json",
            "sigmoid/model.onnx",
            "sigmoid/test_data_set_0/input_0.pb",
            "sigmoid/test_data_set_0/output_0.pb",
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
    assert_eq!(logged["config"]["hidden"], 32);
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
