"""The model-file engine's exceptions, and its one deadline check."""

from __future__ import annotations

import time


class ScanTimeout(Exception):
    """The deadline passed while scanning."""


class FormatError(Exception):
    """The bytes are not what the format says (truncated, out of bounds, too deep)."""


class LimitReached(Exception):
    """An archive or decompression limit was reached; the rest is not scanned."""


def check_deadline(deadline: float | None, what: str = "scan timed out") -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ScanTimeout(what)
