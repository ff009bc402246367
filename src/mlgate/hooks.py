"""The git pre-push hook: `mlgate run --env dev` on what is being pushed.

The hook goes where git looks for hooks (`git rev-parse --git-path hooks`, which honours
`core.hooksPath`). A hook that is not ours is never overwritten silently: `--force`
replaces it, `--chain` keeps it and runs it first.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from mlgate import atomic, git
from mlgate.errors import UsageError

MARKER = "# mlgate-hook v1"
CHAINED = "pre-push.mlgate-chained"
HOOK = "pre-push"
MODES = ("full", "changed")

_SCRIPT = """#!/bin/sh
{marker}
# Installed by `mlgate hook install --mode {mode}`; remove with `mlgate hook uninstall`.
# Runs mlgate's gates with the dev policy before every push. To push anyway, on purpose:
#   git push --no-verify
hooks_dir=$(dirname "$0")
input=$(cat)
if [ -x "$hooks_dir/{chained}" ]; then
  printf '%s\\n' "$input" | "$hooks_dir/{chained}" "$@" || exit $?
fi
since=""
if [ "{mode}" = "changed" ]; then
  # the remote's commit of the first ref pushed; a new branch has none: scan everything
  remote_sha=$(printf '%s\\n' "$input" | awk 'NF == 4 {{ print $4; exit }}')
  case "$remote_sha" in
    ""|0000000000000000000000000000000000000000) ;;
    *) git cat-file -e "$remote_sha^{{commit}}" 2>/dev/null && since="--since=$remote_sha" ;;
  esac
fi
{python} -m mlgate run --env dev --quiet $since
status=$?
if [ "$status" -ne 0 ]; then
  echo "" >&2
  echo "mlgate blocked this push (exit $status): see the reasons above." >&2
  echo "  details:          mlgate run --env dev --format json" >&2
  echo "  push on purpose:  git push --no-verify" >&2
fi
exit $status
"""


@dataclass(frozen=True)
class HookChange:
    path: Path
    action: str  # installed, replaced, chained, removed, restored


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks in the repo at root (core.hooksPath respected)."""
    try:
        path = Path(git.output(root, "rev-parse", "--git-path", "hooks").strip())
    except git.GitError as exc:
        raise UsageError(f"{root}: not a git repository (hooks need one)") from exc
    return path if path.is_absolute() else (root / path)


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install(root: Path, mode: str, force: bool = False, chain: bool = False) -> list[HookChange]:
    if mode not in MODES:
        raise UsageError(f"unknown hook mode {mode!r} (modes: {', '.join(MODES)})")
    folder = hooks_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / HOOK
    changes: list[HookChange] = []
    if target.exists() and not is_ours(target):
        if chain:
            target.replace(folder / CHAINED)
            changes.append(HookChange(folder / CHAINED, "chained"))
        elif not force:
            raise UsageError(
                f"{target}: a pre-push hook that mlgate did not write is already there",
                hint="--chain keeps it and runs it first; --force replaces it",
            )
        else:
            changes.append(HookChange(target, "replaced"))
    _write_executable(target, _script(mode))
    changes.append(HookChange(target, "installed"))
    return changes


def uninstall(root: Path) -> list[HookChange]:
    folder = hooks_dir(root)
    target = folder / HOOK
    if not target.exists():
        return []
    if not is_ours(target):
        raise UsageError(f"{target}: this pre-push hook was not written by mlgate; left alone")
    target.unlink()
    changes = [HookChange(target, "removed")]
    chained = folder / CHAINED
    if chained.exists():
        chained.replace(target)
        changes.append(HookChange(target, "restored"))
    return changes


def _script(mode: str) -> str:
    python = shlex.quote(sys.executable)
    return _SCRIPT.format(marker=MARKER, mode=mode, chained=CHAINED, python=python)


def _write_executable(target: Path, text: str) -> None:
    atomic.write(target, text, create_mode=0o777)  # executable, less the umask
