#!/usr/bin/env bash
# Create (or update) the project's virtual environment with veil and its development tools.
# Sourced by demo.sh and test.sh; safe to run on its own. VEIL_VENV overrides the location.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${VEIL_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating virtual environment $venv" >&2
  python3 -m venv "$venv"
fi
echo "== installing veil and its development tools into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# curl calls the apps over real TLS in the demo and the end-to-end tests.
if ! command -v curl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "== installing curl" >&2
  apt-get update -qq && apt-get install -y -qq curl >/dev/null
fi
