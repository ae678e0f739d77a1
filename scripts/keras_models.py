#!/usr/bin/env python3
"""Train small sigmoid-head models in Keras, export them to ONNX, and record what Keras reports.

Usage: keras_models.py --data DIR [--out DIR] [--reference-samples N] [--seed N]
                       [--saturate-scale K]

These folders are the outside reference for the Rust validator: a model trained and exported by
the real tools (Keras 3 on TensorFlow, tf2onnx through `model.export(format="onnx")`), with
reference outputs computed by TensorFlow, not by onnxruntime, so that an exporter bug shows up
as a mismatch instead of being baked into the expected data.

For every model it writes, under OUT/keras-<name>/:

    model.onnx                      the export
    test_data_set_0/input_0.pb      reference inputs, TensorProto named like the graph input
    test_data_set_0/output_0.pb     TensorFlow's outputs on them, named like the graph output
    labels.npy                      their binary targets, float32 [n, 10]
    keras.json                      what Keras reported, the config, versions, the command
    README.md                       the same, for people

and checks each export itself: onnx full check, onnxruntime (CPU) against TensorFlow.

Data: the MNIST test set only (`t10k-*-idx*-ubyte[.gz]` in DIR). The first 8000 images train;
the reference samples are taken from the 2000 after them (8000, 8001, ...), never trained on.

Exit codes: 0 written, 2 missing or corrupt data or unwritable output (one line on stderr);
anything else (a failed export or check) is a traceback, exit 1.
"""

import argparse
import gzip
import json
import os
import platform
import shlex
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

# TensorFlow reads these when it is imported, so they must be set first. Determinism costs
# nothing at this size; quieting the C++ logs keeps the report readable.
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# Keras's `backend.epsilon()`: `binary_crossentropy` clips probabilities to [EPS, 1 - EPS].
# Kept as float32 values because that is what the clip compares against in a float32 graph.
EPS = np.float32(1e-7)
ONE_MINUS_EPS = np.float32(1.0 - 1e-7)

TRAIN_SAMPLES = 8000
HELD_OUT_SAMPLES = 2000
OPSET = 17  # the opset the Rust exporter writes; tf2onnx would otherwise pick 15


class DataError(Exception):
    """The MNIST folder is missing a file or a file is not what it claims to be."""


# ---------------------------------------------------------------------------------------------
# data


def read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    """Reads one IDX file (raw or gzip) and checks its header before trusting its sizes.

    The magic number encodes the element type (0x08 = uint8) and the number of dimensions, so a
    labels file passed as images, or a truncated download, fails here with the file named.
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise DataError(f"{path}: not a complete gzip stream ({e})") from e
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes, shorter than an IDX header")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise DataError(f"{path}: magic 0x{got:08x}, expected 0x{magic:08x}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, header {shape} needs {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """The IDX file `stem`, gzipped or not; gzip wins when both exist (it is what MNIST ships)."""
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: neither {stem}.gz nor {stem} found")


def load_mnist_test(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 10,000 test images as float32 [n, 784] in [0, 1], and their digit labels."""
    images = read_idx(find_idx(folder, "t10k-images-idx3-ubyte"), 0x00000803, 3)
    labels = read_idx(find_idx(folder, "t10k-labels-idx1-ubyte"), 0x00000801, 1)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    if images.shape[1:] != (28, 28):
        raise DataError(f"{folder}: images are {images.shape[1:]}, expected (28, 28)")
    if labels.max() > 9:
        raise DataError(f"{folder}: label {labels.max()} is not a digit")
    needed = TRAIN_SAMPLES + HELD_OUT_SAMPLES
    if images.shape[0] < needed:
        raise DataError(f"{folder}: {images.shape[0]} test images, need {needed}")
    x = images.reshape(-1, 784).astype(np.float32) / np.float32(255.0)
    return x, labels


def binary_targets(labels: np.ndarray) -> np.ndarray:
    """Digits as 10 independent binary targets: the multi-label reading a sigmoid head trains."""
    return np.eye(10, dtype=np.float32)[labels]


# ---------------------------------------------------------------------------------------------
# models


@dataclass
class TrainConfig:
    """Everything that decides the trained weights; saved next to every artifact."""

    seed: int
    train_indices: tuple[int, int] = (0, TRAIN_SAMPLES)
    epochs: int = 3
    batch_size: int = 100
    optimizer: dict = field(
        default_factory=lambda: {
            "kind": "adam", "learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7
        }
    )
    loss: str = "keras.losses.BinaryCrossentropy() on the sigmoid output"
    shuffle: bool = True


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TF alike and asks TF for deterministic kernels.

    Called before each model is built, so each folder depends on the seed alone and not on
    which models were built before it in the same process.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def configure_tf() -> None:
    """One thread, so reductions keep one order; must run before TF executes anything, as
    thread pools cannot be resized afterwards. Also silences the retracing warnings that
    `predict` on several small models triggers: they are about speed, not results."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.get_logger().setLevel("ERROR")


def build_mlp(name: str, head_activation: str | None):
    """The seed model: 784 -> 128 relu -> 10, with a sigmoid head or none (logits)."""
    import keras

    x = keras.Input((784,), name="input")
    h = keras.layers.Dense(128, activation="relu", name="hidden")(x)
    y = keras.layers.Dense(10, activation=head_activation, name="head")(h)
    return keras.Model(x, y, name=name)


def build_cnn(name: str):
    """A small NHWC CNN: the Rust side must handle Conv, MaxPool and a Reshape before the head."""
    import keras

    x = keras.Input((28, 28, 1), name="input")
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(x)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    y = keras.layers.Dense(10, activation="sigmoid", name="head")(h)
    return keras.Model(x, y, name=name)


def train(model, x: np.ndarray, y: np.ndarray, config: TrainConfig) -> list[dict]:
    """Fits with Keras's own loop; returns the per-epoch history Keras reported.

    Note that Keras trains a sigmoid head by the logits form anyway: the loss finds the logits
    stored on the sigmoid's output tensor. The probability form only shows up outside `fit`.
    """
    import keras

    opt = config.optimizer
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=opt["learning_rate"], beta_1=opt["beta_1"], beta_2=opt["beta_2"],
            epsilon=opt["epsilon"],
        ),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    history = model.fit(
        x, y, batch_size=config.batch_size, epochs=config.epochs, shuffle=config.shuffle,
        verbose=0,
    )
    epochs = []
    for i in range(config.epochs):
        epochs.append({k: float(v[i]) for k, v in history.history.items()})
    return epochs


def logits_twin(model, name: str):
    """The same layers and weights with the head's activation removed: the model's true logits.

    A clone of the same layers, so the twin runs the same MatMul + BiasAdd on the same weights
    as the sigmoid model does before its Sigmoid; its output is what that Sigmoid receives.
    """
    import keras

    head = model.layers[-1].name

    def clone(layer):
        config = layer.get_config()
        if layer.name == head:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.name = name
    twin.set_weights(model.get_weights())
    return twin


def saturated_copy(model, name: str, scale: float):
    """The trained sigmoid MLP with its head kernel and bias multiplied by `scale`.

    Same decisions (the sign of every logit is kept), but logits `scale` times larger, so most
    probabilities land past the 1e-7 clip and the two loss forms part ways.
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.name = name
    weights = model.get_weights()
    weights[-2] = weights[-2] * np.float32(scale)
    weights[-1] = weights[-1] * np.float32(scale)
    copy.set_weights(weights)
    return copy


# ---------------------------------------------------------------------------------------------
# what Keras reports


def keras_figures(model, x: np.ndarray, y: np.ndarray, from_logits: bool) -> dict:
    """The losses and accuracy as Keras and TF compute them on the reference samples.

    - `evaluate_loss`: `model.evaluate` with `BinaryCrossentropy(from_logits=...)`. For a sigmoid
      head this silently uses the logits (see `train`), so it is the logits form.
    - `bce_on_predictions`: `keras.losses.binary_crossentropy(y, model.predict(x))`, batch mean.
      `predict` returns NumPy, which carries no logits, so this is the clipped probability form.
      For the logits model the predictions are passed through `keras.ops.sigmoid` first.
    - `bce_on_called_tensor`: the same on `model(x)` (an eager tensor). It still carries the
      logits, so Keras uses them: a trap worth recording, as it looks like the line above.
    - `logits_form_loss`: `tf.nn.sigmoid_cross_entropy_with_logits` on the true logits, mean
      over the last axis then the batch.
    Every mean is a float32 TF reduction, as Keras does it; evaluate runs as one batch.
    """
    import keras
    import tensorflow as tf

    n = len(x)
    model.compile(
        loss=keras.losses.BinaryCrossentropy(from_logits=from_logits),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0 if from_logits else 0.5)],
    )
    evaluated = model.evaluate(x, y, batch_size=n, verbose=0, return_dict=True)

    outputs = model.predict(x, batch_size=n, verbose=0)
    if from_logits:
        logits = outputs
        # To NumPy, because `keras.ops.sigmoid` tags its eager result with the logits too.
        probs = keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))
        called = model(x, training=False)
        called_bce = keras.losses.binary_crossentropy(y, called, from_logits=True)
    else:
        probs = outputs
        logits = logits_twin(model, model.name + "_logits").predict(x, batch_size=n, verbose=0)
        called = model(x, training=False)
        called_bce = keras.losses.binary_crossentropy(y, called)

    bce_pred = keras.losses.binary_crossentropy(y, probs)
    per_element = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
    logits_form = tf.reduce_mean(tf.reduce_mean(per_element, axis=-1))

    clipped = (probs < EPS) | (probs > ONE_MINUS_EPS)
    # Where the clip caps the loss: a saturated probability on the wrong side of its target.
    capped = clipped & ((probs > np.float32(0.5)) != (y > np.float32(0.5)))
    return {
        "evaluate_loss": float(evaluated["loss"]),
        "evaluate_binary_accuracy": float(evaluated["binary_accuracy"]),
        "bce_on_predictions": float(tf.reduce_mean(bce_pred)),
        "bce_on_called_tensor": float(tf.reduce_mean(called_bce)),
        "logits_form_loss": float(logits_form),
        "binary_accuracy_on_predictions": float(np.mean((probs > 0.5) == (y > 0.5))),
        "elements": int(probs.size),
        "clipped": int(clipped.sum()),
        "clipped_wrong_side": int(capped.sum()),
        "max_abs_logit": float(np.abs(logits).max()),
        "_outputs": outputs,
        "_logits": logits,
    }


# ---------------------------------------------------------------------------------------------
# export and reference data


def export_onnx(model, path: Path, sample: np.ndarray) -> None:
    """Exports through Keras 3's own ONNX path (tf2onnx underneath).

    `tf2onnx.convert.from_keras` no longer works on Keras 3 models, and `model.export` refuses a
    model that was never called, so call it once first.
    """
    model(sample[:1], training=False)
    model.export(str(path), format="onnx", verbose=False, opset_version=OPSET)


def graph_io(path: Path) -> dict:
    """Names, dims and the last node of the exported graph: what the Rust side must match."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph

    def describe(value):
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        return {"name": value.name, "dims": dims}

    if len(graph.input) != 1 or len(graph.output) != 1:
        raise RuntimeError(f"{path}: expected one input and one output")
    out_name = graph.output[0].name
    producer = next(n for n in graph.node if out_name in n.output)
    return {
        "input": describe(graph.input[0]),
        "output": describe(graph.output[0]),
        "final_op": {"name": producer.name, "op_type": producer.op_type,
                     "inputs": list(producer.input)},
        "opset": next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}",
        # Op types only: tf2onnx names the nodes it adds from a counter whose value is not
        # stable from run to run, and keras.json should be.
        "ops": [n.op_type for n in graph.node],
    }


def write_tensor(path: Path, array: np.ndarray, name: str) -> None:
    """One serialized TensorProto, as the ONNX backend tests store their data sets."""
    from onnx import numpy_helper

    path.write_bytes(numpy_helper.from_array(array, name=name).SerializeToString())


def check_export(path: Path, io: dict, x: np.ndarray, outputs: np.ndarray,
                 logits: np.ndarray) -> dict:
    """An independent look at the export: the onnx full check and onnxruntime vs TensorFlow.

    When the graph ends in a Sigmoid, its input is also fetched from onnxruntime (by adding it
    as a graph output in a copy) and compared to TF's true logits, because that tensor is what
    the Rust validator reads as the logits.
    """
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)

    fetch = [io["output"]["name"]]
    if io["final_op"]["op_type"] == "Sigmoid":
        fetch.append(io["final_op"]["inputs"][0])
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(fetch[1], onnx.TensorProto.FLOAT, None)
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    got = session.run(fetch, {io["input"]["name"]: x})
    result = {
        "check_model_full_check": "ok",
        "onnxruntime_vs_tensorflow_output_max_abs_diff": float(np.abs(got[0] - outputs).max()),
    }
    if len(got) > 1:
        result["onnxruntime_sigmoid_input_vs_tensorflow_logits_max_abs_diff"] = float(
            np.abs(got[1] - logits).max()
        )
    return result


# ---------------------------------------------------------------------------------------------
# one folder per model


@dataclass
class Case:
    """One committed folder: the model, how it came to be, and how to score it."""

    folder: str
    summary: str
    model: object
    from_logits: bool
    training: dict
    nhwc: bool = False
    note: str = ""


def versions() -> dict:
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def write_case(case: Case, out: Path, x_ref: np.ndarray, y_ref: np.ndarray,
               reference: dict, command: str) -> dict:
    """Exports one model, writes its reference data, checks the export, records everything."""
    folder = out / case.folder
    (folder / "test_data_set_0").mkdir(parents=True, exist_ok=True)
    x = x_ref.reshape(-1, 28, 28, 1) if case.nhwc else x_ref

    model_path = folder / "model.onnx"
    export_onnx(case.model, model_path, x)
    io = graph_io(model_path)
    figures = keras_figures(case.model, x, y_ref, case.from_logits)
    outputs, logits = figures.pop("_outputs"), figures.pop("_logits")

    write_tensor(folder / "test_data_set_0" / "input_0.pb", x, io["input"]["name"])
    write_tensor(folder / "test_data_set_0" / "output_0.pb", outputs, io["output"]["name"])
    np.save(folder / "labels.npy", y_ref)
    checks = check_export(model_path, io, x, outputs, logits)

    record = {
        "folder": case.folder,
        "summary": case.summary,
        "command": command,
        "versions": versions(),
        "training": case.training,
        "reference": {**reference, "input_shape": list(x.shape),
                      "outputs": "logits" if case.from_logits else "probabilities",
                      "computed_by": "TensorFlow (model.predict), not onnxruntime"},
        "keras": figures,
        "onnx": {**io, **checks},
    }
    if case.note:
        record["note"] = case.note
    (folder / "keras.json").write_text(json.dumps(record, indent=2) + "\n")
    (folder / "README.md").write_text(readme(record))
    return record


def readme(r: dict) -> str:
    """A short human page per folder; every number in it is also in keras.json."""
    k, o = r["keras"], r["onnx"]
    ref = r["reference"]
    if ref["outputs"] == "logits":
        probs = "sigmoid(predictions)"
        evaluate_note = "`model.evaluate` uses `BinaryCrossentropy(from_logits=True)`."
    else:
        probs = "predictions"
        evaluate_note = (
            "`model.evaluate` on a sigmoid head uses the logits Keras keeps on the sigmoid's "
            "output tensor, so it is the logits form; the clipped probability form shows only on "
            "`predict`'s NumPy output."
        )
    lines = [
        f"# {r['folder']}",
        "",
        r["summary"],
        "",
        "Made from the repository root by (see `scripts/README.md` for the venv):",
        "",
        f"    {r['command']}",
        "",
        f"- `model.onnx`: Keras `model.export(format=\"onnx\")` (tf2onnx "
        f"{r['versions']['tf2onnx']}, opset {o['opset']}). Input `{o['input']['name']}` "
        f"{o['input']['dims']}, output `{o['output']['name']}` {o['output']['dims']}; the "
        "last node is "
        f"`{o['final_op']['op_type']}` (`{o['final_op']['name']}`). The `unk__N` batch "
        "dims come from a tf2onnx counter: they differ between input and output and between "
        "folders.",
        f"- `test_data_set_0/input_0.pb`, `output_0.pb`: MNIST test images "
        f"{ref['indices'][0]}..{ref['indices'][1] - 1} (never trained on) and TensorFlow's "
        f"{ref['outputs']} on them, serialized TensorProto named like the graph's input/output.",
        f"- `labels.npy`: their digits as 10 binary targets, float32 [{ref['samples']}, 10].",
        "- `keras.json`: what Keras reported, the training config, versions, the command.",
        "",
        f"What Keras and TF report on the reference samples. {evaluate_note}",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| `model.evaluate` loss | {k['evaluate_loss']:.9g} |",
        f"| `binary_crossentropy(y, {probs})` (probability form, clipped) | "
        f"{k['bce_on_predictions']:.9g} |",
        f"| `sigmoid_cross_entropy_with_logits` on the true logits | {k['logits_form_loss']:.9g} |",
        f"| binary accuracy (`evaluate`) | {k['evaluate_binary_accuracy']:.9g} |",
        f"| probabilities past the 1e-7 clip | {k['clipped']} of {k['elements']} "
        f"({k['clipped_wrong_side']} on the wrong side) |",
        f"| onnxruntime vs TensorFlow, max abs diff of outputs | "
        f"{o['onnxruntime_vs_tensorflow_output_max_abs_diff']:.3g} |",
    ]
    if "onnxruntime_sigmoid_input_vs_tensorflow_logits_max_abs_diff" in o:
        lines.append(
            "| onnxruntime Sigmoid input vs TensorFlow logits, max abs diff | "
            f"{o['onnxruntime_sigmoid_input_vs_tensorflow_logits_max_abs_diff']:.3g} |"
        )
    if r.get("note"):
        lines += ["", r["note"]]
    lines.append("")
    return "\n".join(lines)


def build_cases(x: np.ndarray, y: np.ndarray, seed: int, scale: float) -> list[Case]:
    """Trains the seed MLP and the CNN, and derives the logits twin and the saturated copy."""
    lo, hi = 0, TRAIN_SAMPLES
    mlp_config = TrainConfig(seed=seed)

    seed_everything(seed)
    mlp = build_mlp("mlp_sigmoid", "sigmoid")
    mlp_history = train(mlp, x[lo:hi], y[lo:hi], mlp_config)
    mlp_training = {**asdict(mlp_config), "history": mlp_history}

    seed_everything(seed)
    cnn_config = TrainConfig(seed=seed, epochs=1)
    cnn = build_cnn("cnn_sigmoid")
    cnn_history = train(cnn, x[lo:hi].reshape(-1, 28, 28, 1), y[lo:hi], cnn_config)

    return [
        Case("keras-mlp-sigmoid",
             "The seed MLP 784 -> 128 relu -> 10 sigmoid, trained in Keras on MNIST.",
             mlp, False, mlp_training),
        Case("keras-mlp-logits",
             "The logits twin of `keras-mlp-sigmoid`: identical weights, head without activation.",
             logits_twin(mlp, "mlp_logits"), True,
             {"weights_from": "keras-mlp-sigmoid", "head_activation": None, **mlp_training}),
        Case("keras-cnn",
             "A small CNN on NHWC input: Conv2D 8 3x3 relu -> MaxPool 2 -> Flatten -> Dense 10 "
             "sigmoid, trained for one epoch.",
             cnn, False, {**asdict(cnn_config), "history": cnn_history}, nhwc=True,
             note="Rerunning the command reproduces every file here byte for byte except "
             "`model.onnx`: tf2onnx merges equal constants and numbers the nodes it adds in an "
             "order that changes from run to run, so names inside the graph vary. Weights, "
             "structure and outputs do not."),
        Case("keras-mlp-saturated",
             f"`keras-mlp-sigmoid` with its head kernel and bias multiplied by {scale:g}: same "
             "decisions, logits so large that most probabilities pass the 1e-7 clip and the two "
             "loss forms differ visibly.",
             saturated_copy(mlp, "mlp_saturated", scale), False,
             {"weights_from": "keras-mlp-sigmoid", "head_scale": scale, **mlp_training}),
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--data", type=Path, required=True,
                   help="folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]")
    p.add_argument("--out", type=Path, default=Path("models"),
                   help="parent folder of the keras-* folders (default: models)")
    p.add_argument("--reference-samples", type=int, default=500,
                   help="held-out samples written as reference data, at most 2000 (default: 500)")
    p.add_argument("--seed", type=int, default=42, help="seed for weights and shuffling")
    p.add_argument("--saturate-scale", type=float, default=30.0,
                   help="factor applied to the head of keras-mlp-saturated (default: 30)")
    args = p.parse_args(argv)
    if not 1 <= args.reference_samples <= HELD_OUT_SAMPLES:
        p.error(f"--reference-samples must be in 1..{HELD_OUT_SAMPLES}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        x, labels = load_mnist_test(args.data)
    except (OSError, DataError) as e:
        print(f"error: reading MNIST from --data {args.data}: {e}", file=sys.stderr)
        return 2
    y = binary_targets(labels)
    configure_tf()

    n = args.reference_samples
    ref = slice(TRAIN_SAMPLES, TRAIN_SAMPLES + n)
    reference = {"samples": n, "indices": [ref.start, ref.stop],
                 "source": "MNIST t10k (test set), pixels / 255"}
    command = shlex.join(["python", "scripts/keras_models.py", *argv])
    try:
        for case in build_cases(x, y, args.seed, args.saturate_scale):
            r = write_case(case, args.out, x[ref], y[ref], reference, command)
            k, o = r["keras"], r["onnx"]
            print(f"{case.folder}: evaluate {k['evaluate_loss']:.7g}, "
                  f"bce(predictions) {k['bce_on_predictions']:.7g}, "
                  f"logits form {k['logits_form_loss']:.7g}, "
                  f"binary accuracy {k['evaluate_binary_accuracy']:.7g}, "
                  f"clipped {k['clipped']}/{k['elements']}, "
                  f"ort-vs-tf {o['onnxruntime_vs_tensorflow_output_max_abs_diff']:.3g}")
    except OSError as e:
        print(f"error: writing under --out {args.out}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
