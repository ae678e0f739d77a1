#!/usr/bin/env python3
"""Make one HTML report of every kind from real runs, for check_html.py and the README.

Usage: html_reports.py --out DIR [--bin PATH] [--mnist DIR] [--node-tests DIR]

Runs the onnx-parity binary (default target/release/onnx-parity) from the repository root and
writes into DIR:

    demo.html          demo on real MNIST (--mnist, 8000 train / 2000 held out), else synthetic
    demo-cnn.html      demo of the CNN on synthetic digits with 13 multi-label --targets
    train.html         the replay of models/tf-reference/adam with TensorFlow's curves overlaid
    validate.html      the saturated Keras export with its labels, run by onnxruntime, with
                       --suggest-tolerance (loss verdicts, clip counts, advice, noise floor)
    validate-sklearn.html  the scikit-learn export: its own loss form, a declared-vs-produced
                       warning
    gate.html          validate --manifest models/parity.toml (expected divergences)
    compare.html       compare --layers --suggest-tolerance on the planted corpus: a CNN conv
                       weight nudged (local error beyond its rounding bound)
    compare-replaced.html  the same on Relu replaced by LeakyRelu (an op replaced)
    reduce.html        reduce of the nudged Dense weight to the one layer that diverges
    inputs/            what the runs above needed: synthetic IDX files, targets, reduced case
    matrix.html        matrix, every committed case
    matrix-model.html  matrix of the saturated Keras export with labels (per-column losses)
    conformance.html   the ONNX node suite (only with --node-tests)
    inspect.html       inspect of the scikit-learn export (operators each runtime lacks)

onnxruntime runs need its library (ORT_DYLIB_PATH or the venv; see README). Then:
`python3 scripts/check_html.py DIR/*.html --screenshots docs/screenshots` checks each page in
Chromium and refreshes the README's screenshots. The CNN's targets need numpy (in
scripts/requirements.txt, through multilabel_targets.py); nothing else beyond the standard
library.

Exit codes: 0 all written; 1 a command did not give the exit code its report should have;
2 bad arguments (one line on stderr).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rel(p: Path) -> str:
    """`p` relative to the repository root, where the binary runs: the pages then name no
    machine path."""
    return os.path.relpath(p.resolve(), ROOT)


def run(bin_path: Path, args: list[str], want: int, stdout_to: Path | None = None) -> bool:
    """Runs the binary; True when it exits with `want`. `stdout_to` keeps its stdout."""
    cmd = [str(bin_path), *args]
    print("$ onnx-parity " + " ".join(args), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if stdout_to is not None:
        stdout_to.write_bytes(done.stdout)
    if done.returncode != want:
        print(f"  exit {done.returncode}, expected {want}: {done.stderr.decode().strip()}",
              file=sys.stderr)
        return False
    return True


def targets(data: Path, out: Path) -> None:
    """The 13-column multi-label targets of a synthetic IDX folder, for --targets."""
    cmd = [sys.executable, str(ROOT / "scripts/multilabel_targets.py"), str(data),
           "--out", str(out)]
    print("$ " + " ".join(cmd[1:]), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit(1)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write the reports into")
    p.add_argument("--bin", type=Path, default=ROOT / "target/release/onnx-parity",
                   help="onnx-parity binary (default target/release/onnx-parity)")
    p.add_argument("--mnist", type=Path, help="MNIST IDX folder for the demo")
    p.add_argument("--node-tests", type=Path, help="ONNX node-test folder for conformance")
    args = p.parse_args(argv)
    if not args.bin.is_file():
        print(f"error: --bin {args.bin}: no such file (cargo build --release)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    out = Path(rel(args.out))
    ok = True
    demo = ["demo", "--html", str(out / "demo.html")]
    if args.mnist:
        demo += ["--data", rel(args.mnist), "--train", "8000", "--eval", "2000"]
    ok &= run(args.bin, demo, 0)

    reference = Path("models/tf-reference/adam")
    # Inputs made on the way live under the output folder, so every path a page shows is
    # relative to the repository.
    work = out / "inputs"
    shutil.rmtree(ROOT / work, ignore_errors=True)
    (ROOT / work).mkdir()
    ok &= run(args.bin, ["data", "--out", str(work / "data"), "--samples", "1200",
                         "--seed", "42"], 0)
    ok &= run(args.bin, ["train", "--data", str(work / "data"), "--train", "1000",
                         "--eval", "200", "--init", str(reference / "init.npz"),
                         "--indices", str(reference / "indices.npy"), "--steps", "20",
                         "--batch", "50", "--optimizer", "adam", "--lr", "0.001",
                         "--tf-reference", str(reference / "reference.json"),
                         "--html", str(out / "train.html")], 0)
    targets(work / "data", work / "targets.npy")
    ok &= run(args.bin, ["demo", "--data", str(work / "data"), "--arch", "cnn",
                         "--targets", str(work / "targets.npy"), "--train", "1000",
                         "--eval", "200", "--epochs", "1",
                         "--html", str(out / "demo-cnn.html")], 0)

    planted = Path("tests/data/planted")
    ok &= run(args.bin, ["compare", str(planted / "conv-weight-nudged/model.onnx"),
                         "models/keras-cnn/model.onnx",
                         "--test-data", str(planted / "keras-cnn-50/test_data_set_0"),
                         "--layers", "--suggest-tolerance",
                         "--html", str(out / "compare.html")], 1)
    ok &= run(args.bin, ["compare", str(planted / "relu-to-leakyrelu/model.onnx"),
                         "models/mnist-mlp/probs/model.onnx",
                         "--test-data", "models/mnist-mlp/probs/test_data_set_0",
                         "--layers", "--suggest-tolerance",
                         "--html", str(out / "compare-replaced.html")], 1)
    ok &= run(args.bin, ["reduce", str(planted / "dense-weight-nudged/model.onnx"),
                         "--against", "models/mnist-mlp/probs/model.onnx",
                         "--test-data", "models/mnist-mlp/probs/test_data_set_0",
                         "--out", str(work / "reduced"), "--html", str(out / "reduce.html")], 1)

    saturated = "models/keras-mlp-saturated"
    ok &= run(args.bin, ["validate", f"{saturated}/model.onnx", "--labels",
                         f"{saturated}/labels.npy", "--runtime", "onnxruntime",
                         "--suggest-tolerance", "--html", str(out / "validate.html")], 0)
    ok &= run(args.bin, ["validate", "models/sklearn-mlp/model.onnx", "--labels",
                         "models/sklearn-mlp/labels.npy",
                         "--html", str(out / "validate-sklearn.html")], 0)
    ok &= run(args.bin, ["validate", "--manifest", "models/parity.toml",
                         "--html", str(out / "gate.html")], 0)
    ok &= run(args.bin, ["matrix", "--html", str(out / "matrix.html")], 0)
    ok &= run(args.bin, ["matrix", f"{saturated}/model.onnx", "--labels",
                         f"{saturated}/labels.npy", "--html", str(out / "matrix-model.html")], 1)
    if args.node_tests:
        ok &= run(args.bin, ["conformance", rel(args.node_tests),
                             "--html", str(out / "conformance.html")], 0)
    ok &= run(args.bin, ["inspect", "models/sklearn-mlp/model.onnx", "--format", "html"],
              0, stdout_to=ROOT / out / "inspect.html")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
