"""The one place external tools are started: argument lists, never a shell, always a timeout."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class ToolRun:
    """What happened when a tool ran. `problem` is set when it could not run properly."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self, limit: int = 600) -> str:
        """A one-paragraph account for an error message: the command, code and the tool's words."""
        words = (self.stderr.strip() or self.stdout.strip())[-limit:]
        head = self.problem or f"exited with code {self.returncode}"
        command = " ".join(self.argv[:1] + tuple(a for a in self.argv[1:4]))
        return f"{command} ...: {head}" + (f": {words}" if words else "")


def find_tool(name: str) -> str | None:
    """Locate a tool: first beside the running interpreter (mlgate's venv), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run_tool(
    argv: Sequence[str],
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ToolRun:
    """Run a tool and capture everything; a missing binary or a timeout becomes `problem`."""
    started = time.monotonic()
    exe = find_tool(argv[0])
    if exe is None:
        return ToolRun(tuple(argv), None, "", "", 0.0, f"{argv[0]}: command not found")
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(
            [exe, *argv[1:]],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout)
        err = _text(exc.stderr)
        elapsed = time.monotonic() - started
        return ToolRun(tuple(argv), None, out, err, elapsed, f"timed out after {timeout:g}s")
    except OSError as exc:
        return ToolRun(tuple(argv), None, "", "", time.monotonic() - started, str(exc))
    elapsed = time.monotonic() - started
    return ToolRun(tuple(argv), done.returncode, done.stdout, done.stderr, elapsed)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@functools.cache
def tool_version(name: str, distribution: str | None = None) -> str | None:
    """The version of a tool: from package metadata when it is installed beside mlgate,
    else from `NAME --version`. None when the tool is missing."""
    exe = find_tool(name)
    if exe is None:
        return None
    if distribution and Path(exe).parent == Path(sys.executable).parent:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            pass
    run = run_tool([name, "--version"], timeout=60)
    text = (run.stdout or run.stderr).strip().splitlines()
    return text[0].split()[-1] if text else None
