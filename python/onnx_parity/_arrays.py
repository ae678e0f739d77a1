"""NumPy arrays to the files the binary reads: an ONNX backend-test folder
(``test_data_set_0/input_K.pb``, ``output_K.pb``, each one serialized TensorProto) and
``labels.npy``.

The TensorProto is written by hand (four fields), so the package needs neither `onnx` nor
`protobuf`. Arrays given as a dict are stored under their names (the binary matches them to the
model's tensors by name); arrays given as one array or a list are stored unnamed and matched by
position.

What this module must never do: change a value. Arrays are written in their own dtype, little
endian, C order; types ONNX cannot hold are refused with a `TypeError` naming the array.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

# numpy dtype name -> ONNX TensorProto.DataType (onnx.proto: FLOAT = 1, UINT8 = 2, ...).
_ONNX_TYPES = {
    "float32": 1,
    "uint8": 2,
    "int8": 3,
    "uint16": 4,
    "int16": 5,
    "int32": 6,
    "int64": 7,
    "bool": 9,
    "float16": 10,
    "float64": 11,
    "uint32": 12,
    "uint64": 13,
}


def _numpy():
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - whoever passes arrays has NumPy
        raise ImportError("passing arrays to onnx_parity needs NumPy: pip install numpy") from e
    return numpy


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def tensor_proto(array: Any, name: str = "") -> bytes:
    """One TensorProto: dims (1), data_type (2), name (8), raw_data (9), in field order."""
    np = _numpy()
    a = np.asarray(array)
    onnx_type = _ONNX_TYPES.get(a.dtype.name)
    if onnx_type is None:
        raise TypeError(
            f"dtype {a.dtype} has no ONNX tensor type here (use one of {', '.join(_ONNX_TYPES)})"
        )
    out = bytearray()
    for d in a.shape:
        out += _varint(1 << 3 | 0) + _varint(int(d))
    out += _varint(2 << 3 | 0) + _varint(onnx_type)
    if name:
        out += _field_bytes(8, name.encode("utf-8"))
    raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    out += _field_bytes(9, raw)
    return bytes(out)


def _as_list(arrays: Any, what: str) -> List[Tuple[str, Any, str]]:
    """`(stored name, array, how the user calls it)` for one array, a list or a dict."""
    np = _numpy()
    if isinstance(arrays, dict):
        items = []
        for key, value in arrays.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"{what}: dict keys must be tensor names, got {key!r}")
            items.append((key, value, f"{what}[{key!r}]"))
    elif isinstance(arrays, (list, tuple)):
        items = [("", v, f"{what}[{k}]") for k, v in enumerate(arrays)]
    else:
        items = [("", arrays, what)]
    if not items:
        raise ValueError(f"{what}: no arrays")
    checked = []
    for name, value, label in items:
        a = np.asarray(value)
        if a.dtype == object or a.dtype.kind in "USV":
            raise TypeError(f"{label}: dtype {a.dtype} is not a numeric tensor")
        checked.append((name, a, label))
    return checked


def read_idx(path: Path) -> Any:
    """An uncompressed uint8 IDX file (MNIST's format) as written by ``onnx-parity data``:
    magic ``0x00 0x00 0x08 NDIMS``, big-endian dims, then the bytes."""
    np = _numpy()
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not a uint8 IDX file")
    ndims = raw[3]
    header = 4 + 4 * ndims
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims))
    size = 1
    for d in shape:
        size *= d
    if len(raw) != header + size:
        raise ValueError(f"{path}: {len(raw)} bytes, its header {shape} needs {header + size}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


class TestSetWriter:
    """Writes arrays under `folder`; `aliases` maps each written path to what the user called
    the array (``inputs[0]``, ``labels``), so messages about the files can speak of the arrays.
    """

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.aliases: Dict[str, str] = {}

    def test_set(self, inputs: Any, outputs: Any = None) -> Path:
        case = self.folder / "test_data_set_0"
        case.mkdir(parents=True, exist_ok=True)
        for prefix, arrays, what in (("input", inputs, "inputs"), ("output", outputs, "outputs")):
            if arrays is None:
                continue
            for k, (name, a, label) in enumerate(_as_list(arrays, what)):
                path = case / f"{prefix}_{k}.pb"
                try:
                    path.write_bytes(tensor_proto(a, name))
                except TypeError as e:
                    raise TypeError(f"{label}: {e}") from None
                self.aliases[str(path)] = label
                # The binary names a test-set file as "FOLDER: FILE".
                self.aliases[f"{case}: {path.name}"] = label
        return case

    def labels(self, labels: Any) -> Path:
        np = _numpy()
        path = self.folder / "labels.npy"
        a = np.asarray(labels)
        if a.dtype == object or a.dtype.kind in "USV":
            raise TypeError(f"labels: dtype {a.dtype} is not a numeric tensor")
        np.save(path, a, allow_pickle=False)
        self.aliases[str(path)] = "labels"
        return path

    def rename(self, text: str) -> str:
        """`text` with the written paths replaced by the arrays' names, the folder by
        ``<arrays>``."""
        for path in sorted(self.aliases, key=len, reverse=True):
            text = text.replace(path, self.aliases[path])
        return text.replace(str(self.folder), "<arrays>")
