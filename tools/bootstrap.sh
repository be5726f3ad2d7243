#!/usr/bin/env bash
# System packages Vigil's make targets want on a Debian machine: python3-venv (for the
# tools' virtual environment), chromium and chromium-driver (the console page's test in
# a real browser), wrk (make bench's HTTP load) and, optionally, mold (a faster linker). Installs only what is
# missing, and only when it can (root, or sudo without a password).
set -euo pipefail

missing=()
command -v mold >/dev/null 2>&1 || missing+=(mold)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
# `tools/bootstrap.sh test` (make test): the browser too; `make run` needs none.
if [ "${1:-}" = test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
fi
# `tools/bootstrap.sh bench` (make bench): wrk, the HTTP load generator.
if [ "${1:-}" = bench ]; then
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "bootstrap: please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
  # mold is optional; the venv module and the browser are not.
  [[ " ${missing[*]} " == *" mold "* && ${#missing[@]} -eq 1 ]] && exit 0
  exit 1
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "bootstrap: no apt-get; please install: ${missing[*]}" >&2
fi
