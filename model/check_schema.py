#!/usr/bin/env python3
"""Standalone verification of the exported model artefacts.

Uses ONLY feature_schema.json, golden_vectors.json and vigil.onnx (it does
not import the training code and reads no dataset):

  * re-implements the preprocessing contract from the schema alone with numpy
    and checks it reproduces every golden `features` vector,
  * checks vigil.onnx: onnx.checker, ai.onnx opset <= 17 and no other domain,
    no TreeEnsemble/ZipMap, allowed ops only, float32 tensors, symbolic batch
    dimension "N", input/output names and shapes, size < 5 MB, sha256 equal
    to the schema's,
  * runs onnxruntime at batch 1 and batch 1000 and checks the golden outputs.

    python model/check_schema.py [--dir model/]
Exit status 0 when everything holds.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np

NUMERIC_ORDER = [
    "duration", "src_bytes", "dst_bytes", "land", "wrong_fragment", "urgent", "hot",
    "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
]
ALLOWED_OPS = {"MatMul", "Gemm", "Add", "Relu", "Softmax", "Sub", "Mul", "ReduceMin",
               "ReduceSum", "Sqrt", "Div", "Sigmoid", "Gather", "Split"}

PROFILE_NAMES = ["strict", "balanced", "sensitive"]
failures = []


def check(cond, msg):
    print(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        failures.append(msg)


def preprocess(schema, record):
    """The contract, from the schema alone."""
    v = []
    for spec in schema["numeric"]:
        x = float(record[spec["name"]])
        t = math.log1p(max(x, 0.0)) if spec["transform"] == "log1p" else x
        v.append((t - spec["mean"]) / spec["std"])
    for spec in schema["categorical"]:
        block = [0.0] * (len(spec["values"]) + 1)
        val = record[spec["name"]]
        block[spec["values"].index(val) if val in spec["values"] else len(spec["values"])] = 1.0
        v += block
    return np.array(v, dtype=np.float64).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    schema = json.load(open(os.path.join(a.dir, "feature_schema.json")))
    golden = json.load(open(os.path.join(a.dir, "golden_vectors.json")))
    onnx_path = os.path.join(a.dir, "vigil.onnx")
    raw = open(onnx_path, "rb").read()
    F = schema["feature_count"]
    tol = float(golden["tolerance"])

    print("schema")
    check(schema["schema_version"] == 1, "schema_version == 1")
    check([n["name"] for n in schema["numeric"]] == NUMERIC_ORDER, "38 numeric fields in dataset column order")
    check(all(n["transform"] in ("log1p", "identity") and n["std"] > 0 for n in schema["numeric"]),
          "transforms known, all std > 0")
    check([c["name"] for c in schema["categorical"]] == ["protocol_type", "service", "flag"],
          "categorical order protocol_type, service, flag")
    check(F == 38 + sum(len(c["values"]) + 1 for c in schema["categorical"]), f"feature_count {F} consistent")
    check(schema["classes"] == ["normal", "dos", "probe", "r2l", "u2r"], "class order")
    check(schema["model"]["sha256"] == hashlib.sha256(raw).hexdigest(), "model sha256 matches vigil.onnx")
    check("threshold" not in schema and "novelty_threshold" not in schema,
          "no top-level threshold / novelty_threshold (replaced by profiles)")
    prof = schema.get("profiles", {})
    check(isinstance(prof, dict) and list(prof) == PROFILE_NAMES, f"profiles {list(prof)} == {PROFILE_NAMES}")

    def valid_profile(p):
        t, n = p.get("threshold"), p.get("novelty_threshold", "missing")
        return (set(p) == {"threshold", "novelty_threshold"} and isinstance(t, (int, float)) and 0 < t <= 1
                and (n is None or (isinstance(n, (int, float)) and n > 0)))
    check(all(valid_profile(prof.get(k, {})) for k in PROFILE_NAMES),
          "every profile has threshold in (0, 1] and novelty_threshold > 0 or null")

    print("preprocessing re-implemented from the schema alone")
    Xs = np.stack([preprocess(schema, c["record"]) for c in golden["cases"]])
    Xg = np.array([c["features"] for c in golden["cases"]], dtype=np.float32)
    err = float(np.abs(Xs - Xg).max())
    check(Xs.shape == (len(golden["cases"]), F), f"{len(golden['cases'])} golden cases, width {F}")
    check(err <= 1e-6 * max(1.0, float(np.abs(Xg).max())), f"features reproduced (max abs diff {err:.3g})")
    n_other = sum(any(c["record"][s["name"]] not in s["values"] for s in schema["categorical"])
                  for c in golden["cases"])
    check(n_other > 0, f"{n_other} golden cases exercise an <other> slot")

    print("onnx model")
    import onnx
    m = onnx.load_from_string(raw)
    onnx.checker.check_model(m, full_check=True)
    check(True, "onnx.checker (full_check)")
    domains = {(o.domain or "ai.onnx"): o.version for o in m.opset_import}
    check(set(domains) == {"ai.onnx"} and domains["ai.onnx"] <= 17, f"opsets {domains} (ai.onnx <= 17 only)")
    ops = {n.op_type for n in m.graph.node}
    check(ops <= ALLOWED_OPS, f"ops {sorted(ops)} all in the tract-safe list")
    check(len(raw) < 5 * 1024 * 1024, f"size {len(raw)} bytes < 5 MB")
    check(all(i.data_type == onnx.TensorProto.FLOAT for i in m.graph.initializer
              if i.data_type != onnx.TensorProto.INT64), "float32 weights (int64 only for axes)")

    def sig(vi):
        t = vi.type.tensor_type
        return vi.name, t.elem_type, [d.dim_param or d.dim_value for d in t.shape.dim]
    n_num = len(schema["numeric"])
    check([sig(i) for i in m.graph.input] == [("numeric", 1, ["N", n_num]), ("categories", 7, ["N", 3])],
          f"inputs numeric float32[N,{n_num}], categories int64[N,3] (the gather form, model/gather.py)")
    check(schema["inputs"] == {"numeric": "numeric", "categories": "categories"}
          and schema["outputs"].get("logits") == "logits", "schema names the inputs and the logits")
    check("logits" in {n.output[0] for n in m.graph.node}, "the graph has a value named logits")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gather as G
    feeds = lambda X: G.served_inputs(schema, X)  # noqa: E731
    check([sig(o) for o in m.graph.output] == [("class_probabilities", 1, ["N", 5]), ("novelty", 1, ["N", 1])],
          "outputs class_probabilities float32[N,5], novelty float32[N,1]")

    print("onnxruntime")
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(raw, so, providers=["CPUExecutionProvider"])
    P1, N1 = sess.run(None, feeds(Xg[:1]))
    check(P1.shape == (1, 5) and N1.shape == (1, 1) and P1.dtype == np.float32, "batch 1 shapes/dtype")
    X1000 = np.tile(Xg, (math.ceil(1000 / len(Xg)), 1))[:1000]
    P, N = sess.run(None, feeds(X1000))
    check(P.shape == (1000, 5) and N.shape == (1000, 1), "batch 1000 shapes")
    check(float(np.abs(P.sum(1) - 1).max()) < 1e-5, "probabilities sum to 1")
    check(np.allclose(P1, P[:1], atol=1e-6) and np.allclose(N1, N[:1], rtol=1e-5, atol=1e-6),
          "batch 1 == batch 1000 row 0")
    Pg = np.array([c["class_probabilities"] for c in golden["cases"]], dtype=np.float32)
    Ng = np.array([c["novelty"] for c in golden["cases"]], dtype=np.float32)
    Pr, Nr = sess.run(None, feeds(Xs))
    ep = float(np.abs(Pr - Pg).max())
    en = float((np.abs(Nr[:, 0] - Ng) / np.maximum(1.0, np.abs(Ng))).max())
    check(ep <= tol, f"golden class_probabilities reproduced (max abs diff {ep:.3g} <= {tol})")
    check(en <= tol, f"golden novelty reproduced (max rel diff {en:.3g} <= {tol})")

    print("profiles (threat = 1 - P(normal) >= threshold OR novelty >= novelty_threshold)")
    for name in PROFILE_NAMES:
        p = schema["profiles"][name]
        t, n = float(p["threshold"]), p["novelty_threshold"]
        flag = (1 - Pr[:, 0]) >= t
        if n is not None:
            flag |= Nr[:, 0] >= float(n)
        print(f"  {name:9s} threshold {t:g}, novelty_threshold {n}: {int(flag.sum())}/{len(flag)} golden cases flagged")

    print(f"{len(failures)} failed" if failures else "all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
