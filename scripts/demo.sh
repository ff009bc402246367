#!/usr/bin/env bash
# Set up mlgate in .venv and run it on the two bundled examples:
# examples/insecure-ml is blocked (exit 1), examples/churn-model passes (exit 0).
# Needs only Python 3.10+ and git.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv || exit 2
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[data]' || exit 2
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install -q --disable-pip-version-check uv || exit 2
# The examples' own tests and predict command run in "the repository's interpreter"
# ($VIRTUAL_ENV, see README); for the demo that is this venv, which has pandas and pytest.
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
# The scanners: hash-pinned, one environment per tool (src/mlgate/tools.lock).
export MLGATE_TOOLS_DIR="${MLGATE_TOOLS_DIR:-$PWD/.venv/mlgate-tools}"
.venv/bin/mlgate tools install || exit 3
# Offline vulnerability data: the operator's $MLGATE_ADVISORY_DB, else `mlgate db update`'s
# cache, else the small attributed subset bundled for the examples (examples/advisory-db,
# CC-BY 4.0), so the demo needs no network and reads nothing outside the clone.
if [ -z "${MLGATE_ADVISORY_DB:-}" ] \
  && [ -z "$(.venv/bin/python -c 'from mlgate.deps.dbupdate import cached_db; print(cached_db() or "")')" ]; then
  export MLGATE_ADVISORY_DB="$PWD/examples/advisory-db"
fi
echo "vulnerability data: ${MLGATE_ADVISORY_DB:-mlgate db update cache}"
# Each example must end as the README says; anything else fails the demo.
status=0
for pair in insecure-ml:1 churn-model:0; do
  example=${pair%%:*} expected=${pair##*:}
  echo "=================== mlgate run examples/$example"
  .venv/bin/mlgate run "examples/$example"
  code=$?
  if [ "$code" -eq "$expected" ]; then
    echo "=================== exit code: $code (as expected)"
  else
    echo "=================== exit code: $code, expected $expected: DEMO FAILED" >&2
    status=1
  fi
done
exit "$status"
