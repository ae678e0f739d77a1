//! NumPy `.npy` and `.npz` files as tract tensors, read without trusting the header.
//!
//! Why our own reader: a header may claim any shape, and a reader that allocates the claimed
//! size before looking at the data can be made to allocate gigabytes by a 100-byte file. Here
//! the shape is checked against [`TensorLimits`] and against the bytes actually present before
//! anything proportional to it is allocated. The `.npz` container is read with `zip`, each
//! member's declared size checked before it is decompressed.
//!
//! Element types: `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1`, either byte order, C or Fortran order.
//!
//! Writing f32 arrays for artifacts ([`npy_bytes`], [`npz_bytes`]) goes through ndarray-npy,
//! whose header layout the committed artifacts have; [`encode_npy`] writes any tensor numpy's
//! way, for tests and tools.

use std::io::{Cursor, Read};
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use ndarray_npy::{NpzWriter, WriteNpyExt};
use tract_onnx::prelude::{Datum, Tensor, f16};

use super::RefDataError;
use crate::onnx::TensorLimits;

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy writes headers of a few hundred bytes; anything far larger is not a header.
const MAX_HEADER: usize = 1 << 16;

/// Reads a `.npy` file.
pub fn read_npy(path: &Path, limits: TensorLimits) -> Result<Tensor, RefDataError> {
    let bytes = std::fs::read(path).map_err(|source| RefDataError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode_npy(&bytes, limits).map_err(|message| RefDataError::Npy {
        path: path.to_owned(),
        message,
    })
}

/// Reads every array of a `.npz` file, in archive order, with the `.npy` suffix dropped from
/// the names (as numpy does).
pub fn read_npz(path: &Path, limits: TensorLimits) -> Result<Vec<(String, Tensor)>, RefDataError> {
    let fail = |message: String| RefDataError::Npy {
        path: path.to_owned(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| RefDataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| fail(format!("not a valid .npz (zip) file: {e}")))?;
    let mut out = Vec::with_capacity(archive.len().min(1024));
    for i in 0..archive.len() {
        let member = archive
            .by_index(i)
            .map_err(|e| fail(format!("member {i}: {e}")))?;
        let name = member.name().to_owned();
        let short = name.strip_suffix(".npy").unwrap_or(&name).to_owned();
        let size = member.size();
        if size > limits.max_bytes.saturating_add(MAX_HEADER as u64 + 16) {
            return Err(fail(format!(
                "member {name} declares {size} bytes, more than the {} byte limit",
                limits.max_bytes
            )));
        }
        // Never trust the declared size for the allocation: grow with what actually arrives.
        let mut bytes = Vec::with_capacity((size as usize).min(1 << 24));
        member
            .take(size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("member {name}: {e}")))?;
        if bytes.len() as u64 != size {
            return Err(fail(format!(
                "member {name}: holds {} bytes, its header says {size}",
                bytes.len()
            )));
        }
        let tensor = decode_npy(&bytes, limits).map_err(|m| fail(format!("member {name}: {m}")))?;
        out.push((short, tensor));
    }
    Ok(out)
}

/// The parsed header of a `.npy` file.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Offset of the first data byte.
    data_start: usize,
}

/// Decodes the bytes of one `.npy` file. Errors are messages for the caller to attach a path to.
pub fn decode_npy(bytes: &[u8], limits: TensorLimits) -> Result<Tensor, String> {
    let header = parse_header(bytes)?;
    let (kind, width, little) = parse_descr(&header.descr)?;
    let count = header
        .shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
    let data = &bytes[header.data_start..];
    let within = count.is_some_and(|count| {
        count <= limits.max_elements
            && count
                .checked_mul(width as u64)
                .is_some_and(|b| b <= limits.max_bytes)
    });
    let Some(count) = count.filter(|_| within) else {
        return Err(format!(
            "shape {:?} describes more than {} elements or {} bytes; refusing to allocate",
            header.shape, limits.max_elements, limits.max_bytes
        ));
    };
    let expected = count * width as u64;
    if data.len() as u64 != expected {
        return Err(format!(
            "shape {:?} of '{}' needs {expected} data bytes, the file holds {}",
            header.shape,
            header.descr,
            data.len()
        ));
    }
    let shape = &header.shape;
    let f = header.fortran_order;
    match (kind, width) {
        ('f', 2) => build(shape, f, data, little, |b| {
            f16::from_bits(u16::from_le_bytes(b))
        }),
        ('f', 4) => build(shape, f, data, little, f32::from_le_bytes),
        ('f', 8) => build(shape, f, data, little, f64::from_le_bytes),
        ('i', 1) => build(shape, f, data, little, i8::from_le_bytes),
        ('i', 2) => build(shape, f, data, little, i16::from_le_bytes),
        ('i', 4) => build(shape, f, data, little, i32::from_le_bytes),
        ('i', 8) => build(shape, f, data, little, i64::from_le_bytes),
        ('u', 1) => build(shape, f, data, little, u8::from_le_bytes),
        ('u', 2) => build(shape, f, data, little, u16::from_le_bytes),
        ('u', 4) => build(shape, f, data, little, u32::from_le_bytes),
        ('u', 8) => build(shape, f, data, little, u64::from_le_bytes),
        ('b', 1) => {
            let values = data
                .iter()
                .enumerate()
                .map(|(i, &b)| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(format!("element {i} of a bool array is {b}, not 0 or 1")),
                })
                .collect::<Result<Vec<bool>, _>>()?;
            array(shape, f, values)
        }
        ('U' | 'S', _) => {
            let values = strings(kind, width, data, little, count as usize)?;
            let dims = IxDyn(shape);
            let a = if f {
                ArrayD::from_shape_vec(dims.f(), values)
            } else {
                ArrayD::from_shape_vec(dims, values)
            }
            .map_err(|e| format!("shape {shape:?}: {e}"))?;
            Ok(Tensor::from(a.as_standard_layout().into_owned()))
        }
        _ => unreachable!("parse_descr only returns the pairs above"),
    }
}

/// NumPy's fixed-width strings, NUL-padded: `U` holds UTF-32 code points, `S` bytes (read as
/// UTF-8, as ONNX strings are).
fn strings(
    kind: char,
    width: usize,
    data: &[u8],
    little: bool,
    count: usize,
) -> Result<Vec<String>, String> {
    if width == 0 {
        return Ok(vec![String::new(); count]);
    }
    data.chunks_exact(width)
        .enumerate()
        .map(|(i, c)| {
            if kind == 'S' {
                let end = c.iter().rposition(|&b| b != 0).map_or(0, |j| j + 1);
                return String::from_utf8(c[..end].to_vec())
                    .map_err(|_| format!("element {i} of a bytes array is not UTF-8"));
            }
            let mut s = String::new();
            for unit in c.chunks_exact(4) {
                let b: [u8; 4] = unit.try_into().expect("chunks of 4");
                let code = if little {
                    u32::from_le_bytes(b)
                } else {
                    u32::from_be_bytes(b)
                };
                s.push(char::from_u32(code).ok_or_else(|| {
                    format!("element {i} of a unicode array holds {code:#x}, not a character")
                })?);
            }
            Ok(s.trim_end_matches('\0').to_owned())
        })
        .collect()
}

fn build<T: Datum + Copy, const N: usize>(
    shape: &[usize],
    fortran: bool,
    data: &[u8],
    little: bool,
    from_le: fn([u8; N]) -> T,
) -> Result<Tensor, String> {
    let values = data
        .chunks_exact(N)
        .map(|c| {
            let mut b: [u8; N] = c.try_into().expect("chunks_exact gives N bytes");
            if !little {
                b.reverse();
            }
            from_le(b)
        })
        .collect();
    array(shape, fortran, values)
}

fn array<T: Datum + Copy>(
    shape: &[usize],
    fortran: bool,
    values: Vec<T>,
) -> Result<Tensor, String> {
    let dims = IxDyn(shape);
    let a = if fortran {
        ArrayD::from_shape_vec(dims.f(), values)
    } else {
        ArrayD::from_shape_vec(dims, values)
    }
    .map_err(|e| format!("shape {shape:?}: {e}"))?;
    // tract wants row-major storage.
    Ok(Tensor::from(a.as_standard_layout().into_owned()))
}

/// `(kind, bytes per element, little endian)` of a supported descriptor such as `<f4`.
fn parse_descr(descr: &str) -> Result<(char, usize, bool), String> {
    let unsupported = || {
        format!("element type '{descr}' is not supported (numeric, bool and fixed-width strings)")
    };
    let mut chars = descr.chars();
    let (order, rest) = match chars.next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, chars.as_str()),
        _ => ('=', descr),
    };
    let mut rest = rest.chars();
    let kind = rest.next().ok_or_else(unsupported)?;
    let mut width: usize = rest.as_str().parse().map_err(|_| unsupported())?;
    // `<U5` counts characters of 4 bytes each; `|S5` bytes.
    if kind == 'U' {
        width = width.checked_mul(4).ok_or_else(unsupported)?;
    }
    let ok = matches!(
        (kind, width),
        ('f', 2 | 4 | 8) | ('i', 1 | 2 | 4 | 8) | ('u', 1 | 2 | 4 | 8) | ('b', 1) | ('U' | 'S', _)
    );
    if !ok {
        return Err(unsupported());
    }
    let little = match order {
        '>' => false,
        '<' | '|' => true,
        _ => cfg!(target_endian = "little"),
    };
    Ok((kind, width, little))
}

fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (no \\x93NUMPY magic)".to_owned());
    }
    let major = bytes[6];
    let (len, start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(format!("unsupported .npy format version {major}")),
    };
    if len > MAX_HEADER || start + len > bytes.len() {
        return Err(format!(
            "header length {len} exceeds the file or the {MAX_HEADER} byte limit"
        ));
    }
    let text = std::str::from_utf8(&bytes[start..start + len])
        .map_err(|_| "header is not text".to_owned())?;
    let mut p = Literal {
        s: text.as_bytes(),
        at: 0,
    };
    let Py::Dict(entries) = p.value(0)? else {
        return Err("header is not a dict".to_owned());
    };
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let descr = match get("descr") {
        Some(Py::Str(s)) => s.clone(),
        Some(_) => return Err("structured dtypes are not supported".to_owned()),
        None => return Err("header has no 'descr'".to_owned()),
    };
    let fortran_order = match get("fortran_order") {
        Some(Py::Bool(b)) => *b,
        _ => return Err("header has no boolean 'fortran_order'".to_owned()),
    };
    let shape = match get("shape") {
        Some(Py::Tuple(items)) => items
            .iter()
            .map(|v| match v {
                Py::Int(n) => usize::try_from(*n).map_err(|_| format!("bad dimension {n}")),
                _ => Err("shape holds a non-integer".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("header has no tuple 'shape'".to_owned()),
    };
    Ok(Header {
        descr,
        fortran_order,
        shape,
        data_start: start + len,
    })
}

/// The Python literals a `.npy` header uses.
#[derive(Debug, PartialEq)]
enum Py {
    Dict(Vec<(String, Py)>),
    Tuple(Vec<Py>),
    List(Vec<Py>),
    Str(String),
    Int(i128),
    Bool(bool),
    None,
}

struct Literal<'a> {
    s: &'a [u8],
    at: usize,
}

impl Literal<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!(
                "header: expected '{}' at byte {}",
                c as char, self.at
            ))
        }
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    fn items<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok(out);
            }
            out.push(item(self)?);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {}
                _ => return Err(format!("header: expected ',' at byte {}", self.at)),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Py, String> {
        if depth > 8 {
            return Err("header nests too deeply".to_owned());
        }
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let entries = self.items(b'}', |p| {
                    let Py::Str(key) = p.value(depth + 1)? else {
                        return Err("header: dict key is not a string".to_owned());
                    };
                    p.expect(b':')?;
                    Ok((key, p.value(depth + 1)?))
                })?;
                Ok(Py::Dict(entries))
            }
            Some(b'(') => {
                self.at += 1;
                Ok(Py::Tuple(self.items(b')', |p| p.value(depth + 1))?))
            }
            // Lists only appear in structured dtypes, which are refused later.
            Some(b'[') => {
                self.at += 1;
                Ok(Py::List(self.items(b']', |p| p.value(depth + 1))?))
            }
            Some(q @ (b'\'' | b'"')) => {
                self.at += 1;
                let start = self.at;
                while self.s.get(self.at).is_some_and(|&c| c != q) {
                    self.at += 1;
                }
                if self.at >= self.s.len() {
                    return Err("header: unterminated string".to_owned());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
                self.at += 1;
                Ok(Py::Str(text))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' => {
                let start = self.at;
                self.at += 1;
                while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.at]).expect("ascii digits");
                // Python 2 era files may write long integers as `10L`.
                if self.s.get(self.at) == Some(&b'L') {
                    self.at += 1;
                }
                text.parse()
                    .map(Py::Int)
                    .map_err(|_| format!("header: bad integer '{text}'"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.at;
                while self.s.get(self.at).is_some_and(u8::is_ascii_alphanumeric) {
                    self.at += 1;
                }
                match &self.s[start..self.at] {
                    b"True" => Ok(Py::Bool(true)),
                    b"False" => Ok(Py::Bool(false)),
                    b"None" => Ok(Py::None),
                    other => Err(format!(
                        "header: unknown name '{}'",
                        String::from_utf8_lossy(other)
                    )),
                }
            }
            _ => Err(format!("header: unexpected input at byte {}", self.at)),
        }
    }
}

/// `.npy` bytes of an f32 array (version 1, C order, little endian).
pub fn npy_bytes(a: &ArrayViewD<f32>) -> Vec<u8> {
    let mut out = Vec::new();
    a.write_npy(&mut out)
        .expect("writing npy to memory cannot fail");
    out
}

/// `.npz` bytes of named f32 arrays, uncompressed, in the order given: equal arrays give equal
/// bytes.
pub fn npz_bytes(arrays: &[(String, ArrayViewD<f32>)]) -> Vec<u8> {
    let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
    for (name, a) in arrays {
        npz.add_array(name.as_str(), a)
            .expect("in-memory npz write");
    }
    npz.finish().expect("in-memory npz write").into_inner()
}

/// Encodes a tensor as `.npy` bytes (version 1, C order, little endian). For tests and for
/// writing reference data; the element types are those [`decode_npy`] reads.
pub fn encode_npy(tensor: &Tensor) -> Option<Vec<u8>> {
    use tract_onnx::prelude::DatumType as D;
    let descr = match tensor.datum_type() {
        D::F16 => "<f2",
        D::F32 => "<f4",
        D::F64 => "<f8",
        D::I8 => "|i1",
        D::I16 => "<i2",
        D::I32 => "<i4",
        D::I64 => "<i8",
        D::U8 => "|u1",
        D::U16 => "<u2",
        D::U32 => "<u4",
        D::U64 => "<u8",
        D::Bool => "|b1",
        _ => return None,
    };
    let shape = match tensor.shape() {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that the data starts on a 64-byte boundary, newline-terminated, as numpy does.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + tensor.len() * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    // tract tensors are row-major and plain; their bytes are the data in native order.
    if cfg!(target_endian = "big") && tensor.datum_type().size_of() > 1 {
        return None;
    }
    out.extend_from_slice(tensor.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    fn limits() -> TensorLimits {
        TensorLimits::default()
    }

    /// numpy: `np.save(f, np.array([[1.5, -2.0], [0.25, 8.0]], dtype='<f4'))` writes this header.
    fn numpy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_c_and_fortran_order_and_both_byte_orders() {
        let values = [1.5f32, -2.0, 0.25, 8.0];
        let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let want = Tensor::from(arr2(&[[1.5f32, -2.0], [0.25, 8.0]]).into_dyn());
        let c = decode_npy(&numpy_bytes("<f4", false, "(2, 2)", &le), limits()).unwrap();
        assert_eq!(c, want);
        // Fortran order stores columns first: 1.5, 0.25, -2.0, 8.0.
        let fo: Vec<u8> = [1.5f32, 0.25, -2.0, 8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = decode_npy(&numpy_bytes("<f4", true, "(2, 2)", &fo), limits()).unwrap();
        assert_eq!(f, want);
        let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let b = decode_npy(&numpy_bytes(">f4", false, "(2, 2)", &be), limits()).unwrap();
        assert_eq!(b, want);
    }

    #[test]
    fn every_supported_type_round_trips_through_encode() {
        let tensors = [
            Tensor::from(arr2(&[[1.0f64, 2.0]]).into_dyn()),
            Tensor::from(arr2(&[[f16::from_f32(0.5)]]).into_dyn()),
            Tensor::from(arr2(&[[-1i8, 2], [3, 4]]).into_dyn()),
            Tensor::from(arr2(&[[i16::MIN]]).into_dyn()),
            Tensor::from(arr2(&[[i32::MAX, 0]]).into_dyn()),
            Tensor::from(arr2(&[[i64::MIN]]).into_dyn()),
            Tensor::from(arr2(&[[255u8]]).into_dyn()),
            Tensor::from(arr2(&[[65535u16]]).into_dyn()),
            Tensor::from(arr2(&[[u32::MAX]]).into_dyn()),
            Tensor::from(arr2(&[[u64::MAX]]).into_dyn()),
            Tensor::from(arr2(&[[true, false]]).into_dyn()),
            Tensor::from(7.5f32),
        ];
        for t in tensors {
            let bytes = encode_npy(&t).unwrap();
            assert_eq!(decode_npy(&bytes, limits()).unwrap(), t, "{t:?}");
        }
    }

    #[test]
    fn lying_headers_are_refused_before_allocating() {
        for shape in [
            "(1099511627776,)",
            "(4294967296, 4294967296)",
            "(1073741824,)",
        ] {
            let err = decode_npy(&numpy_bytes("<f8", false, shape, &[0; 8]), limits()).unwrap_err();
            assert!(err.contains("refusing to allocate"), "{shape}: {err}");
        }
        // Within limits but more than the file holds.
        let err =
            decode_npy(&numpy_bytes("<f4", false, "(1000000,)", &[0; 8]), limits()).unwrap_err();
        assert!(
            err.contains("needs 4000000 data bytes, the file holds 8"),
            "{err}"
        );
    }

    #[test]
    fn fixed_width_strings_are_read_without_padding() {
        // np.save(f, np.array(["ab", "c"])) writes '<U2': UTF-32 code points, NUL-padded.
        let mut data = Vec::new();
        for c in ['a', 'b', 'c', '\0'] {
            data.extend((c as u32).to_le_bytes());
        }
        let t = decode_npy(&numpy_bytes("<U2", false, "(2,)", &data), limits()).unwrap();
        let v: Vec<String> = t
            .to_plain_array_view::<String>()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        assert_eq!(v, ["ab", "c"]);
        // np.array([b"xy", b"z"]) is '|S2'.
        let t = decode_npy(&numpy_bytes("|S2", false, "(2,)", b"xyz\0"), limits()).unwrap();
        let v: Vec<String> = t
            .to_plain_array_view::<String>()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        assert_eq!(v, ["xy", "z"]);
        let bad = numpy_bytes("<U1", false, "(1,)", &0xd800u32.to_le_bytes());
        assert!(
            decode_npy(&bad, limits())
                .unwrap_err()
                .contains("not a character")
        );
    }

    #[test]
    fn unsupported_and_malformed_headers_say_why() {
        for (bytes, needle) in [
            (b"PK\x03\x04".to_vec(), "no \\x93NUMPY magic"),
            (
                numpy_bytes("<c8", false, "(1,)", &[0; 8]),
                "'<c8' is not supported",
            ),
            (
                numpy_bytes("|O", false, "(1,)", &[0; 8]),
                "'|O' is not supported",
            ),
            (numpy_bytes("|b1", false, "(1,)", &[2]), "not 0 or 1"),
            (numpy_bytes("<f4", false, "(-1,)", &[]), "bad dimension -1"),
            (
                numpy_bytes("<f4", false, "[1]", &[0; 4]),
                "no tuple 'shape'",
            ),
        ] {
            let err = decode_npy(&bytes, limits()).unwrap_err();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let mut truncated = numpy_bytes("<f4", false, "(1,)", &[0; 4]);
        truncated.truncate(20);
        assert!(decode_npy(&truncated, limits()).is_err());
    }
}
