"""`mlgate run`: the options of a run, the gates run and decided, the report emitted."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate.cli.common import (
    EXIT_CODES_HELP,
    FORMAT_OPTION,
    SIGN_KEY_OPTION,
    TRUSTED_CONFIG_OPTION,
    GateListCommand,
    exit_with,
    gate_names,
)
from mlgate.cli.output import (
    check_formats,
    emit,
    prepare_output,
    signing_key,
    write_provenance,
)
from mlgate.errors import UsageError

if TYPE_CHECKING:
    from mlgate.core import Progress, RunOptions, RunOutcome

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@dataclass(frozen=True)
class RunCommand:
    """`mlgate run`'s options: what the core runs, and what the CLI does with the report."""

    run: RunOptions
    formats: tuple[str, ...] = ("text",)
    output: Path | None = None
    receipt: bool = True
    quiet: bool = False
    sign_key: str | None = None  # FILE or env:VAR: sign the receipt (Ed25519)


@click.command(cls=GateListCommand, epilog=EXIT_CODES_HELP)
@click.argument("path", required=False, default=".")
@click.argument("gates", nargs=-1)
@click.option(
    "--env",
    "env",
    metavar="NAME",
    help="Target environment in the policy (dev, staging, production, ...).",
)
@click.option(
    "--policy",
    "policy",
    type=click.Path(path_type=Path),
    help="Policy file (default: .mlgate/policy.yml, else the built-in default pack).",
)
@FORMAT_OPTION
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each format to DIR under a fixed name (mlgate.json, ...); "
    "text still goes to stdout.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="CPU count",
    help="Gates run in parallel.",
)
@click.option(
    "--advisory-db",
    type=click.Path(path_type=Path, file_okay=False),
    help="Offline OSV advisory database for the deps gate (also MLGATE_ADVISORY_DB).",
)
@click.option(
    "--changed-only",
    is_flag=True,
    help="Scan only files changed relative to the upstream branch (git).",
)
@click.option(
    "--since", metavar="REF", help="Scan only files changed since REF (git), e.g. origin/main."
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Do not reuse or store cached results (cache: the user cache dir, or MLGATE_CACHE_DIR).",
)
@click.option(
    "--shard",
    metavar="I/N",
    callback=lambda _c, _p, v: _parse_shard(v),
    help="Scan only shard I of N of the files (round-robin over sorted paths), "
    "for parallel CI jobs; combine with `mlgate merge`.",
)
@TRUSTED_CONFIG_OPTION
@click.option(
    "--no-receipt",
    is_flag=True,
    help="Write no receipt.json even when the run passes (CI gate jobs: only the job that "
    "merges and decides writes one).",
)
@SIGN_KEY_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No progress lines, only the report.")
@click.option("--verbose", "-v", is_flag=True, help="Also print every tool command line (stderr).")
@click.option(
    "--offline",
    is_flag=True,
    help="Never install a missing scanner environment: it is a gate error (also MLGATE_OFFLINE=1).",
)
def run(
    path: str,
    gates: tuple[str, ...],
    env: str | None,
    policy: Path | None,
    formats: tuple[str, ...],
    output: Path | None,
    jobs: int,
    advisory_db: Path | None,
    changed_only: bool,
    since: str | None,
    no_cache: bool,
    shard: tuple[int, int] | None,
    trusted_config: str | None,
    no_receipt: bool,
    sign_key: str | None,
    quiet: bool,
    verbose: bool,
    offline: bool,
) -> None:
    """Run the gates over PATH (default: .) and decide.

    GATE... limits the run to the named gates (default: every gate the policy
    enables). Gates: {gates}.

    With --changed-only or --since, only changed files are scanned and only findings
    in them are reported; dependency files are audited only when they changed. A
    passing run with --output also writes DIR/receipt.json (see `mlgate verify`),
    signed with --sign-key; --output always writes the ML-BOM, DIR/mlgate.cdx.json.
    """
    path, gates = _split_path_and_gates(path, gates)
    if changed_only and since:
        raise UsageError("use either --changed-only or --since REF, not both")
    from mlgate.cli import environment
    from mlgate.cli.tools import operator_tool_settings
    from mlgate.core import UPSTREAM, RunOptions

    options = RunOptions(
        Path(path),
        gates,
        env,
        policy,
        jobs,
        advisory_db or environment.advisory_db(),
        since if since else (UPSTREAM if changed_only else None),
        not no_cache,
        shard,
        trusted_config,
        operator_tool_settings(offline, quiet),
    )
    command = RunCommand(options, formats or ("text",), output, not no_receipt, quiet, sign_key)
    from mlgate.cli.progress import Progress
    from mlgate.tools import watching_commands

    show = (lambda argv: click.echo("$ " + shlex.join(argv), err=True)) if verbose else None
    with watching_commands(show), Progress(enabled=not quiet) as progress:
        code = execute_run(command, progress.update)
    exit_with(code)


def _split_path_and_gates(path: str, gates: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`mlgate run sast` means the gate sast in the current directory."""
    if path in gate_names() and not Path(path).is_dir():
        return ".", (path, *gates)
    return path, gates


def execute_run(command: RunCommand, on_progress: Progress | None = None) -> int:
    from mlgate.cache import ResultCache
    from mlgate.redact import remembering_clean_strings

    check_formats(command.formats, command.output)
    key = signing_key(command.sign_key, command.output)
    prepare_output(command.output)
    options = replace(command.run, prefetch=(*command.run.prefetch, _writers(command.formats)))
    if command.output is not None:
        options = replace(options, writes_bom=True)
        if _first_bom(options.use_cache):
            prefetch = (*options.prefetch, _load_bom_validator)
            options = replace(options, prefetch=prefetch, validates_bom=True)
    with remembering_clean_strings(ResultCache() if command.run.use_cache else None):
        done = run_and_decide(options, command.quiet, on_progress)
        emit(done.report, command.formats, command.output)
        write_provenance(
            done.report,
            done.repo,
            done.config,
            command.output,
            key,
            command.receipt,
            command.run.use_cache,
            done.stats,
        )
    return done.report.decision.exit_code


def _writers(formats: Sequence[str]) -> Callable[[], object]:
    """A prefetch task: load the writers of the run's reports and of its receipt while the
    scanners run (their modules load on first use, after the last scanner otherwise)."""

    def load() -> object:
        from mlgate.receipt import make_receipt
        from mlgate.report import FORMATS

        return make_receipt, [FORMATS[name] for name in ("text", *formats)]

    return load


def _first_bom(use_cache: bool) -> bool:
    """Whether the ML-BOM will likely be validated (no cache, or one that never held a
    valid BOM): its validator is then loaded while the scanners run."""
    from mlgate.bom import VALIDATOR_USED
    from mlgate.cache import ResultCache, make_key

    return not use_cache or ResultCache().get(make_key(VALIDATOR_USED)) is not True


def _load_bom_validator() -> None:
    from mlgate.bom import load_validator

    load_validator()


def run_and_decide(options: RunOptions, quiet: bool, on_progress: Progress | None) -> RunOutcome:
    """The core's run, and a warning when the result cache could not be written."""
    from mlgate.core import run

    done = run(options, on_progress)
    if done.cache_problem and not quiet:
        click.echo(
            f"mlgate: warning: cannot write the result cache {done.cache_root} "
            f"({done.cache_problem}): results are not cached (set MLGATE_CACHE_DIR to a "
            "writable directory, or --no-cache)",
            err=True,
        )
    return done


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, _, count = value.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise click.BadParameter(
            f"{value!r}: expected I/N with 1 <= I <= N, e.g. 2/4", param_hint="--shard"
        )
    return int(index), int(count)
