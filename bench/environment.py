"""The environment under test: mlgate, its tools and their versions."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.common import BENCH_GATES, FIXED_DATE, PROBE, RAW_TOOLS, REPO_ROOT, RULES_DIR

# --- environment --------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    python: str
    mlgate_version: str
    gates: tuple[str, ...]  # the benchmarked gates present in this mlgate
    other_gates: tuple[str, ...]  # present, not benchmarked (no raw-tool counterpart)
    rules: Path
    tools: Mapping[str, str | None]  # raw tool -> executable (None: not installed)
    versions: Mapping[str, str | None]
    advisory_db: Path | None
    source: str  # where mlgate is imported from, and which commit
    pythonpath: str | None = None  # a frozen copy of src/ (--snapshot)

    def child_env(self) -> dict[str, str]:
        env = base_env()
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (self.pythonpath, env.get("PYTHONPATH")) if p
            )
        return env


def find_tool(name: str) -> str | None:
    """The executable mlgate runs: a scanner's pinned environment (installed if missing),
    anything else beside the running interpreter, then on PATH."""
    try:
        from mlgate.tools import find_tool as mlgate_find_tool  # noqa: PLC0415
    except ImportError:  # bench runs without mlgate importable: the old lookup
        beside = Path(sys.executable).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
        return shutil.which(name)
    return mlgate_find_tool(name)


def base_env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    # PYTHONDONTWRITEBYTECODE: measured like an installed mlgate, which has its bytecode
    for name in (
        "GITHUB_STEP_SUMMARY",
        "MLGATE_ADVISORY_DB",
        "MLGATE_CACHE_DIR",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    return env


def tool_version(name: str, exe: str | None) -> str | None:
    """From package metadata when the tool is installed beside this interpreter (`semgrep
    --version` may spend a minute looking for a newer release when offline), else --version."""
    if exe is None:
        return None
    if Path(exe).parent == Path(sys.executable).parent:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
    env = {**base_env(), "SEMGREP_ENABLE_VERSION_CHECK": "0"}
    try:
        done = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=120, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].split()[-1] if lines else None


def discover(advisory_db: Path | None, pythonpath: str | None) -> Env:
    env = Env(sys.executable, "", (), (), RULES_DIR, {}, {}, advisory_db, "", pythonpath)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env.child_env(),
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: cannot import mlgate with {sys.executable}:\n{done.stderr}")
    probe = json.loads(done.stdout)
    present = list(probe["gates"])
    tools = {name: find_tool(name) for name in RAW_TOOLS}
    versions = {name: tool_version(name, exe) for name, exe in tools.items()}
    return Env(
        python=sys.executable,
        mlgate_version=str(probe["version"]),
        gates=tuple(g for g in BENCH_GATES if g in present),
        other_gates=tuple(g for g in present if g not in BENCH_GATES),
        rules=Path(probe["rules"]),
        tools=tools,
        versions=versions,
        advisory_db=advisory_db,
        source=_source_of(Path(probe["file"]), pythonpath),
        pythonpath=pythonpath,
    )


def _source_of(module: Path, pythonpath: str | None) -> str:
    """`commit` (+ `, uncommitted changes`) of this checkout, and whether mlgate is a copy."""
    try:
        head = git(REPO_ROOT, "rev-parse", "--short", "HEAD").strip()
        dirty = bool(git(REPO_ROOT, "status", "--porcelain", "--", "src", "policies").strip())
    except (RuntimeError, OSError):
        head, dirty = "no git", False
    where = "a snapshot of this checkout" if pythonpath else str(module.parent)
    return f"{head}{' + uncommitted changes' if dirty else ''}, imported from {where}"


def snapshot_source(tmp: Path) -> str:
    """A frozen copy of src/ and the data folders: others may edit the tree during a run."""
    target = tmp / "snapshot"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "src", target / "src", ignore=skip)
    for data in ("policies", "pipeline_templates"):
        if (REPO_ROOT / data).is_dir():
            shutil.copytree(REPO_ROOT / data, target / data, ignore=skip)
    return str(target / "src")


def default_advisory_db() -> Path | None:
    given = os.environ.get("MLGATE_ADVISORY_DB")
    candidates = [Path(given)] if given else []
    # never a sibling of the checkout: the attributed subset shipped for the examples
    candidates.append(REPO_ROOT / "examples" / "advisory-db")
    return next((c.resolve() for c in candidates if (c / "vulns").is_dir()), None)


def git(root: Path, *args: str) -> str:
    env = {
        **base_env(),
        "GIT_AUTHOR_DATE": FIXED_DATE,
        "GIT_COMMITTER_DATE": FIXED_DATE,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    config = [
        "-c",
        "user.name=mlgate-bench",
        "-c",
        "user.email=bench@example.invalid",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "core.autocrlf=false",
    ]
    done = subprocess.run(
        ["git", *config, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {done.stderr.strip()}")
    return done.stdout
