"""One way to put a file in place: write a temporary file beside it, then rename it over.

A reader never sees half a file; a failure or an interruption (a signal raising in the
middle) leaves the old file and no temporary file behind. Reports, receipts, generated
pipelines, cache entries, hook scripts and rewritten tool scripts all go through here.
"""

from __future__ import annotations

import os
from pathlib import Path

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def stage(
    target: Path, data: str | bytes, *, create_mode: int = 0o666, mode: int | None = None
) -> Path:
    """Write `data` (text as UTF-8, newlines untranslated) to a new temporary file beside
    `target` and return its path, not yet in place. `create_mode` is the mode it is created
    with (less the umask, as for any new file); `mode`, when given, is set exactly after.
    OSError when it cannot be written; the temporary file is removed on any failure."""
    tmp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(tmp, _FLAGS, create_mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        if mode is not None:
            os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write(
    target: Path, data: str | bytes, *, create_mode: int = 0o666, mode: int | None = None
) -> Path:
    """Put `data` at `target` atomically (see `stage`); OSError when it cannot."""
    tmp = stage(target, data, create_mode=create_mode, mode=mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
