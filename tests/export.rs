//! Export -> reload parity through the public API.

use ndarray::Array2;
use onnx_parity::loss::{Formulation, Head};
use onnx_parity::metrics::Preset;
use onnx_parity::model::export::{export_cnn, export_mlp, export_model};
use onnx_parity::model::{CnnWeights, MlpWeights, ModelWeights};
use onnx_parity::onnx;
use onnx_parity::pipeline::check_export;
use onnx_parity::rng::Rng;

fn inputs(n: usize, features: usize, seed: u64) -> Array2<f32> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_simple_fn((n, features), || rng.uniform_f32(0.0, 1.0))
}

fn targets(n: usize, classes: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, classes), |(i, j)| f32::from(u8::from(i % classes == j)))
}

#[test]
fn export_is_deterministic_and_self_describing() {
    let w = MlpWeights::glorot_uniform(&[784, 16, 10], 3);
    let meta = vec![("k".to_string(), "v".to_string())];
    let a = export_mlp(&w, Head::Sigmoid, meta.clone()).unwrap();
    assert_eq!(a, export_mlp(&w, Head::Sigmoid, meta).unwrap());
    let model = onnx::decode_model(&a, "memory").unwrap();
    assert_eq!(model.ir_version(), 8);
    assert_eq!(model.opset_import[0].version(), 17);
    assert_eq!(model.producer_name(), "onnx-parity");
    assert_eq!(model.metadata_props[0].key(), "k");
    let g = model.graph.unwrap();
    let ops: Vec<_> = g.node.iter().map(|n| (n.name(), n.op_type())).collect();
    assert_eq!(
        ops,
        [
            ("dense/Gemm", "Gemm"),
            ("dense/Relu", "Relu"),
            ("dense_1/Gemm", "Gemm"),
            ("head/Sigmoid", "Sigmoid")
        ]
    );
    let inits: Vec<_> = g.initializer.iter().map(|t| t.name()).collect();
    assert_eq!(
        inits,
        [
            "dense/kernel",
            "dense/bias",
            "dense_1/kernel",
            "dense_1/bias"
        ]
    );
    // Symbolic batch on input and output.
    let batch = |v: &onnx::pb::ValueInfoProto| {
        let t = v.r#type.as_ref().unwrap();
        let Some(onnx::pb::type_proto::Value::TensorType(tt)) = &t.value else {
            panic!("tensor type")
        };
        tt.shape.as_ref().unwrap().dim[0].clone()
    };
    for v in [&g.input[0], &g.output[0]] {
        assert_eq!(
            batch(v).value,
            Some(onnx::pb::tensor_shape_proto::dimension::Value::DimParam(
                "N".to_string()
            ))
        );
    }
    assert_eq!(g.output[0].name(), "probabilities");
}

#[test]
fn export_reloads_in_tract_with_parity_for_any_batch_size() {
    let w = MlpWeights::glorot_uniform(&[784, 24, 10], 9);
    for form in Formulation::BOTH {
        let bytes = export_mlp(&w, Head::for_formulation(form), vec![]).unwrap();
        for n in [1, 7, 64] {
            let x = inputs(n, 784, n as u64);
            let check = check_export(
                form,
                &w.clone().into(),
                &bytes,
                x.view(),
                targets(n, 10).view(),
                &Preset::Default.tolerance(),
            )
            .unwrap();
            assert!(check.passed, "{form} n={n}: {check:?}");
            assert!(check.output.max_abs_err <= 1e-5);
            assert_eq!(check.samples, n);
        }
    }
}

#[test]
fn true_logits_are_read_under_the_sigmoid_and_tail_differences_are_caught() {
    // Large weights push logits far past the clip. The logits read under the Sigmoid must match
    // burn's, so the logits-form loss agrees. tract 0.23's Sigmoid saturates at 4.47e-7 and
    // 1 - 4.8e-7 (its approximation clamps |z| near 14.6) where burn reaches 0 and 1, so the
    // probability-form loss of saturated outputs differs (about 14.6 against 16.1 per element):
    // the check must report that as a loss mismatch even though every output element is within
    // atol 1e-4.
    let mut w = MlpWeights::glorot_uniform(&[784, 8, 10], 1);
    for l in &mut w.layers {
        l.kernel.mapv_inplace(|v| v * 40.0);
    }
    let bytes = export_mlp(&w, Head::Sigmoid, vec![]).unwrap();
    let x = inputs(16, 784, 2);
    let y = targets(16, 10);
    let tol = Preset::Relaxed.tolerance();
    let check = check_export(
        Formulation::Probs,
        &w.into(),
        &bytes,
        x.view(),
        y.view(),
        &tol,
    )
    .unwrap();
    assert!(check.logits.passed(), "{:?}", check.logits);
    assert!(check.output.passed(), "{:?}", check.output);
    let (b, t) = (&check.loss_burn, &check.loss_tract);
    assert!(
        tol.accepts(t.logits_form_f64, b.logits_form_f64),
        "{b:?} vs {t:?}"
    );
    assert!(b.clipped > 0, "expected saturated probabilities: {b:?}");
    assert!(b.logits_form_f64 > b.probs_form_f64, "{b:?}");
    assert!(
        !check.loss_passed && !check.passed,
        "tail difference not caught: {b:?} vs {t:?}"
    );
}

#[test]
fn corrupt_onnx_bytes_are_an_error_not_a_panic() {
    let w = MlpWeights::glorot_uniform(&[784, 4, 10], 1);
    let bytes = export_mlp(&w, Head::Logits, vec![]).unwrap();
    let x = inputs(2, 784, 1);
    for bad in [&bytes[..bytes.len() / 2], &b"not onnx at all"[..], &[][..]] {
        let r = check_export(
            Formulation::Logits,
            &w.clone().into(),
            bad,
            x.view(),
            targets(2, 10).view(),
            &Preset::Default.tolerance(),
        );
        assert!(r.is_err());
    }
}

#[test]
fn cnn_export_takes_nhwc_and_handles_the_layout_inside() {
    let w = CnnWeights::glorot_uniform([28, 28, 1], 8, 13, 5);
    let a = export_cnn(&w, Head::Sigmoid, vec![]).unwrap();
    assert_eq!(
        a,
        export_cnn(&w, Head::Sigmoid, vec![]).unwrap(),
        "same bytes"
    );
    let g = onnx::decode_model(&a, "memory").unwrap().graph.unwrap();
    let ops: Vec<_> = g.node.iter().map(|n| (n.name(), n.op_type())).collect();
    assert_eq!(
        ops,
        [
            ("conv2d/KernelTranspose", "Transpose"),
            ("conv2d/InputTranspose", "Transpose"),
            ("conv2d/Conv", "Conv"),
            ("conv2d/Relu", "Relu"),
            ("max_pooling2d/MaxPool", "MaxPool"),
            ("flatten/Transpose", "Transpose"),
            ("flatten/Flatten", "Flatten"),
            ("dense/Gemm", "Gemm"),
            ("head/Sigmoid", "Sigmoid")
        ]
    );
    // The Keras arrays, bit for bit and in Keras layout, under their Keras names.
    let inits: Vec<(&str, Vec<i64>)> = g
        .initializer
        .iter()
        .map(|t| (t.name(), t.dims.clone()))
        .collect();
    assert_eq!(
        inits,
        [
            ("conv2d/kernel", vec![3, 3, 1, 8]),
            ("conv2d/bias", vec![8]),
            ("dense/kernel", vec![1352, 13]),
            ("dense/bias", vec![13])
        ]
    );
    let raw = g.initializer[0].raw_data();
    let first = f32::from_le_bytes(raw[..4].try_into().unwrap());
    assert_eq!(first.to_bits(), w.conv.kernel[[0, 0, 0, 0]].to_bits());
    let sig = onnx::Signature::of_graph(&g);
    assert_eq!(sig.inputs[0].dims_text(), "[N, 28, 28, 1]");
    assert_eq!(sig.outputs[0].dims_text(), "[N, 13]");
}

#[test]
fn cnn_export_reloads_in_tract_with_parity_for_any_batch_size() {
    let w: ModelWeights = CnnWeights::glorot_uniform([28, 28, 1], 4, 13, 9).into();
    for form in Formulation::BOTH {
        let bytes = export_model(&w, Head::for_formulation(form), vec![]).unwrap();
        for n in [1, 5, 40] {
            let x = inputs(n, 784, n as u64);
            let check = check_export(
                form,
                &w,
                &bytes,
                x.view(),
                targets(n, 13).view(),
                &Preset::Strict.tolerance(),
            )
            .unwrap();
            assert!(check.passed, "{form} n={n}: {check:?}");
            assert_eq!(check.samples, n);
        }
    }
}
