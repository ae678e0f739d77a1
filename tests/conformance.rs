//! `conformance` through the real binary: classification on cases built here, the watchdog on
//! a case that takes too long, and (when `../shared/onnx-node-tests` is present) a sample of
//! the official suite.

mod common;

use common::{copy_dir, relu_case, root, run, shared_node_tests};
use ndarray::{ArrayD, IxDyn};
use onnx_parity::onnx::pb::tensor_proto::DataType;
use onnx_parity::onnx::{
    GraphBuilder, ModelMeta, array_to_proto, attr_ints, write_model, write_tensor_pb,
};

#[test]
fn cases_are_classified_and_listed_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = tmp.path();
    relu_case(&suite.join("test_relu_ok"), &[0.0, 2.0, 0.0, 4.0, 0.5, 0.0]);
    relu_case(
        &suite.join("test_relu_wrong"),
        &[0.0, 2.0, 0.0, 4.0, 0.5, 1.0],
    );
    // An operator tract does not know.
    let unknown = suite.join("test_unknown_op");
    relu_case(&unknown, &[0.0; 6]);
    let mut b = GraphBuilder::new();
    b.input("x", DataType::Float, &[2.into(), 3.into()])
        .node("NoSuchOp", "n", &["x"], &["y"], vec![])
        .output("y", DataType::Float, &[2.into(), 3.into()]);
    write_model(unknown.join("model.onnx"), &b.finish(ModelMeta::default())).unwrap();
    // A reference file that is not a tensor at all: our side must call it an error.
    let broken = suite.join("test_broken_reference");
    relu_case(&broken, &[0.0; 6]);
    std::fs::write(broken.join("test_data_set_0/output_0.pb"), [0x3a, 0x7f]).unwrap();

    let r = run(
        &[
            "conformance",
            suite.to_str().unwrap(),
            "--list",
            "fail,unsupported,error",
        ],
        &root(),
    );
    // An error-class case makes the run fail so that our bugs cannot hide in the counts.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("4 case(s): 1 pass, 1 fail, 1 unsupported, 1 error"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("test_relu_wrong: output 'y'"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("test_unknown_op: "), "{}", r.stdout);
    assert!(
        r.stdout.contains("NoSuchOp"),
        "the reason names the operator: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("test_broken_reference: ") && r.stdout.contains("output_0.pb"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("1 conformance case(s) ended in an error"));

    std::fs::remove_dir_all(&broken).unwrap();
    let r = run(
        &["conformance", suite.to_str().unwrap(), "--format", "json"],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["counts"]["total"], 3);
    assert_eq!(v["counts"]["unsupported"], 1);
    assert_eq!(v["cases"][0]["name"], "test_relu_ok");
    assert_eq!(v["cases"][0]["verdict"], "pass");
    assert_eq!(v["cases"][1]["verdict"], "fail");
    // --min-pass turns a drop in passing cases into a failure.
    let r = run(
        &["conformance", suite.to_str().unwrap(), "--min-pass", "2"],
        &root(),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("fewer than --min-pass 2"), "{}", r.stderr);
}

#[test]
fn a_case_over_the_timeout_stops_the_run_naming_it() {
    // o = x * x^T (an outer product, [n, n]), y = o * o: 2*n^3 flops from an n-element input,
    // far more than a second's work in any build.
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("test_slow_matmul");
    std::fs::create_dir_all(case.join("test_data_set_0")).unwrap();
    let n = 4000usize;
    let mut b = GraphBuilder::new();
    b.input("x", DataType::Float, &[(n as i64).into(), 1.into()])
        .node(
            "Transpose",
            "t",
            &["x"],
            &["xt"],
            vec![attr_ints("perm", &[1, 0])],
        )
        .node("MatMul", "outer", &["x", "xt"], &["o"], vec![])
        .node("MatMul", "square", &["o", "o"], &["y"], vec![])
        .output("y", DataType::Float, &["rows".into(), "cols".into()]);
    write_model(case.join("model.onnx"), &b.finish(ModelMeta::default())).unwrap();
    let x = ArrayD::from_shape_fn(IxDyn(&[n, 1]), |i| (i[0] % 7) as f32 - 3.0);
    write_tensor_pb(
        case.join("test_data_set_0/input_0.pb"),
        &array_to_proto("x", &x).unwrap(),
    )
    .unwrap();
    // The expected output is never reached; a small wrong-shaped one keeps the file tiny.
    write_tensor_pb(
        case.join("test_data_set_0/output_0.pb"),
        &array_to_proto("y", &ArrayD::from_elem(IxDyn(&[1, 1]), 0.0f32)).unwrap(),
    )
    .unwrap();
    let r = run(
        &[
            "conformance",
            tmp.path().to_str().unwrap(),
            "--timeout-secs",
            "1",
        ],
        &root(),
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("conformance case test_slow_matmul still running after 1 s"),
        "{}",
        r.stderr
    );
}

#[test]
fn official_node_tests_sample_runs_without_errors() {
    let Some(suite) = shared_node_tests() else {
        return;
    };
    // A sample across the alphabet: every 25th case, copied so the run stays short.
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&suite)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").is_file())
        .collect();
    names.sort();
    // 1765 cases in the suite in ../shared: 71 sampled. An emptied folder must not pass.
    assert!(names.len() >= 1700, "only {} node-test cases", names.len());
    for case in names.iter().step_by(25) {
        let dest = tmp.path().join(case.file_name().unwrap());
        copy_dir(case, &dest);
    }
    let r = run(&["conformance", tmp.path().to_str().unwrap()], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(" 0 error"), "{}", r.stdout);
}
