#!/usr/bin/env bash
# Create the project's virtual environment, installing Debian's venv package when it is missing.
set -euo pipefail
python="$1"
venv="$2"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; install Python 3.11 or newer (apt-get install python3)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Python 3.11 or newer is needed, $python is $("$python" --version 2>&1)" >&2
  exit 1
fi
if [ -x "$venv/bin/python" ]; then
  exit 0
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  package="python$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
  echo "venv is missing: installing $package" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "error: run 'apt-get install $package' as root, then retry" >&2; exit 1
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "$package" || $sudo apt-get install -y -qq python3-venv
  "$python" -m venv "$venv"
fi
