"""One call from a trained Keras model to a verdict on its ONNX export.

``check_export(model, x, y)`` exports the model with Keras's own exporter
(``model.export(path, format="onnx")``), records what the model itself computes on ``x``
(``model.predict``, and with ``y`` ``model.evaluate``), and runs `onnx_parity.validate` on the
exported file against those numbers: every output within the tolerance, and, with ``y`` and a
sigmoid head (or a logits head trained with ``BinaryCrossentropy(from_logits=True)``), the
logits-form loss of the ONNX file equal to ``model.evaluate``'s loss within 1e-6. When the
binary offers onnxruntime (``--runtime``) and its library loads, the file is validated under
onnxruntime as well; otherwise the report says why it was not.

``assert_export_matches(model, x, y)`` is the same as a one-line test assertion.

Keras (3, TensorFlow backend, with tf2onnx for the export) is an optional dependency,
``pip install 'onnx-parity[keras]'``, imported only by this module.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _binary
from ._arrays import TestSetWriter
from .api import PRESETS, validate
from .errors import CouldNotRun, ExportError
from .report import FAIL, PASS, ValidateReport

#: Absolute tolerance between ``model.evaluate``'s loss and the ONNX file's logits-form loss.
LOSS_TOL = 1e-6


def _keras():
    try:
        import keras
    except ImportError as e:
        raise ImportError(
            "onnx_parity.keras needs Keras 3 with TensorFlow and tf2onnx: "
            "pip install 'onnx-parity[keras]' (or [keras-cpu])"
        ) from e
    return keras


@dataclass(frozen=True)
class ExportReport:
    """What `check_export` found.

    Attributes:
        status: ``"pass"`` when every runtime that ran passed, else ``"fail"``.
        validate: tract running the exported file against ``model.predict`` (and the labels).
        runtimes: every runtime that ran, by name (``"tract"`` first, then ``"onnxruntime"``
            when it ran), each a `ValidateReport`.
        head: ``"sigmoid"``, ``"logits"`` (no activation, loss ``from_logits=True``), or None
            when the losses are not sigmoid BCE (outputs only).
        keras_loss: ``model.evaluate(x, y)``'s loss, when ``y`` was given and it applies.
        onnx_logits_loss: the logits-form loss of the ONNX file under tract (float32).
        notes: what was not checked, and why, one line each.
        folder: ``out_dir`` when given (model.onnx, test_data_set_0, labels.npy, keras.json,
            report.json, report.txt), else None (the temporary folder is removed).
        text: the whole report as text; ``str(report)`` is the same.
    """

    status: str
    validate: ValidateReport
    runtimes: Dict[str, ValidateReport]
    head: Optional[str]
    keras_loss: Optional[float]
    onnx_logits_loss: Optional[float]
    notes: List[str]
    folder: Optional[Path]
    text: str = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def loss_diff(self) -> Optional[float]:
        """``|onnx_logits_loss - keras_loss|`` when both exist."""
        if self.keras_loss is None or self.onnx_logits_loss is None:
            return None
        return abs(self.onnx_logits_loss - self.keras_loss)

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------------------------
# what the model is


def _check_model(model: Any) -> None:
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"check_export: model must be a keras.Model (Keras 3), got {type(model).__module__}."
            f"{type(model).__qualname__}"
        )


def _inputs(model: Any, x: Any) -> List[Any]:
    """``x`` as one array per model input, in the model's dtype, checked against its shape."""
    import numpy as np

    specs = list(model.inputs or [])
    if isinstance(x, dict):
        missing = [s.name for s in specs if s.name not in x]
        if missing:
            raise ValueError(f"x: no array for the model input(s) {', '.join(missing)}")
        arrays = [x[s.name] for s in specs]
    elif isinstance(x, (list, tuple)) and len(specs) > 1:
        arrays = list(x)
    else:
        arrays = [x]
    if len(arrays) != len(specs):
        raise ValueError(f"x: {len(arrays)} array(s) for a model with {len(specs)} input(s)")
    out = []
    for spec, a in zip(specs, arrays):
        label = "x" if len(specs) == 1 else f"x[{spec.name!r}]"
        try:
            a = np.asarray(a, dtype=spec.dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{label}: cannot be read as {spec.dtype}: {e}") from None
        want = tuple(spec.shape)
        if a.ndim != len(want):
            raise ValueError(
                f"{label} has shape {a.shape}, but the model's input {spec.name!r} takes "
                f"{_dims(want)}: {a.ndim} axes instead of {len(want)}"
            )
        # Axis 0 is the batch: any size, as model.predict takes it.
        for axis in range(1, a.ndim):
            if want[axis] is not None and a.shape[axis] != want[axis]:
                raise ValueError(
                    f"{label} has shape {a.shape}, but the model's input {spec.name!r} takes "
                    f"{_dims(want)}: axis {axis} is {a.shape[axis]}, not {want[axis]}"
                )
        if a.shape[0] == 0:
            raise ValueError(f"{label} has no samples (shape {a.shape})")
        out.append(a)
    if len({a.shape[0] for a in out}) > 1:
        counts = [len(a) for a in out]
        raise ValueError(f"x: the inputs have different numbers of samples: {counts}")
    return out


def _dims(shape: Sequence[Optional[int]]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _output_layer(model: Any) -> Any:
    history = getattr(model.outputs[0], "_keras_history", None)
    if history is not None:
        return history[0]
    return model.layers[-1]


def _activation(model: Any) -> Optional[str]:
    act = getattr(_output_layer(model), "activation", None)
    return getattr(act, "__name__", None)


def _bce_from_logits(model: Any) -> Tuple[Optional[bool], str]:
    """``(from_logits, why)`` of a compiled sigmoid-BCE loss; ``(None, why)`` for any other."""
    keras = _keras()
    if not getattr(model, "compiled", False):
        return None, "the model is not compiled, so model.evaluate has no loss"
    loss = model.loss
    if isinstance(loss, keras.losses.BinaryCrossentropy):
        config = loss.get_config()
        if config.get("label_smoothing", 0.0):
            return None, "its BinaryCrossentropy smooths labels, which onnx-parity does not"
        return bool(config.get("from_logits", False)), ""
    if loss in ("binary_crossentropy", "bce", "BinaryCrossentropy") or loss is getattr(
        keras.losses, "binary_crossentropy", None
    ):
        return False, ""
    return None, f"its loss is {loss!r}, not sigmoid binary cross-entropy"


def _head(model: Any, y: Any) -> Tuple[Optional[str], List[str]]:
    """``"sigmoid"`` or ``"logits"`` when the sigmoid-BCE losses apply to the output, else None
    with a note (when ``y`` asked for losses) saying why not."""
    activation = _activation(model)
    if activation == "sigmoid":
        return "sigmoid", []
    from_logits, why = _bce_from_logits(model)
    if activation == "linear" and from_logits:
        return "logits", []
    if y is None:
        return None, []
    what = f"the output activation is {activation or 'unknown'}"
    if activation == "linear":
        what += f" and {why or 'the loss is not from_logits=True'}"
    return None, [f"losses not checked: {what}; onnx-parity checks sigmoid BCE only"]


# ---------------------------------------------------------------------------------------------
# the check


def check_export(
    model: Any,
    x: Any,
    y: Any = None,
    out_dir: Optional[os.PathLike] = None,
    tolerance: str = "default",
    *,
    onnx: Optional[os.PathLike] = None,
    batch_size: Optional[int] = None,
    loss_tol: float = LOSS_TOL,
) -> ExportReport:
    """Exports `model` to ONNX with Keras's exporter and checks the file against the model.

    Args:
        model: a trained ``keras.Model`` (built with ``keras.Input`` so the batch axis is free).
        x: the reference inputs: an array for a one-input model, else a list or a dict by
            input name. Cast to the model's input dtype before both sides see them.
        y: binary targets of the output's shape (optional). With ``y`` and a sigmoid head (or a
            logits head compiled with ``BinaryCrossentropy(from_logits=True)``) both losses are
            computed and the logits form must equal ``model.evaluate(x, y)``'s loss within
            ``loss_tol`` (1e-6).
        out_dir: keep the folder here (created if needed): ``model.onnx``,
            ``test_data_set_0/`` (inputs and ``model.predict`` outputs), ``labels.npy``,
            ``keras.json`` (what Keras reported), ``report.json``, ``report.txt``. Default: a
            temporary folder, removed afterwards.
        tolerance: output tolerance preset (``default``: atol = rtol = 1e-5).
        onnx: check this existing export instead of exporting (an earlier export, or one from
            another exporter).
        batch_size: passed to ``model.predict`` and ``model.evaluate``.

    Returns an `ExportReport`. Raises `TypeError` for a non-Keras model, `ValueError` when
    ``x`` or ``y`` does not fit the model, `ExportError` when Keras's export fails, and
    `CouldNotRun` when the binary cannot run the exported file.
    """
    import numpy as np

    _check_model(model)
    keras = _keras()
    if tolerance not in PRESETS:
        raise ValueError(f"tolerance: one of {', '.join(PRESETS)}, got {tolerance!r}")
    xs = _inputs(model, x)
    if len(model.outputs) != 1 and y is not None:
        raise ValueError(f"y: the model has {len(model.outputs)} outputs; labels need exactly one")
    x_arg = xs[0] if len(xs) == 1 else xs

    predicted = model.predict(x_arg, batch_size=batch_size, verbose=0)
    if not isinstance(predicted, (list, tuple)):
        predicted = [predicted]
    outputs = [np.asarray(p) for p in predicted]

    labels = None
    head, notes = _head(model, y)
    if y is not None:
        labels = np.asarray(y, dtype=np.float32)
        if labels.shape != outputs[0].shape:
            raise ValueError(
                f"y has shape {labels.shape}, but the model's output on x has {outputs[0].shape}"
            )
    else:
        notes.append("no y: outputs compared, losses not computed")

    keras_loss = None
    figures: Dict[str, Any] = {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "onnx_parity": str(_binary.version()),
        "samples": int(len(xs[0])),
        "inputs": [list(a.shape) for a in xs],
        "outputs": [list(o.shape) for o in outputs],
        "head": head,
    }
    if labels is not None and head is not None:
        from_logits, why = _bce_from_logits(model)
        if from_logits is None:
            notes.append(f"model.evaluate not compared: {why}")
        elif from_logits != (head == "logits"):
            notes.append(
                f"model.evaluate not compared: the loss has from_logits={from_logits} on a "
                f"{head} output"
            )
        elif model.losses:
            notes.append(
                f"model.evaluate not compared: its loss includes {len(model.losses)} "
                "regularization term(s) that the ONNX file does not compute"
            )
        else:
            evaluated = model.evaluate(
                x_arg, labels, batch_size=batch_size, verbose=0, return_dict=True
            )
            keras_loss = float(evaluated["loss"])
            figures["evaluate_loss"] = keras_loss

    if out_dir is not None:
        folder = Path(out_dir)
    else:
        folder = Path(tempfile.mkdtemp(prefix="onnx-parity-keras-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if onnx is None:
            model_path = folder / "model.onnx"
            try:
                model.export(str(model_path), format="onnx", verbose=False)
            except Exception as e:  # Keras and tf2onnx raise anything
                raise ExportError(
                    f'model.export(format="onnx") failed: {type(e).__name__}: {e}'
                ) from e
        else:
            model_path = Path(onnx)
            figures["model"] = os.fspath(onnx)
            # The kept folder holds the file it was checked against. A missing file is left to
            # the binary, whose message names it.
            kept = folder / "model.onnx"
            if out_dir is not None and model_path.is_file():
                if model_path.resolve() != kept.resolve():
                    shutil.copyfile(model_path, kept)
                model_path = kept

        writer = TestSetWriter(folder)
        case = writer.test_set(xs, outputs)
        label_path = writer.labels(labels) if (labels is not None and head is not None) else None
        (folder / "keras.json").write_text(json.dumps(figures, indent=2) + "\n", "utf-8")

        def run(runtime: str) -> ValidateReport:
            return validate(
                model_path,
                test_data=case,
                labels=label_path,
                tolerance=tolerance,
                runtime=runtime,
                expect_logits_loss=keras_loss,
                loss_tol=loss_tol if keras_loss is not None else None,
            )

        runtimes = {"tract": run("tract")}
        if _binary.supports("validate", "--runtime"):
            try:
                runtimes["onnxruntime"] = run("onnxruntime")
            except CouldNotRun as e:
                notes.append(f"onnxruntime not checked: {e}")
        else:
            notes.append(
                "onnxruntime not checked: this onnx-parity build runs models with tract only "
                "(no --runtime option)"
            )
        tract = runtimes["tract"]
        logits_loss = tract.loss.logits_form.f32 if tract.loss is not None else None
        status = PASS if all(r.passed for r in runtimes.values()) else FAIL
        text = _text(status, model_path, runtimes, keras_loss, logits_loss, notes)
        if out_dir is None:  # the folder is gone when the caller reads this
            text = text.replace(str(folder), "<temporary folder>")
        if out_dir is not None:
            (folder / "report.json").write_text(json.dumps(tract.json, indent=2) + "\n", "utf-8")
            (folder / "report.txt").write_text(text, "utf-8")
        return ExportReport(
            status=status,
            validate=tract,
            runtimes=runtimes,
            head=head,
            keras_loss=keras_loss,
            onnx_logits_loss=logits_loss,
            notes=notes,
            folder=folder if out_dir is not None else None,
            text=text,
        )
    finally:
        if out_dir is None:
            shutil.rmtree(folder, ignore_errors=True)


def _text(
    status: str,
    model_path: Path,
    runtimes: Dict[str, ValidateReport],
    keras_loss: Optional[float],
    logits_loss: Optional[float],
    notes: List[str],
) -> str:
    lines = [f"Keras model vs its ONNX export ({model_path.name}): {status.upper()}"]
    if keras_loss is not None and logits_loss is not None:
        lines.append(
            f"  model.evaluate loss {keras_loss:.9f}, ONNX logits-form loss {logits_loss:.9f} "
            f"(|diff| {abs(logits_loss - keras_loss):.2e})"
        )
    for note in notes:
        lines.append(f"  note: {note}")
    text = "\n".join(lines) + "\n"
    for name, report in runtimes.items():
        text += f"\n[{name}]\n{report.text}"
    return text


def assert_export_matches(model: Any, x: Any, y: Any = None, **kwargs: Any) -> ExportReport:
    """`check_export` as a test assertion: returns the report when it passes, raises
    `AssertionError` carrying the whole text report when it does not.

    In a Keras project's test suite::

        def test_onnx_export_matches(trained_model, x_val, y_val):
            assert_export_matches(trained_model, x_val, y_val)
    """
    __tracebackhide__ = True  # pytest shows the caller's line
    report = check_export(model, x, y, **kwargs)
    if not report.passed:
        raise AssertionError(report.text)
    return report
