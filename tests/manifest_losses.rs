//! Every expected loss in `models/parity.toml`, recomputed from the manifest's side: the
//! committed reference outputs and labels, read here and reduced with formulas written here
//! (not `onnx_parity::loss`).
//!
//! For each entry and each expected form:
//! - where the value came from is checked exactly: the crate's own exports expect the loss of
//!   their reference outputs with element losses in f32 and sums in f64 (recomputed here; it
//!   must agree to 1e-12 relative, so a value of the other formulation, 1.4e-9 to 1.6e-9 away,
//!   fails); the Keras and scikit-learn exports expect the number their framework recorded
//!   (`keras.json`, `sklearn.json`); the Keras re-exports of this crate's weights expect the
//!   trained graph's number.
//! - the value is recomputed in f64 throughout from the reference outputs and must be within
//!   the bounds documented at `F64_BOUND_REL` and `F64_BOUND_REL_REEXPORT`.

use ndarray::ArrayD;
use onnx_parity::onnx::{TensorLimits, array_from_proto, read_tensor_pb};
use std::path::{Path, PathBuf};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// How far (relative) the f64 recomputation may be from an expected value computed from the
/// same reference outputs: the f32 arithmetic of the element losses and, for the framework
/// numbers, their float32 reductions. Measured: at most 2.9e-8 (keras-cnn's probability form;
/// `cargo test --test manifest_losses -- --nocapture` prints each entry's figure).
const F64_BOUND_REL: f64 = 1e-7;

/// The same for the Keras re-exports of this crate's weights, whose expected value is the
/// trained graph's loss while their reference outputs are TensorFlow's: the two sides' sums run
/// in different orders. Measured: 1.8e-8 (MLP) and 1.1e-7 (CNN, 1352-term dense sums).
const F64_BOUND_REL_REEXPORT: f64 = 5e-7;

/// The first FLOAT output of the entry's reference set (scikit-learn's output 0 is int64).
fn reference(model: &Path) -> ArrayD<f32> {
    let set = model.parent().unwrap().join("test_data_set_0");
    (0..4)
        .map(|i| set.join(format!("output_{i}.pb")))
        .filter(|p| p.is_file())
        .find_map(|p| array_from_proto(&read_tensor_pb(&p).unwrap(), TensorLimits::default()).ok())
        .unwrap_or_else(|| panic!("no float reference output in {}", set.display()))
}

fn labels(path: &Path) -> ArrayD<f32> {
    ndarray_npy::read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Clone, Copy)]
enum Reduce {
    /// Keras: mean over the labels, then over the samples.
    Keras,
    /// scikit-learn's binary_log_loss: mean over the samples, summed over the labels.
    Sklearn,
}

fn reduce(elems: &[f64], cols: usize, how: Reduce) -> f64 {
    let rows = elems.len() / cols;
    match how {
        Reduce::Keras => {
            elems
                .chunks(cols)
                .map(|r| r.iter().sum::<f64>() / cols as f64)
                .sum::<f64>()
                / rows as f64
        }
        Reduce::Sklearn => (0..cols)
            .map(|j| (0..rows).map(|i| elems[i * cols + j]).sum::<f64>() / rows as f64)
            .sum(),
    }
}

/// Element losses of one form, in f32 (`f32 == true`, what the manifest gates) or f64.
fn elements(
    form: &str,
    out: &ArrayD<f32>,
    is_logits: bool,
    y: &ArrayD<f32>,
    f32_: bool,
) -> Vec<f64> {
    out.iter()
        .zip(y.iter())
        .map(|(&o, &t)| match (form, is_logits, f32_) {
            ("logits_form", true, true) => f64::from(o.max(0.0) - o * t + (-o.abs()).exp().ln_1p()),
            ("logits_form", true, false) => {
                let (z, t) = (f64::from(o), f64::from(t));
                z.max(0.0) - z * t + (-z.abs()).exp().ln_1p()
            }
            ("probs_form" | "sklearn_form", _, true) => {
                let p = if is_logits {
                    if o >= 0.0 {
                        1.0 / (1.0 + (-o).exp())
                    } else {
                        o.exp() / (1.0 + o.exp())
                    }
                } else {
                    o
                };
                let eps = if form == "sklearn_form" {
                    f32::EPSILON
                } else {
                    1e-7
                };
                let p = p.clamp(eps, 1.0 - eps);
                f64::from(-(t * p.ln() + (1.0 - t) * (1.0 - p).ln()))
            }
            ("probs_form" | "sklearn_form", _, false) => {
                let (o, t) = (f64::from(o), f64::from(t));
                let p = if is_logits {
                    1.0 / (1.0 + (-o).exp())
                } else {
                    o
                };
                let eps = if form == "sklearn_form" {
                    f64::from(f32::EPSILON)
                } else {
                    f64::from(1e-7f32)
                };
                let p = p.clamp(eps, 1.0 - eps);
                -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
            }
            _ => panic!("{form}: no logits in a probability reference"),
        })
        .collect()
}

fn json_number(path: &Path, section: &str, key: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v[section][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{}: no {section}.{key}", path.display()))
}

#[test]
fn every_manifest_loss_is_recomputed_from_the_reference_side() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(models().join("parity.toml")).unwrap()).unwrap();
    let entries = manifest["model"].as_array().unwrap();
    // The crate's sigmoid exports' expected probability-form losses, by labels file: what the
    // Keras re-exports of the same weights must expect.
    let mut trained_probs = std::collections::BTreeMap::new();
    let (mut exact, mut recomputed, mut framework) = (0, 0, 0);
    let mut worst_f64 = 0.0f64;
    for e in entries {
        let Some(expect) = e.get("expect_loss") else {
            continue;
        };
        let path = e["path"].as_str().unwrap();
        let model = models().join(path);
        let folder = path.split('/').next().unwrap();
        let out = reference(&model);
        let y = labels(&models().join(e["labels"].as_str().unwrap()));
        assert_eq!(out.shape(), y.shape(), "{path}");
        let cols = *y.shape().last().unwrap();
        let is_logits = out.iter().any(|&v| !(0.0..=1.0).contains(&v));
        let keras = models().join(folder).join("keras.json");
        let sklearn = models().join(folder).join("sklearn.json");
        for form in ["logits_form", "probs_form", "sklearn_form"] {
            let Some(want) = expect.get(form).and_then(toml::Value::as_float) else {
                continue;
            };
            let how = if form == "sklearn_form" {
                Reduce::Sklearn
            } else {
                Reduce::Keras
            };
            // Where the number came from, exactly.
            if keras.is_file() {
                let key = if form == "logits_form" {
                    "logits_form_loss"
                } else {
                    "bce_on_predictions"
                };
                assert_eq!(want, json_number(&keras, "keras", key), "{path} {form}");
                framework += 1;
            } else if sklearn.is_file() {
                let key = if form == "sklearn_form" {
                    "binary_log_loss"
                } else {
                    "mean_label_log_loss"
                };
                assert_eq!(want, json_number(&sklearn, "sklearn", key), "{path} {form}");
                framework += 1;
            } else if folder.starts_with("keras-from-rust-") {
                let trained = trained_probs
                    .get(e["labels"].as_str().unwrap())
                    .unwrap_or_else(|| {
                        panic!("{path}: no trained sigmoid export listed before it")
                    });
                assert_eq!(want, *trained, "{path}: not the trained graph's {form}");
                exact += 1;
            } else {
                let ours = reduce(&elements(form, &out, is_logits, &y, true), cols, how);
                assert!(
                    (ours - want).abs() <= 1e-12 * want,
                    "{path} {form}: manifest {want}, f32 elements of the reference {ours}"
                );
                if form == "probs_form" && !is_logits {
                    trained_probs.insert(e["labels"].as_str().unwrap().to_string(), want);
                }
                exact += 1;
            }
            // Independently in f64, where the reference holds the tensor the form needs (a
            // sigmoid export's reference has no logits).
            if form == "logits_form" && !is_logits {
                continue;
            }
            let f64_ = reduce(&elements(form, &out, is_logits, &y, false), cols, how);
            let rel = (f64_ - want).abs() / want;
            eprintln!("{path} {form}: manifest {want:.12} f64 {f64_:.12} rel {rel:.2e}");
            worst_f64 = worst_f64.max(rel);
            let bound = if folder.starts_with("keras-from-rust-") {
                F64_BOUND_REL_REEXPORT
            } else {
                F64_BOUND_REL
            };
            assert!(
                rel <= bound,
                "{path} {form}: manifest {want}, f64 recomputation {f64_} (rel {rel:.2e} > {bound:.0e})"
            );
            recomputed += 1;
        }
    }
    eprintln!(
        "{exact} exact, {framework} framework numbers, {recomputed} recomputed in f64 (worst rel {worst_f64:.2e})"
    );
    // 11 entries expect 17 losses (models/parity.toml); the three logits forms of sigmoid
    // exports have no logits in their reference to recompute from.
    assert_eq!(exact + framework, 17);
    assert_eq!(recomputed, 14);
}
