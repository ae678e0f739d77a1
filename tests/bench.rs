//! `bench` through the real binary: its argument checks, its JSON, and the child process that
//! measures validate's peak memory. The timed figures themselves are for release builds; these
//! tests only check the plumbing, on the smallest work there is.

mod common;

use common::{root, run};

#[test]
fn zero_repetitions_is_a_usage_error() {
    let r = run(&["bench", "--repeat", "0"], &root());
    assert_eq!(r.code, 2, "stdout {}", r.stdout);
    assert!(r.stderr.contains("--repeat"), "{}", r.stderr);
}

#[test]
fn json_report_carries_machine_and_figures() {
    let r = run(
        &[
            "bench", "--only", "roof", "--repeat", "1", "--warmup", "0", "--json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "stderr {}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["repeat"], 1);
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    let figures = v["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 1);
    assert_eq!(figures[0]["key"], "roof.gemm");
    assert_eq!(figures[0]["unit"], "gflops_per_second");
    assert!(figures[0]["value"].as_f64().unwrap() > 0.0);
}

#[test]
fn validate_child_reports_status_and_peak_memory() {
    let case = root().join("models/mnist-mlp");
    let model = case.join("probs/model.onnx");
    let labels = case.join("labels.npy");
    let r = run(
        &[
            "bench",
            "--validate-child",
            model.to_str().unwrap(),
            "--validate-labels",
            labels.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "stderr {}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["status"], "pass", "{}", r.stdout);
    assert!(v["vm_hwm_kib"].as_u64().unwrap() > 1024, "{}", r.stdout);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
}
