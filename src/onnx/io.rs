//! Reading and writing ONNX models and serialized tensors (`*.pb`, as in the ONNX backend test
//! layout `test_data_set_0/input_0.pb`).
//!
//! It exists so that every file error names its file. It must never follow external data
//! references or interpret paths found inside a file.

use std::path::Path;

use prost::Message;
use tract_onnx::prelude::Tensor;

use super::OnnxError;
use super::pb::{ModelProto, TensorProto};
use super::tensor::{TensorLimits, tensor_from_proto};

/// Decodes model bytes; `path` is only used to name the source in errors.
pub fn decode_model(bytes: &[u8], path: impl AsRef<Path>) -> Result<ModelProto, OnnxError> {
    decode(bytes, path.as_ref(), "ModelProto")
}

pub fn read_model(path: impl AsRef<Path>) -> Result<ModelProto, OnnxError> {
    let path = path.as_ref();
    decode(read(path)?, path, "ModelProto")
}

pub fn write_model(path: impl AsRef<Path>, model: &ModelProto) -> Result<(), OnnxError> {
    write(path.as_ref(), &model.encode_to_vec())
}

pub fn read_tensor_pb(path: impl AsRef<Path>) -> Result<TensorProto, OnnxError> {
    let path = path.as_ref();
    decode(read(path)?, path, "TensorProto")
}

pub fn write_tensor_pb(path: impl AsRef<Path>, tensor: &TensorProto) -> Result<(), OnnxError> {
    write(path.as_ref(), &tensor.encode_to_vec())
}

/// Reads a serialized tensor and decodes it for tract; errors from decoding are wrapped in
/// [`OnnxError::InFile`] so they name the file as well as the tensor.
pub fn load_tensor_pb(path: impl AsRef<Path>, limits: TensorLimits) -> Result<Tensor, OnnxError> {
    let path = path.as_ref();
    let proto = read_tensor_pb(path)?;
    tensor_from_proto(&proto, limits).map_err(|e| OnnxError::InFile {
        path: path.to_owned(),
        source: Box::new(e),
    })
}

/// Decodes a message; from a file's `Bytes` a tensor's `raw_data` comes out as a slice of them,
/// not a copy.
fn decode<M: Message + Default>(
    bytes: impl prost::bytes::Buf,
    path: &Path,
    message: &'static str,
) -> Result<M, OnnxError> {
    M::decode(bytes).map_err(|source| OnnxError::Decode {
        path: path.to_owned(),
        message,
        source,
    })
}

fn read(path: &Path) -> Result<prost::bytes::Bytes, OnnxError> {
    std::fs::read(path)
        .map(prost::bytes::Bytes::from)
        .map_err(|source| OnnxError::Read {
            path: path.to_owned(),
            source,
        })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), OnnxError> {
    std::fs::write(path, bytes).map_err(|source| OnnxError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::array_to_proto;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn tensor_pb_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input_0.pb");
        let a = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![0.5f32, -1.0, 2.0]).unwrap();
        let proto = array_to_proto("x", &a).unwrap();
        write_tensor_pb(&path, &proto).unwrap();
        assert_eq!(read_tensor_pb(&path).unwrap(), proto);
        let t = load_tensor_pb(&path, TensorLimits::default()).unwrap();
        assert_eq!(t, Tensor::from(a));
    }

    #[test]
    fn decode_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.onnx");
        // A length-delimited field (tag 7, the graph) claiming more bytes than follow.
        std::fs::write(&path, [0x3a, 0x7f, 0x00]).unwrap();
        let err = read_model(&path).unwrap_err();
        assert!(
            matches!(
                err,
                OnnxError::Decode {
                    message: "ModelProto",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("broken.onnx"), "{err}");

        let err = decode_model(&[0x3a, 0x7f], "in-memory export").unwrap_err();
        assert!(
            err.to_string().starts_with("in-memory export is not"),
            "{err}"
        );

        let err = read_tensor_pb(dir.path().join("missing.pb")).unwrap_err();
        assert!(matches!(err, OnnxError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.pb"), "{err}");
    }

    #[test]
    fn tensor_errors_from_files_name_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input_0.pb");
        let mut proto = array_to_proto("x", &ArrayD::zeros(IxDyn(&[2]))).unwrap();
        proto.raw_data = Some(vec![0; 7].into());
        write_tensor_pb(&path, &proto).unwrap();
        let err = load_tensor_pb(&path, TensorLimits::default()).unwrap_err();
        let OnnxError::InFile { path: p, source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(p, &path);
        assert!(
            matches!(**source, OnnxError::RawDataLength { .. }),
            "{source:?}"
        );
    }
}
