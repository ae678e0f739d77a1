//! onnxruntime through the real binary: a missing library (always tested), and with the
//! library (the wheel pinned in scripts/requirements.txt; `.ci/run` exports ORT_DYLIB_PATH):
//! the manifest gate, one file under both runtimes in `compare`, STRING tensors, and the
//! element types tract has no type for in the official node suite.
//!
//! Tests that need the library skip visibly without it, and fail without it when `CI` is set.

mod common;

use std::path::Path;

use common::{bin, onnxruntime, root, run};
use ndarray::{ArrayD, IxDyn};
use onnx_parity::onnx::pb::tensor_proto::DataType;
use onnx_parity::onnx::{GraphBuilder, ModelMeta, tensor_to_proto, write_model, write_tensor_pb};
use tract_onnx::prelude::Tensor;

/// The binary with no way to find onnxruntime: no ORT_DYLIB_PATH, no virtualenv, no python3
/// on PATH, run from an empty temporary folder.
fn without_library(args: &[&str]) -> (i32, String, String) {
    let cwd = tempfile::tempdir().unwrap();
    let out = bin()
        .args(args)
        .current_dir(cwd.path())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("VIRTUAL_ENV")
        .env("PATH", cwd.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_library_is_exit_2_with_the_install_hint_and_tract_still_works() {
    let model = root().join("models/mnist-mlp/logits/model.onnx");
    let m = model.to_str().unwrap();
    for args in [
        vec!["validate", m, "--runtime", "onnxruntime"],
        vec![
            "conformance",
            root().join("models").to_str().unwrap(),
            "--runtime",
            "onnxruntime",
        ],
        vec!["compare", m, m, "--runtime-b", "onnxruntime"],
    ] {
        let (code, _, err) = without_library(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("onnxruntime is not available")
                && err.contains("pip install onnxruntime==1.32.0")
                && err.contains("ORT_DYLIB_PATH"),
            "{err}"
        );
    }
    // A path that is not a file says so.
    let out = bin()
        .args(["validate", m, "--runtime", "onnxruntime"])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so is not a file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Everything else runs as before: tract needs no library.
    let (code, out, err) = without_library(&["validate", m]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The matrix shows onnxruntime as a column with the hint instead of failing.
    let (code, out, err) = without_library(&["matrix", m, "--format", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let col = &v["cases"][0]["columns"][3];
    assert_eq!(col["label"], "onnxruntime (all optimizations)");
    assert!(
        col["unavailable"]
            .as_str()
            .unwrap()
            .contains("pip install onnxruntime==1.32.0"),
        "{col}"
    );
}

#[test]
fn the_manifest_gate_passes_under_onnxruntime() {
    if !onnxruntime() {
        return;
    }
    let r = run(
        &[
            "validate",
            "--manifest",
            "models/parity.toml",
            "--runtime",
            "onnxruntime",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The divergence the manifest records is tract's: under onnxruntime the saturated model's
    // probability-form loss agrees with the reference.
    assert!(!r.stdout.contains("EXPECTED DIVERGENCE"), "{}", r.stdout);
}

#[test]
fn one_file_under_both_runtimes_in_compare() {
    if !onnxruntime() {
        return;
    }
    let m = "models/keras-mlp-sigmoid/model.onnx";
    let r = run(
        &[
            "compare",
            m,
            m,
            "--runtime-a",
            "onnxruntime",
            "--layers",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["a"].as_str().unwrap().starts_with("onnxruntime: "),
        "{}",
        v["a"]
    );
    assert!(
        v["b"].as_str().unwrap().starts_with("tract: "),
        "{}",
        v["b"]
    );
    let case = &v["cases"][0];
    // The same graph: every layer pairs with itself; onnxruntime's intermediates come from
    // graph outputs added to a copy of the bytes, and adding them changed no output bit.
    assert_eq!(case["layers"].as_array().unwrap().len(), 4, "{case}");
    assert!(case["unmatched_a"].as_array().unwrap().is_empty());
    assert_eq!(case["probes_changed_outputs"], false);
    // Each side's optimizer measured against its own unoptimized stage.
    let stages: Vec<&str> = case["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["side"].as_str().unwrap())
        .collect();
    assert!(stages[0].starts_with("onnxruntime: ") && stages[1].starts_with("tract: "));
    let text = run(&["compare", m, m, "--runtime-a", "onnxruntime"], &root());
    assert!(
        text.stdout
            .contains("onnxruntime optimized vs unoptimized, onnxruntime: "),
        "{}",
        text.stdout
    );
}

/// `t = Identity(s)` on a STRING [3] input, with `s.npy` (NumPy `<U`) as input and
/// `output_0.pb` holding `want`.
fn string_case(dir: &Path, want: &[&str]) {
    let set = dir.join("test_data_set_0");
    std::fs::create_dir_all(&set).unwrap();
    let mut b = GraphBuilder::new();
    b.input("s", DataType::String, &[3.into()])
        .node("Identity", "id", &["s"], &["t"], vec![])
        .output("t", DataType::String, &[3.into()]);
    write_model(dir.join("model.onnx"), &b.finish(ModelMeta::default())).unwrap();
    // np.save("s.npy", np.array(["ab", "c", "déjà"])): '<U4', UTF-32 code points, NUL-padded.
    let header = "{'descr': '<U4', 'fortran_order': False, 'shape': (3,), }";
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let pad = 64 - (10 + header.len() + 1) % 64;
    npy.extend(((header.len() + pad + 1) as u16).to_le_bytes());
    npy.extend(header.as_bytes());
    npy.extend(std::iter::repeat_n(b' ', pad));
    npy.push(b'\n');
    for s in ["ab", "c", "déjà"] {
        let mut chars: Vec<u32> = s.chars().map(u32::from).collect();
        chars.resize(4, 0);
        npy.extend(chars.iter().flat_map(|c| c.to_le_bytes()));
    }
    std::fs::write(set.join("s.npy"), npy).unwrap();
    let t = Tensor::from(
        ArrayD::from_shape_vec(IxDyn(&[3]), want.iter().map(|s| s.to_string()).collect()).unwrap(),
    );
    write_tensor_pb(set.join("output_0.pb"), &tensor_to_proto("t", &t).unwrap()).unwrap();
}

#[test]
fn string_tensors_are_read_fed_and_compared_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let bad = tmp.path().join("bad");
    string_case(&good, &["ab", "c", "déjà"]);
    string_case(&bad, &["ab", "C", "déjà"]);
    let mut runtimes = vec!["tract"];
    if onnxruntime() {
        runtimes.push("onnxruntime");
    }
    for rt in runtimes {
        let model = |d: &Path| d.join("model.onnx").display().to_string();
        let r = run(&["validate", &model(&good), "--runtime", rt], &root());
        assert_eq!(r.code, 0, "{rt}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("input  's' <- s.npy (by name) STRING [3]"),
            "{}",
            r.stdout
        );
        // One element differs: a mismatch showing both strings, whatever the tolerance.
        let r = run(
            &["validate", &model(&bad), "--runtime", rt, "--atol", "100"],
            &root(),
        );
        assert_eq!(r.code, 1, "{rt}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("1 of 3 elements beyond tolerance (atol 1e2, rtol 1e-5); worst at [1]: model \"c\" vs reference \"C\""),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn official_cases_tract_cannot_type_run_under_onnxruntime() {
    let suite = root().join("../shared/onnx-node-tests");
    if !suite.is_dir() {
        eprintln!("skipping: ../shared/onnx-node-tests not present");
        return;
    }
    if !onnxruntime() {
        return;
    }
    // BFLOAT16, the FLOAT8 kinds, FLOAT4, 4- and 2-bit integers, and STRING: read from the
    // test sets widened, narrowed again for onnxruntime, compared as the suite records them.
    let names = [
        "test_cast_FLOAT_to_BFLOAT16",
        "test_cast_FLOAT_to_FLOAT8E4M3FN",
        "test_cast_FLOAT8E5M2FNUZ_to_FLOAT",
        "test_cast_INT4_to_FLOAT",
        "test_cast_UINT2_to_UINT8",
        "test_dequantizelinear_e4m3fn",
        "test_quantizelinear_int4",
        "test_equal_string",
        "test_regex_full_match_basic",
    ];
    let tmp = tempfile::tempdir().unwrap();
    for n in names {
        common::copy_dir(&suite.join(n), &tmp.path().join(n));
    }
    let dir = tmp.path().to_str().unwrap();
    let r = run(
        &[
            "conformance",
            dir,
            "--runtime",
            "onnxruntime",
            "--list",
            "fail,unsupported,error",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "on onnxruntime: {} case(s): {} pass, 0 fail, 0 unsupported, 0 error",
            names.len(),
            names.len()
        )),
        "{}",
        r.stdout
    );
    // tract has no type for most of them: unsupported there, never an error.
    let r = run(&["conformance", dir, "--list", "error"], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(" 0 error"), "{}", r.stdout);
}

/// The documented discovery: with ORT_DYLIB_PATH unset, the active virtualenv, then a `.venv`
/// in the working folder or above it. Needs the library inside a virtualenv (as `.ci/run`
/// installs it): the venv is read off ORT_DYLIB_PATH.
#[test]
fn the_library_is_found_in_the_active_virtualenv_and_in_a_dot_venv_above_the_working_folder() {
    if !onnxruntime() {
        return;
    }
    // .../VENV/lib/python3.X/site-packages/onnxruntime/capi/libonnxruntime.so.N
    let Some(venv) = std::env::var_os("ORT_DYLIB_PATH")
        .map(std::path::PathBuf::from)
        .and_then(|p| p.ancestors().nth(6).map(Path::to_path_buf))
        .filter(|v| v.join("bin").is_dir() && v.join("lib").is_dir())
    else {
        eprintln!("skipping: ORT_DYLIB_PATH does not point into a virtualenv");
        return;
    };
    let model = root().join("models/mnist-mlp/logits/model.onnx");
    let args = [
        "validate",
        model.to_str().unwrap(),
        "--runtime",
        "onnxruntime",
    ];
    let cwd = tempfile::tempdir().unwrap();
    let quiet = |c: &mut std::process::Command| {
        c.args(args)
            .env_remove("ORT_DYLIB_PATH")
            .env("PATH", cwd.path())
            .output()
            .unwrap()
    };
    let out = quiet(bin().current_dir(cwd.path()).env("VIRTUAL_ENV", &venv));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        let nested = cwd.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::os::unix::fs::symlink(&venv, cwd.path().join(".venv")).unwrap();
        let out = quiet(bin().current_dir(&nested).env_remove("VIRTUAL_ENV"));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
