"""The one place external tools are started: argument lists, never a shell, always a timeout."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from mlgate import lifecycle, toolenv


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


CommandWatcher = Callable[[Sequence[str]], None]
_T = TypeVar("_T")
# Who sees each command line before it runs, in this context (no global list: a callback
# given for one block of work, carried into the threads started with `submit`).
_watcher: contextvars.ContextVar[CommandWatcher | None] = contextvars.ContextVar(
    "mlgate_command_watcher", default=None
)


@contextlib.contextmanager
def watching_commands(callback: CommandWatcher | None) -> Iterator[None]:
    """Within this block, `callback` sees every tool command line before it starts (the
    CLI's --verbose prints them; tests record them). Threads started with `submit` see it."""
    token = _watcher.set(callback)
    try:
        yield
    finally:
        _watcher.reset(token)


# Who is told that a tool process has started, in this context (carried like the watcher):
# the run's `mlgate.prefetch` thread starts its work then.
_start_listener: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "mlgate_tool_start_listener", default=None
)


@contextlib.contextmanager
def noticing_starts(callback: Callable[[], None] | None) -> Iterator[None]:
    """Within this block, `callback` is called each time a tool process has started
    (threads started with `submit` see it), after the listener of an enclosing block."""
    listeners = tuple(f for f in (_start_listener.get(), callback) if f is not None)

    def each() -> None:
        for listener in listeners:
            listener()

    token = _start_listener.set(each if listeners else None)
    try:
        yield
    finally:
        _start_listener.reset(token)


def _started() -> None:
    listener = _start_listener.get()
    if listener is not None:
        listener()


def submit(pool: Executor, fn: Callable[..., _T], *args: Any) -> Future[_T]:
    """`pool.submit(fn, *args)` in a copy of the caller's context (its command watcher)."""
    return pool.submit(contextvars.copy_context().run, fn, *args)


def _announce(argv: Sequence[str]) -> None:
    watcher = _watcher.get()
    if watcher is not None:
        watcher(list(argv))


def find_tool(name: str) -> str | None:
    """Locate a tool. A scanner mlgate pins (bandit, semgrep, pip-audit, detect-secrets) comes
    from its own environment (installed on first use, see toolenv.py) unless it is configured
    as `system`; anything else is found beside the running interpreter, then on PATH."""
    if toolenv.is_managed(name):
        return toolenv.executable(name)
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
    """Run a tool and capture everything; a missing binary or a timeout becomes `problem`.

    The tool runs in its own session with its output in temporary files (a child that
    keeps the tool's stdout open cannot make mlgate wait); when it ends, times out or
    mlgate is interrupted, its whole process tree is killed (see `mlgate.lifecycle`).
    """
    started = time.monotonic()
    exe = find_tool(argv[0])
    if exe is None:
        return ToolRun(tuple(argv), None, "", "", 0.0, missing_problem(argv[0]))
    full_env = {**os.environ, **(env or {})}
    _announce([exe, *argv[1:]])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc, token = lifecycle.start(
                [exe, *argv[1:]],
                full_env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        except (OSError, lifecycle.Stopping) as exc:
            return ToolRun(tuple(argv), None, "", "", time.monotonic() - started, str(exc))
        problem: str | None = None
        try:
            _started()
            wait_for_exit(proc, timeout)
        except subprocess.TimeoutExpired:
            problem = f"timed out after {timeout:g}s"
        finally:
            lifecycle.finish(proc, token)
        if problem is None and lifecycle.stopping():
            problem = "stopped: mlgate was interrupted"
        elapsed = time.monotonic() - started
        code = None if problem else proc.returncode
        return ToolRun(tuple(argv), code, _read(out), _read(err), elapsed, problem)


def wait_for_exit(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """`proc.wait(timeout)`, woken by the process's end (a pidfd, Linux 5.3+) rather than by
    `Popen.wait`'s polling, which with a timeout sleeps up to 50 ms between two looks: each
    tool's end was noticed 25 ms late on average, the last one's at the end of the run
    (issue 16). `subprocess.TimeoutExpired` when it has not ended in `timeout` seconds."""
    pidfd_open = getattr(os, "pidfd_open", None)
    try:
        fd = pidfd_open(proc.pid) if pidfd_open is not None else None
    except OSError:  # no pidfds in this kernel
        fd = None
    if fd is None:
        proc.wait(timeout=timeout)
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(math.ceil(max(0.0, timeout) * 1000)):  # milliseconds
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    proc.wait()  # it has ended: reaped at once


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


# --- tools that report JSON: batched arguments, a shape check ------------------------------

# Key path ("paths.scanned") -> the JSON type every real report of the tool has there.
JsonShape = Mapping[str, type]
_ARG_MAX = os.sysconf("SC_ARG_MAX") if hasattr(os, "sysconf") else 32_767  # Windows: chars
_POINTER = 8  # bytes the kernel's argv/envp arrays take per entry


@dataclass(frozen=True)
class JsonReport:
    """A tool's JSON report over every target (batches merged), or why there is none."""

    data: dict[str, Any]
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def run_json_tool(
    argv: Sequence[str],
    targets: Sequence[str],
    timeout: float,
    shape: JsonShape,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
) -> JsonReport:
    """Run a tool that prints a JSON report over `targets` (after `--`), fail closed.

    Targets are split into batches that fit the OS limit on a command line (50,000 paths
    fail with "Argument list too long" otherwise); each batch's output must parse and have
    every key of `shape` with its type (`{}` is not an empty report, it is not a report),
    and the batches' reports are merged (lists joined, mappings united). `timeout` covers
    all batches.
    """
    deadline = time.monotonic() + timeout
    merged: dict[str, Any] = {}
    for batch in argument_batches(targets, argument_budget([*argv, "--"], env)):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return JsonReport(merged, f"{argv[0]}: timed out after {timeout:g}s")
        run = run_tool([*argv, "--", *batch] if targets else list(argv), remaining, cwd, env)
        data = json_output(run, ok_codes, shape)
        if isinstance(data, str):
            return JsonReport(merged, data)
        merged = merge_json(merged, data)
    return JsonReport(merged)


def json_output(run: ToolRun, ok_codes: Sequence[int], shape: JsonShape) -> dict[str, Any] | str:
    """The tool's JSON report, or a one-line reason (naming the tool) why it is unusable."""
    if not run.ok or run.returncode not in ok_codes:
        return run.describe()
    try:
        data = json.loads(run.stdout)
    except json.JSONDecodeError:
        return f"unparseable output: {run.describe()}"
    problem = shape_problem(data, shape)
    if problem is not None:
        return f"not a {run.argv[0]} report ({problem}): {run.describe(200)}"
    assert isinstance(data, dict)  # nosec B101: shape_problem checked it
    return data


def shape_problem(data: Any, shape: JsonShape) -> str | None:
    """Why `data` lacks the shape (a missing key, a wrong type), or None when it has it."""
    if not isinstance(data, dict):
        return f"the top level is {_json_type(data)}, not an object"
    for path, kind in shape.items():
        value: Any = data
        for key in path.split("."):
            value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            return f"no `{path}`"
        if not isinstance(value, kind):
            return f"`{path}` is {_json_type(value)}, not {_json_type(kind())}"
    return None


_MISSING = object()


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def merge_json(base: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """Two batches' reports as one: lists are joined, objects united, other values kept."""
    merged = dict(base)
    for key, value in more.items():
        old = merged.get(key)
        if isinstance(old, list) and isinstance(value, list):
            merged[key] = old + value
        elif isinstance(old, dict) and isinstance(value, dict):
            merged[key] = merge_json(old, value)
        elif key not in merged:
            merged[key] = value
    return merged


def argument_budget(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Bytes of targets one command line may carry: half of what the OS leaves after the
    environment and the fixed arguments (the rest is margin for what the tool adds)."""
    environ = {**os.environ, **(env or {})}
    used = sum(len(os.fsencode(f"{k}={v}")) + 1 + _POINTER for k, v in environ.items())
    used += sum(len(os.fsencode(a)) + 1 + _POINTER for a in argv)
    return max(4096, (_ARG_MAX - used) // 2)


def argument_batches(targets: Sequence[str], budget: int) -> Iterator[list[str]]:
    """`targets` in order, in batches of at most `budget` bytes of arguments (at least one
    target per batch); one empty batch when there are no targets."""
    batch: list[str] = []
    size = 0
    for target in targets:
        cost = len(os.fsencode(target)) + 1 + _POINTER
        if batch and size + cost > budget:
            yield batch
            batch, size = [], 0
        batch.append(target)
        size += cost
    if batch or not targets:
        yield batch


def unscanned(given: Iterable[str], reported: Iterable[str]) -> list[str]:
    """The targets a tool was given that its report does not say it scanned (`./` ignored)."""
    said = {_strip_dot(p) for p in reported}
    return [t for t in given if _strip_dot(t) not in said]


def _strip_dot(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def coverage_problem(tool: str, given: Sequence[str], reported: Iterable[str]) -> str | None:
    """A gate error when the tool's report leaves out some of the files it was given."""
    missing = unscanned(given, reported)
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    return (
        f"{tool}: its report does not cover {len(missing)} of the {len(given)} file(s) it "
        f"was given, so they were not scanned: {shown}"
    )


def missing_problem(name: str) -> str:
    """Why a tool could not be started: its environment's problem, or not found."""
    return toolenv.problem(name) or f"{name}: command not found"


def package_version(distribution: str) -> str | None:
    """The installed version of a Python distribution beside mlgate, or None."""
    from importlib import metadata  # noqa: PLC0415 (20 ms; a warm run reads no metadata)

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def tool_version(name: str, distribution: str | None = None) -> str | None:
    """The version of a tool: a pinned scanner's pinned version; else from package metadata
    when it is installed beside mlgate, else from `NAME --version`. None when it is missing."""
    if toolenv.is_managed(name):
        return toolenv.version(name)
    exe = find_tool(name)
    if exe is None:
        return None
    if distribution and Path(exe).parent == Path(sys.executable).parent:
        from importlib import metadata  # noqa: PLC0415

        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            pass
    return cli_version(name)


# `TOOL --version` must not phone home: semgrep's check for a newer release costs ~95 s offline.
QUIET_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}


def cli_version(exe: str) -> str | None:
    """The last word of the first line `EXE --version` prints (None when it prints nothing)."""
    run = run_tool([exe, "--version"], timeout=60, env=QUIET_ENV)
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
            ToolRun(tuple(argv), None, "", "", 0.0, missing_problem(argv[0])), None, False
        )
    _announce([exe, *argv[1:]])
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
        proc, token = lifecycle.start(
            argv, env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    except (OSError, lifecycle.Stopping) as exc:
        return None, time.monotonic() - started, None, False, str(exc)
    try:
        return _poll(proc, started, timeout)
    finally:
        lifecycle.finish(proc, token)  # leftovers the tool started and did not wait for


def _poll(proc: subprocess.Popen[bytes], started: float, timeout: float) -> _Watched:
    """Wait for the tool, polling its tree's memory; kill the tree on timeout."""
    poll = _tree_rss_poller()
    tree_peak, interval = 0, _POLL_FIRST
    while True:
        reaped = _reap(proc)
        if reaped is not None:
            code, own_peak = reaped
            seconds = time.monotonic() - started
            problem = "stopped: mlgate was interrupted" if lifecycle.stopping() else None
            peak = _max_known(tree_peak, own_peak)
            return None if problem else code, seconds, peak, poll is not None, problem
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
