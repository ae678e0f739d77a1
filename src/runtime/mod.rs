//! Runtimes: one seam through which every command runs a model.
//!
//! In the spirit of tract's own Runtime/Runnable split: a [`Runtime`] prepares an ONNX model
//! once into a [`Runnable`], which then runs many times on named tensors of any element type
//! and returns the tensors asked for by name: graph outputs, and intermediate tensors where the
//! runtime can see inside the graph. Every runnable also says what it takes and gives (its
//! [`Signature`]). The implementations, one file each:
//!
//! - [`tract`]: tract on an ONNX file, the only place tract loads and plans a model;
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

/// The runtimes that prepare any ONNX file, by name: `tract`, and `burn-import` in builds
/// with that feature (it runs only the files it was built from).
pub fn runtime(name: &str) -> Option<Box<dyn Runtime>> {
    match name {
        "tract" => Some(Box::new(Tract::default())),
        #[cfg(feature = "burn-import")]
        "burn-import" => Some(Box::new(burn_import::BurnImport)),
        _ => None,
    }
}

/// A way of computing a model other than the usual one, named for reports.
pub type NoiseSource = (String, Box<dyn Runnable>);

/// The same model prepared other ways, each named, whose outputs on the same inputs measure
/// the noise floor of a comparison (`--suggest-tolerance`): today tract's decluttered graph
/// (against the optimized one every command runs). Another runtime that runs any ONNX file
/// belongs in this list.
pub fn noise_sources(model: &Arc<OnnxModel>) -> Result<Vec<NoiseSource>, RuntimeError> {
    Ok(vec![(
        "tract decluttered vs optimized".to_owned(),
        Tract {
            stage: Stage::Decluttered,
            ..Tract::default()
        }
        .prepare(model)?,
    )])
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
