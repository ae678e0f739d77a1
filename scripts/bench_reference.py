#!/usr/bin/env python3
"""The work `onnx-parity bench` measures, done the way a user would otherwise do it: TensorFlow
for training, onnxruntime (CPU provider) for inference, onnxruntime + NumPy for validation.

Usage: bench_reference.py [--data DIR] [--models DIR] [--repeat N] [--warmup N]
                          [--only train,infer,validate] [--json FILE]
                          [--rust-bin PATH | --rust-json FILE]

With --rust-bin (the release binary) or --rust-json (the output of `onnx-parity bench --json`),
it prints both sides with ratios in one table. A ratio is the speed-up of onnx-parity over the
reference: reference time / onnx-parity time, or onnx-parity throughput / reference
throughput, so above 1 means onnx-parity is faster (for memory: reference / onnx-parity).

Data: the first 10,000 MNIST test images from DIR (t10k-*-idx*-ubyte[.gz]); without --data, the
Rust binary writes its synthetic digits (`onnx-parity data`), so both sides see the same
pixels. Every figure is the median of --repeat timed repetitions after --warmup untimed ones,
as on the Rust side.

Exit codes: 0 measured, 2 missing data, models or binary (one line on stderr).
"""

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SAMPLES = 10_000
TRAIN_SAMPLES = 8_000
BATCH = 100
CNN_FILTERS = 8
SAMPLES_PER_REPETITION = 4_096  # inference, at either batch size
EPS = np.float32(1e-7)

# Inference cases: key (as in the Rust report), path under --models, NHWC image input.
INFER_CASES = [
    ("mnist-mlp-logits", "mnist-mlp/logits/model.onnx", False),
    ("mnist-mlp-probs", "mnist-mlp/probs/model.onnx", False),
    ("keras-mlp-sigmoid", "keras-mlp-sigmoid/model.onnx", False),
    ("keras-cnn", "keras-cnn/model.onnx", True),
]


class SetupError(Exception):
    """Something the benchmark needs is missing; exit 2 with one line."""


def timed(fn, warmup: int, repeat: int) -> list[float]:
    """Seconds of each of `repeat` calls after `warmup` untimed ones, sorted."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)


def figure(key: str, what: str, times: list[float], samples: int | None = None) -> dict:
    """A figure shaped like the Rust report's: throughput if `samples` is given, else seconds."""
    med = statistics.median(times)
    if samples is None:
        return {"key": key, "what": what, "unit": "seconds", "value": med,
                "low": times[-1], "high": times[0], "repetitions": len(times)}
    return {"key": key, "what": what, "unit": "samples_per_second", "value": samples / med,
            "low": samples / times[-1], "high": samples / times[0], "repetitions": len(times)}


# ---------------------------------------------------------------------------------------------
# data


def read_idx(path: Path, dims: int) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise SetupError(f"{folder}: neither {stem}.gz nor {stem} found")


def load_data(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """First 10,000 images of the test set (or of the train set when only that is there, as
    `onnx-parity data` writes it) as float32 [n, 784] in [0, 1], and 10 binary targets."""
    pairs = [("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
             ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")]
    for images, labels in pairs:
        try:
            x = read_idx(find(folder, images), 3)
            digits = read_idx(find(folder, labels), 1)
            break
        except SetupError:
            continue
    else:
        raise SetupError(f"{folder}: no MNIST IDX image/label pair")
    x = x[:SAMPLES].reshape(-1, 784).astype(np.float32) / np.float32(255.0)
    y = np.eye(10, dtype=np.float32)[digits[:SAMPLES]]
    return x, y


# ---------------------------------------------------------------------------------------------
# training


def bench_train(x, y, warmup, repeat) -> list[dict]:
    import keras
    import tensorflow as tf

    xs, ys = x[:TRAIN_SAMPLES], y[:TRAIN_SAMPLES]
    batches = [(tf.constant(xs[i:i + BATCH]), tf.constant(ys[i:i + BATCH]))
               for i in range(0, len(xs), BATCH)]
    n = len(xs)
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    suffix = "" if threads == os.cpu_count() else f".{threads}t"

    def mlp(activation):
        keras.utils.set_random_seed(42)
        inp = keras.Input((784,))
        h = keras.layers.Dense(128, activation="relu")(inp)
        return keras.Model(inp, keras.layers.Dense(10, activation=activation)(h))

    def cnn(activation):
        # The crate's CNN: Conv2D(8, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10).
        keras.utils.set_random_seed(42)
        inp = keras.Input((28, 28, 1))
        h = keras.layers.Conv2D(CNN_FILTERS, 3, activation="relu")(inp)
        h = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(h))
        return keras.Model(inp, keras.layers.Dense(10, activation=activation)(h))

    def adam():
        return keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

    def logits_loss(yb, z):
        per = tf.nn.sigmoid_cross_entropy_with_logits(labels=yb, logits=z)
        return tf.reduce_mean(tf.reduce_mean(per, axis=-1))

    def probs_loss(yb, z):
        p = tf.clip_by_value(tf.sigmoid(z), EPS, 1 - EPS)
        per = -(yb * tf.math.log(p) + (1 - yb) * tf.math.log(1 - p))
        return tf.reduce_mean(tf.reduce_mean(per, axis=-1))

    def tf_step(model, opt, loss_fn):
        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return step

    def tf_epoch(step, batches):
        def epoch():
            for xb, yb in batches:
                loss = step(xb, yb)
            return float(loss)
        return epoch

    out = []
    for form, loss_fn in (("logits", logits_loss), ("probs", probs_loss)):
        epoch = tf_epoch(tf_step(mlp(None), adam(), loss_fn), batches)
        out.append(figure(f"train.{form}{suffix}",
                          f"tf.function step ({form} form, {'sigmoid_cross_entropy_with_logits' if form == 'logits' else 'clipped sigmoid BCE'}), "
                          f"batch {BATCH}, adam, {n} samples, {threads} threads",
                          timed(epoch, warmup, repeat), n))
        if suffix:
            continue
        # Keras fit: a sigmoid head with BinaryCrossentropy() (Keras takes the logits kept on the
        # sigmoid's output) or a logits head with from_logits=True.
        model = mlp(None if form == "logits" else "sigmoid")
        model.compile(optimizer=adam(),
                      loss=keras.losses.BinaryCrossentropy(from_logits=form == "logits"))
        fit = lambda model=model: model.fit(xs, ys, batch_size=BATCH, epochs=1, shuffle=False,  # noqa: E731
                                            verbose=0)
        out.append(figure(f"train.{form}.fit", f"keras fit ({form} form), batch {BATCH}, adam, "
                          f"{n} samples", timed(fit, warmup, repeat), n))
    # The CNN: the same tf.function loop on NHWC images.
    images = [(tf.reshape(xb, (-1, 28, 28, 1)), yb) for xb, yb in batches]
    for form, loss_fn in (("logits", logits_loss), ("probs", probs_loss)):
        epoch = tf_epoch(tf_step(cnn(None), adam(), loss_fn), images)
        out.append(figure(f"train.cnn.{form}{suffix}",
                          f"CNN tf.function step ({form} form), {CNN_FILTERS} filters, batch "
                          f"{BATCH}, adam, {n} samples, {threads} threads",
                          timed(epoch, warmup, repeat), n))
    return out


def bench_train_one_thread(args) -> list[dict]:
    """TensorFlow fixes its thread pools at start-up, so one thread needs its own process."""
    cmd = [sys.executable, __file__, "--only", "train", "--intra-op", "1", "--repeat",
           str(args.repeat), "--warmup", str(args.warmup), "--data", str(args.data_dir),
           "--models", str(args.models), "--json", "-"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)["figures"]


# ---------------------------------------------------------------------------------------------
# inference


def bench_infer(x, models: Path, warmup, repeat) -> tuple[list[dict], list[str]]:
    import onnxruntime as ort

    out, skipped = [], []
    for key, rel, image in INFER_CASES:
        path = models / rel
        if not path.is_file():
            skipped.append(f"{path}: not found")
            continue
        for threads, suffix in ((1, ""), (0, ".threads")):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            for batch in (1, 256):
                runs = SAMPLES_PER_REPETITION // batch
                inputs = []
                for i in range(min(runs, 256)):
                    start = (i * batch) % (len(x) - batch + 1)
                    rows = np.ascontiguousarray(x[start:start + batch])
                    inputs.append(rows.reshape(batch, 28, 28, 1) if image else rows)

                def run(sess=sess, name=name, inputs=inputs, runs=runs):
                    for i in range(runs):
                        sess.run(None, {name: inputs[i % len(inputs)]})

                label = "1 thread" if threads == 1 else f"default threads ({os.cpu_count()})"
                out.append(figure(f"infer.{key}.b{batch}{suffix}",
                                  f"onnxruntime {rel}, batch {batch}, {label}",
                                  timed(run, warmup, repeat), SAMPLES_PER_REPETITION))
    return out, skipped


# ---------------------------------------------------------------------------------------------
# validate: onnxruntime + NumPy doing what `onnx-parity validate --labels` does


def write_fixture(models: Path, x, y, folder: Path) -> Path:
    """Our sigmoid export with the logits also exposed as a graph output (onnxruntime can only
    fetch graph outputs), 10,000 inputs, reference outputs and labels."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(models / "mnist-mlp/probs/model.onnx"))
    logits = onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", 10])
    model.graph.output.append(logits)
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = sess.run(["probabilities"], {"input": x})[0]
    sets = folder / "test_data_set_0"
    sets.mkdir()
    (sets / "input_0.pb").write_bytes(numpy_helper.from_array(x, "input").SerializeToString())
    (sets / "output_0.pb").write_bytes(
        numpy_helper.from_array(probs, "probabilities").SerializeToString())
    np.save(folder / "labels.npy", y)
    return path


def ordered(a: np.ndarray) -> np.ndarray:
    """f32 bit patterns mapped to integers that keep the order of the floats (for ULPs)."""
    i = a.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def validate_stages(model_path: Path):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    folder = model_path.parent
    state = {}

    def load_model():
        state["sess"] = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])

    def load_data():
        sets = folder / "test_data_set_0"
        state["x"] = numpy_helper.to_array(onnx.load_tensor(str(sets / "input_0.pb")))
        state["ref"] = numpy_helper.to_array(onnx.load_tensor(str(sets / "output_0.pb")))
        state["y"] = np.load(folder / "labels.npy")

    def run():
        state["p"], state["z"] = state["sess"].run(["probabilities", "logits"],
                                                   {"input": state["x"]})

    def compare():
        p, z, ref, y = state["p"], state["z"], state["ref"], state["y"]
        atol = rtol = 1e-5
        diff = np.abs(p.astype(np.float64) - ref)
        norm = np.maximum(np.abs(p), np.abs(ref)).astype(np.float64)
        rel = np.divide(diff, norm, out=np.zeros_like(diff), where=norm > 0)
        ulp = np.abs(ordered(p) - ordered(ref))
        ok = np.isfinite(p) & (diff <= atol + rtol * np.abs(ref))
        metrics = (diff.max(), rel.max(), ulp.max(), int((~ok).sum()), int(np.argmax(diff)))
        # Logits form from the Sigmoid's input, f32 elements and f64; probability form clipped.
        l32 = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        z64, y64 = z.astype(np.float64), y.astype(np.float64)
        l64 = np.maximum(z64, 0) - z64 * y64 + np.log1p(np.exp(-np.abs(z64)))
        pc = np.clip(p, EPS, 1 - EPS)
        p32 = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        pc64 = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
        p64 = -(y64 * np.log(pc64) + (1 - y64) * np.log(1 - pc64))
        losses = [l.astype(np.float64).mean(-1).mean() for l in (l32, l64, p32, p64)]
        clipped = int(((p < EPS) | (p > 1 - EPS)).sum())
        acc = ((p > 0.5) == (y > 0.5)).mean()
        flips = int(((p > 0.5) != (ref > 0.5)).sum())
        return metrics, losses, clipped, acc, flips

    return load_model, load_data, run, compare


def bench_validate(args, x, y, warmup, repeat) -> list[dict]:
    n = len(x)
    what = lambda stage: f"onnxruntime + NumPy, {n} samples with labels: {stage}"  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="onnx-parity-bench-ref-") as tmp:
        model = write_fixture(args.models, x, y, Path(tmp))
        load_model, load_data, run, compare = validate_stages(model)
        out = [figure("validate.load_model", what("InferenceSession (parse, optimize)"),
                      timed(load_model, warmup, repeat))]
        out.append(figure("validate.load_data", what("read .pb test set and labels .npy"),
                          timed(load_data, warmup, repeat)))
        out.append(figure("validate.run", what("session.run"), timed(run, warmup, repeat)))
        out.append(figure("validate.compare",
                          what("output metrics, both losses f32 and f64, accuracy, flips"),
                          timed(compare, warmup, repeat)))

        def after_load():
            load_data()
            run()
            compare()

        def total():
            load_model()
            after_load()

        out.append(figure("validate.after_load", what("load data + run + compare"),
                          timed(after_load, warmup, repeat)))
        out.append(figure("validate.total", what("end to end"), timed(total, warmup, repeat)))
        res = subprocess.run([sys.executable, __file__, "--validate-child", str(model)],
                             capture_output=True, text=True, check=True)
        kib = json.loads(res.stdout)["vm_hwm_kib"]
        out.append({"key": "validate.peak_rss", "unit": "mib", "value": kib / 1024,
                    "low": kib / 1024, "high": kib / 1024, "repetitions": 1,
                    "what": what("peak RSS of a Python process that validates once")})
    return out


def validate_child(model: Path) -> None:
    """Validate once in this process and print its peak RSS. VmHWM belongs to this process's
    memory map; ru_maxrss would not do, as Linux carries it over from the parent through fork and
    exec (a parent that has imported TensorFlow would count)."""
    for stage in validate_stages(model):
        stage()
    status = Path("/proc/self/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"vm_hwm_kib": kib}))


# ---------------------------------------------------------------------------------------------
# both sides


# (row label, onnx-parity key, reference key); a ratio is the speed-up of onnx-parity.
PAIRS = [
    ("train logits form", "train.logits", "train.logits"),
    ("train probs form", "train.probs", "train.probs"),
    ("train logits form vs TF on 1 thread", "train.logits", "train.logits.1t"),
    ("train probs form vs TF on 1 thread", "train.probs", "train.probs.1t"),
    ("train logits form vs keras fit", "train.logits", "train.logits.fit"),
    ("train probs form vs keras fit", "train.probs", "train.probs.fit"),
    ("train both forms (lockstep)", "train.lockstep", "train.both"),
    ("CNN train logits form", "train.cnn.logits", "train.cnn.logits"),
    ("CNN train probs form", "train.cnn.probs", "train.cnn.probs"),
    ("CNN train logits form vs TF on 1 thread", "train.cnn.logits", "train.cnn.logits.1t"),
    ("CNN train probs form vs TF on 1 thread", "train.cnn.probs", "train.cnn.probs.1t"),
] + [
    # Both on one thread, then both on their defaults (tract: --threads, every core).
    (f"infer {key} b{b}{label}", f"infer.{key}.b{b}{suffix}", f"infer.{key}.b{b}{suffix}")
    for key, _, _ in INFER_CASES
    for b in (1, 256)
    for suffix, label in (("", ", 1 thread each"), (".threads", ", default threads each"))
] + [
    ("our Runtime sigmoid b1 (default threads each)", "infer.mnist-mlp-probs.b1.runtime",
     "infer.mnist-mlp-probs.b1.threads"),
    ("our Runtime sigmoid b256 (default threads each)", "infer.mnist-mlp-probs.b256.runtime",
     "infer.mnist-mlp-probs.b256.threads"),
    ("validate: load model (+ plan)", "validate.load_model+plan", "validate.load_model"),
    ("validate: load test data", "validate.load_data", "validate.load_data"),
    ("validate: run", "validate.run", "validate.run"),
    ("validate: compare", "validate.compare", "validate.compare"),
    ("validate: after the model is loaded", "validate.after_load", "validate.after_load"),
    ("validate: end to end", "validate.total", "validate.total"),
    ("validate: peak RSS", "validate.peak_rss", "validate.peak_rss"),
]

UNITS = {"samples_per_second": "samples/s", "seconds": "s", "mib": "MiB",
         "gflops_per_second": "GFLOP/s"}


def derived(figs: dict) -> dict:
    """Figures made from others: load+plan on the Rust side, both forms on the TF side."""
    out = dict(figs)
    if "validate.load_model" in figs and "validate.plan" in figs:
        a, b = figs["validate.load_model"], figs["validate.plan"]
        out["validate.load_model+plan"] = dict(a, value=a["value"] + b["value"])
    if "train.logits" in figs and "train.probs" in figs and "train.lockstep" not in figs:
        a, b = figs["train.logits"]["value"], figs["train.probs"]["value"]
        out["train.both"] = dict(figs["train.logits"], value=1 / (1 / a + 1 / b),
                                 what="both tf.function steps per batch")
    return out


def fmt(f: dict) -> str:
    v, unit = f["value"], f["unit"]
    if unit == "seconds":
        return f"{v * 1e3:.2f} ms" if v < 1 else f"{v:.3f} s"
    if unit == "samples_per_second":
        return f"{v:,.0f}/s"
    return f"{v:.1f} {UNITS.get(unit, unit)}"


def table(ours: dict, ref: dict) -> str:
    ours, ref = derived(ours), derived(ref)
    rows = [("figure", "onnx-parity", "reference", "ratio")]
    for label, ok, rk in PAIRS:
        if ok not in ours or rk not in ref:
            continue
        a, b = ours[ok], ref[rk]
        higher = a["unit"] in ("samples_per_second", "gflops_per_second")
        ratio = a["value"] / b["value"] if higher else b["value"] / a["value"]
        rows.append((label, fmt(a), fmt(b), f"{ratio:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def rust_report(args, data_dir: Path) -> dict | None:
    if args.rust_json:
        return json.loads(Path(args.rust_json).read_text())
    if not args.rust_bin:
        return None
    cmd = [args.rust_bin, "bench", "--json", "--repeat", str(args.repeat), "--warmup",
           str(args.warmup), "--models", str(args.models), "--data", str(data_dir)]
    if args.only:
        cmd += ["--only", args.only]
    print("running:", " ".join(cmd), file=sys.stderr)
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="MNIST IDX folder (default: the Rust synthetic digits)")
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--only", help="comma-separated: train, infer, validate")
    p.add_argument("--json", help="write the reference figures as JSON to FILE (- for stdout)")
    p.add_argument("--rust-bin", help="onnx-parity binary to run `bench --json` with")
    p.add_argument("--rust-json", help="`onnx-parity bench --json` output to compare with")
    p.add_argument("--intra-op", type=int, help=argparse.SUPPRESS)
    p.add_argument("--validate-child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.validate_child:
        validate_child(args.validate_child)
        return 0
    if args.intra_op:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    only = set(args.only.split(",")) if args.only else {"train", "infer", "validate"}
    with tempfile.TemporaryDirectory(prefix="onnx-parity-data-") as tmp:
        try:
            if args.data:
                data_dir = args.data
            elif args.rust_bin:
                data_dir = Path(tmp)
                subprocess.run([args.rust_bin, "data", "--out", tmp, "--samples", str(SAMPLES)],
                               check=True, capture_output=True)
            else:
                raise SetupError("--data DIR, or --rust-bin to make the synthetic digits")
            args.data_dir = data_dir
            x, y = load_data(data_dir)
            if not args.models.is_dir():
                raise SetupError(f"--models {args.models}: not a folder")
        except SetupError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        figures, skipped = [], []
        if "train" in only:
            figures += bench_train(x, y, args.warmup, args.repeat)
            if not args.intra_op:
                figures += bench_train_one_thread(args)
        if "infer" in only:
            f, s = bench_infer(x, args.models, args.warmup, args.repeat)
            figures += f
            skipped += s
        if "validate" in only:
            figures += bench_validate(args, x, y, args.warmup, args.repeat)
        rust = rust_report(args, data_dir)
    import onnxruntime
    import tensorflow as tf
    report = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "tensorflow": tf.__version__,
                    "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
        "data": "mnist" if args.data else "synthetic",
        "repeat": args.repeat, "warmup": args.warmup, "figures": figures, "skipped": skipped,
        "onnx_parity": rust,
    }
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return 0
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"reference: TensorFlow {tf.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"NumPy {np.__version__}; median of {args.repeat} after {args.warmup} warm-up")
    if rust is None:
        for f in figures:
            print(f"{f['key']:40} {fmt(f):>16}  {f['what']}")
    else:
        ours = {f["key"]: f for f in rust["figures"]}
        print(table(ours, {f["key"]: f for f in figures}), end="")
    for s in skipped + (rust or {}).get("skipped", []):
        print(f"skipped: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
