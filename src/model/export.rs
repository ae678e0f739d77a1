//! The MLP written as ONNX by our own protobuf code.
//!
//! Why our own exporter: it is the thing under test. The graph is the plainest faithful one:
//! `Gemm` per dense layer with the Keras-layout kernel as `B` (no transpose), `Relu` between,
//! and for a sigmoid head a final `Sigmoid` whose input keeps the name `logits`, so a runtime
//! can fetch the true logits of either export by the same name. Batch is the symbolic dim `N`.
//! This module must never depend on a runtime; bytes are a pure function of its arguments.

use crate::loss::Head;
use crate::model::weights::MlpWeights;
use crate::onnx::pb::tensor_proto::DataType;
use crate::onnx::{self, Dim, GraphBuilder, ModelMeta, OnnxError};

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

/// Serialize `weights` as an ONNX model. `metadata` is stored as `metadata_props`, in order.
pub fn export_mlp(
    weights: &MlpWeights,
    head: Head,
    metadata: Vec<(String, String)>,
) -> Result<Vec<u8>, OnnxError> {
    let mut g = GraphBuilder::new();
    let batch = || Dim::Symbolic("N".to_string());
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
    if head == Head::Sigmoid {
        g.node(
            "Sigmoid",
            "head/Sigmoid",
            &[LOGITS],
            &[PROBABILITIES],
            vec![],
        );
    }
    let out_dims = [batch(), Dim::Fixed(weights.output_dim() as i64)];
    g.output(output_name(head), DataType::Float, &out_dims);
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
