#!/usr/bin/env python3
"""Train the Vigil NSL-KDD threat model and export everything the Rust
service needs.

    python model/train.py --data ../shared/data/nsl-kdd/KDDTrain+.txt.gz --out model/ \
        [--feedback feedback.csv ...] [--skip-eval] [--epochs N]

Steps (seeded, deterministic for a given machine/BLAS):
  1. validation on a stratified 80/20 split of the training file (all three
     operating profiles) and the categorical shortcut check on that model,
  2. validation on held-out attack types (5 folds, whole labels removed),
  3. validation on held-out normal groups (8 folds: the normals of one
     service / protocol removed from training, FPR measured on them),
  4. with --feedback: the random split again without the feedback, to report
     what the feedback changed,
  5. final fit on ALL of KDDTrain+ (+ feedback rows; hyper-parameters and
     profiles fixed below, chosen with compare.py), export of vigil.onnx,
     feature_schema.json, golden_vectors.json (synthetic records only),
     reports/metrics.json and plots/*.png,
  6. verification (check_schema.py: ONNX checker, opset, ops, size,
     onnxruntime batch 1/1000, golden vectors, schema-only reimplementation,
     profiles).

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
import gather as G  # noqa: E402
import vigil_ml as V  # noqa: E402
import numpy as np  # noqa: E402

SEED = 20240601
MODEL_NAME = "vigil-nslkdd-mlp"
MODEL_VERSION = "1.1.0"

# Chosen with compare.py by the rule pre-registered in MODEL_CARD.md.
# 1.1.0: the service one-hot is dropped from the classifier (its first-layer
# weights are zero) and from the novelty distance; protocol_type and flag are
# re-mapped to <other> for 10% of the records each epoch.
MLP_PARAMS = dict(hidden=(24, 12), epochs=24, batch_size=256, lr=2e-3,
                  weight_decay=1e-5, class_weight_power=0.5, max_class_weight=50.0,
                  other_rate={"protocol_type": 0.1, "flag": 0.1}, input_mask={"service": 0.0})
NOVELTY_PARAMS = dict(n_clusters=24, cat_weights={"service": 0.0})
NOVELTY_QUANTILE = 0.99   # novelty == 1.0 at this quantile of normal training traffic
# Operating profiles (threat = score >= threshold OR novelty >= novelty_threshold,
# score = 1 - P(normal); novelty_threshold None = novelty off). Chosen with
# compare.py by the rule in MODEL_CARD.md.
PROFILES = {"strict": (0.99, 1.25), "balanced": (0.8, 1.25), "sensitive": (0.3, 1.25)}
DEFAULT_PROFILE = "balanced"
FEEDBACK_WEIGHT = 5.0     # sample weight of a feedback row (a KDDTrain+ row weighs 1)
FEEDBACK_LABELS = ["normal", "dos", "probe", "r2l", "u2r", "anomaly"]
N_GOLDEN = 300

# set by main() from --epochs (quick mode for tests)
EPOCHS = None


# --------------------------------------------------------------------------
# Feedback (what Vigil's GET /feedback exports)
# --------------------------------------------------------------------------
def load_feedback(paths):
    """CSV files with a header line (41 NSL-KDD feature names + label, any
    column order) or header-less rows of 42 (41 features + label) or 43
    (+ difficulty, ignored) fields. label: normal | dos | probe | r2l | u2r |
    anomaly (a raw NSL-KDD attack name maps to its family). Returns a
    Dataset whose y is the class index, -1 for anomaly (family unknown)."""
    import csv
    nums, cats, labels = [], {c: [] for c in V.CATEGORICAL}, []
    for path in paths:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
        if not rows:
            continue
        first = [x.strip() for x in rows[0]]
        if "label" in first and all(n in first for n in V.FIELD_NAMES):
            col = {n: first.index(n) for n in V.FIELD_NAMES + ["label"]}
            rows = rows[1:]
        else:
            col = {n: i for i, n in enumerate(V.FIELD_NAMES + ["label"])}
        for ln, r in enumerate(rows, 1):
            r = [x.strip() for x in r]
            if len(r) < len(col) or (col["label"] == 41 and len(r) not in (42, 43)):
                raise SystemExit(f"{path}: row {ln}: expected 42 or 43 fields, got {len(r)}")
            lab = r[col["label"]].lower()
            lab = lab if lab in FEEDBACK_LABELS else V.LABEL_TO_CLASS.get(lab)
            if lab is None:
                raise SystemExit(f"{path}: row {ln}: unknown label {r[col['label']]!r} "
                                 f"(expected one of {', '.join(FEEDBACK_LABELS)})")
            try:
                nums.append([float(r[col[n]]) for n in V.NUMERIC])
            except ValueError as e:
                raise SystemExit(f"{path}: row {ln}: {e}")
            for c in V.CATEGORICAL:
                cats[c].append(r[col[c]])
            labels.append(lab)
    ds = V.Dataset.__new__(V.Dataset)
    ds.numeric = np.array(nums, dtype=np.float64).reshape(-1, len(V.NUMERIC))
    ds.cats = {c: np.array(v, dtype=object).astype(str) for c, v in cats.items()}
    ds.labels = np.array(labels, dtype=object).astype(str)
    ds.y = np.array([V.CLASSES.index(l) if l in V.CLASSES else -1 for l in labels], dtype=np.int64)
    return ds


# --------------------------------------------------------------------------
def fit_all(ds, fb=None, verbose=True):
    """Preprocessing (on KDD rows only), classifier and novelty head.
    Feedback rows: normal -> normal class and the novelty fit; a family ->
    that class; anomaly -> the classifier as a threat of unknown family
    (target spread evenly over the 4 attack classes), never as normal. Each
    feedback row weighs FEEDBACK_WEIGHT."""
    schema = V.fit_preprocessing(ds)
    # the graph's one-sided cap relies on valid records never going below -CLIP
    lowest = min((V._numeric_transform(np.zeros(1), n["transform"])[0] - n["mean"]) / n["std"]
                 for n in schema["numeric"])
    assert lowest > -V.CLIP, f"a valid record can standardise to {lowest} < -{V.CLIP}"
    X = V.transform(schema, ds)
    y = ds.y
    w = np.ones(len(X))
    soft = None
    if fb is not None and len(fb):
        Xf = V.transform(schema, fb)
        X = np.concatenate([X, Xf]); y = np.concatenate([y, fb.y])
        w = np.concatenate([w, np.full(len(fb), FEEDBACK_WEIGHT)])
        soft = np.zeros((len(y), len(V.CLASSES)), dtype=np.float32)
        soft[y >= 0, y[y >= 0]] = 1.0
        soft[y < 0, 1:] = 1.0 / (len(V.CLASSES) - 1)
    params = dict(MLP_PARAMS)
    if EPOCHS:
        params["epochs"] = EPOCHS
    if verbose:
        V.log(f"  features: {X.shape[1]}, fitting MLP {params['hidden']} on {len(X)} records"
              + (f" ({len(fb)} feedback)" if fb is not None and len(fb) else ""))
    mlp = V.MLP(seed=SEED, verbose=verbose, **params).fit(X, y, V.categorical_slices(schema),
                                                         soft_targets=soft, sample_weight=w)
    nov = V.KMeansNovelty(quantile=NOVELTY_QUANTILE, seed=SEED, **NOVELTY_PARAMS).set_slices(
        V.categorical_slices(schema), X.shape[1])
    if verbose:
        V.log(f"  fitting novelty (k-means {NOVELTY_PARAMS}) on {int((y == 0).sum())} normal records")
    nov.fit(X[y == 0], sample_weight=w[y == 0])
    return schema, mlp, nov


def predict(schema, mlp, nov, ds):
    X = V.transform(schema, ds)
    P = mlp.predict_proba(X)
    return P, 1.0 - P[:, 0], nov.score(X)


def flags(score, novelty, profile=DEFAULT_PROFILE):
    t, n = PROFILES[profile]
    return V.decide(score, novelty, t, n)


def rsa(y_attack, f):
    """accuracy, FPR on normal, recall on attacks of a decision."""
    return {"accuracy": float((f == y_attack).mean()), "fpr_normal": float(f[~y_attack].mean()),
            "recall": float(f[y_attack].mean()) if y_attack.any() else None}


def feedback_agreement(fb, score, novelty):
    """Share of feedback rows whose decision (per profile) matches the
    analyst's verdict (normal -> no threat, anything else -> threat)."""
    want = fb.labels != "normal"
    out = {}
    for p in PROFILES:
        f = flags(score, novelty, p)
        out[p] = {"agreement": float((f == want).mean()),
                  "normal_rows_flagged": float(f[~want].mean()) if (~want).any() else None,
                  "threat_rows_flagged": float(f[want].mean()) if want.any() else None}
    out["mean_score_normal_rows"] = float(score[~want].mean()) if (~want).any() else None
    out["mean_score_threat_rows"] = float(score[want].mean()) if want.any() else None
    return out


# --------------------------------------------------------------------------
def eval_random(ds, fb, plots):
    from sklearn.metrics import confusion_matrix, roc_curve
    V.log("(a) stratified 80/20 split")
    tr, va = V.stratified_split(ds.labels, 0.2, SEED)
    dtr, dva = ds.subset(tr), ds.subset(va)
    schema, mlp, nov = fit_all(dtr, fb)
    P, score, novelty = predict(schema, mlp, nov, dva)
    y = dva.y
    attack = y > 0
    t, n = PROFILES[DEFAULT_PROFILE]
    clf_flag = score >= t
    nov_flag = novelty >= n if n is not None else np.zeros(len(y), bool)
    res = {
        "train_records": len(tr), "validation_records": len(va), "profile": DEFAULT_PROFILE,
        "classifier_only": V.binary_metrics(attack, score, clf_flag),
        "classifier_or_novelty": V.binary_metrics(attack, score, clf_flag | nov_flag),
        "novelty_only": V.binary_metrics(attack, novelty, nov_flag),
        "per_class_recall_argmax": {c: float((P[y == i].argmax(1) == i).mean()) for i, c in enumerate(V.CLASSES)},
        "per_class_detection_rate": {c: float((clf_flag | nov_flag)[y == i].mean()) for i, c in enumerate(V.CLASSES)},
        "five_class_accuracy": float((P.argmax(1) == y).mean()),
        "confusion_matrix_argmax": confusion_matrix(y, P.argmax(1), labels=range(5)).tolist(),
        "profiles": {p: rsa(attack, flags(score, novelty, p)) for p in PROFILES},
    }
    m = res["classifier_or_novelty"]
    V.log(f"  classifier: acc={res['classifier_only']['accuracy']:.4f} auc={res['classifier_only']['roc_auc']:.5f} "
          f"fpr={res['classifier_only']['fpr_normal']:.4f}; with novelty: acc={m['accuracy']:.4f} "
          f"recall={m['recall']:.4f} fpr={m['fpr_normal']:.4f}")

    # categorical shortcut check: decisions (balanced profile) that flip when
    # a field is set to <other> or swapped with a random other record's value
    X = V.transform(schema, dva)
    base = flags(score, novelty)
    pert = {}
    for key, Xp in V.perturbed_views(schema, X, SEED + 7).items():
        pert[key] = flags(1.0 - mlp.predict_proba(Xp)[:, 0], nov.score(Xp))
    shortcuts = V.shortcut_flips(base, pert, ~attack)
    V.log("  shortcut flips (other / swap): " + ", ".join(
        f"{k} {v['other_flip_rate']:.4f}/{v['swap_flip_rate']:.4f}" for k, v in shortcuts.items()))
    fb_rows = feedback_agreement(fb, *predict(schema, mlp, nov, fb)[1:]) if fb is not None and len(fb) else None

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 5))
    for s_, lab in [(score, "classifier: 1 - P(normal)"), (novelty, "novelty (k-means distance)")]:
        fpr, tpr, _ = roc_curve(attack, s_)
        ax.plot(np.maximum(fpr, 1e-5), tpr, label=lab)
    for p, mk in zip(PROFILES, "os^"):
        mm = res["profiles"][p]
        ax.plot(max(mm["fpr_normal"], 1e-5), mm["recall"], mk, label=f"{p}: t={PROFILES[p][0]}, n={PROFILES[p][1]}")
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
    return res, shortcuts, fb_rows


def eval_heldout(ds, fb, plots):
    V.log("(b) held-out attack types")
    per_label, folds = {}, []
    prof = {p: {"fpr": [], "det": {}} for p in PROFILES}
    for i, held in enumerate(V.HELDOUT_FOLDS):
        V.log(f"  fold {i + 1}/{len(V.HELDOUT_FOLDS)}: holding out {', '.join(held)}")
        is_held = np.isin(ds.labels, held)
        rest = np.flatnonzero(~is_held)
        tr, va = V.stratified_split(ds.labels[rest], 0.2, SEED + 1 + i)
        dtr, dva, dho = ds.subset(rest[tr]), ds.subset(rest[va]), ds.subset(np.flatnonzero(is_held))
        schema, mlp, nov = fit_all(dtr, fb, verbose=False)
        _, s_va, n_va = predict(schema, mlp, nov, dva)
        P_ho, s_ho, n_ho = predict(schema, mlp, nov, dho)
        t, n = PROFILES[DEFAULT_PROFILE]
        f_va = flags(s_va, n_va)
        f_ho = flags(s_ho, n_ho)
        normal = dva.y == 0
        fold = {"held_out": held, "fpr_normal": float(f_va[normal].mean()),
                "fpr_normal_classifier_only": float((s_va >= t)[normal].mean()),
                "known_attack_detection": float(f_va[~normal].mean())}
        for lab in held:
            sel = dho.labels == lab
            per_label[lab] = {
                "class": V.LABEL_TO_CLASS[lab], "records": int(sel.sum()), "fold": i + 1,
                "detected": float(f_ho[sel].mean()),
                "detected_classifier_only": float((s_ho >= t)[sel].mean()),
                "detected_novelty_only": float((n_ho >= n)[sel].mean()) if n is not None else 0.0,
            }
        for p in PROFILES:
            prof[p]["fpr"].append(float(flags(s_va, n_va, p)[normal].mean()))
            fh = flags(s_ho, n_ho, p)
            for lab in held:
                prof[p]["det"][lab] = float(fh[dho.labels == lab].mean())
        fold["records_detected"] = float(f_ho.mean())
        folds.append(fold)
        V.log(f"    FPR(normal)={fold['fpr_normal']:.4f}  " + "  ".join(
            f"{lab}={per_label[lab]['detected']:.3f}" for lab in held))
    res = {"profile": DEFAULT_PROFILE, "folds": folds, "per_label": per_label,
           "macro_detection": float(np.mean([v["detected"] for v in per_label.values()])),
           "macro_detection_classifier_only": float(np.mean([v["detected_classifier_only"] for v in per_label.values()])),
           "macro_detection_by_class": {c: float(np.mean([v["detected"] for v in per_label.values() if v["class"] == c]))
                                        for c in V.CLASSES[1:]},
           "mean_fpr_normal": float(np.mean([f["fpr_normal"] for f in folds])),
           "max_fpr_normal": float(np.max([f["fpr_normal"] for f in folds])),
           "profiles": {p: {"mean_fpr_normal": float(np.mean(v["fpr"])), "max_fpr_normal": float(np.max(v["fpr"])),
                            "macro_detection": float(np.mean(list(v["det"].values())))} for p, v in prof.items()}}
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
    ax.set_title(f"Held-out attack types (5 folds, {DEFAULT_PROFILE} profile); mean FPR on normal {res['mean_fpr_normal']:.2%}")
    ax.legend(loc="upper center", ncol=2); ax.grid(axis="y", alpha=.3)
    fig.tight_layout(); fig.savefig(os.path.join(plots, "heldout.png"), dpi=110); plt.close(fig)
    return res


def eval_heldout_normals(ds, fb):
    """(c) normal traffic unlike the training normals: for each group G
    (a service or a protocol), train on the random split's training part
    without G's normal records and measure the FPR on all of G's normals."""
    V.log("(c) held-out normal groups")
    tr, _ = V.stratified_split(ds.labels, 0.2, SEED)
    groups = {}
    for field, value in V.NORMAL_GROUPS:
        in_g = (ds.cats[field] == value) & (ds.y == 0)
        schema, mlp, nov = fit_all(ds.subset(tr[~in_g[tr]]), fb, verbose=False)
        _, s, nv = predict(schema, mlp, nov, ds.subset(np.flatnonzero(in_g)))
        t, _n = PROFILES[DEFAULT_PROFILE]
        g = {"records": int(in_g.sum()), "fpr_normal": float(flags(s, nv).mean()),
             "fpr_normal_classifier_only": float((s >= t).mean()),
             "profiles": {p: float(flags(s, nv, p).mean()) for p in PROFILES}}
        groups[f"{field}={value}"] = g
        V.log(f"  {field}={value}: {g['records']} normals, FPR {g['fpr_normal']:.4f} "
              f"(classifier only {g['fpr_normal_classifier_only']:.4f})")
    f = [g["fpr_normal"] for g in groups.values()]
    res = {"profile": DEFAULT_PROFILE, "groups": groups, "mean_fpr_normal": float(np.mean(f)),
           "max_fpr_normal": float(np.max(f)),
           "profiles": {p: {"mean_fpr_normal": float(np.mean([g["profiles"][p] for g in groups.values()])),
                            "max_fpr_normal": float(np.max([g["profiles"][p] for g in groups.values()]))}
                        for p in PROFILES}}
    V.log(f"  mean FPR {res['mean_fpr_normal']:.4f}, max {res['max_fpr_normal']:.4f}")
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
    global EPOCHS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="path to KDDTrain+.txt.gz")
    ap.add_argument("--out", default=HERE, help="output directory (model/)")
    ap.add_argument("--feedback", action="append", default=[], metavar="PATH",
                    help="feedback CSV exported by Vigil's GET /feedback (repeatable)")
    ap.add_argument("--skip-eval", action="store_true", help="only fit/export the final model")
    ap.add_argument("--epochs", type=int, default=None, help="override the MLP epochs (quick runs, tests)")
    ap.add_argument("--no-verify", action="store_true", help="do not run check_schema.py at the end")
    a = ap.parse_args()
    EPOCHS = a.epochs
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
    fb = None
    fb_info = None
    if a.feedback:
        fb = load_feedback(a.feedback)
        fb_counts = {l: int((fb.labels == l).sum()) for l in FEEDBACK_LABELS}
        V.log(f"  feedback: {len(fb)} rows from {len(a.feedback)} file(s): {fb_counts}")
        fb_info = {"files": [{"file": os.path.basename(p), "sha256": V.sha256_file(p)} for p in a.feedback],
                   "rows": len(fb), "counts": fb_counts, "weight": FEEDBACK_WEIGHT,
                   "semantics": "normal rows join the normal class and the novelty fit; dos/probe/r2l/u2r rows "
                                "join that class; anomaly rows join the classifier as a threat of unknown family "
                                "(target spread evenly over the 4 attack classes) and never the novelty fit; "
                                "every feedback row weighs `weight`; preprocessing is fitted on the KDD rows only"}
        if not len(fb):
            fb = None

    metrics = {"data": {"file": os.path.basename(a.data), "sha256": data_sha, "records": len(ds),
                        "class_counts": counts},
               "config": {"seed": SEED, "mlp": {k: list(v) if isinstance(v, tuple) else v for k, v in MLP_PARAMS.items()},
                          "epochs_override": EPOCHS,
                          "clip": V.CLIP, "novelty": NOVELTY_PARAMS,
                          "novelty_quantile": NOVELTY_QUANTILE,
                          "profiles": {p: list(v) for p, v in PROFILES.items()},
                          "default_profile": DEFAULT_PROFILE,
                          "feedback": fb_info and {"files": fb_info["files"], "weight": FEEDBACK_WEIGHT}},
               "feedback": None}
    evals = {}
    if not a.skip_eval:
        if fb is not None:
            V.log("(a') random split WITHOUT the feedback first (what the feedback changed)")
            before, _, _ = eval_random(ds, None, plots)
        metrics["random_split"], metrics["shortcuts"], fb_after = eval_random(ds, fb, plots)
        metrics["heldout"] = eval_heldout(ds, fb, plots)
        metrics["heldout_normals"] = eval_heldout_normals(ds, fb)
        if fb is not None:
            tr, va = V.stratified_split(ds.labels, 0.2, SEED)
            sch0, m0, n0 = fit_all(ds.subset(tr), None, verbose=False)
            fb_info["validation"] = {
                "random_split_without_feedback": before["profiles"],
                "random_split_with_feedback": metrics["random_split"]["profiles"],
                "feedback_rows_without_feedback": feedback_agreement(fb, *predict(sch0, m0, n0, fb)[1:]),
                "feedback_rows_with_feedback": fb_after,
                "note": "random-split model (80% of KDDTrain+) with and without the feedback rows; the "
                        "feedback rows themselves are training rows in the 'with' fit (agreement there is "
                        "a fit, not a generalisation figure)"}
        metrics["profiles"] = {
            p: {"threshold": PROFILES[p][0], "novelty_threshold": PROFILES[p][1],
                "validation": {"random_split": metrics["random_split"]["profiles"][p],
                               "heldout_attacks": {k: metrics["heldout"]["profiles"][p][k]
                                                   for k in ("mean_fpr_normal", "macro_detection")},
                               "heldout_normals": metrics["heldout_normals"]["profiles"][p]}}
            for p in PROFILES}

    V.log("final model: fitting on all of KDDTrain+" + (" + feedback" if fb is not None else ""))
    schema_core, mlp, nov = fit_all(ds, fb)
    if fb is not None:
        sch0, m0, n0 = fit_all(ds, None, verbose=False)
        fb_info["final_model"] = {"feedback_rows_without_feedback": feedback_agreement(fb, *predict(sch0, m0, n0, fb)[1:]),
                                  "feedback_rows_with_feedback": feedback_agreement(fb, *predict(schema_core, mlp, nov, fb)[1:])}
        V.log("  feedback rows agreeing with the analyst (balanced): without "
              f"{fb_info['final_model']['feedback_rows_without_feedback']['balanced']['agreement']:.3f}, with "
              f"{fb_info['final_model']['feedback_rows_with_feedback']['balanced']['agreement']:.3f}")
    metrics["feedback"] = fb_info
    F = schema_core["feature_count"]
    doc = (f"Vigil NSL-KDD threat model {MODEL_VERSION}. input features float32[N,{F}] "
           f"(see feature_schema.json); outputs class_probabilities float32[N,5] "
           f"(normal,dos,probe,r2l,u2r) and novelty float32[N,1] (k-means distance to normal "
           f"traffic / its {NOVELTY_QUANTILE} quantile; categorical one-hots weighted "
           f"{NOVELTY_PARAMS.get('cat_weights', {})} in that distance).")
    wide = V.build_onnx(mlp, nov, F, name=MODEL_NAME, doc=doc, version=MODEL_VERSION)
    # Served in gather form (model/gather.py): the same sums, a third of the work.
    model = G.to_gather_form(wide)
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
        "profiles": {p: {"threshold": t, "novelty_threshold": n} for p, (t, n) in PROFILES.items()},
        "inputs": G.INPUTS,
        "outputs": G.OUTPUTS,
    }
    if fb is not None:
        schema["training_data"]["feedback_records"] = len(fb)
    with open(os.path.join(out, "feature_schema.json"), "w") as f:
        json.dump(schema, f, indent=2)
        f.write("\n")

    # golden vectors from synthetic records, outputs from onnxruntime
    recs = synthetic_records(schema, N_GOLDEN, SEED + 99)
    Xg = V.transform(schema, records_to_dataset(recs))
    sess = V.ort_session(onnx_bytes)
    feeds = lambda X: G.served_inputs(schema, X)  # noqa: E731
    Pg, Ng = sess.run(["class_probabilities", "novelty"], feeds(Xg))
    Pw, Nw = V.ort_session(wide.SerializeToString()).run(["class_probabilities", "novelty"], {"features": Xg})
    parity = max(float(np.abs(Pg - Pw).max()), float(np.abs(Ng - Nw).max()))
    assert parity < 1e-4, f"the gather form differs from the one-hot graph by {parity}"
    V.log(f"  gather form = one-hot graph on the golden records (max abs diff {parity:.2g})")
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
        "train_records": len(ds) + (len(fb) if fb is not None else 0), "feature_count": F,
        "onnx_bytes": len(onnx_bytes), "onnx_sha256": model_sha,
        "novelty_scale_raw_sq_distance": nov.scale,
        "macs_per_record": G.macs(model),
        "macs_per_record_one_hot": mlp.macs(F) + nov.macs(F),
        "ort_records_per_s_1thread": {str(b): V.ort_throughput(sess, Xg, b, feeds=feeds) for b in (1, 100, 1000, 10000)},
        "log1p_fields": sorted(V.LOG1P_FIELDS, key=V.NUMERIC.index),
    }
    metrics["runtime_seconds"] = round(time.time() - t_start, 1)
    metrics_path = os.path.join(reports, "metrics.json")
    if a.skip_eval and os.path.exists(metrics_path):
        # keep the validation figures of the last full run if they were made
        # with the same configuration
        old = json.load(open(metrics_path))
        if old.get("config") == metrics["config"]:
            for k in ("random_split", "heldout", "heldout_normals", "shortcuts", "profiles"):
                if k in old:
                    metrics[k] = old[k]
        else:
            V.log("  NOTE: config changed; reports/metrics.json now lacks validation figures")
    if "profiles" not in metrics:
        metrics["profiles"] = {p: {"threshold": t, "novelty_threshold": n, "validation": None}
                               for p, (t, n) in PROFILES.items()}
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=1)
    V.log(f"  onnxruntime 1 thread: " + ", ".join(
        f"b{b}: {v:,.0f} rec/s" for b, v in metrics["final"]["ort_records_per_s_1thread"].items()))

    if not a.no_verify:
        V.log("verifying (check_schema.py)")
        rc = subprocess.call([sys.executable, os.path.join(HERE, "check_schema.py"), "--dir", out])
        if rc != 0:
            sys.exit("verification FAILED")
    V.log(f"done in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
