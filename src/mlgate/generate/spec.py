"""The pipeline to generate, as data: repo facts + `.mlgate.yml` + the policy -> PipelineSpec.

Every CI target renders the same spec, so GitHub and GitLab pipelines do the same things.
"""

from __future__ import annotations

import hashlib
import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlgate import __version__
from mlgate.config import PipelineSettings, RepoConfig
from mlgate.detect import RepoFacts
from mlgate.errors import ConfigError
from mlgate.gates import GATES
from mlgate.gates import modelfiles as files_gate
from mlgate.generate.install import install_lines
from mlgate.generate.selflock import install_command
from mlgate.policy import Policy
from mlgate.toollock import PACKAGE_LOCK, REPO_LOCK, TOOLS

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
# Characters of the tool lock's sha256 in the pipeline's cache keys.
TOOLS_DIGEST_CHARS = 16
DEFAULT_SCHEDULE = "17 3 * * *"
# The dvc the training job installs when the project does not (pinned: a new dvc release
# never changes a pipeline that did not change; bump it with mlgate).
DVC_VERSION = "3.67.1"
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
    requirement: str = "python -m pip install mlgate"  # the command that installs mlgate
    tools: tuple[str, ...] = ()  # the pinned scanners the gate runs (_scanners)

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
    # The shell command each kind of job installs mlgate with (selflock.install_command).
    mlgate_requirement: str
    provenance_requirement: str  # level 2 on GitLab: decide signs, deploy verifies (sigstore)
    train_requirement: str
    scheduled_requirement: str
    scheduled_gates: tuple[str, ...]
    scheduled_tools: tuple[str, ...]
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
    # sha256 (first TOOLS_DIGEST_CHARS hex) of the tool lock(s) the jobs install from: in the
    # cache key of the scanner environments, so upgrading mlgate changes the pipeline.
    tools_digest: str = ""
    reports_dir: str = REPORTS_DIR
    decision_dir: str = DECISION_DIR
    train_minutes: int = TRAIN_MINUTES
    # GitLab: `standalone` (mlgate's own .gitlab-ci.yml), or beside the repository's own
    # pipeline (`include`, `merge`: see generate/gitlab_host.py), in the host's stages.
    gitlab_layout: str = "standalone"
    # GitLab level 2: how decide signs the receipt and deploy checks it (config.SIGNING_MODES).
    signing: str = "sigstore"
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


def named_model_files(config: RepoConfig) -> tuple[str, ...]:
    """The model files `.mlgate.yml` names for the models gate (`models.model_files`)."""
    named = config.options_for(files_gate.NAME).get("model_files") or ()
    return tuple(str(m) for m in named if isinstance(m, str))


def default_train_outputs(facts: RepoFacts, config: RepoConfig) -> tuple[str, ...]:
    """What training keeps: the DVC stages' outputs; else the folders of the committed models
    and of the model files `.mlgate.yml` names (`models.model_files`: JSON weights, say, that
    no model suffix finds); else `models/`."""
    if facts.training.dvc_outputs:
        return facts.training.dvc_outputs
    models = (*facts.model_files, *named_model_files(config))
    folders = sorted({m.rsplit("/", 1)[0] for m in models if "/" in m})
    return tuple(folders) or DEFAULT_TRAIN_OUTPUTS


def _train_setup(facts: RepoFacts, train: tuple[str, ...]) -> tuple[str, ...]:
    """dvc (with the plugins of the repo's remotes) when training runs it and the project
    does not install it."""
    if not any(line.startswith("dvc ") for line in train) or facts.training.dvc_in_project:
        return ()
    plugins = facts.training.dvc_plugins
    package = "dvc" + ("[" + ",".join(plugins) + "]" if plugins else "") + f"=={DVC_VERSION}"
    return (f"python -m pip install {shlex.quote(package)}",)


def _project_install(facts: RepoFacts, settings: PipelineSettings, tool: str) -> tuple[str, ...]:
    """The installer's recipe, plus the pip requirements of an MLflow project's environment."""
    files = _install_files(facts, settings, tool)
    lines = install_lines(tool, files, facts.buildable)
    reqs = facts.training.mlflow_requirements
    if reqs:
        lines = (*lines, "python -m pip install " + " ".join(shlex.quote(r) for r in reqs))
    return lines


def build_spec(
    facts: RepoFacts, config: RepoConfig, policy: Policy, root: Path | None = None
) -> PipelineSpec:
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
    scheduled = tuple(g for g in enabled if GATES[g].pipeline.scheduled)
    python = settings.python or facts.python
    source = settings.mlgate_install or f"mlgate=={__version__}"

    def install(extras: str) -> str:
        return install_command(root, source, python, extras)

    return PipelineSpec(
        version=__version__,
        python=python,
        level=DEFAULT_LEVEL if settings.level is None else settings.level,
        default_branch=settings.default_branch or facts.default_branch,
        environment=settings.environment or DEFAULT_ENVIRONMENT,
        install_files=files,
        install_lines=_lines(settings.install_command) or _project_install(facts, settings, tool),
        mlgate_requirement=install(""),
        provenance_requirement=install("provenance"),
        train_requirement=install(_extras(train_gates)),
        scheduled_requirement=install(""),
        scheduled_gates=scheduled,
        scheduled_tools=tuple(t for g in scheduled for t in _scanners(g)),
        schedule=settings.schedule or DEFAULT_SCHEDULE,
        gate_jobs=tuple(
            job for name in enabled for job in _gate_jobs(name, settings, policy, install)
        ),
        decide_gates=tuple(g for g in GATES if g in policy.enabled_gates() and g not in enabled),
        train_command=train,
        train_setup=_train_setup(facts, train),
        train_outputs=settings.train_outputs or default_train_outputs(facts, config),
        train_env=(("DVC_NO_ANALYTICS", "1"),) if any("dvc" in line for line in train) else (),
        train_gates=train_gates,
        test_markers=markers,
        deploy_command=_lines(settings.deploy_command or DEPLOY_PLACEHOLDER),
        gitlab_layout=settings.gitlab or "standalone",
        signing=settings.signing or "sigstore",
        tools_digest=tools_digest(root, config),
    )


def tools_digest(root: Path | None, config: RepoConfig) -> str:
    """The identity of the pinned scanners the jobs install: mlgate's shipped tools.lock,
    plus the repository's `.mlgate/tools.lock` when `.mlgate.yml` pins tool versions."""
    digest = hashlib.sha256(_lock_bytes(PACKAGE_LOCK))
    pinned = any(v not in ("system", "pinned") for v in config.tools.values())
    if root is not None and pinned:
        digest.update(_lock_bytes(root / REPO_LOCK))
    return digest.hexdigest()[:TOOLS_DIGEST_CHARS]


def _lock_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""  # a repo pin without its lock: `mlgate run` reports that, not generate
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the tool lock: {exc}") from None


def _install_files(facts: RepoFacts, settings: PipelineSettings, tool: str) -> tuple[str, ...]:
    if settings.install_files is not None:
        return settings.install_files
    return facts.install_files if tool == facts.installer else ()


def _extras(gates: tuple[str, ...]) -> str:
    """The mlgate extras the given gates' checks need, comma-separated, in a stable order
    (`tools` is dropped: it installs nothing; the scanners come from `_scanners`)."""
    wanted = {
        e for g in gates for e in GATES[g].pipeline.extras.split(",") if e not in ("", "tools")
    }
    return ",".join(sorted(wanted))


def _scanners(gate: str) -> tuple[str, ...]:
    """The pinned scanners (tools.lock) the gate runs: its job installs exactly these into
    the cached $MLGATE_TOOLS_DIR before it runs the gate."""
    return tuple(t.name for t in GATES[gate].tools if t.name in TOOLS)


def _lines(command: str | None) -> tuple[str, ...]:
    if not command:
        return ()
    return tuple(line.rstrip() for line in command.strip("\n").splitlines())


def _gate_jobs(
    name: str, settings: PipelineSettings, policy: Policy, install: Callable[[str], str]
) -> list[GateJob]:
    minutes = max(MIN_JOB_MINUTES, math.ceil(policy.settings(name).timeout / 60) + INSTALL_MINUTES)
    traits = GATES[name].pipeline
    shards = settings.shards.get(name, 1) if traits.shardable else 1
    requirement = install(_extras((name,)))
    tools = _scanners(name)
    if shards == 1:
        return [GateJob(name, name, None, traits.needs_project, minutes, requirement, tools)]
    return [
        GateJob(
            f"{name}-{i}-of-{shards}",
            name,
            f"{i}/{shards}",
            traits.needs_project,
            minutes,
            requirement,
            tools,
        )
        for i in range(1, shards + 1)
    ]
