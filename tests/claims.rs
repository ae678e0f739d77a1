//! README's headline claims, each held by a test that fails when the claim stops holding.
//!
//! - "The exports hold the trained weights bit for bit": every initializer of the committed
//!   exports (`models/mnist-mlp`, `models/synthetic-cnn`, both heads) has the bits of the
//!   trained weights in `weights.npz`, read with ndarray-npy (not the crate's reader).
//! - The first step's loss of a run started from saved weights is the loss of those weights on
//!   the first batch: recomputed bit for bit through the training graph, and independently in
//!   f64 from the `.npz` and the IDX files.

mod common;

use common::{root, run};
use ndarray::{Array2, ArrayD, Ix2};
use onnx_parity::loss::Formulation;
use onnx_parity::model::{MlpWeights, ModelWeights};
use onnx_parity::onnx::{TensorLimits, array_from_proto, read_model};
use std::path::Path;

/// The npz's arrays by name (without `.npy`), read with ndarray-npy.
fn npz_arrays(path: &Path) -> Vec<(String, ArrayD<f32>)> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let names = npz.names().unwrap();
    names
        .into_iter()
        .map(|n| {
            let a: ArrayD<f32> = npz.by_name(&n).unwrap();
            (n.trim_end_matches(".npy").to_string(), a)
        })
        .collect()
}

fn bits(a: &ArrayD<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn committed_exports_hold_the_trained_weights_bit_for_bit() {
    let mut checked = 0;
    for case in [
        "mnist-mlp/logits",
        "mnist-mlp/probs",
        "synthetic-cnn/logits",
        "synthetic-cnn/probs",
    ] {
        let dir = root().join("models").join(case);
        let trained = npz_arrays(&dir.join("weights.npz"));
        let model = read_model(dir.join("model.onnx")).unwrap();
        let inits = &model.graph.as_ref().unwrap().initializer;
        assert!(!trained.is_empty(), "{case}: empty weights.npz");
        for (name, want) in &trained {
            let init = inits
                .iter()
                .find(|t| t.name() == name)
                .unwrap_or_else(|| panic!("{case}: no initializer {name}"));
            let got = array_from_proto(init, TensorLimits::default()).unwrap();
            // The export may lay a kernel out differently (a CNN's kernel for NCHW); the bits
            // must be the same multiset in any case, and the same sequence when the shape is.
            if got.shape() == want.shape() {
                assert_eq!(bits(&got), bits(want), "{case}: {name} differs");
            } else {
                let (mut g, mut w) = (bits(&got), bits(want));
                g.sort_unstable();
                w.sort_unstable();
                assert_eq!(g, w, "{case}: {name} holds other values");
            }
            checked += 1;
        }
    }
    // MLP: two kernels and two biases per export; CNN: conv and dense, kernel and bias each.
    assert_eq!(checked, 16);
}

/// Reads an `.npz` of a 784-h-k MLP into `(kernel, bias)` pairs in f64.
fn mlp_f64(path: &Path) -> Vec<(Array2<f64>, Vec<f64>)> {
    let arrays = npz_arrays(path);
    let get = |n: &str| {
        arrays
            .iter()
            .find(|(name, _)| name == n)
            .unwrap_or_else(|| panic!("{n} in {}", path.display()))
            .1
            .clone()
    };
    ["dense", "dense_1"]
        .iter()
        .map(|layer| {
            let k = get(&format!("{layer}/kernel"))
                .into_dimensionality::<Ix2>()
                .unwrap()
                .mapv(f64::from);
            let b = get(&format!("{layer}/bias"))
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            (k, b)
        })
        .collect()
}

#[test]
fn first_step_loss_is_the_loss_of_the_saved_initial_weights() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // The data as IDX files, so the test reads exactly the pixels training reads.
    let r = run(
        &["data", "--out", &p("data"), "--samples", "700"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Saved initial weights (not the default seed's), and a first batch in a scrambled order.
    let init = MlpWeights::glorot_uniform(&[784, 16, 10], 77);
    std::fs::write(
        p("init.npz"),
        onnx_parity::model::npz::weights_npz_bytes(&init.clone().into()),
    )
    .unwrap();
    let batch: Vec<i64> = (0..50).map(|i| (i * 37 + 11) % 600).collect();
    common::write_npy(
        &dir.path().join("idx.npy"),
        &ndarray::Array1::from(batch.clone()),
    );
    let r = run(
        &[
            "train",
            "--data",
            &p("data"),
            "--train",
            "600",
            "--eval",
            "100",
            "--init",
            &p("init.npz"),
            "--indices",
            &p("idx.npy"),
            "--batch",
            "50",
            "--steps",
            "1",
            "--log-json",
            &p("log.json"),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("log.json")).unwrap()).unwrap();
    let logged = |form: &str| log["steps"][0][form]["loss"].as_f64().unwrap();

    let data = onnx_parity::dataset::mnist::load_mnist_dir(&dir.path().join("data")).unwrap();
    let rows: Vec<usize> = batch.iter().map(|&i| i as usize).collect();
    let first = data.select(&rows);
    let (x, y) = (first.images.clone(), first.targets());

    // 1. Bit for bit through the training graph, from the saved file as training reads it.
    let saved = onnx_parity::model::npz::read_weights(&dir.path().join("init.npz")).unwrap();
    let dev = onnx_parity::model::burn_mlp::cpu();
    for (form, name) in [
        (Formulation::Logits, "logits"),
        (Formulation::Probs, "probs"),
    ] {
        let step =
            onnx_parity::model::graph::loss_and_grads(&saved, x.view(), y.view(), form, &dev);
        assert_eq!(
            logged(name).to_bits(),
            f64::from(step.loss).to_bits(),
            "{name}: logged first-step loss is not the loss of the saved weights"
        );
    }
    assert!(matches!(saved, ModelWeights::Mlp(_)));

    // 2. Independently, in f64 from the .npz (ndarray-npy) and the IDX pixels.
    let layers = mlp_f64(&dir.path().join("init.npz"));
    let mut h = x.mapv(f64::from);
    for (i, (k, b)) in layers.iter().enumerate() {
        h = h.dot(k) + &ndarray::Array1::from(b.clone());
        if i + 1 < layers.len() {
            h.mapv_inplace(|v| v.max(0.0));
        }
    }
    let y = y.mapv(f64::from);
    let n = h.len() as f64;
    let logits_form: f64 = h
        .iter()
        .zip(y.iter())
        .map(|(&z, &t)| z.max(0.0) - z * t + (-z.abs()).exp().ln_1p())
        .sum::<f64>()
        / n;
    let eps = 1e-7f64;
    let probs_form: f64 = h
        .iter()
        .zip(y.iter())
        .map(|(&z, &t)| {
            let p = (1.0 / (1.0 + (-z).exp())).clamp(eps, 1.0 - eps);
            -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / n;
    // burn computes in f32: about 1e-7 relative on a loss near 0.7 (measured: see the report).
    for (name, want) in [("logits", logits_form), ("probs", probs_form)] {
        let got = logged(name);
        assert!(
            (got - want).abs() <= 1e-6 * want,
            "{name}: logged {got}, f64 from the saved weights {want}"
        );
    }
}
