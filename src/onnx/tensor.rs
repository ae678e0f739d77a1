//! Conversions between ONNX `TensorProto` and in-memory tensors (ndarray and tract).
//!
//! It exists because tensor payloads are the untrusted part of an ONNX file: dims and data come
//! from disk and must agree before anything is built from them. It must never allocate for a
//! tensor before its dims have passed [`TensorLimits`] and its payload length matched them,
//! never resolve external data, and never silently truncate a value that does not fit its type.

use ndarray::{ArrayD, IxDyn};
use tract_onnx::prelude::{Datum, DatumType, Tensor, f16};

use super::OnnxError;
use super::pb::TensorProto;
use super::pb::tensor_proto::{DataLocation, DataType};

/// Upper bounds on the size a tensor may declare, checked before any allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorLimits {
    pub max_elements: u64,
    pub max_bytes: u64,
}

impl Default for TensorLimits {
    /// 2^31 elements and 4 GiB: far above any model this project handles, far below what would
    /// take the machine down.
    fn default() -> Self {
        Self {
            max_elements: 1 << 31,
            max_bytes: 4 << 30,
        }
    }
}

/// The ONNX name of a `data_type` value (`"FLOAT"`), or a description of an unknown one.
pub fn dtype_name(data_type: i32) -> String {
    match DataType::try_from(data_type) {
        Ok(dt) => dt.as_str_name().to_owned(),
        Err(_) => format!("unknown data type {data_type}"),
    }
}

/// Decodes a tensor for tract. Supports FLOAT, DOUBLE, FLOAT16, INT8/16/32/64, UINT8/16/32/64,
/// BOOL and STRING (UTF-8), stored either in `raw_data` or in the typed field the specification
/// assigns to the type; anything else is [`OnnxError::Unsupported`] ([`decode_tensor`] also
/// reads the types tract has no element type for, widened).
pub fn tensor_from_proto(proto: &TensorProto, limits: TensorLimits) -> Result<Tensor, OnnxError> {
    let tensor = label(proto);
    if proto.data_location() == DataLocation::External {
        return Err(OnnxError::ExternalData { tensor });
    }
    let unsupported = || OnnxError::Unsupported {
        tensor: label(proto),
        dtype: dtype_name(proto.data_type()),
    };
    let dtype = DataType::try_from(proto.data_type()).map_err(|_| unsupported())?;
    let p = proto;
    // The typed field per type is the specification's: narrow integers, BOOL and FLOAT16 bits
    // travel in int32_data, UINT32 in uint64_data. Widened values are range-checked on the way
    // back, and BOOL accepts only 0 and 1.
    match dtype {
        DataType::Float => decode::<f32, _>(p, limits, "float_data", &p.float_data, Some),
        DataType::Double => decode::<f64, _>(p, limits, "double_data", &p.double_data, Some),
        DataType::Float16 => decode(p, limits, "int32_data", &p.int32_data, |v| {
            u16::try_from(v).ok().map(f16::from_bits)
        }),
        DataType::Int8 => decode::<i8, _>(p, limits, "int32_data", &p.int32_data, narrow),
        DataType::Int16 => decode::<i16, _>(p, limits, "int32_data", &p.int32_data, narrow),
        DataType::Int32 => decode::<i32, _>(p, limits, "int32_data", &p.int32_data, Some),
        DataType::Int64 => decode::<i64, _>(p, limits, "int64_data", &p.int64_data, Some),
        DataType::Uint8 => decode::<u8, _>(p, limits, "int32_data", &p.int32_data, narrow),
        DataType::Uint16 => decode::<u16, _>(p, limits, "int32_data", &p.int32_data, narrow),
        DataType::Uint32 => decode::<u32, _>(p, limits, "uint64_data", &p.uint64_data, narrow),
        DataType::Uint64 => decode::<u64, _>(p, limits, "uint64_data", &p.uint64_data, Some),
        DataType::Bool => decode(p, limits, "int32_data", &p.int32_data, |v| match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        DataType::String => decode_strings(p, limits),
        _ => Err(unsupported()),
    }
}

/// Decodes any tensor a test set may hold: what [`tensor_from_proto`] reads, and the narrow
/// types tract has no element type for (BFLOAT16, FLOAT8, FLOAT4, 4- and 2-bit integers),
/// widened exactly as [`super::exotic`] describes. The data type it was stored as comes back
/// beside it, so that a widened tensor is still checked against its declared type.
pub fn decode_tensor(
    proto: &TensorProto,
    limits: TensorLimits,
) -> Result<(Tensor, DataType), OnnxError> {
    let dtype = DataType::try_from(proto.data_type()).ok();
    let Some(dt) = dtype.filter(|&d| super::exotic::widened(d).is_some()) else {
        let t = tensor_from_proto(proto, limits)?;
        return Ok((t, dtype.unwrap_or(DataType::Undefined)));
    };
    if proto.data_location() == DataLocation::External {
        return Err(OnnxError::ExternalData {
            tensor: label(proto),
        });
    }
    // Dims, payload length and the typed field's count against the dims: all checked here.
    let size = check_tensor_proto(proto, limits)?;
    let shape = header(proto, 1, limits)?.shape;
    let bytes: Vec<u8> = match &proto.raw_data {
        Some(raw) => raw.to_vec(),
        None => {
            // Each int32_data value holds one element's bits (8 and 16-bit types) or one byte
            // of packed elements (4 and 2-bit types).
            let wide = size.raw_bytes.unwrap_or(0) > size.elements;
            let mut out = Vec::with_capacity(proto.int32_data.len() * if wide { 2 } else { 1 });
            for (i, &v) in proto.int32_data.iter().enumerate() {
                let invalid = || OnnxError::InvalidValue {
                    tensor: label(proto),
                    dtype: dtype_name(proto.data_type()),
                    field: "int32_data",
                    index: i,
                    value: v.to_string(),
                };
                if wide {
                    out.extend(u16::try_from(v).map_err(|_| invalid())?.to_le_bytes());
                } else {
                    out.push(u8::try_from(v).map_err(|_| invalid())?);
                }
            }
            out
        }
    };
    let t = super::exotic::widen(dt, &bytes, &shape).ok_or_else(|| OnnxError::RawDataLength {
        tensor: label(proto),
        dtype: dtype_name(proto.data_type()),
        dims: proto.dims.clone(),
        expected: size.raw_bytes.unwrap_or(0),
        actual: bytes.len() as u64,
    })?;
    Ok((t, dt))
}

/// STRING elements from `string_data` (raw_data cannot hold strings), each valid UTF-8.
fn decode_strings(proto: &TensorProto, limits: TensorLimits) -> Result<Tensor, OnnxError> {
    if proto.raw_data.is_some() {
        return Err(OnnxError::InvalidValue {
            tensor: label(proto),
            dtype: "STRING".to_owned(),
            field: "raw_data",
            index: 0,
            value: "present (STRING tensors keep their elements in string_data)".to_owned(),
        });
    }
    // One byte per element as the bound: the bytes themselves are already in memory.
    let header = header(proto, 1, limits)?;
    if proto.string_data.len() != header.count {
        return Err(OnnxError::TypedDataLength {
            tensor: label(proto),
            dtype: "STRING".to_owned(),
            dims: proto.dims.clone(),
            field: "string_data",
            expected: header.count as u64,
            actual: proto.string_data.len() as u64,
        });
    }
    let data = proto
        .string_data
        .iter()
        .enumerate()
        .map(|(i, b)| {
            String::from_utf8(b.clone()).map_err(|_| OnnxError::InvalidValue {
                tensor: label(proto),
                dtype: "STRING".to_owned(),
                field: "string_data",
                index: i,
                value: format!("{:?} (not UTF-8)", String::from_utf8_lossy(b)),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let array = ArrayD::from_shape_vec(IxDyn(&header.shape), data).map_err(|_| {
        OnnxError::ShapeMismatch {
            tensor: label(proto),
            dims: header.shape.clone(),
            len: header.count,
        }
    })?;
    Ok(Tensor::from(array))
}

/// What a tensor's header promises: element count and, where the layout is fixed, payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSize {
    pub elements: u64,
    /// Bytes of the little-endian `raw_data` (or external data) form; `None` for STRING and
    /// unknown types, whose layout this layer does not know.
    pub raw_bytes: Option<u64>,
}

/// Bytes per element of a fixed-width type, as `(numerator, denominator)` so that 4-bit and
/// 2-bit types pack several elements per byte; `None` for STRING and unknown types.
fn packed_width(data_type: i32) -> Option<(u64, u64)> {
    use DataType as D;
    Some(match DataType::try_from(data_type).ok()? {
        D::Uint8 | D::Int8 | D::Bool => (1, 1),
        D::Float8e4m3fn | D::Float8e4m3fnuz | D::Float8e5m2 | D::Float8e5m2fnuz => (1, 1),
        D::Float8e8m0 => (1, 1),
        D::Uint16 | D::Int16 | D::Float16 | D::Bfloat16 => (2, 1),
        D::Float | D::Int32 | D::Uint32 => (4, 1),
        D::Double | D::Int64 | D::Uint64 | D::Complex64 => (8, 1),
        D::Complex128 => (16, 1),
        D::Uint4 | D::Int4 | D::Float4e2m1 => (1, 2),
        D::Uint2 | D::Int2 => (1, 4),
        D::String | D::Undefined => return None,
    })
}

/// Checks a tensor's dims against `limits` and, for data stored in the file, that the payload
/// holds exactly what the dims promise, for every data type (not only those
/// [`tensor_from_proto`] decodes). Allocates nothing: this is the gate a file passes before a
/// runtime that trusts dims is allowed to read it. External data is not opened here; the
/// returned [`TensorSize`] says how many bytes it must hold.
pub fn check_tensor_proto(
    proto: &TensorProto,
    limits: TensorLimits,
) -> Result<TensorSize, OnnxError> {
    let width = packed_width(proto.data_type());
    // The byte bound uses at least one byte per element for types of unknown width.
    let bound_width = width.map_or(1, |(num, den)| num.div_ceil(den));
    let header = header(proto, bound_width, limits)?;
    let elements = header.count as u64;
    // Cannot overflow: header() bounded elements * bound_width by max_bytes.
    let raw_bytes = width.map(|(num, den)| (elements * num).div_ceil(den));
    let size = TensorSize {
        elements,
        raw_bytes,
    };
    if proto.data_location() == DataLocation::External {
        return Ok(size);
    }
    if let Some(raw) = &proto.raw_data {
        return match raw_bytes {
            Some(expected) if raw.len() as u64 != expected => Err(OnnxError::RawDataLength {
                tensor: label(proto),
                dtype: dtype_name(proto.data_type()),
                dims: proto.dims.clone(),
                expected,
                actual: raw.len() as u64,
            }),
            _ => Ok(size),
        };
    }
    use DataType as D;
    // The typed field the specification assigns, and how many values it holds per element.
    let (field, actual, per_element): (&'static str, usize, u64) =
        match DataType::try_from(proto.data_type()) {
            Ok(D::Float) => ("float_data", proto.float_data.len(), 1),
            Ok(D::Complex64) => ("float_data", proto.float_data.len(), 2),
            Ok(D::Double) => ("double_data", proto.double_data.len(), 1),
            Ok(D::Complex128) => ("double_data", proto.double_data.len(), 2),
            Ok(D::Int64) => ("int64_data", proto.int64_data.len(), 1),
            Ok(D::Uint32 | D::Uint64) => ("uint64_data", proto.uint64_data.len(), 1),
            Ok(D::String) => ("string_data", proto.string_data.len(), 1),
            // Packed: one int32_data value per byte of packed elements.
            Ok(D::Uint4 | D::Int4 | D::Float4e2m1 | D::Uint2 | D::Int2) => {
                let expected = raw_bytes.expect("fixed width");
                if proto.int32_data.len() as u64 != expected {
                    return Err(OnnxError::TypedDataLength {
                        tensor: label(proto),
                        dtype: dtype_name(proto.data_type()),
                        dims: proto.dims.clone(),
                        field: "int32_data",
                        expected,
                        actual: proto.int32_data.len() as u64,
                    });
                }
                return Ok(size);
            }
            Ok(
                D::Int8
                | D::Int16
                | D::Int32
                | D::Uint8
                | D::Uint16
                | D::Bool
                | D::Float16
                | D::Bfloat16
                | D::Float8e4m3fn
                | D::Float8e4m3fnuz
                | D::Float8e5m2
                | D::Float8e5m2fnuz
                | D::Float8e8m0,
            ) => ("int32_data", proto.int32_data.len(), 1),
            // Unknown types have no layout. Their dims were bounded above, which is all that
            // can be checked.
            _ => return Ok(size),
        };
    let expected = elements * per_element;
    if actual as u64 != expected {
        return Err(OnnxError::TypedDataLength {
            tensor: label(proto),
            dtype: dtype_name(proto.data_type()),
            dims: proto.dims.clone(),
            field,
            expected,
            actual: actual as u64,
        });
    }
    Ok(size)
}

/// The ONNX data type of a tract element type, for the types this layer decodes and encodes.
pub fn onnx_data_type(dt: DatumType) -> Option<DataType> {
    Some(match dt {
        DatumType::F32 => DataType::Float,
        DatumType::F64 => DataType::Double,
        DatumType::F16 => DataType::Float16,
        DatumType::I8 => DataType::Int8,
        DatumType::I16 => DataType::Int16,
        DatumType::I32 => DataType::Int32,
        DatumType::I64 => DataType::Int64,
        DatumType::U8 => DataType::Uint8,
        DatumType::U16 => DataType::Uint16,
        DatumType::U32 => DataType::Uint32,
        DatumType::U64 => DataType::Uint64,
        DatumType::Bool => DataType::Bool,
        DatumType::String => DataType::String,
        _ => return None,
    })
}

/// Decodes a FLOAT tensor into an ndarray.
pub fn array_from_proto(
    proto: &TensorProto,
    limits: TensorLimits,
) -> Result<ArrayD<f32>, OnnxError> {
    if proto.data_type() != DataType::Float as i32 {
        return Err(OnnxError::DtypeMismatch {
            tensor: label(proto),
            expected: DataType::Float.as_str_name().to_owned(),
            actual: dtype_name(proto.data_type()),
        });
    }
    tensor_from_proto(proto, limits)?
        .into_plain_array::<f32>()
        .map_err(|e| tract_error(proto, &e))
}

/// Encodes an f32 array as a FLOAT tensor with little-endian `raw_data`.
pub fn array_to_proto(name: &str, array: &ArrayD<f32>) -> Result<TensorProto, OnnxError> {
    // `iter` walks in logical row-major order whatever the memory layout, as ONNX expects.
    f32_raw_proto(name, array.shape(), array.iter().copied(), array.len())
}

/// Encodes a tract tensor with little-endian `raw_data`. Supports the same element types as
/// [`tensor_from_proto`].
pub fn tensor_to_proto(name: &str, tensor: &Tensor) -> Result<TensorProto, OnnxError> {
    let (dtype, raw) = match tensor.datum_type() {
        DatumType::F32 => (DataType::Float, le_bytes::<f32>(name, tensor)?),
        DatumType::F64 => (DataType::Double, le_bytes::<f64>(name, tensor)?),
        DatumType::F16 => (DataType::Float16, le_bytes::<f16>(name, tensor)?),
        DatumType::I8 => (DataType::Int8, le_bytes::<i8>(name, tensor)?),
        DatumType::I16 => (DataType::Int16, le_bytes::<i16>(name, tensor)?),
        DatumType::I32 => (DataType::Int32, le_bytes::<i32>(name, tensor)?),
        DatumType::I64 => (DataType::Int64, le_bytes::<i64>(name, tensor)?),
        DatumType::U8 => (DataType::Uint8, le_bytes::<u8>(name, tensor)?),
        DatumType::U16 => (DataType::Uint16, le_bytes::<u16>(name, tensor)?),
        DatumType::U32 => (DataType::Uint32, le_bytes::<u32>(name, tensor)?),
        DatumType::U64 => (DataType::Uint64, le_bytes::<u64>(name, tensor)?),
        DatumType::Bool => (DataType::Bool, le_bytes::<bool>(name, tensor)?),
        DatumType::String => {
            let view = tensor
                .to_plain_array_view::<String>()
                .map_err(|e| OnnxError::Tract {
                    tensor: name.to_owned(),
                    message: format!("{e:#}"),
                })?;
            let mut proto = raw_proto(name, tensor.shape(), DataType::String, Vec::new())?;
            proto.raw_data = None;
            proto.string_data = view.iter().map(|s| s.as_bytes().to_vec()).collect();
            return Ok(proto);
        }
        other => {
            return Err(OnnxError::Unsupported {
                tensor: name.to_owned(),
                dtype: format!("{other:?} (tract)"),
            });
        }
    };
    raw_proto(name, tensor.shape(), dtype, raw)
}

/// Builds a FLOAT `TensorProto` from `len` values in row-major order. Shared with the builder so
/// initializers and standalone tensors are encoded identically.
pub(super) fn f32_raw_proto(
    name: &str,
    dims: &[usize],
    values: impl Iterator<Item = f32>,
    len: usize,
) -> Result<TensorProto, OnnxError> {
    let fits = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) == Some(len);
    if !fits {
        return Err(OnnxError::ShapeMismatch {
            tensor: name.to_owned(),
            dims: dims.to_vec(),
            len,
        });
    }
    let raw = values.flat_map(f32::to_le_bytes).collect();
    raw_proto(name, dims, DataType::Float, raw)
}

fn raw_proto(
    name: &str,
    dims: &[usize],
    dtype: DataType,
    raw: Vec<u8>,
) -> Result<TensorProto, OnnxError> {
    let dims = dims
        .iter()
        .map(|&d| {
            i64::try_from(d).map_err(|_| OnnxError::DimOverflow {
                tensor: name.to_owned(),
                dim: d,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(TensorProto {
        dims,
        data_type: Some(dtype as i32),
        name: Some(name.to_owned()),
        raw_data: Some(raw.into()),
        ..TensorProto::default()
    })
}

fn le_bytes<T: RawElement>(name: &str, tensor: &Tensor) -> Result<Vec<u8>, OnnxError> {
    let view = tensor
        .to_plain_array_view::<T>()
        .map_err(|e| OnnxError::Tract {
            tensor: name.to_owned(),
            message: format!("{e:#}"),
        })?;
    let mut raw = Vec::with_capacity(view.len() * T::WIDTH);
    view.iter().for_each(|v| v.write(&mut raw));
    Ok(raw)
}

/// An element type with a fixed-width little-endian `raw_data` form.
trait RawElement: Datum + Copy {
    const WIDTH: usize;
    /// Whether some byte patterns are not values (`read` can fail).
    const VALIDATES: bool = false;
    /// Reads one element from exactly `WIDTH` bytes; `None` for an invalid encoding.
    fn read(bytes: &[u8]) -> Option<Self>;
    fn write(self, out: &mut Vec<u8>);
}

macro_rules! raw_numbers {
    ($($t:ty),*) => {$(
        impl RawElement for $t {
            const WIDTH: usize = size_of::<$t>();
            fn read(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(<$t>::from_le_bytes)
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

raw_numbers!(f32, f64, f16, i8, i16, i32, i64, u8, u16, u32, u64);

/// One byte per element, and only 0 or 1, as the specification requires.
impl RawElement for bool {
    const WIDTH: usize = 1;
    const VALIDATES: bool = true;
    fn read(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
    fn write(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}

/// Validated shape of a tensor about to be decoded.
struct Header {
    shape: Vec<usize>,
    count: usize,
}

/// Checks dims against the limits without allocating anything proportional to them.
fn header(proto: &TensorProto, elem_size: u64, limits: TensorLimits) -> Result<Header, OnnxError> {
    let dims = &proto.dims;
    if dims.iter().any(|&d| d < 0) {
        return Err(OnnxError::NegativeDim {
            tensor: label(proto),
            dtype: dtype_name(proto.data_type()),
            dims: dims.clone(),
        });
    }
    // Zero-sized dims are skipped in the bound so that [0, 2^62] is refused like [1, 2^62]:
    // ndarray itself rejects shapes whose non-zero extent overflows.
    let extent = dims
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1u64, |n, &d| n.checked_mul(d.unsigned_abs())); // d >= 0 here
    let within = extent.is_some_and(|n| {
        n <= limits.max_elements
            && n.checked_mul(elem_size)
                .is_some_and(|b| b <= limits.max_bytes)
    });
    let shape = dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<_>>>();
    let count = extent.and_then(|n| usize::try_from(n).ok());
    match (within, shape, count) {
        (true, Some(shape), Some(count)) => {
            let count = if shape.contains(&0) { 0 } else { count };
            Ok(Header { shape, count })
        }
        _ => Err(OnnxError::TooLarge {
            tensor: label(proto),
            dtype: dtype_name(proto.data_type()),
            dims: dims.clone(),
            max_elements: limits.max_elements,
            max_bytes: limits.max_bytes,
        }),
    }
}

/// Decodes elements of type `T` from `raw_data` or, when absent, from the typed `field`, whose
/// values `from_typed` converts and range-checks.
fn decode<T: RawElement, S: Copy + std::fmt::Display>(
    proto: &TensorProto,
    limits: TensorLimits,
    field: &'static str,
    typed: &[S],
    from_typed: fn(S) -> Option<T>,
) -> Result<Tensor, OnnxError> {
    let width = T::WIDTH as u64;
    let header = header(proto, width, limits)?;
    let invalid = |field, index, value: String| OnnxError::InvalidValue {
        tensor: label(proto),
        dtype: dtype_name(proto.data_type()),
        field,
        index,
        value,
    };
    // The specification: raw_data wins when present, otherwise the typed field is read.
    let data: Vec<T> = match &proto.raw_data {
        Some(raw) => {
            // Cannot overflow: header() bounded count * width by max_bytes.
            let expected = header.count as u64 * width;
            if raw.len() as u64 != expected {
                return Err(OnnxError::RawDataLength {
                    tensor: label(proto),
                    dtype: dtype_name(proto.data_type()),
                    dims: proto.dims.clone(),
                    expected,
                    actual: raw.len() as u64,
                });
            }
            if cfg!(target_endian = "little") {
                // The stored bytes are the tensor's bytes: one copy, straight into its buffer,
                // after checking the values that can be invalid (BOOL).
                let bad = || {
                    raw.chunks_exact(T::WIDTH)
                        .enumerate()
                        .find(|(_, b)| T::read(b).is_none())
                };
                if let Some((i, bytes)) = T::VALIDATES.then(bad).flatten() {
                    return Err(invalid("raw_data", i, hex(bytes)));
                }
                let mut t = Tensor::zero_dt(T::datum_type(), &header.shape)
                    .map_err(|e| tract_error(proto, &e))?;
                t.as_bytes_mut().copy_from_slice(raw);
                return Ok(t);
            }
            raw.chunks_exact(T::WIDTH)
                .enumerate()
                .map(|(i, bytes)| T::read(bytes).ok_or_else(|| invalid("raw_data", i, hex(bytes))))
                .collect::<Result<_, _>>()?
        }
        None => {
            if typed.len() != header.count {
                return Err(OnnxError::TypedDataLength {
                    tensor: label(proto),
                    dtype: dtype_name(proto.data_type()),
                    dims: proto.dims.clone(),
                    field,
                    expected: header.count as u64,
                    actual: typed.len() as u64,
                });
            }
            typed
                .iter()
                .enumerate()
                .map(|(i, &v)| from_typed(v).ok_or_else(|| invalid(field, i, v.to_string())))
                .collect::<Result<_, _>>()?
        }
    };
    let len = data.len();
    let array = ArrayD::from_shape_vec(IxDyn(&header.shape), data).map_err(|_| {
        OnnxError::ShapeMismatch {
            tensor: label(proto),
            dims: header.shape.clone(),
            len,
        }
    })?;
    Ok(Tensor::from(array))
}

/// Range-checked narrowing for values the specification widens into a larger typed field.
fn narrow<S, T: TryFrom<S>>(v: S) -> Option<T> {
    T::try_from(v).ok()
}

/// A raw element as a little-endian hex number, e.g. `0x02`.
fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().rev().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn label(proto: &TensorProto) -> String {
    match proto.name.as_deref() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => "<unnamed>".to_owned(),
    }
}

fn tract_error(proto: &TensorProto, e: &tract_onnx::prelude::TractError) -> OnnxError {
    OnnxError::Tract {
        tensor: label(proto),
        message: format!("{e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::pb::StringStringEntryProto;
    use ndarray::ShapeBuilder;

    fn proto(dt: DataType, dims: &[i64]) -> TensorProto {
        TensorProto {
            name: Some("t".to_owned()),
            dims: dims.to_vec(),
            data_type: Some(dt as i32),
            ..TensorProto::default()
        }
    }

    fn decode_ok(p: &TensorProto) -> Tensor {
        tensor_from_proto(p, TensorLimits::default()).unwrap()
    }

    fn decode_err(p: &TensorProto) -> OnnxError {
        tensor_from_proto(p, TensorLimits::default()).unwrap_err()
    }

    fn tensor<T: Datum + Copy>(dims: &[usize], values: &[T]) -> Tensor {
        Tensor::from(ArrayD::from_shape_vec(IxDyn(dims), values.to_vec()).unwrap())
    }

    /// Decodes `values` (shape [2, 2]) once from raw_data and once from the typed field the
    /// specification assigns, and checks our encoder writes the same raw bytes.
    macro_rules! both_storages {
        ($dt:expr, $ty:ty, $values:expr, $field:ident, $to_field:expr) => {{
            let values: [$ty; 4] = $values;
            let want = tensor(&[2, 2], &values);

            let mut raw = proto($dt, &[2, 2]);
            raw.raw_data = Some(values.iter().flat_map(|v| v.to_le_bytes()).collect());
            assert_eq!(decode_ok(&raw), want, "{:?} from raw_data", $dt);

            let mut typed = proto($dt, &[2, 2]);
            typed.$field = values.iter().copied().map($to_field).collect();
            assert_eq!(
                decode_ok(&typed),
                want,
                "{:?} from {}",
                $dt,
                stringify!($field)
            );

            let ours = tensor_to_proto("t", &want).unwrap();
            assert_eq!(ours.data_type, Some($dt as i32));
            assert_eq!(ours.raw_data, raw.raw_data, "{:?} encoding", $dt);
        }};
    }

    #[test]
    fn every_supported_dtype_from_raw_data_and_typed_fields() {
        both_storages!(
            DataType::Float,
            f32,
            [1.5, -0.0, f32::MAX, f32::MIN_POSITIVE],
            float_data,
            |v| v
        );
        both_storages!(
            DataType::Double,
            f64,
            [1.5, -2.25, f64::MAX, 1e-300],
            double_data,
            |v| v
        );
        both_storages!(
            DataType::Float16,
            f16,
            [
                f16::from_f32(1.5),
                f16::MAX,
                f16::from_f32(-0.0),
                f16::from_bits(1)
            ],
            int32_data,
            |v| i32::from(v.to_bits())
        );
        both_storages!(
            DataType::Int8,
            i8,
            [i8::MIN, i8::MAX, 0, -1],
            int32_data,
            i32::from
        );
        both_storages!(
            DataType::Int16,
            i16,
            [i16::MIN, i16::MAX, 0, -1],
            int32_data,
            i32::from
        );
        both_storages!(
            DataType::Int32,
            i32,
            [i32::MIN, i32::MAX, 0, -1],
            int32_data,
            |v| v
        );
        both_storages!(
            DataType::Int64,
            i64,
            [i64::MIN, i64::MAX, 0, -1],
            int64_data,
            |v| v
        );
        both_storages!(
            DataType::Uint8,
            u8,
            [0, u8::MAX, 1, 128],
            int32_data,
            i32::from
        );
        both_storages!(
            DataType::Uint16,
            u16,
            [0, u16::MAX, 1, 300],
            int32_data,
            i32::from
        );
        both_storages!(
            DataType::Uint32,
            u32,
            [0, u32::MAX, 1, 1 << 31],
            uint64_data,
            u64::from
        );
        both_storages!(
            DataType::Uint64,
            u64,
            [0, u64::MAX, 1, 1 << 63],
            uint64_data,
            |v| v
        );

        let want = tensor(&[2, 2], &[true, false, false, true]);
        let mut raw = proto(DataType::Bool, &[2, 2]);
        raw.raw_data = Some(vec![1, 0, 0, 1].into());
        assert_eq!(decode_ok(&raw), want);
        let mut typed = proto(DataType::Bool, &[2, 2]);
        typed.int32_data = vec![1, 0, 0, 1];
        assert_eq!(decode_ok(&typed), want);
        assert_eq!(tensor_to_proto("t", &want).unwrap().raw_data, raw.raw_data);
    }

    #[test]
    fn raw_data_is_little_endian() {
        let mut p = proto(DataType::Float, &[1]);
        // 1.0f32 is 0x3f80_0000.
        p.raw_data = Some(vec![0x00, 0x00, 0x80, 0x3f].into());
        assert_eq!(decode_ok(&p), tensor(&[1], &[1.0f32]));
        let mut p = proto(DataType::Int16, &[1]);
        p.raw_data = Some(vec![0x01, 0x02].into());
        assert_eq!(decode_ok(&p), tensor(&[1], &[0x0201i16]));
    }

    #[test]
    fn scalars_and_empty_tensors() {
        let mut scalar = proto(DataType::Int64, &[]);
        scalar.int64_data = vec![7];
        assert_eq!(decode_ok(&scalar), Tensor::from(7i64));

        let mut empty = proto(DataType::Float, &[0, 5]);
        empty.raw_data = Some(Vec::new().into());
        let t = decode_ok(&empty);
        assert_eq!(t.shape(), [0, 5]);
        // Neither storage present is a valid empty tensor too.
        assert_eq!(decode_ok(&proto(DataType::Float, &[3, 0])).shape(), [3, 0]);
    }

    #[test]
    fn wrong_raw_data_length_names_tensor_and_sizes() {
        let mut p = proto(DataType::Float, &[2, 3]);
        p.raw_data = Some(vec![0; 20].into());
        let err = decode_err(&p);
        assert!(
            matches!(
                err,
                OnnxError::RawDataLength {
                    expected: 24,
                    actual: 20,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("tensor t (FLOAT, dims [2, 3])"), "{msg}");
        assert!(msg.contains("20 bytes, expected 24"), "{msg}");
    }

    #[test]
    fn wrong_typed_length_names_the_field() {
        let mut p = proto(DataType::Int64, &[2, 3]);
        p.int64_data = vec![1; 5];
        let err = decode_err(&p);
        assert!(
            matches!(
                err,
                OnnxError::TypedDataLength {
                    field: "int64_data",
                    expected: 6,
                    actual: 5,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn absurd_dims_fail_before_allocating() {
        for dims in [
            vec![1 << 40, 1 << 40],
            vec![i64::MAX, i64::MAX],
            vec![1 << 31, 2],
            // An element count within limits whose byte size is not: 2^30 doubles are 8 GiB.
            vec![1 << 30],
            // Zero-sized but absurd elsewhere: still refused.
            vec![0, 1 << 62],
        ] {
            let mut p = proto(DataType::Double, &dims);
            p.raw_data = Some(vec![0; 8].into());
            let err = decode_err(&p);
            assert!(
                matches!(err, OnnxError::TooLarge { .. }),
                "{dims:?}: {err:?}"
            );
        }

        // Within limits, the payload length is checked before the array is built.
        let mut p = proto(DataType::Float, &[1 << 28]);
        p.float_data = vec![0.0; 3];
        assert!(matches!(decode_err(&p), OnnxError::TypedDataLength { .. }));
    }

    #[test]
    fn custom_limits_apply() {
        let mut p = proto(DataType::Float, &[4]);
        p.float_data = vec![0.0; 4];
        let tight = TensorLimits {
            max_elements: 3,
            max_bytes: 1 << 20,
        };
        assert!(matches!(
            tensor_from_proto(&p, tight),
            Err(OnnxError::TooLarge { .. })
        ));
        let tight = TensorLimits {
            max_elements: 100,
            max_bytes: 15,
        };
        assert!(matches!(
            tensor_from_proto(&p, tight),
            Err(OnnxError::TooLarge { .. })
        ));
    }

    #[test]
    fn negative_dim_is_refused() {
        let mut p = proto(DataType::Float, &[2, -1]);
        p.float_data = vec![0.0; 2];
        let err = decode_err(&p);
        assert!(matches!(err, OnnxError::NegativeDim { ref dims, .. } if dims == &[2, -1]));
    }

    #[test]
    fn strings_decode_from_string_data_and_encode_back() {
        let mut p = proto(DataType::String, &[2]);
        p.string_data = vec![b"ab".to_vec(), "\u{e9}".as_bytes().to_vec()];
        let t = decode_ok(&p);
        let v: Vec<String> = t
            .to_plain_array_view::<String>()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        assert_eq!(v, ["ab", "\u{e9}"]);
        assert_eq!(tensor_to_proto("t", &t).unwrap(), p_with_no_raw(p.clone()));
        // Not UTF-8, or stored in raw_data: refused naming the tensor.
        let mut bad = p.clone();
        bad.string_data[1] = vec![0xff];
        assert!(matches!(
            decode_err(&bad),
            OnnxError::InvalidValue { index: 1, .. }
        ));
        let mut raw = proto(DataType::String, &[2]);
        raw.raw_data = Some(b"ab".to_vec().into());
        assert!(matches!(
            decode_err(&raw),
            OnnxError::InvalidValue {
                field: "raw_data",
                ..
            }
        ));
    }

    fn p_with_no_raw(mut p: TensorProto) -> TensorProto {
        p.raw_data = None;
        p
    }

    #[test]
    fn narrow_types_decode_widened_with_their_type() {
        // onnx.helper.make_tensor('t', INT4, [5], [1, -2, 3, 1, 0]) stores int32_data [225, 19, 0].
        let mut p = proto(DataType::Int4, &[5]);
        p.int32_data = vec![225, 19, 0];
        let (t, dt) = decode_tensor(&p, TensorLimits::default()).unwrap();
        assert_eq!(dt, DataType::Int4);
        assert_eq!(t, tensor(&[5], &[1i8, -2, 3, 1, 0]));
        // BFLOAT16 [1, -2] from raw_data and from int32_data (bits 16256, 49152).
        let mut p = proto(DataType::Bfloat16, &[2]);
        p.raw_data = Some(vec![0x80, 0x3f, 0x00, 0xc0].into());
        let (raw, _) = decode_tensor(&p, TensorLimits::default()).unwrap();
        p.raw_data = None;
        p.int32_data = vec![16256, 49152];
        let (typed, dt) = decode_tensor(&p, TensorLimits::default()).unwrap();
        assert_eq!(dt, DataType::Bfloat16);
        assert_eq!(raw, typed);
        assert_eq!(typed, tensor(&[2], &[1.0f32, -2.0]));
        // A typed value out of range, a short payload: errors naming the tensor.
        p.int32_data = vec![16256, 1 << 20];
        assert!(matches!(
            decode_tensor(&p, TensorLimits::default()),
            Err(OnnxError::InvalidValue { index: 1, .. })
        ));
        let mut p = proto(DataType::Float8e5m2, &[3]);
        p.raw_data = Some(vec![0x3c, 0x3c].into());
        assert!(matches!(
            decode_tensor(&p, TensorLimits::default()),
            Err(OnnxError::RawDataLength {
                expected: 3,
                actual: 2,
                ..
            })
        ));
        // Other types come back as tensor_from_proto reads them.
        let mut p = proto(DataType::Float, &[1]);
        p.float_data = vec![2.5];
        let (t, dt) = decode_tensor(&p, TensorLimits::default()).unwrap();
        assert_eq!((t, dt), (tensor(&[1], &[2.5f32]), DataType::Float));
    }

    #[test]
    fn unsupported_types_are_named() {
        for (data_type, name) in [
            (DataType::Bfloat16 as i32, "BFLOAT16"),
            (DataType::Complex64 as i32, "COMPLEX64"),
            (DataType::Float8e4m3fn as i32, "FLOAT8E4M3FN"),
            (DataType::Int4 as i32, "INT4"),
            (DataType::Undefined as i32, "UNDEFINED"),
            (99, "unknown data type 99"),
        ] {
            let mut p = proto(DataType::Float, &[1]);
            p.data_type = Some(data_type);
            p.raw_data = Some(vec![0; 2].into());
            match decode_err(&p) {
                OnnxError::Unsupported { tensor, dtype } => {
                    assert_eq!((tensor.as_str(), dtype.as_str()), ("t", name));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn external_data_is_left_to_a_later_layer() {
        let mut p = proto(DataType::Float, &[4]);
        p.data_location = Some(DataLocation::External as i32);
        p.external_data = vec![StringStringEntryProto {
            key: Some("location".to_owned()),
            value: Some("weights.bin".to_owned()),
        }];
        assert!(matches!(decode_err(&p), OnnxError::ExternalData { ref tensor } if tensor == "t"));
    }

    #[test]
    fn out_of_range_values_are_refused_not_truncated() {
        let mut p = proto(DataType::Int8, &[2]);
        p.int32_data = vec![1, 200];
        let err = decode_err(&p);
        assert!(
            matches!(err, OnnxError::InvalidValue { field: "int32_data", index: 1, ref value, .. } if value == "200"),
            "{err:?}"
        );

        let mut p = proto(DataType::Uint32, &[1]);
        p.uint64_data = vec![1 << 40];
        assert!(matches!(decode_err(&p), OnnxError::InvalidValue { .. }));

        let mut p = proto(DataType::Float16, &[1]);
        p.int32_data = vec![-1];
        assert!(matches!(decode_err(&p), OnnxError::InvalidValue { .. }));

        let mut p = proto(DataType::Bool, &[3]);
        p.raw_data = Some(vec![0, 1, 2].into());
        let err = decode_err(&p);
        assert!(
            matches!(
                err,
                OnnxError::InvalidValue { field: "raw_data", index: 2, ref value, .. }
                    if value == "0x02"
            ),
            "{err:?}"
        );
    }

    #[test]
    fn ndarray_round_trip_keeps_logical_order() {
        let a =
            ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let p = array_to_proto("a", &a).unwrap();
        assert_eq!(p.dims, [2, 3]);
        assert_eq!(array_from_proto(&p, TensorLimits::default()).unwrap(), a);

        // A column-major array must still be written row-major.
        let f = ArrayD::from_shape_vec(IxDyn(&[2, 3]).f(), vec![1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0])
            .unwrap();
        assert_eq!(f, a);
        assert_eq!(array_to_proto("a", &f).unwrap().raw_data, p.raw_data);

        let mut typed = proto(DataType::Float, &[2, 3]);
        typed.float_data = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            array_from_proto(&typed, TensorLimits::default()).unwrap(),
            a
        );
    }

    #[test]
    fn array_from_proto_checks_the_dtype() {
        let mut p = proto(DataType::Int64, &[1]);
        p.int64_data = vec![1];
        let err = array_from_proto(&p, TensorLimits::default()).unwrap_err();
        assert!(
            matches!(err, OnnxError::DtypeMismatch { ref expected, ref actual, .. } if expected == "FLOAT" && actual == "INT64"),
            "{err:?}"
        );
    }

    #[test]
    fn check_tensor_proto_bounds_every_type_without_decoding() {
        let limits = TensorLimits::default();
        // A decodable type: same verdicts as the decoder, without building the array.
        let mut p = proto(DataType::Float, &[2, 3]);
        p.raw_data = Some(vec![0; 24].into());
        let size = check_tensor_proto(&p, limits).unwrap();
        assert_eq!((size.elements, size.raw_bytes), (6, Some(24)));
        p.raw_data = Some(vec![0; 20].into());
        assert!(matches!(
            check_tensor_proto(&p, limits),
            Err(OnnxError::RawDataLength { expected: 24, .. })
        ));
        // Types the decoder refuses still get their payload checked.
        let mut p = proto(DataType::Bfloat16, &[3]);
        p.int32_data = vec![1, 2];
        assert!(matches!(
            check_tensor_proto(&p, limits),
            Err(OnnxError::TypedDataLength {
                field: "int32_data",
                expected: 3,
                actual: 2,
                ..
            })
        ));
        let mut p = proto(DataType::Complex64, &[2]);
        p.float_data = vec![0.0; 4];
        assert!(check_tensor_proto(&p, limits).is_ok());
        let mut p = proto(DataType::Int4, &[5]);
        p.raw_data = Some(vec![0; 3].into());
        assert_eq!(check_tensor_proto(&p, limits).unwrap().raw_bytes, Some(3));
        let mut p = proto(DataType::String, &[2]);
        p.string_data = vec![b"a".to_vec()];
        assert!(matches!(
            check_tensor_proto(&p, limits),
            Err(OnnxError::TypedDataLength {
                field: "string_data",
                ..
            })
        ));
        // Absurd dims are refused whatever the type, known or not.
        for dt in [DataType::String as i32, DataType::Float as i32, 77] {
            let mut p = proto(DataType::Float, &[1 << 40, 1 << 20]);
            p.data_type = Some(dt);
            assert!(matches!(
                check_tensor_proto(&p, limits),
                Err(OnnxError::TooLarge { .. })
            ));
        }
        // External data: sized, not opened.
        let mut p = proto(DataType::Double, &[4]);
        p.data_location = Some(DataLocation::External as i32);
        assert_eq!(check_tensor_proto(&p, limits).unwrap().raw_bytes, Some(32));
    }

    #[test]
    fn tensor_to_proto_refuses_what_it_cannot_write() {
        let t = tract_onnx::prelude::tensor0(tract_onnx::prelude::TDim::from(3));
        assert!(matches!(
            tensor_to_proto("s", &t),
            Err(OnnxError::Unsupported { .. })
        ));
    }
}
