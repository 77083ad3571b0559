#!/usr/bin/env bash
# Set up a virtual environment with veil and its test tools, then run lint, types and tests.
# This is the README's test command; CI runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VEIL_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[dev]'
# curl is used by the end-to-end tests to call apps over real TLS.
if ! command -v curl >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq curl >/dev/null
  fi
fi
export PATH="$PWD/$venv/bin:$PATH"
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
pytest -q -p no:cacheprovider "$@"
