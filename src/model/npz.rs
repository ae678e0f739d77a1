//! MLP weights in `.npz` files, Keras layout, and sample orders in `.npy` files.
//!
//! Why: weights cross between this crate and Keras in both directions. The convention is the one
//! Keras's `model.weights` paths use: `dense/kernel` `[in, out]`, `dense/bias` `[out]`, then
//! `dense_1/...`, `dense_2/...`, float32. Reading checks every name, shape and dtype and names
//! the offending array; nothing is guessed or transposed.
//! This module must never decide what the weights are used for.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpyExt};

use crate::model::weights::{Dense, MlpWeights, keras_dense_name};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("reading {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: array {array}: {message}", path.display())]
    Array {
        path: PathBuf,
        array: String,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Layout { path: PathBuf, message: String },
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> WeightsError {
    WeightsError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Read an MLP from `dense/kernel`, `dense/bias`, `dense_1/kernel`, ... Every array must be
/// float32, kernels 2-D, biases 1-D, consecutive layers must chain, and no other array may be
/// present (an extra array usually means a different model).
pub fn read_weights(path: &Path) -> Result<MlpWeights, WeightsError> {
    let file = File::open(path).map_err(|e| read_err(path, e))?;
    let mut npz = NpzReader::new(BufReader::new(file))
        .map_err(|e| read_err(path, format!("not a valid .npz file: {e}")))?;
    let mut names = npz.names().map_err(|e| read_err(path, e))?;
    names.sort();
    let layout = |message: String| WeightsError::Layout {
        path: path.to_path_buf(),
        message,
    };
    let array = |name: &str, message: String| WeightsError::Array {
        path: path.to_path_buf(),
        array: name.to_string(),
        message,
    };
    let mut layers: Vec<Dense> = Vec::new();
    loop {
        let name = keras_dense_name(layers.len());
        let (k, b) = (format!("{name}/kernel"), format!("{name}/bias"));
        let has = |n: &str| names.iter().any(|x| x == n);
        match (has(&k), has(&b)) {
            (false, false) => break,
            (true, false) => return Err(layout(format!("{k} is present but {b} is missing"))),
            (false, true) => return Err(layout(format!("{b} is present but {k} is missing"))),
            (true, true) => {}
        }
        let kernel: Array2<f32> = npz
            .by_name::<_, Ix2>(&k)
            .map_err(|e| array(&k, format!("expected a 2-D float32 array [in, out]: {e}")))?;
        let bias: Array1<f32> = npz
            .by_name::<_, Ix1>(&b)
            .map_err(|e| array(&b, format!("expected a 1-D float32 array [out]: {e}")))?;
        if bias.len() != kernel.ncols() {
            return Err(array(
                &b,
                format!(
                    "has {} values but {k} has {} outputs",
                    bias.len(),
                    kernel.ncols()
                ),
            ));
        }
        if let Some(prev) = layers.last()
            && kernel.nrows() != prev.kernel.ncols()
        {
            return Err(array(
                &k,
                format!(
                    "has {} inputs but the previous layer has {} outputs",
                    kernel.nrows(),
                    prev.kernel.ncols()
                ),
            ));
        }
        layers.push(Dense { name, kernel, bias });
    }
    if layers.is_empty() {
        return Err(layout(format!(
            "no dense/kernel and dense/bias arrays (found: {})",
            names.join(", ")
        )));
    }
    let used: Vec<String> = layers
        .iter()
        .flat_map(|l| [format!("{}/kernel", l.name), format!("{}/bias", l.name)])
        .collect();
    let extra: Vec<&String> = names.iter().filter(|n| !used.contains(n)).collect();
    if !extra.is_empty() {
        let extra: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
        return Err(layout(format!(
            "unexpected arrays {} (expected only {})",
            extra.join(", "),
            used.join(", ")
        )));
    }
    Ok(MlpWeights { layers })
}

/// The `.npz` bytes of `weights` in the layout [`read_weights`] reads. Uncompressed, arrays in
/// layer order, so equal weights give equal bytes.
pub fn weights_npz_bytes(weights: &MlpWeights) -> Vec<u8> {
    let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
    for l in &weights.layers {
        npz.add_array(format!("{}/kernel", l.name), &l.kernel)
            .expect("in-memory npz write");
        npz.add_array(format!("{}/bias", l.name), &l.bias)
            .expect("in-memory npz write");
    }
    npz.finish().expect("in-memory npz write").into_inner()
}

/// Read a 1-D array of sample indices (int64, NumPy's default, or int32). Negative values are
/// refused here; the upper bound is checked where the data is known.
pub fn read_indices(path: &Path) -> Result<Vec<usize>, WeightsError> {
    let bytes = std::fs::read(path).map_err(|e| read_err(path, e))?;
    let (values, ndim): (Vec<i64>, usize) = match ArrayD::<i64>::read_npy(&bytes[..]) {
        Ok(a) => (a.iter().copied().collect(), a.ndim()),
        Err(e) => match ArrayD::<i32>::read_npy(&bytes[..]) {
            Ok(a) => (a.iter().map(|&v| i64::from(v)).collect(), a.ndim()),
            Err(_) => {
                return Err(read_err(
                    path,
                    format!("expected a 1-D int64 or int32 .npy array: {e}"),
                ));
            }
        },
    };
    if ndim != 1 {
        return Err(read_err(
            path,
            format!("expected a 1-D array of sample indices, found {ndim} dims"),
        ));
    }
    if values.is_empty() {
        return Err(read_err(path, "holds no indices"));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            usize::try_from(v)
                .map_err(|_| read_err(path, format!("index {v} at position {i} is negative")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use ndarray_npy::WriteNpyExt;

    fn write(dir: &Path, name: &str, arrays: &[(&str, ArrayD<f32>)]) -> PathBuf {
        let path = dir.join(name);
        let mut npz = NpzWriter::new(File::create(&path).unwrap());
        for (n, a) in arrays {
            npz.add_array(*n, a).unwrap();
        }
        npz.finish().unwrap();
        path
    }

    #[test]
    fn weights_round_trip_bit_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let w = MlpWeights::glorot_uniform(&[5, 4, 3, 2], 11);
        let path = dir.path().join("w.npz");
        std::fs::write(&path, weights_npz_bytes(&w)).unwrap();
        assert_eq!(read_weights(&path).unwrap(), w);
        assert_eq!(weights_npz_bytes(&w), weights_npz_bytes(&w.clone()));
    }

    #[test]
    fn layout_errors_name_the_array() {
        let dir = tempfile::tempdir().unwrap();
        let k = |r, c| ArrayD::<f32>::zeros(vec![r, c]);
        let b = |n| ArrayD::<f32>::zeros(vec![n]);
        type Case<'a> = (Vec<(&'a str, ArrayD<f32>)>, &'a str);
        let cases: Vec<Case> = vec![
            (vec![("dense/kernel", k(4, 3))], "dense/bias is missing"),
            (
                vec![("dense/kernel", k(4, 3)), ("dense/bias", b(2))],
                "array dense/bias: has 2 values",
            ),
            (
                vec![
                    ("dense/kernel", k(4, 3)),
                    ("dense/bias", b(3)),
                    ("dense_1/kernel", k(2, 2)),
                    ("dense_1/bias", b(2)),
                ],
                "array dense_1/kernel: has 2 inputs",
            ),
            (
                vec![
                    ("dense/kernel", k(4, 3)),
                    ("dense/bias", b(3)),
                    ("extra", b(1)),
                ],
                "unexpected arrays extra",
            ),
            (
                vec![("dense/kernel", b(3)), ("dense/bias", b(3))],
                "array dense/kernel: expected a 2-D",
            ),
            (vec![("conv/kernel", k(1, 1))], "no dense/kernel"),
        ];
        for (i, (arrays, needle)) in cases.into_iter().enumerate() {
            let path = write(dir.path(), &format!("c{i}.npz"), &arrays);
            let err = read_weights(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "case {i}: {err}");
            assert!(
                err.contains(&format!("c{i}.npz")),
                "case {i} names the file: {err}"
            );
        }
    }

    #[test]
    fn wrong_dtype_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f64.npz");
        let mut npz = NpzWriter::new(File::create(&path).unwrap());
        npz.add_array("dense/kernel", &ArrayD::<f64>::zeros(vec![2, 2]))
            .unwrap();
        npz.add_array("dense/bias", &ArrayD::<f64>::zeros(vec![2]))
            .unwrap();
        npz.finish().unwrap();
        let err = read_weights(&path).unwrap_err().to_string();
        assert!(
            err.contains("array dense/kernel") && err.contains("float32"),
            "{err}"
        );
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(
            read_weights(&path)
                .unwrap_err()
                .to_string()
                .contains("not a valid .npz")
        );
    }

    #[test]
    fn indices_must_be_non_negative_integers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.npy");
        let mut bytes = Vec::new();
        Array1::from(vec![3i64, 0, 9])
            .write_npy(&mut bytes)
            .unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_indices(&path).unwrap(), vec![3, 0, 9]);
        let mut bytes = Vec::new();
        Array1::from(vec![1i32, -1]).write_npy(&mut bytes).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            read_indices(&path)
                .unwrap_err()
                .to_string()
                .contains("index -1")
        );
        let mut bytes = Vec::new();
        Array1::from(vec![1.0f32]).write_npy(&mut bytes).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            read_indices(&path)
                .unwrap_err()
                .to_string()
                .contains("int64 or int32")
        );
    }
}
