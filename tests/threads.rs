//! `--threads` through the real binary: it reaches tract wherever tract runs, it changes no
//! reported number (tract splits work by output tiles and rows, never a sum), and a bad count
//! is a usage error.

mod common;

use common::{root, run};

/// The JSON report of `validate` on the committed Keras CNN (500 samples: above tract's
/// threading thresholds, so the run on two threads really is split) on `threads` threads.
fn validate_json(threads: &str) -> String {
    let case = root().join("models/keras-cnn");
    let r = run(
        &[
            "validate",
            case.join("model.onnx").to_str().unwrap(),
            "--labels",
            case.join("labels.npy").to_str().unwrap(),
            "--format",
            "json",
            "--threads",
            threads,
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "--threads {threads}: stderr {}", r.stderr);
    r.stdout
}

#[test]
fn validate_reports_the_same_on_one_and_two_threads() {
    let one = validate_json("1");
    assert!(one.contains("\"max_abs"), "{one}");
    assert_eq!(one, validate_json("2"));
    assert_eq!(one, validate_json("3"));
}

#[test]
fn zero_threads_is_a_usage_error() {
    for bad in ["0", "257", "two"] {
        let r = run(&["validate", "x.onnx", "--threads", bad], &root());
        assert_eq!(r.code, 2, "--threads {bad}: stdout {}", r.stdout);
        assert!(r.stderr.contains("--threads"), "{}", r.stderr);
    }
}

#[test]
fn every_command_that_runs_tract_offers_it() {
    for command in [
        "validate",
        "compare",
        "matrix",
        "bench",
        "demo",
        "conformance",
    ] {
        let r = run(&[command, "--help"], &root());
        assert_eq!(r.code, 0, "{command}: {}", r.stderr);
        assert!(
            r.stdout.contains("--threads <N>"),
            "{command}: {}",
            r.stdout
        );
    }
}

#[test]
fn bench_measures_tract_on_one_thread_and_on_threads() {
    let r = run(
        &[
            "bench",
            "--only",
            "infer",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--json",
            "--threads",
            "2",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "stderr {}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let figures = v["figures"].as_array().unwrap();
    let what = |key: &str| {
        figures
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("no figure {key} in {}", r.stdout))["what"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for model in ["mnist-mlp-logits", "keras-cnn"] {
        for batch in [1, 256] {
            assert!(what(&format!("infer.{model}.b{batch}")).ends_with(", 1 thread"));
            assert!(what(&format!("infer.{model}.b{batch}.threads")).ends_with(", 2 threads"));
        }
    }
}
