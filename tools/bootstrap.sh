#!/usr/bin/env bash
# System packages Vigil's make targets want on a Debian machine: python3-venv (for the
# tools' virtual environment) and, optionally, mold (a faster linker). Installs only
# what is missing, and only when it can (root, or sudo without a password).
set -euo pipefail

missing=()
command -v mold >/dev/null 2>&1 || missing+=(mold)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "bootstrap: please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
  # mold is optional; a missing venv module is not.
  [[ " ${missing[*]} " == *" python3-venv "* ]] && exit 1
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "bootstrap: no apt-get; please install: ${missing[*]}" >&2
fi
