"""`mlgate tools ...`: install, verify, locate and lock the pinned scanner environments.

Part of the command-line layer (it prints and exits); the work is in toolenv.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate import toolenv
from mlgate.cli import environment
from mlgate.cli.common import path_option
from mlgate.errors import ConfigError, UsageError
from mlgate.toollock import (
    PACKAGE_LOCK,
    PLATFORMS,
    PYTHONS,
    REPO_LOCK,
    TOOLS,
    ToolError,
    compile_lock,
    dump_lock,
)

if TYPE_CHECKING:
    from mlgate.config import RepoConfig

# `mlgate --version` and `--help` must not pay for the gates: config is imported when used.
# ruff: noqa: PLC0415

TOOLS_HELP = f"""
\b
Tools: {", ".join(TOOLS)}.
Environment: MLGATE_TOOLS_DIR (where the environments live; default: the user cache,
mlgate/tools), MLGATE_TOOLS=system|pinned (operator: every tool from PATH, or ignore
the repository's `tools:` pins), MLGATE_OFFLINE=1 (never install), MLGATE_TOOLS_INDEX_URL /
MLGATE_TOOLS_FIND_LINKS (a mirror or a directory of wheels).
"""


def operator_tool_settings(offline: bool = False, quiet: bool = False) -> toolenv.Settings:
    """How the operator wants tools run (command line and environment; the repository's pins
    are added by `toolenv.configure_repo`)."""
    return toolenv.Settings(
        offline=offline or toolenv.offline_requested(),
        notify=None if quiet else (lambda message: click.echo(f"mlgate: {message}", err=True)),
        semgrep_cli=environment.semgrep_cli(),
    )


def configure_tools(
    root: Path, config: RepoConfig | None = None, offline: bool = False, quiet: bool = False
) -> None:
    """Resolve tools for this process from the repo's `.mlgate.yml` and the operator's env."""
    from mlgate.config import load_config

    config = config or load_config(root.resolve())
    toolenv.configure_repo(root, config.tools, operator_tool_settings(offline, quiet))


def _names(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise UsageError(f"unknown tool {unknown[0]!r} (tools: {', '.join(TOOLS)})")
    return tuple(names) or tuple(TOOLS)


PATH_OPTION = path_option("Repository whose .mlgate.yml `tools:` settings apply (default: .).")


@click.group("tools", epilog=TOOLS_HELP)
def tools_group() -> None:
    """Manage the pinned scanner environments (one isolated environment per tool)."""


@tools_group.command("install", epilog=TOOLS_HELP)
@click.argument("names", nargs=-1, metavar="[TOOL]...")
@click.option(
    "--check", is_flag=True, help="Only verify (runs each tool); exit 3 if one is not intact."
)
@PATH_OPTION
def tools_install(names: tuple[str, ...], check: bool, path: Path) -> None:
    """Create, verify or repair the environments of TOOL... (default: every tool).

    Idempotent and safe to run concurrently. A missing or corrupted environment is
    rebuilt from the hash-pinned lock (with --check: reported, exit 3).
    """
    configure_tools(path)
    bad = 0
    for name in _names(names):
        plan = toolenv.plan(name)
        state = toolenv.status(plan, deep=True)
        label = f"{name:14} {plan.version or '':10} {plan.source:11}"
        if state.intact:
            click.echo(f"{label} intact   {toolenv.where(plan)}")
            continue
        if check or plan.source == toolenv.SYSTEM:
            click.echo(f"{label} {state.reason}  {toolenv.where(plan)}")
            bad += 1
            continue
        try:
            toolenv.install(plan, toolenv.settings().notify, deep=True)
        except ToolError as exc:
            click.echo(f"{label} FAILED: {exc.message}", err=True)
            bad += 1
            continue
        after = toolenv.status(plan, deep=True)
        click.echo(f"{label} {'installed' if after.intact else after.reason}  {plan.executable}")
        bad += not after.intact
    if bad:
        raise ToolError(
            f"{bad} tool environment(s) not intact",
            hint=None if not check else "`mlgate tools install` repairs them",
        )


@tools_group.command("path", epilog=TOOLS_HELP)
@click.argument("name", metavar="TOOL")
@PATH_OPTION
@click.option("--offline", is_flag=True, help="Do not install a missing environment.")
def tools_path(name: str, path: Path, offline: bool) -> None:
    """Print the executable of TOOL (installing its environment if needed)."""
    (tool,) = _names([name])
    configure_tools(path, offline=offline)
    exe = toolenv.executable(tool)
    if exe is None:
        raise ToolError(toolenv.problem(tool) or f"{tool}: not found")
    click.echo(exe)


@tools_group.command("lock", epilog=TOOLS_HELP)
@click.argument("pins", nargs=-1, metavar="[TOOL[==VERSION]]...")
@click.option(
    "--package",
    is_flag=True,
    help="Rewrite mlgate's own lock (every tool, newest unless TOOL==VERSION is given) "
    "instead of the repository's.",
)
@click.option(
    "--mlgate",
    "own",
    is_flag=True,
    help="Hash-pin mlgate itself for the generated pipelines instead: "
    ".mlgate/mlgate-install[-EXTRAS].txt for pipeline.mlgate_install and the pipeline's "
    "Python (`generate` then installs with pip --require-hashes).",
)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Lock file.")
@click.option("--python", "pythons", multiple=True, help=f"Default: {', '.join(PYTHONS)}.")
@PATH_OPTION
def tools_lock(
    pins: tuple[str, ...],
    package: bool,
    own: bool,
    output: Path | None,
    pythons: tuple[str, ...],
    path: Path,
) -> None:
    """Resolve and hash-pin tool versions for every supported platform and Python (needs uv).

    Without --package: locks the versions `.mlgate.yml` pins under `tools:` (or the
    TOOL==VERSION given) into the repository's .mlgate/tools.lock.
    """
    if own:
        _lock_mlgate(path)
        return
    versions = _lock_versions(pins, package, path)
    target = output or (PACKAGE_LOCK if package else path / REPO_LOCK)
    listing = ", ".join(f"{k} {v or '(newest)'}" for k, v in versions.items())
    click.echo(f"locking {listing} ...")
    document = compile_lock(
        versions, toolenv.uv_compile, pythons or PYTHONS, tuple(PLATFORMS.values())
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_lock(document), encoding="utf-8")
    for name, entry in document["tools"].items():
        click.echo(f"{name} {entry['version']}: {len(entry['targets'])} target(s)")
    click.echo(f"wrote {target}")


def _lock_versions(pins: Sequence[str], package: bool, path: Path) -> dict[str, str | None]:
    given: dict[str, str | None] = {}
    for pin in pins:
        name, _, version = pin.partition("==")
        given[_names([name])[0]] = version or None
    if package:
        return {name: given.get(name) for name in TOOLS}
    if given:
        return given
    from mlgate.config import load_config

    config = load_config(path.resolve())
    wanted = {k: v for k, v in config.tools.items() if v not in (toolenv.SYSTEM, toolenv.PINNED)}
    if not wanted:
        raise ConfigError(
            f"{path / '.mlgate.yml'}: tools: no version pins to lock",
            hint='pin one, e.g. `tools: {semgrep: "1.180.0"}`, or use --package',
        )
    return dict(wanted)


def _lock_mlgate(path: Path) -> None:
    from mlgate import __version__
    from mlgate.config import load_config
    from mlgate.detect import detect
    from mlgate.generate.selflock import extras_sets, lock_path, lock_text

    root = path.resolve()
    config = load_config(root)
    python = config.pipeline.python or detect(root, config.exclude).python
    source = config.pipeline.mlgate_install or f"mlgate=={__version__}"
    click.echo(f"locking mlgate ({source}) for Python {python} on Linux x86_64 ...")
    texts = {
        extras: lock_text(root, source, python, extras, toolenv.uv_compile, __version__)
        for extras in extras_sets()
    }
    for extras, text in texts.items():
        target = root / lock_path(extras)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        count = sum(1 for line in text.splitlines() if "--hash=" in line)
        click.echo(f"wrote {lock_path(extras)} ({count} hash-pinned requirements)")
    if source.startswith("git+"):
        click.echo("mlgate itself comes from the commit (a VCS checkout cannot be hash-checked)")
    click.echo("now run `mlgate generate` to install from them")
