#!/usr/bin/env python3
"""Self-contained test of `train.py --feedback` (no dataset needed).

Generates, in a temporary directory, a small synthetic NSL-KDD-like training
file (normal web/mail traffic, SYN-flood DoS, port-scan probes, password
guessing R2L, buffer-overflow U2R; random values, no dataset rows) and two
synthetic feedback files in the formats Vigil's GET /feedback exports (a CSV
with a header, and header-less rows of 42 / 43 fields). Runs the pipeline in
quick mode (--skip-eval --epochs 40) and checks that

  * every feedback row was read and counted per verdict,
  * the verdicts move the model's decisions on those rows: the analyst's
    false positives (label normal) are flagged less, the confirmed threats
    (a family, or anomaly) more, than by the same pipeline without feedback,
  * the exported ONNX model (onnxruntime, balanced profile) reproduces the
    with-feedback decisions, and check_schema.py passes.

    python model/test_feedback.py        (or: make model-test)
"""
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vigil_ml as V  # noqa: E402

RNG = np.random.default_rng(7)


def record(kind):
    r = {n: 0 for n in V.FIELD_NAMES}
    u = RNG.uniform
    if kind == "normal":
        svc = RNG.choice(["http", "smtp", "domain_u", "ftp_data"], p=[.5, .2, .2, .1])
        r.update(protocol_type="udp" if svc == "domain_u" else "tcp", service=svc, flag="SF",
                 duration=int(RNG.integers(0, 5)), src_bytes=int(u(100, 600)), dst_bytes=int(u(200, 8000)),
                 logged_in=int(svc != "domain_u"), count=int(RNG.integers(1, 15)), srv_count=int(RNG.integers(1, 20)),
                 same_srv_rate=1.0, dst_host_count=int(RNG.integers(20, 255)), dst_host_srv_count=int(RNG.integers(20, 255)),
                 dst_host_same_srv_rate=round(u(.7, 1), 2), dst_host_same_src_port_rate=round(u(0, .1), 2))
    elif kind == "neptune":
        r.update(protocol_type="tcp", service=RNG.choice(["private", "http", "telnet"], p=[.7, .15, .15]), flag="S0",
                 count=int(RNG.integers(100, 300)), srv_count=int(RNG.integers(5, 30)), serror_rate=1.0,
                 srv_serror_rate=1.0, same_srv_rate=round(u(0, .1), 2), diff_srv_rate=round(u(0, .1), 2),
                 dst_host_count=255, dst_host_srv_count=int(RNG.integers(1, 30)), dst_host_serror_rate=1.0,
                 dst_host_srv_serror_rate=1.0, dst_host_same_srv_rate=round(u(0, .1), 2))
    elif kind == "portsweep":
        r.update(protocol_type="tcp", service=RNG.choice(["private", "other"]), flag="REJ", duration=int(RNG.integers(0, 3)),
                 count=int(RNG.integers(1, 5)), srv_count=int(RNG.integers(1, 5)), rerror_rate=1.0, srv_rerror_rate=1.0,
                 dst_host_count=int(RNG.integers(1, 50)), dst_host_srv_count=int(RNG.integers(1, 10)),
                 dst_host_rerror_rate=round(u(.5, 1), 2), dst_host_same_src_port_rate=1.0)
    elif kind == "guess_passwd":
        r.update(protocol_type="tcp", service="telnet", flag="RSTO", src_bytes=125, dst_bytes=179,
                 num_failed_logins=1, hot=0, count=1, srv_count=1, dst_host_count=int(RNG.integers(1, 255)),
                 dst_host_srv_count=int(RNG.integers(1, 255)), dst_host_rerror_rate=round(u(.5, 1), 2))
    elif kind == "buffer_overflow":
        r.update(protocol_type="tcp", service="telnet", flag="SF", duration=int(RNG.integers(10, 200)),
                 src_bytes=int(u(1000, 3000)), dst_bytes=int(u(2000, 9000)), logged_in=1, hot=int(RNG.integers(1, 4)),
                 root_shell=1, num_file_creations=int(RNG.integers(0, 3)), count=1, srv_count=1,
                 dst_host_count=int(RNG.integers(1, 20)), dst_host_srv_count=int(RNG.integers(1, 20)))
    return r


def row(r, label, difficulty=None):
    return [str(r[n]) for n in V.FIELD_NAMES] + [label] + ([str(difficulty)] if difficulty is not None else [])


def main():
    quick = ["--skip-eval", "--epochs", "40"]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "synthetic_train.txt.gz")
        mix = [("normal", 900), ("neptune", 300), ("portsweep", 150), ("guess_passwd", 60), ("buffer_overflow", 30)]
        with gzip.open(data, "wt") as f:
            for kind, n in mix:
                for _ in range(n):
                    f.write(",".join(row(record(kind), kind, 21)) + "\n")

        # analyst verdicts, each on traffic the model gets wrong without them:
        # a benign SYN-heavy health check on an unusual port (looks like neptune) -> normal,
        # bulk transfers from one host that look like web traffic -> dos,
        # odd web sessions with many failed logins -> anomaly (family unknown)
        fps, dos, anom = [], [], []
        for _ in range(40):
            r = record("neptune"); r.update(service="ssh", count=int(RNG.integers(20, 40)), dst_host_count=3)
            fps.append(r)
        for _ in range(30):
            r = record("normal"); r.update(service="http", src_bytes=int(RNG.uniform(40000, 60000)), wrong_fragment=1)
            dos.append(r)
        for _ in range(20):
            r = record("normal"); r.update(num_failed_logins=3, hot=5, service="http", flag="S3")
            anom.append(r)
        fb1 = os.path.join(tmp, "feedback.csv")       # GET /feedback: header + rows
        with open(fb1, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(V.FIELD_NAMES + ["label"])
            for r in fps[:30]:
                w.writerow(row(r, "normal"))
            for r in dos:
                w.writerow(row(r, "dos"))
        fb2 = os.path.join(tmp, "feedback_noheader.txt")   # header-less, 42 and 43 fields
        with open(fb2, "w") as f:
            for r in fps[30:]:
                f.write(",".join(row(r, "normal", 5)) + "\n")
            for r in anom:
                f.write(",".join(row(r, "anomaly")) + "\n")

        out = os.path.join(tmp, "out")
        cmd = [sys.executable, os.path.join(HERE, "train.py"), "--data", data, "--out", out,
               "--feedback", fb1, "--feedback", fb2, *quick]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stdout[-4000:], p.stderr[-4000:])
            sys.exit("train.py failed")
        m = json.load(open(os.path.join(out, "reports", "metrics.json")))
        fb = m["feedback"]
        failures = []

        def check(cond, msg):
            print(("  ok   " if cond else "  FAIL ") + msg)
            if not cond:
                failures.append(msg)

        check(fb is not None and fb["rows"] == 90, f"all 90 feedback rows read (got {fb and fb['rows']})")
        check(fb["counts"] == {"normal": 40, "dos": 30, "probe": 0, "r2l": 0, "u2r": 0, "anomaly": 20},
              f"counts per verdict {fb['counts']}")
        check(m["final"]["train_records"] == 1440 + 90, "feedback rows are training rows of the final fit")
        before = fb["final_model"]["feedback_rows_without_feedback"]["balanced"]
        after = fb["final_model"]["feedback_rows_with_feedback"]["balanced"]
        print(f"  balanced profile on the feedback rows: without feedback {before}, with {after}")
        check(before["agreement"] < 0.8, "without feedback the model disagrees with the analyst on these rows")
        check(after["agreement"] > before["agreement"] + 0.3 and after["agreement"] >= 0.9,
              f"verdicts move the decisions: agreement {before['agreement']:.2f} -> {after['agreement']:.2f}")
        check(after["normal_rows_flagged"] < before["normal_rows_flagged"],
              "analyst false positives are flagged less")
        check(after["threat_rows_flagged"] >= before["threat_rows_flagged"], "confirmed threats are not flagged less")
        sb = fb["final_model"]["feedback_rows_without_feedback"]["mean_score_threat_rows"]
        sa = fb["final_model"]["feedback_rows_with_feedback"]["mean_score_threat_rows"]
        check(sa > sb + 0.2, f"classifier score on confirmed threats rises ({sb:.2f} -> {sa:.2f})")
        nb = fb["final_model"]["feedback_rows_without_feedback"]["mean_score_normal_rows"]
        na = fb["final_model"]["feedback_rows_with_feedback"]["mean_score_normal_rows"]
        check(na < nb - 0.2, f"classifier score on analyst false positives falls ({nb:.2f} -> {na:.2f})")

        # the exported model itself, from the schema's balanced profile
        import onnxruntime as ort
        sys.path.insert(0, HERE)
        import train as T
        schema = json.load(open(os.path.join(out, "feature_schema.json")))
        check(set(schema["profiles"]) == {"strict", "balanced", "sensitive"} and "threshold" not in schema,
              "schema carries the three profiles")
        fbds = T.load_feedback([fb1, fb2])
        X = V.transform(schema, fbds)
        sess = ort.InferenceSession(open(os.path.join(out, "vigil.onnx"), "rb").read(),
                                    providers=["CPUExecutionProvider"])
        import gather as G
        P, N = sess.run(None, G.served_inputs(schema, X))
        bp = schema["profiles"]["balanced"]
        flag = V.decide(1 - P[:, 0], N[:, 0], bp["threshold"], bp["novelty_threshold"])
        agree = float((flag == (fbds.labels != "normal")).mean())
        check(abs(agree - after["agreement"]) < 1e-9, f"ONNX model reproduces the agreement {agree:.3f}")
        print(f"{len(failures)} failed" if failures else "feedback test passed")
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
