"""The command line. Parses options, calls the core, prints, and maps outcomes to exit codes.

This is the only module that prints or exits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlgate import __version__, lifecycle
from mlgate.cli_tools import tools_group
from mlgate.errors import (
    EXIT_BLOCKED,
    EXIT_GATE_ERROR,
    EXIT_USAGE,
    MlgateError,
    ReportError,
    UsageError,
)

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlgate.cli_progress import ProgressCallback
    from mlgate.config import RepoConfig
    from mlgate.generate.project import Rendered
    from mlgate.generate.scaffold import InitPlan
    from mlgate.repo import Repo
    from mlgate.report import Report
    from mlgate.runner import RunResult
    from mlgate.trust import Settings

EXIT_CODES_HELP = """
\b
Exit codes:
  0  every gate the policy requires passed
  1  the policy blocked: at least one violation (each listed with its reason)
  2  usage or configuration error (bad option, invalid policy/config: file, line and key named)
  3  a gate could not run (tool missing, crashed, timed out, no network) and the
     policy treats errors as blocking; also an internal error in mlgate
"""


class _LazyChoice(click.Choice):  # type: ignore[type-arg]
    """A choice whose values are read from a registry only when an option is used or shown."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._load())


def _format_names() -> list[str]:
    from mlgate.report import FORMATS

    return sorted(FORMATS)


def _target_names() -> list[str]:
    from mlgate.generate import TARGETS

    return list(TARGETS)


def _gate_names() -> list[str]:
    from mlgate.gates import GATES

    return list(GATES)


class _GateListCommand(click.Command):
    """A command whose help lists the gates (`{gates}` in its docstring), read when shown."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.help = (self.help or "").replace("{gates}", ", ".join(_gate_names()))
        super().format_help_text(ctx, formatter)


FORMAT_OPTION = click.option(
    "--format",
    "formats",
    multiple=True,
    type=_LazyChoice(_format_names),
    help="Report format; repeat for several. Default: text.",
)
TRUSTED_CONFIG_OPTION = click.option(
    "--trusted-config",
    metavar="REF",
    help="Read the policy and .mlgate.yml from this git ref (the target branch of a pull "
    "request), not the working tree; each way the working tree's versions weaken them is a "
    "`policy-weakened` finding (blocks in production).",
)
PATH_OPTION = click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    help="Repository root.",
)


SIGN_KEY_OPTION = click.option(
    "--sign-key",
    metavar="FILE|env:VAR",
    help="Sign the receipt with this Ed25519 private key (PEM; env:VAR reads it from an "
    "environment variable). Needs --output. See `mlgate keygen`.",
)


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlgate")
def cli() -> None:
    """mlgate: security and quality gates for machine-learning repositories.

    Runs the gates (sast: bandit and semgrep with an ML rule pack, notebooks
    included; secrets; models: static pickle/PyTorch/Keras scanning; deps:
    offline OSV database or pip-audit; data: contracts and drift; model: metrics
    and budgets) under one YAML policy, turns the results into one decision with
    reasons, and generates the CI pipelines that run them (init, generate).
    """


# --- run ----------------------------------------------------------------------------------


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


@cli.command(cls=_GateListCommand, epilog=EXIT_CODES_HELP)
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
    from mlgate.cli_progress import Progress
    from mlgate.tools import watching_commands

    show = (lambda argv: click.echo("$ " + shlex.join(argv), err=True)) if verbose else None
    with watching_commands(show), Progress(enabled=not quiet) as progress:
        code = execute_run(options, progress.update)
    _exit(code)


def _split_path_and_gates(path: str, gates: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`mlgate run sast` means the gate sast in the current directory."""
    if path in _gate_names() and not Path(path).is_dir():
        return ".", (path, *gates)
    return path, gates


def execute_run(options: RunOptions, on_progress: ProgressCallback | None = None) -> int:
    _check_formats(options.formats, options.output)
    key = _signing_key(options.sign_key, options.output)
    _prepare_output(options.output)
    report, repo, config = _run_gates(options, on_progress)
    _emit(report, options.formats, options.output)
    _write_provenance(report, repo, config, options.output, key, options.receipt, options.use_cache)
    return report.decision.exit_code


def _signing_key(spec: str | None, output: Path | None) -> Ed25519PrivateKey | None:
    """The receipt signing key, loaded before any gate runs (a bad key is exit 2 at once)."""
    if spec is None:
        return None
    if output is None:
        raise UsageError("--sign-key signs the receipt written to --output DIR: give --output")
    from mlgate.signing import load_private_key

    return load_private_key(spec)


def _run_gates(
    options: RunOptions, on_progress: ProgressCallback | None
) -> tuple[Report, Repo, RepoConfig]:
    """Run the gates and decide: the report, the (scoped) tree it covers, and its config."""
    from mlgate.cache import ResultCache
    from mlgate.cli_tools import configure_tools, used_tools
    from mlgate.gates import GATES
    from mlgate.policy import POLICY_CHECK, decide
    from mlgate.repo import open_repo
    from mlgate.report import Report
    from mlgate.runner import RunRequest, run_gates, select_gates
    from mlgate.trust import load_settings

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
    result = _with_check(run_gates(repo, policy, config, request), settings)
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
    from mlgate.gates.deps import ENV_DB, NAME

    chosen = advisory_db or (Path(os.environ[ENV_DB]) if os.environ.get(ENV_DB) else None)
    if chosen is None:
        return {}
    return {NAME: {"advisory_db": str(chosen.expanduser().resolve())}}


def _with_check(result: RunResult, settings: Settings) -> RunResult:
    """The run's results plus the `policy` check of --trusted-config, when it ran."""
    from mlgate.policy import POLICY_CHECK

    if settings.check is None:
        return result
    kept = tuple(r for r in result.results if r.gate != POLICY_CHECK)
    return dataclasses.replace(result, results=(*kept, settings.check))


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


def _write_provenance(
    report: Report,
    repo: Repo,
    config: RepoConfig,
    output: Path | None,
    key: Ed25519PrivateKey | None = None,
    receipt: bool = True,
    use_cache: bool = False,
) -> None:
    """With --output: the ML-BOM always, the receipt (naming the BOM's digest) on a pass."""
    from mlgate.bom import build_bom, render_bom
    from mlgate.cache import ResultCache
    from mlgate.receipt import BOM_FILE, RECEIPT_FILE, make_receipt, text_digest
    from mlgate.report import write_atomic

    if output is None:
        return
    bom_text = render_bom(build_bom(report, repo, config, ResultCache() if use_cache else None))
    write_atomic(output / BOM_FILE, bom_text)
    click.echo(f"ML-BOM written to {output / BOM_FILE}")
    if receipt and report.decision.passed:
        written = make_receipt(report, bom_digest=text_digest(bom_text))
        if key is not None:
            from mlgate.signing import sign_receipt

            written = sign_receipt(written, key)
        write_atomic(output / RECEIPT_FILE, json.dumps(written, indent=2) + "\n")


def _prepare_output(output: Path | None) -> None:
    """Fail before any gate runs when the report directory cannot be written."""
    if output is None:
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as exc:
        reason = " ".join(str(exc.strerror or exc).split())
        raise ReportError(f"cannot write reports to {output}: {reason}") from None


def _check_formats(formats: Sequence[str], output: Path | None) -> None:
    if output is None and len(set(formats)) > 1:
        raise UsageError("several --format values need --output DIR to write them to")


def _emit(report: Report, formats: Sequence[str], output: Path | None) -> None:
    """Print the report; with --output also write every format's files (text: stdout only)."""
    from mlgate.redact import already_redacted
    from mlgate.report import FORMATS, publishable, write_reports

    shown = publishable(report)
    if output is None:
        fmt = FORMATS[formats[0]]
        with already_redacted():
            click.echo(fmt.render(shown, color=fmt.name == "text" and _tty()), nl=False)
    else:
        written = write_reports(shown, formats, output, redacted=True)
        with already_redacted():
            click.echo(FORMATS["text"].render(shown, color=_tty()), nl=False)
        if written:
            click.echo(f"reports written to {output}: " + ", ".join(p.name for p in written))
    _step_summary(shown)


def _step_summary(report: Report) -> None:
    """On GitHub Actions, append the markdown summary to the job's summary on every run."""
    from mlgate.report import append_summary

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        append_summary(report, Path(target))
    except MlgateError as exc:  # the decision matters more than its summary
        click.echo(f"mlgate: warning: {exc.message}", err=True)


def _tty() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


# --- merge and verify ---------------------------------------------------------------------


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("reports", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--env", "env", metavar="NAME", help="Target environment in the policy.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="Policy file (default: .mlgate/policy.yml in the current directory, "
    "else the built-in default pack).",
)
@FORMAT_OPTION
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each format to DIR under its fixed name, and the ML-BOM; a pass also "
    "writes DIR/receipt.json.",
)
@TRUSTED_CONFIG_OPTION
@click.option(
    "--bound",
    is_flag=True,
    help="Each report lies in a folder named for the job that made it (GATE, or GATE-I-of-N "
    "for shard I/N) and holds that gate and shard alone; else exit 2.",
)
@click.option("--commit", metavar="SHA", help="Every report must be for this commit; else exit 2.")
@click.option(
    "--digest",
    "digests",
    multiple=True,
    metavar="REPORT=SHA256",
    help="The sha256 the job that made REPORT printed; repeat for every report. A report "
    "without one, or whose content differs, is refused (exit 2).",
)
@SIGN_KEY_OPTION
def merge(
    reports: tuple[Path, ...],
    env: str | None,
    policy_file: Path | None,
    formats: tuple[str, ...],
    output: Path | None,
    trusted_config: str | None,
    bound: bool,
    commit: str | None,
    digests: tuple[str, ...],
    sign_key: str | None,
) -> None:
    """Combine the json reports of separate CI jobs into one decision.

    Each input is an `mlgate.json` written by `mlgate run --format json`. The same
    finding reported twice counts once (by fingerprint); a gate the policy requires
    that no input ran is an error. Reports from different commits or mlgate major
    versions are refused (exit 2). The policy is evaluated again for --env. A gate
    run in shards needs every shard I/N (the missing one is named; exit 2).

    In CI, --bound, --commit and --digest tie each report to the job that made it
    (see README, "How reports are bound to the jobs that made them").
    """
    from mlgate.merge import Binding, load_reports, merge_results
    from mlgate.policy import POLICY_CHECK, decide
    from mlgate.report import Report
    from mlgate.trust import load_settings

    binding = Binding(bound, commit, _digests(digests) if digests else None)
    loaded = load_reports(list(reports), binding)
    _check_formats(formats or ("text",), output)
    key = _signing_key(sign_key, output)
    _prepare_output(output)
    settings = load_settings(Path.cwd(), policy_file, env, trusted_config)
    policy = settings.policy
    result = _with_check(merge_results(loaded), settings)
    checked = [POLICY_CHECK] if any(r.gate == POLICY_CHECK for r in result.results) else []
    decision = decide(policy, result.results, scope=[*policy.enabled_gates(), *checked])
    report = Report(
        result, policy, decision, {"kind": "merge", "inputs": [str(p) for p in reports]}
    )
    _emit(report, formats or ("text",), output)
    if output is not None:
        checkout = _merge_checkout(Path.cwd(), settings.config, result.repo.commit)
        _write_provenance(report, checkout, settings.config, output, key)
    _exit(decision.exit_code)


def _digests(values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        path, sep, digest = value.rpartition("=")
        if not sep or not path:
            raise UsageError(f"--digest {value!r}: expected REPORT=SHA256")
        found[path] = digest.strip().lower()
    return found


def _merge_checkout(root: Path, config: RepoConfig, commit: str | None) -> Repo:
    """The checkout `merge` hashes for the ML-BOM: it must be the reports' commit."""
    from mlgate.repo import open_repo

    checkout = open_repo(root, config.exclude)
    if checkout.commit != commit:
        raise ReportError(
            f"the ML-BOM hashes the files of {root}, which is at commit {checkout.commit}, "
            f"but the reports are for {commit}",
            hint="run `mlgate merge` in a checkout of the reports' commit",
        )
    return checkout


VERIFY_EXIT_HELP = """
\b
Exit codes:
  0  the receipt allows the deployment (every check given passed)
  1  refused, with every reason: edited or tampered, a signature by none of the
     --public-key keys (or none at all), expired (--max-age), another commit, env or
     policy, a decision other than pass, a required gate missing, a dirty tree, an
     ML-BOM whose digest differs, a Sigstore bundle that does not verify
  2  usage: unreadable receipt, key, bundle or trust root; a missing field; the
     `cryptography`/`sigstore` package missing (pip install 'mlgate[provenance]')
  3  Sigstore's trust root could not be fetched (no --trusted-root, no network)
"""


@cli.command(epilog=VERIFY_EXIT_HELP)
@click.argument("receipt", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--commit",
    metavar="SHA",
    required=True,
    help="The commit being deployed (full or >= 7 hex digits).",
)
@click.option(
    "--env", "env", metavar="NAME", required=True, help="The environment being deployed to."
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="The policy in force (default: the repo's, else the built-in default): "
    "its digest must match the receipt's.",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    help="Accept a receipt of a scan that covered uncommitted or untracked files.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Require a signature by this Ed25519 public key (PEM); repeat for key rotation.",
)
@click.option(
    "--max-age",
    metavar="DURATION",
    help="Refuse a receipt written longer ago than this (e.g. 24h, 7d).",
)
@click.option(
    "--bom",
    "bom_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Require that this ML-BOM file is the one the receipt names (its SHA-256).",
)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Require a Sigstore bundle over the receipt file, signed by --identity/--issuer.",
)
@click.option("--identity", metavar="URI|EMAIL", help="The signer's identity in the bundle.")
@click.option("--issuer", metavar="URL", help="The OIDC issuer of that identity.")
@click.option(
    "--trusted-root",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Verify the bundle offline against this Sigstore trusted root (JSON); "
    "default: Sigstore's public-good root, fetched through TUF.",
)
def verify(
    receipt: Path,
    commit: str,
    env: str,
    policy_file: Path | None,
    allow_dirty: bool,
    public_keys: tuple[Path, ...],
    max_age: str | None,
    bom_file: Path | None,
    bundle: Path | None,
    identity: str | None,
    issuer: str | None,
    trusted_root: Path | None,
) -> None:
    """Allow a deployment only with a passing receipt for this commit, env and policy.

    Always checked: the receipt is intact (its content digest matches), its decision is a
    pass, it is for --commit, --env and the current policy, it holds every gate that
    policy requires for --env, and the scan covered the commit alone (a clean tree;
    --allow-dirty accepts a dirty one). With --public-key: an Ed25519 signature by one of
    the keys; with --bundle: a Sigstore bundle over the receipt file by --identity from
    --issuer; with --max-age: its age; with --bom: the ML-BOM it names. Without a
    signature check the digest only detects edits (see README, "Provenance").
    """
    from mlgate.config import load_config
    from mlgate.policy import find_policy, load_policy
    from mlgate.receipt import coverage_problems, load_receipt, verify_receipt

    if bundle is not None and not (identity and issuer):
        raise UsageError("--bundle needs --identity and --issuer (who must have signed it)")
    data = load_receipt(receipt)
    root = Path.cwd()
    config = load_config(root)
    policy = load_policy(find_policy(root, policy_file, config.policy), env, root=root)
    required = [n for n, s in policy.gates.items() if s.enabled and s.required]
    problems = verify_receipt(data, commit, env, policy.digest)
    problems += coverage_problems(data, required, allow_dirty)
    problems += _provenance_problems(data, public_keys, max_age, bom_file)
    if bundle is not None and identity and issuer:
        from mlgate.signing import check_bundle

        problems += check_bundle(receipt.read_bytes(), bundle, identity, issuer, trusted_root)
    if problems:
        for problem in problems:
            click.echo(f"mlgate: verify: {problem}", err=True)
        _exit(EXIT_BLOCKED)
    signed = " (signature verified)" if public_keys or bundle else ""
    click.echo(
        f"receipt verified: commit {data['commit']}, env {data['env']}, decision pass{signed}"
    )


def _provenance_problems(
    data: dict[str, Any], public_keys: Sequence[Path], max_age: str | None, bom: Path | None
) -> list[str]:
    from mlgate.receipt import text_digest
    from mlgate.signing import check_age, check_signature, load_public_key, parse_duration

    problems: list[str] = []
    if public_keys:
        problems += check_signature(data, [load_public_key(p) for p in public_keys])
    if max_age is not None:
        problems += check_age(data, parse_duration(max_age))
    if bom is not None:
        try:
            text = bom.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{bom}: cannot read the ML-BOM: {exc}") from None
        named = (data.get("bom") or {}).get("digest")
        if named != text_digest(text):
            problems.append(f"{bom} is not the ML-BOM the receipt names ({named or 'none'})")
    return problems


@cli.command()
@click.argument("private", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("public", type=click.Path(path_type=Path, dir_okay=False))
def keygen(private: Path, public: Path) -> None:
    """Write a new Ed25519 key pair for signing receipts: PRIVATE (PEM, mode 0600) and PUBLIC.

    Keep PRIVATE in the CI's secret store (`mlgate run --sign-key env:VAR`); give PUBLIC
    to whoever deploys (`mlgate verify --public-key PUBLIC`). Existing files are never
    overwritten (exit 2). The same keys with openssl:
    `openssl genpkey -algorithm ed25519 -out PRIVATE` and
    `openssl pkey -in PRIVATE -pubout -out PUBLIC`.
    """
    from mlgate.signing import generate_keypair

    for path in (private, public):
        if path.exists():
            raise UsageError(f"{path} exists: not overwritten")
    private_pem, public_pem = generate_keypair()
    try:
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        public.write_bytes(public_pem)
    except OSError as exc:
        raise UsageError(f"cannot write the key pair: {exc.strerror or exc}") from None
    click.echo(f"wrote {private} (private: keep it secret) and {public} (public)")


# --- bom ----------------------------------------------------------------------------------


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout."
)
@click.option("--env", "env", metavar="NAME", help="Target environment in the policy.")
@click.option("--policy", "policy", type=click.Path(path_type=Path), help="Policy file.")
@click.option(
    "--advisory-db",
    type=click.Path(path_type=Path, file_okay=False),
    help="Offline OSV advisory database for the deps gate (also MLGATE_ADVISORY_DB).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
def bom(
    path: Path,
    output: Path | None,
    env: str | None,
    policy: Path | None,
    advisory_db: Path | None,
    quiet: bool,
) -> None:
    """Write the ML-BOM of PATH (default: .): a CycloneDX 1.6 JSON document.

    Runs the gates whose facts it records (models, data, deps, model; those the policy
    enables) and lists every model file with its SHA-256, format, scanner verdict and
    model card; every dataset with its hash, rows, contract and drift; the dependencies
    with purls and their vulnerabilities; the tools that ran and the decision.
    `mlgate run --output DIR` writes the same document as DIR/mlgate.cdx.json. Exit 0
    when the BOM is written, whatever the decision it records.
    """
    from mlgate.bom import BOM_GATES, build_bom, render_bom
    from mlgate.cli_progress import Progress
    from mlgate.report import write_atomic
    from mlgate.trust import load_settings

    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    loaded = load_settings(path, policy, env, None).policy
    gates = tuple(g for g in BOM_GATES if g in loaded.enabled_gates())
    options = RunOptions(path, gates, env, policy, ("text",), None, 4, advisory_db)
    with Progress(enabled=not quiet) as progress:
        report, repo, config = _run_gates(options, progress.update)
    text = render_bom(build_bom(report, repo, config))
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        click.echo(f"ML-BOM written to {output}", err=True)


# --- policy -------------------------------------------------------------------------------


@cli.group()
def policy() -> None:
    """Check or show the effective policy."""


@policy.command("check")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="Policy file (default: the repo's, else the built-in default).",
)
@click.option("--env", metavar="NAME", help="Check this environment's overrides too.")
@PATH_OPTION
def policy_check(policy_file: Path | None, env: str | None, path: Path) -> None:
    """Validate a policy (schema, extends, waivers, baseline).

    Exit 2 with file:line:key when it is invalid.
    """
    from mlgate.config import load_config
    from mlgate.policy import find_policy, load_policy

    config = load_config(path.resolve())
    loaded = load_policy(find_policy(path, policy_file, config.policy), env, root=path)
    click.echo(
        f"{loaded.source}: policy is valid "
        f"(environments: {', '.join(loaded.environments) or 'none'}; "
        f"{len(loaded.waivers)} waiver(s))"
    )


@policy.command("show")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), help="Policy file.")
@click.option("--env", metavar="NAME", help="Show the settings for this environment.")
@PATH_OPTION
def policy_show(policy_file: Path | None, env: str | None, path: Path) -> None:
    """Print the effective per-gate settings after extends and environment overrides."""
    import yaml

    from mlgate.config import load_config
    from mlgate.policy import find_policy, load_policy

    config = load_config(path.resolve())
    loaded = load_policy(find_policy(path, policy_file, config.policy), env, root=path)
    gates = {
        name: {
            "enabled": s.enabled,
            "required": s.required,
            "fail_on": s.fail_on.value if s.fail_on else "none",
            "warn_on": s.warn_on.value if s.warn_on else "none",
            "max_findings": s.max_findings,
            "on_error": s.on_error,
            "timeout": s.timeout,
            "options": dict(s.options),
        }
        for name, s in loaded.gates.items()
    }
    shown = {
        "source": loaded.source,
        "env": env,
        "digest": loaded.digest,
        "gates": gates,
        "waivers": [w.label() for w in loaded.waivers],
        "environments": list(loaded.environments),
    }
    click.echo(yaml.safe_dump(shown, sort_keys=False), nl=False)


@policy.command("schema")
@click.option(
    "--of",
    "which",
    type=click.Choice(["policy", "config"]),
    default="policy",
    show_default=True,
    help="The policy file's schema, or .mlgate.yml's.",
)
def policy_schema_cmd(which: str) -> None:
    """Print the JSON Schema of the policy file or of .mlgate.yml (for editors).

    The same schemas ship in the package as mlgate/schemas/{policy,config}.schema.json.
    """
    from mlgate.config import config_schema
    from mlgate.policy import policy_schema

    schema = policy_schema() if which == "policy" else config_schema()
    click.echo(json.dumps(schema, indent=2))


# --- hook ---------------------------------------------------------------------------------


@cli.group()
def hook() -> None:
    """Install or remove the git pre-push hook that runs the gates before every push.

    The hook runs `mlgate run --env dev` and stops the push when the decision is
    blocked, saying how to see details and how to push anyway (`git push --no-verify`).
    The pre-commit framework can run mlgate too: see .pre-commit-hooks.yaml.
    """


@hook.command("install")
@click.option(
    "--mode",
    type=click.Choice(["full", "changed"]),
    default="full",
    show_default=True,
    help="full: scan the whole tree; changed: only files changed since the remote's commit.",
)
@click.option("--force", is_flag=True, help="Replace a pre-push hook that mlgate did not write.")
@click.option(
    "--chain", is_flag=True, help="Keep an existing pre-push hook and run it before mlgate."
)
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    help="Repository (default: .).",
)
def hook_install(mode: str, force: bool, chain: bool, path: Path) -> None:
    """Write the pre-push hook (honours core.hooksPath)."""
    from mlgate.hooks import install as install_hook

    for change in install_hook(path, mode, force=force, chain=chain):
        click.echo(f"{change.action}: {change.path}")


@hook.command("uninstall")
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    help="Repository (default: .).",
)
def hook_uninstall(path: Path) -> None:
    """Remove mlgate's pre-push hook (restoring a chained one); a foreign hook is left alone."""
    from mlgate.hooks import uninstall as uninstall_hook

    changes = uninstall_hook(path)
    if not changes:
        click.echo("no pre-push hook installed")
    for change in changes:
        click.echo(f"{change.action}: {change.path}")


# --- db -----------------------------------------------------------------------------------


def _advisories_default_url() -> str:
    from mlgate.advisories import DEFAULT_DB_URL

    return DEFAULT_DB_URL


@cli.group()
def db() -> None:
    """Manage the offline vulnerability database used by the deps gate."""


@db.command("update")
@click.option(
    "--url",
    default=_advisories_default_url,
    show_default="OSV's PyPI archive, all.zip",
    help="OSV PyPI archive (zip of OSV records).",
)
def db_update(url: str) -> None:
    """Download the OSV PyPI advisories into the user cache and switch to them atomically."""
    from mlgate.advisories import update_db

    loaded = update_db(url)
    click.echo(
        f"advisory database updated: {loaded.record_count} records, "
        f"revision {loaded.revision}, at {loaded.path}"
    )


# --- init and generate --------------------------------------------------------------------

GENERATE_EXIT_HELP = """
\b
Exit codes:
  0  done: the files were written, or (--check) the committed pipeline is up to date
  1  --check: the committed pipeline differs from what mlgate generates (diff on stdout)
  2  usage or configuration error: PATH is not a directory, an unknown --ci, a file that
     exists (init without --force; generate over a file mlgate did not write), an invalid
     .mlgate.yml or policy (file, line and key named). Nothing is written.
"""


@cli.command(epilog=GENERATE_EXIT_HELP)
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--ci",
    type=_LazyChoice(lambda: [*_target_names(), "both"]),
    default="github",
    show_default=True,
    help="The CI system to write a pipeline for.",
)
@click.option(
    "--level",
    type=click.Choice(["0", "1", "2"]),
    default="0",
    show_default=True,
    help="0: the gates; 1: plus continuous training; 2: plus the gated deploy job.",
)
@click.option(
    "--force", is_flag=True, help="Overwrite files that exist (otherwise exit 2, nothing written)."
)
@click.option(
    "--merge",
    is_flag=True,
    help="Append mlgate's GitLab jobs to your own .gitlab-ci.yml (between marker lines; only "
    "when nothing else in it changes) instead of writing .gitlab/mlgate.yml to include.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what was detected and what would be written; write nothing.",
)
def init(path: Path, ci: str, level: str, force: bool, merge: bool, dry_run: bool) -> None:
    """Detect what the repository at PATH (default: .) is and write its CI setup.

    Writes .mlgate.yml (the detected facts as commented, editable settings),
    .mlgate/policy.yml (extends the default pack; an existing policy is kept) and the
    pipeline: .github/workflows/mlgate.yml (plus mlgate-train.yml from level 1)
    and/or .gitlab-ci.yml. A .gitlab-ci.yml you wrote is never replaced: mlgate's jobs
    go into .gitlab/mlgate.yml (init prints the include: line to add), or with --merge
    are appended to it. Every file is rendered and checked first, then all are
    written or none; an existing file is never overwritten without --force (exit 2).
    With --force, what you wrote in a valid .mlgate.yml (commands, environment,
    exclude, gate settings) is kept. The repository's code is never imported or run.
    """
    from mlgate.detect import describe
    from mlgate.generate.scaffold import apply_init, plan_init

    plan = plan_init(path, _target_names() if ci == "both" else [ci], int(level), merge)
    click.echo("detected:")
    for line in describe(plan.facts):
        click.echo(f"  {line}")
    if dry_run:
        _show_init_plan(plan, force)
        return
    written = apply_init(plan, force)
    click.echo(f"wrote {', '.join(written)}")
    click.echo(f"pipeline: {plan.sizing}")
    for note in plan.notes:
        click.echo(f"gitlab: {note}")
    for kept in plan.kept:
        click.echo(f"kept {kept} (the existing policy; it decides which gates run)")
    click.echo(
        "next: review train_command and deploy_command in .mlgate.yml and commit the "
        "files; after an edit, `mlgate generate --ci ...` renders the pipeline again"
    )


def _show_init_plan(plan: InitPlan, force: bool) -> None:
    click.echo("would write:")
    exists = " (exists: overwritten)" if force else " (exists: needs --force)"
    for planned in plan.files:
        state = " (exists: mlgate's jobs added)" if planned.merged else exists
        click.echo(f"  {planned.path}{state if planned.exists else ''}")
    for kept in plan.kept:
        click.echo(f"would keep: {kept} (the existing policy)")
    click.echo(f"pipeline: {plan.sizing}")
    for note in plan.notes:
        click.echo(f"gitlab: {note}")
    click.echo(f"--- {plan.files[0].path} ---")
    click.echo(plan.config_text, nl=False)
    click.echo("nothing written (--dry-run)")


@cli.command(epilog=GENERATE_EXIT_HELP)
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--ci", type=_LazyChoice(_target_names), required=True, help="The CI system.")
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print the pipeline instead of writing it (several files: split by ---).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 with a unified diff when the committed pipeline differs.",
)
def generate(path: Path, ci: str, to_stdout: bool, check: bool) -> None:
    """Render the CI pipeline of the repo at PATH (default: .) from .mlgate.yml and the policy.

    Without .mlgate.yml the detected facts are used (level 0). Output is deterministic:
    the same inputs give byte-identical files, each starting with a header naming the
    mlgate version and this command. Only files mlgate generated are overwritten; a
    file it generated but no longer renders (e.g. the training workflow after the level
    went down to 0) is removed.
    """
    from mlgate.generate.project import render_repo, write_rendered

    if to_stdout and check:
        raise UsageError("--stdout and --check cannot be combined")
    rendered = render_repo(path, ci)
    for note in rendered.facts.notes:
        click.echo(f"mlgate: note: {note}", err=True)
    if to_stdout:
        click.echo("---\n".join(rendered.files.values()), nl=False)
    elif check:
        _exit(_check_drift(rendered))
    else:
        written, removed = write_rendered(rendered)
        files = written or list(rendered.files)
        click.echo(("wrote " if written else "up to date: ") + ", ".join(files))
        if removed:
            click.echo(f"removed {', '.join(removed)} (no longer generated)")


def _check_drift(rendered: Rendered) -> int:
    from mlgate.generate.drift import find_drift

    drifts = find_drift(rendered.root, rendered.files, rendered.stale)
    for drift in drifts:
        click.echo(drift.diff, nl=False)
    if drifts:
        paths = ", ".join(d.path for d in drifts)
        click.echo(
            f"mlgate: {paths}: not what `mlgate generate --ci {rendered.target}` writes; "
            "run it and commit the result",
            err=True,
        )
        return EXIT_BLOCKED
    click.echo(f"up to date: {', '.join(rendered.files)}")
    return 0


# --- data ---------------------------------------------------------------------------------


@cli.group("data")
def data_group() -> None:
    """Data contracts for the data gate."""


@data_group.command("infer")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the contract to this file (default: stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    help="The file's format (default: from its suffix).",
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Infer from the first ROWS rows.",
)
@click.option(
    "--encoding", default="utf-8", show_default=True, help="Encoding of a CSV or JSONL file."
)
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def data_infer(
    path: Path, output: Path | None, fmt: str | None, rows: int, encoding: str, force: bool
) -> None:
    """Write a starting data contract (a pandera YAML schema) inferred from PATH.

    PATH is a CSV, Parquet or JSONL file. Review the contract before committing it (the
    value ranges describe the rows read), then list it in .mlgate.yml:
    data: {datasets: [{path: PATH, contract: FILE}]}. Needs mlgate[data].
    """
    from mlgate.tabular import require_data_stack  # the optional extra

    require_data_stack()
    from mlgate.tabular.infer import infer_contract  # needs the data stack

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if output is not None and output.exists() and not force:
        raise UsageError(f"{output} exists (use --force to overwrite it)")
    text = infer_contract(path, fmt, rows, encoding)
    if output is None:
        click.echo(text, nl=False)
        return
    from mlgate.redact import redact_secrets

    output.write_text(redact_secrets(text), encoding="utf-8")
    click.echo(f"contract written to {output}: review it, then list it in .mlgate.yml", err=True)


# --- doctor -------------------------------------------------------------------------------

SERVICES = (("pypi.org", 443), ("api.osv.dev", 443))


@cli.command()
@PATH_OPTION
def doctor(path: Path) -> None:
    """Show each tool mlgate calls (a pinned scanner: its version, source, environment and
    whether it is intact), and the vulnerability service's reachability."""
    from mlgate.advisories import cached_db
    from mlgate.cli_tools import doctor_tools
    from mlgate.gates import GATES
    from mlgate.toolenv import is_managed

    missing = doctor_tools(path)
    for name, gate in GATES.items():
        for tool, version in gate.tool_versions().items():
            if is_managed(tool):
                continue
            state = version or "NOT FOUND"
            missing += version is None
            click.echo(f"{name:6} {tool:14} {state}")
    for host, port in SERVICES:
        click.echo(f"network {host:14} {'reachable' if _reachable(host, port) else 'unreachable'}")
    cache = cached_db()
    env_db = os.environ.get("MLGATE_ADVISORY_DB")
    click.echo(
        "advisory-db    "
        f"{env_db or cache or 'none (deps uses pip-audit online; run `mlgate db update`)'}"
    )
    deps_ok, deps_state = _deps_data(Path(env_db) if env_db else cache)
    click.echo(f"deps   {deps_state}")
    if missing or not deps_ok:
        if missing:
            click.echo(
                f"{missing} tool(s) missing or broken: `mlgate tools install` installs or "
                "repairs the scanners, `pip install 'mlgate[data]'` the data and model gates' "
                "stack",
                err=True,
            )
        if not deps_ok:
            click.echo("the deps gate has no vulnerability data (see `deps` above)", err=True)
        _exit(EXIT_GATE_ERROR)


# A release with known advisories: the deps gate's data source must report them.
_PROBE_PACKAGE = ("pyyaml", "5.3.1")


def _deps_data(db: Path | None) -> tuple[bool, str]:
    """Whether the deps gate has vulnerability data: the offline database loads and knows
    the probe's advisories, or (no database) PyPI's vulnerability API returns them."""
    import json
    import urllib.request

    from mlgate.advisories import AdvisoryDB

    name, version = _PROBE_PACKAGE
    if db is not None:
        try:
            found = len(AdvisoryDB.load(db).match(name, version))
        except MlgateError as exc:
            return False, f"offline database does not load: {exc.message}"
        return found > 0, f"offline database loads: {name} {version} has {found} advisory(ies)"
    url = f"https://pypi.org/pypi/{name}/{version}/json"
    try:
        # A constant https:// host with the name and version in the path.
        with urllib.request.urlopen(url, timeout=10) as answer:  # nosemgrep
            found = len(json.loads(answer.read()).get("vulnerabilities") or [])
    except (OSError, ValueError) as exc:
        return False, f"no vulnerability data: {url}: {exc} (run `mlgate db update`)"
    return found > 0, f"PyPI vulnerability API answers: {name} {version} has {found} advisory(ies)"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


cli.add_command(tools_group)


# --- entry point --------------------------------------------------------------------------


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _exit(code: int) -> None:
    raise _Exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: one handler maps every outcome to a documented exit code.

    SIGINT and SIGTERM kill every tool mlgate started (whole process trees), remove its
    temporary directories and exit within about a second with 130 or 143; reports are
    written atomically, so `--output` never holds a partial file.
    """
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
    sys.exit(code)


def run_main(argv: Sequence[str] | None) -> int:
    """Run the command; everything it prints to stdout and stderr has its secrets redacted
    (`--version` and `--help` print only mlgate's own text: no detectors are loaded)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    if not args or {"--version", "--help", "-h"} & set(args):
        return _dispatch(argv)
    from mlgate.redact import redacted_streams

    with redacted_streams():
        return _dispatch(argv)


def _dispatch(argv: Sequence[str] | None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except _Exit as done:
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
        lifecycle.stop()
        return 130
    except lifecycle.Interrupted as stopped:
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
