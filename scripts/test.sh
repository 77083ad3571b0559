#!/usr/bin/env bash
# The README's test command (CI runs it too): set up the environment, then lint, type-check
# and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${VEIL_VENV:-.venv}"
export PATH="$PWD/$venv/bin:$PATH"
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
pytest -q -p no:cacheprovider "$@"
