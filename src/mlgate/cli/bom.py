"""`mlgate bom`: the ML-BOM of a repository."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.cli.common import EXIT_CODES_HELP
from mlgate.cli.run import run_and_decide
from mlgate.errors import UsageError

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@click.command(epilog=EXIT_CODES_HELP)
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
    from mlgate.cli import environment
    from mlgate.cli.progress import Progress
    from mlgate.cli.tools import operator_tool_settings
    from mlgate.core import RunOptions
    from mlgate.report import write_atomic
    from mlgate.trust import load_settings

    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    loaded = load_settings(path, policy, env, None).policy
    gates = tuple(g for g in BOM_GATES if g in loaded.enabled_gates())
    chosen = advisory_db or environment.advisory_db()
    options = RunOptions(path, gates, env, policy, 4, chosen, tools=operator_tool_settings())
    with Progress(enabled=not quiet) as progress:
        done = run_and_decide(options, False, progress.update)
    text = render_bom(build_bom(done.report, done.repo, done.config))
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        click.echo(f"ML-BOM written to {output}", err=True)
