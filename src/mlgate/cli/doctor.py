"""`mlgate doctor`: the tools, the network and the deps gate's data."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import click

from mlgate.cli.common import PATH_OPTION, exit_with
from mlgate.errors import EXIT_GATE_ERROR, MlgateError

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


SERVICES = (("pypi.org", 443), ("api.osv.dev", 443))


@click.command()
@PATH_OPTION
def doctor(path: Path) -> None:
    """Show each tool mlgate calls (a pinned scanner: its version, source, environment and
    whether it is intact), and the vulnerability service's reachability."""
    from mlgate.advisories import cached_db
    from mlgate.cli.tools import doctor_tools
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
        exit_with(EXIT_GATE_ERROR)


# A release with known advisories: the deps gate's data source must report them.
_PROBE_PACKAGE = ("pyyaml", "5.3.1")


def _deps_data(db: Path | None) -> tuple[bool, str]:
    """Whether the deps gate has vulnerability data: the offline database loads and knows
    the probe's advisories, or (no database) PyPI's vulnerability API returns them."""
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
