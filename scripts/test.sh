#!/usr/bin/env bash
# The README's test command (CI runs it too): set up the environment, then lint, type-check
# and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${VEIL_VENV:-.venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac  # VEIL_VENV may be absolute
export PATH="$venv/bin:$PATH"
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
rm -f .coverage
coverage run -m pytest -q -p no:cacheprovider "$@"
# The floor (pyproject.toml) applies to the whole suite, not to a selection of tests.
if [ "$#" -eq 0 ]; then
  echo "== coverage (branch, in-process)"
  total=$(coverage report --format=total --fail-under=0)
  floor=$(python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["tool"]["coverage"]["report"]["fail_under"])')
  echo "coverage ${total}% (floor ${floor}%)"
  if ! coverage report --format=total >/dev/null; then
    echo "error: coverage ${total}% is below the floor of ${floor}% in pyproject.toml" >&2
    exit 1
  fi
fi
