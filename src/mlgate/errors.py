"""One base error; each subsystem's error knows the exit code the CLI maps it to."""

from __future__ import annotations

import signal

EXIT_PASS = 0
EXIT_BLOCKED = 1
EXIT_USAGE = 2
EXIT_GATE_ERROR = 3


class MlgateError(Exception):
    """A fatal, expected error: the CLI prints it on one line and exits with `exit_code`."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(MlgateError):
    """An invalid policy or .mlgate.yml: the message names the file, line and key."""


class UsageError(MlgateError):
    """A bad command-line argument (unknown gate, missing path, ...)."""


class AdvisoryDBError(MlgateError):
    """The offline advisory database is missing, unreadable or could not be updated."""


class ReportError(MlgateError):
    """A report could not be read (merge) or written."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; the CLI exits with 128 + the signal's number (raised by
    `lifecycle.on_signal`; defined here so the CLI can catch it without importing the
    process machinery, which `mlgate --help` does not need)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum
