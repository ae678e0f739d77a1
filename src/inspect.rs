//! `inspect`: what a model file holds, read with our decoder: versions, producer, inputs and
//! outputs with their dims, an operator histogram, parameter count and initializer bytes,
//! metadata, and the sha256 a manifest entry needs. Then each runtime of [`RUNTIMES`] is asked
//! which operators it cannot run ([`crate::runtime::Runtime::missing_ops`]); only a file that
//! passed the safety checks of [`OnnxModel::open`] is shown to a runtime, and what a runtime
//! could not say is reported, not raised.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::onnx::pb::{GraphProto, tensor_proto::DataLocation};
use crate::onnx::{OnnxError, TensorLimits, check_tensor_proto, decode_model, dtype_name};
use crate::onnx::{Signature, TensorDecl};
use crate::runtime::onnx_model::sha256_hex;
use crate::runtime::{MissingOp, OnnxModel, RuntimeError};

/// The runtimes `inspect` asks about operators; one missing on this machine (onnxruntime
/// without its library) is listed with the reason.
pub const RUNTIMES: &[&str] = &["tract", "onnxruntime"];

/// What one runtime says about a model's operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeSupport {
    pub runtime: String,
    /// Nodes whose operator it does not implement; `None` when it could not tell.
    pub missing: Option<Vec<MissingOp>>,
    /// Why it could not be asked or could not load the model.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueSummary {
    pub name: String,
    pub dtype: String,
    /// Dims as text: numbers, symbols, `?` for unknown; `None` for an undeclared rank.
    pub dims: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opset {
    pub domain: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    pub path: String,
    pub file_bytes: u64,
    pub sha256: String,
    pub ir_version: Option<i64>,
    pub opsets: Vec<Opset>,
    pub producer_name: String,
    pub producer_version: String,
    pub domain: String,
    pub model_version: Option<i64>,
    pub doc_string: String,
    pub graph_name: String,
    pub inputs: Vec<ValueSummary>,
    pub outputs: Vec<ValueSummary>,
    /// Node count per operator (`domain::Op` outside the default domain), subgraphs included.
    pub ops: BTreeMap<String, usize>,
    pub nodes: usize,
    pub initializers: usize,
    /// Elements of all initializers.
    pub parameters: u64,
    /// Payload bytes of all initializers (external data included, sized from dims).
    pub initializer_bytes: u64,
    pub external_initializers: usize,
    pub metadata: BTreeMap<String, String>,
    /// Which operators each runtime cannot run.
    pub runtimes: Vec<RuntimeSupport>,
}

fn summary(d: &TensorDecl) -> ValueSummary {
    ValueSummary {
        name: d.name.clone(),
        dtype: if d.is_tensor {
            d.elem_type.map_or("?".to_owned(), dtype_name)
        } else {
            "not a tensor".to_owned()
        },
        dims: d
            .dims
            .as_ref()
            .map(|dims| dims.iter().map(ToString::to_string).collect()),
    }
}

fn count_ops(g: &GraphProto, ops: &mut BTreeMap<String, usize>, depth: usize) -> usize {
    if depth > 32 {
        return 0;
    }
    let mut n = 0;
    for node in &g.node {
        n += 1;
        let key = match node.domain() {
            "" | "ai.onnx" => node.op_type().to_owned(),
            d => format!("{d}::{}", node.op_type()),
        };
        *ops.entry(key).or_default() += 1;
        for a in &node.attribute {
            for sub in a.g.iter().chain(&a.graphs) {
                n += count_ops(sub, ops, depth + 1);
            }
        }
    }
    n
}

/// Reads and describes a model file.
pub fn inspect(path: &Path) -> Result<Inspection, RuntimeError> {
    let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
        path: path.to_owned(),
        source,
    })?;
    let proto = decode_model(&bytes, path)?;
    let graph = proto.graph.clone().unwrap_or_default();
    let sig = Signature::of_graph(&graph);
    let mut ops = BTreeMap::new();
    let nodes = count_ops(&graph, &mut ops, 0);
    let (mut parameters, mut initializer_bytes, mut external) = (0u64, 0u64, 0usize);
    for t in &graph.initializer {
        // Sizes come from checked dims, so a lying header cannot make the sums overflow.
        let size =
            check_tensor_proto(t, TensorLimits::default()).map_err(|e| OnnxError::InFile {
                path: path.to_owned(),
                source: Box::new(e),
            })?;
        parameters += size.elements;
        initializer_bytes += match (&t.raw_data, size.raw_bytes) {
            (Some(raw), _) => raw.len() as u64,
            (None, Some(n)) => n,
            (None, None) => t.string_data.iter().map(|s| s.len() as u64).sum(),
        };
        if t.data_location() == DataLocation::External {
            external += 1;
        }
    }
    Ok(Inspection {
        path: path.display().to_string(),
        file_bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        ir_version: proto.ir_version,
        opsets: proto
            .opset_import
            .iter()
            .map(|o| Opset {
                domain: o.domain().to_owned(),
                version: o.version(),
            })
            .collect(),
        producer_name: proto.producer_name().to_owned(),
        producer_version: proto.producer_version().to_owned(),
        domain: proto.domain().to_owned(),
        model_version: proto.model_version,
        doc_string: proto.doc_string().to_owned(),
        graph_name: graph.name().to_owned(),
        inputs: sig.inputs.iter().map(summary).collect(),
        outputs: sig.outputs.iter().map(summary).collect(),
        ops,
        nodes,
        initializers: graph.initializer.len(),
        parameters,
        initializer_bytes,
        external_initializers: external,
        metadata: proto
            .metadata_props
            .iter()
            .map(|e| (e.key().to_owned(), e.value().to_owned()))
            .collect(),
        runtimes: runtime_support(path, &bytes),
    })
}

/// Each runtime of [`RUNTIMES`] on the checked model; a file the safety checks refuse is shown
/// to none of them.
fn runtime_support(path: &Path, bytes: &[u8]) -> Vec<RuntimeSupport> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let model = OnnxModel::from_bytes(bytes, path, Some(dir), TensorLimits::default());
    RUNTIMES
        .iter()
        .map(|name| {
            let asked = match (&model, crate::runtime::runtime(name)) {
                (_, Err(e)) => Err(crate::error_chain(&e)),
                (Ok(m), Ok(runtime)) => runtime.missing_ops(m).map_err(|e| crate::error_chain(&e)),
                (Err(e), Ok(_)) => Err(format!(
                    "not asked: the file did not pass the safety checks: {}",
                    crate::error_chain(e)
                )),
            };
            let (missing, error) = match asked {
                Ok(m) => (m, None),
                Err(e) => (None, Some(e)),
            };
            RuntimeSupport {
                runtime: (*name).to_owned(),
                missing,
                error,
            }
        })
        .collect()
}
