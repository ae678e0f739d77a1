"""`validate` and `compare`: the binary's commands of the same names, called with
``--format json``, their JSON read into the typed reports of `onnx_parity.report`.

Exit code 0 or 1 returns the report (``status`` ``"pass"`` or ``"fail"``: a mismatch is a
result, not an exception); exit code 2 raises `CouldNotRun` with the binary's one-line message.
NumPy arrays (inputs, expected outputs, labels) are written to a temporary backend-test folder
that is removed afterwards; messages about those files name the arrays instead
(``inputs[0]``, ``labels``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from . import _binary
from ._arrays import TestSetWriter
from .errors import CouldNotRun, OnnxParityError, RuntimeUnavailable
from .report import CompareReport, ValidateReport

PathLike = Union[str, "os.PathLike[str]"]

#: The tolerance presets of the binary (README, "Tolerances").
PRESETS = ("exact", "strict", "default", "relaxed", "loose")


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _paths(test_data: Any) -> List[str]:
    if test_data is None:
        return []
    if _is_path(test_data):
        return [os.fspath(test_data)]
    if isinstance(test_data, (list, tuple)) and all(_is_path(p) for p in test_data):
        return [os.fspath(p) for p in test_data]
    raise TypeError(
        "test_data: a path or a list of paths (folders, .npz files); pass arrays as "
        f"inputs=... and outputs=..., got {type(test_data).__name__}"
    )


def _finite(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: a number, got {v!r}") from None
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: must be finite, got {v!r}")
    return f


def _tolerance_args(
    tolerance: str, atol: Optional[float], rtol: Optional[float], allow_nonfinite: bool
) -> List[str]:
    if tolerance not in PRESETS:
        raise ValueError(f"tolerance: one of {', '.join(PRESETS)}, got {tolerance!r}")
    args = ["--tolerance", tolerance]
    if atol is not None:
        args += ["--atol", repr(_finite("atol", atol))]
    if rtol is not None:
        args += ["--rtol", repr(_finite("rtol", rtol))]
    if allow_nonfinite:
        args.append("--allow-nonfinite")
    return args


def _runtime_args(runtime: str) -> List[str]:
    if not isinstance(runtime, str) or not runtime:
        raise TypeError(f"runtime: a runtime name such as 'tract', got {runtime!r}")
    if runtime == "tract":
        return []
    if not _binary.supports("validate", "--runtime"):
        v = _binary.version()
        raise RuntimeUnavailable(
            f"runtime {runtime!r} is not available: this onnx-parity build ({v.version}, commit "
            f"{v.commit}, {v.binary}) has no --runtime option and runs models with tract only",
            exit_code=None,
        )
    return ["--runtime", runtime]


def _finish(done: "_binary.Completed", writer: TestSetWriter, report_path: Path, kind: Any):
    """The report for exit 0/1; `CouldNotRun` for exit 2; `OnnxParityError` otherwise."""
    stdout = writer.rename(done.stdout)
    stderr = writer.rename(done.stderr)
    report = None
    if report_path.is_file():
        report = kind.from_json_text(writer.rename(report_path.read_text("utf-8")), stdout)
    if done.exit_code == 2:
        raise CouldNotRun(
            _binary.error_line(stderr, 2),
            command=[writer.rename(c) for c in done.command],
            stderr=stderr,
            report=report,
        )
    if done.exit_code not in (0, 1) or report is None:
        raise OnnxParityError(
            f"{done.command[0]} exited with code {done.exit_code} without a report: "
            f"{_binary.error_line(stderr, done.exit_code)}"
        )
    return report


def validate(
    model: PathLike,
    test_data: Union[None, PathLike, Sequence[PathLike]] = None,
    labels: Any = None,
    tolerance: str = "default",
    runtime: str = "tract",
    *,
    inputs: Any = None,
    outputs: Any = None,
    atol: Optional[float] = None,
    rtol: Optional[float] = None,
    output_tol: Optional[Mapping[str, Tuple[float, float]]] = None,
    allow_nonfinite: bool = False,
    loss_output: Optional[str] = None,
    expect_loss: Optional[float] = None,
    expect_logits_loss: Optional[float] = None,
    expect_probs_loss: Optional[float] = None,
    loss_tol: Optional[float] = None,
) -> ValidateReport:
    """Validates an ONNX model against reference data: ``onnx-parity validate``.

    Args:
        model: the ``.onnx`` file.
        test_data: a ``test_data_set_N`` folder, a folder of them, a folder of ``NAME.npy``
            files, an ``.npz`` archive, or a list of these. Default: every ``test_data_set_*``
            beside the model (or the arrays below).
        labels: binary targets of the loss output's shape, a ``.npy`` path or an array. With
            labels the report has both sigmoid-BCE losses (``report.loss``) and the binary
            accuracy with the decisions that flip (``report.binary_accuracy``).
        tolerance: preset name: ``exact``, ``strict``, ``default`` (atol = rtol = 1e-5),
            ``relaxed``, ``loose``.
        runtime: ``"tract"`` (every build) or another runtime the binary offers
            (``--runtime``); `RuntimeUnavailable` when this build has none.
        inputs, outputs: arrays instead of ``test_data``: one array (a one-input model), a list
            (by position) or a dict (by tensor name); ``outputs`` are the expected outputs.
        atol, rtol: override the preset's. ``output_tol``: ``{name: (atol, rtol)}`` per output.
        allow_nonfinite: let NaN/inf pass where both sides hold the same value.
        loss_output: the output the losses are computed on (default: the first).
        expect_loss, expect_logits_loss, expect_probs_loss: gate the losses (f32 value) at
            absolute tolerance ``loss_tol`` (binary default 1e-6); a miss fails the report.

    Returns:
        a `ValidateReport`; ``report.passed`` is the verdict, ``report.text`` the text report.

    Raises:
        CouldNotRun: the binary could not run the check (exit 2); the message names the file
            (or the array) and the problem.
        RuntimeUnavailable: ``runtime`` is not available.
        TypeError, ValueError: arguments that cannot be right, before anything runs.
    """
    args: List[str] = ["validate", os.fspath(model)]
    paths = _paths(test_data)
    if (inputs is None) != (outputs is None):
        raise ValueError("inputs and outputs go together: the expected outputs of those inputs")
    if inputs is not None and paths:
        raise ValueError("give test_data or inputs/outputs, not both")
    args += _tolerance_args(tolerance, atol, rtol, allow_nonfinite)
    args += _runtime_args(runtime)
    for name, (a, r) in (output_tol or {}).items():
        a, r = _finite("output_tol", a), _finite("output_tol", r)
        args += ["--output-tol", f"{name}={a!r},{r!r}"]
    if loss_output is not None:
        args += ["--loss-output", loss_output]
    for flag, value in (
        ("--expect-loss", expect_loss),
        ("--expect-logits-loss", expect_logits_loss),
        ("--expect-probs-loss", expect_probs_loss),
        ("--loss-tol", loss_tol),
    ):
        if value is not None:
            args += [flag, repr(_finite(flag.lstrip("-"), value))]

    with tempfile.TemporaryDirectory(prefix="onnx-parity-") as tmp:
        writer = TestSetWriter(Path(tmp))
        if inputs is not None:
            paths = [str(writer.test_set(inputs, outputs))]
        for p in paths:
            args += ["--test-data", p]
        if labels is not None:
            label_path = os.fspath(labels) if _is_path(labels) else str(writer.labels(labels))
            args += ["--labels", label_path]
        report_path = Path(tmp) / "report.json"
        args += ["--format", "json", "--report", str(report_path)]
        done = _binary.run(args)
        report = _finish(done, writer, report_path, ValidateReport)
    _check_names(inputs, report.case.inputs, "inputs", "input")
    _check_names(outputs, report.case.outputs, "outputs", "output")
    return report


def _check_names(arrays: Any, matched: Sequence[Any], what: str, kind: str) -> None:
    """Arrays given by name must have been matched by name: the binary falls back to the
    position when a stored name matches nothing (the ONNX backend-test rule), which would
    silently accept a misspelled key."""
    if not isinstance(arrays, dict):
        return
    names = [m.name for m in matched]
    for key in arrays:
        if key not in names:
            raise ValueError(
                f"{what}[{key!r}]: the model has no {kind} named {key!r} "
                f"(its {kind}s: {', '.join(names)})"
            )


def compare(
    a: PathLike,
    b: PathLike,
    test_data: Union[None, PathLike, Sequence[PathLike]] = None,
    tolerance: str = "default",
    *,
    inputs: Any = None,
    layers: bool = False,
    atol: Optional[float] = None,
    rtol: Optional[float] = None,
    allow_nonfinite: bool = False,
) -> CompareReport:
    """Runs two implementations of a model on the same inputs: ``onnx-parity compare A B``.

    Args:
        a, b: each an ONNX file (run by tract) or a training run folder holding
            ``weights.npz`` (the trained burn graph). ``a`` is the actual side, ``b`` the
            reference.
        test_data: as in `validate` (default: the test sets beside the ONNX side).
        inputs: arrays instead of ``test_data`` (one array, a list by position, a dict by name).
        layers: also compare every layer matched by structure; the report names the first
            diverging layer (``report.case.first_divergence``).
        tolerance, atol, rtol, allow_nonfinite: as in `validate`.

    Returns a `CompareReport`; raises `CouldNotRun` when the binary could not run (exit 2).
    """
    args: List[str] = ["compare", os.fspath(a), os.fspath(b)]
    paths = _paths(test_data)
    if inputs is not None and paths:
        raise ValueError("give test_data or inputs, not both")
    args += _tolerance_args(tolerance, atol, rtol, allow_nonfinite)
    if layers:
        args.append("--layers")
    with tempfile.TemporaryDirectory(prefix="onnx-parity-") as tmp:
        writer = TestSetWriter(Path(tmp))
        if inputs is not None:
            paths = [str(writer.test_set(inputs))]
        for p in paths:
            args += ["--test-data", p]
        report_path = Path(tmp) / "report.json"
        args += ["--format", "json", "--report", str(report_path)]
        done = _binary.run(args)
        return _finish(done, writer, report_path, CompareReport)


def synthetic_digits(samples: int = 10000, seed: int = 42) -> Tuple[Any, Any]:
    """The binary's embedded synthetic digits (``onnx-parity data``), with no download.

    Returns ``(x, y)``: ``x`` float32 ``[samples, 784]`` with exact ``k/255`` pixel values,
    ``y`` float32 ``[samples, 10]``, each digit as 10 independent binary targets (what the seed
    model's sigmoid head is trained on). The same samples ``--train``/``--eval`` use in the
    other commands for the same seed.
    """
    import numpy as np

    from ._arrays import read_idx

    with tempfile.TemporaryDirectory(prefix="onnx-parity-") as tmp:
        done = _binary.run(
            ["data", "--out", tmp, "--samples", str(int(samples)), "--seed", str(int(seed))]
        )
        if done.exit_code != 0:
            raise CouldNotRun(
                _binary.error_line(done.stderr, done.exit_code),
                command=done.command, exit_code=done.exit_code, stderr=done.stderr,
            )
        images = read_idx(Path(tmp) / "train-images-idx3-ubyte")
        digits = read_idx(Path(tmp) / "train-labels-idx1-ubyte")
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return x, np.eye(10, dtype=np.float32)[digits]
