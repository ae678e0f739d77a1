//! Reference data in and out: ONNX backend test sets (`.pb`), NumPy `.npy`/`.npz` files and
//! MNIST's IDX files, every one read by a reader that checks sizes before it allocates.
//!
//! Why one module: every file the crate reads (test sets, labels, weights, sample indices,
//! datasets) may come from anyone, so each goes through the same hardened code and names the
//! file in its errors. Tensors come out as tract [`Tensor`]s, the currency every runtime takes.
//! This module must never run a model or decide what a tensor means.
//!
//! [`Tensor`]: tract_onnx::prelude::Tensor

pub mod idx;
pub mod npy;
pub mod testset;
pub mod tf_log;

use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use tract_onnx::prelude::DatumType;

use crate::onnx::{OnnxError, TensorLimits};

pub use testset::{MatchedBy, RefTensor, TestSet};
pub use tf_log::{TfReference, read_tf_reference};

/// Why reference data could not be read. Every message names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum RefDataError {
    /// From the protobuf layer (a `.pb` tensor), which names the file.
    #[error(transparent)]
    Onnx(#[from] OnnxError),

    #[error("reading {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A test-data folder or file that cannot serve as reference data for this model.
    #[error("{path}: {message}")]
    TestData { path: PathBuf, message: String },

    /// A `.npy` or `.npz` file that cannot be read, or does not hold what it should.
    #[error("{path}: {message}")]
    Npy { path: PathBuf, message: String },

    /// A TensorFlow reference log that cannot be read or is not one.
    #[error("{path}: {message}")]
    TfLog { path: PathBuf, message: String },
}

impl RefDataError {
    /// Whether the data is fine but uses something this reader does not support (an element
    /// type), as opposed to being wrong.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, RefDataError::Onnx(e) if e.is_unsupported())
    }
}

/// Binary targets from a `.npy` file, as f32 whatever numeric or bool type the file holds.
pub fn read_labels(path: &Path, limits: TensorLimits) -> Result<ArrayD<f32>, RefDataError> {
    let fail = |message: String| RefDataError::Npy {
        path: path.to_owned(),
        message,
    };
    if path.extension().and_then(|e| e.to_str()) != Some("npy") {
        return Err(fail("labels must be a .npy file".to_owned()));
    }
    let t = npy::read_npy(path, limits)?;
    let t = match t.datum_type() {
        DatumType::F32 => t,
        DatumType::Bool => t
            .cast_to::<u8>()
            .and_then(|c| c.cast_to::<f32>().map(|c| c.into_owned()))
            .map_err(|e| fail(format!("{e:#}")))?,
        _ => t
            .cast_to::<f32>()
            .map(|c| c.into_owned())
            .map_err(|e| fail(format!("{e:#}")))?,
    };
    t.into_plain_array::<f32>()
        .map_err(|e| fail(format!("{e:#}")))
}
