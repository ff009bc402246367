"""`mlgate doctor`: the tools, the network and the deps gate's data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate.cli.common import PATH_OPTION, exit_with
from mlgate.errors import EXIT_GATE_ERROR, ConfigError

if TYPE_CHECKING:
    from mlgate.doctor import Doctor

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@click.command()
@PATH_OPTION
def doctor(path: Path) -> None:
    """Show each tool mlgate calls (a pinned scanner: its version, source, environment and
    whether it is intact), and the vulnerability service's reachability."""
    from mlgate.cli import environment
    from mlgate.cli.tools import configure_tools
    from mlgate.doctor import DoctorOptions, check

    try:
        configure_tools(path, quiet=True)
        problem = None
    except ConfigError as exc:
        problem = exc.message
    found = check(DoctorOptions(environment.advisory_db(), problem))
    _show(found)
    if found.healthy:
        return
    if found.missing:
        click.echo(
            f"{found.missing} tool(s) missing or broken: `mlgate tools install` installs or "
            "repairs the scanners, `pip install 'mlgate[data]'` the data and model gates' "
            "stack",
            err=True,
        )
    if not found.deps.ok:
        click.echo("the deps gate has no vulnerability data (see `deps` above)", err=True)
    exit_with(EXIT_GATE_ERROR)


def _show(found: Doctor) -> None:
    if found.tools_problem is not None:
        click.echo(f"tools  {found.tools_problem}")
    for tool in found.tools:
        if tool.error is not None:
            click.echo(f"tool   {tool.name:14} ERROR: {tool.error}")
            continue
        state = tool.state if tool.ok else tool.state.upper()
        click.echo(
            f"tool   {tool.name:14} {tool.version:10} {tool.source:11} {state}  {tool.where}"
        )
    if found.tools_dir is not None:
        click.echo(f"tools  directory {found.tools_dir} (MLGATE_TOOLS_DIR)")
    for used in found.gate_tools:
        click.echo(f"{used.gate:6} {used.tool:14} {used.version or 'NOT FOUND'}")
    for service in found.services:
        state = "reachable" if service.reachable else "unreachable"
        click.echo(f"network {service.host:14} {state}")
    none = "none (deps uses pip-audit online; run `mlgate db update`)"
    click.echo(f"advisory-db    {found.advisory_db or none}")
    click.echo(f"deps   {found.deps.state}")
