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
# The scanners: hash-pinned, one environment per tool (src/mlgate/tools.lock).
export MLGATE_TOOLS_DIR="${MLGATE_TOOLS_DIR:-$PWD/.venv/mlgate-tools}"
.venv/bin/mlgate tools install || exit 3
# Offline vulnerability data: $MLGATE_ADVISORY_DB, else a PyPA advisory-db checkout beside
# the repo, else `mlgate db update`'s cache, else pip-audit online.
if [ -z "${MLGATE_ADVISORY_DB:-}" ] && [ -d ../shared/advisory-db ]; then
  export MLGATE_ADVISORY_DB="$PWD/../shared/advisory-db"
fi
for example in insecure-ml churn-model; do
  echo "=================== mlgate run examples/$example"
  .venv/bin/mlgate run "examples/$example"
  echo "=================== exit code: $?"
done
