#!/usr/bin/env python3
"""Run the reference ONNX checker on model files: an outside opinion on what we export.

Usage: check_onnx.py FILE...

Prints one line per file, "OK <file>" or "FAIL <file>: <reason>", and exits 1 if any file
fails (2 on bad usage). Uses full_check=True, so shape inference runs too and a graph whose
declared types disagree with what its operators produce is caught. Needs the onnx pin from
scripts/requirements.txt.
"""

import sys

import onnx


def check(path: str) -> str | None:
    """Returns None when the model passes, else the reason it does not."""
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # the checker raises several unrelated types; report them all alike
        reason = " ".join(str(e).split())
        return f"{type(e).__name__}: {reason}"
    return None


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        reason = check(path)
        if reason is None:
            print(f"OK {path}")
        else:
            failed += 1
            print(f"FAIL {path}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
