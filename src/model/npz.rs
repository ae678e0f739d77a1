//! Model weights in `.npz` files, Keras layout, and sample orders in `.npy` files.
//!
//! Why: weights cross between this crate and Keras in both directions. The convention is the one
//! Keras's `model.weights` paths use, float32 throughout. The MLP: `dense/kernel` `[in, out]`,
//! `dense/bias` `[out]`, then `dense_1/...`, `dense_2/...`. The CNN: `conv2d/kernel`
//! `[3, 3, in, filters]` (HWIO), `conv2d/bias` `[filters]`, `dense/kernel` `[h*w*filters, out]`
//! (rows in Keras's flatten order: row, column, channel), `dense/bias`. A file holding
//! `conv2d/...` arrays is a CNN. Reading checks every name, shape and dtype and names the
//! offending array; nothing is guessed or transposed. Files are read and written by
//! [`crate::refdata::npy`]; this module knows only the layout.
//! This module must never decide what the weights are used for.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array4, Ix1, Ix2, Ix4};
use tract_onnx::prelude::{DatumType, Tensor};

use crate::metrics::datum_name;
use crate::model::burn_mlp::MAX_REDUCTION_BLOCK;
use crate::model::weights::{
    CONV_KERNEL, CONV_NAME, CnnDims, CnnWeights, Conv2d, Dense, MlpWeights, ModelWeights, POOL,
    keras_dense_name,
};
use crate::onnx::TensorLimits;
use crate::refdata::npy;

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

/// The error message of a hardened read, without the path it already names.
fn reader_message(e: crate::refdata::RefDataError) -> String {
    match e {
        crate::refdata::RefDataError::Npy { message, .. } => message,
        other => crate::error_chain(&other),
    }
}

/// A float32 array of rank `D`, or why this member is not one.
fn float_array<D: ndarray::Dimension>(
    t: &Tensor,
    what: &str,
) -> Result<ndarray::Array<f32, D>, String> {
    if t.datum_type() != DatumType::F32 {
        return Err(format!(
            "expected a {what}, found {} {:?}",
            datum_name(t.datum_type()),
            t.shape()
        ));
    }
    t.to_plain_array_view::<f32>()
        .ok()
        .and_then(|v| v.into_dimensionality::<D>().ok())
        .map(|v| v.to_owned())
        .ok_or_else(|| format!("expected a {what}, found shape {:?}", t.shape()))
}

/// Read the weights of either model: a CNN if the file holds `conv2d/...` arrays, else an MLP.
/// Every array must be float32 with the shape its role needs, the layers must chain, and no
/// other array may be present (an extra array usually means a different model). The archive
/// goes through the hardened reader: sizes are checked before anything is allocated.
pub fn read_weights(path: &Path) -> Result<ModelWeights, WeightsError> {
    let arrays = npy::read_npz(path, TensorLimits::default())
        .map_err(|e| read_err(path, reader_message(e)))?;
    if arrays
        .iter()
        .any(|(n, _)| n.starts_with(&format!("{CONV_NAME}/")))
    {
        read_cnn(path, &arrays).map(ModelWeights::from)
    } else {
        read_mlp(path, &arrays).map(ModelWeights::Mlp)
    }
}

/// Arrays other than `used`, as an error, or `Ok` when there are none.
fn no_extra(path: &Path, arrays: &[(String, Tensor)], used: &[String]) -> Result<(), WeightsError> {
    let mut extra: Vec<&str> = arrays
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !used.iter().any(|u| u == n))
        .collect();
    extra.sort_unstable();
    if extra.is_empty() {
        return Ok(());
    }
    Err(WeightsError::Layout {
        path: path.to_path_buf(),
        message: format!(
            "unexpected arrays {} (expected only {})",
            extra.join(", "),
            used.join(", ")
        ),
    })
}

/// The CNN: `conv2d/kernel` `[3, 3, in, filters]`, `conv2d/bias`, `dense/kernel`
/// `[h*w*filters, out]`, `dense/bias`. The input image is taken as square, `2*side + 2`
/// pixels a side for a pooled map of `side x side` (28x28 for MNIST's 13x13).
fn read_cnn(path: &Path, arrays: &[(String, Tensor)]) -> Result<CnnWeights, WeightsError> {
    let array = |name: &str, message: String| WeightsError::Array {
        path: path.to_path_buf(),
        array: name.to_string(),
        message,
    };
    let get = |name: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| WeightsError::Layout {
                path: path.to_path_buf(),
                message: format!("a CNN needs {name}, which is missing"),
            })
    };
    let dense = keras_dense_name(0);
    let names = [
        format!("{CONV_NAME}/kernel"),
        format!("{CONV_NAME}/bias"),
        format!("{dense}/kernel"),
        format!("{dense}/bias"),
    ];
    let [ck, cb, dk, db] = &names;
    let kernel: Array4<f32> = float_array::<Ix4>(get(ck)?, "4-D float32 array [3, 3, in, filters]")
        .map_err(|m| array(ck, m))?;
    let [kh, kw, channels, filters] = <[usize; 4]>::try_from(kernel.shape()).expect("4-D");
    if (kh, kw) != (CONV_KERNEL, CONV_KERNEL) || channels == 0 || filters == 0 {
        return Err(array(
            ck,
            format!(
                "expected [3, 3, in, filters] (a 3x3 kernel, Keras HWIO layout), found {:?}",
                kernel.shape()
            ),
        ));
    }
    if CONV_KERNEL * CONV_KERNEL * channels > MAX_REDUCTION_BLOCK {
        return Err(array(
            ck,
            format!(
                "{channels} input channels: at most {} are supported",
                MAX_REDUCTION_BLOCK / (CONV_KERNEL * CONV_KERNEL)
            ),
        ));
    }
    let conv_bias: Array1<f32> =
        float_array::<Ix1>(get(cb)?, "1-D float32 array [filters]").map_err(|m| array(cb, m))?;
    if conv_bias.len() != filters {
        return Err(array(
            cb,
            format!(
                "has {} values but {ck} has {filters} filters",
                conv_bias.len()
            ),
        ));
    }
    let dense_kernel: Array2<f32> =
        float_array::<Ix2>(get(dk)?, "2-D float32 array [h*w*filters, out]")
            .map_err(|m| array(dk, m))?;
    let rows = dense_kernel.nrows();
    let side = (1..=rows / filters.max(1))
        .take_while(|s| s * s * filters <= rows)
        .last()
        .filter(|s| s * s * filters == rows);
    let Some(side) = side else {
        return Err(array(
            dk,
            format!(
                "has {rows} rows, which is not side*side*{filters} for a square pooled map of {filters} filters (28x28 images give 13*13*{filters} = {})",
                13 * 13 * filters
            ),
        ));
    };
    let image = POOL * side + CONV_KERNEL - 1;
    let dense_bias: Array1<f32> =
        float_array::<Ix1>(get(db)?, "1-D float32 array [out]").map_err(|m| array(db, m))?;
    if dense_bias.len() != dense_kernel.ncols() {
        return Err(array(
            db,
            format!(
                "has {} values but {dk} has {} outputs",
                dense_bias.len(),
                dense_kernel.ncols()
            ),
        ));
    }
    no_extra(path, arrays, &names)?;
    let input = [image, image, channels];
    debug_assert_eq!(
        CnnDims::new(input, filters).map(|d| d.flat()),
        Some(rows),
        "the inferred image pools to the dense layer's inputs"
    );
    Ok(CnnWeights {
        input,
        conv: Conv2d {
            name: CONV_NAME.to_string(),
            kernel,
            bias: conv_bias,
        },
        dense: Dense {
            name: dense,
            kernel: dense_kernel,
            bias: dense_bias,
        },
    })
}

/// The MLP: `dense/kernel`, `dense/bias`, `dense_1/kernel`, ... kernels 2-D, biases 1-D,
/// consecutive layers chaining.
fn read_mlp(path: &Path, arrays: &[(String, Tensor)]) -> Result<MlpWeights, WeightsError> {
    let mut names: Vec<String> = arrays.iter().map(|(n, _)| n.clone()).collect();
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
    let get = |name: &str| arrays.iter().find(|(n, _)| n == name).map(|(_, t)| t);
    let mut layers: Vec<Dense> = Vec::new();
    loop {
        let name = keras_dense_name(layers.len());
        let (k, b) = (format!("{name}/kernel"), format!("{name}/bias"));
        let (kernel, bias) = match (get(&k), get(&b)) {
            (None, None) => break,
            (Some(_), None) => return Err(layout(format!("{k} is present but {b} is missing"))),
            (None, Some(_)) => return Err(layout(format!("{b} is present but {k} is missing"))),
            (Some(kt), Some(bt)) => (kt, bt),
        };
        let kernel: Array2<f32> =
            float_array::<Ix2>(kernel, "2-D float32 array [in, out]").map_err(|m| array(&k, m))?;
        let bias: Array1<f32> =
            float_array::<Ix1>(bias, "1-D float32 array [out]").map_err(|m| array(&b, m))?;
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
    no_extra(path, arrays, &used)?;
    Ok(MlpWeights { layers })
}

/// The `.npz` bytes of `weights` in the layout [`read_weights`] reads. Uncompressed, arrays in
/// layer order, so equal weights give equal bytes.
pub fn weights_npz_bytes(weights: &ModelWeights) -> Vec<u8> {
    npy::npz_bytes(&weights.arrays())
}

/// Read a 1-D array of sample indices (int64, NumPy's default, or int32). Negative values are
/// refused here; the upper bound is checked where the data is known.
pub fn read_indices(path: &Path) -> Result<Vec<usize>, WeightsError> {
    let t = npy::read_npy(path, TensorLimits::default())
        .map_err(|e| read_err(path, reader_message(e)))?;
    let values: Vec<i64> = match t.datum_type() {
        DatumType::I64 => t
            .to_plain_array_view::<i64>()
            .map(|v| v.iter().copied().collect()),
        DatumType::I32 => t
            .to_plain_array_view::<i32>()
            .map(|v| v.iter().map(|&x| i64::from(x)).collect()),
        other => {
            return Err(read_err(
                path,
                format!(
                    "expected a 1-D int64 or int32 .npy array, found {}",
                    datum_name(other)
                ),
            ));
        }
    }
    .map_err(|e| read_err(path, format!("{e:#}")))?;
    if t.rank() != 1 {
        return Err(read_err(
            path,
            format!(
                "expected a 1-D array of sample indices, found {} dims",
                t.rank()
            ),
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
    use ndarray::{Array1, ArrayD};
    use ndarray_npy::{NpzWriter, WriteNpyExt};
    use std::fs::File;

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
        let mlp: ModelWeights = MlpWeights::glorot_uniform(&[5, 4, 3, 2], 11).into();
        let cnn: ModelWeights = CnnWeights::glorot_uniform([28, 28, 1], 4, 13, 11).into();
        for w in [mlp, cnn] {
            let path = dir.path().join("w.npz");
            std::fs::write(&path, weights_npz_bytes(&w)).unwrap();
            assert_eq!(read_weights(&path).unwrap(), w);
            assert_eq!(weights_npz_bytes(&w), weights_npz_bytes(&w.clone()));
        }
    }

    #[test]
    fn cnn_layout_errors_name_the_array() {
        let dir = tempfile::tempdir().unwrap();
        let z = |shape: &[usize]| ArrayD::<f32>::zeros(shape.to_vec());
        let good = || {
            vec![
                ("conv2d/kernel", z(&[3, 3, 1, 8])),
                ("conv2d/bias", z(&[8])),
                ("dense/kernel", z(&[1352, 13])),
                ("dense/bias", z(&[13])),
            ]
        };
        let with = |i: usize, a: ArrayD<f32>| {
            let mut g = good();
            g[i].1 = a;
            g
        };
        type Case<'a> = (Vec<(&'a str, ArrayD<f32>)>, &'a str);
        let cases: Vec<Case> = vec![
            (
                with(0, z(&[8, 1, 3, 3])),
                "array conv2d/kernel: expected [3, 3, in, filters]",
            ),
            (
                with(0, z(&[3, 3, 8])),
                "array conv2d/kernel: expected a 4-D",
            ),
            (
                with(1, z(&[4])),
                "array conv2d/bias: has 4 values but conv2d/kernel has 8",
            ),
            (with(2, z(&[1353, 13])), "array dense/kernel: has 1353 rows"),
            (
                with(3, z(&[10])),
                "array dense/bias: has 10 values but dense/kernel has 13",
            ),
            (
                good()[..3].to_vec(),
                "a CNN needs dense/bias, which is missing",
            ),
            (
                good()
                    .into_iter()
                    .chain([("dense_1/bias", z(&[2]))])
                    .collect(),
                "unexpected arrays dense_1/bias",
            ),
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
        // The good file reads, its image taken as 28x28x1 from the 13x13 pooled map.
        let path = write(dir.path(), "good.npz", &good());
        let ModelWeights::Cnn(w) = read_weights(&path).unwrap() else {
            panic!("a CNN")
        };
        assert_eq!(w.input, [28, 28, 1]);
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
