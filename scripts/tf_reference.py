#!/usr/bin/env python3
"""Train the seed MLP (or the CNN) for a few steps in Keras and record every step: the
TensorFlow reference.

Usage: tf_reference.py (--data DIR | --synthetic N) --out DIR [--train N] [--eval N]
                       [--steps N] [--batch N] [--optimizer sgd|adam] [--lr LR]
                       [--arch mlp|cnn] [--hidden N[,N...]] [--filters N]
                       [--targets FILE.npy] [--seed N] [--head-scale K] [--bin PATH]

`onnx-parity train` claims to reproduce a Keras run step by step when given its initial
weights and its sample order. This script makes that Keras run and writes down what the Rust
side needs to replay it and what it must get:

    init.npz            initial weights (glorot-uniform from the Keras seed, zero biases), in
                        the Rust layout: dense/kernel [in, out], dense/bias, dense_1/..., float32;
                        for the CNN conv2d/kernel [3, 3, 1, filters], conv2d/bias,
                        dense/kernel [13*13*filters, k] (Keras's flatten order), dense/bias
    indices.npy         the sample order, int64, steps*batch long: batch b is indices[b*B:(b+1)*B]
    targets.npy         with --targets: a copy of the targets, what `train --targets` reads
    final-logits.npz    the weights the logits-formulation model ends with
    final-probs.npz     the weights the probability-formulation model ends with
    reference.json      config, per-step loss and binary accuracy per formulation, checks, versions

Each step is one `train_on_batch` (its figures are that batch's forward pass before the
update; `fit`'s per-batch logs are running means), on batches taken in `indices` order.

Models: `--arch mlp` is Dense(h, relu) per `--hidden` width, then Dense(k); `--arch cnn` is
Input(28, 28, 1) -> Conv2D(filters, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(k), the
layers named conv2d, max_pooling2d, flatten, dense. k is 10 (the digits one-hot) or the columns
of `--targets FILE.npy` (float32 [n, k] of 0/1, one row per sample of the whole data in file
order, as `onnx-parity train --targets` reads it; `multilabel_targets.py` writes the
13-column set).

The two formulations (both start from init.npz and see the same batches):

- logits: Dense(k) without activation, `BinaryCrossentropy(from_logits=True)`.
- probs: Dense(k, sigmoid), trained on Keras's own `binary_crossentropy` *probability branch*
  (clip to [1e-7, 1-1e-7], then log). Keras would not take that branch by itself: a sigmoid's
  output carries its input (`_keras_logits`), and inside a traced train step a tensor made by a
  `Sigmoid` op is recognised too, so a plain `BinaryCrossentropy()` quietly trains on the
  logits. The loss here hands Keras `tf.identity(p)`, which is neither, and the script checks
  that this takes the clipped branch (`probability_branch_check` in reference.json).
  What plain `BinaryCrossentropy()` does on the same sigmoid model is trained as a third run
  and recorded as `keras_default_bce` (its trajectory and how far it is from the other two).

Data: `--data DIR` reads MNIST IDX files like the Rust loader (every complete train-*/t10k-*
pair, raw or .gz, train first; pixels float32 byte/255). `--synthetic N` instead runs
`onnx-parity data --samples N --seed SEED` (the crate's embedded digits, exact k/255 pixels)
into a temporary folder and reads that, so a reference needs no download. The first `--train`
samples are the pool the order is drawn from (a seeded permutation, repeated if the steps need
more); the `--eval` samples after them are not used here but recorded for compare_tf.py.

Exit codes: 0 written; 2 bad arguments, missing or corrupt data, unwritable output (one line on
stderr); 1 a self-check failed.
"""

import argparse
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# Importing keras_models sets TF_DETERMINISTIC_OPS and quiets TF's C++ logs before TensorFlow
# is imported anywhere; its IDX reader and versions() are reused as they are.
from keras_models import DataError, binary_targets, configure_tf, find_idx, read_idx, versions

import numpy as np  # noqa: E402

CLASSES = 10
IDX_PAIRS = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)
# Keras Adam's defaults, as Python floats: Keras computes `1 - beta` in double precision and
# only then rounds to float32, which is part of what "Keras semantics" means.
ADAM_DEFAULTS = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
FORMULATIONS = ("logits", "probs")


class UsageError(Exception):
    """Something the user can fix: reported on one line, exit 2."""


# ---------------------------------------------------------------------------------------------
# data


def has_idx(folder: Path, stem: str) -> bool:
    return (folder / stem).is_file() or (folder / f"{stem}.gz").is_file()


def load_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every complete IDX pair in `folder`, train before t10k, as the Rust loader reads them.

    A pair with one half missing is an error, not silently skipped: the sample numbering (and
    so every index in indices.npy) would shift.
    """
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    images, labels, files = [], [], []
    for image_stem, label_stem in IDX_PAIRS:
        found = [has_idx(folder, image_stem), has_idx(folder, label_stem)]
        if not any(found):
            continue
        if not all(found):
            missing = label_stem if found[0] else image_stem
            raise DataError(f"{folder}: found one file of a pair but not {missing}[.gz]")
        image_path, label_path = find_idx(folder, image_stem), find_idx(folder, label_stem)
        x = read_idx(image_path, 0x00000803, 3)
        y = read_idx(label_path, 0x00000801, 1)
        if x.shape[0] != y.shape[0]:
            raise DataError(f"{image_path}: {x.shape[0]} images but {y.shape[0]} labels")
        if len(y) and y.max() > 9:
            raise DataError(f"{label_path}: label {y.max()} is not a digit")
        images.append(x.reshape(x.shape[0], -1))
        labels.append(y)
        files += [image_path.name, label_path.name]
    if not images:
        raise DataError(f"{folder}: no train-* or t10k-* IDX image/label pair")
    widths = {x.shape[1] for x in images}
    if len(widths) != 1:
        raise DataError(f"{folder}: the pairs have different image sizes {sorted(widths)}")
    # Same rounding as the Rust loader's `f32::from(byte) / 255.0`: one float32 division.
    x = np.concatenate(images).astype(np.float32) / np.float32(255.0)
    return x, np.concatenate(labels), files


def synthetic_data(bin_path: Path, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The crate's synthetic digits, written by `onnx-parity data` and read back as IDX."""
    with tempfile.TemporaryDirectory(prefix="tf-reference-data-") as tmp:
        cmd = [str(bin_path), "data", "--out", tmp, "--samples", str(samples), "--seed", str(seed)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise UsageError(f"--bin {bin_path}: cannot run it ({e}); build it with "
                             "`cargo build --release` or pass --bin") from e
        if done.returncode != 0:
            raise UsageError(f"`{shlex.join(cmd)}` exited {done.returncode}: "
                             f"{done.stderr.strip()}")
        x, labels, _ = load_idx_folder(Path(tmp))
    return x, labels


def pixels_sha256(x: np.ndarray, stream: np.ndarray, eval_rows: slice) -> str:
    """The Rust log's `data.pixels_sha256`: the training stream's pixels, then the eval set's,
    as little-endian float32. Equal hashes mean both sides trained on identical inputs."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x[stream], dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(x[eval_rows], dtype="<f4").tobytes())
    return h.hexdigest()


def sample_order(pool: int, count: int, seed: int) -> np.ndarray:
    """`count` indices into the first `pool` samples: seeded permutations, back to back, so
    every sample is used once before any is used twice (as epochs would)."""
    rng = np.random.default_rng(seed)
    parts, have = [], 0
    while have < count:
        parts.append(rng.permutation(pool))
        have += pool
    return np.concatenate(parts)[:count].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# weights files


def layer_name(i: int) -> str:
    """Keras's auto-names of the first Dense layers in a fresh session: dense, dense_1, ...
    Given explicitly, so the names do not depend on how many models this process built."""
    return "dense" if i == 0 else f"dense_{i}"


def model_weights(model) -> dict[str, np.ndarray]:
    return {f"{layer.name}/{w.name}": np.asarray(w.numpy(), dtype=np.float32)
            for layer in model.layers for w in layer.weights}


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez` layout (stored .npy members), but with a fixed timestamp, so the same arrays
    give the same bytes and a regenerated reference shows no spurious change."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                       member.getvalue())
    path.write_bytes(buf.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def set_weights_by_name(model, weights: dict[str, np.ndarray], source: str) -> None:
    """Loads `weights` into `model` by Keras name, refusing missing, extra or misshapen arrays
    (the same contract as the Rust `--init` reader)."""
    expected = {f"{layer.name}/{w.name}": w for layer in model.layers for w in layer.weights}
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise UsageError(f"{source}: arrays do not match the model (missing {missing}, "
                         f"extra {extra})")
    for name, variable in expected.items():
        array = weights[name]
        if array.dtype != np.float32 or tuple(array.shape) != tuple(variable.shape):
            raise UsageError(f"{source}: {name} is {array.dtype} {list(array.shape)}, the model "
                             f"needs float32 {list(variable.shape)}")
        variable.assign(array)


# ---------------------------------------------------------------------------------------------
# models and losses


def build_mlp(features: int, hidden: list[int], head: str | None, name: str,
              outputs: int = CLASSES):
    """Dense(h, relu) for each hidden width, then Dense(outputs) with `head` as its activation."""
    import keras

    x = keras.Input((features,), name="input")
    h = x
    for i, width in enumerate(hidden):
        h = keras.layers.Dense(width, activation="relu", name=layer_name(i))(h)
    y = keras.layers.Dense(outputs, activation=head, name=layer_name(len(hidden)))(h)
    return keras.Model(x, y, name=name)


def image_side(features: int) -> int:
    """The side of a square one-channel image of `features` pixels (28 for MNIST's 784)."""
    side = int(round(features ** 0.5))
    if side * side != features:
        raise DataError(f"{features} pixels per sample are not a square image")
    return side


def build_cnn(features: int, filters: int, head: str | None, name: str, outputs: int = CLASSES):
    """The crate's CNN: Input(side, side, 1) -> Conv2D(filters, 3, relu) -> MaxPooling2D(2) ->
    Flatten -> Dense(outputs) with `head`, named as the Rust weights files name them."""
    import keras

    side = image_side(features)
    x = keras.Input((side, side, 1), name="input")
    h = keras.layers.Conv2D(filters, 3, activation="relu", name="conv2d")(x)
    h = keras.layers.MaxPooling2D(2, name="max_pooling2d")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    y = keras.layers.Dense(outputs, activation=head, name="dense")(h)
    return keras.Model(x, y, name=name)


def build_model(arch: dict, features: int, head: str | None, name: str, outputs: int):
    """The model `arch` describes (`{"kind": "mlp", "hidden": [...]}` or `{"kind": "cnn",
    "filters": N}`, as reference.json records it)."""
    if arch["kind"] == "cnn":
        return build_cnn(features, arch["filters"], head, name, outputs)
    return build_mlp(features, arch["hidden"], head, name, outputs)


def model_inputs(arch: dict, x: np.ndarray) -> np.ndarray:
    """Rows of pixels as the model takes them: as they are, or NHWC images for the CNN."""
    if arch["kind"] == "cnn":
        side = image_side(x.shape[1])
        return x.reshape(-1, side, side, 1)
    return x


def head_layer(arch: dict) -> str:
    """Name of the last Dense layer."""
    return "dense" if arch["kind"] == "cnn" else layer_name(len(arch["hidden"]))


def read_targets(path: Path, rows: int) -> np.ndarray:
    """`--targets`: float32 [rows, k] of exactly 0 and 1, checked as the Rust reader checks it."""
    try:
        t = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--targets {path}: not a readable .npy file ({e})") from e
    if t.dtype != np.float32 or t.ndim != 2 or t.shape[1] < 1:
        raise UsageError(f"--targets {path}: expected float32 [samples, targets], found "
                         f"{t.dtype} {list(t.shape)}")
    if t.shape[0] != rows:
        raise UsageError(f"--targets {path}: has {t.shape[0]} rows but the data has {rows} "
                         "samples")
    bad = np.argwhere((t != 0) & (t != 1))
    if len(bad):
        r, c = bad[0]
        raise UsageError(f"--targets {path}: value {t[r, c]} at row {r}, column {c} is not 0 "
                         "or 1")
    return t


def targets_sha256(t: np.ndarray) -> str:
    """The Rust log's `data.targets.sha256`: the whole [n, k] array as little-endian float32."""
    return hashlib.sha256(np.ascontiguousarray(t, dtype="<f4").tobytes()).hexdigest()


def probability_form_bce(y_true, y_pred):
    """Keras's `binary_crossentropy`, forced onto its probability branch.

    `tf.identity` makes a new tensor that carries no `_keras_logits` and is not the output of
    a `Sigmoid` op, the two things Keras looks for before swapping in the logits. What remains
    is Keras's own code: clip to [epsilon, 1 - epsilon], `-(y log p + (1-y) log(1-p))`, mean
    over the last axis; compile() adds the batch mean.
    """
    import keras
    import tensorflow as tf

    return keras.losses.binary_crossentropy(y_true, tf.identity(y_pred))


def probability_branch_check() -> dict:
    """Proves on one saturated element which branch each loss takes, eagerly and traced.

    Logit -40 with target 1: the logits form gives 40, the clipped probability form
    -ln(float32(1e-7)) ~ 16.118. A second element (logit 0, target 0) gives ln 2 to both.
    """
    import keras
    import tensorflow as tf

    z = tf.constant([[-40.0, 0.0]], dtype=tf.float32)
    y = tf.constant([[1.0, 0.0]], dtype=tf.float32)

    def losses(z):
        p = keras.activations.sigmoid(z)
        return probability_form_bce(y, p)[0], keras.losses.binary_crossentropy(y, p)[0]

    eps = np.float64(np.float32(1e-7))
    expected_probs = (-np.log(eps) + np.log(2.0)) / 2
    expected_logits = (40.0 + np.log(2.0)) / 2
    result = {"logit": -40.0, "target": 1.0,
              "expected_probability_branch": float(expected_probs),
              "expected_logits_branch": float(expected_logits)}
    for mode, fn in (("eager", losses), ("traced", tf.function(losses))):
        ours, plain = (float(v) for v in fn(z))
        result[mode] = {"probability_form_bce": ours, "plain_binary_crossentropy": plain}
    ok = all(abs(result[m]["probability_form_bce"] - expected_probs) < 1e-4
             and abs(result[m]["plain_binary_crossentropy"] - expected_logits) < 1e-4
             for m in ("eager", "traced"))
    result["ok"] = ok
    return result


def make_optimizer(kind: str, lr: float):
    import keras

    if kind == "sgd":
        return keras.optimizers.SGD(learning_rate=lr)  # momentum 0: w -= lr * g
    return keras.optimizers.Adam(learning_rate=lr, **ADAM_DEFAULTS)


def describe_optimizer(kind: str, lr: float) -> dict:
    if kind == "sgd":
        return {"kind": "sgd", "lr": lr, "momentum": 0.0}
    return {"kind": "adam", "lr": lr, **ADAM_DEFAULTS, "amsgrad": False}


RUNS = {
    # name: (head activation, loss factory, accuracy threshold, what it is)
    "logits": (None, lambda keras: keras.losses.BinaryCrossentropy(from_logits=True), 0.0,
               "Dense head without activation; keras.losses.BinaryCrossentropy(from_logits=True)"
               " (tf.nn.sigmoid_cross_entropy_with_logits)"),
    "probs": ("sigmoid", lambda keras: probability_form_bce, 0.5,
              "Dense head with sigmoid; keras.losses.binary_crossentropy on tf.identity(p): "
              "Keras's probability branch, clip(p, 1e-7, 1-1e-7) then log"),
    "keras_default_bce": ("sigmoid", lambda keras: keras.losses.BinaryCrossentropy(), 0.5,
                          "Dense head with sigmoid; plain keras.losses.BinaryCrossentropy(), "
                          "which Keras computes from the sigmoid's input (_keras_logits), i.e. "
                          "the logits form"),
}


def train_run(name: str, arch: dict, features: int, init: dict, x: np.ndarray,
              y: np.ndarray, order: np.ndarray, args) -> tuple[list[dict], dict]:
    """One formulation: fresh model and optimizer from `init`, `train_on_batch` per step."""
    import keras

    head, loss, threshold, _ = RUNS[name]
    model = build_model(arch, features, head, f"{arch['kind']}_{name}", y.shape[1])
    set_weights_by_name(model, init, "init.npz")
    # BinaryAccuracy counts `y_pred > threshold` (strict), like the Rust side's
    # `sigmoid(z) > 0.5`; on logits the same decision is `z > 0`.
    model.compile(optimizer=make_optimizer(args.optimizer, args.lr), loss=loss(keras),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=threshold)],
                  jit_compile=False)
    steps = []
    for step in range(args.steps):
        batch = order[step * args.batch:(step + 1) * args.batch]
        logs = model.train_on_batch(model_inputs(arch, x[batch]), y[batch], return_dict=True)
        steps.append({"step": step, "loss": float(logs["loss"]),
                      "binary_accuracy": float(logs["binary_accuracy"])})
    return steps, model_weights(model)


# ---------------------------------------------------------------------------------------------
# main


def parse_hidden(text: str) -> list[int]:
    try:
        widths = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"every width must be at least 1, got {text!r}")
    return widths


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="folder with MNIST IDX files (train-*/t10k-*)")
    src.add_argument("--synthetic", type=int, metavar="N",
                     help="use N samples of `onnx-parity data --seed SEED` instead")
    p.add_argument("--out", type=Path, required=True, help="folder to write the reference into")
    p.add_argument("--train", type=int, default=8000,
                   help="pool size: the order is drawn from the first N samples (default 8000)")
    p.add_argument("--eval", type=int, default=2000,
                   help="held-out samples after the pool, for compare_tf.py (default 2000)")
    p.add_argument("--steps", type=int, default=20, help="training steps (default 20)")
    p.add_argument("--batch", type=int, default=100, help="samples per step (default 100)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    p.add_argument("--lr", type=float, help="learning rate (default 0.001 adam, 0.1 sgd)")
    p.add_argument("--arch", choices=("mlp", "cnn"), default="mlp",
                   help="the MLP (--hidden) or the CNN (--filters); default mlp")
    p.add_argument("--hidden", type=parse_hidden, default=None,
                   help="hidden widths of the MLP, comma-separated (default 128)")
    p.add_argument("--filters", type=int, default=None,
                   help="filters of the CNN's convolution (default 8)")
    p.add_argument("--targets", type=Path,
                   help="binary targets, float32 [samples, k] .npy in file order (default: the "
                        "digits one-hot)")
    p.add_argument("--seed", type=int, default=42,
                   help="Keras seed of the initial weights, seed of the order and of the "
                        "synthetic data (default 42)")
    p.add_argument("--head-scale", type=float, default=1.0, metavar="K",
                   help="multiply the initial head kernel by K: a saturated start (default 1)")
    p.add_argument("--bin", type=Path, default=Path("target/release/onnx-parity"),
                   help="onnx-parity binary, for --synthetic (default target/release/onnx-parity)")
    args = p.parse_args(argv)
    if args.lr is None:
        args.lr = 0.1 if args.optimizer == "sgd" else 1e-3
    for flag in ("train", "eval", "steps", "batch"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag} must be at least 1")
    if not (np.isfinite(args.lr) and args.lr > 0):
        p.error("--lr must be a finite number above 0")
    if not (np.isfinite(args.head_scale) and args.head_scale > 0):
        p.error("--head-scale must be a finite number above 0")
    if args.arch == "cnn":
        if args.hidden is not None:
            p.error("--hidden applies to --arch mlp only")
        args.filters = 8 if args.filters is None else args.filters
        if args.filters < 1:
            p.error("--filters must be at least 1")
    else:
        if args.filters is not None:
            p.error("--filters applies to --arch cnn only")
        args.hidden = [128] if args.hidden is None else args.hidden
    if args.synthetic is not None and args.synthetic < args.train + args.eval:
        p.error(f"--synthetic {args.synthetic} is fewer than --train + --eval "
                f"({args.train + args.eval})")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        if args.data is not None:
            x, labels, files = load_idx_folder(args.data)
            data = {"source": "mnist", "files": files, "samples": len(x)}
        else:
            x, labels = synthetic_data(args.bin, args.synthetic, args.seed)
            data = {"source": "synthetic", "samples": len(x), "seed": args.seed,
                    "made_by": f"onnx-parity data --samples {args.synthetic} "
                               f"--seed {args.seed}"}
        if len(x) < args.train + args.eval:
            raise DataError(f"{len(x)} samples, --train {args.train} + --eval {args.eval} "
                            "need more")
        arch = ({"kind": "cnn", "filters": args.filters} if args.arch == "cnn"
                else {"kind": "mlp", "hidden": args.hidden})
        if arch["kind"] == "cnn":
            image_side(x.shape[1])
        y = binary_targets(labels) if args.targets is None else read_targets(args.targets, len(x))
    except (OSError, DataError, UsageError) as e:
        print(f"error: reading the data: {e}", file=sys.stderr)
        return 2

    configure_tf()
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    check = probability_branch_check()
    if not check["ok"]:
        print(f"error: the probability-form loss did not take Keras's clipped branch: {check}",
              file=sys.stderr)
        return 1

    features = x.shape[1]
    order = sample_order(args.train, args.steps * args.batch, args.seed)
    eval_rows = slice(args.train, args.train + args.eval)
    keras.utils.set_random_seed(args.seed)
    init = model_weights(build_model(arch, features, None, f"{arch['kind']}_init", y.shape[1]))
    head_kernel = f"{head_layer(arch)}/kernel"
    # A saturated start: same decisions, logits K times larger, so the probability form clips
    # from the first steps on and the two formulations visibly part ways.
    init[head_kernel] = init[head_kernel] * np.float32(args.head_scale)

    results, finals = {}, {}
    for name in RUNS:
        results[name], finals[name] = train_run(name, arch, features, init, x, y, order, args)

    def max_diff(a: str, b: str) -> dict:
        return {
            "max_step_loss_diff": max(abs(s["loss"] - t["loss"])
                                      for s, t in zip(results[a], results[b])),
            "max_final_weight_diff": max(float(np.abs(finals[a][k] - finals[b][k]).max())
                                         for k in finals[a]),
        }

    command = shlex.join(["python", "scripts/tf_reference.py", *argv])
    reference = {
        "tool": "scripts/tf_reference.py",
        "command": command,
        "config": {
            "data": {**data, "features": features,
                     "pixels_sha256": pixels_sha256(x, order, eval_rows)},
            "train": args.train,
            "eval": args.eval,
            "steps": args.steps,
            "batch": args.batch,
            "arch": arch,
            "outputs": int(y.shape[1]),
            **({"hidden": args.hidden} if arch["kind"] == "mlp" else {}),
            "seed": args.seed,
            "optimizer": describe_optimizer(args.optimizer, args.lr),
            "init": {"kind": "keras glorot_uniform kernels, zero biases (keras seed)",
                     "head_kernel_scale": args.head_scale,
                     "file": "init.npz",
                     "sha256": None},
            "indices": {"file": "indices.npy", "length": len(order),
                        "kind": "seeded numpy permutations of the first `train` samples"},
            "targets": None if args.targets is None else {
                "file": "targets.npy", "columns": int(y.shape[1]),
                "sha256": targets_sha256(y)},
        },
        "keras": {
            "loop": "train_on_batch per step (metrics reset each call), no shuffle, "
                    "jit_compile=False",
            "threads": {"intra_op": 1, "inter_op": 1},
            "op_determinism": True,
            "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
            "binary_accuracy": "keras.metrics.BinaryAccuracy: y_pred > threshold (strict), "
                               "threshold 0.0 on logits, 0.5 on probabilities",
        },
        "formulations": {
            name: {"model": RUNS[name][3], "final_weights": f"final-{name}.npz",
                   "steps": results[name]}
            for name in FORMULATIONS
        },
        "keras_default_bce": {
            "model": RUNS["keras_default_bce"][3],
            "steps": results["keras_default_bce"],
            "vs_logits": max_diff("keras_default_bce", "logits"),
            "vs_probs": max_diff("keras_default_bce", "probs"),
        },
        "logits_vs_probs": max_diff("logits", "probs"),
        "probability_branch_check": check,
        "versions": versions(),
    }

    try:
        args.out.mkdir(parents=True, exist_ok=True)
        write_npz(args.out / "init.npz", init)
        reference["config"]["init"]["sha256"] = hashlib.sha256(
            (args.out / "init.npz").read_bytes()).hexdigest()
        np.save(args.out / "indices.npy", order)
        if args.targets is not None:
            np.save(args.out / "targets.npy", y)
        for name in FORMULATIONS:
            write_npz(args.out / f"final-{name}.npz", finals[name])
        (args.out / "reference.json").write_text(json.dumps(reference, indent=2) + "\n")
    except OSError as e:
        print(f"error: writing under --out {args.out}: {e}", file=sys.stderr)
        return 2

    for name in (*FORMULATIONS, "keras_default_bce"):
        s = results[name]
        print(f"{name:>17}: step 0 loss {s[0]['loss']:.9g}, step {len(s) - 1} loss "
              f"{s[-1]['loss']:.9g}, binary accuracy {s[-1]['binary_accuracy']:.6g}")
    d = reference["keras_default_bce"]
    print(f"plain BinaryCrossentropy() on the sigmoid model vs logits run: max step loss diff "
          f"{d['vs_logits']['max_step_loss_diff']:.3g}, final weights "
          f"{d['vs_logits']['max_final_weight_diff']:.3g}")
    targets = ",targets.npy" if args.targets is not None else ""
    print(f"wrote {args.out}/{{init.npz,indices.npy{targets},final-logits.npz,final-probs.npz,"
          "reference.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
