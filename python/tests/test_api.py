"""The Python API over the binary: committed models, NumPy arrays, and the exceptions."""

from __future__ import annotations

import json
import os
import re
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
import pytest

import onnx_parity
from onnx_parity import CouldNotRun, RuntimeUnavailable, _binary

from conftest import MODELS

SEED_SIGMOID = MODELS / "keras-mlp-sigmoid"
OUR_LOGITS = MODELS / "mnist-mlp" / "logits"


def numpy_forward(x: np.ndarray) -> np.ndarray:
    """The committed logits model (784-128-10 relu) recomputed in NumPy from its weights."""
    w = np.load(OUR_LOGITS / "weights.npz")
    h = np.maximum(x @ w["dense/kernel"] + w["dense/bias"], np.float32(0))
    return h @ w["dense_1/kernel"] + w["dense_1/bias"]


@pytest.fixture
def x():
    return np.random.default_rng(0).random((40, 784), dtype=np.float32)


# --- the binary ------------------------------------------------------------------------------


def test_binary_is_the_one_next_to_the_interpreter():
    path = onnx_parity.binary()
    if os.environ.get(_binary.ENV_VAR):
        assert path == Path(os.environ[_binary.ENV_VAR])
    else:
        # Installed from the wheel: found in this environment's scripts folder, even when the
        # venv is not activated (the folder need not be on the PATH).
        assert path.parent == Path(sysconfig.get_path("scripts"))
        # ... and the package is the installed one, not the checkout's python/ folder.
        assert Path(onnx_parity.__file__).parent.parent == Path(sysconfig.get_path("purelib"))


def test_version_names_the_commit():
    v = onnx_parity.version()
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v.version)
    assert re.fullmatch(r"[0-9a-f]{7,40}(-dirty)?|unknown", v.commit), v.commit
    if onnx_parity.__version__ != "unknown":  # installed: the wheel's version is the binary's
        assert onnx_parity.__version__ == v.version
    expected = os.environ.get("ONNX_PARITY_EXPECT_COMMIT")
    if expected:
        assert v.commit == expected


def test_help_probe_reads_flags():
    assert _binary.supports("validate", "--labels")
    assert not _binary.supports("validate", "--no-such-flag")


# --- validate --------------------------------------------------------------------------------


def test_validate_committed_keras_model():
    report = onnx_parity.validate(
        SEED_SIGMOID / "model.onnx", labels=SEED_SIGMOID / "labels.npy"
    )
    assert report.passed and report.status == "pass"
    assert report.summary.cases == report.summary.passed == 1
    out = report.case.output("Identity:0")
    assert out.passed and out.shape == (500, 10) and out.dtype == "FLOAT"
    assert out.metrics.max_abs_err <= out.tolerance.atol + out.tolerance.rtol
    assert out.metrics.mismatches == 0 and out.metrics.worst is not None
    # Keras recorded model.evaluate on these samples (keras.json): the logits form, read under
    # the Sigmoid, reproduces it.
    keras = json.loads((SEED_SIGMOID / "keras.json").read_text())["keras"]
    assert report.loss.head.kind == "sigmoid"
    assert abs(report.loss.logits_form.f32 - keras["evaluate_loss"]) <= 1e-6
    assert report.binary_accuracy.decisions_flipped == 0
    assert report.binary_accuracy.elements == keras["elements"]
    assert "PASS" in report.text and str(report) == report.text
    assert report.json["status"] == "pass"


def test_a_failed_gate_is_a_result_not_an_exception():
    report = onnx_parity.validate(
        SEED_SIGMOID / "model.onnx",
        labels=SEED_SIGMOID / "labels.npy",
        expect_logits_loss=0.06,
    )
    assert report.status == "fail" and not report.passed
    form = report.loss.logits_form
    assert form.expected == 0.06 and form.passed is False
    assert abs(form.abs_diff - abs(form.f32 - 0.06)) < 1e-12
    assert report.case.problems, "a failed case says why"


def test_numpy_arrays_against_a_numpy_reference(x, monkeypatch, tmp_path):
    # Temporary files go to tmp_path here, so the test can see that they are removed.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    z = numpy_forward(x)
    y = (np.random.default_rng(1).random(z.shape) < 0.1).astype(np.float32)
    report = onnx_parity.validate(OUR_LOGITS / "model.onnx", inputs=x, outputs=z, labels=y)
    assert report.passed, report.text
    assert report.case.inputs[0].matched_by == "position"
    assert report.case.test_data == "<arrays>/test_data_set_0"
    # Logits form, Keras reduction, in float64 from NumPy's logits:
    # mean over the last axis, then the batch, of max(z,0) - z*y + log(1 + exp(-|z|)).
    z64 = z.astype(np.float64)
    ref = np.mean(np.mean(np.maximum(z64, 0) - z64 * y + np.log1p(np.exp(-np.abs(z64))), -1))
    assert abs(report.loss.logits_form.f64 - ref) < 1e-5  # tract's and NumPy's sums differ
    assert report.loss.head.kind == "logits"
    assert list(tmp_path.iterdir()) == []


def test_dict_arrays_are_matched_by_name(x):
    z = numpy_forward(x)
    report = onnx_parity.validate(
        OUR_LOGITS / "model.onnx", inputs={"input": x}, outputs={"logits": z}
    )
    assert report.passed
    assert report.case.inputs[0].matched_by == "name"
    assert report.outputs[0].matched_by == "name"


def test_a_misspelled_name_is_refused(x):
    message = r"inputs\['inptu'\]: the model has no input named 'inptu' \(its inputs: input\)"
    with pytest.raises(ValueError, match=message):
        onnx_parity.validate(
            OUR_LOGITS / "model.onnx", inputs={"inptu": x}, outputs=numpy_forward(x)
        )


def test_wrong_shaped_array_names_the_array(x):
    with pytest.raises(CouldNotRun) as e:
        onnx_parity.validate(
            OUR_LOGITS / "model.onnx", inputs=x[:, :783], outputs=numpy_forward(x)
        )
    assert e.value.exit_code == 2
    assert str(e.value).startswith("inputs: tensor 'input' is FLOAT [40, 783]")
    assert "axis 1 is 783, not 784" in str(e.value)
    assert tempfile.gettempdir() not in str(e.value)


def test_wrong_shaped_labels(x):
    with pytest.raises(CouldNotRun, match=r"^labels: labels have shape \[40, 9\]"):
        onnx_parity.validate(
            OUR_LOGITS / "model.onnx", inputs=x, outputs=numpy_forward(x),
            labels=np.zeros((40, 9), np.float32),
        )


def test_missing_model_names_the_file(tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(CouldNotRun, match=re.escape(f"reading {missing}")):
        onnx_parity.validate(missing)


def test_arguments_that_cannot_be_right(x):
    model = OUR_LOGITS / "model.onnx"
    with pytest.raises(ValueError, match="tolerance: one of exact, strict"):
        onnx_parity.validate(model, tolerance="lenient")
    with pytest.raises(ValueError, match="inputs and outputs go together"):
        onnx_parity.validate(model, inputs=x)
    with pytest.raises(TypeError, match=r"inputs: dtype <U1 is not a numeric tensor"):
        onnx_parity.validate(model, inputs=np.array(["a"]), outputs=x)
    with pytest.raises(TypeError, match="test_data: a path or a list of paths"):
        onnx_parity.validate(model, test_data=x)
    with pytest.raises(ValueError, match="atol: must be finite"):
        onnx_parity.validate(model, atol=float("nan"))


def test_onnxruntime_when_missing_is_a_clear_exception(monkeypatch, tmp_path):
    # Point the library lookup at nothing, so the outcome does not depend on the machine.
    monkeypatch.setenv("ORT_DYLIB_PATH", str(tmp_path / "libonnxruntime.so"))
    with pytest.raises(CouldNotRun) as e:
        onnx_parity.validate(SEED_SIGMOID / "model.onnx", runtime="onnxruntime")
    assert "onnxruntime" in str(e.value)
    if not _binary.supports("validate", "--runtime"):
        assert isinstance(e.value, RuntimeUnavailable)
        assert "has no --runtime option" in str(e.value)


# --- compare ---------------------------------------------------------------------------------


def test_compare_layers_of_two_exports():
    # The tf2onnx export of the seed model's weights against the trained burn graph.
    report = onnx_parity.compare(
        MODELS / "keras-from-rust-mlp" / "model.onnx", MODELS / "mnist-mlp" / "probs", layers=True
    )
    assert report.passed, report.text
    case = report.case
    assert case.first_divergence is None
    assert [lp.kind for lp in case.layers] == ["Dense", "Relu", "Dense", "Sigmoid"]
    assert all(lp.pair.metrics.mismatches == 0 for lp in case.layers)
    assert case.outputs[0].metrics.max_abs_err < 1e-5


def test_compare_with_arrays(x):
    report = onnx_parity.compare(OUR_LOGITS / "model.onnx", OUR_LOGITS, inputs=x)
    assert report.passed
    assert report.case.samples == 40


def test_compare_mismatch_is_a_result(x):
    # The same weights, one graph ends in a Sigmoid: outputs differ, and that is a finding.
    report = onnx_parity.compare(
        MODELS / "mnist-mlp" / "probs" / "model.onnx", OUR_LOGITS / "model.onnx", inputs=x
    )
    assert report.status == "fail"
    worst = report.case.outputs[0].metrics.worst
    assert worst is not None and worst.abs_err > 1e-3


def test_keras_module_says_how_to_install_keras():
    try:
        import keras  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("Keras is installed; test_keras.py covers the module")
    from onnx_parity.keras import check_export

    with pytest.raises(ImportError, match=r"pip install 'onnx-parity\[keras\]'"):
        check_export(object(), np.zeros((1, 784), np.float32))


def test_synthetic_digits_are_the_binary_s_samples():
    x, y = onnx_parity.synthetic_digits(200, seed=3)
    assert x.shape == (200, 784) and x.dtype == np.float32
    assert y.shape == (200, 10) and np.all(y.sum(axis=1) == 1)
    # Pixels are exact k/255 values.
    k = x * np.float32(255)
    assert np.array_equal(k, np.round(k)) and 0 <= x.min() and x.max() <= 1
    again, _ = onnx_parity.synthetic_digits(200, seed=3)
    other, _ = onnx_parity.synthetic_digits(200, seed=4)
    assert np.array_equal(x, again) and not np.array_equal(x, other)
