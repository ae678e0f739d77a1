#!/usr/bin/env python3
"""Load weights saved by onnx-parity (Keras layout .npz) into a Keras MLP or CNN and export it with
tf2onnx.

Usage: keras_from_weights.py WEIGHTS.npz --head sigmoid|logits --inputs INPUT_0.pb --out DIR

Why: to see whether two exporters compute the same thing, give them the very same weights. The
Rust side exports with its own protobuf code (`onnx-parity export` or `train --out`); this script
builds the same network in Keras (`Dense` layers named `dense`, `dense_1`, ... with relu between
and the chosen head; or, for a file holding `conv2d/kernel` [3, 3, in, filters], the CNN
Conv2D(relu) -> MaxPooling2D(2) -> Flatten -> Dense on NHWC images), sets the weights from the
file, exports through Keras 3's own ONNX path
(`model.export(format="onnx")`, tf2onnx underneath) and writes TensorFlow's outputs on the given
inputs in the ONNX backend-test layout:

    DIR/model.onnx
    DIR/test_data_set_0/input_0.pb     the given inputs, renamed to the graph's input name
    DIR/test_data_set_0/output_0.pb    TensorFlow's outputs, named like the graph output

Then `onnx-parity compare OURS.onnx DIR/model.onnx --layers` pairs the layers by structure.

Exit codes: 0 written, 2 unreadable or inconsistent weights or inputs (one line on stderr).
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np  # noqa: E402

OPSET = 17  # what the Rust exporter writes


class InputError(Exception):
    """The weights or inputs file is missing, unreadable or does not fit."""


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        return dict(np.load(path))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable .npz file: {e}") from e


def read_cnn(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The CNN's four arrays, checked as the Rust reader checks them."""
    names = ("conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias")
    missing = [n for n in names if n not in arrays]
    extra = sorted(set(arrays) - set(names))
    if missing or extra:
        raise InputError(f"{path}: a CNN needs exactly {', '.join(names)} (missing {missing}, "
                         f"unexpected {extra})")
    if any(arrays[n].dtype != np.float32 for n in names):
        raise InputError(f"{path}: the CNN's arrays must be float32")
    k, kb, d, db = (arrays[n] for n in names)
    if k.ndim != 4 or k.shape[:2] != (3, 3) or kb.shape != (k.shape[3],):
        raise InputError(f"{path}: conv2d/kernel {k.shape}, conv2d/bias {kb.shape}: expected "
                         "[3, 3, in, filters] and [filters]")
    side = int(round((d.shape[0] / k.shape[3]) ** 0.5)) if d.ndim == 2 else 0
    if d.ndim != 2 or side * side * k.shape[3] != d.shape[0] or db.shape != (d.shape[1],):
        raise InputError(f"{path}: dense/kernel {d.shape}, dense/bias {db.shape}: expected "
                         "[side*side*filters, out] and [out]")
    return {n: arrays[n] for n in names}


def read_weights(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Kernels and biases in layer order, checked as the Rust reader checks them."""
    arrays = read_arrays(path)
    layers, used = [], set()
    while True:
        name = "dense" if not layers else f"dense_{len(layers)}"
        k, b = f"{name}/kernel", f"{name}/bias"
        if k not in arrays and b not in arrays:
            break
        if k not in arrays or b not in arrays:
            raise InputError(f"{path}: {k if k not in arrays else b} is missing")
        kernel, bias = arrays[k], arrays[b]
        if kernel.dtype != np.float32 or bias.dtype != np.float32:
            raise InputError(f"{path}: {name} arrays must be float32")
        if kernel.ndim != 2 or bias.shape != (kernel.shape[1],):
            raise InputError(f"{path}: {name} has kernel {kernel.shape} and bias {bias.shape}")
        if layers and layers[-1][0].shape[1] != kernel.shape[0]:
            raise InputError(f"{path}: {k} does not chain with the previous layer")
        layers.append((kernel, bias))
        used |= {k, b}
    extra = sorted(set(arrays) - used)
    if not layers or extra:
        raise InputError(f"{path}: expected dense/kernel, dense/bias, ...; unexpected: {extra}")
    return layers


def build_cnn(arrays: dict[str, np.ndarray], head: str):
    """The CNN with the Rust names, on square NHWC images (28x28 for a 13x13 pooled map)."""
    import keras

    kernel, dense = arrays["conv2d/kernel"], arrays["dense/kernel"]
    filters = kernel.shape[3]
    side = 2 * int(round((dense.shape[0] / filters) ** 0.5)) + 2
    x = keras.Input((side, side, kernel.shape[2]), name="input")
    h = keras.layers.Conv2D(filters, 3, activation="relu", name="conv2d")(x)
    h = keras.layers.MaxPooling2D(2, name="max_pooling2d")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    y = keras.layers.Dense(dense.shape[1], activation="sigmoid" if head == "sigmoid" else None,
                           name="dense")(h)
    model = keras.Model(x, y, name=f"cnn_{head}")
    model.get_layer("conv2d").set_weights([kernel, arrays["conv2d/bias"]])
    model.get_layer("dense").set_weights([dense, arrays["dense/bias"]])
    return model


def build(layers, head: str):
    """The MLP with Keras's own default layer names, so its weight paths match the file's."""
    import keras

    x = keras.Input((layers[0][0].shape[0],), name="input")
    h = x
    for i, (kernel, _) in enumerate(layers):
        last = i == len(layers) - 1
        activation = ("sigmoid" if head == "sigmoid" else None) if last else "relu"
        name = "dense" if i == 0 else f"dense_{i}"
        h = keras.layers.Dense(kernel.shape[1], activation=activation, name=name)(h)
    model = keras.Model(x, h, name=f"mlp_{head}")
    for i, (kernel, bias) in enumerate(layers):
        model.layers[i + 1].set_weights([kernel, bias])
    return model


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path)
    p.add_argument("--head", choices=["sigmoid", "logits"], required=True)
    p.add_argument("--inputs", type=Path, required=True, help="input_0.pb (TensorProto)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        arrays = read_arrays(args.weights)
        cnn = "conv2d/kernel" in arrays
        if cnn:
            cnn_arrays = read_cnn(args.weights, arrays)
            k = cnn_arrays["conv2d/kernel"]
            side = 2 * int(round((cnn_arrays["dense/kernel"].shape[0] / k.shape[3]) ** 0.5)) + 2
            want = [side, side, k.shape[2]]
        else:
            layers = read_weights(args.weights)
            want = [layers[0][0].shape[0]]
        import onnx
        from onnx import numpy_helper

        try:
            x = numpy_helper.to_array(onnx.load_tensor(str(args.inputs)))
        except Exception as e:  # onnx raises several types for a bad file
            raise InputError(f"{args.inputs}: not a serialized TensorProto: {e}") from e
        if x.dtype != np.float32 or list(x.shape[1:]) != want:
            raise InputError(f"{args.inputs}: expected float32 [n, {', '.join(map(str, want))}], "
                             f"got {x.dtype} {list(x.shape)}")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = build_cnn(cnn_arrays, args.head) if cnn else build(layers, args.head)
    y = model.predict(x, verbose=0)
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "model.onnx"
    model.export(str(onnx_path), format="onnx", verbose=False, opset_version=OPSET)
    graph = onnx.load(str(onnx_path)).graph
    sets = args.out / "test_data_set_0"
    sets.mkdir(exist_ok=True)
    (sets / "input_0.pb").write_bytes(
        numpy_helper.from_array(x, name=graph.input[0].name).SerializeToString())
    (sets / "output_0.pb").write_bytes(
        numpy_helper.from_array(y.astype(np.float32), name=graph.output[0].name).SerializeToString())
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes) and TensorFlow's outputs on "
          f"{x.shape[0]} samples; graph ops: {', '.join(n.op_type for n in graph.node)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
