"""The pipeline to generate, as data: repo facts + `.mlgate.yml` + the policy -> PipelineSpec.

Every CI target renders the same spec, so GitHub and GitLab pipelines do the same things.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from mlgate import __version__
from mlgate.config import PipelineSettings, RepoConfig
from mlgate.detect import RepoFacts
from mlgate.errors import ConfigError
from mlgate.gates import GATES
from mlgate.generate.install import install_lines
from mlgate.policy import Policy

DEFAULT_LEVEL = 0
DEFAULT_ENVIRONMENT = "production"
# What each gate's job needs (the project installed, mlgate's extras, shards, whether
# continuous training checks it and whether the daily schedule runs it) is declared by the
# gate itself (`Gate.pipeline`, a `PipelineTraits`).
REPORTS_DIR = "mlgate-reports"
DECISION_DIR = "mlgate-out"
# A gate job's timeout: the policy's per-gate timeout plus time to install, at least this.
MIN_JOB_MINUTES = 15
INSTALL_MINUTES = 10
TRAIN_MINUTES = 120
# What training keeps when neither train_outputs nor DVC nor committed models say.
DEFAULT_TRAIN_OUTPUTS = ("models/",)  # a folder
DEFAULT_SCHEDULE = "17 3 * * *"
DEPLOY_PLACEHOLDER = (
    'echo "mlgate: set deploy_command in .mlgate.yml to your deploy step" >&2\nexit 1'
)
TRAIN_PLACEHOLDER = (
    'echo "mlgate: set train_command in .mlgate.yml to your training command" >&2\nexit 1'
)


@dataclass(frozen=True)
class GateJob:
    """One CI job running one gate (or one shard of it)."""

    id: str
    gate: str
    shard: str | None
    needs_project: bool
    minutes: int
    requirement: str = "mlgate"

    @property
    def digest_var(self) -> str:
        """The variable that carries the sha256 of this job's report to `decide`."""
        return "MLGATE_DIGEST_" + self.id.upper().replace("-", "_")

    @property
    def artifact(self) -> str:
        return f"mlgate-report-{self.id}"

    @property
    def output_dir(self) -> str:
        return f"{REPORTS_DIR}/{self.id}"

    @property
    def label(self) -> str:
        return f"gate {self.gate}" + (f" (shard {self.shard})" if self.shard else "")


@dataclass(frozen=True)
class PipelineSpec:
    """Everything a template needs; rendering it twice gives byte-identical files."""

    version: str
    python: str
    level: int
    default_branch: str
    environment: str
    install_files: tuple[str, ...]
    install_lines: tuple[str, ...]
    mlgate_requirement: str
    provenance_requirement: str  # level 2 on GitLab: decide signs, deploy verifies (sigstore)
    train_requirement: str
    scheduled_requirement: str
    scheduled_gates: tuple[str, ...]
    schedule: str
    gate_jobs: tuple[GateJob, ...]
    # Gates the policy enables that get no job (data, model with nothing to check): decide runs
    # them itself — they say "skipped" without the project — so its merge has every gate.
    decide_gates: tuple[str, ...]
    train_command: tuple[str, ...]
    train_setup: tuple[str, ...]
    train_outputs: tuple[str, ...]
    train_env: tuple[tuple[str, str], ...]
    train_gates: tuple[str, ...]
    test_markers: tuple[str, ...]
    deploy_command: tuple[str, ...]
    reports_dir: str = REPORTS_DIR
    decision_dir: str = DECISION_DIR
    train_minutes: int = TRAIN_MINUTES
    # GitLab: `standalone` (mlgate's own .gitlab-ci.yml), or beside the repository's own
    # pipeline (`include`, `merge`: see generate/gitlab_host.py), in the host's stages.
    gitlab_layout: str = "standalone"
    stage_gates: str = "gates"
    stage_decide: str = "decide"
    stage_train: str = "train"
    stage_deploy: str = "deploy"

    @property
    def embedded(self) -> bool:
        """mlgate's GitLab jobs live beside the repository's own: no global keys of ours."""
        return self.gitlab_layout != "standalone"


def default_train_command(facts: RepoFacts) -> str:
    """A DVC pipeline: `dvc repro`, between `dvc pull` and `dvc push` when a remote is
    configured; an MLflow project's main entry point; a root train.py; else a placeholder."""
    if "dvc.yaml" in facts.dvc_files:
        if facts.training.dvc_remotes:
            return "dvc pull --allow-missing\ndvc repro\ndvc push"
        return "dvc repro"
    if facts.training.mlflow_command:
        return facts.training.mlflow_command
    if "train.py" in facts.python_files:
        return "python train.py"
    return TRAIN_PLACEHOLDER


def default_train_outputs(facts: RepoFacts) -> tuple[str, ...]:
    """What training keeps: the DVC stages' outputs; else the folders of committed models."""
    if facts.training.dvc_outputs:
        return facts.training.dvc_outputs
    folders = sorted({m.rsplit("/", 1)[0] for m in facts.model_files if "/" in m})
    return tuple(folders) or DEFAULT_TRAIN_OUTPUTS


def _train_setup(facts: RepoFacts, train: tuple[str, ...]) -> tuple[str, ...]:
    """dvc (with the plugins of the repo's remotes) when training runs it and the project
    does not install it."""
    if not any(line.startswith("dvc ") for line in train) or facts.training.dvc_in_project:
        return ()
    plugins = facts.training.dvc_plugins
    package = "dvc" + ("[" + ",".join(plugins) + "]" if plugins else "")
    return (f"python -m pip install {shlex.quote(package)}",)


def _project_install(facts: RepoFacts, settings: PipelineSettings, tool: str) -> tuple[str, ...]:
    """The installer's recipe, plus the pip requirements of an MLflow project's environment."""
    files = _install_files(facts, settings, tool)
    lines = install_lines(tool, files, facts.buildable)
    reqs = facts.training.mlflow_requirements
    if reqs:
        lines = (*lines, "python -m pip install " + " ".join(shlex.quote(r) for r in reqs))
    return lines


def build_spec(facts: RepoFacts, config: RepoConfig, policy: Policy) -> PipelineSpec:
    """Combine detection, `.mlgate.yml` (which wins) and the policy's enabled gates.

    A gate that needs the project installed gets a job only when it would check something
    (settings in .mlgate.yml, or marked tests): otherwise it would install the project to
    say "skipped".
    """
    settings = config.pipeline
    markers = settings.test_markers if settings.test_markers is not None else facts.test_markers
    enabled = [
        name
        for name, gate in GATES.items()
        if name in policy.enabled_gates()
        and (not gate.pipeline.needs_project or config.options_for(name) or name in markers)
    ]
    if not enabled:
        raise ConfigError(
            f"{policy.source}: the policy enables no gate: there is no pipeline to generate",
            hint="enable at least one gate (gates: {sast: {enabled: true}})",
        )
    tool = settings.install_tool or facts.installer
    files = _install_files(facts, settings, tool)
    train = _lines(settings.train_command or default_train_command(facts))
    train_gates = tuple(g for g in enabled if GATES[g].pipeline.in_training)
    return PipelineSpec(
        version=__version__,
        python=settings.python or facts.python,
        level=DEFAULT_LEVEL if settings.level is None else settings.level,
        default_branch=settings.default_branch or facts.default_branch,
        environment=settings.environment or DEFAULT_ENVIRONMENT,
        install_files=files,
        install_lines=_lines(settings.install_command) or _project_install(facts, settings, tool),
        mlgate_requirement=mlgate_requirement(settings.mlgate_install, ""),
        provenance_requirement=mlgate_requirement(settings.mlgate_install, "provenance"),
        train_requirement=mlgate_requirement(settings.mlgate_install, _extras(train_gates)),
        scheduled_requirement=mlgate_requirement(settings.mlgate_install, "tools"),
        scheduled_gates=tuple(g for g in enabled if GATES[g].pipeline.scheduled),
        schedule=settings.schedule or DEFAULT_SCHEDULE,
        gate_jobs=tuple(job for name in enabled for job in _gate_jobs(name, settings, policy)),
        decide_gates=tuple(g for g in GATES if g in policy.enabled_gates() and g not in enabled),
        train_command=train,
        train_setup=_train_setup(facts, train),
        train_outputs=settings.train_outputs or default_train_outputs(facts),
        train_env=(("DVC_NO_ANALYTICS", "1"),) if any("dvc" in line for line in train) else (),
        train_gates=train_gates,
        test_markers=markers,
        deploy_command=_lines(settings.deploy_command or DEPLOY_PLACEHOLDER),
        gitlab_layout=settings.gitlab or "standalone",
    )


def mlgate_requirement(source: str | None, extras: str) -> str:
    """What `pip install` gets mlgate from (`pipeline.mlgate_install`), with `extras`.

    The source is `mlgate==VERSION` (default: this version, from the package index), a VCS
    URL pinned to a commit (`git+https://...@<sha>`) or a wheel file.
    """
    wanted = f"[{extras}]" if extras else ""
    source = source or f"mlgate=={__version__}"
    if source.startswith("mlgate=="):
        return f"mlgate{wanted}{source[len('mlgate') :]}"
    if source.startswith("git+"):
        return f"mlgate{wanted} @ {source}"
    return f"{source}{wanted}"


def _install_files(facts: RepoFacts, settings: PipelineSettings, tool: str) -> tuple[str, ...]:
    if settings.install_files is not None:
        return settings.install_files
    return facts.install_files if tool == facts.installer else ()


def _extras(gates: tuple[str, ...]) -> str:
    """The mlgate extras the given gates' checks need, comma-separated, in a stable order."""
    wanted = {e for g in gates for e in GATES[g].pipeline.extras.split(",") if e}
    return ",".join(sorted(wanted))


def _lines(command: str | None) -> tuple[str, ...]:
    if not command:
        return ()
    return tuple(line.rstrip() for line in command.strip("\n").splitlines())


def _gate_jobs(name: str, settings: PipelineSettings, policy: Policy) -> list[GateJob]:
    minutes = max(MIN_JOB_MINUTES, math.ceil(policy.settings(name).timeout / 60) + INSTALL_MINUTES)
    traits = GATES[name].pipeline
    shards = settings.shards.get(name, 1) if traits.shardable else 1
    requirement = mlgate_requirement(settings.mlgate_install, traits.extras)
    if shards == 1:
        return [GateJob(name, name, None, traits.needs_project, minutes, requirement)]
    return [
        GateJob(
            f"{name}-{i}-of-{shards}",
            name,
            f"{i}/{shards}",
            traits.needs_project,
            minutes,
            requirement,
        )
        for i in range(1, shards + 1)
    ]
