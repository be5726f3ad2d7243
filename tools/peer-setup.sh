#!/usr/bin/env bash
# The Python peer for `make bench PEER=...`: its own venv (its requirements.txt) and
# its trained pipeline, made once under target/peer. Training reads DATA (KDDTrain+);
# nothing of it is kept but the peer's fitted pipeline and ONNX file.
set -euo pipefail
peer=$(cd "$1" && pwd)
data=${2:-}
out=target/peer
mkdir -p "$out"
if [ ! -x "$out/venv/bin/gunicorn" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install --quiet -r "$peer/requirements.txt"
fi
if [ ! -f "$out/mlp_pipeline.joblib" ]; then
  if [ -z "$data" ]; then
    echo "peer-setup: the peer is not trained yet; pass DATA=path/to/KDDTrain+.txt.gz" >&2
    exit 2
  fi
  (cd "$peer" && PEER_DIR="$OLDPWD/$out" NSLKDD="$(realpath "$OLDPWD/$data" 2>/dev/null || realpath "$data")" \
    OMP_NUM_THREADS=1 "$OLDPWD/$out/venv/bin/python" train.py)
fi
