//! onnxruntime as a runtime, through the `ort` crate with its library loaded at run time.
//!
//! Nothing is linked or downloaded at build time: the shared library comes from the onnxruntime
//! wheel pinned in `scripts/requirements.txt` and is found when a command first asks for this
//! runtime ([`library`]: `ORT_DYLIB_PATH`, then the active virtualenv, then a `.venv` in the
//! working folder or above it, then the `onnxruntime` package of `python3`). Without it, asking
//! for onnxruntime is an [`RuntimeError::Unavailable`] that says how to install it, and every
//! other command works as before.
//!
//! onnxruntime is C++ in our process, so it only ever sees a checked [`OnnxModel`], from its
//! bytes in memory. Given bytes, onnxruntime resolves external data against the *working*
//! folder (a decoy file there would be read), so every session is told the model's own folder
//! (`session.model_external_initializers_file_folder_path`), whose locations the checks already
//! confined, exactly as tract is given that folder. Sizes that input *values* ask for
//! (`ConstantOfShape`, `Expand`, `Range`, ...) are held to the same limits before each run
//! ([`super::sizes`]). Its log goes nowhere: its errors come back as statuses, one line each.
//!
//! Intermediate tensors are fetched by adding them as graph outputs: a serialized fragment
//! `ModelProto { graph { output: [...] } }` is appended to the checked bytes, which protobuf
//! merges into the graph (repeated fields concatenate), so fields our schema subset does not
//! model (local functions, sparse initializers) reach onnxruntime untouched. A session is kept
//! per set of added outputs. The graph optimization level is this runtime's stage:
//! [`Optimization::All`] as users run it, [`Optimization::Disabled`] to trace a difference to
//! the optimizer.
//!
//! Element types tract has no type for (BFLOAT16, FLOAT8, FLOAT4, 4- and 2-bit integers) arrive
//! widened ([`crate::onnx::exotic`]) and are narrowed to what the session declares; outputs of
//! those types are widened on the way back.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ort::environment::{Environment, GlobalThreadPoolOptions};
use ort::memory::Allocator;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynTensor, DynTensorValueType, DynValue, TensorElementType, ValueType};
use prost::Message;
use tract_onnx::prelude::{DatumType, Tensor};

use super::{Feed, OnnxModel, RunOutput, Runnable, Runtime, RuntimeError, guard};
use crate::onnx::pb::tensor_proto::DataType;
use crate::onnx::pb::{GraphProto, ModelProto, ValueInfoProto};
use crate::onnx::{Signature, exotic, onnx_data_type};

/// The wheel `scripts/requirements.txt` pins, named in the install hint.
pub const PINNED_WHEEL: &str = "onnxruntime==1.32.0";

/// How far onnxruntime rewrites the graph before running it: its stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimization {
    /// No graph optimization: the graph's own nodes, onnxruntime's kernels.
    Disabled,
    /// Every level (fusions, layout changes), as users run it (the default everywhere).
    #[default]
    All,
}

/// onnxruntime at an optimization level.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnnxRuntime {
    pub optimization: Optimization,
}

impl Runtime for OnnxRuntime {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn prepare(&self, model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, RuntimeError> {
        Ok(Box::new(OrtRunnable::new(
            Arc::clone(model),
            self.optimization,
        )?))
    }

    fn unoptimized(&self) -> Option<Box<dyn Runtime>> {
        Some(Box::new(OnnxRuntime {
            optimization: Optimization::Disabled,
        }))
    }
}

/// Where the shared library was looked for, in order, for messages and `--help`.
pub const SEARCH_ORDER: &str = "ORT_DYLIB_PATH, the active virtualenv ($VIRTUAL_ENV), a .venv \
     in the working folder or above it, then python3's onnxruntime package";

/// The file name of the library inside a wheel's `onnxruntime/capi` folder.
fn is_library(name: &str) -> bool {
    let stem_ok = name.starts_with("libonnxruntime.") || name.starts_with("onnxruntime.");
    stem_ok && (name.contains(".so") || name.ends_with(".dylib") || name.ends_with(".dll"))
}

/// The library inside an installed `onnxruntime` package folder.
fn in_package(package: &Path) -> Option<PathBuf> {
    let capi = package.join("capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_library))
        .map(|e| e.path())
        .collect();
    found.sort();
    found.pop()
}

/// The library in a virtualenv: `lib/python3.*/site-packages/onnxruntime/capi/`.
fn in_venv(venv: &Path) -> Option<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages").join("onnxruntime"))
        .collect();
    libs.sort();
    libs.iter().rev().find_map(|p| in_package(p))
}

/// Finds the onnxruntime shared library, in [`SEARCH_ORDER`]. `Err` is the one-line message
/// that says how to install it.
pub fn library() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "onnxruntime is not available: ORT_DYLIB_PATH={} is not a file; point it at \
                 libonnxruntime.so from `pip install {PINNED_WHEEL}` (scripts/requirements.txt)",
                path.display()
            ))
        };
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|p| !p.is_empty())
        && let Some(lib) = in_venv(Path::new(&venv))
    {
        return Ok(lib);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if let Some(lib) = in_venv(&dir.join(".venv")) {
                return Ok(lib);
            }
        }
    }
    let python = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    if let Ok(out) = python
        && out.status.success()
        && let Some(lib) = in_package(Path::new(String::from_utf8_lossy(&out.stdout).trim()))
    {
        return Ok(lib);
    }
    Err(format!(
        "onnxruntime is not available: no libonnxruntime found (looked at {SEARCH_ORDER}); \
         install it with `pip install {PINNED_WHEEL}` (pinned in scripts/requirements.txt) or \
         set ORT_DYLIB_PATH to the libonnxruntime.so it ships"
    ))
}

/// The process's one onnxruntime environment (onnxruntime allows one per process), made on
/// first use from the library [`library`] finds.
pub fn environment() -> Result<&'static Environment, RuntimeError> {
    static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let path = library()?;
        let built = guard::catch(|| -> Result<Environment, String> {
            let builder = ort::init_from(&path).map_err(|e| e.to_string())?;
            let pool = GlobalThreadPoolOptions::default()
                .with_spin_control(false)
                .map_err(|e| e.to_string())?;
            builder
                .with_name("onnx-parity")
                .with_telemetry(false)
                .with_global_thread_pool(pool)
                // Errors come back as statuses; nothing is printed behind our back.
                .with_logger(Arc::new(|_, _, _, _, _| {}))
                .build()
                .map_err(|e| e.to_string())
        });
        match built {
            Ok(Ok(env)) => Ok(env),
            Ok(Err(e)) | Err(e) => Err(format!(
                "onnxruntime is not available: loading {}: {e}; install it with `pip install \
                 {PINNED_WHEEL}` (scripts/requirements.txt) or set ORT_DYLIB_PATH",
                path.display()
            )),
        }
    });
    env.as_ref().map_err(|message| RuntimeError::Unavailable {
        runtime: "onnxruntime",
        message: message.clone(),
    })
}

/// A checked model with its onnxruntime sessions.
pub struct OrtRunnable {
    model: Arc<OnnxModel>,
    label: String,
    optimization: Optimization,
    /// Keyed by the outputs added to the graph (sorted); the empty key is the file as it is.
    sessions: HashMap<Vec<String>, Session>,
}

fn engine(path: &Path, stage: &'static str, message: String, panicked: bool) -> RuntimeError {
    RuntimeError::Engine {
        path: path.to_owned(),
        engine: "onnxruntime",
        stage,
        message,
        panicked,
    }
}

impl OrtRunnable {
    /// Loads the checked model into a session (its own outputs only), so that a model
    /// onnxruntime refuses fails here.
    pub fn new(model: Arc<OnnxModel>, optimization: Optimization) -> Result<Self, RuntimeError> {
        environment()?;
        let label = match optimization {
            Optimization::All => format!("onnxruntime: {}", model.path.display()),
            Optimization::Disabled => {
                format!("onnxruntime (unoptimized): {}", model.path.display())
            }
        };
        let mut runnable = Self {
            model,
            label,
            optimization,
            sessions: HashMap::new(),
        };
        runnable.session(&[])?;
        Ok(runnable)
    }

    /// The session whose graph also outputs `extra`, made on first use.
    fn session(&mut self, extra: &[String]) -> Result<&mut Session, RuntimeError> {
        if !self.sessions.contains_key(extra) {
            let session = self.load(extra)?;
            self.sessions.insert(extra.to_vec(), session);
        }
        Ok(self.sessions.get_mut(extra).expect("inserted above"))
    }

    fn load(&self, extra: &[String]) -> Result<Session, RuntimeError> {
        let env = environment()?;
        let path = &self.model.path;
        let bytes: Cow<[u8]> = if extra.is_empty() {
            Cow::Borrowed(self.model.source())
        } else {
            let fragment = ModelProto {
                graph: Some(GraphProto {
                    output: extra
                        .iter()
                        .map(|name| ValueInfoProto {
                            name: Some(name.clone()),
                            ..ValueInfoProto::default()
                        })
                        .collect(),
                    ..GraphProto::default()
                }),
                ..ModelProto::default()
            };
            let mut b = self.model.source().to_vec();
            b.extend(fragment.encode_to_vec());
            Cow::Owned(b)
        };
        let level = match self.optimization {
            Optimization::All => GraphOptimizationLevel::All,
            Optimization::Disabled => GraphOptimizationLevel::Disable,
        };
        let folder = self.model.dir().and_then(|d| d.canonicalize().ok());
        let result = guard::catch(|| -> Result<Session, String> {
            let err = |e: ort::Error<_>| e.to_string();
            let mut builder = Session::builder(env)
                .map_err(|e| e.to_string())?
                .with_optimization_level(level)
                .map_err(err)?;
            if let Some(folder) = &folder {
                builder = builder
                    .with_config_entry(
                        "session.model_external_initializers_file_folder_path",
                        folder.to_string_lossy(),
                    )
                    .map_err(err)?;
            }
            builder
                .commit_from_memory(&bytes)
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(message)) => Err(engine(path, "load", message, false)),
            Err(panic) => Err(engine(path, "load", panic, true)),
        }
    }
}

/// Names a fetch may use: graph outputs and inputs, initializers and every node output of the
/// main graph.
fn known_tensor(graph: &GraphProto, name: &str) -> bool {
    graph.output.iter().any(|o| o.name() == name)
        || graph.input.iter().any(|i| i.name() == name)
        || graph.initializer.iter().any(|t| t.name() == name)
        || graph
            .node
            .iter()
            .any(|n| n.output.iter().any(|o| o == name))
}

impl Runnable for OrtRunnable {
    fn label(&self) -> &str {
        &self.label
    }

    fn signature(&self) -> &Signature {
        &self.model.signature
    }

    fn graph(&self) -> Option<&ModelProto> {
        Some(&self.model.proto)
    }

    fn run(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<RunOutput, RuntimeError> {
        let ordered = super::order_by_signature(&self.label, &self.model.signature, inputs)?;
        let graph = self.model.graph();
        let request = |message: String| RuntimeError::Request {
            model: self.label.clone(),
            message,
        };
        let extra: BTreeSet<String> = fetch
            .iter()
            .filter(|f| !graph.output.iter().any(|o| o.name() == f.as_str()))
            .cloned()
            .collect();
        if let Some(missing) = extra.iter().find(|f| !known_tensor(graph, f)) {
            return Err(request(format!("no tensor named '{missing}' in the graph")));
        }
        // Sizes that the fed values ask for, as for constants in the file.
        let small = |name: &str| -> Option<&Tensor> {
            ordered
                .iter()
                .find(|f| f.name == name)
                .map(|f| &*f.value)
                .filter(|t| t.len() <= super::tract::MAX_CONSTANT_ELEMENTS)
        };
        super::sizes::check_graph_fed(graph, self.model.limits(), &small, "onnxruntime").map_err(
            |message| RuntimeError::Model {
                path: self.model.path.clone(),
                message: format!("with the given inputs, {message}"),
            },
        )?;

        let extra: Vec<String> = extra.into_iter().collect();
        let path = self.model.path.clone();
        let session = self.session(&extra)?;
        let declared: Vec<(String, Option<TensorElementType>)> = session
            .inputs()
            .iter()
            .map(|o| {
                let ty = match o.dtype() {
                    ValueType::Tensor { ty, .. } => Some(*ty),
                    _ => None,
                };
                (o.name().to_owned(), ty)
            })
            .collect();
        let result = guard::catch(|| -> Result<Vec<Tensor>, (&'static str, String)> {
            let mut values: Vec<(String, DynValue)> = Vec::with_capacity(ordered.len());
            for feed in &ordered {
                let ty = declared
                    .iter()
                    .find(|(n, _)| n == &feed.name)
                    .and_then(|(_, t)| *t);
                let value = to_ort(&feed.value, ty)
                    .map_err(|e| ("run", format!("input '{}': {e}", feed.name)))?;
                values.push((feed.name.clone(), value));
            }
            let mut outputs = session.run(values).map_err(|e| ("run", e.to_string()))?;
            fetch
                .iter()
                .map(|name| {
                    let value = outputs
                        .remove(name.as_str())
                        .ok_or_else(|| ("run", format!("no output named '{name}' came back")))?;
                    from_ort(value).map_err(|e| ("run", format!("output '{name}': {e}")))
                })
                .collect()
        });
        match result {
            Ok(Ok(values)) => Ok(RunOutput {
                values,
                bound_as_constants: Vec::new(),
            }),
            Ok(Err((stage, message))) => Err(engine(&path, stage, message, false)),
            Err(panic) => Err(engine(&path, "run", panic, true)),
        }
    }
}

/// The ONNX data type of an onnxruntime element type.
fn onnx_type(ty: TensorElementType) -> Option<DataType> {
    use TensorElementType as T;
    Some(match ty {
        T::Float32 => DataType::Float,
        T::Uint8 => DataType::Uint8,
        T::Int8 => DataType::Int8,
        T::Uint16 => DataType::Uint16,
        T::Int16 => DataType::Int16,
        T::Int32 => DataType::Int32,
        T::Int64 => DataType::Int64,
        T::String => DataType::String,
        T::Bool => DataType::Bool,
        T::Float16 => DataType::Float16,
        T::Float64 => DataType::Double,
        T::Uint32 => DataType::Uint32,
        T::Uint64 => DataType::Uint64,
        T::Bfloat16 => DataType::Bfloat16,
        T::Float8E4M3FN => DataType::Float8e4m3fn,
        T::Float8E4M3FNUZ => DataType::Float8e4m3fnuz,
        T::Float8E5M2 => DataType::Float8e5m2,
        T::Float8E5M2FNUZ => DataType::Float8e5m2fnuz,
        T::Float8E8M0 => DataType::Float8e8m0,
        T::Float4E2M1 => DataType::Float4e2m1,
        T::Uint4 => DataType::Uint4,
        T::Int4 => DataType::Int4,
        T::Uint2 => DataType::Uint2,
        T::Int2 => DataType::Int2,
        _ => return None,
    })
}

fn element_type(dt: DataType) -> Option<TensorElementType> {
    use TensorElementType as T;
    Some(match dt {
        DataType::Float => T::Float32,
        DataType::Uint8 => T::Uint8,
        DataType::Int8 => T::Int8,
        DataType::Uint16 => T::Uint16,
        DataType::Int16 => T::Int16,
        DataType::Int32 => T::Int32,
        DataType::Int64 => T::Int64,
        DataType::String => T::String,
        DataType::Bool => T::Bool,
        DataType::Float16 => T::Float16,
        DataType::Double => T::Float64,
        DataType::Uint32 => T::Uint32,
        DataType::Uint64 => T::Uint64,
        DataType::Bfloat16 => T::Bfloat16,
        DataType::Float8e4m3fn => T::Float8E4M3FN,
        DataType::Float8e4m3fnuz => T::Float8E4M3FNUZ,
        DataType::Float8e5m2 => T::Float8E5M2,
        DataType::Float8e5m2fnuz => T::Float8E5M2FNUZ,
        DataType::Float8e8m0 => T::Float8E8M0,
        DataType::Float4e2m1 => T::Float4E2M1,
        DataType::Uint4 => T::Uint4,
        DataType::Int4 => T::Int4,
        DataType::Uint2 => T::Uint2,
        DataType::Int2 => T::Int2,
        _ => return None,
    })
}

/// A tract tensor as an onnxruntime value of the type the session declares (`declared`): the
/// tensor's own type, or a narrow type it carries widened.
fn to_ort(t: &Tensor, declared: Option<TensorElementType>) -> Result<DynValue, String> {
    let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    if t.datum_type() == DatumType::String {
        let view = t
            .to_plain_array_view::<String>()
            .map_err(|e| e.to_string())?;
        let data: Vec<String> = view.iter().cloned().collect();
        return ort::value::Tensor::from_string_array((shape, data.as_slice()))
            .map(Into::into)
            .map_err(|e| e.to_string());
    }
    let own = onnx_data_type(t.datum_type())
        .ok_or_else(|| format!("element type {:?} has no ONNX type", t.datum_type()))?;
    let narrow = declared
        .and_then(onnx_type)
        .filter(|&d| d != own && exotic::widened(d).is_some_and(|(w, _)| w == t.datum_type()));
    let (dt, bytes): (DataType, Cow<[u8]>) = match narrow {
        Some(d) => (d, Cow::Owned(exotic::narrow(d, t)?)),
        None => (own, Cow::Borrowed(t.as_bytes())),
    };
    let ty =
        element_type(dt).ok_or_else(|| format!("{} has no onnxruntime type", dt.as_str_name()))?;
    let mut value = DynTensor::new(&Allocator::default(), ty, shape).map_err(|e| e.to_string())?;
    if !bytes.is_empty() {
        let dst = value.data_ptr_mut().cast::<u8>();
        if dst.is_null() {
            return Err("onnxruntime gave no buffer for a non-empty tensor".to_owned());
        }
        // SAFETY: the tensor was allocated for exactly this shape and type on the CPU, and
        // `bytes` holds that many bytes in the same little-endian layout.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
    }
    Ok(value.into())
}

/// An onnxruntime output as a tract tensor (narrow types widened).
fn from_ort(value: DynValue) -> Result<Tensor, String> {
    let (ty, shape) = match value.dtype() {
        ValueType::Tensor { ty, shape, .. } => (*ty, shape.clone()),
        other => return Err(format!("is a {other}, not a tensor")),
    };
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dim {d}")))
        .collect::<Result<_, _>>()?;
    let tensor = value
        .downcast::<DynTensorValueType>()
        .map_err(|e| e.to_string())?;
    if ty == TensorElementType::String {
        let (_, strings) = tensor.try_extract_strings().map_err(|e| e.to_string())?;
        let array = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&dims), strings)
            .map_err(|e| e.to_string())?;
        return Ok(Tensor::from(array));
    }
    let dt = onnx_type(ty).ok_or_else(|| format!("element type {ty} is not supported here"))?;
    let count: usize = dims.iter().product();
    let len = ty
        .byte_size(count)
        .ok_or_else(|| format!("element type {ty} has no fixed size"))?;
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        let src = tensor.data_ptr().cast::<u8>();
        if src.is_null() {
            return Err("onnxruntime gave no buffer for a non-empty tensor".to_owned());
        }
        // SAFETY: a CPU tensor of `count` elements of `ty` holds `len` bytes at its data
        // pointer; the value lives until the end of this function.
        unsafe { std::slice::from_raw_parts(src, len) }
    };
    if let Some(t) = exotic::widen(dt, bytes, &dims) {
        return Ok(t);
    }
    let datum = match dt {
        DataType::Float => DatumType::F32,
        DataType::Double => DatumType::F64,
        DataType::Float16 => DatumType::F16,
        DataType::Int8 => DatumType::I8,
        DataType::Int16 => DatumType::I16,
        DataType::Int32 => DatumType::I32,
        DataType::Int64 => DatumType::I64,
        DataType::Uint8 => DatumType::U8,
        DataType::Uint16 => DatumType::U16,
        DataType::Uint32 => DatumType::U32,
        DataType::Uint64 => DatumType::U64,
        DataType::Bool => DatumType::Bool,
        other => {
            return Err(format!(
                "element type {} is not supported here",
                other.as_str_name()
            ));
        }
    };
    if datum == DatumType::Bool && bytes.iter().any(|&b| b > 1) {
        return Err("a BOOL output holds a byte other than 0 or 1".to_owned());
    }
    // SAFETY: `bytes` holds `count` little-endian elements of `datum` (every bit pattern is a
    // valid value, BOOL checked above).
    unsafe { Tensor::from_raw_dt(datum, &dims, bytes) }.map_err(|e| format!("{e:#}"))
}
