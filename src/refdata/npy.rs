//! NumPy `.npy` and `.npz` files as tract tensors, read without trusting the header.
//!
//! Why our own reader: a header may claim any shape, and a reader that allocates the claimed
//! size before looking at the data can be made to allocate gigabytes by a 100-byte file. Here
//! the shape is checked against [`TensorLimits`] and against the bytes actually present before
//! anything proportional to it is allocated. The `.npz` container is read with `zip`, each
//! member's declared size checked before it is decompressed.
//!
//! Element types: `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1` and fixed-width strings (`U`, `S`), either
//! byte order, C or Fortran order.
//!
//! Writing f32 arrays for artifacts ([`npy_bytes`], [`npz_bytes`]) goes through ndarray-npy,
//! whose header layout the committed artifacts have; [`encode_npy`] writes any tensor numpy's
//! way, for tests and tools.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use ndarray_npy::{NpzWriter, WriteNpyExt};
use tract_onnx::prelude::{DatumType, Tensor};

use super::RefDataError;
use crate::onnx::TensorLimits;

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy writes headers of a few hundred bytes; anything far larger is not a header.
const MAX_HEADER: usize = 1 << 16;

/// Reads a `.npy` file: the header first, then the data straight into the tensor's buffer (one
/// read, no intermediate copy).
pub fn read_npy(path: &Path, limits: TensorLimits) -> Result<Tensor, RefDataError> {
    let io = |source| RefDataError::Io {
        path: path.to_owned(),
        source,
    };
    let fail = |message: String| RefDataError::Npy {
        path: path.to_owned(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let (header, file_len) = read_header(&mut file).map_err(|e| match e {
        HeaderError::Io(e) => io(e),
        HeaderError::Bad(m) => fail(m),
    })?;
    let data = Data::check(&header, file_len - header.data_start as u64, limits).map_err(fail)?;
    if data.dt == DatumType::String {
        // Fixed-width strings are decoded from the bytes (their size checked above).
        let mut bytes = vec![0u8; (file_len - header.data_start as u64) as usize];
        file.seek(SeekFrom::Start(header.data_start as u64))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(io)?;
        return data.strings(&bytes).map_err(fail);
    }
    let mut tensor = data.allocate().map_err(fail)?;
    file.seek(SeekFrom::Start(header.data_start as u64))
        .and_then(|_| file.read_exact(tensor.as_bytes_mut()))
        .map_err(io)?;
    data.finish(tensor).map_err(fail)
}

/// A `.npy` file read a block of samples (entries of the first axis) at a time, for test sets
/// larger than memory. Only the block being read is allocated; each block is read straight into
/// its tensor's buffer. The header is checked against the file's length when it is opened, and
/// each block against [`TensorLimits`].
#[derive(Debug)]
pub struct NpyRows {
    path: std::path::PathBuf,
    file: std::fs::File,
    data: Data,
    data_start: u64,
    /// Bytes of one sample.
    row_bytes: u64,
    next: usize,
    limits: TensorLimits,
}

impl NpyRows {
    /// Opens `path` and checks its header. Fortran-ordered files and scalars are refused: their
    /// samples are not contiguous blocks.
    pub fn open(path: &Path, limits: TensorLimits) -> Result<Self, RefDataError> {
        let fail = |message: String| RefDataError::Npy {
            path: path.to_owned(),
            message,
        };
        let mut file = std::fs::File::open(path).map_err(|source| RefDataError::Io {
            path: path.to_owned(),
            source,
        })?;
        let (header, file_len) = read_header(&mut file).map_err(|e| match e {
            HeaderError::Io(source) => RefDataError::Io {
                path: path.to_owned(),
                source,
            },
            HeaderError::Bad(m) => fail(m),
        })?;
        // The whole file is never allocated: only its consistency is checked here.
        let unbounded = TensorLimits {
            max_elements: u64::MAX,
            max_bytes: u64::MAX,
        };
        let data =
            Data::check(&header, file_len - header.data_start as u64, unbounded).map_err(fail)?;
        if data.dt == DatumType::String {
            return Err(fail(
                "holds strings; reading in slices of samples (--chunk, --shard) supports numeric and bool \
                 arrays only"
                    .to_owned(),
            ));
        }
        if data.shape.is_empty() {
            return Err(fail(
                "holds a scalar; reading in chunks needs samples along a first axis".to_owned(),
            ));
        }
        if data.fortran && data.shape.len() > 1 {
            return Err(fail(
                "is stored in Fortran order, so its samples are not contiguous and cannot be \
                 read in chunks; save it in C order (numpy: np.ascontiguousarray)"
                    .to_owned(),
            ));
        }
        let row_bytes = data.shape[1..]
            .iter()
            .fold(data.dt.size_of() as u64, |n, &d| n * d as u64);
        Ok(Self {
            path: path.to_owned(),
            file,
            data,
            data_start: header.data_start as u64,
            row_bytes,
            next: 0,
            limits,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn datum_type(&self) -> DatumType {
        self.data.dt
    }

    /// The whole array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.data.shape
    }

    /// Samples in the file (the first axis).
    pub fn samples(&self) -> usize {
        self.data.shape[0]
    }

    /// Makes `sample` the next one [`read`](Self::read) returns.
    pub fn seek(&mut self, sample: usize) {
        self.next = sample.min(self.samples());
    }

    /// The next `n` samples (fewer at the end of the file) as one tensor of shape
    /// `[n, rest of the shape]`.
    pub fn read(&mut self, n: usize) -> Result<Tensor, RefDataError> {
        let fail = |message: String| RefDataError::Npy {
            path: self.path.clone(),
            message,
        };
        let n = n.min(self.samples() - self.next);
        let bytes = n as u64 * self.row_bytes;
        let mut shape = self.data.shape.clone();
        shape[0] = n;
        let elements = shape.iter().product::<usize>() as u64;
        if elements > self.limits.max_elements || bytes > self.limits.max_bytes {
            return Err(fail(format!(
                "a chunk of {n} samples, shape {shape:?}, is more than {} elements or {} bytes; \
                 use a smaller --chunk",
                self.limits.max_elements, self.limits.max_bytes
            )));
        }
        let chunk = Data {
            shape,
            fortran: false,
            ..self.data.clone()
        };
        let mut t = chunk.allocate().map_err(fail)?;
        let at = self.data_start + self.next as u64 * self.row_bytes;
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(t.as_bytes_mut()))
            .map_err(|source| RefDataError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.next += n;
        chunk.finish(t).map_err(fail)
    }
}

enum HeaderError {
    Io(std::io::Error),
    Bad(String),
}

/// Reads and parses the header at the start of `file`; also returns the file's length.
fn read_header(file: &mut std::fs::File) -> Result<(Header, u64), HeaderError> {
    let len = file.metadata().map_err(HeaderError::Io)?.len();
    // The header, whatever its version, fits in the first 12 + MAX_HEADER bytes.
    let mut prefix = Vec::with_capacity(len.min(12 + MAX_HEADER as u64) as usize);
    file.take(12 + MAX_HEADER as u64)
        .read_to_end(&mut prefix)
        .map_err(HeaderError::Io)?;
    let header = parse_header(&prefix).map_err(HeaderError::Bad)?;
    Ok((header, len))
}

/// What a checked header promises: the element type, the shape, where the data is.
#[derive(Debug, Clone, PartialEq)]
struct Data {
    dt: DatumType,
    shape: Vec<usize>,
    fortran: bool,
    little: bool,
    /// Bytes per element in the file (a STRING's fixed width).
    width: usize,
    /// The descriptor's kind letter (`U` or `S` tells a STRING's encoding).
    kind: char,
}

impl Data {
    /// Checks the header's shape against `limits` and against the `available` data bytes,
    /// before anything proportional to the shape is allocated.
    fn check(header: &Header, available: u64, limits: TensorLimits) -> Result<Self, String> {
        let (dt, width, little, kind) = parse_descr(&header.descr)?;
        let count = header
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
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
        if available != expected {
            return Err(format!(
                "shape {:?} of '{}' needs {expected} data bytes, the file holds {available}",
                header.shape, header.descr
            ));
        }
        Ok(Self {
            dt,
            shape: header.shape.clone(),
            fortran: header.fortran_order,
            little,
            width,
            kind,
        })
    }

    /// The STRING tensor of fixed-width strings `data` (its length checked by [`Data::check`]).
    fn strings(&self, data: &[u8]) -> Result<Tensor, String> {
        let count = self.shape.iter().product::<usize>();
        let values = strings(self.kind, self.width, data, self.little, count)?;
        let dims = IxDyn(&self.shape);
        let a = if self.fortran {
            ArrayD::from_shape_vec(dims.f(), values)
        } else {
            ArrayD::from_shape_vec(dims, values)
        }
        .map_err(|e| format!("shape {:?}: {e}", self.shape))?;
        // tract wants row-major storage.
        Ok(Tensor::from(a.as_standard_layout().into_owned()))
    }

    /// A zeroed tensor whose bytes the file's data bytes fill as they are: Fortran order is the
    /// C order of the reversed shape.
    fn allocate(&self) -> Result<Tensor, String> {
        let shape: Vec<usize> = if self.fortran {
            self.shape.iter().rev().copied().collect()
        } else {
            self.shape.clone()
        };
        Tensor::zero_dt(self.dt, &shape).map_err(|e| format!("{e:#}"))
    }

    /// Turns the raw bytes in `t` into values: byte order, bool validity, axis order.
    fn finish(&self, mut t: Tensor) -> Result<Tensor, String> {
        let width = self.dt.size_of();
        if width > 1 && self.little != cfg!(target_endian = "little") {
            t.as_bytes_mut()
                .chunks_exact_mut(width)
                .for_each(<[u8]>::reverse);
        }
        if self.dt == DatumType::Bool
            && let Some((i, &b)) = t.as_bytes().iter().enumerate().find(|(_, b)| **b > 1)
        {
            return Err(format!("element {i} of a bool array is {b}, not 0 or 1"));
        }
        if self.fortran && t.rank() > 1 {
            let axes: Vec<usize> = (0..t.rank()).rev().collect();
            // tract wants row-major storage: the permutation copies into it.
            t = t.permute_axes(&axes).map_err(|e| format!("{e:#}"))?;
        }
        Ok(t)
    }
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

/// Decodes the bytes of one `.npy` file, copying the data once, into the tensor's buffer.
/// Errors are messages for the caller to attach a path to.
pub fn decode_npy(bytes: &[u8], limits: TensorLimits) -> Result<Tensor, String> {
    let header = parse_header(bytes)?;
    let data = &bytes[header.data_start..];
    let d = Data::check(&header, data.len() as u64, limits)?;
    if d.dt == DatumType::String {
        return d.strings(data);
    }
    let mut t = d.allocate()?;
    t.as_bytes_mut().copy_from_slice(data);
    d.finish(t)
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

/// `(element type, bytes per element, little endian, kind)` of a supported descriptor such as
/// `<f4` (`<U5` and `|S5` are STRING, `kind` telling which).
fn parse_descr(descr: &str) -> Result<(DatumType, usize, bool, char), String> {
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
    let dt = match (kind, width) {
        ('f', 2) => DatumType::F16,
        ('f', 4) => DatumType::F32,
        ('f', 8) => DatumType::F64,
        ('i', 1) => DatumType::I8,
        ('i', 2) => DatumType::I16,
        ('i', 4) => DatumType::I32,
        ('i', 8) => DatumType::I64,
        ('u', 1) => DatumType::U8,
        ('u', 2) => DatumType::U16,
        ('u', 4) => DatumType::U32,
        ('u', 8) => DatumType::U64,
        ('b', 1) => DatumType::Bool,
        // `<U5` counts characters of 4 bytes each; `|S5` bytes.
        ('U', _) => {
            width = width.checked_mul(4).ok_or_else(unsupported)?;
            DatumType::String
        }
        ('S', _) => DatumType::String,
        _ => return Err(unsupported()),
    };
    let little = match order {
        '>' => false,
        '<' | '|' => true,
        _ => cfg!(target_endian = "little"),
    };
    Ok((dt, width, little, kind))
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
    use tract_onnx::prelude::f16;

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
    fn files_read_straight_into_the_tensor_match_the_decoder() {
        let dir = tempfile::tempdir().unwrap();
        // Shape (2, 3, 2) in Fortran order: element [i, j, k] is stored at i + 2j + 6k.
        let values: Vec<i16> = (0..12).collect();
        let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let bytes = numpy_bytes(">i2", true, "(2, 3, 2)", &be);
        let path = dir.path().join("f.npy");
        std::fs::write(&path, &bytes).unwrap();
        let t = read_npy(&path, limits()).unwrap();
        assert_eq!(t, decode_npy(&bytes, limits()).unwrap());
        assert_eq!(t.shape(), &[2, 3, 2]);
        let v = t.to_plain_array_view::<i16>().unwrap();
        assert_eq!((v[[1, 0, 0]], v[[0, 1, 0]], v[[1, 2, 1]]), (1, 2, 11));
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = read_npy(&path, limits()).unwrap_err().to_string();
        assert!(
            err.contains("f.npy") && err.contains("needs 24 data bytes, the file holds 23"),
            "{err}"
        );
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
