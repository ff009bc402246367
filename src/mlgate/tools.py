"""The one place external tools are started: argument lists, never a shell, always a timeout."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO


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


# Set by the CLI for --verbose: called with every command line before it runs.
_observers: list[Callable[[Sequence[str]], None]] = []


def observe_commands(callback: Callable[[Sequence[str]], None]) -> None:
    """Register a callback that sees each tool command line (the CLI prints them)."""
    _observers.append(callback)


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
    for observer in _observers:
        observer([exe, *argv[1:]])
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


def package_version(distribution: str) -> str | None:
    """The installed version of a Python distribution beside mlgate, or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


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


# --- a monitored run: the process tree's wall time and peak memory ------------------------

_POLL_FIRST = 0.001  # seconds; doubles up to _POLL_MAX so short commands are timed closely
_POLL_MAX = 0.02
_OUTPUT_LIMIT = 1 << 20  # characters of captured output kept in memory


@dataclass(frozen=True)
class MeasuredRun:
    """A ToolRun plus the peak resident memory of the tool's process tree.

    `peak_rss_mb` is the larger of the polled sum over the whole tree (needs psutil) and
    the kernel's exact peak of the largest single process (`wait4`); None when neither
    could be read. `tree_polled` tells whether the whole tree was polled.
    """

    run: ToolRun
    peak_rss_mb: float | None
    tree_polled: bool


def run_tool_measured(
    argv: Sequence[str],
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout_path: Path | None = None,
) -> MeasuredRun:
    """Like `run_tool`, but watch the process tree's memory while it runs.

    The tool runs in its own session so a timeout kills the whole tree. Output goes to
    temporary files (no pipe can fill up); with `stdout_path`, stdout is written there
    byte for byte instead of being captured (for binary output such as a git blob).
    """
    exe = find_tool(argv[0])
    if exe is None:
        return MeasuredRun(
            ToolRun(tuple(argv), None, "", "", 0.0, f"{argv[0]}: command not found"), None, False
        )
    for observer in _observers:
        observer([exe, *argv[1:]])
    with tempfile.TemporaryFile() as out_tmp, tempfile.TemporaryFile() as err_tmp:
        out = stdout_path.open("wb") if stdout_path is not None else out_tmp
        try:
            watched = _watch(
                [exe, *argv[1:]], timeout, cwd, {**os.environ, **(env or {})}, out, err_tmp
            )
        finally:
            if out is not out_tmp:
                out.close()
        returncode, seconds, peak, polled, problem = watched
        stdout = "" if stdout_path is not None else _tail(out_tmp)
        run = ToolRun(tuple(argv), returncode, stdout, _tail(err_tmp), seconds, problem)
    return MeasuredRun(run, None if peak is None else peak / (1024 * 1024), polled)


# returncode, seconds, peak RSS in bytes, whether the tree was polled, problem
_Watched = tuple[int | None, float, int | None, bool, str | None]


def _watch(
    argv: list[str],
    timeout: float,
    cwd: Path | None,
    env: Mapping[str, str],
    out: IO[bytes],
    err: IO[bytes],
) -> _Watched:
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    except OSError as exc:
        return None, time.monotonic() - started, None, False, str(exc)
    poll = _tree_rss_poller()
    tree_peak, interval = 0, _POLL_FIRST
    while True:
        reaped = _reap(proc)
        if reaped is not None:
            code, own_peak = reaped
            seconds = time.monotonic() - started
            _kill_group(proc.pid)  # leftovers the tool started and did not wait for
            return code, seconds, _max_known(tree_peak, own_peak), poll is not None, None
        if poll is not None:
            tree_peak = max(tree_peak, poll(proc.pid))
        if time.monotonic() - started > timeout:
            _kill_group(proc.pid)
            reaped = _reap(proc, block=True)
            own_peak = reaped[1] if reaped else None
            seconds = time.monotonic() - started
            return (
                None,
                seconds,
                _max_known(tree_peak, own_peak),
                poll is not None,
                f"timed out after {timeout:g}s",
            )
        time.sleep(interval)
        interval = min(interval * 2, _POLL_MAX)


def _reap(proc: subprocess.Popen[bytes], block: bool = False) -> tuple[int, int | None] | None:
    """(exit code, the kernel's peak RSS in bytes) once the process ended, else None."""
    if not hasattr(os, "wait4"):  # not POSIX: no per-child rusage
        code = proc.wait() if block else proc.poll()
        return None if code is None else (code, None)
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return proc.returncode, usage.ru_maxrss * scale


def _tree_rss_poller() -> Callable[[int], int] | None:
    """A function summing the RSS of a process and all its descendants (None without psutil)."""
    try:
        import psutil  # noqa: PLC0415 (optional: installed with mlgate[data])
    except ImportError:
        return None

    def tree_rss(pid: int) -> int:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    return tree_rss


def _kill_group(pid: int) -> None:
    if not hasattr(os, "killpg"):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _max_known(tree_peak: int, own_peak: int | None) -> int | None:
    known = [v for v in (tree_peak, own_peak) if v]
    return max(known) if known else None


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - _OUTPUT_LIMIT))
    return handle.read().decode("utf-8", "replace")
