//! `validate`, `inspect` and the manifest gate through the real binary, on the committed
//! artifacts and on hostile copies of them.

mod common;

use std::path::{Path, PathBuf};

use common::{copy_dir, root, run, write_npy, write_npz};
use ndarray::ArrayD;
use onnx_parity::onnx::pb::StringStringEntryProto;
use onnx_parity::onnx::pb::tensor_proto::DataLocation;
use onnx_parity::onnx::{
    self, TensorLimits, array_from_proto, array_to_proto, read_model, read_tensor_pb, write_model,
    write_tensor_pb,
};

/// The runtimes the hostile-file tests run under: tract, and onnxruntime where its library is
/// found (CI fails without it).
fn runtimes() -> Vec<&'static str> {
    let mut r = vec!["tract"];
    if common::onnxruntime() {
        r.push("onnxruntime");
    }
    r
}

/// `args` with `--runtime rt` appended.
fn with_runtime<'a>(args: &[&'a str], rt: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--runtime", rt]);
    v
}

fn model(rel: &str) -> String {
    root().join("models").join(rel).display().to_string()
}

fn labels() -> String {
    model("mnist-mlp/labels.npy")
}

/// Copies a folder (files and subfolders) into `to`.
/// A writable copy of `models/mnist-mlp/<head>` in a temp dir.
fn copy_case(head: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(head);
    copy_dir(&root().join("models/mnist-mlp").join(head), &dir);
    (tmp, dir)
}

fn read_f32(path: &Path) -> ArrayD<f32> {
    array_from_proto(&read_tensor_pb(path).unwrap(), TensorLimits::default()).unwrap()
}

fn read_labels() -> ArrayD<f32> {
    ndarray_npy::read_npy(root().join("models/mnist-mlp/labels.npy")).unwrap()
}

/// Keras reduction of the logits form in plain f64, written here independently of
/// `onnx_parity::loss`: mean over the last axis of `max(z,0) - z*y + log1p(exp(-|z|))`, then
/// over rows. (NumPy: `np.mean(np.mean(np.maximum(z,0) - z*y + np.log1p(np.exp(-np.abs(z))), -1))`.)
fn naive_logits_loss(z: &ArrayD<f32>, y: &ArrayD<f32>) -> f64 {
    let cols = *z.shape().last().unwrap();
    let (zs, ys): (Vec<f64>, Vec<f64>) = (
        z.iter().map(|&v| f64::from(v)).collect(),
        y.iter().map(|&v| f64::from(v)).collect(),
    );
    let rows: Vec<f64> = zs
        .chunks(cols)
        .zip(ys.chunks(cols))
        .map(|(zr, yr)| {
            zr.iter()
                .zip(yr)
                .map(|(&z, &y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p())
                .sum::<f64>()
                / cols as f64
        })
        .collect();
    rows.iter().sum::<f64>() / rows.len() as f64
}

/// Keras's clipped probability form in plain f64 with the f32 clip bounds (NumPy:
/// `p = np.clip(p, 1e-7, 1 - 1e-7); np.mean(np.mean(-(y*np.log(p) + (1-y)*np.log(1-p)), -1))`).
fn naive_probs_loss(p: &ArrayD<f32>, y: &ArrayD<f32>) -> f64 {
    let cols = *p.shape().last().unwrap();
    let (lo, hi) = (f64::from(1e-7f32), f64::from(1.0f32 - 1e-7));
    let total: f64 = p
        .iter()
        .zip(y.iter())
        .collect::<Vec<_>>()
        .chunks(cols)
        .map(|row| {
            row.iter()
                .map(|&(&p, &y)| {
                    let (p, y) = (f64::from(p).clamp(lo, hi), f64::from(y));
                    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
                })
                .sum::<f64>()
                / cols as f64
        })
        .sum();
    total / (p.len() / cols) as f64
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn committed_models_pass_with_both_losses_reported() {
    let y = read_labels();
    for (head, output) in [("logits", "logits"), ("probs", "probabilities")] {
        let r = run(
            &[
                "validate",
                &model(&format!("mnist-mlp/{head}/model.onnx")),
                "--labels",
                &labels(),
                "--format",
                "json",
            ],
            &root(),
        );
        assert_eq!(r.code, 0, "{head}: {}\n{}", r.stdout, r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["status"], "pass");
        let c = &v["cases"][0];
        assert_eq!(c["outputs"][0]["name"], output);
        assert_eq!(c["outputs"][0]["mismatches"], 0);
        let loss = &c["loss"];
        for form in ["logits_form", "probs_form"] {
            for prec in ["f32", "f64"] {
                assert!(loss[form][prec].is_number(), "{head}: {form}.{prec}");
            }
        }
        // The reference-side numbers equal an independent f64 computation on the committed
        // reference outputs (what the manifest's expected losses are).
        let reference = read_f32(&root().join(format!(
            "models/mnist-mlp/{head}/test_data_set_0/output_0.pb"
        )));
        let probs_ref = if head == "logits" {
            let want = naive_logits_loss(&reference, &y);
            let got = loss["logits_form"]["reference"].as_f64().unwrap();
            assert!((got - want).abs() < 1e-7, "{got} vs {want}");
            reference.mapv(|z| 1.0 / (1.0 + (-z).exp()))
        } else {
            assert_eq!(loss["head"]["kind"], "sigmoid");
            assert_eq!(loss["head"]["logits_tensor"], "logits");
            reference.clone()
        };
        let want = naive_probs_loss(&probs_ref, &y);
        let got = loss["probs_form"]["reference"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "{head}: {got} vs {want}");
        // And the model's losses agree with the reference's (tract vs the trained graph).
        for form in ["logits_form", "probs_form"] {
            let ours = loss[form]["f64"].as_f64().unwrap();
            assert!(
                (ours - want).abs() < 1e-6,
                "{head} {form}: {ours} vs {want}"
            );
        }
        assert_eq!(c["binary_accuracy"]["decisions_flipped"], 0);
        assert!(c["binary_accuracy"]["model"].as_f64().unwrap() > 0.8);
    }
}

#[test]
fn text_report_names_each_tensor_and_both_forms() {
    let r = run(
        &[
            "validate",
            &model("mnist-mlp/probs/model.onnx"),
            "--labels",
            &labels(),
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "input  'input' <- input_0.pb (by name) FLOAT [50, 784]",
        "output 'probabilities' <- output_0.pb FLOAT [50, 10]",
        "sigmoid head: logits 'logits' read under node 'head/Sigmoid'",
        "logits form  f32 ",
        "probs form   f32 ",
        "decisions flipped 0 of 500",
        "verdict: PASS",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            r.stdout
        );
    }
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn a_planted_mismatch_fails_with_exit_1_naming_the_worst_element() {
    let (_tmp, dir) = copy_case("logits");
    let out = dir.join("test_data_set_0/output_0.pb");
    let mut proto = read_tensor_pb(&out).unwrap();
    let mut a = read_f32(&out);
    let before = a[[3, 7]];
    a[[3, 7]] += 0.5;
    a[[10, 2]] += 1e-3;
    let name = proto.name.take().unwrap();
    proto = array_to_proto(&name, &a).unwrap();
    write_tensor_pb(&out, &proto).unwrap();
    let r = run(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &root(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("verdict: FAIL"), "{}", r.stdout);
    // tract's value there is the trained graph's up to the order of the 784-term sum (burn adds
    // two blocks of 392, tract one run of 784), so it is read back from the report.
    let worst_line = r
        .stdout
        .lines()
        .find(|l| l.contains("worst at [3, 7]: model "))
        .unwrap_or_else(|| panic!("no worst element named in\n{}", r.stdout));
    let reference = format!(" vs reference {} ", a[[3, 7]]);
    assert!(
        worst_line.contains(&reference),
        "{reference:?} not in {worst_line}"
    );
    let model: f32 = worst_line
        .split("model ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no model value in {worst_line}"));
    assert!(
        (model - before).abs() <= 1e-5,
        "model {model} vs trained {before}"
    );
    assert!(r.stdout.contains("mismatches 2/500"), "{}", r.stdout);
    assert!(r.stdout.contains("first at [3, 7]"), "{}", r.stdout);

    // A looser tolerance for that output lets the small nudge pass but not the large one.
    let r = run(
        &[
            "validate",
            dir.join("model.onnx").to_str().unwrap(),
            "--format",
            "json",
            "--output-tol",
            "logits=1e-2,0",
        ],
        &root(),
    );
    assert_eq!(r.code, 1);
    let v = json(&r.stdout);
    assert_eq!(v["cases"][0]["outputs"][0]["mismatches"], 1);
    assert_eq!(
        v["cases"][0]["outputs"][0]["worst"]["index"],
        serde_json::json!([3, 7])
    );
}

#[test]
fn expected_loss_gates_pass_and_fail() {
    // (the reference numbers are recomputed independently in the test above)
    let args = |v: &str| {
        vec![
            "validate".to_owned(),
            model("mnist-mlp/logits/model.onnx"),
            "--labels".to_owned(),
            labels(),
            "--expect-logits-loss".to_owned(),
            v.to_owned(),
        ]
    };
    // The gated value lives once, in the manifest, next to the model's sha256.
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("models/parity.toml")).unwrap())
            .unwrap();
    let entry = manifest["model"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"].as_str() == Some("mnist-mlp/logits/model.onnx"))
        .unwrap();
    let expected = entry["expect_loss"]["logits_form"]
        .as_float()
        .unwrap()
        .to_string();
    let ok = args(&expected);
    let r = run(&ok.iter().map(String::as_str).collect::<Vec<_>>(), &root());
    assert_eq!(r.code, 0, "{}", r.stdout);
    let bad = args("0.1901");
    let r = run(&bad.iter().map(String::as_str).collect::<Vec<_>>(), &root());
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("FAIL: logits-form loss 0.1900")
            && r.stdout.contains("differs from the expected 0.190100000"),
        "{}",
        r.stdout
    );
    // --expect-loss without labels is a usage error.
    let r = run(
        &[
            "validate",
            &model("mnist-mlp/logits/model.onnx"),
            "--expect-loss",
            "0.2",
        ],
        &root(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--expect-loss needs --labels"),
        "{}",
        r.stderr
    );
}

/// Checks that every opened tag is closed in order: enough to catch broken JUnit output
/// without an XML library.
fn assert_balanced_xml(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').expect("unterminated tag") + i;
        let tag = &rest[i + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "in {xml}");
        } else {
            stack.push(tag.split_whitespace().next().unwrap().to_owned());
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

#[test]
fn junit_and_json_reports_parse_and_report_file_keeps_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let xml_path = tmp.path().join("report.xml");
    let r = run(
        &[
            "validate",
            &model("mnist-mlp/logits/model.onnx"),
            "--format",
            "junit",
            "--report",
            xml_path.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // stdout keeps the readable summary; the file holds the JUnit XML.
    assert!(r.stdout.contains("verdict: PASS"), "{}", r.stdout);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains(
        "<testsuites name=\"onnx-parity validate\" tests=\"1\" failures=\"0\" errors=\"0\">"
    ));
    assert_balanced_xml(&xml);

    let (_tmp, dir) = copy_case("logits");
    std::fs::create_dir(dir.join("test_data_set_1")).unwrap();
    let r = run(
        &[
            "validate",
            dir.join("model.onnx").to_str().unwrap(),
            "--format",
            "junit",
        ],
        &root(),
    );
    assert_eq!(r.code, 2);
    assert_balanced_xml(&r.stdout);
    assert!(r.stdout.contains("<error message="), "{}", r.stdout);

    let r = run(
        &[
            "validate",
            dir.join("model.onnx").to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 2);
    let v = json(&r.stdout);
    assert_eq!(v["status"], "error");
    assert_eq!(v["cases"][0]["status"], "pass");
    assert_eq!(v["cases"][1]["status"], "error");
    assert!(
        v["cases"][1]["error"]
            .as_str()
            .unwrap()
            .contains("empty test set")
    );
}

/// Runs validate on `model` (with extra args) and expects exit 2 with `needles` on stderr.
fn expect_error(args: &[&str], needles: &[&str]) {
    let r = run(args, &root());
    assert_eq!(
        r.code, 2,
        "{args:?}\nstdout {}\nstderr {}",
        r.stdout, r.stderr
    );
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "{args:?}: stderr lacks {n:?}: {}",
            r.stderr
        );
    }
    // Rust's own panic report reads "thread '...' panicked at".
    assert!(!r.stderr.contains("panicked at"), "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "one line per error: {}",
        r.stderr
    );
}

#[test]
fn corrupt_model_files_exit_2_naming_the_file() {
    for rt in runtimes() {
        let (_tmp, dir) = copy_case("logits");
        let path = dir.join("model.onnx");
        let bytes = std::fs::read(&path).unwrap();
        let p = path.to_str().unwrap();
        let validate = |args: &[&str], needles: &[&str]| {
            expect_error(&with_runtime(args, rt), needles);
        };
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        validate(&["validate", p], &[p, "not a valid ONNX ModelProto"]);
        // Random bytes (a fixed LCG so the test is reproducible).
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect();
        std::fs::write(&path, &noise).unwrap();
        validate(&["validate", p], &[p]);
        std::fs::write(&path, b"").unwrap();
        validate(&["validate", p], &[p, "no graph"]);
        validate(
            &["validate", dir.join("missing.onnx").to_str().unwrap()],
            &["missing.onnx"],
        );
    }
}

#[test]
fn absurd_dims_are_refused_without_allocating() {
    for rt in runtimes() {
        absurd_dims(rt);
    }
}

fn absurd_dims(rt: &str) {
    let expect_error =
        |args: &[&str], needles: &[&str]| expect_error(&with_runtime(args, rt), needles);
    let (_tmp, dir) = copy_case("logits");
    // An initializer claiming 2^40 x 128 floats with its real 100k-float payload.
    let path = dir.join("model.onnx");
    let mut m = read_model(&path).unwrap();
    m.graph.as_mut().unwrap().initializer[0].dims = vec![1 << 40, 128];
    write_model(&path, &m).unwrap();
    let p = path.to_str().unwrap();
    expect_error(
        &["validate", p],
        &[p, "dense/kernel", "refusing to allocate"],
    );

    // A reference input claiming 2^40 x 784 floats.
    let (_tmp2, dir) = copy_case("logits");
    let input = dir.join("test_data_set_0/input_0.pb");
    let mut t = read_tensor_pb(&input).unwrap();
    t.dims = vec![1 << 40, 784];
    write_tensor_pb(&input, &t).unwrap();
    expect_error(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &[input.to_str().unwrap(), "refusing to allocate"],
    );
    // Labels whose .npy header claims 2^40 rows.
    let npy = dir.join("labels.npy");
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 10), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16 + 1).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(b"\n\0\0\0\0");
    std::fs::write(&npy, bytes).unwrap();
    expect_error(
        &[
            "validate",
            dir.join("model.onnx").to_str().unwrap(),
            "--labels",
            npy.to_str().unwrap(),
        ],
        &[npy.to_str().unwrap(), "refusing to allocate"],
    );
}

/// Moves initializer 0 of the copied model into external data at `location`.
fn externalize(dir: &Path, location: &str) {
    let path = dir.join("model.onnx");
    let mut m = read_model(&path).unwrap();
    let t = &mut m.graph.as_mut().unwrap().initializer[0];
    let raw = t.raw_data.take().unwrap();
    std::fs::write(dir.join("weights.bin"), &raw).unwrap();
    t.data_location = Some(DataLocation::External as i32);
    t.external_data = vec![StringStringEntryProto {
        key: Some("location".to_owned()),
        value: Some(location.to_owned()),
    }];
    write_model(&path, &m).unwrap();
}

#[test]
fn external_data_inside_the_folder_works_and_escapes_are_refused() {
    for rt in runtimes() {
        external_data(rt);
    }
}

fn external_data(rt: &str) {
    let expect_error =
        |args: &[&str], needles: &[&str]| expect_error(&with_runtime(args, rt), needles);
    let (tmp, dir) = copy_case("logits");
    externalize(&dir, "weights.bin");
    let p = dir.join("model.onnx");
    // Run from a folder holding a decoy `weights.bin` of zeros: onnxruntime given the model's
    // bytes would resolve the location against the working folder; the model's own folder
    // must win (else every output would be off and the exit code 1).
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("weights.bin"),
        vec![0u8; std::fs::metadata(dir.join("weights.bin")).unwrap().len() as usize],
    )
    .unwrap();
    let r = run(
        &with_runtime(&["validate", p.to_str().unwrap()], rt),
        cwd.path(),
    );
    assert_eq!(r.code, 0, "{rt}: {}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("mismatches 0/500"), "{}", r.stdout);

    let outside = tmp.path().join("outside.bin");
    std::fs::copy(dir.join("weights.bin"), &outside).unwrap();
    let mut cases = vec![
        (outside.to_str().unwrap().to_owned(), "is absolute"),
        ("../outside.bin".to_owned(), "contains '..'"),
        ("sub/../weights.bin".to_owned(), "contains '..'"),
    ];
    if cfg!(unix) {
        cases.push(("link.bin".to_owned(), "outside the model folder"));
    }
    for (location, why) in cases {
        let (_t, d) = copy_case("logits");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, d.join("link.bin")).unwrap();
        externalize(&d, &location);
        let p = d.join("model.onnx");
        expect_error(
            &["validate", p.to_str().unwrap()],
            &[
                p.to_str().unwrap(),
                "dense/kernel",
                "external data refused",
                why,
            ],
        );
    }
    // A location whose file is too short for the tensor.
    let (_t, d) = copy_case("logits");
    externalize(&d, "weights.bin");
    std::fs::write(d.join("weights.bin"), [0u8; 16]).unwrap();
    let p = d.join("model.onnx");
    expect_error(
        &["validate", p.to_str().unwrap()],
        &[
            p.to_str().unwrap(),
            "needs 401408 bytes, the entry covers 16",
        ],
    );
}

#[test]
fn mismatched_reference_data_exits_2_naming_the_file() {
    // An expected output of another shape than the model produces is a failure (exit 1) naming
    // both shapes: outputs are compared as produced, whatever is declared.
    let (_tmp, dir) = copy_case("logits");
    let out = dir.join("test_data_set_0/output_0.pb");
    let a = read_f32(&out)
        .slice_move(ndarray::s![.., ..9])
        .into_dyn()
        .to_owned();
    write_tensor_pb(&out, &array_to_proto("logits", &a).unwrap()).unwrap();
    let p = dir.join("model.onnx");
    let r = run(&["validate", p.to_str().unwrap()], &root());
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "output 'logits': the model produced shape [50, 10], the reference (output_0.pb) \
             has [50, 9]"
        ),
        "{}",
        r.stdout
    );
    // The same for an expected output whose batch is not the input's.
    let (_tmp, dir) = copy_case("logits");
    let out = dir.join("test_data_set_0/output_0.pb");
    let a = read_f32(&out)
        .slice_move(ndarray::s![..49, ..])
        .into_dyn()
        .to_owned();
    write_tensor_pb(&out, &array_to_proto("logits", &a).unwrap()).unwrap();
    let r = run(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &root(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("produced shape [50, 10], the reference (output_0.pb) has [49, 10]"),
        "{}",
        r.stdout
    );
    // An input of the wrong element type.
    let (_tmp, dir) = copy_case("logits");
    let input = dir.join("test_data_set_0/input_0.pb");
    let x = read_f32(&input).mapv(f64::from);
    let t = onnx::tensor_to_proto("input", &x.into()).unwrap();
    write_tensor_pb(&input, &t).unwrap();
    expect_error(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &["input_0.pb", "is DOUBLE [50, 784]", "element types differ"],
    );
    // Labels of the wrong shape.
    let (_tmp, dir) = copy_case("logits");
    let y = read_labels().slice_move(ndarray::s![..20, ..]).into_dyn();
    let npy = dir.join("short.npy");
    write_npy(&npy, &y);
    expect_error(
        &[
            "validate",
            dir.join("model.onnx").to_str().unwrap(),
            "--labels",
            npy.to_str().unwrap(),
        ],
        &["short.npy", "labels have shape [20, 10]"],
    );
}

#[test]
fn missing_inputs_and_empty_test_sets_exit_2_naming_the_folder() {
    let (_tmp, dir) = copy_case("logits");
    let set = dir.join("test_data_set_0");
    std::fs::remove_file(set.join("input_0.pb")).unwrap();
    expect_error(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &[set.to_str().unwrap(), "missing input", "'input'"],
    );
    std::fs::remove_file(set.join("output_0.pb")).unwrap();
    expect_error(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &[set.to_str().unwrap(), "empty test set"],
    );
    std::fs::remove_dir(&set).unwrap();
    expect_error(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &["no test_data_set_* folder beside the model"],
    );
}

#[test]
fn npy_and_npz_reference_data_are_matched_by_tensor_name() {
    let (_tmp, dir) = copy_case("logits");
    let x = read_f32(&dir.join("test_data_set_0/input_0.pb"));
    let z = read_f32(&dir.join("test_data_set_0/output_0.pb"));
    let npy_dir = dir.join("npy");
    std::fs::create_dir(&npy_dir).unwrap();
    write_npy(&npy_dir.join("input.npy"), &x);
    write_npy(&npy_dir.join("logits.npy"), &z);
    let npz = dir.join("data.npz");
    write_npz(&npz, &[("input", &x), ("logits", &z)], true);
    let m = dir.join("model.onnx");
    for data in [&npy_dir, &npz] {
        let r = run(
            &[
                "validate",
                m.to_str().unwrap(),
                "--test-data",
                data.to_str().unwrap(),
                "--labels",
                &labels(),
            ],
            &root(),
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("(by name)"), "{}", r.stdout);
        assert!(r.stdout.contains("mismatches 0/500"), "{}", r.stdout);
    }
    // A name the model does not have.
    write_npy(&npy_dir.join("typo.npy"), &z);
    expect_error(
        &[
            "validate",
            m.to_str().unwrap(),
            "--test-data",
            npy_dir.to_str().unwrap(),
        ],
        &[
            "typo.npy",
            "'typo' matches no model input ('input') or output ('logits') by name",
            "--map FILE_NAME=MODEL_NAME",
        ],
    );
}

#[test]
fn tf2onnx_exports_bind_their_unk_dims_and_reproduce_keras_losses() {
    let case = root().join("models/keras-mlp-saturated");
    let keras: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("keras.json")).unwrap()).unwrap();
    let r = run(
        &[
            "validate",
            case.join("model.onnx").to_str().unwrap(),
            "--labels",
            case.join("labels.npy").to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    // Input batch `unk__51`, output batch `unk__52`: runs without any flag. Every output is
    // within tolerance, but the loss verdict fails (below).
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["cases"][0]["outputs"][0]["mismatches"], 0);
    let loss = &v["cases"][0]["loss"];
    assert_eq!(loss["head"]["kind"], "sigmoid");
    let k = &keras["keras"];
    // The logits form read under the Sigmoid equals model.evaluate.
    let evaluate = k["evaluate_loss"].as_f64().unwrap();
    let ours = loss["logits_form"]["f32"].as_f64().unwrap();
    assert!((ours - evaluate).abs() < 1e-6, "{ours} vs {evaluate}");
    // The probability form on TensorFlow's own outputs equals Keras's clipped BCE...
    let keras_probs = k["bce_on_predictions"].as_f64().unwrap();
    let reference = loss["probs_form"]["reference"].as_f64().unwrap();
    assert!(
        (reference - keras_probs).abs() < 1e-6,
        "{reference} vs {keras_probs}"
    );
    assert_eq!(
        loss["reference_clipped"].as_u64(),
        k["clipped"].as_u64(),
        "clip count on TensorFlow's outputs"
    );
    // ...while tract's saturating Sigmoid (never below 4.47e-7) gives a visibly smaller one,
    // reported as it is.
    let tract_probs = loss["probs_form"]["f32"].as_f64().unwrap();
    assert!(
        keras_probs - tract_probs > 0.01,
        "{tract_probs} vs {keras_probs}"
    );
    assert_eq!(loss["clipped"], 0);
    // The loss verdict: 0.1847 against 0.1992 is beyond max(1e-3 * 0.1992, 1e-6), and the one
    // line says why: every element TensorFlow clipped, tract did not.
    let check = &loss["probs_form"]["vs_reference"];
    assert_eq!(check["passed"], false, "{check}");
    assert_eq!(
        loss["clipped_only_by_reference"].as_u64(),
        k["clipped"].as_u64()
    );
    let problem = v["cases"][0]["problems"][0].as_str().unwrap();
    assert!(
        problem.starts_with("probs-form loss 0.18475")
            && problem.contains(&format!(
                "the reference clipped {} element(s) to [1e-7, 1-1e-7] that this runtime did not \
                 (it clipped 0): its probabilities span 4.470e-7 to",
                k["clipped"]
            )),
        "{problem}"
    );
    // The logits form has no reference (TensorFlow recorded probabilities): no verdict.
    assert!(loss["logits_form"]["vs_reference"].is_null());

    // A loss tolerance of 10% lets it pass; the outputs were never the problem.
    let loose = run(
        &[
            "validate",
            case.join("model.onnx").to_str().unwrap(),
            "--labels",
            case.join("labels.npy").to_str().unwrap(),
            "--loss-rtol",
            "0.1",
        ],
        &root(),
    );
    assert_eq!(loose.code, 0, "{}\n{}", loose.stdout, loose.stderr);
    assert!(
        loose.stdout.contains("(allowed 1.99e-2) PASS"),
        "{}",
        loose.stdout
    );

    // onnxruntime's Sigmoid reaches the clip where TensorFlow's does: within the default loss
    // tolerance (measured |diff| 8.9e-5 against 1.99e-4 allowed).
    if common::onnxruntime() {
        let r = run(
            &[
                "validate",
                case.join("model.onnx").to_str().unwrap(),
                "--labels",
                case.join("labels.npy").to_str().unwrap(),
                "--runtime",
                "onnxruntime",
                "--format",
                "json",
            ],
            &root(),
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let loss = &json(&r.stdout)["cases"][0]["loss"];
        assert_eq!(loss["probs_form"]["vs_reference"]["passed"], true, "{loss}");
        assert_eq!(loss["clipped"].as_u64(), k["clipped"].as_u64());
        let ort_logits = loss["logits_form"]["f32"].as_f64().unwrap();
        assert!(
            (ort_logits - evaluate).abs() < 1e-6,
            "{ort_logits} vs {evaluate}"
        );
    }
}

#[test]
fn inspect_describes_the_file() {
    let path = root().join("models/mnist-mlp/probs/model.onnx");
    let r = run(
        &["inspect", path.to_str().unwrap(), "--format", "json"],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    use sha2::Digest;
    let sha = format!("{:x}", sha2::Sha256::digest(std::fs::read(&path).unwrap()));
    assert_eq!(v["sha256"], sha);
    assert_eq!(v["ir_version"], 8);
    assert_eq!(v["opsets"][0]["version"], 17);
    assert_eq!(v["producer_name"], "onnx-parity");
    assert_eq!(v["inputs"][0]["dims"], serde_json::json!(["N", "784"]));
    assert_eq!(v["ops"]["Gemm"], 2);
    assert_eq!(v["ops"]["Sigmoid"], 1);
    // 784*128 + 128 + 128*10 + 10 parameters, 4 bytes each.
    assert_eq!(v["parameters"], 101_770);
    assert_eq!(v["initializer_bytes"], 407_080);
    assert_eq!(v["metadata"]["onnx_parity.formulation"], "probs");
    let r = run(&["inspect", path.to_str().unwrap()], &root());
    assert!(r.stdout.contains("2  Gemm"), "{}", r.stdout);
}

#[test]
fn committed_manifest_passes() {
    let r = run(&["validate", "--manifest", &model("parity.toml")], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("verdict: PASS"));
}

#[test]
fn manifest_fails_when_a_model_changes_or_is_unlisted() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    // The manifest and the folders its entries live in (not whatever else is in models/).
    let text = std::fs::read_to_string(root().join("models/parity.toml")).unwrap();
    let mut folders: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("path = \""))
        .map(|p| p.split('/').next().unwrap())
        .collect();
    folders.dedup();
    assert!(folders.contains(&"mnist-mlp"), "{folders:?}");
    for f in folders {
        copy_dir(&root().join("models").join(f), &models.join(f));
    }
    let manifest = models.join("parity.toml");
    std::fs::copy(root().join("models/parity.toml"), &manifest).unwrap();
    // Same graph, one changed field: valid, runs, passes every numeric check, but its bytes
    // (and sha256) differ from the entry.
    let path = models.join("mnist-mlp/logits/model.onnx");
    let mut m = read_model(&path).unwrap();
    m.doc_string = Some("edited".to_owned());
    write_model(&path, &m).unwrap();
    let r = run(
        &["validate", "--manifest", manifest.to_str().unwrap()],
        &root(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("model file changed: sha256 is"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(CHANGED)"), "{}", r.stdout);

    // Restore it and add an unlisted model instead.
    std::fs::copy(root().join("models/mnist-mlp/logits/model.onnx"), &path).unwrap();
    std::fs::copy(&path, models.join("stray.onnx")).unwrap();
    let r = run(
        &[
            "validate",
            "--manifest",
            manifest.to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = json(&r.stdout);
    let problems: Vec<&str> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["problems"].as_array().unwrap())
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("stray.onnx is not listed")),
        "{problems:?}"
    );
    assert_eq!(v["summary"]["failed"], 1);

    // A manifest that cannot be read is exit 2 naming it.
    std::fs::write(&manifest, "[[model]]\npath = 3\n").unwrap();
    expect_error(
        &["validate", "--manifest", manifest.to_str().unwrap()],
        &["parity.toml"],
    );
}

#[test]
fn bad_tolerance_flags_exit_2_naming_the_flag() {
    let m = model("mnist-mlp/logits/model.onnx");
    for (flag, value, needle) in [
        ("--atol", "-1", "--atol: must be a finite number >= 0"),
        ("--rtol", "NaN", "--rtol: must be a finite number >= 0"),
        (
            "--output-tol",
            "logits",
            "--output-tol \"logits\": expected NAME=ATOL,RTOL",
        ),
        (
            "--loss-tol",
            "inf",
            "--loss-tol: must be a finite number >= 0",
        ),
    ] {
        let arg = format!("{flag}={value}");
        expect_error(&["validate", &m, &arg], &[needle]);
    }
}

#[test]
fn inputs_tract_needs_constant_are_bound_from_the_data() {
    use onnx_parity::onnx::pb::tensor_proto::DataType;
    use onnx_parity::onnx::{GraphBuilder, ModelMeta, attr_int, tensor_to_proto};
    use tract_onnx::prelude::Tensor;
    // ReduceSum (opset 13+) takes its axes as an input; tract wants them constant.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let set = dir.join("test_data_set_0");
    std::fs::create_dir_all(&set).unwrap();
    let mut b = GraphBuilder::new();
    b.input("x", DataType::Float, &[2.into(), 3.into()])
        .input("axes", DataType::Int64, &[1.into()])
        .node(
            "ReduceSum",
            "sum",
            &["x", "axes"],
            &["y"],
            vec![attr_int("keepdims", 0)],
        )
        .output("y", DataType::Float, &[2.into()]);
    write_model(dir.join("model.onnx"), &b.finish(ModelMeta::default())).unwrap();
    let x = ArrayD::from_shape_vec(
        ndarray::IxDyn(&[2, 3]),
        vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0],
    )
    .unwrap();
    let axes = Tensor::from(ndarray::arr1(&[1i64]).into_dyn());
    let y = ArrayD::from_shape_vec(ndarray::IxDyn(&[2]), vec![6.0f32, 15.0]).unwrap();
    write_tensor_pb(set.join("input_0.pb"), &array_to_proto("x", &x).unwrap()).unwrap();
    write_tensor_pb(
        set.join("input_1.pb"),
        &tensor_to_proto("axes", &axes).unwrap(),
    )
    .unwrap();
    write_tensor_pb(set.join("output_0.pb"), &array_to_proto("y", &y).unwrap()).unwrap();
    let r = run(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "input  'axes' <- input_1.pb (by name) INT64 [1], bound as a constant (tract needs it constant)"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("input  'x' <- input_0.pb (by name) FLOAT [2, 3]\n")
    );
    // A wrong expected value still fails: binding changes what tract accepts, not the check.
    let y = ArrayD::from_shape_vec(ndarray::IxDyn(&[2]), vec![6.0f32, 16.0]).unwrap();
    write_tensor_pb(set.join("output_0.pb"), &array_to_proto("y", &y).unwrap()).unwrap();
    let r = run(
        &["validate", dir.join("model.onnx").to_str().unwrap()],
        &root(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("worst at [1]: model 15 vs reference 16"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_panic_inside_tract_is_an_error_naming_the_model() {
    use onnx_parity::onnx::pb::TensorProto;
    use onnx_parity::onnx::pb::tensor_proto::DataType;
    // tract's loader hits `unimplemented!` on a STRING tensor stored in raw_data.
    let (_tmp, dir) = copy_case("logits");
    let path = dir.join("model.onnx");
    let mut m = read_model(&path).unwrap();
    m.graph.as_mut().unwrap().initializer.push(TensorProto {
        name: Some("words".to_owned()),
        dims: vec![2],
        data_type: Some(DataType::String as i32),
        raw_data: Some(b"ab".to_vec().into()),
        ..TensorProto::default()
    });
    write_model(&path, &m).unwrap();
    let p = path.to_str().unwrap();
    expect_error(
        &["validate", p],
        &[
            p,
            "tract could not load the model (it panicked): not implemented",
            "(at tract-onnx-0.23.9/src/tensor.rs:",
        ],
    );
    // onnxruntime never reads an initializer no node uses: it runs the model, no crash.
    if runtimes().contains(&"onnxruntime") {
        let r = run(&["validate", p, "--runtime", "onnxruntime"], &root());
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
}

#[test]
fn sizes_given_by_tensor_values_are_bounded_before_tract_builds_them() {
    use onnx_parity::onnx::pb::tensor_proto::DataType;
    use onnx_parity::onnx::{GraphBuilder, ModelMeta, tensor_to_proto};
    use tract_onnx::prelude::Tensor;
    // ConstantOfShape asking for 4 x 2^40 floats, once from an initializer and once from an
    // input that validate would bind as a constant (what the fuzz target found).
    let huge = Tensor::from(ndarray::arr1(&[4i64, 1 << 40]).into_dyn());
    for (as_input, rt) in runtimes()
        .into_iter()
        .flat_map(|rt| [(false, rt), (true, rt)])
    {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let set = dir.join("test_data_set_0");
        std::fs::create_dir_all(&set).unwrap();
        let mut b = GraphBuilder::new();
        if as_input {
            b.input("shape", DataType::Int64, &[2.into()]);
        } else {
            b.input("x", DataType::Float, &[1.into()]);
        }
        b.node("ConstantOfShape", "fill", &["shape"], &["y"], vec![])
            .output("y", DataType::Float, &["a".into(), "b".into()]);
        let mut m = b.finish(ModelMeta::default());
        let input = if as_input {
            tensor_to_proto("shape", &huge).unwrap()
        } else {
            m.graph
                .as_mut()
                .unwrap()
                .initializer
                .push(tensor_to_proto("shape", &huge).unwrap());
            array_to_proto("x", &ArrayD::zeros(ndarray::IxDyn(&[1]))).unwrap()
        };
        write_model(dir.join("model.onnx"), &m).unwrap();
        write_tensor_pb(set.join("input_0.pb"), &input).unwrap();
        let y = ArrayD::<f32>::zeros(ndarray::IxDyn(&[1, 1]));
        write_tensor_pb(set.join("output_0.pb"), &array_to_proto("y", &y).unwrap()).unwrap();
        let p = dir.join("model.onnx");
        // In the file, the check before any runtime refuses it; fed as an input, tract binds
        // it as a constant and onnxruntime takes it at run time: each checks it first.
        let who = match (as_input, rt) {
            (false, _) => "refusing to let a runtime build it",
            (true, "tract") => "refusing to let tract build it",
            (true, _) => "refusing to let onnxruntime build it",
        };
        expect_error(
            &with_runtime(&["validate", p.to_str().unwrap()], rt),
            &[
                p.to_str().unwrap(),
                "node fill (ConstantOfShape): input 0 asks for 4.398046511104e12 elements",
                who,
            ],
        );
    }
}

#[test]
fn every_test_set_is_a_case_and_folders_of_sets_expand() {
    let (_tmp, dir) = copy_case("probs");
    copy_dir(&dir.join("test_data_set_0"), &dir.join("test_data_set_10"));
    copy_dir(&dir.join("test_data_set_0"), &dir.join("test_data_set_2"));
    let m = dir.join("model.onnx");
    for extra in [vec![], vec!["--test-data", dir.to_str().unwrap()]] {
        let mut args = vec!["validate", m.to_str().unwrap(), "--format", "json"];
        args.extend(extra);
        let r = run(&args, &root());
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let v = json(&r.stdout);
        let sets: Vec<String> = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let p = c["test_data"].as_str().unwrap();
                Path::new(p)
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        // Numeric order, not lexical.
        assert_eq!(
            sets,
            ["test_data_set_0", "test_data_set_2", "test_data_set_10"]
        );
        assert_eq!(v["summary"]["passed"], 3);
    }
}

/// `models/sklearn-mlp`'s own figures (scikit-learn's, written by scripts/sklearn_models.py).
fn sklearn_figures() -> serde_json::Value {
    let path = root().join("models/sklearn-mlp/sklearn.json");
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(path).unwrap()).unwrap()["sklearn"]
        .clone()
}

fn copy_sklearn() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sklearn-mlp");
    copy_dir(&root().join("models/sklearn-mlp"), &dir);
    (tmp, dir)
}

#[test]
fn the_skl2onnx_export_validates_with_label_and_probabilities_and_reproduces_sklearn_losses() {
    let m = model("sklearn-mlp/model.onnx");
    let y = model("sklearn-mlp/labels.npy");
    let r = run(
        &["validate", &m, "--labels", &y, "--format", "json"],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r.stdout);
    let case = &v["cases"][0];
    // 'label' is declared INT64 [?] and comes out [256, 13]: a warning, compared as produced.
    assert_eq!(
        case["warnings"],
        serde_json::json!([
            "output 'label' is declared INT64 [?] but tract produced INT64 [256, 13] (rank 2 \
             instead of 1); the produced tensor is what is compared"
        ])
    );
    assert!(case.get("left_out").is_none(), "{case}");
    let outputs = case["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0]["name"], "label");
    assert_eq!(outputs[0]["shape"], serde_json::json!([256, 13]));
    assert_eq!(outputs[0]["max_abs_err"], 0.0);
    assert_eq!(outputs[1]["name"], "probabilities");
    assert_eq!(outputs[1]["status"], "pass");
    // The losses are on the first float output, under its Sigmoid.
    let loss = &case["loss"];
    assert_eq!(loss["head"]["output"], "probabilities");
    assert_eq!(loss["head"]["kind"], "sigmoid");
    assert_eq!(loss["reduction"], "keras");
    let sk = sklearn_figures();
    // Keras's reduction of the probability form = the mean over labels of
    // sklearn.metrics.log_loss(y[:, j], predict_proba(x)[:, j]), from tract's outputs...
    let mean_log_loss = sk["mean_label_log_loss"].as_f64().unwrap();
    let probs = loss["probs_form"]["f32"].as_f64().unwrap();
    assert!(
        (probs - mean_log_loss).abs() < 1e-6,
        "{probs} vs {mean_log_loss}"
    );
    // ...and scikit-learn's reduction = its binary_log_loss (the data term of loss_curve_).
    let sklearn = &loss["sklearn_form"];
    assert_eq!(sklearn["reduction"], "sklearn");
    assert_eq!(sklearn["clip"].as_f64(), Some(f64::from(f32::EPSILON)));
    let binary_log_loss = sk["binary_log_loss"].as_f64().unwrap();
    for key in ["f32", "reference"] {
        let ours = sklearn[key].as_f64().unwrap();
        assert!(
            (ours - binary_log_loss).abs() < 1e-6,
            "{key}: {ours} vs {binary_log_loss}"
        );
    }
    // scikit-learn clipped its own probabilities where tract's bounded Sigmoid did not reach.
    assert_eq!(
        sklearn["reference_clipped"].as_u64(),
        sk["clipped"].as_u64()
    );
    // The gate on the sklearn figure fails when given a wrong value.
    let r = run(
        &[
            "validate",
            &m,
            "--labels",
            &y,
            "--expect-sklearn-loss",
            "0.7",
        ],
        &root(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("scikit-learn binary_log_loss 0.73649"),
        "{}",
        r.stdout
    );
    // The text report shows the warning and both reductions.
    let r = run(&["validate", &m, "--labels", &y], &root());
    assert_eq!(r.code, 0);
    for needle in [
        "warning: output 'label' is declared INT64 [?] but tract produced INT64 [256, 13]",
        "Keras reduction (mean over labels, then samples)",
        "scikit-learn binary_log_loss (sum over labels of the mean over samples, clip 1.192e-7)",
    ] {
        assert!(r.stdout.contains(needle), "{needle}: {}", r.stdout);
    }
}

#[test]
fn the_skl2onnx_export_validates_on_probabilities_alone() {
    let y = model("sklearn-mlp/labels.npy");
    // Reference data for 'probabilities' only: 'label' (and its Binarizer) is pruned away.
    let (_tmp, dir) = copy_sklearn();
    std::fs::remove_file(dir.join("test_data_set_0/output_0.pb")).unwrap();
    let m = dir.join("model.onnx");
    let r = run(
        &[
            "validate",
            m.to_str().unwrap(),
            "--labels",
            &y,
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let case = &json(&r.stdout)["cases"][0];
    assert_eq!(
        case["left_out"],
        serde_json::json!([{
            "output": "label",
            "reason": "no reference data for it in this test set"
        }])
    );
    assert_eq!(case["outputs"].as_array().unwrap().len(), 1);
    assert!(case.get("warnings").is_none(), "{case}");
    let probs = case["loss"]["probs_form"]["f32"].as_f64().unwrap();
    let want = sklearn_figures()["mean_label_log_loss"].as_f64().unwrap();
    assert!((probs - want).abs() < 1e-6, "{probs} vs {want}");
    // Without labels too.
    let r = run(&["validate", m.to_str().unwrap()], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("left out: output 'label': no reference data for it in this test set"),
        "{}",
        r.stdout
    );
    // --outputs picks the same from the full reference data.
    let full = model("sklearn-mlp/model.onnx");
    let r = run(
        &[
            "validate",
            &full,
            "--outputs",
            "probabilities",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let case = &json(&r.stdout)["cases"][0];
    assert_eq!(case["left_out"][0]["output"], "label");
    assert_eq!(
        case["left_out"][0]["reason"],
        "not among --outputs; its reference data is not compared"
    );
    // With labels, the loss output (the first float output, among --outputs when one is) is
    // computed too: here 'probabilities', for losses on 'label'-only checks.
    let r = run(
        &[
            "validate",
            &full,
            "--outputs",
            "label",
            "--labels",
            &y,
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let case = &json(&r.stdout)["cases"][0];
    assert_eq!(case["loss"]["head"]["output"], "probabilities");
    assert_eq!(case["outputs"][0]["name"], "label");
    assert!(case.get("left_out").is_none(), "{case}");
    // A name that is not an output is an error naming the outputs.
    expect_error(
        &["validate", &full, "--outputs", "proba"],
        &[
            "--outputs 'proba' is not a graph output",
            "label, probabilities",
        ],
    );
}

/// `x [N, 3] -> Relu -> y`, with `y` declared as `declared`, and a test set whose expected
/// output is `y_ref`.
fn relu_declared(dir: &Path, declared: &[onnx::Dim], y_ref: &ArrayD<f32>) {
    use onnx::pb::tensor_proto::DataType;
    use onnx::{GraphBuilder, ModelMeta};
    let set = dir.join("test_data_set_0");
    std::fs::create_dir_all(&set).unwrap();
    let mut b = GraphBuilder::new();
    b.input("x", DataType::Float, &["N".into(), 3.into()])
        .node("Relu", "relu", &["x"], &["y"], vec![])
        .output("y", DataType::Float, declared);
    write_model(dir.join("model.onnx"), &b.finish(ModelMeta::default())).unwrap();
    let x = ArrayD::from_shape_vec(vec![2, 3], vec![-1.0f32, 2.0, -3.0, 4.0, 0.5, -0.5]).unwrap();
    write_tensor_pb(set.join("input_0.pb"), &array_to_proto("x", &x).unwrap()).unwrap();
    write_tensor_pb(
        set.join("output_0.pb"),
        &array_to_proto("y", y_ref).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_wrongly_declared_output_rank_is_a_warning_and_the_produced_tensor_is_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let want = ArrayD::from_shape_vec(vec![2, 3], vec![0.0f32, 2.0, 0.0, 4.0, 0.5, 0.0]).unwrap();
    // Declared [N] (rank 1); Relu produces [2, 3], as the reference says.
    relu_declared(tmp.path(), &["N".into()], &want);
    let m = tmp.path().join("model.onnx");
    let r = run(
        &["validate", m.to_str().unwrap(), "--format", "json"],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let case = &json(&r.stdout)["cases"][0];
    assert_eq!(
        case["warnings"][0],
        "output 'y' is declared FLOAT [N] but tract produced FLOAT [2, 3] (rank 2 instead of 1); \
         the produced tensor is what is compared"
    );
    assert_eq!(case["outputs"][0]["status"], "pass");
    assert_eq!(case["outputs"][0]["mismatches"], 0);
    // A declared fixed dim that the output does not have: the same kind of warning.
    let tmp2 = tempfile::tempdir().unwrap();
    relu_declared(tmp2.path(), &["N".into(), 4.into()], &want);
    let m2 = tmp2.path().join("model.onnx");
    let r = run(&["validate", m2.to_str().unwrap()], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "warning: output 'y' is declared FLOAT [N, 4] but tract produced FLOAT [2, 3] \
             (axis 1 is 3, not 4)"
        ),
        "{}",
        r.stdout
    );
    // A reference shaped like the (wrong) declaration fails, naming both shapes.
    let flat = ArrayD::from_shape_vec(vec![6], want.iter().copied().collect()).unwrap();
    relu_declared(tmp.path(), &["N".into()], &flat);
    let r = run(&["validate", m.to_str().unwrap()], &root());
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "FAIL: output 'y': the model produced shape [2, 3], the reference (output_0.pb) has [6]"
        ),
        "{}",
        r.stdout
    );
    // Declared input shapes still bind.
    let x = ArrayD::from_shape_vec(vec![2, 2], vec![1.0f32; 4]).unwrap();
    write_tensor_pb(
        tmp.path().join("test_data_set_0/input_0.pb"),
        &array_to_proto("x", &x).unwrap(),
    )
    .unwrap();
    expect_error(
        &["validate", m.to_str().unwrap()],
        &["input_0.pb", "axis 1 is 2, not 3"],
    );
}

#[test]
fn an_unsupported_op_on_an_unused_branch_does_not_block_the_check() {
    use onnx::pb::tensor_proto::DataType;
    use onnx::{GraphBuilder, ModelMeta};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let set = dir.join("test_data_set_0");
    std::fs::create_dir_all(&set).unwrap();
    // x -> Relu -> y, and x -> com.example::Mystery -> z (no runtime has it).
    let mut b = GraphBuilder::new();
    b.input("x", DataType::Float, &["N".into(), 3.into()])
        .node("Relu", "relu", &["x"], &["y"], vec![])
        .node("Mystery", "mystery", &["x"], &["z"], vec![])
        .output("y", DataType::Float, &["N".into(), 3.into()])
        .output("z", DataType::Float, &["N".into(), 3.into()]);
    let mut proto = b.finish(ModelMeta::default());
    let graph = proto.graph.as_mut().unwrap();
    graph.node[1].domain = Some("com.example".into());
    proto.opset_import.push(onnx::pb::OperatorSetIdProto {
        domain: Some("com.example".into()),
        version: Some(1),
    });
    let m = dir.join("model.onnx");
    write_model(&m, &proto).unwrap();
    let x = ArrayD::from_shape_vec(vec![2, 3], vec![-1.0f32, 2.0, -3.0, 4.0, 0.5, -0.5]).unwrap();
    let y = x.mapv(|v| v.max(0.0));
    write_tensor_pb(set.join("input_0.pb"), &array_to_proto("x", &x).unwrap()).unwrap();
    write_tensor_pb(set.join("output_0.pb"), &array_to_proto("y", &y).unwrap()).unwrap();
    let m = m.to_str().unwrap();

    // Reference for 'y' only: the Mystery branch is pruned, 'z' is listed as left out.
    let r = run(&["validate", m], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("left out: output 'z': no reference data for it in this test set"),
        "{}",
        r.stdout
    );
    // Reference for both: tract cannot run the model, exit 2 naming the operator.
    write_tensor_pb(set.join("output_1.pb"), &array_to_proto("z", &y).unwrap()).unwrap();
    expect_error(&["validate", m], &["Unimplemented(Mystery)"]);
    // ...unless --outputs says which to check.
    let r = run(
        &["validate", m, "--outputs", "y", "--format", "json"],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let case = &json(&r.stdout)["cases"][0];
    assert_eq!(case["left_out"][0]["output"], "z");
    assert_eq!(case["outputs"].as_array().unwrap().len(), 1);

    // inspect names what tract cannot run, with its domain and node.
    let r = run(&["inspect", m, "--format", "json"], &root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["runtimes"][0]["runtime"], "tract");
    assert_eq!(
        v["runtimes"][0]["missing"],
        serde_json::json!([{"node": "mystery", "op": "com.example::Mystery"}])
    );
    let r = run(&["inspect", m], &root());
    assert!(
        r.stdout.contains("tract       cannot run 1 node(s):")
            && r.stdout.contains("com.example::Mystery  (node 'mystery')"),
        "{}",
        r.stdout
    );
}

#[test]
fn inspect_asks_tract_about_the_skl2onnx_export_and_survives_hostile_files() {
    // tract runs every node of the skl2onnx export (Binarizer included).
    let r = run(
        &[
            "inspect",
            &model("sklearn-mlp/model.onnx"),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["ops"]["ai.onnx.ml::Binarizer"], 1);
    assert_eq!(v["runtimes"][0]["missing"], serde_json::json!([]));
    // External data pointing outside the folder: inspect describes the file, tract is not
    // shown it.
    let (_tmp, dir) = copy_case("probs");
    externalize(&dir, "../outside.bin");
    let r = run(
        &[
            "inspect",
            dir.join("model.onnx").to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    let err = v["runtimes"][0]["error"].as_str().unwrap();
    assert!(
        err.starts_with("not asked: the file did not pass the safety checks")
            && err.contains("contains '..'"),
        "{err}"
    );
    assert!(v["runtimes"][0]["missing"].is_null());
}

/// A tf2onnx export "from the wild": one input, one output, and an `io.npz` whose keys
/// (`input`, `output`) are not the model's names (`main_input_input`, `Identity:0`).
fn foreign_names_case() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wild");
    copy_dir(&root().join("models/keras-mlp-sigmoid"), &dir);
    let path = dir.join("model.onnx");
    let mut m = read_model(&path).unwrap();
    let g = m.graph.as_mut().unwrap();
    let old = g.input[0].name().to_owned();
    g.input[0].name = Some("main_input_input".to_owned());
    for n in &mut g.node {
        for i in &mut n.input {
            if *i == old {
                *i = "main_input_input".to_owned();
            }
        }
    }
    write_model(&path, &m).unwrap();
    std::fs::remove_dir_all(dir.join("test_data_set_0")).ok();
    let set = root().join("models/keras-mlp-sigmoid/test_data_set_0");
    let x = read_f32(&set.join("input_0.pb"));
    let y = read_f32(&set.join("output_0.pb"));
    let npz = dir.join("io.npz");
    write_npz(&npz, &[("input", &x), ("output", &y)], false);
    (tmp, path, npz)
}

#[test]
fn a_one_input_model_with_foreign_npz_keys_validates_by_position() {
    let (_tmp, model, npz) = foreign_names_case();
    let (m, d) = (model.to_str().unwrap(), npz.to_str().unwrap());
    let r = run(&["validate", m, "--test-data", d], &root());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("input  'main_input_input' <- io.npz:input (by position) FLOAT [500, 784]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("output 'Identity:0' <- io.npz:output FLOAT [500, 10]"),
        "{}",
        r.stdout
    );
    let v = json(
        &run(
            &["validate", m, "--test-data", d, "--format", "json"],
            &root(),
        )
        .stdout,
    );
    assert_eq!(v["cases"][0]["inputs"][0]["matched_by"], "position");
    assert_eq!(v["cases"][0]["outputs"][0]["matched_by"], "position");
}

#[test]
fn map_flags_rename_file_tensors_and_bad_maps_name_both_sides() {
    let (_tmp, model, npz) = foreign_names_case();
    let (m, d) = (model.to_str().unwrap(), npz.to_str().unwrap());
    let r = run(
        &[
            "validate",
            m,
            "--test-data",
            d,
            "--map",
            "input=main_input_input",
            "--map",
            "output=Identity:0",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["cases"][0]["inputs"][0]["matched_by"], "name");
    assert_eq!(v["cases"][0]["outputs"][0]["matched_by"], "name");
    expect_error(
        &[
            "validate",
            m,
            "--test-data",
            d,
            "--map",
            "typo=main_input_input",
        ],
        &[
            d,
            "--map typo=main_input_input: no file in this test set holds a tensor named 'typo' (it holds 'input', 'output')",
        ],
    );
    expect_error(
        &["validate", m, "--test-data", d, "--map", "input=x"],
        &[
            d,
            "the model has no input or output 'x' (inputs: 'main_input_input'; outputs: 'Identity:0')",
        ],
    );
    expect_error(
        &["validate", m, "--map", "nothing"],
        &["expected FILE_NAME=MODEL_NAME"],
    );
    // A third tensor has nowhere to go: an error listing what is left and the model's names.
    let (_t, model2, npz2) = foreign_names_case();
    let set = root().join("models/keras-mlp-sigmoid/test_data_set_0");
    let x = read_f32(&set.join("input_0.pb"));
    let y = read_f32(&set.join("output_0.pb"));
    write_npz(
        &npz2,
        &[("input", &x), ("output", &y), ("extra", &y)],
        false,
    );
    expect_error(
        &[
            "validate",
            model2.to_str().unwrap(),
            "--test-data",
            npz2.to_str().unwrap(),
        ],
        &[
            "'extra' matches no model input ('main_input_input') or output ('Identity:0') by name",
            "no free single input or output fits it by position",
            "--map FILE_NAME=MODEL_NAME",
        ],
    );
}

#[test]
fn a_stale_expected_divergence_fails_the_gate() {
    // The saturated model's tract divergence recorded for onnxruntime instead: tract now fails
    // the loss verdict (nothing excuses it), and under onnxruntime the entry is stale.
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    copy_dir(
        &root().join("models/keras-mlp-saturated"),
        &models.join("keras-mlp-saturated"),
    );
    let manifest = std::fs::read_to_string(root().join("models/parity.toml")).unwrap();
    let start = manifest
        .find("[[model]]\npath = \"keras-mlp-saturated")
        .unwrap();
    let entry = &manifest[start..];
    let end = entry[9..]
        .find("[[model]]\n")
        .map_or(entry.len(), |i| i + 9);
    let entry = entry[..end].replace("runtime = \"tract\"", "runtime = \"onnxruntime\"");
    let path = models.join("parity.toml");
    std::fs::write(&path, &entry).unwrap();
    let r = run(&["validate", "--manifest", path.to_str().unwrap()], &root());
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("FAIL: probs-form loss 0.184751666 differs"),
        "{}",
        r.stdout
    );
    if common::onnxruntime() {
        let r = run(
            &[
                "validate",
                "--manifest",
                path.to_str().unwrap(),
                "--runtime",
                "onnxruntime",
            ],
            &root(),
        );
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("the manifest expects the probs-form loss to diverge under onnxruntime")
                && r.stdout.contains("remove that expect_divergence entry"),
            "{}",
            r.stdout
        );
    }
    // An entry that does not say why is refused when the manifest is read.
    let unexplained = entry.replace(&entry[entry.find("why = ").unwrap()..], "why = \"  \"\n");
    std::fs::write(&path, unexplained).unwrap();
    expect_error(
        &["validate", "--manifest", path.to_str().unwrap()],
        &["parity.toml", "must say why"],
    );
}
