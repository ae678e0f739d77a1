#!/usr/bin/env python3
"""Train a multi-label scikit-learn MLP, export it with skl2onnx, and record what scikit-learn reports.

Usage: sklearn_models.py --data DIR [--out DIR] [--reference-samples N] [--seed N]

The third exporter family next to this crate's own exporter and Keras/tf2onnx: an
`MLPClassifier` on multi-label targets ends in a logistic (sigmoid) output trained on binary
log-loss, and skl2onnx is one of the most used ONNX exporters. Its exports carry two traits the
validator must handle: the `label` output is declared rank 1 but computed as `[N, k]`, and it is
computed by `Binarizer`, an `ai.onnx.ml` operator.

It writes OUT/sklearn-mlp/:

    model.onnx                      skl2onnx export (zipmap off, opset 17)
    test_data_set_0/input_0.pb      reference inputs, TensorProto named like the graph input
    test_data_set_0/output_0.pb     scikit-learn's `predict` on them (int64), named `label`
    test_data_set_0/output_1.pb     scikit-learn's `predict_proba` (float32), `probabilities`
    labels.npy                      their binary targets, float32 [n, 13]
    sklearn.json                    what scikit-learn reported, the config, versions, the command
    README.md                       the same, for people

Targets, 13 columns per image: the digit one-hot (10), then even, >= 5, prime (2, 3, 5, 7).

Data: the MNIST test set only (`t10k-*-idx*-ubyte[.gz]` in DIR), read as keras_models.py reads
it. The first 8000 images train; the reference samples are the ones after them (8000, 8001, ...),
never trained on.

Exit codes: 0 written, 2 missing or corrupt data or unwritable output (one line on stderr);
anything else (a failed export or check) is a traceback, exit 1.
"""

import argparse
import json
import platform
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np

from keras_models import DataError, load_mnist_test, write_tensor

TRAIN_SAMPLES = 8000
HELD_OUT_SAMPLES = 2000
OPSET = 17
ML_OPSET = 3
FOLDER = "sklearn-mlp"
COLUMNS = [*(f"digit_{d}" for d in range(10)), "even", "ge_5", "prime"]


def multilabel_targets(digits: np.ndarray) -> np.ndarray:
    """13 binary columns per digit: one-hot, even, >= 5, prime; int64 as scikit-learn takes them."""
    d = digits.astype(np.int64)
    onehot = np.eye(10, dtype=np.int64)[d]
    extra = np.stack([d % 2 == 0, d >= 5, np.isin(d, [2, 3, 5, 7])], axis=1).astype(np.int64)
    return np.concatenate([onehot, extra], axis=1)


def config(seed: int) -> dict:
    """Everything that decides the trained weights; saved in sklearn.json."""
    return {
        "estimator": "sklearn.neural_network.MLPClassifier",
        "hidden_layer_sizes": [64],
        "activation": "relu",
        "solver": "adam",
        "alpha": 1e-4,
        "batch_size": 100,
        "learning_rate_init": 1e-3,
        "max_iter": 8,
        "shuffle": True,
        "random_state": seed,
        # No early stop: exactly max_iter epochs, whatever the loss does.
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "train_indices": [0, TRAIN_SAMPLES],
        "input_dtype": "float32",
    }


def train(x: np.ndarray, y: np.ndarray, cfg: dict):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    keys = ("hidden_layer_sizes", "activation", "solver", "alpha", "batch_size",
            "learning_rate_init", "max_iter", "shuffle", "random_state", "tol",
            "n_iter_no_change")
    params = {k: cfg[k] for k in keys}
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    model = MLPClassifier(**params)
    lo, hi = cfg["train_indices"]
    with warnings.catch_warnings():
        # max_iter is reached on purpose: a fixed number of epochs.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[lo:hi], y[lo:hi])
    if model.out_activation_ != "logistic":
        raise RuntimeError(f"expected a logistic output, got {model.out_activation_}")
    return model


def sklearn_figures(model, x: np.ndarray, y: np.ndarray) -> dict:
    """The losses as scikit-learn computes them on the reference samples.

    - `binary_log_loss`: `sklearn.neural_network._base.binary_log_loss`, the data term of
      `loss_curve_` (the curve adds `alpha/2 * ||W||^2 / n` and averages over the epoch's
      batches while the weights move): clip at the machine epsilon of the probabilities' dtype,
      mean over samples, sum over the labels.
    - `mean_label_log_loss`: `sklearn.metrics.log_loss` of each column of `predict_proba`
      against its labels, averaged over the columns (mean over samples, then over labels).
    """
    from sklearn.metrics import log_loss
    from sklearn.neural_network._base import binary_log_loss

    proba = model.predict_proba(x)
    label = model.predict(x)
    per_label = [float(log_loss(y[:, j], proba[:, j], labels=[0, 1])) for j in range(y.shape[1])]
    eps = np.finfo(proba.dtype).eps
    clipped = (proba < eps) | (proba > 1 - eps)
    return {
        "binary_log_loss": float(binary_log_loss(y, proba)),
        "mean_label_log_loss": float(np.mean(per_label)),
        "per_label_log_loss": dict(zip(COLUMNS, per_label)),
        "clip_eps": float(eps),
        "clipped": int(clipped.sum()),
        # Saturated against the target: where the clip caps the loss (and runtimes that bound
        # their sigmoid differently disagree most).
        "clipped_wrong_side": int((clipped & ((proba > 0.5) != (y > 0.5))).sum()),
        "elements": int(proba.size),
        "binary_accuracy": float(np.mean(label == y)),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "n_iter": int(model.n_iter_),
        "predict_dtype": str(label.dtype),
        "predict_proba_dtype": str(proba.dtype),
        "_proba": proba,
        "_label": label,
    }


def export(model, sample: np.ndarray, path: Path) -> dict:
    """skl2onnx with `zipmap` off (plain tensors out) at opset 17, and what the graph holds."""
    import onnx
    from skl2onnx import to_onnx

    onx = to_onnx(model, sample[:1], options={id(model): {"zipmap": False}},
                  target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})
    path.write_bytes(onx.SerializeToString())

    def describe(v):
        dims = [d.dim_param or (d.dim_value if d.HasField("dim_value") else None)
                for d in v.type.tensor_type.shape.dim]
        return {"name": v.name, "elem_type": onnx.TensorProto.DataType.Name(
            v.type.tensor_type.elem_type), "dims": dims}

    g = onx.graph
    return {
        "inputs": [describe(v) for v in g.input],
        "outputs": [describe(v) for v in g.output],
        "ops": [f"{n.domain}::{n.op_type}" if n.domain else n.op_type for n in g.node],
        "opsets": {o.domain or "ai.onnx": o.version for o in onx.opset_import},
        "producer": f"{onx.producer_name} {onx.producer_version}",
    }


def check_export(path: Path, x: np.ndarray, proba: np.ndarray, label: np.ndarray) -> dict:
    """The onnx checker, and onnxruntime against scikit-learn on both outputs.

    The structural check must pass. The full check (with shape inference) does not: it finds
    that `label`'s declared rank 1 disagrees with the rank 2 its Cast computes, the first trait
    this folder is about; its message is recorded. onnxruntime logs the same disagreement and
    falls back to a lenient merge.
    """
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    try:
        onnx.checker.check_model(model, full_check=True)
        full_check = "ok"
    except onnx.checker.ValidationError as e:
        full_check = " ".join(str(e).split())
    except Exception as e:  # shape inference raises its own type
        full_check = f"{type(e).__name__}: {' '.join(str(e).split())}"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got_label, got_proba = session.run(["label", "probabilities"], {"X": x})
    return {
        "check_model": "ok",
        "check_model_full_check": full_check,
        "onnxruntime_label_shape": list(got_label.shape),
        "onnxruntime_label_equals_predict": bool(np.array_equal(got_label, label)),
        "onnxruntime_vs_sklearn_proba_max_abs_diff": float(np.abs(got_proba - proba).max()),
    }


def versions() -> dict:
    import onnx
    import onnxruntime
    import scipy
    import skl2onnx
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "scipy": scipy.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def readme(r: dict) -> str:
    s, o, c = r["sklearn"], r["onnx"], r["checks"]
    out = {v["name"]: v for v in o["outputs"]}
    lines = [
        f"# {FOLDER}",
        "",
        "A multi-label `MLPClassifier` (784 -> 64 relu -> 13 logistic) trained by scikit-learn on "
        "MNIST, exported by skl2onnx: the third exporter family of the committed models.",
        "",
        "Made from the repository root by (see `scripts/README.md` for the venv):",
        "",
        f"    {r['command']}",
        "",
        f"- `model.onnx`: skl2onnx {r['versions']['skl2onnx']} `to_onnx` with `zipmap` off, "
        f"opset {o['opsets']['ai.onnx']} (`ai.onnx.ml` {o['opsets']['ai.onnx.ml']}). Ops: {', '.join(dict.fromkeys(o['ops']))}. "
        f"Output `label` is declared {out['label']['elem_type']} {out['label']['dims']} but "
        f"computed as `[N, 13]` (onnxruntime returns {c['onnxruntime_label_shape']} and warns "
        "that it falls back to a lenient shape merge); it comes from `ai.onnx.ml` `Binarizer`. "
        f"Output `probabilities` is {out['probabilities']['elem_type']} "
        f"{out['probabilities']['dims']}, the `Sigmoid` output.",
        f"- `test_data_set_0`: `input_0.pb` MNIST test images {r['reference']['indices'][0]}.."
        f"{r['reference']['indices'][1] - 1} (never trained on, pixels / 255, float32); "
        "`output_0.pb` scikit-learn's `predict` (`label`, int64), `output_1.pb` its "
        "`predict_proba` (`probabilities`, float32).",
        f"- `labels.npy`: the 13 binary targets of those images, float32 "
        f"[{r['reference']['samples']}, 13]: digit one-hot, even, >= 5, prime.",
        "- `sklearn.json`: what scikit-learn reported, the training config, versions, the command.",
        "",
        "`onnx.checker.check_model` accepts the file; with `full_check=True` (shape inference) it "
        f"refuses it: `{c['check_model_full_check']}`. `.ci/run` therefore checks this file "
        "without shape inference (`check_onnx.py --structure-only`).",
        "",
        "What scikit-learn reports on the reference samples (from `predict_proba`):",
        "",
        "| figure | value |",
        "| --- | --- |",
        "| `binary_log_loss` (the data term of `loss_curve_`: sum over labels, mean over samples, "
        f"clip at {s['clip_eps']:.3g}) | {s['binary_log_loss']:.9g} |",
        f"| mean over labels of `sklearn.metrics.log_loss` | {s['mean_label_log_loss']:.9g} |",
        f"| binary accuracy of `predict` | {s['binary_accuracy']:.9g} |",
        f"| probabilities past the clip | {s['clipped']} of {s['elements']} "
        f"({s['clipped_wrong_side']} on the wrong side) |",
        f"| last `loss_curve_` entry (training, with the L2 term) | {s['loss_curve'][-1]:.9g} |",
        f"| onnxruntime vs scikit-learn, max abs diff of probabilities | "
        f"{c['onnxruntime_vs_sklearn_proba_max_abs_diff']:.3g} |",
        f"| onnxruntime `label` equals `predict` | {c['onnxruntime_label_equals_predict']} |",
        "",
        "Rerunning the command reproduces every file here byte for byte (checked on one machine; "
        "scikit-learn trains in float32 on one BLAS thread here).",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--data", type=Path, required=True,
                   help="folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]")
    p.add_argument("--out", type=Path, default=Path("models"),
                   help=f"parent folder of {FOLDER}/ (default: models)")
    p.add_argument("--reference-samples", type=int, default=256,
                   help="held-out samples written as reference data, at most 2000 (default: 256)")
    p.add_argument("--seed", type=int, default=42, help="random_state of the classifier")
    args = p.parse_args(argv)
    if not 1 <= args.reference_samples <= HELD_OUT_SAMPLES:
        p.error(f"--reference-samples must be in 1..{HELD_OUT_SAMPLES}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        x, digits = load_mnist_test(args.data)
    except (OSError, DataError) as e:
        print(f"error: reading MNIST from --data {args.data}: {e}", file=sys.stderr)
        return 2
    from threadpoolctl import threadpool_limits

    y = multilabel_targets(digits)
    n = args.reference_samples
    ref = slice(TRAIN_SAMPLES, TRAIN_SAMPLES + n)
    x_ref, y_ref = x[ref], y[ref]
    cfg = config(args.seed)
    command = shlex.join(["python", "scripts/sklearn_models.py", *argv])
    folder = args.out / FOLDER
    # One BLAS thread: sums keep one order, so training and predictions reproduce.
    with threadpool_limits(limits=1):
        model = train(x, y, cfg)
        figures = sklearn_figures(model, x_ref, y_ref)
    proba, label = figures.pop("_proba"), figures.pop("_label")
    try:
        (folder / "test_data_set_0").mkdir(parents=True, exist_ok=True)
        model_path = folder / "model.onnx"
        io = export(model, x_ref, model_path)
        write_tensor(folder / "test_data_set_0" / "input_0.pb", x_ref, io["inputs"][0]["name"])
        write_tensor(folder / "test_data_set_0" / "output_0.pb", label, "label")
        write_tensor(folder / "test_data_set_0" / "output_1.pb", proba, "probabilities")
        np.save(folder / "labels.npy", y_ref.astype(np.float32))
        checks = check_export(model_path, x_ref, proba, label)
        record = {
            "folder": FOLDER,
            "command": command,
            "versions": versions(),
            "training": cfg,
            "targets": COLUMNS,
            "reference": {"samples": n, "indices": [ref.start, ref.stop],
                          "source": "MNIST t10k (test set), pixels / 255",
                          "computed_by": "scikit-learn (predict, predict_proba), not onnxruntime"},
            "sklearn": figures,
            "onnx": io,
            "checks": checks,
        }
        (folder / "sklearn.json").write_text(json.dumps(record, indent=2) + "\n")
        (folder / "README.md").write_text(readme(record))
    except OSError as e:
        print(f"error: writing under --out {args.out}: {e}", file=sys.stderr)
        return 2
    print(f"{FOLDER}: binary_log_loss {figures['binary_log_loss']:.9g}, "
          f"mean label log_loss {figures['mean_label_log_loss']:.9g}, "
          f"clipped {figures['clipped']}/{figures['elements']}, "
          f"ort-vs-sklearn {checks['onnxruntime_vs_sklearn_proba_max_abs_diff']:.3g}, "
          f"ort label shape {checks['onnxruntime_label_shape']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
