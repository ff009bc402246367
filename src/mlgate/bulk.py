"""Work over many findings at once (issue 16: 100,000 findings decided and written, 50,000
merged from shard reports)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from mlgate import errors


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for the block, and restore it after.

    Findings, reports and the json read back by `merge` are trees of dataclasses, dicts,
    lists and strings: no cycles, reference counting frees them. Building 100,000 of them
    made the collector walk every live object again and again: a third of the CPU of
    `merge` (50,000 findings: 5.6 s with it, 3.6 s without) and of writing the reports.
    Nested blocks are fine: only the outermost one re-enables the collector."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # The objects made in the block are all in the youngest generation, and the
            # next allocation would walk them all (0.1 s for a merge's 300,000). Freezing
            # then unfreezing moves every object to the oldest generation instead: two
            # list splices; a later full collection still sees them.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


FORK_FROM = 5_000  # findings: below this, writing every report takes a few hundredths of a second


class Forked:
    """`work()` done by a forked copy of this process while this one goes on; `result()`
    waits for it and returns what it returned (anything `json` can carry).

    For work that only Python can do and that splits in two: 100,000 findings written as
    six report formats take seconds of one core, and the machine has two. The copy shares
    every object already built (copy-on-write), so nothing is sent to it; it sends back a
    little JSON through a pipe and leaves with `os._exit`, running none of this process's
    exit handlers. `start` returns None where forking is unsafe or useless: no `fork`,
    one CPU, or another thread alive (a fork copies only the calling thread, and a lock
    another thread held stays held in the copy).

    The copy dies with this process (`PR_SET_PDEATHSIG` on Linux), a signal makes it unwind
    (`atomic` removes a half-written file), and `cancel` (or leaving the `with` block
    without `result()`) kills and reaps it: no process outlives the run.
    """

    def __init__(self, pid: int, reader: int) -> None:
        self.pid = pid
        self._reader = reader
        self._status: int | None = None

    peak_kb = 0  # the largest peak RSS a forked copy reported (KiB; the benchmark adds it)

    @classmethod
    def start(cls, work: Callable[[], Any]) -> Forked | None:
        if not _can_fork():
            return None
        reader, writer = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the copy leaves by os._exit: coverage never hears)
            os.close(reader)
            _run_copy(work, writer, parent)
        os.close(writer)
        return cls(pid, reader)

    def result(self) -> Any:
        """What `work()` returned. Raises the MlgateError it raised (same class and
        message), or ForkedError when it failed otherwise or was killed."""
        chunks = []
        try:
            while chunk := os.read(self._reader, 1 << 16):
                chunks.append(chunk)
        except BaseException:  # a signal while waiting: the copy is stopped, not waited for
            self.cancel()
            raise
        self._reap()
        answer = _answer(b"".join(chunks))
        if answer is not None and isinstance(answer.get("peak_kb"), int):
            Forked.peak_kb = max(Forked.peak_kb, answer["peak_kb"])
        if answer is not None and "error" in answer:
            kind = getattr(errors, answer["kind"], None)
            if isinstance(kind, type) and issubclass(kind, errors.MlgateError):
                raise kind(answer["error"], answer.get("hint"))
            raise ForkedError(answer["error"])
        if self._status != 0 or answer is None:
            raise ForkedError(_death(self._status))
        return answer["ok"]

    def cancel(self) -> None:
        """Kill the copy (SIGTERM: it unwinds, removing what it half wrote) and reap it."""
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self._reap()

    def _reap(self) -> None:
        if self._status is None:
            while True:
                try:
                    _, status = os.waitpid(self.pid, 0)
                except InterruptedError:  # pragma: no cover (PEP 475 retries it)
                    continue
                except ChildProcessError:  # reaped already (a subreaper's sweep)
                    status = -1
                break
            self._status = status
            os.close(self._reader)

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cancel()


class ForkedError(Exception):
    """The forked copy failed other than with an MlgateError (a bug), or was killed."""


def _can_fork() -> bool:
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) >= 2 if affinity is not None else (os.cpu_count() or 1) >= 2


def _run_copy(work: Callable[[], Any], writer: int, parent: int) -> NoReturn:  # pragma: no cover
    code = 1
    try:
        _die_with_parent(parent)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupted)
        try:
            answer: dict[str, Any] = {"ok": work()}
            code = 0
        except errors.MlgateError as exc:
            answer = {"error": exc.message, "hint": exc.hint, "kind": type(exc).__name__}
        except BaseException as exc:  # reported to the parent, which raises it
            answer = {"error": f"{type(exc).__name__}: {exc}", "kind": ""}
        import resource  # noqa: PLC0415 (Unix, as fork is)

        answer["peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        data = json.dumps(answer).encode("utf-8")
        while data:
            data = data[os.write(writer, data) :]
    finally:
        os._exit(code)


def _interrupted(signum: int, _frame: Any) -> None:  # pragma: no cover (in the copy)
    raise errors.Interrupted(signum)


def _die_with_parent(parent: int) -> None:  # pragma: no cover (in the copy)
    """Linux: SIGTERM this process when its parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415 (only a forked copy needs it)

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: reparented already
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _answer(data: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and ("ok" in answer or "error" in answer) else None


def _death(status: int | None) -> str:
    if status is not None and status >= 0 and os.WIFSIGNALED(status):
        return f"the forked report writer was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return "the forked report writer ended without an answer"
