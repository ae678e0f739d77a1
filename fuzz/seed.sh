#!/usr/bin/env bash
# Packs seed inputs for the decode_validate target from the ONNX node tests (when
# ../shared/onnx-node-tests is present) and the committed models: one file per case, in the
# format of onnx_parity::validate::fuzzing::pack. Usage: fuzz/seed.sh [CORPUS_DIR]
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-corpus/decode_validate}"
mkdir -p "$out"
pack() { # model input output dest
    python3 - "$@" <<'PY'
import struct, sys
model, inp, outp, dest = (open(p, "rb").read() if i < 3 else p for i, p in enumerate(sys.argv[1:]))
open(dest, "wb").write(struct.pack("<II", len(model), len(inp)) + model + inp + outp)
PY
}
n=0
for case in ../../shared/onnx-node-tests/test_*/ ../models/mnist-mlp/logits/ ../models/mnist-mlp/probs/; do
    set0="$case/test_data_set_0"
    [ -f "$case/model.onnx" ] && [ -f "$set0/input_0.pb" ] && [ -f "$set0/output_0.pb" ] || continue
    # Small cases only: big seeds make every iteration slow.
    size=$(( $(stat -c %s "$case/model.onnx") + $(stat -c %s "$set0/input_0.pb") ))
    [ "$size" -lt 20000 ] || [[ "$case" == *mnist-mlp* ]] || continue
    pack "$case/model.onnx" "$set0/input_0.pb" "$set0/output_0.pb" "$out/$(basename "$case")"
    n=$((n + 1))
done
echo "$n seeds in $out"
