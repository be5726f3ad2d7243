"""The Python side of `make bench`: the peer stack's in-process figures and
onnxruntime on Vigil's own model, on the very records and features the Rust bench
measured, printed as one JSON object for it to put beside its own.

    python tools/peer_bench.py --peer ../shared/peer --peer-dir target/peer \
        --csv target/bench/records.csv --numeric target/bench/numeric.f32 \
        --categories target/bench/categories.i64 --width 38 --onnx model/vigil.onnx

- `peer_csv`: CSV text -> pandas.read_csv -> the peer's fitted preprocessor ->
  onnxruntime (its "c-ort" path, the fastest of its CSV paths at batch 10,000).
- `ort_model`: onnxruntime on vigil.onnx with the inputs Vigil encoded (the numeric
  block and the categorical slots).
Every figure: records/s, one thread, median of `--reps` runs of at least `--min-s`.
"""
import argparse
import json
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--peer", help="the peer folder (../shared/peer); without it, only ort_model")
ap.add_argument("--peer-dir", help="where the peer's trained pipeline is (PEER_DIR)")
ap.add_argument("--csv", required=True)
ap.add_argument("--numeric", required=True)
ap.add_argument("--categories", required=True)
ap.add_argument("--width", type=int, required=True)
ap.add_argument("--onnx", required=True)
ap.add_argument("--reps", type=int, default=7)
ap.add_argument("--min-s", type=float, default=0.3)
args = ap.parse_args()

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402


def rate(fn, n):
    fn()
    rates = []
    for _ in range(args.reps):
        done, t0 = 0, time.perf_counter()
        while True:
            fn()
            done += n
            dt = time.perf_counter() - t0
            if dt >= args.min_s:
                break
        rates.append(done / dt)
    return statistics.median(rates)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


out = {"onnxruntime": ort.__version__}
numeric = np.fromfile(args.numeric, dtype=np.float32).reshape(-1, args.width)
categories = np.fromfile(args.categories, dtype=np.int64).reshape(-1, 3)
vigil = session(args.onnx)
names = [i.name for i in vigil.get_inputs()]
feeds = lambda k: dict(zip(names, [numeric[:k], categories[:k]]))  # noqa: E731
out["ort_model"] = rate(lambda: vigil.run(None, feeds(len(numeric))), len(numeric))
out["ort_model_1000"] = rate(lambda: vigil.run(None, feeds(1000)), 1000)

if args.peer:
    os.environ.setdefault("PEER_DIR", args.peer_dir or "")
    sys.path.insert(0, args.peer)
    import joblib  # noqa: E402
    from threadpoolctl import threadpool_limits  # noqa: E402

    from common import OUT, parse_df  # noqa: E402

    threadpool_limits(1)
    text = open(args.csv).read()
    n = text.count("\n")
    pipe = joblib.load(f"{OUT}/mlp_pipeline.joblib")
    pre = pipe.named_steps["pre"]
    peer = session(f"{OUT}/mlp.onnx")
    run = lambda Z: peer.run(["probabilities"], {"input": Z})[0]  # noqa: E731
    out["peer_csv"] = rate(lambda: run(pre.transform(parse_df(text)).astype(np.float32)), n)
    out["peer_csv_sklearn"] = rate(lambda: pipe.predict_proba(parse_df(text)), n)
print(json.dumps(out))
