"""`mlgate policy check|show|schema`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlgate.cli.common import PATH_OPTION

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


@click.group()
def policy() -> None:
    """Check or show the effective policy."""


@policy.command("check")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="Policy file (default: the repo's, else the built-in default).",
)
@click.option("--env", metavar="NAME", help="Check this environment's overrides too.")
@PATH_OPTION
def policy_check(policy_file: Path | None, env: str | None, path: Path) -> None:
    """Validate a policy (schema, extends, waivers, baseline).

    Exit 2 with file:line:key when it is invalid.
    """
    from mlgate.config import load_config
    from mlgate.policy import find_policy, load_policy

    config = load_config(path.resolve())
    loaded = load_policy(find_policy(path, policy_file, config.policy), env, root=path)
    click.echo(
        f"{loaded.source}: policy is valid "
        f"(environments: {', '.join(loaded.environments) or 'none'}; "
        f"{len(loaded.waivers)} waiver(s))"
    )


@policy.command("show")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), help="Policy file.")
@click.option("--env", metavar="NAME", help="Show the settings for this environment.")
@PATH_OPTION
def policy_show(policy_file: Path | None, env: str | None, path: Path) -> None:
    """Print the effective per-gate settings after extends and environment overrides."""
    from mlgate.config import load_config
    from mlgate.gates import GATES
    from mlgate.gates.base import default_options
    from mlgate.policy import find_policy, load_policy
    from mlgate.yamlimport import yaml

    config = load_config(path.resolve())
    loaded = load_policy(find_policy(path, policy_file, config.policy), env, root=path)
    gates = {
        name: {
            "enabled": s.enabled,
            "required": s.required,
            "fail_on": s.fail_on.value if s.fail_on else "none",
            "warn_on": s.warn_on.value if s.warn_on else "none",
            "max_findings": s.max_findings,
            "on_error": s.on_error,
            "timeout": s.timeout,
            "options": {**default_options(GATES[name]), **s.options}
            if name in GATES
            else dict(s.options),
        }
        for name, s in loaded.gates.items()
    }
    shown = {
        "source": loaded.source,
        "env": env,
        "digest": loaded.digest,
        "gates": gates,
        "waivers": [w.label() for w in loaded.waivers],
        "environments": list(loaded.environments),
    }
    click.echo(yaml.safe_dump(shown, sort_keys=False), nl=False)


@policy.command("schema")
@click.option(
    "--of",
    "which",
    type=click.Choice(["policy", "config"]),
    default="policy",
    show_default=True,
    help="The policy file's schema, or .mlgate.yml's.",
)
def policy_schema_cmd(which: str) -> None:
    """Print the JSON Schema of the policy file or of .mlgate.yml (for editors).

    The same schemas ship in the package as mlgate/schemas/{policy,config}.schema.json.
    """
    from mlgate.config import config_schema
    from mlgate.policy import policy_schema

    schema = policy_schema() if which == "policy" else config_schema()
    click.echo(json.dumps(schema, indent=2))
