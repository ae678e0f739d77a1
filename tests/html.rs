//! The HTML reports through the real binary: every kind of report from a real run, each page
//! well formed (every element closed, in order) and self-contained (no script, no stylesheet or
//! image fetched, no `src`/`href` leaving the page), and the JSON of a run unchanged by asking
//! for a page. `scripts/check_html.py` then opens such pages in Chromium (see `.ci/run`).

mod common;

use std::path::Path;

use common::{relu_case, root, run};

/// Elements that have no closing tag in HTML.
const VOID: &[&str] = &["meta", "br", "hr", "img", "input", "link", "col", "wbr"];

/// Checks that `html` is one well-formed, self-contained document; returns its text for more
/// checks. Panics naming the file and the problem.
fn check_page(path: &Path) -> String {
    let html =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let name = path.display();
    assert!(html.starts_with("<!DOCTYPE html>"), "{name}: no doctype");
    assert!(html.contains("<title>"), "{name}: no title");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let close = rest
            .find('>')
            .unwrap_or_else(|| panic!("{name}: a '<' is never closed"));
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let lower = tag.to_ascii_lowercase();
        for bad in ["script", "iframe", "object", "embed", "link"] {
            assert!(
                !lower.starts_with(bad) && !lower.starts_with(&format!("/{bad}")),
                "{name}: <{tag}> has no place in a self-contained report"
            );
        }
        for attr in ["src=", "href=", "xlink:href="] {
            if let Some(at) = lower.find(attr) {
                let value = lower[at + attr.len()..].trim_start_matches(['"', '\'']);
                assert!(
                    value.starts_with('#'),
                    "{name}: <{tag}> refers outside the page"
                );
            }
        }
        if let Some(end) = tag.strip_prefix('/') {
            let top = stack.pop();
            assert_eq!(
                top.as_deref(),
                Some(end.trim()),
                "{name}: </{end}> closes <{top:?}>"
            );
            continue;
        }
        let element: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        if tag.ends_with('/') || VOID.contains(&element.as_str()) {
            continue;
        }
        if element == "style" {
            // CSS is text: skip to its end, and keep it from fetching anything.
            let end = rest.find("</style>").expect("style closed");
            let css = &rest[..end];
            assert!(
                !css.contains("url(") && !css.contains("@import"),
                "{name}: the stylesheet fetches something"
            );
            rest = &rest[end + "</style>".len()..];
            continue;
        }
        stack.push(element);
    }
    assert!(stack.is_empty(), "{name}: never closed: {stack:?}");
    html
}

/// Runs the binary in `dir`; panics with its output unless it exits with `code`.
fn ok(args: &[&str], dir: &Path, code: i32) -> String {
    let r = run(args, dir);
    assert_eq!(
        r.code, code,
        "{args:?}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const SMALL: &[&str] = &[
    "--train", "600", "--eval", "200", "--steps", "12", "--hidden", "16",
];

#[test]
fn demo_and_train_pages_show_both_formulations_and_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("demo.html");
    let mut args = vec!["demo", "--html", s(&page)];
    args.extend(SMALL);
    let stdout = ok(&args, dir.path(), 0);
    assert!(stdout.contains("verdict: PASS"), "text still on stdout");
    let html = check_page(&page);
    for needle in [
        "Training loss per step, both formulations",
        "logits form (rust)",
        "probability form (rust)",
        "Held-out loss per epoch",
        "Elements clipped by the probability form",
        "Export round trip",
        "pixels sha256",
        "<svg",
    ] {
        assert!(html.contains(needle), "demo page lacks {needle:?}");
    }

    // `--format html` puts the page on stdout.
    let mut args = vec!["train", "--format", "html"];
    args.extend(SMALL);
    let stdout = ok(&args, dir.path(), 0);
    let page = dir.path().join("train.html");
    std::fs::write(&page, &stdout).unwrap();
    let html = check_page(&page);
    assert!(html.contains("onnx-parity train"));
    assert!(!html.contains("Export round trip"));
}

#[test]
fn a_tensorflow_reference_is_drawn_beside_its_replay() {
    // The replay of models/tf-reference/sgd that tests/tf_parity.rs checks number by number.
    let reference = root().join("models/tf-reference/sgd");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(
        &[
            "data",
            "--out",
            s(&data),
            "--samples",
            "1200",
            "--seed",
            "42",
        ],
        dir.path(),
        0,
    );
    let page = dir.path().join("train.html");
    let (init, indices, json) = (
        reference.join("init.npz"),
        reference.join("indices.npy"),
        reference.join("reference.json"),
    );
    let replay = [
        "train",
        "--data",
        s(&data),
        "--train",
        "1000",
        "--eval",
        "200",
        "--init",
        s(&init),
        "--indices",
        s(&indices),
        "--steps",
        "20",
        "--batch",
        "50",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--tf-reference",
        s(&json),
    ];
    let mut args = replay.to_vec();
    args.extend(["--html", s(&page)]);
    ok(&args, dir.path(), 0);
    let html = check_page(&page);
    assert!(html.contains("logits form (TensorFlow)"));
    assert!(html.contains("|rust − TensorFlow| training loss per step"));
    // Same pixels, same initial weights, same step count: no warning.
    assert!(!html.contains("class=\"warn\""), "unexpected warning");

    // The same reference beside a run of other data is drawn, with a warning saying so.
    let mut other = vec!["train", "--tf-reference", s(&json), "--format", "html"];
    other.extend(SMALL);
    let stdout = ok(&other, dir.path(), 0);
    assert!(stdout.contains("trained on other pixels"), "no warning");

    // Without an HTML page the flag has nothing to draw on: a usage error before training.
    let r = run(&["train", "--tf-reference", s(&json)], dir.path());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--tf-reference"), "{}", r.stderr);
    // Not a reference log: exit 2 naming the file.
    let r = run(
        &["train", "--tf-reference", s(&init), "--format", "html"],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("init.npz"), "{}", r.stderr);
}

#[test]
fn validate_pages_draw_error_histograms_and_keep_the_json_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("models/keras-mlp-saturated/model.onnx");
    let labels = root().join("models/keras-mlp-saturated/labels.npy");
    let page = dir.path().join("validate.html");
    let base = ["validate", s(&model), "--labels", s(&labels)];
    let mut args = base.to_vec();
    args.extend(["--html", s(&page), "--suggest-tolerance"]);
    // tract's Sigmoid never reaches the clip that TensorFlow's outputs hit 4930 times: the
    // probability-form loss verdict fails, and the page says why.
    ok(&args, dir.path(), 1);
    let html = check_page(&page);
    for needle in [
        "Absolute error of &#39;Identity:0&#39;",
        "ULP distance of &#39;Identity:0&#39;",
        "atol 1e-5",
        "worst elements by absolute error",
        "Sigmoid binary cross-entropy, both formulations",
        "decisions flipped",
        // The loss verdict of every form, scikit-learn's included, and the advice.
        "loss verdict",
        "scikit-learn binary_log_loss",
        "sum over labels of the mean over samples",
        "clipped by scikit-learn",
        "Suggested tolerance",
        "without the worst 0.1%",
        "Noise floor (",
        "<strong>Clipping:</strong> the reference clipped 4930 element(s)",
    ] {
        assert!(html.contains(needle), "validate page lacks {needle:?}");
    }
    // The JSON of a run made without a page carries no histogram: as before this feature.
    let mut json = base.to_vec();
    json.extend(["--format", "json"]);
    let plain = ok(&json, dir.path(), 1);
    assert!(!plain.contains("distribution"), "{plain}");

    // The gate with its progress plumbing, and a page per case.
    let gate = dir.path().join("gate.html");
    ok(
        &[
            "validate",
            "--manifest",
            s(&root().join("models/parity.toml")),
            "--html",
            s(&gate),
        ],
        dir.path(),
        0,
    );
    let html = check_page(&gate);
    assert!(html.contains("models/keras-cnn/model.onnx"));
    assert!(html.matches("Absolute error of").count() >= 7);
    // The manifest's expected divergences, with their reasons, and the scikit-learn export's
    // declared-vs-produced warning.
    assert!(html.contains(">EXPECTED DIVERGENCE<"));
    assert!(html.contains("<strong>Expected divergence (sklearn form):</strong>"));
    assert!(html.contains("<strong>Warning:</strong> output &#39;label&#39;"));

    // An output left out by --outputs is named with its reason.
    let sk = root().join("models/sklearn-mlp");
    let left = dir.path().join("left.html");
    ok(
        &[
            "validate",
            s(&sk.join("model.onnx")),
            "--labels",
            s(&sk.join("labels.npy")),
            "--outputs",
            "probabilities",
            "--html",
            s(&left),
        ],
        dir.path(),
        0,
    );
    let html = check_page(&left);
    assert!(html.contains("output left out"));
    assert!(html.contains("<td><code>label</code></td><td>not among --outputs"));

    // An --html path in a missing folder is refused before anything runs.
    let r = run(
        &["validate", s(&model), "--html", "no/such/dir/x.html"],
        dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--html"), "{}", r.stderr);
}

#[test]
fn a_planted_divergence_is_marked_on_the_layer_chart() {
    use onnx_parity::onnx::{self, pb::ModelProto};
    use prost::Message;

    let ours = root().join("models/mnist-mlp/probs/model.onnx");
    let bytes = std::fs::read(&ours).unwrap();
    let mut m = ModelProto::decode(&bytes[..]).unwrap();
    let bias = m
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.name() == "dense_1/bias")
        .unwrap();
    let mut raw = bias.raw_data.as_deref().unwrap().to_vec();
    let v = f32::from_le_bytes(raw[12..16].try_into().unwrap()) + 1e-3;
    raw[12..16].copy_from_slice(&v.to_le_bytes());
    bias.raw_data = Some(raw.into());
    let dir = tempfile::tempdir().unwrap();
    let nudged = dir.path().join("nudged.onnx");
    onnx::write_model(&nudged, &m).unwrap();
    let page = dir.path().join("compare.html");
    let set = root().join("models/mnist-mlp/probs/test_data_set_0");
    ok(
        &[
            "compare",
            s(&nudged),
            s(&ours),
            "--test-data",
            s(&set),
            "--layers",
            "--html",
            s(&page),
        ],
        dir.path(),
        1,
    );
    let html = check_page(&page);
    assert!(html.contains("Error per layer: accumulated, local, rounding bound"));
    assert!(html.contains("first divergence: layer 2 (Dense)"));
    assert!(html.contains("<strong>First divergence:</strong> layer 2"));
    // The nudged bias is the layer's own doing: its local error is beyond rounding.
    assert!(html.contains("<strong>First cause:</strong> layer 2 (Dense)"));
    assert!(html.contains("first cause: layer 2 (Dense)"));
    assert!(html.contains("Local error: each layer of A run alone"));
    assert!(html.contains(">BEYOND<"));
    assert!(html.contains("optimized vs decluttered"));

    // reduce cuts it down to that layer and writes the case.
    let page = dir.path().join("reduce.html");
    let case = dir.path().join("case");
    ok(
        &[
            "reduce",
            s(&nudged),
            "--against",
            s(&ours),
            "--test-data",
            s(&set),
            "--out",
            s(&case),
            "--html",
            s(&page),
        ],
        dir.path(),
        1,
    );
    let html = check_page(&page);
    assert!(html.contains("First diverging layer"));
    assert!(html.contains("A's cut (must fail)"));
    assert!(html.contains("<pre>onnx-parity validate "));
}

#[test]
fn matrix_conformance_inspect_and_bench_pages() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("matrix.html");
    let models = root().join("models");
    ok(
        &[
            "matrix",
            "--model",
            "seed",
            "--models",
            s(&models),
            "--html",
            s(&matrix),
        ],
        dir.path(),
        0,
    );
    let html = check_page(&matrix);
    assert!(html.contains("Max absolute difference of the outputs, seed"));
    assert!(html.contains("[2] burn (trained)"));

    // Any ONNX file with labels: every column's losses and loss verdict.
    let mlp = root().join("models/mnist-mlp");
    let page = dir.path().join("matrix-model.html");
    ok(
        &[
            "matrix",
            s(&mlp.join("probs/model.onnx")),
            "--labels",
            s(&mlp.join("labels.npy")),
            "--html",
            s(&page),
        ],
        dir.path(),
        0,
    );
    let html = check_page(&page);
    assert!(html.contains("<h3>Losses</h3>"));
    assert!(html.contains("decisions flipped"));
    assert!(html.contains("runtime columns within the loss tolerance"));

    let suite = dir.path().join("suite");
    relu_case(&suite.join("test_relu"), &[0.0, 2.0, 0.0, 4.0, 0.5, 0.0]);
    relu_case(
        &suite.join("test_relu_wrong"),
        &[1.0, 2.0, 0.0, 4.0, 0.5, 0.0],
    );
    let conformance = dir.path().join("conformance.html");
    ok(
        &["conformance", s(&suite), "--html", s(&conformance)],
        dir.path(),
        0,
    );
    let html = check_page(&conformance);
    assert!(html.contains("Outcome per operator (1 operators)"));
    assert!(html.contains("unsupported (tract cannot load or run it)"));
    assert!(html.contains("test_relu_wrong"));
    assert!(html.contains(">Relu</text>") || html.contains(">Relu<"));

    let stdout = ok(
        &[
            "inspect",
            s(&root().join("models/mnist-mlp/logits/model.onnx")),
            "--format",
            "html",
        ],
        dir.path(),
        0,
    );
    let page = dir.path().join("inspect.html");
    std::fs::write(&page, &stdout).unwrap();
    let html = check_page(&page);
    assert!(html.contains("Gemm"));
    assert!(html.contains("<strong>tract</strong> has an operator for every node."));

    let stdout = ok(
        &[
            "bench", "--only", "roof", "--repeat", "1", "--warmup", "0", "--format", "html",
        ],
        &root(),
        0,
    );
    let page = dir.path().join("bench.html");
    std::fs::write(&page, &stdout).unwrap();
    assert!(check_page(&page).contains("roof.gemm"));
}
