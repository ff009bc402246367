#!/usr/bin/env bash
# Set up everything in .venv and run every check: ruff, mypy --strict, the semgrep rule-pack
# tests, and the pytest suite (which runs the real bandit, semgrep, pip-audit).
# Needs only Python 3.10+ and git. Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "mlgate needs Python 3.10 or newer (found: $("$PYTHON" --version 2>&1))" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# mlgate with its dev and data extras only: the scanners are not installed into .venv (their
# pins fight check-jsonschema's and the project's); mlgate installs them, hash-pinned from
# src/mlgate/tools.lock, into one environment per tool under MLGATE_TOOLS_DIR, shared by
# every test of the session and kept between runs.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,data]'
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install -q --disable-pip-version-check uv
export PATH="$PWD/.venv/bin:$PATH"
export MLGATE_TOOLS_DIR="${MLGATE_TOOLS_DIR:-$PWD/.venv/mlgate-tools}"
echo "== mlgate tools install (pinned scanners, into $MLGATE_TOOLS_DIR)"
mlgate tools install
# gitlab-ci-local (pinned; its shell executor needs rsync) runs the generated GitLab pipelines
# in tests/generate/test_pipeline_runs.py. 4.72.0 is the newest release that runs on Node 20.
GCL_VERSION=4.72.0
if ! command -v rsync >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq rsync >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq rsync >/dev/null; }
  fi
  command -v rsync >/dev/null \
    || { echo "the pipeline execution tests need rsync (gitlab-ci-local): install it" >&2; exit 2; }
fi
if ! .ci-tools/node_modules/.bin/gitlab-ci-local --version 2>/dev/null | grep -qx "$GCL_VERSION"; then
  npm install --prefix .ci-tools --no-audit --no-fund --silent "gitlab-ci-local@$GCL_VERSION"
fi
echo "== ruff"
ruff check src tests bench
ruff format --check src tests bench
echo "== mypy --strict"
mypy
echo "== semgrep --test (ML rule pack, the pinned semgrep)"
"$(mlgate tools path semgrep)" --test --disable-version-check --metrics=off policies/semgrep/rules
echo "== pytest (two workers; pass -n 0 to run in one process, e.g. with -s), with coverage"
# Coverage of src/mlgate, including the `python -m mlgate` processes the tests start (their
# data goes to one absolute file); MLGATE_COVERAGE=0 turns it off for a faster loop.
COVERAGE_ARGS=()
if [ "${MLGATE_COVERAGE:-1}" != 0 ]; then
  export COVERAGE_FILE="$PWD/.coverage"
  rm -f .coverage .coverage.*
  COVERAGE_ARGS=(--cov --cov-report=term)
fi
python -m pytest -n "${MLGATE_TEST_WORKERS:-2}" "${COVERAGE_ARGS[@]}" "$@"
