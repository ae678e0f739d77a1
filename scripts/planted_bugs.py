#!/usr/bin/env python3
"""Make the planted-bug corpus: copies of committed models with one known change each.

Usage: planted_bugs.py [--out DIR]      (default tests/data/planted, from the repository root)

Why: `onnx-parity compare --layers` claims to name the layer that *causes* a divergence and to
tell float32 rounding from a real bug; `onnx-parity reduce` claims to cut a small failing case.
A claim like that is only worth what it is tested on, so this script plants bugs whose place
we know, and rounding-only changes that must never be called a bug, into the committed models:

- bugs: a nudged Dense weight, a nudged Conv weight, Relu -> LeakyRelu, Sigmoid -> HardSigmoid,
  MaxPool -> AveragePool, a changed scale (Gemm alpha), a transposed square (3x3) Conv kernel;
- rounding only: one Dense computed in float64 and cast back, a reordered reduction (the input
  features and the kernel rows permuted together, so the 784-term sums add in another order);
- precision: one Dense computed in float16 and cast back, beyond the tolerance but within
  float16 rounding (a failing verdict with no first cause).

Our export against the tf2onnx export of the same weights (`models/keras-from-rust-mlp`) is the
third rounding-only case; it needs no file here.

Every variant is `DIR/NAME/model.onnx`; `DIR/keras-cnn-50` holds the first 50 of the CNN's
reference samples (inputs and TensorFlow's outputs), which its variants run on; `DIR/cases.json` lists each with its base model (the
reference side B), the test data to run it on, what was changed, and the expected first cause:
the index in the variant's layer sequence and the reason (`beyond_rounding` or `op_replaced`),
or null for a rounding-only or precision case. `tests/planted.rs` runs `compare` and `reduce` on every case
through the real binary. The files are committed so that `cargo test` needs no Python; rerun
this script when a base model changes. Same inputs give the same bytes.

Needs onnx and numpy (scripts/requirements.txt). Exit 0 written, 2 a base model is missing.
"""

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MLP = "models/mnist-mlp/probs/model.onnx"
MLP_DATA = "models/mnist-mlp/probs/test_data_set_0"
CNN = "models/keras-cnn/model.onnx"
CNN_FULL_DATA = "models/keras-cnn/test_data_set_0"
# The CNN's first 50 reference samples (its 500 make a debug-build test run 10x longer).
CNN_SAMPLES = 50
CNN_DATA_NAME = "keras-cnn-50/test_data_set_0"
CNN_CONV = "cnn_sigmoid_1/conv_1/BiasAdd"
CNN_KERNEL = "cnn_sigmoid_1/conv_1/convolution/ReadVariableOp:0"
CNN_POOL = "cnn_sigmoid_1/pool_1/MaxPool2d"


def node(graph, name):
    return next(n for n in graph.node if n.name == name)


def init(graph, name):
    return next(t for t in graph.initializer if t.name == name)


def set_init(graph, name, array):
    t = init(graph, name)
    t.CopyFrom(numpy_helper.from_array(array, name))


def busiest_pixel(data_dir):
    """The input feature with the largest mean over the reference inputs, so that a nudge of
    its weight shows on every sample that lights it."""
    x = numpy_helper.to_array(onnx.load_tensor(str(Path(data_dir) / "input_0.pb")))
    return int(np.argmax(x.reshape(x.shape[0], -1).mean(axis=0)))


def dense_nudged(m):
    g = m.graph
    k = numpy_helper.to_array(init(g, "dense/kernel")).copy()
    pixel = busiest_pixel(MLP_DATA)
    k[pixel, 7] += np.float32(0.01)
    set_init(g, "dense/kernel", k)
    return f"dense/kernel[{pixel}, 7] += 0.01"


def conv_nudged(m):
    g = m.graph
    w = numpy_helper.to_array(init(g, CNN_KERNEL)).copy()
    w[3, 0, 1, 1] += np.float32(0.01)
    set_init(g, CNN_KERNEL, w)
    return "conv kernel [3, 0, 1, 1] += 0.01"


def relu_leaky(m):
    n = node(m.graph, "dense/Relu")
    n.op_type = "LeakyRelu"
    n.attribute.append(helper.make_attribute("alpha", 0.01))
    return "dense/Relu -> LeakyRelu(alpha 0.01)"


def sigmoid_hard(m):
    n = node(m.graph, "head/Sigmoid")
    n.op_type = "HardSigmoid"
    return "head/Sigmoid -> HardSigmoid (alpha 0.2, beta 0.5)"


def maxpool_average(m):
    n = node(m.graph, CNN_POOL)
    n.op_type = "AveragePool"
    return "MaxPool 2x2 -> AveragePool 2x2 (same attributes)"


def gemm_scale(m):
    n = node(m.graph, "dense_1/Gemm")
    n.attribute.append(helper.make_attribute("alpha", 1.01))
    return "dense_1/Gemm alpha 1 -> 1.01"


def kernel_transposed(m):
    g = m.graph
    w = numpy_helper.to_array(init(g, CNN_KERNEL))
    set_init(g, CNN_KERNEL, np.ascontiguousarray(w.transpose(0, 1, 3, 2)))
    return "conv 3x3 kernel transposed (kh <-> kw)"


def dense_in(m, np_type, onnx_type, suffix):
    """input -> Cast(type) -> MatMul, Add on weights of that type -> Cast(FLOAT) -> dense/linear.

    MatMul + Add rather than Gemm: tract 0.23 cannot optimize a float64 Gemm with a bias (its
    constant folding builds the beta scale as float32)."""
    g = m.graph
    gemm = node(g, "dense/Gemm")
    i = list(g.node).index(gemm)
    for name in ["dense/kernel", "dense/bias"]:
        t = init(g, name)
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np_type), name))
    nodes = list(g.node)
    nodes[i : i + 1] = [
        helper.make_node(
            "Cast", ["input"], [f"input/{suffix}"], name="dense/CastIn", to=onnx_type
        ),
        helper.make_node(
            "MatMul", [f"input/{suffix}", "dense/kernel"], [f"dense/matmul/{suffix}"],
            name="dense/MatMul",
        ),
        helper.make_node(
            "Add", [f"dense/matmul/{suffix}", "dense/bias"], [f"dense/linear/{suffix}"],
            name="dense/BiasAdd",
        ),
        helper.make_node(
            "Cast", [f"dense/linear/{suffix}"], ["dense/linear"], name="dense/CastOut",
            to=TensorProto.FLOAT,
        ),
    ]
    del g.node[:]
    g.node.extend(nodes)


def dense_float64(m):
    dense_in(m, np.float64, TensorProto.DOUBLE, "f64")
    return "dense/Gemm computed in float64 (Cast in, MatMul + Add on float64 weights, Cast back)"


def dense_float16(m):
    dense_in(m, np.float16, TensorProto.FLOAT16, "f16")
    return "dense/Gemm computed in float16 (Cast in, MatMul + Add on float16 weights, Cast back)"


def dense_reordered(m):
    """The 784 input features and the kernel's rows permuted together (reversed): the same sum,
    added in the opposite order."""
    g = m.graph
    k = numpy_helper.to_array(init(g, "dense/kernel"))
    n = k.shape[0]
    perm = np.arange(n - 1, -1, -1, dtype=np.int64)
    set_init(g, "dense/kernel", np.ascontiguousarray(k[perm]))
    g.initializer.append(numpy_helper.from_array(perm, "dense/feature_order"))
    gemm = node(g, "dense/Gemm")
    i = list(g.node).index(gemm)
    gemm.input[0] = "input/reordered"
    gather = helper.make_node(
        "Gather", ["input", "dense/feature_order"], ["input/reordered"],
        name="dense/Reorder", axis=1,
    )
    nodes = list(g.node)
    nodes.insert(i, gather)
    del g.node[:]
    g.node.extend(nodes)
    return "dense/Gemm sums its 784 terms in reverse order (features and kernel rows permuted)"


# name, base, test data (None: the CNN's small set), change, expected first cause (A's layer
# index, A's kind, reason)
CASES = [
    ("dense-weight-nudged", MLP, MLP_DATA, dense_nudged, (0, "Dense", "beyond_rounding")),
    ("conv-weight-nudged", CNN, None, conv_nudged, (0, "Conv", "beyond_rounding")),
    ("relu-to-leakyrelu", MLP, MLP_DATA, relu_leaky, (1, "LeakyRelu", "op_replaced")),
    ("sigmoid-to-hardsigmoid", MLP, MLP_DATA, sigmoid_hard, (3, "HardSigmoid", "op_replaced")),
    ("maxpool-to-averagepool", CNN, None, maxpool_average, (2, "AveragePool", "op_replaced")),
    ("gemm-scale-changed", MLP, MLP_DATA, gemm_scale, (2, "Dense", "beyond_rounding")),
    ("conv-kernel-transposed", CNN, None, kernel_transposed, (0, "Conv", "beyond_rounding")),
    ("dense-float64", MLP, MLP_DATA, dense_float64, None),
    ("dense-reordered-sum", MLP, MLP_DATA, dense_reordered, None),
    # float16 loses more than the tolerance allows, but only by float16 rounding: a failing
    # verdict with no first cause.
    ("dense-float16", MLP, MLP_DATA, dense_float16, "precision"),
]

# Rounding-only pairs that need no new file: (name, A, B, test data, what differs).
EXISTING = [
    (
        "ours-vs-tf2onnx",
        MLP,
        "models/keras-from-rust-mlp/model.onnx",
        MLP_DATA,
        "our export against the tf2onnx export of the same weights",
    ),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--out", default="tests/data/planted", help="where the corpus goes")
    args = p.parse_args()
    out = Path(args.out)
    cnn_data = out / CNN_DATA_NAME
    cnn_data.mkdir(parents=True, exist_ok=True)
    for f in ["input_0.pb", "output_0.pb"]:
        t = onnx.load_tensor(str(Path(CNN_FULL_DATA) / f))
        a = numpy_helper.to_array(t)[:CNN_SAMPLES]
        onnx.save_tensor(numpy_helper.from_array(a, t.name), str(cnn_data / f))
    listed = []
    for name, base, data, change, cause in CASES:
        data = data or cnn_data.as_posix()
        if not Path(base).is_file():
            print(f"error: {base}: missing (run from the repository root)", file=sys.stderr)
            return 2
        m = copy.deepcopy(onnx.load(base))
        what = change(m)
        m.producer_name = "planted_bugs.py"
        onnx.checker.check_model(m, full_check=True)
        (out / name).mkdir(parents=True, exist_ok=True)
        onnx.save(m, str(out / name / "model.onnx"))
        listed.append(
            {
                "name": name,
                "a": f"{out.as_posix()}/{name}/model.onnx",
                "b": base,
                "test_data": data,
                "change": what,
                "kind": cause if isinstance(cause, str) else "bug" if cause else "rounding",
                "first_cause": None
                if cause is None or isinstance(cause, str)
                else {"index": cause[0], "kind": cause[1], "reason": cause[2]},
            }
        )
    for name, a, b, data, what in EXISTING:
        listed.append(
            {
                "name": name,
                "a": a,
                "b": b,
                "test_data": data,
                "change": what,
                "kind": "rounding",
                "first_cause": None,
            }
        )
    doc = {
        "made_by": "python scripts/planted_bugs.py" + ("" if args.out == p.get_default("out") else f" --out {args.out}"),
        "cases": listed,
    }
    (out / "cases.json").write_text(json.dumps(doc, indent=2) + "\n")
    for c in listed:
        print(f"{c['name']:<24} {c['kind']:<8} {c['change']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
