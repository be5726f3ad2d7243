#!/usr/bin/env bash
# Runs a command with moto (DynamoDB, SNS, SQS over the wire) on a free loopback port,
# the standard AWS variables pointing at it, and stops moto afterwards, even on
# failure. Used by tools/test.sh and `make bench-attack`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
"$venv/bin/python" tools/moto_server.py -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto did not start:"; cat target/moto.log; exit 1; }
  sleep 0.2
done
echo "moto listening on 127.0.0.1:$port"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export VIGIL_TEST_AWS=1 VIGIL_WITH_MOTO=1
"$@"
