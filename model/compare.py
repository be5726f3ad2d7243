#!/usr/bin/env python3
"""Candidate study for the Vigil model (not needed to build the model).

Fits several classifier and novelty candidates on (a) a stratified 80/20
split of KDDTrain+ and (b) the held-out-attack-type folds, then compares them
at a range of thresholds. Writes model/reports/candidates.json and a markdown
table (model/reports/candidates.md) used in MODEL_CARD.md.

    python model/compare.py --data ../shared/data/nsl-kdd/KDDTrain+.txt.gz --out model/

Takes ~15-25 minutes on 2 cores. Per-split predictions are cached in
model/.cache/ so the analysis can be re-run with --analyse-only.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vigil_ml as V  # noqa: E402
import numpy as np  # noqa: E402

SEED = 20240601

MLP_CONFIGS = {
    "mlp32x16": dict(hidden=(32, 16), epochs=12, class_weight_power=0.5),
    "mlp32x16_e24": dict(hidden=(32, 16), epochs=24, class_weight_power=0.5),
    "mlp32x16_nocw": dict(hidden=(32, 16), epochs=12, class_weight_power=0.0),
    "mlp32x16_cw1": dict(hidden=(32, 16), epochs=12, class_weight_power=1.0),
    "mlp24": dict(hidden=(24,), epochs=12, class_weight_power=0.5),
    "mlp24x12": dict(hidden=(24, 12), epochs=12, class_weight_power=0.5),
    "mlp24x12_e24": dict(hidden=(24, 12), epochs=24, class_weight_power=0.5),
    "mlp16x16_e24": dict(hidden=(16, 16), epochs=24, class_weight_power=0.5),
    "mlp64x32": dict(hidden=(64, 32), epochs=12, class_weight_power=0.5),
    "mlp32x16_distil": dict(hidden=(32, 16), epochs=12, class_weight_power=0.5, distil=True),
}
NOVELTY = {
    "km8": lambda: V.KMeansNovelty(8, seed=SEED),
    "km16": lambda: V.KMeansNovelty(16, seed=SEED),
    "km24": lambda: V.KMeansNovelty(24, seed=SEED),
    "km32": lambda: V.KMeansNovelty(32, seed=SEED),
    "km64": lambda: V.KMeansNovelty(64, seed=SEED),
    "pca5": lambda: V.PCANovelty(5),
    "pca10": lambda: V.PCANovelty(10),
    "pca20": lambda: V.PCANovelty(20),
}
QUANTILES = [0.98, 0.99, 0.995, 0.998, 0.999]
THRESHOLDS = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]


def teacher_oof(X, y, seed):
    """Out-of-fold RandomForest probabilities (soft labels for distillation)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold
    P = np.zeros((len(X), len(V.CLASSES)))
    # u2r may have < 3 samples in a fold: StratifiedKFold warns, fine
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y):
        rf = RandomForestClassifier(100, min_samples_leaf=2, n_jobs=2, random_state=seed,
                                    class_weight="balanced_subsample").fit(X[tr], y[tr])
        P[np.ix_(te, rf.classes_)] = rf.predict_proba(X[te])
    return P


def run_split(ds, name, train_idx, val_idx, held_idx, cache):
    path = os.path.join(cache, f"{name}.npz")
    if os.path.exists(path):
        V.log(f"[{name}] cached")
        return
    V.log(f"[{name}] train={len(train_idx)} val={len(val_idx)} heldout={len(held_idx)}")
    dtr = ds.subset(train_idx)
    schema = V.fit_preprocessing(dtr)
    Xtr = V.transform(schema, dtr)
    Xva = V.transform(schema, ds.subset(val_idx))
    Xho = V.transform(schema, ds.subset(held_idx)) if len(held_idx) else Xva[:0]
    out = {}
    for nn, fac in NOVELTY.items():
        nv = fac().fit(Xtr[dtr.y == 0])
        dtr_n = nv.raw(Xtr[dtr.y == 0])
        out[f"nov_{nn}_qs"] = np.quantile(dtr_n, QUANTILES)
        out[f"nov_{nn}_val"] = nv.raw(Xva)
        out[f"nov_{nn}_held"] = nv.raw(Xho)
        V.log(f"[{name}] novelty {nn} done")
    soft = None
    # reference ensemble (python only; not deployable in tract at speed)
    from sklearn.ensemble import RandomForestClassifier
    rf = RandomForestClassifier(100, min_samples_leaf=2, n_jobs=2, random_state=SEED,
                                class_weight="balanced_subsample").fit(Xtr, dtr.y)
    P = np.zeros((len(Xva), 5)); P[:, rf.classes_] = rf.predict_proba(Xva); out["p_rf_val"] = P
    P = np.zeros((len(Xho), 5))
    if len(Xho):
        P[:, rf.classes_] = rf.predict_proba(Xho)
    out["p_rf_held"] = P
    V.log(f"[{name}] random forest done")
    for mn, cfg in MLP_CONFIGS.items():
        cfg = dict(cfg)
        distil = cfg.pop("distil", False)
        if distil:
            if soft is None:
                soft = 0.5 * np.eye(5)[dtr.y] + 0.5 * teacher_oof(Xtr, dtr.y, SEED)
            V.log(f"[{name}] teacher done")
        m = V.MLP(seed=SEED, verbose=False, **cfg).fit(
            Xtr, dtr.y, V.categorical_slices(schema), soft_targets=soft if distil else None)
        out[f"p_{mn}_val"] = m.predict_proba(Xva)
        out[f"p_{mn}_held"] = m.predict_proba(Xho)
        V.log(f"[{name}] {mn} done")
        if name == "random":
            # speed of the full ONNX graph with a km24 novelty head
            nv = V.KMeansNovelty(24, seed=SEED).fit(Xtr[dtr.y == 0])
            sess = V.ort_session(V.build_onnx(m, nv, Xtr.shape[1]).SerializeToString())
            out[f"speed_{mn}"] = np.array([V.ort_throughput(sess, Xva[:1000], 1000)])
            out[f"macs_{mn}"] = np.array([m.macs(Xtr.shape[1])])
    for nn, fac in NOVELTY.items():
        if name == "random":
            nv = fac().fit(Xtr[dtr.y == 0])
            out[f"macs_nov_{nn}"] = np.array([nv.macs(Xtr.shape[1])])
    np.savez_compressed(path, y_val=ds.y[val_idx], lab_val=ds.labels[val_idx],
                        y_held=ds.y[held_idx], lab_held=ds.labels[held_idx], **out)


def analyse(cache, folds, out_dir):
    from sklearn.metrics import roc_auc_score
    models = ["rf"] + list(MLP_CONFIGS)
    res = {"random": {}, "heldout": {}}
    rnd = dict(np.load(os.path.join(cache, "random.npz")))
    for mn in models:
        P = rnd[f"p_{mn}_val"]; y = rnd["y_val"]
        s = 1 - P[:, 0]
        r = {"auc": roc_auc_score(y > 0, s),
             "acc5": float((P.argmax(1) == y).mean()),
             "per_class_recall": [float((P[y == c].argmax(1) == c).mean()) for c in range(5)]}
        for t in THRESHOLDS:
            r[f"t{t}"] = {"fpr": float((s[y == 0] >= t).mean()), "tpr": float((s[y > 0] >= t).mean()),
                          "acc": float(((s >= t) == (y > 0)).mean())}
        if f"speed_{mn}" in rnd:
            r["ort_rps_b1000_with_km24"] = float(rnd[f"speed_{mn}"][0])
            r["classifier_macs"] = int(rnd[f"macs_{mn}"][0])
        res["random"][mn] = r
    res["novelty_macs"] = {nn: int(rnd[f"macs_nov_{nn}"][0]) for nn in NOVELTY}

    fold_data = [dict(np.load(os.path.join(cache, f"fold{i}.npz"))) for i in range(len(folds))]
    for mn in models:
        for nn in [None] + list(NOVELTY):
            for t in THRESHOLDS:
                for qi, q in enumerate(QUANTILES if nn else [None]):
                    fprs, det_by_label, known_tpr = [], {}, []
                    for d in fold_data:
                        def flag(split):
                            f = (1 - d[f"p_{mn}_{split}"][:, 0]) >= t
                            if nn:
                                f |= d[f"nov_{nn}_{split}"] >= d[f"nov_{nn}_qs"][qi]
                            return f
                        fv, fh = flag("val"), flag("held")
                        fprs.append(float(fv[d["y_val"] == 0].mean()))
                        known_tpr.append(float(fv[d["y_val"] > 0].mean()))
                        for lab in sorted(set(d["lab_held"].tolist())):
                            det_by_label[lab] = float(fh[d["lab_held"] == lab].mean())
                    key = f"{mn}|{nn or 'none'}|t={t}|q={q}"
                    res["heldout"][key] = {
                        "model": mn, "novelty": nn, "t": t, "q": q,
                        "fpr_mean": float(np.mean(fprs)), "fpr_max": float(np.max(fprs)),
                        "known_attack_tpr": float(np.mean(known_tpr)),
                        "heldout_macro_det": float(np.mean(list(det_by_label.values()))),
                        "heldout_det_by_label": det_by_label,
                    }
    os.makedirs(out_dir, exist_ok=True)

    # Markdown summary
    lines = ["## Random 80/20 split (threshold 0.5 on 1 - P(normal))", "",
             "| model | MACs | ORT rec/s b1000 (+km24) | 5-class acc | AUC | FPR@0.5 | TPR@0.5 | recall normal/dos/probe/r2l/u2r |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for mn, r in res["random"].items():
        lines.append(f"| {mn} | {r.get('classifier_macs', '-')} | {r.get('ort_rps_b1000_with_km24', 0):,.0f} | "
                     f"{r['acc5']:.4f} | {r['auc']:.5f} | {r['t0.5']['fpr']:.4f} | {r['t0.5']['tpr']:.4f} | "
                     + "/".join(f"{x:.3f}" for x in r["per_class_recall"]) + " |")
    lines += ["", "Novelty head MACs: " + ", ".join(f"{k}={v}" for k, v in res["novelty_macs"].items()), "",
              "## Held-out attack types: best setting per (model, novelty) with mean normal FPR <= 2%", "",
              "| model | novelty | t | q | FPR mean | FPR max fold | known-attack TPR | held-out macro detection |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    best = {}
    for key, r in res["heldout"].items():
        if r["fpr_mean"] > 0.02:
            continue
        k = (r["model"], r["novelty"] or "none")
        if k not in best or r["heldout_macro_det"] > best[k]["heldout_macro_det"]:
            best[k] = r
    for k, r in sorted(best.items(), key=lambda kv: -kv[1]["heldout_macro_det"]):
        lines.append(f"| {k[0]} | {k[1]} | {r['t']} | {r['q']} | {r['fpr_mean']:.4f} | {r['fpr_max']:.4f} | "
                     f"{r['known_attack_tpr']:.4f} | {r['heldout_macro_det']:.4f} |")
    # keep the JSON small: per-label detail only for the best row of each
    # (model, novelty) pair, and rounded figures
    def rnd4(x):
        return round(float(x), 4)
    slim = {
        "random": json.loads(json.dumps(res["random"]), parse_float=rnd4),
        "novelty_macs": res["novelty_macs"],
        "heldout_columns": ["model", "novelty", "t", "q", "fpr_mean", "fpr_max",
                            "known_attack_tpr", "heldout_macro_det"],
        "heldout": [[r["model"], r["novelty"], r["t"], r["q"], rnd4(r["fpr_mean"]), rnd4(r["fpr_max"]),
                     rnd4(r["known_attack_tpr"]), rnd4(r["heldout_macro_det"])]
                    for r in res["heldout"].values() if r["q"] in (None, 0.98, 0.99, 0.995)],
        "heldout_best_by_label": {f"{k[0]}|{k[1]}|t={r['t']}|q={r['q']}":
                                  {l: rnd4(v) for l, v in r["heldout_det_by_label"].items()}
                                  for k, r in best.items()},
    }
    with open(os.path.join(out_dir, "candidates.json"), "w") as f:
        json.dump(slim, f, separators=(",", ":"))
        f.write("\n")
    with open(os.path.join(out_dir, "candidates.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--analyse-only", action="store_true")
    a = ap.parse_args()
    cache = os.path.join(a.out, ".cache")
    os.makedirs(cache, exist_ok=True)
    folds = V.HELDOUT_FOLDS
    if not a.analyse_only:
        ds = V.load_kdd(a.data)
        tr, va = V.stratified_split(ds.labels, 0.2, SEED)
        run_split(ds, "random", tr, va, np.array([], dtype=np.int64), cache)
        for i, held in enumerate(folds):
            is_held = np.isin(ds.labels, held)
            rest = np.flatnonzero(~is_held)
            tr, va = V.stratified_split(ds.labels[rest], 0.2, SEED + 1 + i)
            run_split(ds, f"fold{i}", rest[tr], rest[va], np.flatnonzero(is_held), cache)
    analyse(cache, folds, os.path.join(a.out, "reports"))


if __name__ == "__main__":
    main()
