#!/usr/bin/env python3
"""Run the reference ONNX checker on model files: an outside opinion on what we export.

Usage: check_onnx.py [--structure-only FILE]... FILE...

Prints one line per file, "OK <file>" or "FAIL <file>: <reason>", and exits 1 if any file
fails (2 on bad usage). Uses full_check=True, so shape inference runs too and a graph whose
declared types disagree with what its operators produce is caught. A file named after
`--structure-only` gets the check without shape inference: for exports whose declarations are
known to disagree with what they compute (models/sklearn-mlp: skl2onnx declares `label` rank 1,
its Cast computes rank 2), which is then the validator's job to report. Needs the onnx pin from
scripts/requirements.txt.
"""

import sys

import onnx


def check(path: str, full: bool = True) -> str | None:
    """Returns None when the model passes, else the reason it does not."""
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=full)
    except Exception as e:  # the checker raises several unrelated types; report them all alike
        reason = " ".join(str(e).split())
        return f"{type(e).__name__}: {reason}"
    return None


def main(args: list[str]) -> int:
    paths, structure_only = [], set()
    while args:
        if args[0] == "--structure-only" and len(args) > 1:
            structure_only.add(args[1])
            paths.append(args[1])
            args = args[2:]
        else:
            paths.append(args[0])
            args = args[1:]
    if not paths or "--structure-only" in paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failed = 0
    for path in dict.fromkeys(paths):
        full = path not in structure_only
        reason = check(path, full)
        if reason is None:
            print(f"OK {path}" if full else f"OK {path} (structure only)")
        else:
            failed += 1
            print(f"FAIL {path}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
