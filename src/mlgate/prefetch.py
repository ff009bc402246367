"""Work a run will need after its scanners end, done while they run (issue 16).

A cold run's wall time is the scanners' plus mlgate's own work before the first starts and
after the last ends. Work that no scanner's command line needs (loading the redaction
detectors) belongs in between: a `Prefetch` thread waits until the scanners have started
(`runner.StartingLine` wakes it once every gate that starts a tool has; it hears of each
start through `tools.noticing_starts`), then does it while the scanners run, on a core
they leave idle or in their I/O waits. Each task must be idempotent
and side-effect free but for caches (a `functools.cache` result, an import): whoever needs
the result later calls the same function and gets it at once. A task's exception is
dropped here: the caller that needs the result meets it again and reports it.

`finish()` ends it: a thread still waiting does nothing (the run had no scanner to start:
a warm run does the work itself only if it needs it), work that was woken is waited for (so
two threads never build the same thing at once).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

Task = Callable[[], object]


class Prefetch:
    """Runs `tasks` on a thread once `wake()` is called, unless `finish()` came first."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self._tasks = tuple(tasks)
        self._state = threading.Lock()  # guards _woken and _cancelled
        self._woken = False
        self._cancelled = False
        self._go = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlgate-prefetch", daemon=True)
        self.ran = False  # the tasks ran (tests)
        if self._tasks:
            self._thread.start()

    def wake(self) -> None:
        """A scanner has started: do the work now (from any thread, any number of times;
        after `finish()` it does nothing)."""
        with self._state:
            if self._cancelled:
                return
            self._woken = True
        self._go.set()

    def settle(self) -> None:
        """Before using what the tasks build: wait for them if they were woken (so that two
        threads never build the same thing at once); do not wait for a wake."""
        with self._state:
            woken = self._woken
        if woken and self._thread.is_alive():
            self._thread.join()

    def finish(self) -> None:
        """No more waiting: cancel the work if it was not woken, else wait for it to end."""
        with self._state:
            self._cancelled = not self._woken
        self._go.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        self._go.wait()
        with self._state:
            if self._cancelled:
                return
        for task in self._tasks:
            with contextlib.suppress(Exception):
                task()
        self.ran = True


@contextlib.contextmanager
def prefetching(tasks: Sequence[Task]) -> Iterator[Prefetch]:
    """A `Prefetch` of `tasks`, finished (cancelled or waited for) when the block ends."""
    prefetch = Prefetch(tasks)
    try:
        yield prefetch
    finally:
        prefetch.finish()
