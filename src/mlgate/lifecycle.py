"""Every process mlgate starts and every temporary directory it makes: tracked, and gone on
every way out — a normal end, a timeout, an error, SIGINT or SIGTERM.

Each tool runs in a session of its own (its own process group), so one signal reaches the
tool and every child that stayed in its group. A child can leave the group (`setsid()`),
so each run also carries a token in its environment (`MLGATE_TOOL_RUN`): when the tool
ends, times out or is interrupted, mlgate kills its group and then every process on the
machine that carries the token (Linux: read from `/proc`). The CLI also makes mlgate a
child subreaper (`PR_SET_CHILD_SUBREAPER`): an escapee whose parent has exited is
re-parented to mlgate instead of init, so it can be reaped, and at exit mlgate kills every
child it still has.

Temporary directories are made with `temp_dir`, which removes them when the block ends;
`shutdown` removes the ones still open (a gate thread cut short by a signal).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.errors import Interrupted

RUN_VAR = "MLGATE_TOOL_RUN"  # names the run a process belongs to
_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")
_SWEEP_ROUNDS = 20  # each round kills one more generation of escapees

_lock = threading.RLock()
_live: dict[int, str] = {}  # pid of a running tool -> its token
_temp_dirs: set[Path] = set()
# token -> the tool's start time (clock ticks after boot, /proc/PID/stat field 22): a process
# carrying the token descends from the tool, so it started no earlier; older processes'
# environments are not read (a sweep runs after every tool, and /proc holds every process).
_born: dict[str, int] = {}
_stopping = threading.Event()


def on_signal(signum: int, _frame: Any) -> None:
    """The CLI's SIGINT/SIGTERM handler: kill every tool tree now, then unwind."""
    stop()
    raise Interrupted(signum)


class Stopping(Exception):
    """mlgate is stopping (SIGINT/SIGTERM): no new process may start."""


def stopping() -> bool:
    return _stopping.is_set()


def enable_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def start(
    argv: Sequence[str], env: Mapping[str, str], **popen: Any
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a tool in its own session, tracked; returns the process and its token."""
    token = os.urandom(8).hex()
    with _lock:
        if _stopping.is_set():
            raise Stopping("mlgate is stopping: the tool was not started")
        proc: subprocess.Popen[bytes] = subprocess.Popen(  # nosec B603: argv list
            list(argv), env={**env, RUN_VAR: token}, start_new_session=True, **popen
        )
        _live[proc.pid] = token
        _born[token] = _start_tick(_stat_fields(proc.pid))
    return proc, token


def finish(proc: subprocess.Popen[bytes], token: str) -> None:
    """The tool is done (or given up on): kill its group and every process with its token."""
    with _lock:
        _live.pop(proc.pid, None)
        born = _born.pop(token, 0)
    _kill_group(proc.pid)
    if proc.returncode is None:
        with contextlib.suppress(ChildProcessError, OSError):
            proc.wait(timeout=5)
    mark = f"{RUN_VAR}={token}"
    _sweep(lambda _pid, env: mark in env, {proc.pid}, born=born)


def stop() -> None:
    """A signal arrived: refuse new processes and kill every running tool's whole tree."""
    _stopping.set()
    with _lock:
        running = dict(_live)
    for pid in running:
        _kill_group(pid)
    marks = {f"{RUN_VAR}={t}" for t in running.values()}
    _sweep(lambda _pid, env: any(m in env for m in marks), set(running))


def shutdown(grace: float = 1.0) -> None:
    """Leave nothing behind: kill what runs, wait up to `grace` s for the gate threads to
    unwind, remove the temporary directories still registered, reap every child left."""
    stop()
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    with _lock:
        leftovers = list(_temp_dirs)
        _temp_dirs.clear()
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    _sweep(lambda _pid, _env: True, set(), children_only=True)


def reap_orphans() -> None:
    """At the end of a run: kill and reap every child mlgate still has (none should)."""
    _sweep(lambda _pid, _env: True, set(), children_only=True)


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory removed when the block ends, or by `shutdown` on a signal."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    with _lock:
        _temp_dirs.add(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with _lock:
            _temp_dirs.discard(path)


# --- killing ------------------------------------------------------------------------------


def _kill_group(pgid: int) -> None:
    if not hasattr(os, "killpg") or pgid == os.getpgrp():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _sweep(
    match: Any,
    groups: set[int],
    children_only: bool = False,
    rounds: int = _SWEEP_ROUNDS,
    born: int = 0,
) -> None:
    """Kill the processes `match(pid, environ)` selects (and their groups), round after round
    (a killed escapee's children are the next round's); reap those that are mlgate's.
    `born`: only processes started at or after that tick can match (zombies are reaped)."""
    if not _PROC.is_dir():
        return
    me = os.getpid()
    for _ in range(rounds):
        with _lock:
            live = set(_live)
        found = []
        for pid, ppid, pgrp, zombie, started in _processes():
            if pid == me or pid in live or (children_only and ppid != me):
                continue
            if zombie:
                if ppid == me and (children_only or pgrp in groups):
                    _reap(pid)
                continue
            if started >= born and match(pid, _environ(pid)):
                found.append((pid, ppid, pgrp))
        if not found:
            return
        for pid, _ppid, pgrp in found:
            groups.add(pgrp)
            _kill_group(pgrp)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid, ppid, _pgrp in found:
            if ppid == me:
                _reap(pid)
            else:
                _wait_gone(pid)


def _processes() -> Iterator[tuple[int, int, int, bool, int]]:
    """(pid, parent pid, process group, is a zombie, start tick) of every process /proc
    shows (start tick 0 when unknown: such a process is never skipped)."""
    for name in os.listdir(_PROC):
        if not name.isdigit():
            continue
        fields = _stat_fields(name)
        if len(fields) < 3:
            continue
        yield int(name), int(fields[1]), int(fields[2]), fields[0] == "Z", _start_tick(fields)


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...)."""
    raw = _read_proc(f"{pid}/stat")
    return raw.rpartition(b")")[2].decode("ascii", "replace").split() if raw else []


def _start_tick(fields: list[str]) -> int:
    """A process's start time (stat field 22, clock ticks after boot); 0 when unknown."""
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else 0


def _environ(pid: int) -> str:
    return _read_proc(f"{pid}/environ").decode("utf-8", "replace")


def _read_proc(rel: str) -> bytes:
    """A /proc file's bytes (b'' when unreadable); plain os calls, as a sweep reads hundreds."""
    try:
        fd = os.open(f"{_PROC}/{rel}", os.O_RDONLY)
    except OSError:
        return b""
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def _wait_gone(pid: int, limit: float = 1.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and (_PROC / str(pid)).exists():
        time.sleep(0.005)
