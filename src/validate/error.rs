//! Why a validation could not run. Every message names the file it is about.

use std::path::PathBuf;

use crate::onnx::OnnxError;

/// What kind of "could not run" an error is: the conformance runner counts the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The runtime (tract) or our decoder does not support something the file uses: an
    /// operator, an element type, a non-tensor input.
    Unsupported,
    /// The files are wrong or unreadable: corrupt bytes, mismatched reference data, refused
    /// external data, missing inputs.
    Invalid,
}

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
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

    /// Something we do not support, found before tract saw the file.
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },

    /// tract refused or failed (`stage` is load, optimize or run). `panicked` says tract
    /// panicked rather than returned an error; the panic was caught.
    #[error("{path}: tract could not {stage} the model{}: {message}", if *panicked { " (it panicked)" } else { "" })]
    Tract {
        path: PathBuf,
        stage: &'static str,
        message: String,
        panicked: bool,
    },

    /// A test-data folder or file that cannot serve as reference data for this model.
    #[error("{path}: {message}")]
    TestData { path: PathBuf, message: String },

    /// A `.npy` or `.npz` file that cannot be read.
    #[error("{path}: {message}")]
    Npy { path: PathBuf, message: String },

    #[error("{path}: {message}")]
    Labels { path: PathBuf, message: String },

    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
}

impl ValidateError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ValidateError::Unsupported { .. } | ValidateError::Tract { .. } => {
                ErrorKind::Unsupported
            }
            ValidateError::Onnx(e) if is_unsupported(e) => ErrorKind::Unsupported,
            _ => ErrorKind::Invalid,
        }
    }

    /// The message with its causes, outermost first, on one line.
    pub fn chain(&self) -> String {
        chain(self)
    }
}

fn is_unsupported(e: &OnnxError) -> bool {
    match e {
        OnnxError::Unsupported { .. } => true,
        OnnxError::InFile { source, .. } => is_unsupported(source),
        _ => false,
    }
}

/// An error and its causes joined by ": ".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
