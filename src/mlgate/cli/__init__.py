"""The command line: the only layer that parses options, shows progress, prints and maps
outcomes to exit codes. One module per command group; the core they call returns data.

`mlgate.cli:main` runs a command line (the `mlgate` command and `python -m mlgate` reach it
through `mlgate.__main__`, which answers `--version` alone); `run_main` runs one in-process.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from mlgate import __version__
from mlgate.cli.common import EXIT_CODES_HELP, Exit
from mlgate.cli.lazy import COMMANDS, LazyGroup
from mlgate.errors import EXIT_GATE_ERROR, EXIT_USAGE, Interrupted, MlgateError

# ruff: noqa: PLC0415

__all__ = ["EXIT_CODES_HELP", "cli", "exit_process", "main", "run_main"]


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="mlgate")
def cli() -> None:
    """mlgate: security and quality gates for machine-learning repositories.

    Runs the gates (sast: bandit and semgrep with an ML rule pack, notebooks
    included; secrets; models: static pickle/PyTorch/Keras scanning; deps:
    offline OSV database or pip-audit; data: contracts and drift; model: metrics
    and budgets) under one YAML policy, turns the results into one decision with
    reasons, and generates the CI pipelines that run them (init, generate).
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: one handler maps every outcome to a documented exit code.

    SIGINT and SIGTERM kill every tool mlgate started (whole process trees), remove its
    temporary directories and exit within about a second with 130 or 143; reports are
    written atomically, so `--output` never holds a partial file.
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    if args in ([], ["--help"], ["-h"]):  # the list of commands: nothing runs, nothing to stop
        sys.exit(_dispatch(argv))
    from mlgate import lifecycle

    lifecycle.enable_subreaper()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lifecycle.on_signal)
    code = run_main(argv)
    if lifecycle.stopping():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        lifecycle.shutdown(grace=1.0)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # gate threads still busy in pure Python must not delay the exit
    lifecycle.reap_orphans()
    exit_process(code)


def exit_process(code: int) -> NoReturn:
    """End the process with `code`, skipping the interpreter's teardown when nothing needs
    it: freeing a few hundred modules takes 30 to 50 ms, a tenth of a warm run (issue 16).

    The exit handlers run (tempfile's finalizers, say) and the streams are flushed first.
    With a thread of mlgate's still alive, a stream that cannot be flushed, or a profiler or
    tracer at work (`python -m cProfile`, coverage: they write their data after the program
    returns), the usual exit runs instead."""
    import atexit
    import threading

    watched = sys.getprofile() is not None or sys.gettrace() is not None or _monitored()
    if threading.active_count() == 1 and not watched:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def _monitored() -> bool:
    """Whether a tool uses `sys.monitoring` (Python 3.12+: cProfile, coverage's sysmon core)."""
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(i) for i in range(6))


def run_main(argv: Sequence[str] | None) -> int:
    """Run the command; everything it prints to stdout and stderr has its secrets redacted
    (`--version` and `--help` print only mlgate's own text: no detectors are loaded)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    if not args or {"--version", "--help", "-h"} & set(args):
        return _dispatch(argv)
    from mlgate import cache
    from mlgate.cli import environment
    from mlgate.redact import redacted_streams

    cache.configure(environment.cache_dir())
    with redacted_streams():
        return _dispatch(argv)


def _dispatch(argv: Sequence[str] | None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except Exit as done:
        return done.code
    except MlgateError as exc:
        click.echo(f"mlgate: error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"mlgate: hint: {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("mlgate: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE if exc.exit_code == 2 else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        from mlgate import lifecycle

        lifecycle.stop()
        return 130
    except Interrupted as stopped:
        from mlgate.redact import already_redacted

        with already_redacted():  # mlgate's own words: no time spent loading the detectors
            click.echo(f"mlgate: interrupted ({stopped}): tools stopped, nothing written", err=True)
        return stopped.exit_code
    except Exception as exc:  # the last line of defence: one line, never a traceback
        click.echo(
            f"mlgate: internal error: {type(exc).__name__}: {exc} "
            "(please report it; set MLGATE_DEBUG=1 for the traceback)",
            err=True,
        )
        if os.environ.get("MLGATE_DEBUG"):
            raise
        return EXIT_GATE_ERROR
    return 0
