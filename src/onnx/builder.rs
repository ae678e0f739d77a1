//! Builds ONNX models from code, one typed call per input, initializer, node and output.
//!
//! It exists so the exporter never assembles protobuf structs by hand, and so that exporting the
//! same network twice gives the same bytes: exported files are committed and compared. It must
//! never reorder what the caller added or use hash-ordered collections, and it adds nothing the
//! caller did not ask for (no implicit value_info, no initializers listed as graph inputs).

use prost::Message;

use super::OnnxError;
use super::pb::attribute_proto::AttributeType;
use super::pb::tensor_proto::DataType;
use super::pb::tensor_shape_proto::{Dimension, dimension};
use super::pb::type_proto;
use super::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use super::tensor::f32_raw_proto;

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A size known when the model is written.
    Fixed(i64),
    /// A size bound at run time, shared by every dim with the same name (e.g. the batch `"N"`).
    Symbolic(String),
}

impl From<i64> for Dim {
    fn from(value: i64) -> Self {
        Dim::Fixed(value)
    }
}

impl From<&str> for Dim {
    fn from(name: &str) -> Self {
        Dim::Symbolic(name.to_owned())
    }
}

/// Model-level fields written by [`GraphBuilder::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMeta {
    pub ir_version: i64,
    /// Version of the default (`""`) operator set domain.
    pub opset: i64,
    pub producer_name: String,
    pub producer_version: String,
    pub doc_string: String,
    pub graph_name: String,
    /// Written in this order; keys should be distinct.
    pub metadata_props: Vec<(String, String)>,
}

impl Default for ModelMeta {
    /// IR 8 with opset 17: understood by tract, onnxruntime and the Python checker alike.
    fn default() -> Self {
        Self {
            ir_version: 8,
            opset: 17,
            producer_name: env!("CARGO_PKG_NAME").to_owned(),
            producer_version: env!("CARGO_PKG_VERSION").to_owned(),
            doc_string: String::new(),
            graph_name: "main".to_owned(),
            metadata_props: Vec::new(),
        }
    }
}

/// Accumulates a graph in insertion order. Nodes must be added in topological order, as ONNX
/// requires; the builder does not sort them.
#[derive(Debug, Clone, Default)]
pub struct GraphBuilder {
    graph: GraphProto,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a graph input fed at run time.
    pub fn input(&mut self, name: &str, elem_type: DataType, dims: &[Dim]) -> &mut Self {
        self.graph.input.push(value_info(name, elem_type, dims));
        self
    }

    /// Declares a graph output.
    pub fn output(&mut self, name: &str, elem_type: DataType, dims: &[Dim]) -> &mut Self {
        self.graph.output.push(value_info(name, elem_type, dims));
        self
    }

    /// Adds a constant f32 tensor, stored as little-endian `raw_data` like mainstream exporters
    /// do. Fails if `data` does not fill `dims` exactly.
    pub fn initializer_f32(
        &mut self,
        name: &str,
        dims: &[usize],
        data: &[f32],
    ) -> Result<&mut Self, OnnxError> {
        let tensor = f32_raw_proto(name, dims, data.iter().copied(), data.len())?;
        self.graph.initializer.push(tensor);
        Ok(self)
    }

    /// Adds a node of the default operator set domain. `name` is optional in ONNX; pass a
    /// meaningful one anyway, since every error message downstream quotes it.
    pub fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> &mut Self {
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.iter().map(|s| (*s).to_owned()).collect(),
            name: Some(name.to_owned()),
            op_type: Some(op_type.to_owned()),
            attribute: attributes,
            ..NodeProto::default()
        });
        self
    }

    /// Adds an initializer as it is (a tensor taken from another model).
    pub fn push_initializer(&mut self, tensor: TensorProto) -> &mut Self {
        self.graph.initializer.push(tensor);
        self
    }

    /// Adds a node as it is, domain and attributes included (a node taken from another model).
    pub fn push_node(&mut self, node: NodeProto) -> &mut Self {
        self.graph.node.push(node);
        self
    }

    /// Wraps the graph into a model with its metadata.
    pub fn finish(self, meta: ModelMeta) -> ModelProto {
        let mut graph = self.graph;
        graph.name = Some(meta.graph_name);
        ModelProto {
            ir_version: Some(meta.ir_version),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(meta.opset),
            }],
            producer_name: Some(meta.producer_name),
            producer_version: Some(meta.producer_version),
            doc_string: (!meta.doc_string.is_empty()).then_some(meta.doc_string),
            graph: Some(graph),
            metadata_props: meta
                .metadata_props
                .into_iter()
                .map(|(key, value)| StringStringEntryProto {
                    key: Some(key),
                    value: Some(value),
                })
                .collect(),
            ..ModelProto::default()
        }
    }
}

/// Serializes a model. prost writes fields in tag order and repeated fields in vector order, so
/// equal models give equal bytes.
pub fn encode_model(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

pub fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        f: Some(value),
        ..attribute(name, AttributeType::Float)
    }
}

pub fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        i: Some(value),
        ..attribute(name, AttributeType::Int)
    }
}

pub fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: values.to_vec(),
        ..attribute(name, AttributeType::Ints)
    }
}

pub fn attr_string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        s: Some(value.as_bytes().to_vec()),
        ..attribute(name, AttributeType::String)
    }
}

fn attribute(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(kind as i32),
        ..AttributeProto::default()
    }
}

fn value_info(name: &str, elem_type: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(v) => dimension::Value::DimValue(*v),
                Dim::Symbolic(s) => dimension::Value::DimParam(s.clone()),
            }),
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem_type as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        doc_string: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ModelProto {
        let mut b = GraphBuilder::new();
        b.input("x", DataType::Float, &["N".into(), 2.into()])
            .initializer_f32("w", &[2, 3], &[1.0, -2.0, 0.5, 0.0, 3.25, -1.0])
            .unwrap()
            .node(
                "Gemm",
                "dense",
                &["x", "w"],
                &["y"],
                vec![
                    attr_float("alpha", 1.0),
                    attr_int("transB", 0),
                    attr_ints("perm", &[1, 0]),
                    attr_string("note", "why"),
                ],
            )
            .output("y", DataType::Float, &["N".into(), 3.into()]);
        b.finish(ModelMeta {
            metadata_props: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            ..ModelMeta::default()
        })
    }

    #[test]
    fn builder_output_round_trips_through_prost() {
        let model = tiny();
        let bytes = encode_model(&model);
        let back = ModelProto::decode(&bytes[..]).unwrap();
        assert_eq!(back, model);

        assert_eq!(back.ir_version, Some(8));
        assert_eq!(back.opset_import[0].version, Some(17));
        assert_eq!(back.opset_import[0].domain.as_deref(), Some(""));
        let graph = back.graph.as_ref().unwrap();
        assert_eq!(graph.name.as_deref(), Some("main"));
        let node = &graph.node[0];
        // proto2 keeps an explicit zero: readers can tell `transB = 0` from "unset".
        assert_eq!(node.attribute[1].i, Some(0));
        assert_eq!(node.attribute[1].r#type(), AttributeType::Int);
        assert_eq!(node.attribute[3].s.as_deref(), Some(&b"why"[..]));
        let keys: Vec<_> = back.metadata_props.iter().map(|p| p.key()).collect();
        assert_eq!(keys, ["b", "a"], "metadata keeps insertion order");

        let Some(type_proto::Value::TensorType(t)) = &graph.input[0].r#type.as_ref().unwrap().value
        else {
            panic!("input is not a tensor");
        };
        let dims = &t.shape.as_ref().unwrap().dim;
        assert_eq!(
            dims[0].value,
            Some(dimension::Value::DimParam("N".to_owned()))
        );
        assert_eq!(dims[1].value, Some(dimension::Value::DimValue(2)));
    }

    #[test]
    fn encoding_is_deterministic() {
        let first = encode_model(&tiny());
        for _ in 0..5 {
            assert_eq!(encode_model(&tiny()), first);
        }
    }

    #[test]
    fn our_bytes_decode_with_tracts_generated_types() {
        let bytes = encode_model(&tiny());
        let theirs = tract_onnx::pb::ModelProto::decode(&bytes[..]).unwrap();
        assert_eq!(theirs.ir_version, 8);
        let graph = theirs.graph.unwrap();
        assert_eq!(graph.node[0].op_type, "Gemm");
        assert_eq!(graph.initializer[0].dims, [2, 3]);
        assert_eq!(graph.initializer[0].raw_data.len(), 6 * 4);
    }

    #[test]
    fn initializer_length_mismatch_is_an_error() {
        let err = GraphBuilder::new()
            .initializer_f32("w", &[2, 3], &[1.0; 5])
            .unwrap_err();
        assert!(
            matches!(err, OnnxError::ShapeMismatch { ref tensor, len: 5, .. } if tensor == "w"),
            "{err}"
        );
    }
}
