#!/usr/bin/env bash
# Generated-request testing: runs schemathesis (every check, every operation, stateful
# links) against a vigil-local built by `cargo test`, with an admin token, and fails on
# any server error or any response that breaks openapi.json.
# Usage: tools/schemathesis.sh [path/to/vigil-local]   (default: target/debug/vigil-local)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
bin=${1:-target/debug/vigil-local}
examples=${VIGIL_SCHEMATHESIS_EXAMPLES:-80}
report=target/schemathesis
rm -rf "$report"
mkdir -p "$report"

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin_password="schemathesis-admin-$RANDOM-$RANDOM"
VIGIL_ADMIN_PASSWORD="$admin_password" VIGIL_STORE=embedded RUST_LOG=warn \
  "$bin" --port "$port" >"$report/vigil-local.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$base/health')" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "vigil-local did not start:"; cat "$report/vigil-local.log"; exit 1; }
  sleep 0.2
done

token=$(ADMIN_PASSWORD="$admin_password" "$venv/bin/python" - "$base" <<'PY'
import json, os, sys, urllib.request
body = json.dumps({"username": "admin", "password": os.environ["ADMIN_PASSWORD"]}).encode()
req = urllib.request.Request(sys.argv[1] + "/auth/login", body, {"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["token"])
PY
)

# The token is a secret of this throw-away server only; schemathesis masks it in output.
#
# One worker, on purpose. On CPython 3.11 `ast.parse` keeps its recursion counter in
# state shared by every thread (CPython gh-106905, fixed in 3.12+ only), and hypothesis
# parses schemathesis' source each time it describes a `.filter(lambda ...)`: with two
# worker threads, runs died at random with "SystemError: AST constructor recursion depth
# mismatch" (schemathesis reports it as a Runtime Error). With one they do not.
set +e
"$venv/bin/st" --config-file tools/schemathesis.toml run "$base/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --max-examples "$examples" \
  --seed "${VIGIL_SCHEMATHESIS_SEED:-20261126}" \
  --workers 1 \
  --generation-database none \
  --report junit,ndjson --report-dir "$report" \
  --no-color 2>&1 | tee "$report/run.log"
status=${PIPESTATUS[0]}
set -e
"$venv/bin/python" - "$report" <<'PY' || true
import glob, json, sys
sent = 0
ops = set()
for path in glob.glob(sys.argv[1] + "/*.ndjson"):
    for line in open(path):
        event = json.loads(line)
        # Every interaction the run recorded is one HTTP request.
        for case in (event.get("ScenarioFinished") or {}).get("recorder", {}).get("interactions", {}).values():
            sent += 1
            req = case.get("request", {})
            ops.add((req.get("method"), req.get("uri", "").split("?")[0]))
print(f"schemathesis: {sent} requests recorded")
PY
# A crash inside schemathesis or hypothesis is no verdict on Vigil, and never a pass:
# say which it was, and fail either way.
if grep -q '^Runtime Error' "$report/run.log" 2>/dev/null; then
  echo "schemathesis: TOOL ERROR: schemathesis crashed in its own code (see 'Runtime Error' above);" \
       "this run proves nothing about Vigil" >&2
  exit 3
fi
exit "$status"
