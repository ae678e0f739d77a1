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

use ndarray::{Array2, ArrayD, Ix2};
use tract_onnx::prelude::{DatumType, Tensor};

use crate::onnx::{OnnxError, TensorLimits};

pub use npy::NpyRows;
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
    labels_f32(npy::read_npy(path, limits)?).map_err(fail)
}

/// Labels of any numeric or bool type as f32 (bool through 0/1).
pub fn labels_f32(t: Tensor) -> Result<ArrayD<f32>, String> {
    let t = match t.datum_type() {
        DatumType::F32 => t,
        DatumType::Bool => t
            .cast_to::<u8>()
            .and_then(|c| c.cast_to::<f32>().map(|c| c.into_owned()))
            .map_err(|e| format!("{e:#}"))?,
        _ => t
            .cast_to::<f32>()
            .map(|c| c.into_owned())
            .map_err(|e| format!("{e:#}"))?,
    };
    t.into_plain_array::<f32>().map_err(|e| format!("{e:#}"))
}

/// The binary targets of a training set (`--targets`): float32 `[rows, k]`, one row per
/// sample in file order, every value exactly 0.0 or 1.0. Anything else is refused with the
/// first offending row and column: a NaN, a value in between, a row count that does not match.
pub fn read_targets(
    path: &Path,
    rows: usize,
    limits: TensorLimits,
) -> Result<Array2<f32>, RefDataError> {
    let fail = |message: String| RefDataError::Npy {
        path: path.to_owned(),
        message,
    };
    if path.extension().and_then(|e| e.to_str()) != Some("npy") {
        return Err(fail("targets must be a .npy file".to_owned()));
    }
    let t = npy::read_npy(path, limits)?;
    if t.datum_type() != DatumType::F32 || t.rank() != 2 {
        return Err(fail(format!(
            "expected float32 [samples, targets] of 0/1, found {} {:?} (NumPy: .astype(np.float32))",
            crate::metrics::datum_name(t.datum_type()),
            t.shape()
        )));
    }
    let (n, k) = (t.shape()[0], t.shape()[1]);
    if n != rows {
        return Err(fail(format!(
            "has {n} rows but the data has {rows} samples (one row per image, in file order)"
        )));
    }
    if k == 0 {
        return Err(fail("has 0 target columns".to_owned()));
    }
    let targets = t
        .into_plain_array::<f32>()
        .map_err(|e| fail(format!("{e:#}")))?
        .into_dimensionality::<Ix2>()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(((r, c), v)) = targets
        .indexed_iter()
        .find(|(_, v)| **v != 0.0 && **v != 1.0)
    {
        return Err(fail(if v.is_nan() {
            format!("NaN at row {r}, column {c}: targets must be 0 or 1")
        } else {
            format!("value {v} at row {r}, column {c} is not 0 or 1")
        }));
    }
    Ok(targets)
}

#[cfg(test)]
mod targets_tests {
    use super::*;
    use ndarray_npy::WriteNpyExt;

    fn write<A: ndarray_npy::WritableElement>(
        dir: &Path,
        name: &str,
        a: &ndarray::ArrayD<A>,
    ) -> PathBuf {
        let path = dir.join(name);
        let mut bytes = Vec::new();
        a.write_npy(&mut bytes).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn targets_must_be_binary_float32_with_one_row_per_sample() {
        let dir = tempfile::tempdir().unwrap();
        let lim = TensorLimits::default();
        let good = ArrayD::from_shape_fn(vec![4, 3], |i| ((i[0] + i[1]) % 2) as f32);
        let p = write(dir.path(), "good.npy", &good);
        assert_eq!(
            read_targets(&p, 4, lim).unwrap(),
            good.clone().into_dimensionality::<Ix2>().unwrap()
        );
        let err = |p: &Path, rows| read_targets(p, rows, lim).unwrap_err().to_string();
        assert!(err(&p, 5).contains("has 4 rows but the data has 5 samples"));
        let mut nan = good.clone();
        nan[[2, 1]] = f32::NAN;
        let e = err(&write(dir.path(), "nan.npy", &nan), 4);
        assert!(
            e.contains("nan.npy") && e.contains("NaN at row 2, column 1"),
            "{e}"
        );
        let mut half = good.clone();
        half[[3, 0]] = 0.5;
        assert!(
            err(&write(dir.path(), "half.npy", &half), 4).contains("value 0.5 at row 3, column 0")
        );
        let f64s = good.mapv(f64::from);
        let e = err(&write(dir.path(), "f64.npy", &f64s), 4);
        assert!(
            e.contains("expected float32") && e.contains("f64.npy"),
            "{e}"
        );
        let flat = ArrayD::<f32>::zeros(vec![4]);
        assert!(
            err(&write(dir.path(), "flat.npy", &flat), 4)
                .contains("expected float32 [samples, targets]")
        );
        let empty = ArrayD::<f32>::zeros(vec![4, 0]);
        assert!(err(&write(dir.path(), "empty.npy", &empty), 4).contains("0 target columns"));
        std::fs::write(dir.path().join("t.txt"), b"").unwrap();
        assert!(err(&dir.path().join("t.txt"), 4).contains("must be a .npy file"));
    }
}
