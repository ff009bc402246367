"""`mlgate init` and `mlgate generate`: the CI setup of a repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate.cli.common import LazyChoice, exit_with, target_names
from mlgate.errors import EXIT_BLOCKED, UsageError

if TYPE_CHECKING:
    from mlgate.generate.project import Rendered
    from mlgate.generate.scaffold import InitPlan

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


GENERATE_EXIT_HELP = """
\b
Exit codes:
  0  done: the files were written, or (--check) the committed pipeline is up to date
  1  --check: the committed pipeline differs from what mlgate generates (diff on stdout)
  2  usage or configuration error: PATH is not a directory, an unknown --ci, a file that
     exists (init without --force; generate over a file mlgate did not write), an invalid
     .mlgate.yml or policy (file, line and key named). Nothing is written.
"""


@click.command(epilog=GENERATE_EXIT_HELP)
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--ci",
    type=LazyChoice(lambda: [*target_names(), "both"]),
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

    plan = plan_init(path, target_names() if ci == "both" else [ci], int(level), merge)
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


@click.command(epilog=GENERATE_EXIT_HELP)
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--ci", type=LazyChoice(target_names), required=True, help="The CI system.")
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
        exit_with(_check_drift(rendered))
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
