"""`mlgate merge`: the json reports of separate CI jobs combined into one decision."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate.cli.common import (
    EXIT_CODES_HELP,
    FORMAT_OPTION,
    SIGN_KEY_OPTION,
    TRUSTED_CONFIG_OPTION,
    exit_with,
)
from mlgate.cli.output import (
    check_formats,
    emit,
    prepare_output,
    signing_key,
    with_check,
    write_provenance,
)
from mlgate.errors import ReportError, UsageError

if TYPE_CHECKING:
    from mlgate.config import RepoConfig
    from mlgate.repo import Repo

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@click.command(epilog=EXIT_CODES_HELP)
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
    check_formats(formats or ("text",), output)
    key = signing_key(sign_key, output)
    prepare_output(output)
    settings = load_settings(Path.cwd(), policy_file, env, trusted_config)
    policy = settings.policy
    result = with_check(merge_results(loaded), settings)
    checked = [POLICY_CHECK] if any(r.gate == POLICY_CHECK for r in result.results) else []
    decision = decide(policy, result.results, scope=[*policy.enabled_gates(), *checked])
    report = Report(
        result, policy, decision, {"kind": "merge", "inputs": [str(p) for p in reports]}
    )
    emit(report, formats or ("text",), output)
    if output is not None:
        checkout = _merge_checkout(Path.cwd(), settings.config, result.repo.commit)
        write_provenance(report, checkout, settings.config, output, key)
    exit_with(decision.exit_code)


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
