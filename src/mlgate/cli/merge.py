"""`mlgate merge`: the json reports of separate CI jobs combined into one decision."""

from __future__ import annotations

from pathlib import Path

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
    write_provenance,
)
from mlgate.errors import UsageError

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
    from mlgate.bulk import without_cycle_collection
    from mlgate.merge import Binding, MergeOptions, load_reports, merge_checkout, merge_reports

    with without_cycle_collection():  # 50,000 findings: a third less CPU
        binding = Binding(bound, commit, _digests(digests) if digests else None)
        loaded = load_reports(list(reports), binding)
        check_formats(formats or ("text",), output)
        key = signing_key(sign_key, output)
        prepare_output(output)
        merged = merge_reports(
            MergeOptions(tuple(loaded), Path.cwd(), policy_file, env, trusted_config)
        )
        report = merged.report
        emit(report, formats or ("text",), output)
        if output is not None:
            checkout = merge_checkout(Path.cwd(), merged.config, report.run.repo.commit)
            write_provenance(report, checkout, merged.config, output, key)
    exit_with(report.decision.exit_code)


def _digests(values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        path, sep, digest = value.rpartition("=")
        if not sep or not path:
            raise UsageError(f"--digest {value!r}: expected REPORT=SHA256")
        found[path] = digest.strip().lower()
    return found
