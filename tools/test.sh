#!/usr/bin/env bash
# Every test: with moto (DynamoDB, SNS, SQS, the API Gateway Management API over the
# wire) on a free loopback port (tools/with-moto.sh), runs the Rust tests against it,
# lints the template, runs schemathesis against vigil-local and the console page in
# headless Chromium, and the model pipeline's own tests (synthetic data, no dataset).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ -z "${VIGIL_WITH_MOTO:-}" ]; then
  exec tools/with-moto.sh "$0" "$@"
fi

export SAM_CLI_TELEMETRY=0

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== template lint"
PATH="$PWD/$venv/bin:$PATH" sam validate --lint --template template.yaml
"$venv/bin/cfn-lint" template.yaml
"$venv/bin/cfn-lint" tools/deploy-role.yaml
"$venv/bin/python" tools/check_template.py template.yaml
# GitHub's workflow schema ships with check-jsonschema (no download).
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml

echo "== cargo test"
# The output is kept to print one total at the end (cargo prints one line per binary).
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee target/cargo-test.log
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' target/cargo-test.log | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '; ([0-9]+) failed' target/cargo-test.log | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')

echo "== schemathesis (vigil-local against openapi.json)"
# The vigil-local binary `cargo test` just built (its integration tests need it).
set +e
tools/schemathesis.sh target/debug/vigil-local 2>&1 | tee target/schemathesis.log
st_status=${PIPESTATUS[0]}
set -e
generated=$(grep -Eo '[0-9]+ generated' target/schemathesis.log | tail -1)

echo "== browser (the live console in headless Chromium)"
set +e
"$venv/bin/python" tools/browser_test.py target/debug/vigil-local 2>&1 | tee target/browser.log
browser_status=${PIPESTATUS[0]}
set -e

echo "== model (feedback retraining and the served form's checks, synthetic data only)"
set +e
( OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 model/.venv/bin/python model/test_feedback.py \
  && model/.venv/bin/python model/check_schema.py --dir model ) 2>&1 | tee target/model-test.log
model_status=${PIPESTATUS[0]}
set -e

echo
echo "tests: $passed passed, $failed failed"
case $st_status in
  0) st_verdict=passed ;;
  3) st_verdict="TOOL ERROR (schemathesis crashed in its own code)" ;;
  *) st_verdict="FAILED (exit $st_status)" ;;
esac
echo "schemathesis: ${generated:-no} requests, $st_verdict"
echo "browser: $([ "$browser_status" -eq 0 ] && echo passed || echo FAILED)"
echo "model: $([ "$model_status" -eq 0 ] && echo passed || echo FAILED)"
[ "$status" -eq 0 ] && [ "$st_status" -eq 0 ] && [ "$browser_status" -eq 0 ] && [ "$model_status" -eq 0 ]
