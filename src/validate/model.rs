//! Loading a model file safely: our decoder and checks first, tract only after.
//!
//! tract trusts the file: it allocates what dims declare and follows external-data paths. So
//! before it sees the bytes, every tensor stored in the model (initializers, attribute tensors,
//! subgraphs) has its dims checked against [`TensorLimits`] and its payload length against its
//! dims, and every external-data location is refused unless it is a relative path without `..`
//! that resolves, symlinks followed, inside the model's folder and holds exactly the bytes the
//! tensor needs. tract then parses the same bytes (never re-reading the file), under
//! [`guard::catch`] so that its panics become errors naming the model.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::{InferenceModel, Tensor};

use super::error::ValidateError;
use super::guard;
use crate::onnx::pb::tensor_shape_proto::dimension;
use crate::onnx::pb::{GraphProto, ModelProto, TensorProto, type_proto};
use crate::onnx::{OnnxError, TensorLimits, check_tensor_proto, decode_model, tensor_to_proto};

/// How deep subgraphs (If/Loop/Scan bodies) may nest before the file is refused.
const MAX_GRAPH_DEPTH: usize = 32;

/// One declared dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum DimDecl {
    Fixed(i64),
    Symbolic(String),
    Unknown,
}

/// A graph input or output as the file declares it.
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

/// The runtime inputs (graph inputs that are not initializers) and the graph outputs, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Signature {
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
}

/// A graph output computed by a `Sigmoid` (possibly through `Identity` nodes): the case of a
/// Keras model with a sigmoid head. `logits` is the Sigmoid's input tensor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SigmoidHead {
    pub output: String,
    pub node: String,
    pub logits: String,
}

/// A model that passed the checks and that tract parsed.
pub struct LoadedModel {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub proto: ModelProto,
    pub signature: Signature,
    pub sigmoid_heads: BTreeMap<String, SigmoidHead>,
    pub tract: InferenceModel,
    /// The checked file bytes, folder and limits, kept to re-parse with inputs bound as
    /// constants.
    source: Arc<[u8]>,
    dir: Option<PathBuf>,
    limits: TensorLimits,
}

/// Reads, checks and parses a model file.
pub fn load_model(path: &Path, limits: TensorLimits) -> Result<LoadedModel, ValidateError> {
    let bytes = std::fs::read(path).map_err(|source| ValidateError::Io {
        path: path.to_owned(),
        source,
    })?;
    let dir = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    load_model_bytes(&bytes, path, dir, limits)
}

/// The same from bytes already in memory. `path` names the model in errors; `dir` is the
/// folder external data must stay inside (`None`: external data is refused).
pub fn load_model_bytes(
    bytes: &[u8],
    path: &Path,
    dir: Option<&Path>,
    limits: TensorLimits,
) -> Result<LoadedModel, ValidateError> {
    let proto = decode_model(bytes, path)?;
    let model_err = |message: String| ValidateError::Model {
        path: path.to_owned(),
        message,
    };
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| model_err("the model has no graph".to_owned()))?;
    check_graph_tensors(graph, path, dir, limits, 0)?;
    super::sizes::check_graph(graph, limits, 0).map_err(model_err)?;
    let signature = signature(graph);
    let values = signature.inputs.iter().map(|d| ("input", d));
    for (what, decl) in values.chain(signature.outputs.iter().map(|d| ("output", d))) {
        if !decl.is_tensor {
            return Err(ValidateError::Unsupported {
                path: path.to_owned(),
                message: format!(
                    "{what} '{}' is not a tensor (a sequence, map or optional, or untyped); \
                     only tensors can be fed and compared",
                    decl.name
                ),
            });
        }
    }
    let sigmoid_heads = sigmoid_heads(graph);
    let tract = parse_with_tract(bytes, path, dir, &[])?;
    Ok(LoadedModel {
        path: path.to_owned(),
        sha256: sha256_hex(bytes),
        bytes: bytes.len() as u64,
        proto,
        signature,
        sigmoid_heads,
        tract,
        source: Arc::from(bytes),
        dir: dir.map(Path::to_owned),
        limits,
    })
}

/// The same model with the named inputs turned into initializers holding the given values.
///
/// tract needs some operands to be constants (reduction axes, reshape targets, pads, scales)
/// that ONNX lets a graph take as inputs; the node tests feed them as data. Binding those
/// inputs to the data's values lets tract run the graph. Only the constants change: the
/// file's own tensors were checked when it was loaded, the values come from checked
/// reference data, and the sizes they would ask for are checked here before tract folds them.
pub fn with_constants(
    model: &LoadedModel,
    constants: &[(String, Tensor)],
) -> Result<LoadedModel, ValidateError> {
    let mut graph = model.proto.graph.clone().unwrap_or_default();
    for (name, t) in constants {
        graph
            .initializer
            .push(tensor_to_proto(name, t).map_err(|e| ValidateError::Model {
                path: model.path.clone(),
                message: format!("binding input '{name}' as a constant: {e}"),
            })?);
    }
    super::sizes::check_graph(&graph, model.limits, 0).map_err(|message| ValidateError::Model {
        path: model.path.clone(),
        message: format!("with inputs bound as constants, {message}"),
    })?;
    let tract = parse_with_tract(&model.source, &model.path, model.dir.as_deref(), constants)?;
    let mut signature = model.signature.clone();
    signature
        .inputs
        .retain(|d| !constants.iter().any(|(name, _)| name == &d.name));
    Ok(LoadedModel {
        path: model.path.clone(),
        sha256: model.sha256.clone(),
        bytes: model.bytes,
        proto: model.proto.clone(),
        signature,
        sigmoid_heads: model.sigmoid_heads.clone(),
        tract,
        source: Arc::clone(&model.source),
        dir: model.dir.clone(),
        limits: model.limits,
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn parse_with_tract(
    bytes: &[u8],
    path: &Path,
    dir: Option<&Path>,
    constants: &[(String, Tensor)],
) -> Result<InferenceModel, ValidateError> {
    let tract_err = |message: String, panicked: bool| ValidateError::Tract {
        path: path.to_owned(),
        stage: "load",
        message,
        panicked,
    };
    let dir = dir.and_then(Path::to_str);
    let parsed = guard::catch(|| -> Result<InferenceModel, String> {
        let mut proto = tract_onnx::pb::ModelProto::decode(bytes).map_err(|e| e.to_string())?;
        if !constants.is_empty() {
            let graph = proto.graph.as_mut().ok_or("the model has no graph")?;
            graph
                .input
                .retain(|i| !constants.iter().any(|(name, _)| name == &i.name));
            for (name, t) in constants {
                // Our encoder, then tract's decoder: the same wire format.
                let ours = tensor_to_proto(name, t).map_err(|e| e.to_string())?;
                let theirs = tract_onnx::pb::TensorProto::decode(&ours.encode_to_vec()[..])
                    .map_err(|e| e.to_string())?;
                graph.initializer.push(theirs);
            }
        }
        let result = tract_onnx::onnx()
            .parse(&proto, dir)
            .map_err(|e| format!("{e:#}"))?;
        if !result.unresolved_inputs.is_empty() {
            return Err(format!(
                "nodes read tensors that nothing produces: {:?}",
                result.unresolved_inputs
            ));
        }
        Ok(result.model)
    });
    match parsed {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(message)) => Err(tract_err(message, false)),
        Err(panic) => Err(tract_err(panic, true)),
    }
}

/// Checks every tensor stored in `graph` and its subgraphs.
fn check_graph_tensors(
    graph: &GraphProto,
    path: &Path,
    dir: Option<&Path>,
    limits: TensorLimits,
    depth: usize,
) -> Result<(), ValidateError> {
    if depth > MAX_GRAPH_DEPTH {
        return Err(ValidateError::Model {
            path: path.to_owned(),
            message: format!("subgraphs nest more than {MAX_GRAPH_DEPTH} deep"),
        });
    }
    for tensor in &graph.initializer {
        check_tensor(tensor, path, dir, limits)?;
    }
    for node in &graph.node {
        for attr in &node.attribute {
            for tensor in attr.t.iter().chain(&attr.tensors) {
                check_tensor(tensor, path, dir, limits)?;
            }
            for sub in attr.g.iter().chain(&attr.graphs) {
                check_graph_tensors(sub, path, dir, limits, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn check_tensor(
    tensor: &TensorProto,
    path: &Path,
    dir: Option<&Path>,
    limits: TensorLimits,
) -> Result<(), ValidateError> {
    let size = check_tensor_proto(tensor, limits).map_err(|e| OnnxError::InFile {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    if tensor.data_location() != crate::onnx::pb::tensor_proto::DataLocation::External {
        return Ok(());
    }
    let refuse = |reason: String| ValidateError::ExternalData {
        path: path.to_owned(),
        tensor: tensor.name().to_owned(),
        reason,
    };
    let entry = |key: &str| {
        tensor
            .external_data
            .iter()
            .find(|e| e.key() == key)
            .map(|e| e.value().to_owned())
    };
    let location = entry("location").ok_or_else(|| refuse("no 'location' entry".to_owned()))?;
    let number = |key: &str| -> Result<Option<u64>, ValidateError> {
        entry(key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| refuse(format!("'{key}' is not a byte count: {v:?}")))
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?;
    let dir = dir.ok_or_else(|| refuse("the model was not read from a folder".to_owned()))?;
    let file = resolve_inside(dir, &location).map_err(refuse)?;
    let file_len = std::fs::metadata(&file)
        .map_err(|e| refuse(format!("{location}: {e}")))?
        .len();
    let available = file_len.checked_sub(offset).ok_or_else(|| {
        refuse(format!(
            "offset {offset} is past the end of {location} ({file_len} bytes)"
        ))
    })?;
    let length = match length {
        Some(n) if n > available => {
            return Err(refuse(format!(
                "{location}: {n} bytes from offset {offset} run past its end ({file_len} bytes)"
            )));
        }
        Some(n) => n,
        None => available,
    };
    if let Some(need) = size.raw_bytes
        && need != length
    {
        return Err(refuse(format!(
            "{location}: the tensor needs {need} bytes, the entry covers {length}"
        )));
    }
    Ok(())
}

/// Resolves an external-data location inside `dir`, or says why it is refused.
pub fn resolve_inside(dir: &Path, location: &str) -> Result<PathBuf, String> {
    let rel = Path::new(location);
    if location.is_empty() {
        return Err("empty location".to_owned());
    }
    if rel.has_root() || rel.is_absolute() {
        return Err(format!("location {location:?} is absolute"));
    }
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("location {location:?} contains '..'"));
    }
    if !rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "location {location:?} is not a plain relative path"
        ));
    }
    let root = dir
        .canonicalize()
        .map_err(|e| format!("model folder {}: {e}", dir.display()))?;
    let target = dir
        .join(rel)
        .canonicalize()
        .map_err(|e| format!("location {location:?}: {e}"))?;
    if !target.starts_with(&root) {
        return Err(format!(
            "location {location:?} resolves outside the model folder (through a symlink)"
        ));
    }
    if !target.is_file() {
        return Err(format!("location {location:?} is not a file"));
    }
    Ok(target)
}

/// A graph input or output's declaration.
pub fn decl_of_value(v: &crate::onnx::pb::ValueInfoProto) -> TensorDecl {
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

/// The runtime inputs (initializers excluded) and outputs a graph declares.
pub fn signature(graph: &GraphProto) -> Signature {
    let is_init = |name: &str| graph.initializer.iter().any(|t| t.name() == name);
    Signature {
        inputs: graph
            .input
            .iter()
            .filter(|i| !is_init(i.name()))
            .map(decl_of_value)
            .collect(),
        outputs: graph.output.iter().map(decl_of_value).collect(),
    }
}

/// Graph outputs produced by a `Sigmoid`, looking through `Identity` nodes.
fn sigmoid_heads(graph: &GraphProto) -> BTreeMap<String, SigmoidHead> {
    let producer = |tensor: &str| {
        graph
            .node
            .iter()
            .find(|n| n.output.iter().any(|o| o == tensor))
    };
    let mut heads = BTreeMap::new();
    for output in &graph.output {
        let mut tensor = output.name();
        // Bounded: a malformed graph may loop through Identity nodes.
        for _ in 0..16 {
            let Some(node) = producer(tensor) else { break };
            let Some(input) = node.input.first().filter(|i| !i.is_empty()) else {
                break;
            };
            let op = node.op_type();
            if op == "Identity" && node.domain().is_empty() {
                tensor = input;
                continue;
            }
            if op == "Sigmoid" && node.domain().is_empty() {
                heads.insert(
                    output.name().to_owned(),
                    SigmoidHead {
                        output: output.name().to_owned(),
                        node: node.name().to_owned(),
                        logits: input.clone(),
                    },
                );
            }
            break;
        }
    }
    heads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_locations_are_confined_to_the_model_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("model");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("w.bin"), [0u8; 8]).unwrap();
        std::fs::write(dir.join("sub/w.bin"), [0u8; 8]).unwrap();
        std::fs::write(tmp.path().join("outside.bin"), [0u8; 8]).unwrap();
        assert!(resolve_inside(&dir, "w.bin").is_ok());
        assert!(resolve_inside(&dir, "./sub/w.bin").is_ok());
        let abs = tmp.path().join("outside.bin");
        let err = resolve_inside(&dir, abs.to_str().unwrap()).unwrap_err();
        assert!(err.contains("is absolute"), "{err}");
        let err = resolve_inside(&dir, "../outside.bin").unwrap_err();
        assert!(err.contains("contains '..'"), "{err}");
        let err = resolve_inside(&dir, "sub/../w.bin").unwrap_err();
        assert!(err.contains("contains '..'"), "{err}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("outside.bin"), dir.join("link.bin"))
                .unwrap();
            let err = resolve_inside(&dir, "link.bin").unwrap_err();
            assert!(err.contains("outside the model folder"), "{err}");
            std::os::unix::fs::symlink(tmp.path(), dir.join("up")).unwrap();
            let err = resolve_inside(&dir, "up/outside.bin").unwrap_err();
            assert!(err.contains("outside the model folder"), "{err}");
            // A symlink that stays inside is fine.
            std::os::unix::fs::symlink(dir.join("w.bin"), dir.join("alias.bin")).unwrap();
            assert!(resolve_inside(&dir, "alias.bin").is_ok());
        }
        assert!(resolve_inside(&dir, "missing.bin").is_err());
        assert!(
            resolve_inside(&dir, "sub")
                .unwrap_err()
                .contains("not a file")
        );
    }
}
