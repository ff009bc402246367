"""What the commands share: the exit-code help, lazily read choices, common options, and the
way a command ends with an exit code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

# The choices are read from the registries only when an option is used or shown: `mlgate
# --version` and `--help` must not pay for the gates (issue 16).
# ruff: noqa: PLC0415

EXIT_CODES_HELP = """
\b
Exit codes:
  0  every gate the policy requires passed
  1  the policy blocked: at least one violation (each listed with its reason)
  2  usage or configuration error (bad option, invalid policy/config: file, line and key named)
  3  a gate could not run (tool missing, crashed, timed out, no network) and the
     policy treats errors as blocking; also an internal error in mlgate
"""


class LazyChoice(click.Choice):  # type: ignore[type-arg]
    """A choice whose values are read from a registry only when an option is used or shown."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._load())


def format_names() -> list[str]:
    from mlgate.report import FORMATS

    return sorted(FORMATS)


def target_names() -> list[str]:
    from mlgate.generate import TARGETS

    return list(TARGETS)


def gate_names() -> list[str]:
    from mlgate.gates import GATES

    return list(GATES)


class GateListCommand(click.Command):
    """A command whose help lists the gates (`{gates}` in its docstring), read when shown."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.help = (self.help or "").replace("{gates}", ", ".join(gate_names()))
        super().format_help_text(ctx, formatter)


FORMAT_OPTION = click.option(
    "--format",
    "formats",
    multiple=True,
    type=LazyChoice(format_names),
    help="Report format; repeat for several. Default: text.",
)
TRUSTED_CONFIG_OPTION = click.option(
    "--trusted-config",
    metavar="REF",
    help="Read the policy and .mlgate.yml from this git ref (the target branch of a pull "
    "request), not the working tree; each way the working tree's versions weaken them is a "
    "`policy-weakened` finding (blocks in production).",
)


def path_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--path DIR` (default: .), the repository a command works on."""
    return click.option(
        "--path",
        "path",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("."),
        help=help_text,
    )


PATH_OPTION = path_option("Repository root.")


SIGN_KEY_OPTION = click.option(
    "--sign-key",
    metavar="FILE|env:VAR",
    help="Sign the receipt with this Ed25519 private key (PEM; env:VAR reads it from an "
    "environment variable). Needs --output. See `mlgate keygen`.",
)


class Exit(Exception):
    """A command's documented exit code; `mlgate.cli.run_main` returns it."""

    def __init__(self, code: int) -> None:
        self.code = code


def exit_with(code: int) -> None:
    raise Exit(code)
