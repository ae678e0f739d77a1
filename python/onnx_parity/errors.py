"""The exceptions of the Python API.

A mismatch is not an exception: `validate` and `compare` return a report whose status is
``"fail"``. Exceptions are for "could not run" (the binary's exit code 2) and for wrong
arguments on the Python side (`TypeError`, `ValueError`, raised before anything runs).
"""

from __future__ import annotations

from typing import Optional, Sequence


class OnnxParityError(Exception):
    """Base class of every error this package raises on its own."""


class BinaryNotFound(OnnxParityError):
    """The `onnx-parity` binary is neither next to this Python nor on the PATH."""


class CouldNotRun(OnnxParityError):
    """The binary could not run the check (exit code 2): a bad or unreadable file, reference data
    that does not fit the model, an operator the runtime does not support, a bad option.

    ``str(error)`` is the binary's one-line message, which names the file and the problem.
    """

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str] = (),
        exit_code: Optional[int] = 2,
        stderr: str = "",
        report: object = None,
    ) -> None:
        super().__init__(message)
        #: The one-line message (also ``str(error)``).
        self.message = message
        #: The command line that was run.
        self.command = list(command)
        #: The binary's exit code (2), or None when the binary was not started.
        self.exit_code = exit_code
        #: Everything the binary wrote on stderr.
        self.stderr = stderr
        #: The report the binary wrote before giving up, when it wrote one (a `ValidateReport`
        #: whose failing case carries `error`), else None.
        self.report = report


class RuntimeUnavailable(CouldNotRun):
    """The runtime asked for is not available: not in this build of the binary, or its shared
    library is not installed. The message says which and how to get it."""


class ExportError(OnnxParityError):
    """Keras's own ONNX export (`model.export(format="onnx")`) raised; the message quotes it."""
