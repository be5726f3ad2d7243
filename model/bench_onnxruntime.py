#!/usr/bin/env python3
"""Single-threaded onnxruntime throughput of vigil.onnx, for comparison with
the Rust/tract benchmark. Inputs are the (synthetic) golden-vector features,
tiled to the batch size, in the served (gather) form.

    python model/bench_onnxruntime.py [--dir model/] [--seconds 2]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring time per batch size")
    ap.add_argument("--batches", default="1,100,1000,10000")
    a = ap.parse_args()
    golden = json.load(open(os.path.join(a.dir, "golden_vectors.json")))
    X = np.array([c["features"] for c in golden["cases"]], dtype=np.float32)
    schema = json.load(open(os.path.join(a.dir, "feature_schema.json")))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gather as G

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(os.path.join(a.dir, "vigil.onnx"), so, providers=["CPUExecutionProvider"])
    print(f"onnxruntime {ort.__version__}, 1 thread, gather form (numeric [N, 38], categories [N, 3])")
    for b in [int(x) for x in a.batches.split(",")]:
        xb = np.ascontiguousarray(np.tile(X, (math.ceil(b / len(X)), 1))[:b])
        feeds = G.served_inputs(schema, xb)
        for _ in range(3):
            sess.run(None, feeds)
        n, calls, t0 = 0, 0, time.perf_counter()
        while True:
            sess.run(None, feeds)
            n += b
            calls += 1
            el = time.perf_counter() - t0
            if el >= a.seconds:
                break
        print(f"batch {b:>6}: {n / el:>12,.0f} records/s   ({el / calls * 1e6:10.1f} us/batch)")


if __name__ == "__main__":
    main()
