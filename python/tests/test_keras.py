"""The Keras one-call check on a freshly trained seed model (784 -> 128 relu -> 10 sigmoid,
Adam 1e-3, binary cross-entropy, one epoch on synthetic digits).

These tests need the ``keras`` extra. They are skipped where Keras is not installed, unless
``ONNX_PARITY_REQUIRE_KERAS=1`` (CI sets it), where a missing Keras is an error instead.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

if os.environ.get("ONNX_PARITY_REQUIRE_KERAS") == "1":
    import keras  # noqa: E402
else:
    keras = pytest.importorskip("keras")

from onnx_parity import CouldNotRun  # noqa: E402
from onnx_parity.keras import assert_export_matches, check_export  # noqa: E402

TRAIN = 2500  # samples trained on; the rest of the 3000 are the reference samples


def seed_model(head_activation="sigmoid", name="seed"):
    x = keras.Input((784,), name="input")
    h = keras.layers.Dense(128, activation="relu", name="hidden")(x)
    y = keras.layers.Dense(10, activation=head_activation, name="head")(h)
    return keras.Model(x, y, name=name)


@pytest.fixture(scope="module")
def trained(digits):
    """The seed model after one epoch, and the held-out samples."""
    x, y = digits
    keras.utils.set_random_seed(42)
    model = seed_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    model.fit(x[:TRAIN], y[:TRAIN], batch_size=100, epochs=1, verbose=0)
    return model, x[TRAIN:], y[TRAIN:]


def numpy_logits(model, x):
    """The trained weights applied in NumPy (float64): the logits under the sigmoid."""
    k1, b1, k2, b2 = (w.astype(np.float64) for w in model.get_weights())
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


def test_check_export_passes_and_its_loss_is_model_evaluate(trained, tmp_path):
    model, x, y = trained
    report = check_export(model, x, y, out_dir=tmp_path / "export")
    assert report.passed, report.text
    assert report.head == "sigmoid"

    # The loss Keras reports for these samples, asked again here:
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert report.keras_loss == pytest.approx(evaluated, abs=1e-7)
    # The ONNX file's logits-form loss (tract, read under the Sigmoid) equals it to 1e-6 ...
    assert abs(report.onnx_logits_loss - report.keras_loss) <= 1e-6
    assert report.validate.loss.logits_form.passed is True
    # ... and so does the formula on NumPy's logits, float64:
    # mean over the last axis, then the batch, of max(z,0) - z*y + log(1 + exp(-|z|)).
    z = numpy_logits(model, x)
    ref = np.mean(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), -1))
    assert abs(report.onnx_logits_loss - ref) <= 1e-6

    out = report.validate.case.outputs[0]
    assert out.passed and out.shape == (len(x), 10)
    # The folder kept for a CI artifact.
    folder = report.folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "keras.json", "labels.npy", "model.onnx", "report.json", "report.txt", "test_data_set_0",
    ]
    assert np.array_equal(np.load(folder / "labels.npy"), y)
    assert json.loads((folder / "keras.json").read_text())["evaluate_loss"] == report.keras_loss
    assert (folder / "report.txt").read_text() == report.text
    # onnxruntime ran and passed, or the report says why it did not.
    if "onnxruntime" in report.runtimes:
        assert report.runtimes["onnxruntime"].passed
    else:
        assert any(n.startswith("onnxruntime not checked: ") for n in report.notes)


def test_the_pytest_helper_returns_the_report(trained):
    model, x, y = trained
    report = assert_export_matches(model, x, y)
    assert report.passed and report.folder is None


def test_a_weight_changed_after_export_fails_readably(trained, tmp_path):
    model, x, y = trained
    good = check_export(model, x, y, out_dir=tmp_path / "good")
    assert good.passed, good.text

    # The export above, and a model whose head kernel column 3 moved by 0.01 after it was
    # exported: one output of ten changes.
    changed = keras.models.clone_model(model)
    weights = model.get_weights()
    weights[2][:, 3] += np.float32(0.01)
    changed.set_weights(weights)
    changed.compile(loss=keras.losses.BinaryCrossentropy())
    onnx = tmp_path / "good" / "model.onnx"

    report = check_export(changed, x, y, onnx=onnx, out_dir=tmp_path / "broken")
    assert report.status == "fail"
    # The kept folder holds the file that was checked.
    assert (report.folder / "model.onnx").read_bytes() == onnx.read_bytes()
    assert report.validate.case.outputs[0].status == "fail"
    assert report.validate.loss.logits_form.passed is False
    assert report.text.startswith("Keras model vs its ONNX export (model.onnx): FAIL\n")

    with pytest.raises(AssertionError) as e:
        assert_export_matches(changed, x, y, onnx=onnx)
    message = str(e.value)
    # Readable: the verdict, the two losses, the output that broke and its worst element.
    assert "FAIL" in message and "model.evaluate loss" in message
    assert "output 'Identity:0'" in message and "max abs" in message
    assert "logits-form loss" in message
    assert "<temporary folder>/test_data_set_0: FAIL" in message


def test_a_logits_head_uses_from_logits(trained):
    model, x, y = trained
    twin = seed_model(head_activation=None, name="seed_logits")
    twin.set_weights(model.get_weights())
    twin.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True))
    report = check_export(twin, x, y)
    assert report.passed, report.text
    assert report.head == "logits"
    assert report.validate.loss.head.kind == "logits"
    # Same weights, same logits: the same loss as the sigmoid model's evaluate.
    sigmoid_loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert abs(report.keras_loss - sigmoid_loss) <= 1e-6


def test_a_softmax_head_is_checked_on_outputs_only(digits):
    x, y = digits
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy")
    report = check_export(model, x[:50], y[:50])
    assert report.passed, report.text
    assert report.head is None and report.keras_loss is None
    assert report.validate.loss is None
    assert any("losses not checked: the output activation is softmax" in n for n in report.notes)


def test_not_a_keras_model(trained):
    _, x, y = trained
    with pytest.raises(TypeError, match=r"must be a keras.Model \(Keras 3\), got numpy.ndarray"):
        check_export(x, x, y)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        assert_export_matches("model.keras", x, y)


def test_x_of_the_wrong_shape(trained):
    model, x, y = trained
    message = (
        r"x has shape \(500, 783\), but the model's input 'input' takes \(None, 784\): "
        r"axis 1 is 783, not 784"
    )
    with pytest.raises(ValueError, match=message):
        check_export(model, x[:, :783], y)
    with pytest.raises(ValueError, match=r"x has shape \(784,\), .*: 1 axes instead of 2"):
        check_export(model, x[0], y)
    message = r"y has shape \(500, 9\), but the model's output on x has \(500, 10\)"
    with pytest.raises(ValueError, match=message):
        check_export(model, x, y[:, :9])
    with pytest.raises(ValueError, match="tolerance: one of"):
        check_export(model, x, y, tolerance="lenient")


def test_a_missing_export_file_is_could_not_run(trained, tmp_path):
    model, x, y = trained
    missing = tmp_path / "missing.onnx"
    with pytest.raises(CouldNotRun, match=f"reading {missing}"):
        check_export(model, x, y, onnx=missing)
