#!/usr/bin/env python3
"""Make one HTML report of every kind from real runs, for check_html.py and the README.

Usage: html_reports.py --out DIR [--bin PATH] [--mnist DIR] [--node-tests DIR]

Runs the onnx-parity binary (default target/release/onnx-parity) from the repository root and
writes into DIR:

    demo.html         demo on real MNIST (--mnist, 8000 train / 2000 held out), else synthetic
    train.html        the replay of models/tf-reference/adam with TensorFlow's curves overlaid
    validate.html     the saturated Keras export with its labels
    gate.html         validate --manifest models/parity.toml
    compare.html      a planted divergence: our export with one bias of the last layer nudged
                      by 1e-3, against the original, layer by layer
    inputs/           what the runs above needed: synthetic IDX files, the nudged model
    matrix.html       matrix, every model
    conformance.html  the ONNX node suite (only with --node-tests)
    inspect.html      inspect of the seed model's sigmoid export

Then: `python3 scripts/check_html.py DIR/*.html --screenshots docs/screenshots` checks each page
in Chromium and refreshes the README's screenshots. The planted divergence needs numpy (in
scripts/requirements.txt); nothing else beyond the standard library.

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


def planted_divergence(bin_path: Path, work: Path) -> Path:
    """Our sigmoid export rebuilt from its weights with dense_1/bias[3] += 1e-3."""
    import numpy as np

    weights = dict(np.load(ROOT / "models/mnist-mlp/probs/weights.npz"))
    weights["dense_1/bias"] = weights["dense_1/bias"].copy()
    weights["dense_1/bias"][3] += np.float32(1e-3)
    npz = work / "nudged.npz"
    np.savez(ROOT / npz, **weights)
    onnx = work / "nudged.onnx"
    if not run(bin_path, ["export", "--weights", str(npz), "--head", "sigmoid",
                          "--out", str(onnx)], 0):
        raise SystemExit(1)
    return onnx


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
    nudged = planted_divergence(args.bin, work)
    ok &= run(args.bin, ["compare", str(nudged), "models/mnist-mlp/probs/model.onnx",
                         "--test-data", "models/mnist-mlp/probs/test_data_set_0",
                         "--layers", "--html", str(out / "compare.html")], 1)

    saturated = "models/keras-mlp-saturated"
    ok &= run(args.bin, ["validate", f"{saturated}/model.onnx", "--labels",
                         f"{saturated}/labels.npy", "--html", str(out / "validate.html")], 0)
    ok &= run(args.bin, ["validate", "--manifest", "models/parity.toml",
                         "--html", str(out / "gate.html")], 0)
    ok &= run(args.bin, ["matrix", "--html", str(out / "matrix.html")], 0)
    if args.node_tests:
        ok &= run(args.bin, ["conformance", rel(args.node_tests),
                             "--html", str(out / "conformance.html")], 0)
    ok &= run(args.bin, ["inspect", "models/mnist-mlp/probs/model.onnx", "--format", "html"],
              0, stdout_to=ROOT / out / "inspect.html")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
