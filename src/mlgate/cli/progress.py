"""Progress while gates run: a live line per gate on a terminal, plain lines elsewhere.

Part of the command line (only the CLI prints): writes to stderr only, so stdout stays
the report (json can be piped).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from mlgate.gates import GateResult

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.table import Table

# rich is imported only for a live display on a terminal: a quiet or piped run (CI, the
# benchmark) does not pay for it.
# ruff: noqa: PLC0415

ProgressCallback = Callable[[str, GateResult | None], None]


class Progress:
    """Context manager; `update` is the runner's progress callback (thread-safe)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.console: Console | None = None
        self.live_mode = False
        if enabled and _may_be_terminal():
            from rich.console import Console

            self.console = Console(stderr=True)
            self.live_mode = self.console.is_terminal and not self.console.is_dumb_terminal
        self._started: dict[str, float] = {}
        self._done: dict[str, GateResult] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            from rich.live import Live

            self._live = Live(
                self._table(), console=self.console, refresh_per_second=8, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)

    def update(self, gate: str, result: GateResult | None) -> None:
        if not self.enabled:
            return
        with self._lock:
            if result is None:
                self._started[gate] = time.monotonic()
            else:
                self._done[gate] = result
            if self._live is not None:
                self._live.update(self._table())
            else:
                self._plain(gate, result)

    def _plain(self, gate: str, result: GateResult | None) -> None:
        line = (
            f"mlgate: {gate}: started" if result is None else f"mlgate: {gate}: {_summary(result)}"
        )
        print(line, file=sys.stderr, flush=True)

    def _table(self) -> Table:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for gate, started in self._started.items():
            result = self._done.get(gate)
            mark: Spinner | str = Spinner("dots") if result is None else "✓"
            elapsed = result.seconds if result else now - started
            state = "running" if result is None else _summary(result)
            table.add_row(mark, gate, f"{elapsed:5.1f}s", state)
        return table


def _may_be_terminal() -> bool:
    """Whether rich could see a terminal on stderr (a TTY, or one forced by rich's env)."""
    forced = ("FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    return sys.stderr.isatty() or any(os.environ.get(name) for name in forced)


def _summary(result: GateResult) -> str:
    if result.errors:
        errors = len(result.errors)
        return (
            f"could not run ({errors} error(s)), {len(result.findings)} finding(s), "
            f"{result.seconds:.1f}s"
        )
    if result.skipped:
        return f"skipped: {result.skipped}"
    return f"done, {len(result.findings)} finding(s), {result.seconds:.1f}s"
