"""The served form of the model: the one-hot graph `vigil_ml.build_onnx` writes,
rewritten to take the categorical features as slot indices.

Of the 125 inputs, 87 are the one-hot slots of protocol_type, service and flag, and a
record has exactly three of them set. Multiplying that vector by a weight matrix is
the sum of three of its rows, so the rewritten graph takes

    numeric     float32 [N, 38]   the standardised numeric block (as before)
    categories  int64   [N, 3]    each categorical feature's slot among the 87
                                  (its block's offset + its position, <other> last)

and gathers, from one table, the rows that the first MLP layer, the novelty head's
cross term (-2 x.C^T, with the head's per-feature weights) and its squared norm need,
then adds the numeric block's own products. Row 87 of the table is zeros: "no
category", which the explanations' occlusion uses. The arithmetic is the same sums in
another order (outputs agree to ~1e-5); the work is a third (about 2,200
multiply-adds a record instead of 6,500), and tract runs it 1.5x faster.

The graph keeps `logits` as a named value, so a runtime may take the logits and do
the five-way softmax itself (Vigil does: tract's softmax runs once per 5-wide row).

    python model/gather.py IN.onnx OUT.onnx    (the CLI is for trying it on a file)
"""
import numpy as np

N_NUMERIC = 38
INPUTS = {"numeric": "numeric", "categories": "categories"}
OUTPUTS = {"logits": "logits", "class_probabilities": "class_probabilities", "novelty": "novelty"}


def to_gather_form(model, n_numeric=N_NUMERIC):
    """`model` (an onnx.ModelProto from build_onnx: clip, MLP, k-means novelty)
    rewritten as described above."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    if "km_B" not in init:
        raise ValueError("only the k-means novelty head has a gather form")
    W0, b0 = init["W0"], init["b0"]
    c = init["km_c"]
    # The head's per-feature weights, in either form build_onnx writes: folded into
    # the centroid matrix with the squares as a [F, 1] Gemm (km_w2), or as a Mul of
    # the input (km_w), or none.
    if "km_w2" in init:
        B, sq = init["km_B"], init["km_w2"][:, 0]
    elif "km_w" in init:
        w = init["km_w"]
        B, sq = w[:, None] * init["km_B"], w ** 2
    else:
        B, sq = init["km_B"], np.ones(W0.shape[0])
    H, K = W0.shape[1], B.shape[1]
    # One table row per one-hot slot: first-layer weights, the head's cross-term
    # weights, its weighted square (a one-hot's square is 1); then the zero row.
    table = np.concatenate([W0[n_numeric:], B[n_numeric:], sq[n_numeric:, None]], axis=1)
    table = np.vstack([table, np.zeros((1, table.shape[1]))])

    inits, nodes = [], []

    def const(name, arr, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    const("clip_c", init["clip_c"])
    const("axis1", [1], np.int64)
    layers = sum(1 for k in init if k.startswith("W") and k[1:].isdigit())
    nodes += [
        # min(x, C) = C - relu(C - x), on the numeric block (one-hots are 0 or 1)
        helper.make_node("Sub", ["clip_c", "numeric"], ["clip_a"]),
        helper.make_node("Relu", ["clip_a"], ["clip_r"]),
        helper.make_node("Sub", ["clip_c", "clip_r"], ["xn"]),
        helper.make_node("Gather", [const("cat_table", table), "categories"], ["cat_rows"], axis=0),
        helper.make_node("ReduceSum", ["cat_rows", "axis1"], ["cat_sum"], keepdims=0),
        helper.make_node("Split", ["cat_sum", const("cat_split", [H, K, 1], np.int64)],
                         ["cat_h", "cat_cross", "cat_sq"], axis=1),
        helper.make_node("Gemm", ["xn", const("W0", W0[:n_numeric]), const("b0", b0)], ["z0_num"]),
        helper.make_node("Add", ["z0_num", "cat_h"], ["z0"]),
        helper.make_node("Relu", ["z0"], ["h0"]),
    ]
    h = "h0"
    for i in range(1, layers):
        out = "logits" if i == layers - 1 else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, const(f"W{i}", init[f"W{i}"]), const(f"b{i}", init[f"b{i}"])], [out]))
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"]))
            h = f"h{i}"
    nodes += [
        helper.make_node("Softmax", ["logits"], ["class_probabilities"], axis=1),
        # |x*w|^2 = (x*x) . w^2, numeric part by Gemm, categorical part gathered
        helper.make_node("Mul", ["xn", "xn"], ["xsq"]),
        helper.make_node("Gemm", ["xsq", const("km_w2", sq[:n_numeric, None])], ["xnorm_num"]),
        helper.make_node("Add", ["xnorm_num", "cat_sq"], ["xnorm"]),
        # -2 (x*w).C^T + |C|^2, likewise
        helper.make_node("Gemm", ["xn", const("km_B", B[:n_numeric]), const("km_c", c)], ["km_cross_num"]),
        helper.make_node("Add", ["km_cross_num", "cat_cross"], ["km_cross"]),
        helper.make_node("ReduceMin", ["km_cross"], ["km_cmin"], axes=[1], keepdims=1),
        helper.make_node("Add", ["km_cmin", "xnorm"], ["km_min"]),
        helper.make_node("Relu", ["km_min"], ["km_pos"]),
        helper.make_node("Mul", ["km_pos", const("nov_scale", init["nov_scale"])], ["novelty"]),
    ]
    graph = helper.make_graph(
        nodes, model.graph.name,
        [helper.make_tensor_value_info("numeric", TensorProto.FLOAT, ["N", n_numeric]),
         helper.make_tensor_value_info("categories", TensorProto.INT64, ["N", 3])],
        [helper.make_tensor_value_info("class_probabilities", TensorProto.FLOAT, ["N", 5]),
         helper.make_tensor_value_info("novelty", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    out = helper.make_model(graph, opset_imports=list(model.opset_import),
                            producer_name=model.producer_name,
                            producer_version=model.producer_version,
                            doc_string=model.doc_string)
    out.ir_version = model.ir_version
    onnx.checker.check_model(out, full_check=True)
    return out


def served_inputs(schema, X):
    """The gather form's inputs for one-hot rows X, laid out as `schema` says."""
    return inputs_of(X, len(schema["numeric"]), [len(b["values"]) + 1 for b in schema["categorical"]])


def macs(model):
    """Multiply-adds per record of a gather-form graph: its Gemms, plus an add per
    gathered table entry."""
    from onnx import numpy_helper
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Gemm":
            total += int(np.prod(init[node.input[1]].shape))
        if node.op_type == "Gather":
            total += 3 * init[node.input[0]].shape[1]
    return total


def inputs_of(X, n_numeric=N_NUMERIC, blocks=(4, 71, 12)):
    """The gather form's inputs for one-hot rows X [N, 125] (blocks: each categorical
    block's width, <other> included)."""
    X = np.asarray(X)
    numeric = np.ascontiguousarray(X[:, :n_numeric], dtype=np.float32)
    cats, offset = [], 0
    for width in blocks:
        block = X[:, n_numeric + offset:n_numeric + offset + width]
        cats.append(offset + block.argmax(axis=1))
        offset += width
    return {"numeric": numeric, "categories": np.stack(cats, axis=1).astype(np.int64)}


if __name__ == "__main__":
    import sys

    import onnx

    onnx.save(to_gather_form(onnx.load(sys.argv[1])), sys.argv[2])
