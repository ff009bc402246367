"""The subcommands, imported only when one is run or its help is shown (issue 16).

`mlgate --help` lists every command with its one-line summary; importing each command's
module for that costs more than click itself (the gates' option choices, the tool
environments, the BOM writer). So the group knows each command by the module that defines
it and by the first paragraph of its help, and imports a module only when its command is
looked up. `tests/cli/test_startup.py` checks that each summary below is the one the
command itself would show, at every width.
"""

from __future__ import annotations

import importlib

import click


class Entry:
    """Where a subcommand lives and the first paragraph of its help (words single-spaced)."""

    __slots__ = ("attribute", "module", "summary")

    def __init__(self, module: str, attribute: str, summary: str) -> None:
        self.module = module
        self.attribute = attribute
        self.summary = summary


COMMANDS: dict[str, Entry] = {
    "bom": Entry(
        "bom",
        "bom",
        "Write the ML-BOM of PATH (default: .): a CycloneDX 1.6 JSON document.",
    ),
    "data": Entry(
        "data",
        "data_group",
        "Data contracts for the data gate.",
    ),
    "db": Entry(
        "db",
        "db",
        "Manage the offline vulnerability database used by the deps gate.",
    ),
    "doctor": Entry(
        "doctor",
        "doctor",
        "Show each tool mlgate calls (a pinned scanner: its version, source, environment "
        "and whether it is intact), and the vulnerability service's reachability.",
    ),
    "generate": Entry(
        "generate",
        "generate",
        "Render the CI pipeline of the repo at PATH (default: .) from .mlgate.yml and the policy.",
    ),
    "hook": Entry(
        "hook",
        "hook",
        "Install or remove the git pre-push hook that runs the gates before every push.",
    ),
    "init": Entry(
        "generate",
        "init",
        "Detect what the repository at PATH (default: .) is and write its CI setup.",
    ),
    "keygen": Entry(
        "verify",
        "keygen",
        "Write a new Ed25519 key pair for signing receipts: PRIVATE (PEM, mode 0600) and PUBLIC.",
    ),
    "merge": Entry(
        "merge",
        "merge",
        "Combine the json reports of separate CI jobs into one decision.",
    ),
    "policy": Entry(
        "policy",
        "policy",
        "Check or show the effective policy.",
    ),
    "run": Entry(
        "run",
        "run",
        "Run the gates over PATH (default: .) and decide.",
    ),
    "tools": Entry(
        "tools",
        "tools_group",
        "Manage the pinned scanner environments (one isolated environment per tool).",
    ),
    "verify": Entry(
        "verify",
        "verify",
        "Allow a deployment only with a passing receipt for this commit, env and policy.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented lazy pattern);
    its help lists them from `COMMANDS` without importing any."""

    def __init__(self, *args: object, lazy: dict[str, Entry], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(self.lazy[cmd_name]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = click.Group(self.name, commands=[self.summary_of(name) for name in self.lazy])
        listed.commands.update(self.commands)
        listed.format_commands(ctx, formatter)

    def summary_of(self, name: str) -> click.Command:
        """A stand-in with the command's summary: the same short help at every width."""
        return self.commands.get(name) or click.Command(name, help=self.lazy[name].summary)


def load(entry: Entry) -> click.Command:
    module = importlib.import_module(f"mlgate.cli.{entry.module}")
    command = getattr(module, entry.attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"mlgate.cli.{entry.module}.{entry.attribute} is not a command")
    return command
