"""`mlgate hook install|uninstall`: the git pre-push hook."""

from __future__ import annotations

from pathlib import Path

import click

from mlgate.cli.common import path_option

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@click.group()
def hook() -> None:
    """Install or remove the git pre-push hook that runs the gates before every push.

    The hook runs `mlgate run --env dev` and stops the push when the decision is
    blocked, saying how to see details and how to push anyway (`git push --no-verify`).
    The pre-commit framework can run mlgate too: see .pre-commit-hooks.yaml.
    """


REPOSITORY_OPTION = path_option("Repository (default: .).")


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
@REPOSITORY_OPTION
def hook_install(mode: str, force: bool, chain: bool, path: Path) -> None:
    """Write the pre-push hook (honours core.hooksPath)."""
    from mlgate.hooks import install as install_hook

    for change in install_hook(path, mode, force=force, chain=chain):
        click.echo(f"{change.action}: {change.path}")


@hook.command("uninstall")
@REPOSITORY_OPTION
def hook_uninstall(path: Path) -> None:
    """Remove mlgate's pre-push hook (restoring a chained one); a foreign hook is left alone."""
    from mlgate.hooks import uninstall as uninstall_hook

    changes = uninstall_hook(path)
    if not changes:
        click.echo("no pre-push hook installed")
    for change in changes:
        click.echo(f"{change.action}: {change.path}")
