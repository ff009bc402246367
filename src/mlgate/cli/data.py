"""`mlgate data infer`: a starting data contract."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.errors import UsageError

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@click.group("data")
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
