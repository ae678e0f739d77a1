//! What a graph declares about its inputs and outputs: names, element types and dims, symbolic
//! ones included. Every runtime reports its model's signature in these terms, and reference data
//! is checked against them.

use super::pb::tensor_shape_proto::dimension;
use super::pb::{GraphProto, ValueInfoProto, type_proto};

/// One declared dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum DimDecl {
    Fixed(i64),
    Symbolic(String),
    Unknown,
}

impl std::fmt::Display for DimDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DimDecl::Fixed(n) => write!(f, "{n}"),
            DimDecl::Symbolic(s) => f.write_str(s),
            DimDecl::Unknown => f.write_str("?"),
        }
    }
}

/// A graph input or output as declared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TensorDecl {
    pub name: String,
    /// ONNX `elem_type`, when the value is a tensor and declares one.
    pub elem_type: Option<i32>,
    /// `None` when the rank is not declared.
    pub dims: Option<Vec<DimDecl>>,
    /// False for sequences, maps, optionals and values without a type.
    pub is_tensor: bool,
}

impl TensorDecl {
    /// A tensor of known element type and dims.
    pub fn tensor(name: &str, elem_type: i32, dims: Vec<DimDecl>) -> Self {
        Self {
            name: name.to_owned(),
            elem_type: Some(elem_type),
            dims: Some(dims),
            is_tensor: true,
        }
    }

    /// The dims as text: `[N, 784]`, or `[any rank]`.
    pub fn dims_text(&self) -> String {
        match &self.dims {
            Some(dims) => format!(
                "[{}]",
                dims.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "[any rank]".to_owned(),
        }
    }
}

/// The runtime inputs (graph inputs that are not initializers) and the graph outputs, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Signature {
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
}

impl Signature {
    /// The runtime inputs and outputs a graph declares.
    pub fn of_graph(graph: &GraphProto) -> Self {
        let is_init = |name: &str| graph.initializer.iter().any(|t| t.name() == name);
        Signature {
            inputs: graph
                .input
                .iter()
                .filter(|i| !is_init(i.name()))
                .map(TensorDecl::of_value)
                .collect(),
            outputs: graph.output.iter().map(TensorDecl::of_value).collect(),
        }
    }

    pub fn output_names(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.name.clone()).collect()
    }
}

impl TensorDecl {
    /// A graph input or output's declaration.
    pub fn of_value(v: &ValueInfoProto) -> Self {
        // Only tensor types are modelled; sequences, maps and optionals decode as `None`.
        let tensor = v
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
            .map(|type_proto::Value::TensorType(tt)| tt);
        TensorDecl {
            name: v.name().to_owned(),
            elem_type: tensor.and_then(|t| t.elem_type),
            dims: tensor.and_then(|t| t.shape.as_ref()).map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(dimension::Value::DimValue(n)) => DimDecl::Fixed(*n),
                        Some(dimension::Value::DimParam(p)) if !p.is_empty() => {
                            DimDecl::Symbolic(p.clone())
                        }
                        _ => DimDecl::Unknown,
                    })
                    .collect()
            }),
            is_tensor: tensor.is_some(),
        }
    }
}
