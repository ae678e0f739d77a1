//! Runtimes: one seam through which every command runs a model.
//!
//! In the spirit of tract's own Runtime/Runnable split: a [`Runtime`] prepares an ONNX model
//! once into a [`Runnable`], which then runs many times on named tensors of any element type
//! and returns the tensors asked for by name: graph outputs, and intermediate tensors where the
//! runtime can see inside the graph. Every runnable also says what it takes and gives (its
//! [`Signature`]). The implementations, one file each:
//!
//! - [`tract`]: tract on an ONNX file, the only place tract loads and plans a model;
//! - [`onnxruntime`]: onnxruntime on an ONNX file through `ort`, its library found at run time
//!   (a runtime that may be unavailable: [`RuntimeError::Unavailable`]);
//! - [`burn_model`]: the trained burn graph (MLP or CNN), from weights on disk or in memory,
//!   its intermediate results named and shaped like our export's tensors;
//! - [`burn_import`] (feature `burn-import`): the burn code burn-import generated from an ONNX
//!   file at build time, graph outputs only;
//! - [`recorded`]: a test set played back, the outputs another framework recorded.
//!
//! A model file is checked once, before any runtime sees it ([`onnx_model`]); [`head`] finds
//! the true logits under a sigmoid head on top of any runnable. This module must never compare
//! or judge outputs: it only produces them.

#[cfg(feature = "burn-import")]
pub mod burn_import;
pub mod burn_model;
pub mod guard;
pub mod head;
pub mod onnx_model;
pub mod onnxruntime;
pub mod recorded;
pub mod sizes;
pub mod tract;

use std::path::PathBuf;
use std::sync::Arc;

use tract_onnx::prelude::Tensor;

use crate::onnx::pb::ModelProto;
use crate::onnx::{OnnxError, Signature};

pub use self::burn_model::BurnRunnable;
pub use self::onnx_model::OnnxModel;
pub use self::onnxruntime::{OnnxRuntime, Optimization};
pub use self::tract::{Stage, Tract};

/// A tensor fed to a model: the model input it stands for and its value, shared so that a
/// runtime can take it without a copy.
#[derive(Debug, Clone)]
pub struct Feed {
    pub name: String,
    pub value: Arc<Tensor>,
}

impl Feed {
    pub fn new(name: impl Into<String>, value: impl Into<Arc<Tensor>>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// The tensors asked for, in the order asked.
    pub values: Vec<Tensor>,
    /// Inputs the runtime bound into the graph as constants to be able to run it (tract needs
    /// some operands constant that ONNX lets a graph take as inputs); empty almost always.
    pub bound_as_constants: Vec<String>,
}

/// A model prepared by a runtime: run it as often as needed.
pub trait Runnable {
    /// Who runs what, for reports: `tract: models/x/model.onnx`.
    fn label(&self) -> &str;

    /// The inputs it takes and the outputs it gives.
    fn signature(&self) -> &Signature;

    /// The ONNX graph it computes, when it has one (layer matching and head detection read
    /// structure from it); `None` for recorded data.
    fn graph(&self) -> Option<&ModelProto>;

    /// Runs on `inputs` and returns `fetch`: graph outputs or, where the runtime can see inside
    /// the graph, intermediate tensors, by name. A mismatch of names, types or shapes with what
    /// the model takes is an `Err` naming the model.
    fn run(&mut self, inputs: &[Feed], fetch: &[String]) -> Result<RunOutput, RuntimeError>;
}

/// Something that turns a checked ONNX model into a [`Runnable`].
pub trait Runtime {
    /// Its name on the command line and in reports: `tract`, `burn-import`.
    fn name(&self) -> &'static str;

    fn prepare(&self, model: &Arc<OnnxModel>) -> Result<Box<dyn Runnable>, RuntimeError>;

    /// The nodes of `model` this runtime has no operator for, found without running it (what
    /// `inspect` lists); `Ok(None)` when the runtime cannot tell, the default. `Err` when it
    /// cannot even load the model.
    fn missing_ops(&self, model: &Arc<OnnxModel>) -> Result<Option<Vec<MissingOp>>, RuntimeError> {
        let _ = model;
        Ok(None)
    }

    /// The same runtime with its graph optimizations off (tract decluttered, onnxruntime at
    /// level "disabled"), to trace a difference to the optimizer; `None` when it has no such
    /// stage.
    fn unoptimized(&self) -> Option<Box<dyn Runtime>> {
        None
    }
}

/// A node whose operator a runtime does not implement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingOp {
    pub node: String,
    /// `Op`, or `domain::Op` outside the default domain.
    pub op: String,
}

/// Why a model could not be loaded or run. Every message names the model.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// From the protobuf layer, which names the file (or the tensor inside a named file).
    #[error(transparent)]
    Onnx(#[from] OnnxError),

    #[error("reading {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A model that decodes but cannot be what it claims (no graph, a dangling name).
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },

    #[error("{path}: tensor {tensor}: external data refused: {reason}")]
    ExternalData {
        path: PathBuf,
        tensor: String,
        reason: String,
    },

    /// Something the file uses that no runtime here supports, found before one saw it.
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },

    /// The engine refused or failed (`stage` is load, optimize or run). `panicked` says it
    /// panicked rather than returned an error; the panic was caught.
    #[error("{path}: {engine} could not {stage} the model{}: {message}", if *panicked { " (it panicked)" } else { "" })]
    Engine {
        path: PathBuf,
        engine: &'static str,
        stage: &'static str,
        message: String,
        panicked: bool,
    },

    /// The runtime itself is missing (onnxruntime's shared library was not found or did not
    /// load); the message says how to install it.
    #[error("{message}")]
    Unavailable {
        runtime: &'static str,
        message: String,
    },

    /// Inputs or a fetch the model cannot take: a wrong count, type or shape, a tensor it does
    /// not compute, recorded outputs asked for other inputs.
    #[error("{model}: {message}")]
    Request { model: String, message: String },
}

impl RuntimeError {
    /// Whether a runtime does not support what the model uses (an operator, an element type),
    /// as opposed to the files being wrong.
    pub fn is_unsupported(&self) -> bool {
        match self {
            RuntimeError::Unsupported { .. } | RuntimeError::Engine { .. } => true,
            RuntimeError::Onnx(e) => e.is_unsupported(),
            _ => false,
        }
    }
}

/// A runtime that runs any ONNX file, as configs and the `--runtime` flags name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    #[default]
    Tract,
    Onnxruntime,
}

impl RuntimeKind {
    pub const ALL: [RuntimeKind; 2] = [RuntimeKind::Tract, RuntimeKind::Onnxruntime];

    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Tract => "tract",
            RuntimeKind::Onnxruntime => "onnxruntime",
        }
    }

    /// What its graph is called with optimizations off, for reports.
    pub fn unoptimized_stage(self) -> &'static str {
        match self {
            RuntimeKind::Tract => "decluttered",
            RuntimeKind::Onnxruntime => "unoptimized",
        }
    }

    /// The runtime, fully optimized; `Err` when it is not available on this machine
    /// (onnxruntime without its library), saying how to install it.
    pub fn runtime(self) -> Result<Box<dyn Runtime>, RuntimeError> {
        Ok(match self {
            RuntimeKind::Tract => Box::new(Tract::default()),
            RuntimeKind::Onnxruntime => {
                onnxruntime::environment()?;
                Box::new(OnnxRuntime::default())
            }
        })
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        RuntimeKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown runtime '{s}' (runtimes: tract, onnxruntime)"))
    }
}

/// The runtimes that prepare an ONNX file, by name: `tract`, `onnxruntime` (when its library
/// is found), and `burn-import` in builds with that feature (it runs only the files it was
/// built from). `Err` for an unknown name or a runtime missing on this machine.
pub fn runtime(name: &str) -> Result<Box<dyn Runtime>, RuntimeError> {
    #[cfg(feature = "burn-import")]
    if name == "burn-import" {
        return Ok(Box::new(burn_import::BurnImport));
    }
    let kind: RuntimeKind = name.parse().map_err(|message| RuntimeError::Unavailable {
        runtime: "unknown",
        message,
    })?;
    kind.runtime()
}

/// A way of computing a model other than the usual one, named for reports.
pub type NoiseSource = (String, Box<dyn Runnable>);

/// The same model prepared other ways, each named, whose outputs on the same inputs measure
/// the noise floor of a comparison (`--suggest-tolerance`): `kind`'s own unoptimized graph
/// (against the optimized one every command runs), and every other runtime of [`RuntimeKind`]
/// available on this machine (one missing here is left out, not an error).
pub fn noise_sources(
    model: &Arc<OnnxModel>,
    kind: RuntimeKind,
) -> Result<Vec<NoiseSource>, RuntimeError> {
    let mut sources = Vec::new();
    if let Some(unoptimized) = kind.runtime()?.unoptimized() {
        sources.push((
            format!("{kind} {} vs optimized", kind.unoptimized_stage()),
            unoptimized.prepare(model)?,
        ));
    }
    for other in RuntimeKind::ALL.into_iter().filter(|&k| k != kind) {
        match other.runtime() {
            Ok(runtime) => sources.push((format!("{other} vs {kind}"), runtime.prepare(model)?)),
            Err(RuntimeError::Unavailable { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sources)
}

/// Feeds in the order of the signature's inputs, matched by name. `Err` names what is missing
/// or extra.
pub fn order_by_signature<'a>(
    label: &str,
    signature: &Signature,
    inputs: &'a [Feed],
) -> Result<Vec<&'a Feed>, RuntimeError> {
    let request = |message: String| RuntimeError::Request {
        model: label.to_owned(),
        message,
    };
    let ordered = signature
        .inputs
        .iter()
        .map(|decl| {
            inputs
                .iter()
                .find(|f| f.name == decl.name)
                .ok_or_else(|| request(format!("no value given for input '{}'", decl.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(extra) = inputs
        .iter()
        .find(|f| !signature.inputs.iter().any(|d| d.name == f.name))
    {
        return Err(request(format!(
            "'{}' is not one of its inputs ({})",
            extra.name,
            signature
                .inputs
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(ordered)
}
