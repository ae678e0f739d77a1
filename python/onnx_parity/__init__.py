"""onnx-parity from Python: prove that a model and its ONNX export compute the same thing.

The wheel puts the `onnx-parity` binary on the PATH of the environment; this package runs it
and reads its JSON reports into typed objects::

    import onnx_parity

    report = onnx_parity.validate("model.onnx", inputs=x, outputs=expected, labels=y)
    report.passed                        # the verdict
    report.loss.logits_form.f32          # what model.evaluate reports for a sigmoid head
    print(report)                        # the binary's text report

`onnx_parity.keras.check_export(model, x, y)` exports a Keras model with Keras's own ONNX
exporter and validates the file against the model in one call (needs the ``keras`` extra).
"""

from __future__ import annotations

from ._binary import Version, binary, version
from .api import PRESETS, compare, synthetic_digits, validate
from .errors import (
    BinaryNotFound,
    CouldNotRun,
    ExportError,
    OnnxParityError,
    RuntimeUnavailable,
)
from .report import CompareReport, ValidateReport


def _package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return dist_version("onnx-parity")
    except PackageNotFoundError:  # imported from a checkout, not installed
        return "unknown"


#: The version of the installed distribution (the same as the binary's, which the wheel holds).
__version__ = _package_version()

__all__ = [
    "BinaryNotFound",
    "CompareReport",
    "CouldNotRun",
    "ExportError",
    "OnnxParityError",
    "PRESETS",
    "RuntimeUnavailable",
    "ValidateReport",
    "Version",
    "binary",
    "compare",
    "synthetic_digits",
    "validate",
    "version",
]
