//! The models written as ONNX by our own protobuf code.
//!
//! Why our own exporter: it is the thing under test. The graph is the plainest faithful one:
//! `Gemm` per dense layer with the Keras-layout kernel as `B` (no transpose), `Relu` between,
//! and for a sigmoid head a final `Sigmoid` whose input keeps the name `logits`, so a runtime
//! can fetch the true logits of either export by the same name. Batch is the symbolic dim `N`.
//!
//! The CNN takes NHWC images `[N, h, w, c]` as Keras users feed them and handles the layout
//! inside the graph: `Transpose` to NCHW, `Conv` (its kernel stored in Keras's HWIO layout
//! under its Keras name and turned into ONNX's OIHW by a `Transpose`), `Relu`, `MaxPool`,
//! `Transpose` back to NHWC and `Flatten`, so the dense kernel's rows keep Keras's (row,
//! column, channel) order, then `Gemm`.
//! This module must never depend on a runtime; bytes are a pure function of its arguments.

use crate::loss::Head;
use crate::model::weights::{
    CONV_KERNEL, CnnWeights, FLATTEN_NAME, MlpWeights, ModelWeights, POOL, POOL_NAME,
};
use crate::onnx::pb::tensor_proto::DataType;
use crate::onnx::{self, Dim, GraphBuilder, ModelMeta, OnnxError, attr_int, attr_ints};

/// Name of the graph input of every export.
pub const INPUT: &str = "input";
/// Name of the tensor that holds the logits in every export.
pub const LOGITS: &str = "logits";
/// Name of the graph output of a sigmoid-head export.
pub const PROBABILITIES: &str = "probabilities";
/// Opset written by the exporter (Gemm, Relu and Sigmoid are unchanged since opset 13).
pub const OPSET: i64 = 17;

/// The graph output of our export with `head`.
pub fn output_name(head: Head) -> &'static str {
    match head {
        Head::Logits => LOGITS,
        Head::Sigmoid => PROBABILITIES,
    }
}

/// Serialize the weights of either model as an ONNX model (see [`export_mlp`] and
/// [`export_cnn`]).
pub fn export_model(
    weights: &ModelWeights,
    head: Head,
    metadata: Vec<(String, String)>,
) -> Result<Vec<u8>, OnnxError> {
    match weights {
        ModelWeights::Mlp(w) => export_mlp(w, head, metadata),
        ModelWeights::Cnn(w) => export_cnn(w, head, metadata),
    }
}

/// The head: for a sigmoid, a `Sigmoid` from `logits` to `probabilities`; then the output.
fn finish_head(g: &mut GraphBuilder, head: Head, outputs: usize) {
    if head == Head::Sigmoid {
        g.node(
            "Sigmoid",
            "head/Sigmoid",
            &[LOGITS],
            &[PROBABILITIES],
            vec![],
        );
    }
    let out_dims = [batch(), Dim::Fixed(outputs as i64)];
    g.output(output_name(head), DataType::Float, &out_dims);
}

fn batch() -> Dim {
    Dim::Symbolic("N".to_string())
}

/// Serialize the CNN as an ONNX model. `metadata` is stored as `metadata_props`, in order.
pub fn export_cnn(
    weights: &CnnWeights,
    head: Head,
    metadata: Vec<(String, String)>,
) -> Result<Vec<u8>, OnnxError> {
    let dims = weights.dims();
    let [h, w, c] = dims.input;
    let conv = &weights.conv.name;
    let dense = &weights.dense.name;
    let mut g = GraphBuilder::new();
    let fixed = |n: usize| Dim::Fixed(n as i64);
    g.input(
        INPUT,
        DataType::Float,
        &[batch(), fixed(h), fixed(w), fixed(c)],
    );
    let (kernel, bias) = (format!("{conv}/kernel"), format!("{conv}/bias"));
    let k = weights.conv.kernel.as_standard_layout();
    g.initializer_f32(&kernel, k.shape(), k.as_slice().expect("standard layout"))?;
    g.initializer_f32(
        &bias,
        weights.conv.bias.shape(),
        weights.conv.bias.as_slice().expect("contiguous"),
    )?;
    let (dense_kernel, dense_bias) = (format!("{dense}/kernel"), format!("{dense}/bias"));
    let dk = weights.dense.kernel.as_standard_layout();
    g.initializer_f32(
        &dense_kernel,
        dk.shape(),
        dk.as_slice().expect("standard layout"),
    )?;
    g.initializer_f32(
        &dense_bias,
        weights.dense.bias.shape(),
        weights.dense.bias.as_slice().expect("contiguous"),
    )?;
    let t = |s: &str| format!("{conv}/{s}");
    // HWIO [kh, kw, in, out] -> OIHW [out, in, kh, kw].
    g.node(
        "Transpose",
        &t("KernelTranspose"),
        &[&kernel],
        &[&t("kernel_oihw")],
        vec![attr_ints("perm", &[3, 2, 0, 1])],
    );
    g.node(
        "Transpose",
        &t("InputTranspose"),
        &[INPUT],
        &[&t("input_nchw")],
        vec![attr_ints("perm", &[0, 3, 1, 2])],
    );
    let side = CONV_KERNEL as i64;
    g.node(
        "Conv",
        &t("Conv"),
        &[&t("input_nchw"), &t("kernel_oihw"), &bias],
        &[&t("linear")],
        vec![
            attr_ints("kernel_shape", &[side, side]),
            attr_ints("strides", &[1, 1]),
            attr_ints("pads", &[0, 0, 0, 0]),
            attr_ints("dilations", &[1, 1]),
            attr_int("group", 1),
        ],
    );
    g.node("Relu", &t("Relu"), &[&t("linear")], &[&t("relu")], vec![]);
    let pool = POOL as i64;
    let pooled = format!("{POOL_NAME}/output");
    g.node(
        "MaxPool",
        &format!("{POOL_NAME}/MaxPool"),
        &[&t("relu")],
        &[&pooled],
        vec![
            attr_ints("kernel_shape", &[pool, pool]),
            attr_ints("strides", &[pool, pool]),
            attr_ints("pads", &[0, 0, 0, 0]),
        ],
    );
    let nhwc = format!("{FLATTEN_NAME}/nhwc");
    let flat = format!("{FLATTEN_NAME}/output");
    g.node(
        "Transpose",
        &format!("{FLATTEN_NAME}/Transpose"),
        &[&pooled],
        &[&nhwc],
        vec![attr_ints("perm", &[0, 2, 3, 1])],
    );
    g.node(
        "Flatten",
        &format!("{FLATTEN_NAME}/Flatten"),
        &[&nhwc],
        &[&flat],
        vec![attr_int("axis", 1)],
    );
    g.node(
        "Gemm",
        &format!("{dense}/Gemm"),
        &[&flat, &dense_kernel, &dense_bias],
        &[LOGITS],
        vec![],
    );
    finish_head(&mut g, head, weights.output_dim());
    let meta = ModelMeta {
        opset: OPSET,
        doc_string: format!(
            "CNN {h}x{w}x{c} NHWC input, conv2d {} 3x3 relu, max-pool 2x2, dense {}-{}, {} head",
            dims.filters,
            dims.flat(),
            weights.output_dim(),
            head.name()
        ),
        graph_name: format!("cnn_{}", head.name()),
        metadata_props: metadata,
        ..ModelMeta::default()
    };
    Ok(onnx::encode_model(&g.finish(meta)))
}

/// Serialize `weights` as an ONNX model. `metadata` is stored as `metadata_props`, in order.
pub fn export_mlp(
    weights: &MlpWeights,
    head: Head,
    metadata: Vec<(String, String)>,
) -> Result<Vec<u8>, OnnxError> {
    let mut g = GraphBuilder::new();
    g.input(
        INPUT,
        DataType::Float,
        &[batch(), Dim::Fixed(weights.input_dim() as i64)],
    );
    let last = weights.layers.len().saturating_sub(1);
    let mut current = INPUT.to_string();
    for (i, layer) in weights.layers.iter().enumerate() {
        let kernel = format!("{}/kernel", layer.name);
        let bias = format!("{}/bias", layer.name);
        let k = layer.kernel.as_standard_layout();
        g.initializer_f32(&kernel, k.shape(), k.as_slice().expect("standard layout"))?;
        g.initializer_f32(
            &bias,
            layer.bias.shape(),
            layer.bias.as_slice().expect("contiguous"),
        )?;
        let linear = if i == last {
            LOGITS.to_string()
        } else {
            format!("{}/linear", layer.name)
        };
        g.node(
            "Gemm",
            &format!("{}/Gemm", layer.name),
            &[&current, &kernel, &bias],
            &[&linear],
            vec![],
        );
        current = if i == last {
            linear
        } else {
            let act = format!("{}/relu", layer.name);
            g.node(
                "Relu",
                &format!("{}/Relu", layer.name),
                &[&linear],
                &[&act],
                vec![],
            );
            act
        };
    }
    finish_head(&mut g, head, weights.output_dim());
    let sizes = weights
        .sizes()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("-");
    let meta = ModelMeta {
        opset: OPSET,
        doc_string: format!("MLP {sizes}, relu hidden layers, {} head", head.name()),
        graph_name: format!("mlp_{}", head.name()),
        metadata_props: metadata,
        ..ModelMeta::default()
    };
    Ok(onnx::encode_model(&g.finish(meta)))
}
