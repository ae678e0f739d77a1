//! An ONNX model file, checked before any runtime sees it: our decoder and checks first.
//!
//! Runtimes trust the file: they allocate what dims declare and follow external-data paths. So
//! before one sees the bytes, every tensor stored in the model (initializers, attribute tensors,
//! subgraphs) has its dims checked against [`TensorLimits`] and its payload length against its
//! dims, sizes that constant tensor values ask for are bounded ([`super::sizes`]), and every
//! external-data location is refused unless it is a relative path without `..` that resolves,
//! symlinks followed, inside the model's folder and holds exactly the bytes the tensor needs.
//! Runtimes then parse the checked bytes, never re-reading the file.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::RuntimeError;
use crate::onnx::pb::{GraphProto, ModelProto, TensorProto};
use crate::onnx::{OnnxError, Signature, TensorLimits, check_tensor_proto, decode_model};

/// How deep subgraphs (If/Loop/Scan bodies) may nest before the file is refused.
const MAX_GRAPH_DEPTH: usize = 32;

/// An ONNX model that passed the checks above, ready for any runtime to prepare.
pub struct OnnxModel {
    /// Names the model in reports and errors.
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub proto: ModelProto,
    pub signature: Signature,
    /// The checked bytes, which runtimes parse (never re-reading the file).
    source: Arc<[u8]>,
    /// The folder external data must stay inside; `None` refuses external data.
    dir: Option<PathBuf>,
    limits: TensorLimits,
}

impl OnnxModel {
    /// Reads and checks a model file.
    pub fn open(path: &Path, limits: TensorLimits) -> Result<Arc<Self>, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
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
        Self::from_bytes(&bytes, path, dir, limits)
    }

    /// The same from bytes already in memory. `path` names the model in errors; `dir` is the
    /// folder external data must stay inside (`None`: external data is refused).
    pub fn from_bytes(
        bytes: &[u8],
        path: &Path,
        dir: Option<&Path>,
        limits: TensorLimits,
    ) -> Result<Arc<Self>, RuntimeError> {
        let proto = decode_model(bytes, path)?;
        let model_err = |message: String| RuntimeError::Model {
            path: path.to_owned(),
            message,
        };
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| model_err("the model has no graph".to_owned()))?;
        check_graph_tensors(graph, path, dir, limits, 0)?;
        super::sizes::check_graph(graph, limits).map_err(model_err)?;
        let signature = Signature::of_graph(graph);
        let values = signature.inputs.iter().map(|d| ("input", d));
        for (what, decl) in values.chain(signature.outputs.iter().map(|d| ("output", d))) {
            if !decl.is_tensor {
                return Err(RuntimeError::Unsupported {
                    path: path.to_owned(),
                    message: format!(
                        "{what} '{}' is not a tensor (a sequence, map or optional, or untyped); \
                         only tensors can be fed and compared",
                        decl.name
                    ),
                });
            }
        }
        Ok(Arc::new(OnnxModel {
            path: path.to_owned(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
            proto,
            signature,
            source: Arc::from(bytes),
            dir: dir.map(Path::to_owned),
            limits,
        }))
    }

    /// The checked file bytes.
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn limits(&self) -> TensorLimits {
        self.limits
    }

    /// The model cut down to the outputs named in `keep` and what they need
    /// ([`crate::onnx::prune`]), for any runtime to prepare; itself when `keep` names every
    /// output. It keeps this file's path, digest and size (reports are about the file), and its
    /// bytes are the pruned graph's, written by our encoder. `Err` names an output the graph
    /// does not have.
    pub fn with_outputs(self: &Arc<Self>, keep: &[String]) -> Result<Arc<Self>, RuntimeError> {
        let all = self.signature.output_names();
        if all.iter().all(|o| keep.contains(o)) {
            return Ok(Arc::clone(self));
        }
        let (graph, _) =
            crate::onnx::prune(self.graph(), keep).map_err(|message| RuntimeError::Model {
                path: self.path.clone(),
                message,
            })?;
        let signature = Signature::of_graph(&graph);
        let proto = ModelProto {
            graph: Some(graph),
            ..without_graph(&self.proto)
        };
        let source = crate::onnx::encode_model(&proto);
        Ok(Arc::new(OnnxModel {
            path: self.path.clone(),
            sha256: self.sha256.clone(),
            bytes: self.bytes,
            proto,
            signature,
            source: Arc::from(source),
            dir: self.dir.clone(),
            limits: self.limits,
        }))
    }

    /// The main graph (checked to exist when the model was opened).
    pub fn graph(&self) -> &GraphProto {
        self.proto.graph.as_ref().expect("checked when opened")
    }
}

/// Everything of a model but its graph (whose initializers may be large), cloned.
fn without_graph(m: &ModelProto) -> ModelProto {
    ModelProto {
        ir_version: m.ir_version,
        opset_import: m.opset_import.clone(),
        producer_name: m.producer_name.clone(),
        producer_version: m.producer_version.clone(),
        domain: m.domain.clone(),
        model_version: m.model_version,
        doc_string: m.doc_string.clone(),
        graph: None,
        metadata_props: m.metadata_props.clone(),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Checks every tensor stored in `graph` and its subgraphs.
fn check_graph_tensors(
    graph: &GraphProto,
    path: &Path,
    dir: Option<&Path>,
    limits: TensorLimits,
    depth: usize,
) -> Result<(), RuntimeError> {
    if depth > MAX_GRAPH_DEPTH {
        return Err(RuntimeError::Model {
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
) -> Result<(), RuntimeError> {
    let size = check_tensor_proto(tensor, limits).map_err(|e| OnnxError::InFile {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    if tensor.data_location() != crate::onnx::pb::tensor_proto::DataLocation::External {
        return Ok(());
    }
    let refuse = |reason: String| RuntimeError::ExternalData {
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
    let number = |key: &str| -> Result<Option<u64>, RuntimeError> {
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
