"""`mlgate db update`: the offline vulnerability database."""

from __future__ import annotations

import click

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


def _advisories_default_url() -> str:
    from mlgate.deps.dbupdate import DEFAULT_DB_URL

    return DEFAULT_DB_URL


@click.group()
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
    from mlgate.deps.dbupdate import update_db

    loaded = update_db(url)
    click.echo(
        f"advisory database updated: {loaded.record_count} records, "
        f"revision {loaded.revision}, at {loaded.path}"
    )
