//! Reader and writer for IDX, the container format of the MNIST distribution, raw or gzipped.
//!
//! Why here and not a crate: the format is a few lines of spec, and owning the reader lets every
//! failure name the file and the numbers that disagree.
//!
//! Layout: a 4-byte magic `[0, 0, type code, number of dims]`, each dim as a big-endian `u32`,
//! then the elements in row-major order. Only type 0x08 (unsigned byte) is supported, which is
//! all MNIST uses.
//!
//! The reader must never trust the header: the declared size is checked against
//! [`MAX_PAYLOAD_BYTES`] before anything is allocated, and decompressed input is read through
//! bounded readers, so a small hostile file (a gzip bomb, a header claiming 4 billion squared
//! bytes) costs neither memory nor much time.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Why an IDX file cannot be read. Each variant names the file and the facts (expected vs
/// found), so one line is enough to act on.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("reading {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("reading {}: gzip data is corrupt or truncated: {source}", path.display())]
    Gzip { path: PathBuf, source: io::Error },

    #[error(
        "reading {}: data ends after {found} bytes, inside the IDX header ({expected} bytes expected)",
        path.display()
    )]
    TruncatedHeader {
        path: PathBuf,
        expected: usize,
        found: usize,
    },

    #[error(
        "reading {}: bad magic number 0x{found:08x} (an IDX file starts with two zero bytes; is this an IDX file?)",
        path.display()
    )]
    NotIdx { path: PathBuf, found: u32 },

    #[error(
        "reading {}: unsupported element type 0x{code:02x} ({}); only 0x08 (unsigned byte) is supported",
        path.display(),
        type_name(*code)
    )]
    UnsupportedType { path: PathBuf, code: u8 },

    #[error("reading {}: the IDX header declares 0 dimensions", path.display())]
    NoDimensions { path: PathBuf },

    #[error(
        "reading {}: the header declares dims {} ({}), over the {limit}-byte limit",
        path.display(),
        fmt_dims(dims),
        fmt_payload(dims)
    )]
    TooLarge {
        path: PathBuf,
        dims: Vec<usize>,
        limit: usize,
    },

    #[error(
        "reading {}: expected {expected} bytes of payload for dims {}, found {found}",
        path.display(),
        fmt_dims(dims)
    )]
    TruncatedPayload {
        path: PathBuf,
        dims: Vec<usize>,
        expected: usize,
        found: usize,
    },

    #[error(
        "reading {}: {}{extra} unexpected bytes after the {expected}-byte payload the header declares",
        path.display(),
        if *more { "more than " } else { "" }
    )]
    TrailingBytes {
        path: PathBuf,
        expected: usize,
        /// Bytes counted past the payload; the count stops at a limit, then `more` is set.
        extra: u64,
        more: bool,
    },
}

/// `[60000, 28, 28]` as `60000x28x28`, the way people write image shapes.
fn fmt_dims(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
    parts.join("x")
}

/// Largest payload the reader accepts (1 GiB). Real MNIST training images are about 47 MB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

/// Gzip is detected by content, so a gunzipped file that kept its `.gz` name still loads.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const TYPE_U8: u8 = 0x08;

/// Trailing bytes are counted up to this many, so small garbage is reported exactly without
/// decompressing a bomb to its end just to say how big it is.
const TRAILING_COUNT_LIMIT: u64 = 64 * 1024;

/// Reserve at most this much before the data shows up: a header that lies about its size must
/// not make us allocate the lie.
const PREALLOC_LIMIT: usize = 64 << 20;

/// An IDX file's content: its dimensions and its bytes in row-major order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file, gzipped or not.
pub fn read_idx(path: &Path) -> Result<IdxArray, IdxError> {
    let file = File::open(path).map_err(|source| IdxError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode(BufReader::new(file), path)
}

/// Parses IDX bytes, gzipped or not, already in memory. `source` only names them in errors.
pub fn parse_idx(bytes: &[u8], source: &Path) -> Result<IdxArray, IdxError> {
    decode(bytes, source)
}

/// Serializes `data` as an uncompressed IDX file of unsigned bytes with shape `dims`.
///
/// # Panics
/// If `dims` is empty or has more than 255 entries, a dim exceeds `u32::MAX`, or the product of
/// `dims` is not `data.len()`. These are mistakes in the calling code, not in any input file.
pub fn write_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let rank = u8::try_from(dims.len())
        .ok()
        .filter(|&rank| rank > 0)
        .unwrap_or_else(|| panic!("write_idx: IDX needs 1 to 255 dims, got {}", dims.len()));
    assert_eq!(
        element_count(dims),
        Some(data.len()),
        "write_idx: dims {dims:?} do not match {} bytes of data",
        data.len()
    );
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, TYPE_U8, rank]);
    for &dim in dims {
        let dim = u32::try_from(dim)
            .unwrap_or_else(|_| panic!("write_idx: dim {dim} does not fit the u32 of the format"));
        out.extend_from_slice(&dim.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Human name of an IDX element type code, for error messages.
pub(super) fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0b => "16-bit integer",
        0x0c => "32-bit integer",
        0x0d => "32-bit float",
        0x0e => "64-bit float",
        _ => "not an IDX type code",
    }
}

/// The declared payload size of `dims` for error messages, computed wide enough to show the
/// absurd values that overflow `usize`.
pub(super) fn fmt_payload(dims: &[usize]) -> String {
    let wide = dims
        .iter()
        .try_fold(1u128, |acc, &dim| acc.checked_mul(dim as u128));
    match wide {
        Some(bytes) => format!("{bytes} bytes"),
        None => "more than 2^128 bytes".to_owned(),
    }
}

fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim))
}

/// Peeks at the first two bytes to pick raw or gzip, then hands the whole stream on.
fn decode<R: Read>(mut input: R, path: &Path) -> Result<IdxArray, IdxError> {
    let mut head = [0u8; 2];
    let n = read_full(&mut input, &mut head).map_err(|source| IdxError::Io {
        path: path.to_owned(),
        source,
    })?;
    let stream = (&head[..n]).chain(input);
    if head[..n] == GZIP_MAGIC {
        // Multi-member, like gzip(1): concatenated .gz files are one stream.
        decode_idx(MultiGzDecoder::new(stream), path, true)
    } else {
        decode_idx(stream, path, false)
    }
}

/// Parses an uncompressed IDX stream, reading at most header + declared payload + a bounded count
/// of trailing bytes, whatever the stream would yield.
fn decode_idx<R: Read>(mut input: R, path: &Path, gzip: bool) -> Result<IdxArray, IdxError> {
    let read_error = |source| {
        let path = path.to_owned();
        if gzip {
            IdxError::Gzip { path, source }
        } else {
            IdxError::Io { path, source }
        }
    };

    let mut magic = [0u8; 4];
    let got = read_full(&mut input, &mut magic).map_err(read_error)?;
    if got < magic.len() {
        return Err(IdxError::TruncatedHeader {
            path: path.to_owned(),
            expected: magic.len(),
            found: got,
        });
    }
    if magic[..2] != [0, 0] {
        return Err(IdxError::NotIdx {
            path: path.to_owned(),
            found: u32::from_be_bytes(magic),
        });
    }
    if magic[2] != TYPE_U8 {
        return Err(IdxError::UnsupportedType {
            path: path.to_owned(),
            code: magic[2],
        });
    }
    let rank = usize::from(magic[3]);
    if rank == 0 {
        return Err(IdxError::NoDimensions {
            path: path.to_owned(),
        });
    }

    // At most 255 * 4 bytes, so this allocation is bounded by the format itself.
    let mut dim_bytes = vec![0u8; 4 * rank];
    let got = read_full(&mut input, &mut dim_bytes).map_err(read_error)?;
    if got < dim_bytes.len() {
        return Err(IdxError::TruncatedHeader {
            path: path.to_owned(),
            expected: magic.len() + dim_bytes.len(),
            found: magic.len() + got,
        });
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();

    let expected = element_count(&dims)
        .filter(|&bytes| bytes <= MAX_PAYLOAD_BYTES)
        .ok_or_else(|| IdxError::TooLarge {
            path: path.to_owned(),
            dims: dims.clone(),
            limit: MAX_PAYLOAD_BYTES,
        })?;

    let mut data = Vec::with_capacity(expected.min(PREALLOC_LIMIT));
    (&mut input)
        .take(expected as u64)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() < expected {
        return Err(IdxError::TruncatedPayload {
            path: path.to_owned(),
            dims,
            expected,
            found: data.len(),
        });
    }

    // Reading on to the end also makes the gzip decoder check its CRC and length trailer.
    let extra = io::copy(
        &mut (&mut input).take(TRAILING_COUNT_LIMIT + 1),
        &mut io::sink(),
    )
    .map_err(read_error)?;
    if extra > 0 {
        return Err(IdxError::TrailingBytes {
            path: path.to_owned(),
            expected,
            extra: extra.min(TRAILING_COUNT_LIMIT),
            more: extra > TRAILING_COUNT_LIMIT,
        });
    }

    Ok(IdxArray { dims, data })
}

/// Like `read_exact`, but a short read at end of input is a count, not an error, so the caller
/// can say how many bytes there were.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn src() -> PathBuf {
        PathBuf::from("data/x-idx3-ubyte")
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn sample() -> (Vec<usize>, Vec<u8>, Vec<u8>) {
        let dims = vec![3, 2, 4];
        let data: Vec<u8> = (0..24).map(|i| i * 10).collect();
        let bytes = write_idx(&dims, &data);
        (dims, data, bytes)
    }

    fn parse_err(bytes: &[u8]) -> IdxError {
        parse_idx(bytes, &src()).unwrap_err()
    }

    /// Header-only bytes for arbitrary dims, which `write_idx` rightly refuses to produce.
    fn header(dims: &[u32]) -> Vec<u8> {
        let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn write_layout_matches_the_spec() {
        let bytes = write_idx(&[2, 1], &[7, 9]);
        assert_eq!(bytes, [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 9]);
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let (dims, data, bytes) = sample();
        let want = IdxArray { dims, data };
        assert_eq!(parse_idx(&bytes, &src()).unwrap(), want);
        assert_eq!(parse_idx(&gz(&bytes), &src()).unwrap(), want);
        // Concatenated gzip members form one stream, as with gzip(1).
        let mut two = gz(&bytes[..10]);
        two.extend(gz(&bytes[10..]));
        assert_eq!(parse_idx(&two, &src()).unwrap(), want);
    }

    #[test]
    fn round_trip_edge_shapes() {
        for (dims, len) in [(vec![5], 5), (vec![0, 28, 28], 0), (vec![1; 255], 1)] {
            let data = vec![42; len];
            let got = parse_idx(&write_idx(&dims, &data), &src()).unwrap();
            assert_eq!(got, IdxArray { dims, data });
        }
    }

    #[test]
    fn read_idx_detects_gzip_by_content_not_name() {
        let (dims, data, bytes) = sample();
        let dir = tempfile::tempdir().unwrap();
        let raw_named_gz = dir.path().join("raw.gz");
        let gz_named_raw = dir.path().join("compressed-idx3-ubyte");
        std::fs::write(&raw_named_gz, &bytes).unwrap();
        std::fs::write(&gz_named_raw, gz(&bytes)).unwrap();
        let want = IdxArray { dims, data };
        assert_eq!(read_idx(&raw_named_gz).unwrap(), want);
        assert_eq!(read_idx(&gz_named_raw).unwrap(), want);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_idx(Path::new("no/such/file-idx1-ubyte")).unwrap_err();
        assert!(matches!(err, IdxError::Io { .. }));
        assert!(
            err.to_string()
                .starts_with("reading no/such/file-idx1-ubyte: ")
        );
    }

    #[test]
    fn empty_and_tiny_inputs() {
        for (bytes, want) in [(&[][..], 0), (&[0, 0, 8][..], 3)] {
            let err = parse_err(bytes);
            let IdxError::TruncatedHeader {
                expected, found, ..
            } = err
            else {
                panic!("{err:?}");
            };
            assert_eq!((expected, found), (4, want));
        }
        assert_eq!(
            parse_err(&[]).to_string(),
            "reading data/x-idx3-ubyte: data ends after 0 bytes, inside the IDX header (4 bytes expected)"
        );
        // A single 0x1f byte is not a gzip stream; it is a too-short raw file.
        assert!(matches!(
            parse_err(&[0x1f]),
            IdxError::TruncatedHeader { found: 1, .. }
        ));
        // An empty gzip stream decompresses to nothing.
        assert!(matches!(
            parse_err(&gz(&[])),
            IdxError::TruncatedHeader { found: 0, .. }
        ));
    }

    #[test]
    fn bad_magic() {
        let err = parse_err(b"PK\x03\x04 a zip file");
        assert!(matches!(
            err,
            IdxError::NotIdx {
                found: 0x504b_0304,
                ..
            }
        ));
        assert!(err.to_string().contains("bad magic number 0x504b0304"));
    }

    #[test]
    fn unsupported_type_codes() {
        let (_, _, mut bytes) = sample();
        bytes[2] = 0x0d;
        let err = parse_err(&bytes);
        assert!(matches!(err, IdxError::UnsupportedType { code: 0x0d, .. }));
        assert_eq!(
            err.to_string(),
            "reading data/x-idx3-ubyte: unsupported element type 0x0d (32-bit float); \
             only 0x08 (unsigned byte) is supported"
        );
        bytes[2] = 0x42;
        assert!(
            parse_err(&bytes)
                .to_string()
                .contains("not an IDX type code")
        );
    }

    #[test]
    fn wrong_dim_counts() {
        let (_, _, mut bytes) = sample();
        bytes[3] = 0;
        assert!(matches!(parse_err(&bytes), IdxError::NoDimensions { .. }));

        // Too few dims declared: the remaining dims and data become trailing bytes.
        bytes[3] = 1;
        let err = parse_err(&bytes);
        assert!(
            matches!(
                err,
                IdxError::TrailingBytes {
                    expected: 3,
                    extra: 29,
                    more: false,
                    ..
                }
            ),
            "{err:?}"
        );

        // Too many: the first data bytes are taken as a dim, and the payload cannot match.
        bytes[3] = 4;
        assert!(parse_idx(&bytes, &src()).is_err());

        // More dims declared than the file has header bytes for.
        let err = parse_err(&header(&[1, 2])[..11]);
        assert!(
            matches!(
                err,
                IdxError::TruncatedHeader {
                    expected: 12,
                    found: 11,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_payload() {
        let (_, _, bytes) = sample();
        let err = parse_err(&bytes[..bytes.len() - 1]);
        assert_eq!(
            err.to_string(),
            "reading data/x-idx3-ubyte: expected 24 bytes of payload for dims 3x2x4, found 23"
        );
        let err = parse_err(&gz(&bytes[..bytes.len() - 1]));
        assert!(matches!(
            err,
            IdxError::TruncatedPayload {
                expected: 24,
                found: 23,
                ..
            }
        ));
    }

    #[test]
    fn trailing_bytes_are_counted_up_to_a_limit() {
        let (_, _, mut bytes) = sample();
        bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
        let err = parse_err(&bytes);
        assert_eq!(
            err.to_string(),
            "reading data/x-idx3-ubyte: 5 unexpected bytes after the 24-byte payload the header declares"
        );

        bytes.resize(bytes.len() + 100_000, 0);
        let err = parse_err(&gz(&bytes));
        assert!(matches!(
            err,
            IdxError::TrailingBytes {
                extra: TRAILING_COUNT_LIMIT,
                more: true,
                ..
            }
        ));
        assert!(
            err.to_string()
                .contains(": more than 65536 unexpected bytes")
        );
    }

    #[test]
    fn absurd_headers_fail_fast_without_allocating() {
        let err = parse_err(&header(&[u32::MAX, u32::MAX]));
        assert!(matches!(err, IdxError::TooLarge { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "reading data/x-idx3-ubyte: the header declares dims 4294967295x4294967295 \
             (18446744065119617025 bytes), over the 1073741824-byte limit"
        );
        // Five such dims overflow usize, and even the u128 used to print the size.
        let err = parse_err(&gz(&header(&[u32::MAX; 5])));
        assert!(matches!(err, IdxError::TooLarge { .. }));
        assert!(err.to_string().contains("(more than 2^128 bytes)"));
        // One byte over the limit is refused; exactly at the limit is read (and found short)
        // without reserving the declared gigabyte up front.
        let over = u32::try_from(MAX_PAYLOAD_BYTES + 1).unwrap();
        assert!(matches!(
            parse_err(&header(&[over])),
            IdxError::TooLarge { .. }
        ));
        let at = u32::try_from(MAX_PAYLOAD_BYTES).unwrap();
        assert!(matches!(
            parse_err(&header(&[at])),
            IdxError::TruncatedPayload { found: 0, .. }
        ));
    }

    #[test]
    fn gzip_bomb_is_read_only_as_far_as_the_header_allows() {
        // 64 MiB of zeros after a 16-byte payload compresses to about 64 KiB.
        let mut bytes = write_idx(&[16], &[1; 16]);
        bytes.resize(bytes.len() + (64 << 20), 0);
        let bomb = gz(&bytes);
        assert!(bomb.len() < 1 << 20);
        let err = parse_err(&bomb);
        assert!(matches!(err, IdxError::TrailingBytes { more: true, .. }));
    }

    #[test]
    fn gzip_truncated_or_corrupt() {
        let (_, _, bytes) = sample();
        let good = gz(&bytes);

        // Cut inside the deflate data, and cut just before the CRC/length trailer ends.
        for cut in [good.len() / 2, good.len() - 3] {
            let err = parse_err(&good[..cut]);
            assert!(matches!(err, IdxError::Gzip { .. }), "cut {cut}: {err:?}");
            assert!(
                err.to_string()
                    .starts_with("reading data/x-idx3-ubyte: gzip data is corrupt or truncated: ")
            );
        }

        // A flipped CRC byte (the trailer is CRC32 then length, 4 bytes each).
        let mut bad_crc = good.clone();
        let crc_at = bad_crc.len() - 8;
        bad_crc[crc_at] ^= 0xff;
        assert!(matches!(parse_err(&bad_crc), IdxError::Gzip { .. }));
    }
}
