"""Shared code for the Vigil NSL-KDD model: data loading, the preprocessing
contract (feature_schema.json), a small numpy MLP trainer, the normal-traffic
novelty scorer and the ONNX graph builder.

Nothing in here reads data by itself: callers pass the dataset path.
"""
from __future__ import annotations

import os

# Keep CPU use modest (the build machine has 2 cores shared with others).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

import gzip
import hashlib
import math
import time

import numpy as np

# --------------------------------------------------------------------------
# Dataset layout (NSL-KDD README: 41 features, label, difficulty)
# --------------------------------------------------------------------------
FIELD_NAMES = [
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes",
    "land", "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in",
    "num_compromised", "root_shell", "su_attempted", "num_root",
    "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate",
    "srv_serror_rate", "rerror_rate", "srv_rerror_rate", "same_srv_rate",
    "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
    "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
]
assert len(FIELD_NAMES) == 41
CATEGORICAL = ["protocol_type", "service", "flag"]
NUMERIC = [n for n in FIELD_NAMES if n not in CATEGORICAL]
assert len(NUMERIC) == 38

# Heavy-tailed count/byte fields (max > 10 in KDDTrain+ and log1p reduces
# their skewness; see MODEL_CARD.md). Everything else is "identity".
# dst_host_count / dst_host_srv_count are bounded at 255 and left-skewed, so
# log1p would make them worse: identity.
LOG1P_FIELDS = {
    "duration", "src_bytes", "dst_bytes", "hot", "num_compromised",
    "num_root", "num_file_creations", "count", "srv_count",
}

CLASSES = ["normal", "dos", "probe", "r2l", "u2r"]
# README mapping (labels marked * in the README only occur in the test sets;
# they are listed so that the mapping is complete).
LABEL_TO_CLASS = {"normal": "normal"}
for _c, _labels in {
    "dos": "back land neptune pod smurf teardrop apache2 mailbomb processtable udpstorm worm",
    "probe": "ipsweep nmap portsweep satan mscan saint",
    "r2l": "ftp_write guess_passwd imap multihop phf spy warezclient warezmaster "
           "httptunnel named sendmail snmpgetattack snmpguess xlock xsnoop",
    "u2r": "buffer_overflow loadmodule perl rootkit ps sqlattack xterm",
}.items():
    for _l in _labels.split():
        LABEL_TO_CLASS[_l] = _c

# Standardised inputs are capped at CLIP inside the ONNX graph (rare flags
# such as is_host_login standardise to ~355, and absurd counts to anything).
# Only an upper cap is needed: valid records (counts >= 0, rates in [0, 1])
# never standardise below -mean/std, which is > -CLIP for every field
# (checked by train.py), so min(x, CLIP) == clamp(x, -CLIP, CLIP) for them.
CLIP = 10.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Dataset:
    """Columns of a KDD-format file. numeric: float64 [n, 38] (NUMERIC order),
    cats: dict name -> np.array of str, labels: np.array of str,
    y: int class index [n]."""

    def __init__(self, numeric, cats, labels):
        self.numeric = numeric
        self.cats = cats
        self.labels = labels
        self.y = np.array([CLASSES.index(LABEL_TO_CLASS[l]) for l in labels],
                          dtype=np.int64)

    def __len__(self):
        return len(self.labels)

    def subset(self, idx):
        return Dataset(self.numeric[idx], {k: v[idx] for k, v in self.cats.items()},
                       self.labels[idx])


def load_kdd(path: str) -> Dataset:
    opener = gzip.open if path.endswith(".gz") else open
    num_idx = [FIELD_NAMES.index(n) for n in NUMERIC]
    cat_idx = [FIELD_NAMES.index(n) for n in CATEGORICAL]
    nums, cats, labels = [], [[], [], []], []
    with opener(path, "rt") as f:
        for line in f:
            p = line.rstrip("\n").split(",")
            if len(p) < 42:
                continue
            nums.append([float(p[i]) for i in num_idx])
            for j, i in enumerate(cat_idx):
                cats[j].append(p[i])
            labels.append(p[41])  # p[42] (difficulty) is deliberately ignored
    return Dataset(np.array(nums, dtype=np.float64),
                   {n: np.array(c) for n, c in zip(CATEGORICAL, cats)},
                   np.array(labels))


# --------------------------------------------------------------------------
# Preprocessing contract
# --------------------------------------------------------------------------
def _numeric_transform(x: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log1p":
        return np.log1p(np.maximum(x, 0.0))
    if transform == "identity":
        return x
    raise ValueError(transform)


def fit_preprocessing(ds: Dataset) -> dict:
    """Fit the schema's numeric/categorical parts on a training split."""
    numeric = []
    for j, name in enumerate(NUMERIC):
        tr = "log1p" if name in LOG1P_FIELDS else "identity"
        t = _numeric_transform(ds.numeric[:, j], tr)
        mean = float(t.mean())
        std = float(t.std())
        if not std > 0.0:
            std = 1.0
        numeric.append({"name": name, "transform": tr, "mean": mean, "std": std})
    categorical = [{"name": n, "values": sorted(set(ds.cats[n].tolist()))}
                   for n in CATEGORICAL]
    return {"numeric": numeric, "categorical": categorical,
            "feature_count": feature_count({"numeric": numeric,
                                            "categorical": categorical})}


def feature_count(schema: dict) -> int:
    return len(schema["numeric"]) + sum(len(c["values"]) + 1
                                        for c in schema["categorical"])


def feature_names(schema: dict) -> list[str]:
    out = [n["name"] for n in schema["numeric"]]
    for c in schema["categorical"]:
        out += [f"{c['name']}={v}" for v in c["values"]] + [f"{c['name']}=<other>"]
    return out


def transform(schema: dict, ds: Dataset) -> np.ndarray:
    """Preprocess to float32 [n, F] exactly as the Rust side does (computed in
    float64, rounded to float32 once at the end)."""
    n = len(ds)
    cols = []
    for j, spec in enumerate(schema["numeric"]):
        assert spec["name"] == NUMERIC[j]
        t = _numeric_transform(ds.numeric[:, j], spec["transform"])
        cols.append(((t - spec["mean"]) / spec["std"])[:, None])
    for spec in schema["categorical"]:
        vals = spec["values"]
        index = {v: i for i, v in enumerate(vals)}
        block = np.zeros((n, len(vals) + 1), dtype=np.float64)
        col = ds.cats[spec["name"]]
        pos = np.array([index.get(v, len(vals)) for v in col], dtype=np.int64)
        block[np.arange(n), pos] = 1.0
        cols.append(block)
    return np.concatenate(cols, axis=1).astype(np.float32)


def categorical_slices(schema: dict) -> list[tuple[int, int]]:
    """(start, stop) column range of each categorical block in the vector."""
    out, start = [], len(schema["numeric"])
    for c in schema["categorical"]:
        stop = start + len(c["values"]) + 1
        out.append((start, stop))
        start = stop
    return out


def clip(x: np.ndarray) -> np.ndarray:
    return np.minimum(x, CLIP)


# --------------------------------------------------------------------------
# MLP (numpy, float32, Adam) - supports class weights and soft targets
# --------------------------------------------------------------------------
def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class MLP:
    def __init__(self, hidden=(32, 16), epochs=20, batch_size=256, lr=2e-3,
                 weight_decay=1e-5, class_weight_power=0.5, max_class_weight=50.0,
                 other_rate=0.02, swap_rate=0.0, input_mask=None, seed=0, verbose=True):
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.class_weight_power = class_weight_power
        self.max_class_weight = max_class_weight
        # other_rate: float (every categorical field) or {field: rate}
        self.other_rate = other_rate
        # swap_rate: share of records per field whose value is replaced by a
        # random other record's value each epoch (another categorical dropout)
        self.swap_rate = swap_rate
        # input_mask: {field: 0..1} scale of a categorical block at the input
        # of the classifier (0 drops the field); folded into W0 after fitting
        self.input_mask = dict(input_mask or {})
        self.seed = seed
        self.verbose = verbose

    def macs(self, n_in):
        sizes = [n_in, *self.hidden, len(CLASSES)]
        return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    def _forward(self, x):
        acts = [x]
        h = x
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = h @ W + b
            if i < len(self.W) - 1:
                h = np.maximum(z, 0.0)
            else:
                h = z
            acts.append(h)
        return acts

    def predict_proba(self, X):
        X = clip(X).astype(np.float32)
        out = [np.zeros((0, len(CLASSES)), dtype=np.float32)]
        for s in range(0, len(X), 8192):
            out.append(_softmax(self._forward(X[s:s + 8192])[-1]))
        return np.concatenate(out)

    def _rate(self, field_index):
        if isinstance(self.other_rate, dict):
            return float(self.other_rate.get(CATEGORICAL[field_index], 0.0))
        return float(self.other_rate)

    def fit(self, X, y, cat_slices, soft_targets=None, sample_weight=None):
        rng = np.random.default_rng(self.seed)
        X = clip(X).astype(np.float32)
        mask = np.ones(X.shape[1], dtype=np.float32)
        for fi, (s0, s1) in enumerate(cat_slices):
            mask[s0:s1] = float(self.input_mask.get(CATEGORICAL[fi], 1.0))
        n, f = X.shape
        k = len(CLASSES)
        # y == -1: a threat of unknown family (feedback "anomaly"); needs
        # soft_targets, gets class weight 1
        known = y >= 0
        counts = np.bincount(y[known], minlength=k).astype(np.float64)
        cw = np.where(counts > 0, (n / (k * np.maximum(counts, 1))) ** self.class_weight_power, 0.0)
        cw = np.minimum(cw, self.max_class_weight)
        sw = np.where(known, cw[np.maximum(y, 0)], 1.0)
        if sample_weight is not None:
            sw = sw * np.asarray(sample_weight, dtype=np.float64)
        sw = (sw / sw.mean()).astype(np.float32)  # mean sample weight 1
        assert soft_targets is not None or known.all()
        T = np.eye(k, dtype=np.float32)[y] if soft_targets is None else soft_targets.astype(np.float32)

        sizes = [f, *self.hidden, k]
        self.W, self.b = [], []
        for a, b_ in zip(sizes[:-1], sizes[1:]):
            self.W.append((rng.standard_normal((a, b_)) * math.sqrt(2.0 / a)).astype(np.float32))
            self.b.append(np.zeros(b_, dtype=np.float32))
        params = self.W + self.b
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        b1, b2, eps = 0.9, 0.999, 1e-8
        step = 0
        steps_per_epoch = math.ceil(n / self.batch_size)
        total = steps_per_epoch * self.epochs
        for ep in range(self.epochs):
            t0 = time.time()
            Xe = X.copy()
            for fi, (s0, s1) in enumerate(cat_slices):
                if self.swap_rate > 0:
                    sel = np.flatnonzero(rng.random(n) < self.swap_rate)
                    Xe[sel, s0:s1] = X[rng.integers(0, n, len(sel)), s0:s1]
                if self._rate(fi) > 0:
                    # Teach the net the "other" slot: re-map categorical
                    # values to <other> (the only way an unseen value looks),
                    # and keep it from leaning on any one value.
                    sel = np.flatnonzero(rng.random(n) < self._rate(fi))
                    Xe[sel, s0:s1] = 0.0
                    Xe[sel, s1 - 1] = 1.0
            Xe *= mask
            perm = rng.permutation(n)
            loss_sum = 0.0
            for s in range(0, n, self.batch_size):
                idx = perm[s:s + self.batch_size]
                xb, tb, wb = Xe[idx], T[idx], sw[idx]
                acts = self._forward(xb)
                p = _softmax(acts[-1])
                loss_sum += float(-(wb * (tb * np.log(p + 1e-12)).sum(1)).sum())
                g = (p - tb) * (wb / len(idx))[:, None]
                grads_W, grads_b = [None] * len(self.W), [None] * len(self.W)
                for i in range(len(self.W) - 1, -1, -1):
                    grads_W[i] = acts[i].T @ g + self.weight_decay * self.W[i]
                    grads_b[i] = g.sum(0)
                    if i > 0:
                        g = (g @ self.W[i].T) * (acts[i] > 0)
                # cosine learning-rate decay
                lr = self.lr * 0.5 * (1 + math.cos(math.pi * step / total))
                step += 1
                grads = grads_W + grads_b
                for j, (p_, g_) in enumerate(zip(params, grads)):
                    m[j] = b1 * m[j] + (1 - b1) * g_
                    v[j] = b2 * v[j] + (1 - b2) * (g_ * g_)
                    mh = m[j] / (1 - b1 ** step)
                    vh = v[j] / (1 - b2 ** step)
                    p_ -= (lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
            if self.verbose:
                log(f"    epoch {ep + 1:2d}/{self.epochs} loss={loss_sum / n:.4f} ({time.time() - t0:.1f}s)")
        # fold the input mask into the first layer: serving needs no extra op
        self.W[0] *= mask[:, None]
        return self


# --------------------------------------------------------------------------
# Novelty: squared distance to the nearest k-means centroid of NORMAL traffic
# --------------------------------------------------------------------------
class KMeansNovelty:
    """cat_weights: {field: w} scales a categorical one-hot block before the
    distance (0 = numeric features only for that field); needs
    set_slices(categorical_slices(schema)) when given."""

    def __init__(self, n_clusters=16, quantile=0.99, seed=0, cat_weights=None):
        self.n_clusters = n_clusters
        self.quantile = quantile
        self.seed = seed
        self.cat_weights = dict(cat_weights or {})
        self.w = None

    def set_slices(self, cat_slices, n_features):
        if self.cat_weights:
            w = np.ones(n_features, dtype=np.float32)
            for fi, (s0, s1) in enumerate(cat_slices):
                w[s0:s1] = float(self.cat_weights.get(CATEGORICAL[fi], 1.0))
            self.w = w
        return self

    def _x(self, X):
        Xc = clip(X).astype(np.float64)
        return Xc * self.w if self.w is not None else Xc

    def fit(self, X_normal, sample_weight=None):
        from sklearn.cluster import KMeans
        Xc = self._x(X_normal)
        km = KMeans(n_clusters=self.n_clusters, n_init=3, random_state=self.seed,
                    max_iter=300).fit(Xc, sample_weight=sample_weight)
        self.centroids = km.cluster_centers_.astype(np.float32)
        d = self.raw(X_normal)
        # novelty = d / scale; the quantile of the normal fit data maps to 1.0
        self.scale = float(np.quantile(d, self.quantile))
        return self

    def raw(self, X):
        Xc = self._x(X)
        C = self.centroids.astype(np.float64)
        d = (Xc * Xc).sum(1, keepdims=True) - 2 * Xc @ C.T + (C * C).sum(1)[None, :]
        return np.maximum(d.min(1), 0.0)

    def score(self, X):
        return self.raw(X) / self.scale

    def macs(self, n_in):
        return n_in * self.n_clusters + n_in + (n_in if self.w is not None else 0)


class PCANovelty:
    """Reconstruction error outside the top-k principal subspace of normal."""

    def __init__(self, n_components=12, quantile=0.99, seed=0):
        self.n_components = n_components
        self.quantile = quantile
        self.seed = seed

    def fit(self, X_normal):
        Xc = clip(X_normal).astype(np.float64)
        self.mu = Xc.mean(0)
        _, _, Vt = np.linalg.svd(Xc - self.mu, full_matrices=False)
        self.V = Vt[: self.n_components].T  # [F, k]
        self.scale = float(np.quantile(self.raw(X_normal), self.quantile))
        return self

    def raw(self, X):
        Z = clip(X).astype(np.float64) - self.mu
        P = Z @ self.V
        return np.maximum((Z * Z).sum(1) - (P * P).sum(1), 0.0)

    def score(self, X):
        return self.raw(X) / self.scale

    def macs(self, n_in):
        return n_in * self.n_components + 2 * n_in


# --------------------------------------------------------------------------
# ONNX graph
# --------------------------------------------------------------------------
OPSET = 17


def build_onnx(mlp: MLP, novelty, n_features: int, name="vigil-nslkdd-mlp",
               doc="", version="1.0.0") -> "onnx.ModelProto":
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def const(nm, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), nm))
        return nm

    # min(x, C) = C - relu(C - x)    (only Sub/Relu)
    const("clip_c", np.array([CLIP], dtype=np.float32))
    nodes += [
        helper.make_node("Sub", ["clip_c", "features"], ["clip_a"]),
        helper.make_node("Relu", ["clip_a"], ["clip_r"]),
        helper.make_node("Sub", ["clip_c", "clip_r"], ["x"]),
    ]
    h = "x"
    L = len(mlp.W)
    for i, (W, b) in enumerate(zip(mlp.W, mlp.b)):
        out = f"logits" if i == L - 1 else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, const(f"W{i}", W), const(f"b{i}", b)],
                                      [out], alpha=1.0, beta=1.0))
        if i < L - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"]))
            h = f"h{i}"
    nodes.append(helper.make_node("Softmax", ["logits"], ["class_probabilities"], axis=1))

    if isinstance(novelty, KMeansNovelty):
        C = novelty.centroids.astype(np.float64)
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"))
        if novelty.w is None:
            nodes += [
                helper.make_node("Mul", ["x", "x"], ["xsq"]),
                helper.make_node("ReduceSum", ["xsq", "axis1"], ["xnorm"], keepdims=1),
            ]
            B = -2.0 * C.T
        else:
            # the head's own feature space x*w without an extra pass over
            # [N, F]: |x*w|^2 = (x*x) . w^2 (a Gemm against [F, 1]) and
            # (x*w) . c = x . (w*c) (folded into the centroid matrix)
            w = novelty.w.astype(np.float64)
            nodes += [
                helper.make_node("Mul", ["x", "x"], ["xsq"]),
                helper.make_node("Gemm", ["xsq", const("km_w2", (w * w)[:, None])], ["xnorm"]),
            ]
            B = -2.0 * (C * w[None, :]).T
        nodes += [
            # -2 x.C^T + |C|^2
            helper.make_node("Gemm", ["x", const("km_B", B), const("km_c", (C * C).sum(1))],
                             ["km_cross"], alpha=1.0, beta=1.0),
            # min_k(|x|^2 + t_k) == |x|^2 + min_k t_k: reduce first, add on [N,1]
            helper.make_node("ReduceMin", ["km_cross"], ["km_cmin"], axes=[1], keepdims=1),
            helper.make_node("Add", ["km_cmin", "xnorm"], ["km_min"]),
            helper.make_node("Relu", ["km_min"], ["km_pos"]),
            helper.make_node("Mul", ["km_pos", const("nov_scale", [1.0 / novelty.scale])], ["novelty"]),
        ]
    elif isinstance(novelty, PCANovelty):
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"))
        nodes += [
            helper.make_node("Sub", ["x", const("pca_mu", novelty.mu)], ["pz"]),
            helper.make_node("Mul", ["pz", "pz"], ["pz2"]),
            helper.make_node("ReduceSum", ["pz2", "axis1"], ["pzn"], keepdims=1),
            helper.make_node("MatMul", ["pz", const("pca_V", novelty.V)], ["pp"]),
            helper.make_node("Mul", ["pp", "pp"], ["pp2"]),
            helper.make_node("ReduceSum", ["pp2", "axis1"], ["ppn"], keepdims=1),
            helper.make_node("Sub", ["pzn", "ppn"], ["perr"]),
            helper.make_node("Relu", ["perr"], ["perr_pos"]),
            helper.make_node("Mul", ["perr_pos", const("nov_scale", [1.0 / novelty.scale])], ["novelty"]),
        ]
    else:
        raise TypeError(type(novelty))

    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("class_probabilities", TensorProto.FLOAT, ["N", len(CLASSES)]),
         helper.make_tensor_value_info("novelty", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="vigil-train", producer_version=version,
                              doc_string=doc)
    model.ir_version = 8  # ONNX 1.10+ runtimes; opset 17 needs IR >= 8
    onnx.checker.check_model(model, full_check=True)
    return model


def ort_session(model_bytes: bytes, threads: int = 1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def ort_throughput(sess, X: np.ndarray, batch: int, min_time: float = 1.0, feeds=None) -> float:
    """Records/s of `sess` on rows of X tiled to `batch`; `feeds` turns one-hot rows
    into the session's inputs (default: the one-hot `features` input)."""
    reps = max(1, math.ceil(batch / len(X)))
    xb = np.ascontiguousarray(np.tile(X, (reps, 1))[:batch])
    inputs = feeds(xb) if feeds else {"features": xb}
    sess.run(None, inputs)
    n, t0 = 0, time.perf_counter()
    while True:
        sess.run(None, inputs)
        n += batch
        el = time.perf_counter() - t0
        if el >= min_time:
            return n / el


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------
def binary_metrics(y_true_attack: np.ndarray, score: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score
    t = y_true_attack.astype(bool)
    p = pred.astype(bool)
    tp = int((t & p).sum()); fp = int((~t & p).sum())
    fn = int((t & ~p).sum()); tn = int((~t & ~p).sum())
    prec = tp / max(tp + fp, 1)
    rec = tp / max(tp + fn, 1)
    return {
        "accuracy": (tp + tn) / len(t),
        "precision": prec,
        "recall": rec,
        "f1": 2 * prec * rec / max(prec + rec, 1e-12),
        "roc_auc": float(roc_auc_score(t, score)) if 0 < t.sum() < len(t) else float("nan"),
        "fpr_normal": fp / max(fp + tn, 1),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def stratified_split(labels: np.ndarray, test_frac: float, seed: int):
    """Stratified by raw label (so rare attack labels land on both sides)."""
    rng = np.random.default_rng(seed)
    tr, te = [], []
    for lab in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == lab)
        idx = idx[rng.permutation(len(idx))]
        n_te = int(round(len(idx) * test_frac))
        if len(idx) >= 2:
            n_te = min(max(n_te, 1), len(idx) - 1)
        else:
            n_te = 0
        te.append(idx[:n_te]); tr.append(idx[n_te:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(te))


# Held-out attack-type folds: one label per class where the class has enough
# labels (DoS, Probe, R2L, U2R). Every training attack label appears in
# exactly one fold.
HELDOUT_FOLDS = [
    ["smurf", "ipsweep", "guess_passwd", "buffer_overflow"],
    ["back", "nmap", "warezmaster", "rootkit"],
    ["teardrop", "portsweep", "imap", "loadmodule"],
    ["pod", "satan", "warezclient", "perl"],
    ["neptune", "land", "ftp_write", "multihop", "phf", "spy"],
]


# Held-out NORMAL groups: the model is trained without the normal records of
# the group and its FPR is measured on them (normal traffic unlike the
# training normals). Attacks of the group stay in training.
NORMAL_GROUPS = [("service", "http"), ("service", "private"), ("service", "domain_u"),
                 ("service", "smtp"), ("service", "ftp_data"), ("service", "other"),
                 ("protocol_type", "udp"), ("protocol_type", "icmp")]


def decide(score, novelty, threshold, novelty_threshold):
    """The Rust decision: threat = score >= t OR novelty >= n (n None = off)."""
    f = np.asarray(score) >= threshold
    if novelty_threshold is not None:
        f = f | (np.asarray(novelty) >= novelty_threshold)
    return f


def perturbed_views(schema, X, seed):
    """{(field, kind): X'} with kind 'other' (the field set to <other>) and
    'swap' (the field's one-hot taken from a random other record)."""
    rng = np.random.default_rng(seed)
    out = {}
    n = len(X)
    for fi, (s0, s1) in enumerate(categorical_slices(schema)):
        Xo = X.copy(); Xo[:, s0:s1] = 0.0; Xo[:, s1 - 1] = 1.0
        out[(CATEGORICAL[fi], "other")] = Xo
        perm = rng.permutation(n)
        Xs = X.copy(); Xs[:, s0:s1] = X[perm, s0:s1]
        out[(CATEGORICAL[fi], "swap")] = Xs
    return out


def shortcut_flips(base_flag, perturbed_flags, is_normal):
    """Share of decisions that flip under each perturbation (all records,
    and normal records only)."""
    res = {}
    for (field, kind), f in perturbed_flags.items():
        d = f != base_flag
        r = res.setdefault(field, {})
        r[f"{kind}_flip_rate"] = float(d.mean())
        r[f"{kind}_flip_rate_normal"] = float(d[is_normal].mean())
        r[f"{kind}_flip_rate_attack"] = float(d[~is_normal].mean())
    return res
