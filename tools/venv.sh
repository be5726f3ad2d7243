#!/usr/bin/env bash
# Makes a venv hold exactly a hashed lock: tools/venv.sh VENV LOCK [LOCK...]
# pip installs from the locks alone (--no-deps: nothing is resolved on the day, so the
# tree cannot float; --require-hashes: a file that differs from the lock fails), then
# `pip check` proves the locked tree is complete. The venv records the locks' digest and
# is rebuilt from scratch whenever it differs (a checkout's new mtimes alone do not).
set -euo pipefail
venv=$1; shift
python=${PYTHON:-python3}
digest=$(cat "$@" | sha256sum | cut -d' ' -f1)
stamp="$venv/.locked-sha256"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ] && exit 0

echo "venv: installing $* into $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
for lock in "$@"; do
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$lock"
done
"$venv/bin/pip" check --disable-pip-version-check
echo "$digest" >"$stamp"
