#!/usr/bin/env python3
"""Write the 13-column multi-label targets of an MNIST-style IDX folder, for `--targets`.

Usage: multilabel_targets.py DIR --out FILE.npy

Reads the digit labels of every complete IDX image/label pair in DIR, in the order the Rust
loader reads them (train-* before t10k-*, raw or .gz), and writes float32 [n, 13], one row per
image in file order:

    columns 0..9   the digit, one-hot
    column 10      the digit is even (0, 2, 4, 6, 8)
    column 11      the digit is >= 5
    column 12      the digit is prime (2, 3, 5, 7)

Every row has two to four ones: a multi-label target, which is what the sigmoid head is for.
`onnx-parity train --targets FILE.npy` (and `scripts/tf_reference.py --targets FILE.npy`)
read it. For the crate's synthetic digits, write them as IDX first:
`onnx-parity data --out DIR --samples N --seed S`.

The same folder gives the same bytes (np.save of a float32 array). Exit codes: 0 written; 2 a
missing or corrupt folder or an unwritable output (one line on stderr).
"""

import argparse
import sys
from pathlib import Path

# tf_reference imports keras_models, which only sets TensorFlow's environment and NumPy here.
from tf_reference import DataError, load_idx_folder

import numpy as np  # noqa: E402

COLUMNS = ("digit 0", "digit 1", "digit 2", "digit 3", "digit 4", "digit 5", "digit 6",
           "digit 7", "digit 8", "digit 9", "even", ">= 5", "prime")
PRIMES = (2, 3, 5, 7)


def multilabel(digits: np.ndarray) -> np.ndarray:
    """float32 [n, 13] of 0/1 for digit labels 0..9."""
    digits = digits.astype(np.int64)
    one_hot = np.eye(10, dtype=np.float32)[digits]
    extra = np.stack([digits % 2 == 0, digits >= 5, np.isin(digits, PRIMES)], axis=1)
    return np.concatenate([one_hot, extra.astype(np.float32)], axis=1)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("data", type=Path, help="folder with IDX image/label pairs")
    p.add_argument("--out", type=Path, required=True, help="the .npy file to write")
    args = p.parse_args(argv)
    try:
        _, digits, files = load_idx_folder(args.data)
    except (OSError, DataError) as e:
        print(f"error: reading {args.data}: {e}", file=sys.stderr)
        return 2
    targets = multilabel(digits)
    try:
        np.save(args.out, targets)
    except OSError as e:
        print(f"error: writing {args.out}: {e}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{name} {int(c)}" for name, c in zip(COLUMNS[10:], targets[:, 10:].sum(0)))
    print(f"wrote {args.out}: float32 {list(targets.shape)} from {', '.join(files)} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
