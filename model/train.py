#!/usr/bin/env python3
"""Train the Vigil NSL-KDD threat model and export everything the Rust
service needs.

    python model/train.py --data ../shared/data/nsl-kdd/KDDTrain+.txt.gz --out model/

Steps (seeded, deterministic for a given machine/BLAS):
  1. validation on a stratified 80/20 split of the training file,
  2. validation on held-out attack types (5 folds, whole labels removed),
  3. final fit on ALL of KDDTrain+ (hyper-parameters fixed below, chosen with
     compare.py), export of vigil.onnx, feature_schema.json,
     golden_vectors.json (synthetic records only), reports/metrics.json and
     plots/*.png,
  4. verification (check_schema.py: ONNX checker, opset, ops, size,
     onnxruntime batch 1/1000, golden vectors, schema-only reimplementation).

The dataset is only read from --data; nothing from it is written to --out
except aggregate statistics (means/stds, vocabularies, metrics).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vigil_ml as V  # noqa: E402
import numpy as np  # noqa: E402

SEED = 20240601
MODEL_NAME = "vigil-nslkdd-mlp"
MODEL_VERSION = "1.0.0"

# Chosen with compare.py (see MODEL_CARD.md, "Candidates").
MLP_PARAMS = dict(hidden=(24, 12), epochs=24, batch_size=256, lr=2e-3,
                  weight_decay=1e-5, class_weight_power=0.5, max_class_weight=50.0,
                  other_rate=0.02)
NOVELTY_CLUSTERS = 24
NOVELTY_QUANTILE = 0.99   # novelty == 1.0 at this quantile of normal training traffic
THRESHOLD = 0.5           # on 1 - P(normal)
NOVELTY_THRESHOLD = 1.0
N_GOLDEN = 300


def fit_all(ds, verbose=True):
    schema = V.fit_preprocessing(ds)
    # the graph's one-sided cap relies on valid records never going below -CLIP
    lowest = min((V._numeric_transform(np.zeros(1), n["transform"])[0] - n["mean"]) / n["std"]
                 for n in schema["numeric"])
    assert lowest > -V.CLIP, f"a valid record can standardise to {lowest} < -{V.CLIP}"
    X = V.transform(schema, ds)
    V.log(f"  features: {X.shape[1]}, fitting MLP {MLP_PARAMS['hidden']} on {len(X)} records")
    mlp = V.MLP(seed=SEED, verbose=verbose, **MLP_PARAMS).fit(X, ds.y, V.categorical_slices(schema))
    V.log(f"  fitting novelty (k-means, k={NOVELTY_CLUSTERS}) on {int((ds.y == 0).sum())} normal records")
    nov = V.KMeansNovelty(NOVELTY_CLUSTERS, NOVELTY_QUANTILE, seed=SEED).fit(X[ds.y == 0])
    return schema, mlp, nov


def predict(schema, mlp, nov, ds):
    X = V.transform(schema, ds)
    P = mlp.predict_proba(X)
    return P, 1.0 - P[:, 0], nov.score(X)


# --------------------------------------------------------------------------
def eval_random(ds, plots):
    from sklearn.metrics import confusion_matrix, roc_curve
    V.log("(a) stratified 80/20 split")
    tr, va = V.stratified_split(ds.labels, 0.2, SEED)
    dtr, dva = ds.subset(tr), ds.subset(va)
    schema, mlp, nov = fit_all(dtr)
    P, score, novelty = predict(schema, mlp, nov, dva)
    y = dva.y
    attack = y > 0
    clf_flag = score >= THRESHOLD
    nov_flag = novelty >= NOVELTY_THRESHOLD
    res = {
        "train_records": len(tr), "validation_records": len(va),
        "classifier_only": V.binary_metrics(attack, score, clf_flag),
        "classifier_or_novelty": V.binary_metrics(attack, score, clf_flag | nov_flag),
        "novelty_only": V.binary_metrics(attack, novelty, nov_flag),
        "per_class_recall_argmax": {c: float((P[y == i].argmax(1) == i).mean()) for i, c in enumerate(V.CLASSES)},
        "per_class_detection_rate": {c: float((clf_flag | nov_flag)[y == i].mean()) for i, c in enumerate(V.CLASSES)},
        "five_class_accuracy": float((P.argmax(1) == y).mean()),
        "confusion_matrix_argmax": confusion_matrix(y, P.argmax(1), labels=range(5)).tolist(),
    }
    m = res["classifier_or_novelty"]
    V.log(f"  classifier: acc={res['classifier_only']['accuracy']:.4f} auc={res['classifier_only']['roc_auc']:.5f} "
          f"fpr={res['classifier_only']['fpr_normal']:.4f}; with novelty: acc={m['accuracy']:.4f} "
          f"recall={m['recall']:.4f} fpr={m['fpr_normal']:.4f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 5))
    for s, lab in [(score, "classifier: 1 - P(normal)"), (novelty, "novelty (k-means distance)")]:
        fpr, tpr, _ = roc_curve(attack, s)
        ax.plot(np.maximum(fpr, 1e-5), tpr, label=lab)
    for mm, lab, mk in [(res["classifier_only"], f"score >= {THRESHOLD}", "o"),
                        (res["classifier_or_novelty"], f"score >= {THRESHOLD} OR novelty >= {NOVELTY_THRESHOLD}", "s")]:
        ax.plot(max(mm["fpr_normal"], 1e-5), mm["recall"], mk, label=lab)
    ax.set_xscale("log"); ax.set_xlim(1e-5, 1); ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate on normal (log)"); ax.set_ylabel("attack detection rate")
    ax.set_title(f"ROC, stratified 80/20 split of KDDTrain+ (AUC {res['classifier_only']['roc_auc']:.4f})")
    ax.grid(alpha=.3); ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout(); fig.savefig(os.path.join(plots, "roc.png"), dpi=110); plt.close(fig)

    cm = np.array(res["confusion_matrix_argmax"])
    cmn = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(cmn, cmap="Blues", vmin=0, vmax=1)
    for i in range(5):
        for j in range(5):
            ax.text(j, i, f"{cm[i, j]}\n{cmn[i, j]:.3f}", ha="center", va="center", fontsize=8,
                    color="white" if cmn[i, j] > .5 else "black")
    ax.set_xticks(range(5), V.CLASSES); ax.set_yticks(range(5), V.CLASSES)
    ax.set_xlabel("predicted (argmax)"); ax.set_ylabel("true")
    ax.set_title("Confusion matrix, 80/20 validation split")
    fig.tight_layout(); fig.savefig(os.path.join(plots, "confusion_matrix.png"), dpi=110); plt.close(fig)
    return res


def eval_heldout(ds, plots):
    V.log("(b) held-out attack types")
    per_label, folds = {}, []
    for i, held in enumerate(V.HELDOUT_FOLDS):
        V.log(f"  fold {i + 1}/{len(V.HELDOUT_FOLDS)}: holding out {', '.join(held)}")
        is_held = np.isin(ds.labels, held)
        rest = np.flatnonzero(~is_held)
        tr, va = V.stratified_split(ds.labels[rest], 0.2, SEED + 1 + i)
        dtr, dva, dho = ds.subset(rest[tr]), ds.subset(rest[va]), ds.subset(np.flatnonzero(is_held))
        schema, mlp, nov = fit_all(dtr, verbose=False)
        _, s_va, n_va = predict(schema, mlp, nov, dva)
        P_ho, s_ho, n_ho = predict(schema, mlp, nov, dho)
        f_va = (s_va >= THRESHOLD) | (n_va >= NOVELTY_THRESHOLD)
        normal = dva.y == 0
        fold = {"held_out": held, "fpr_normal": float(f_va[normal].mean()),
                "fpr_normal_classifier_only": float((s_va >= THRESHOLD)[normal].mean()),
                "known_attack_detection": float(f_va[~normal].mean())}
        for lab in held:
            sel = dho.labels == lab
            per_label[lab] = {
                "class": V.LABEL_TO_CLASS[lab], "records": int(sel.sum()), "fold": i + 1,
                "detected": float(((s_ho >= THRESHOLD) | (n_ho >= NOVELTY_THRESHOLD))[sel].mean()),
                "detected_classifier_only": float((s_ho >= THRESHOLD)[sel].mean()),
                "detected_novelty_only": float((n_ho >= NOVELTY_THRESHOLD)[sel].mean()),
            }
        fold["records_detected"] = float(((s_ho >= THRESHOLD) | (n_ho >= NOVELTY_THRESHOLD)).mean())
        folds.append(fold)
        V.log(f"    FPR(normal)={fold['fpr_normal']:.4f}  " + "  ".join(
            f"{lab}={per_label[lab]['detected']:.3f}" for lab in held))
    res = {"folds": folds, "per_label": per_label,
           "macro_detection": float(np.mean([v["detected"] for v in per_label.values()])),
           "macro_detection_classifier_only": float(np.mean([v["detected_classifier_only"] for v in per_label.values()])),
           "macro_detection_by_class": {c: float(np.mean([v["detected"] for v in per_label.values() if v["class"] == c]))
                                        for c in V.CLASSES[1:]},
           "mean_fpr_normal": float(np.mean([f["fpr_normal"] for f in folds])),
           "max_fpr_normal": float(np.max([f["fpr_normal"] for f in folds]))}
    V.log(f"  held-out macro detection {res['macro_detection']:.4f} "
          f"(classifier only {res['macro_detection_classifier_only']:.4f}), mean FPR {res['mean_fpr_normal']:.4f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labs = sorted(per_label, key=lambda l: (V.CLASSES.index(per_label[l]["class"]), l))
    xs = np.arange(len(labs))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(xs - 0.2, [per_label[l]["detected_classifier_only"] for l in labs], 0.4, label="classifier only")
    ax.bar(xs + 0.2, [per_label[l]["detected"] for l in labs], 0.4, label="classifier OR novelty")
    ax.set_xticks(xs, [f"{l}\n({per_label[l]['class']}, n={per_label[l]['records']})" for l in labs],
                  rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 1.22); ax.set_yticks(np.linspace(0, 1, 6)); ax.set_ylabel("detection rate of the unseen label")
    ax.set_title(f"Held-out attack types (5 folds); mean FPR on normal {res['mean_fpr_normal']:.2%}")
    ax.legend(loc="upper center", ncol=2); ax.grid(axis="y", alpha=.3)
    fig.tight_layout(); fig.savefig(os.path.join(plots, "heldout.png"), dpi=110); plt.close(fig)
    return res


# --------------------------------------------------------------------------
def synthetic_records(schema, n, seed):
    """Random but plausible records; each field drawn independently from a
    range/vocabulary (never copied from the data set)."""
    rng = np.random.default_rng(seed)
    vocab = {c["name"]: c["values"] for c in schema["categorical"]}
    unseen = {"protocol_type": ["zz_unknown", "sctp"], "service": ["zz_unknown", "quic", "grpc", "mqtt"],
              "flag": ["ZZ", "S9"]}

    def cat(name, p_unseen):
        if rng.random() < p_unseen:
            return str(rng.choice(unseen[name]))
        return str(rng.choice(vocab[name]))

    def heavy(maxv, p0):
        return 0 if rng.random() < p0 else int(np.exp(rng.uniform(0, np.log(maxv + 1))) - 1)

    def rate():
        return round(float(rng.choice([0.0, 1.0, rng.uniform(0, 1)], p=[.4, .2, .4])), 2)

    recs = []
    for i in range(n):
        r = {}
        for name in V.FIELD_NAMES:
            if name == "protocol_type":
                r[name] = cat(name, 0.05)
            elif name == "service":
                r[name] = cat(name, 0.10)
            elif name == "flag":
                r[name] = cat(name, 0.05)
            elif name == "duration":
                r[name] = heavy(60000, 0.6)
            elif name in ("src_bytes", "dst_bytes"):
                r[name] = heavy(2_000_000_000, 0.3)
            elif name in ("land", "logged_in", "root_shell", "is_host_login", "is_guest_login"):
                r[name] = int(rng.random() < (0.5 if name == "logged_in" else 0.05))
            elif name in ("wrong_fragment", "urgent"):
                r[name] = int(rng.choice(4, p=[.85, .05, .05, .05]))
            elif name in ("su_attempted", "num_shells"):
                r[name] = int(rng.choice(3, p=[.9, .05, .05]))
            elif name == "num_failed_logins":
                r[name] = int(rng.choice(6, p=[.8, .04, .04, .04, .04, .04]))
            elif name in ("hot", "num_file_creations", "num_access_files"):
                r[name] = heavy({"hot": 100, "num_file_creations": 50, "num_access_files": 10}[name], 0.8)
            elif name in ("num_compromised", "num_root"):
                r[name] = heavy(8000, 0.85)
            elif name == "num_outbound_cmds":
                r[name] = int(rng.random() < 0.03)
            elif name in ("count", "srv_count"):
                r[name] = int(rng.integers(0, 512))
            elif name in ("dst_host_count", "dst_host_srv_count"):
                r[name] = int(rng.integers(0, 256))
            else:  # *_rate
                r[name] = rate()
        recs.append(r)
    # hand-made edge cases (all valid for the Rust record parser: counts >= 0,
    # rates in [0, 1], flags 0/1): all zero, huge counts, every rate/flag at 1
    zero = {k: (0 if k not in V.CATEGORICAL else v) for k, v in recs[0].items()}
    zero.update(protocol_type="tcp", service="http", flag="SF")
    huge = dict(recs[1]); huge.update(src_bytes=10 ** 12, dst_bytes=10 ** 12, duration=10 ** 7,
                                      count=100000, dst_host_count=100000, service="zz_unknown")
    ones = dict(recs[2])
    ones.update({k: 1 for k in V.NUMERIC if k.endswith("_rate") or k in (
        "land", "logged_in", "is_host_login", "is_guest_login")})
    ones.update(protocol_type="zz_unknown", service="zz_unknown", flag="ZZ")
    recs[0], recs[1], recs[2] = zero, huge, ones
    return recs


def records_to_dataset(recs):
    numeric = np.array([[float(r[n]) for n in V.NUMERIC] for r in recs], dtype=np.float64)
    cats = {n: np.array([r[n] for r in recs]) for n in V.CATEGORICAL}
    ds = V.Dataset.__new__(V.Dataset)
    ds.numeric, ds.cats, ds.labels = numeric, cats, np.array(["?"] * len(recs))
    ds.y = np.zeros(len(recs), dtype=np.int64)
    return ds


def f32s(x) -> float:
    """Shortest decimal that parses back to the same float32."""
    return float(str(np.float32(x)))


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="path to KDDTrain+.txt.gz")
    ap.add_argument("--out", default=HERE, help="output directory (model/)")
    ap.add_argument("--skip-eval", action="store_true", help="only fit/export the final model")
    a = ap.parse_args()
    t_start = time.time()
    out = a.out
    plots = os.path.join(out, "plots")
    reports = os.path.join(out, "reports")
    os.makedirs(plots, exist_ok=True)
    os.makedirs(reports, exist_ok=True)

    V.log(f"reading {a.data}")
    data_sha = V.sha256_file(a.data)
    ds = V.load_kdd(a.data)
    V.log(f"  {len(ds)} records, sha256 {data_sha}")
    counts = {c: int((ds.y == i).sum()) for i, c in enumerate(V.CLASSES)}
    V.log(f"  class counts {counts}")

    metrics = {"data": {"file": os.path.basename(a.data), "sha256": data_sha, "records": len(ds),
                        "class_counts": counts},
               "config": {"seed": SEED, "mlp": {k: list(v) if isinstance(v, tuple) else v for k, v in MLP_PARAMS.items()},
                          "clip": V.CLIP, "novelty_clusters": NOVELTY_CLUSTERS,
                          "novelty_quantile": NOVELTY_QUANTILE, "threshold": THRESHOLD,
                          "novelty_threshold": NOVELTY_THRESHOLD}}
    if not a.skip_eval:
        metrics["random_split"] = eval_random(ds, plots)
        metrics["heldout"] = eval_heldout(ds, plots)

    V.log("final model: fitting on all of KDDTrain+")
    schema_core, mlp, nov = fit_all(ds)
    F = schema_core["feature_count"]
    doc = (f"Vigil NSL-KDD threat model {MODEL_VERSION}. input features float32[N,{F}] "
           f"(see feature_schema.json); outputs class_probabilities float32[N,5] "
           f"(normal,dos,probe,r2l,u2r) and novelty float32[N,1] (k-means distance to normal "
           f"traffic / its {NOVELTY_QUANTILE} quantile).")
    model = V.build_onnx(mlp, nov, F, name=MODEL_NAME, doc=doc)
    onnx_bytes = model.SerializeToString()
    onnx_path = os.path.join(out, "vigil.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onnx_bytes)
    model_sha = V.sha256_file(onnx_path)
    V.log(f"  wrote {onnx_path} ({len(onnx_bytes)} bytes, sha256 {model_sha})")

    schema = {
        "schema_version": 1,
        "model": {"name": MODEL_NAME, "version": MODEL_VERSION, "sha256": model_sha},
        "training_data": {"file": os.path.basename(a.data), "sha256": data_sha, "records": len(ds)},
        "numeric": schema_core["numeric"],
        "categorical": schema_core["categorical"],
        "feature_count": F,
        "classes": V.CLASSES,
        "threshold": THRESHOLD,
        "novelty_threshold": NOVELTY_THRESHOLD,
        "inputs": {"features": "features"},
        "outputs": {"class_probabilities": "class_probabilities", "novelty": "novelty"},
    }
    with open(os.path.join(out, "feature_schema.json"), "w") as f:
        json.dump(schema, f, indent=2)
        f.write("\n")

    # golden vectors from synthetic records, outputs from onnxruntime
    recs = synthetic_records(schema, N_GOLDEN, SEED + 99)
    Xg = V.transform(schema, records_to_dataset(recs))
    sess = V.ort_session(onnx_bytes)
    Pg, Ng = sess.run(["class_probabilities", "novelty"], {"features": Xg})
    cases = [{"record": r, "features": [f32s(v) for v in Xg[i]],
              "class_probabilities": [f32s(v) for v in Pg[i]], "novelty": f32s(Ng[i, 0])}
             for i, r in enumerate(recs)]
    with open(os.path.join(out, "golden_vectors.json"), "w") as f:
        f.write('{"tolerance": 1e-4, "note": "synthetic records (random, independently sampled fields), '
                'not NSL-KDD rows; features from train.py preprocessing, outputs from onnxruntime", "cases": [\n')
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    V.log(f"  wrote {len(cases)} golden vectors")

    metrics["final"] = {
        "train_records": len(ds), "feature_count": F, "onnx_bytes": len(onnx_bytes), "onnx_sha256": model_sha,
        "novelty_scale_raw_sq_distance": nov.scale,
        "macs_per_record": mlp.macs(F) + nov.macs(F),
        "ort_records_per_s_1thread": {str(b): V.ort_throughput(sess, Xg, b) for b in (1, 100, 1000, 10000)},
        "log1p_fields": sorted(V.LOG1P_FIELDS, key=V.NUMERIC.index),
    }
    metrics["runtime_seconds"] = round(time.time() - t_start, 1)
    metrics_path = os.path.join(reports, "metrics.json")
    if a.skip_eval and os.path.exists(metrics_path):
        # keep the validation figures of the last full run if they were made
        # with the same configuration
        old = json.load(open(metrics_path))
        if old.get("config") == metrics["config"]:
            for k in ("random_split", "heldout"):
                if k in old:
                    metrics[k] = old[k]
        else:
            V.log("  NOTE: config changed; reports/metrics.json now lacks validation figures")
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=1)
    V.log(f"  onnxruntime 1 thread: " + ", ".join(
        f"b{b}: {v:,.0f} rec/s" for b, v in metrics["final"]["ort_records_per_s_1thread"].items()))

    V.log("verifying (check_schema.py)")
    rc = subprocess.call([sys.executable, os.path.join(HERE, "check_schema.py"), "--dir", out])
    if rc != 0:
        sys.exit("verification FAILED")
    V.log(f"done in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
