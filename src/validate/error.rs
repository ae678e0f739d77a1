//! Why a validation could not run. Every message names the file it is about.

use std::path::PathBuf;

use crate::refdata::RefDataError;
use crate::runtime::RuntimeError;

/// What kind of "could not run" an error is: the conformance runner counts the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Opening or running the model.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    /// Reading the reference data.
    #[error(transparent)]
    RefData(#[from] RefDataError),

    /// Labels that do not fit the loss output.
    #[error("{path}: {message}")]
    Labels { path: PathBuf, message: String },

    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
}

impl ValidateError {
    pub fn kind(&self) -> ErrorKind {
        let unsupported = match self {
            ValidateError::Runtime(e) => e.is_unsupported(),
            ValidateError::RefData(e) => e.is_unsupported(),
            _ => false,
        };
        if unsupported {
            ErrorKind::Unsupported
        } else {
            ErrorKind::Invalid
        }
    }

    /// The message with its causes, outermost first, on one line.
    pub fn chain(&self) -> String {
        crate::error_chain(self)
    }
}
