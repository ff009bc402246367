"""`mlgate run`: the options of a run, the gates run and decided, the report emitted."""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from mlgate.cli.progress import ProgressCallback
    from mlgate.config import RepoConfig
    from mlgate.repo import Repo
    from mlgate.report import Report

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@dataclass(frozen=True)
class RunOptions:
    path: Path
    gates: tuple[str, ...]
    env: str | None
    policy: Path | None
    formats: tuple[str, ...]
    output: Path | None
    jobs: int
    advisory_db: Path | None
    since: str | None = None  # changed-only mode: compare with this ref
    use_cache: bool = True
    shard: tuple[int, int] | None = None  # (index from 1, count)
    trusted_config: str | None = None  # git ref to read the policy and .mlgate.yml from
    receipt: bool = True
    offline: bool = False  # never install a missing tool environment
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
    options = RunOptions(
        Path(path),
        gates,
        env,
        policy,
        formats or ("text",),
        output,
        jobs,
        advisory_db,
        since if since else ("@{upstream}" if changed_only else None),
        not no_cache,
        shard,
        trusted_config,
        not no_receipt,
        offline,
        quiet,
        sign_key,
    )
    from mlgate.cli.progress import Progress
    from mlgate.tools import watching_commands

    show = (lambda argv: click.echo("$ " + shlex.join(argv), err=True)) if verbose else None
    with watching_commands(show), Progress(enabled=not quiet) as progress:
        code = execute_run(options, progress.update)
    exit_with(code)


def _split_path_and_gates(path: str, gates: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`mlgate run sast` means the gate sast in the current directory."""
    if path in gate_names() and not Path(path).is_dir():
        return ".", (path, *gates)
    return path, gates


def execute_run(options: RunOptions, on_progress: ProgressCallback | None = None) -> int:
    check_formats(options.formats, options.output)
    key = signing_key(options.sign_key, options.output)
    prepare_output(options.output)
    report, repo, config = run_and_decide(options, on_progress)
    emit(report, options.formats, options.output)
    write_provenance(report, repo, config, options.output, key, options.receipt, options.use_cache)
    return report.decision.exit_code


def run_and_decide(
    options: RunOptions, on_progress: ProgressCallback | None
) -> tuple[Report, Repo, RepoConfig]:
    """Run the gates and decide: the report, the (scoped) tree it covers, and its config."""
    from mlgate.cache import ResultCache
    from mlgate.cli.tools import configure_tools, used_tools
    from mlgate.gates import GATES
    from mlgate.policy import POLICY_CHECK, decide
    from mlgate.repo import open_repo
    from mlgate.report import Report
    from mlgate.runner import RunRequest, run_gates, select_gates
    from mlgate.trust import load_settings, with_policy_check

    unknown = [g for g in options.gates if g not in GATES]
    if unknown:
        raise UsageError(f"unknown gate {unknown[0]!r} (gates: {', '.join(GATES)})")
    root = Path(options.path)
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    settings = load_settings(root, options.policy, options.env, options.trusted_config)
    config, policy = settings.config, settings.policy
    configure_tools(root, config, offline=options.offline, quiet=options.quiet)
    repo, mode = _scope(open_repo(root, config.exclude), options.since)
    repo, mode = _shard(repo, mode, options.shard)
    cache = ResultCache() if options.use_cache else None
    request = RunRequest(
        select_gates(policy, options.gates),
        options.jobs,
        _operator_overrides(options.advisory_db),
        cache,
        on_progress,
    )
    result = with_policy_check(run_gates(repo, policy, config, request), settings)
    if cache is not None and cache.unwritable and not options.quiet:
        click.echo(
            f"mlgate: warning: cannot write the result cache {cache.root} ({cache.unwritable}): "
            "results are not cached (set MLGATE_CACHE_DIR to a writable directory, or --no-cache)",
            err=True,
        )
    result = dataclasses.replace(result, tools=used_tools(result.results))
    scope = [*request.gates, *([POLICY_CHECK] if settings.check else [])]
    decision = decide(policy, result.results, scope=scope)
    report = Report(result, policy, decision, {**mode, "gates": list(request.gates)})
    return report, repo, config


def _operator_overrides(advisory_db: Path | None) -> dict[str, dict[str, Any]]:
    """Settings the operator gave (command line, then environment): they win over the
    repository's `.mlgate.yml` and policy."""
    from mlgate.cli import environment
    from mlgate.gates.deps import NAME

    chosen = advisory_db or environment.advisory_db()
    if chosen is None:
        return {}
    return {NAME: {"advisory_db": str(chosen.expanduser().resolve())}}


def _scope(repo: Repo, since: str | None) -> tuple[Repo, dict[str, Any]]:
    """The whole tree, or (changed-only mode) just the files changed since a ref."""
    from mlgate.repo import changed_files

    if since is None:
        return repo, {"kind": "full"}
    if not repo.is_git:
        raise UsageError(f"{repo.root}: --changed-only/--since need a git repository")
    base, changed = changed_files(repo.root, None if since == "@{upstream}" else since)
    wanted = set(changed)
    files = tuple(f for f in repo.files if f in wanted)
    mode = {"kind": "changed-only", "since": since, "base": base, "files": list(files)}
    return dataclasses.replace(repo, files=files), mode


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, _, count = value.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise click.BadParameter(
            f"{value!r}: expected I/N with 1 <= I <= N, e.g. 2/4", param_hint="--shard"
        )
    return int(index), int(count)


def _shard(
    repo: Repo, mode: dict[str, Any], shard: tuple[int, int] | None
) -> tuple[Repo, dict[str, Any]]:
    if shard is None:
        return repo, mode
    index, count = shard
    files = repo.files[index - 1 :: count]
    return dataclasses.replace(repo, files=files), {**mode, "shard": f"{index}/{count}"}
