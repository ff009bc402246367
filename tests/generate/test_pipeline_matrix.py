"""Every cell of issue 11's matrix, generated and checked: the two examples and the six repo
shapes (tests/generate/pipeline_shapes.py) x levels 0, 1, 2 x GitHub, GitLab = 48 pipelines.

For each cell `mlgate init --level N --ci both` runs on the shape (in-process, a few ms) and
the test asserts the generated job graph: which jobs exist, what each `needs`, and what each
installs ("no job installs what it does not use": the project only where a gate or training
runs its code, each scanner only in the job that runs it, mlgate's extras only where used,
dvc only in the DVC training job, pinned). Then, per shape and runner, that level N's jobs
are level N-1's plus the jobs that differ, each shared job identical but for exactly the
documented difference. That is what lets tests/generate/test_pipeline_runs.py and the
whole-matrix runner (`python -m tests.generate.matrix`, tests/generate/matrix.py) execute a
cell through a higher level's run: the push pipeline at level 2, training and scheduled at 1.
"""

from __future__ import annotations

import copy
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.cli import run_main
from mlgate.generate.spec import DVC_VERSION

from ..conftest import git_init
from .matrix import IN_CI, cells
from .pipeline_shapes import OWN_WORKFLOW, SHAPES, add_include
from .test_generate import _schema_errors

LEVELS = (0, 1, 2)
RUNNERS = ("github", "gitlab")
CELLS = [(s, level, r) for s in SHAPES for level in LEVELS for r in RUNNERS]
GATES = frozenset({"sast", "secrets", "deps", "models"})
# The gates that run the project's own code get a job only where they check something.
PROJECT_GATES = {
    "churn-model": {"data", "model"},  # data contracts, model settings and tests
    "requirements": {"model"},  # a `model`-marked test
    "uv-lock": {"model"},  # a `model`-marked test
}
SCANNERS = {
    "sast": {"bandit", "semgrep"},
    "secrets": {"detect-secrets"},
    "deps": {"pip-audit"},
    "scheduled": {"bandit", "semgrep", "detect-secrets", "pip-audit"},
}
# The first line of each shape's own install recipe (None: nothing to install).
PROJECT_INSTALL = {
    "churn-model": "python -m pip install -r requirements.txt",
    "insecure-ml": "python -m pip install -r requirements.txt",
    "requirements": "python -m pip install -r requirements.txt",
    "uv-lock": "uv export --frozen",
    "dvc": None,
    "mlflow": "python -m pip install tomli==2.0.1 six==1.17.0",  # conda.yaml, no conda
    "notebooks": None,
    "own-gitlab-ci": None,
}
SCHEDULE_NEVER = {"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"}


@dataclass(frozen=True)
class Job:
    """One generated job, runner-neutral: its definition, its `needs`, its shell text."""

    raw: dict[str, Any]
    needs: tuple[str, ...]
    text: str


Pipeline = dict[str, Job]


def _github_jobs(root: Path) -> Pipeline:
    """Jobs of the workflows; the training workflow's `train` and the scheduled workflow's
    `scan` (named `scheduled`) and its upload (`scheduled-code-scanning`) included."""
    jobs: Pipeline = {}
    flows = root / ".github" / "workflows"
    renames = {
        "mlgate.yml": {},
        "mlgate-train.yml": {},
        "mlgate-scheduled.yml": {"scan": "scheduled", "code-scanning": "scheduled-code-scanning"},
    }
    for file, names in renames.items():
        if not (flows / file).is_file():
            continue
        flow = yaml.safe_load((flows / file).read_text())
        for name, job in flow["jobs"].items():
            needs = job.get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            text = "\n".join(
                str(s.get("run", "")) + str(s.get("uses", "")) for s in job.get("steps", [])
            )
            jobs[names.get(name, name)] = Job(job, tuple(names.get(n, n) for n in needs), text)
    return jobs


def _gitlab_jobs(root: Path) -> Pipeline:
    path = root / ".gitlab" / "mlgate.yml"
    pipeline = yaml.safe_load((path if path.is_file() else root / ".gitlab-ci.yml").read_text())
    jobs: Pipeline = {}
    for name, job in pipeline.items():
        if not name.startswith("mlgate-"):
            continue
        needs = [n["job"] if isinstance(n, dict) else n for n in job.get("needs") or []]
        jobs[name.removeprefix("mlgate-")] = Job(
            job, tuple(n.removeprefix("mlgate-") for n in needs), "\n".join(job["script"])
        )
    return jobs


def _init(root: Path, level: int) -> str:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_main(["init", str(root), "--ci", "both", "--level", str(level), "--force"])
    assert code == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int, str], Pipeline]:
    """Each shape built once; init at each level (over the previous level's files, as a user
    raising the level does); the pipelines of both runners parsed."""
    base = tmp_path_factory.mktemp("matrix")
    cells: dict[tuple[str, int, str], Pipeline] = {}
    for shape, build in SHAPES.items():
        root = base / shape / "repo"
        build(root)
        git_init(root)
        own = (root / ".gitlab-ci.yml").read_text() if shape == "own-gitlab-ci" else None
        for level in LEVELS:
            output = _init(root, level)
            if own is not None:  # init never touches the repository's own pipelines
                assert (root / ".gitlab-ci.yml").read_text() == own
                assert (root / ".github/workflows/ci.yml").read_text() == OWN_WORKFLOW
                if level == 0:
                    add_include(root, output)
                    own = (root / ".gitlab-ci.yml").read_text()
            cells[shape, level, "github"] = _github_jobs(root)
            cells[shape, level, "gitlab"] = _gitlab_jobs(root)
    return cells


def _expected_jobs(shape: str, level: int, runner: str) -> set[str]:
    jobs = set(GATES | PROJECT_GATES.get(shape, set())) | {"decide"}
    if runner == "github":
        jobs.add("code-scanning")
    if level >= 1:
        jobs |= {"train", "scheduled"}
        if runner == "github":
            jobs.add("scheduled-code-scanning")
    if level >= 2:
        jobs.add("deploy")
    return jobs


def _mlgate_extras(text: str) -> set[str]:
    """The extras of the line that installs mlgate (`mlgate[data]==0.1.0` -> {"data"})."""
    found = re.findall(r"pip install '?mlgate(?:\[([a-z,]+)\])?==", text)
    assert len(found) == 1, text
    return set(filter(None, found[0].split(",")))


def _scanners(text: str) -> set[str]:
    return {t for line in re.findall(r"mlgate tools install (.+)", text) for t in line.split()}


@pytest.mark.parametrize(("shape", "level", "runner"), CELLS, ids=str)
def test_cell_jobs_needs_and_installs(
    matrix: dict[tuple[str, int, str], Pipeline], shape: str, level: int, runner: str
) -> None:
    jobs = matrix[shape, level, runner]
    gates = GATES | PROJECT_GATES.get(shape, set())
    assert set(jobs) == _expected_jobs(shape, level, runner)
    expected_needs = {
        **dict.fromkeys(gates, ()),
        "decide": tuple(sorted(gates)),
        "code-scanning": ("decide",),
        "deploy": ("decide",),
        "train": (),
        "scheduled": (),
        "scheduled-code-scanning": ("scheduled",),
    }
    for name, job in jobs.items():
        assert tuple(sorted(job.needs)) == expected_needs[name], name
    runs_project = {"data", "model", "train"}
    for name, job in jobs.items():
        if name.endswith("code-scanning"):
            assert "pip install" not in job.text, name  # downloads and uploads only
            continue
        project = "python -m venv" in job.text
        assert project == (name in runs_project), name
        recipe = PROJECT_INSTALL[shape]
        if recipe is not None:
            assert (recipe in job.text) == project, name
        assert ("pip install pytest" in job.text) == project, name
        assert _scanners(job.text) == SCANNERS.get(name, set()), name
        dvc = f"pip install dvc=={DVC_VERSION}" in job.text
        assert dvc == (shape == "dvc" and name == "train"), name
        assert "pip install dvc\n" not in job.text + "\n", name  # never unpinned
        assert _mlgate_extras(job.text) == _extras(shape, level, runner, name), name


def _extras(shape: str, level: int, runner: str, job: str) -> set[str]:
    """The mlgate extras a job uses: the data stack where the data gate runs (its job, and
    training when it re-runs it); Ed25519/Sigstore where GitLab signs and verifies."""
    if job == "data" or (job == "train" and "data" in PROJECT_GATES.get(shape, set())):
        return {"data"}
    if runner == "gitlab" and level >= 2 and job in ("decide", "deploy"):
        return {"provenance"}
    return set()


def _without_signing(runner: str, decide: dict[str, Any]) -> dict[str, Any]:
    """Level 2's decide minus what signs the receipt: that is level 1's decide."""
    job = copy.deepcopy(decide)
    if runner == "github":
        del job["permissions"]["id-token"], job["permissions"]["attestations"]
        job["steps"] = [s for s in job["steps"] if "attest-build-provenance" not in str(s)]
        return job
    del job["id_tokens"]
    job["script"] = [
        line.replace("'mlgate[provenance]==0.1.0'", "mlgate==0.1.0")
        for line in job["script"]
        if "python -m sigstore sign" not in line
    ]
    return job


@pytest.mark.parametrize(("shape", "runner"), [(s, r) for s in SHAPES for r in RUNNERS])
def test_each_level_is_the_previous_one_plus_the_jobs_that_differ(
    matrix: dict[tuple[str, int, str], Pipeline], shape: str, runner: str
) -> None:
    """Level 1 = level 0 + train + scheduled (GitLab: every level-0 job also says `when:
    never` in scheduled pipelines); level 2 = level 1 + deploy, decide also signing. Every
    other job is byte-for-byte the same definition."""
    l0, l1, l2 = (matrix[shape, level, runner] for level in LEVELS)
    added = {"train", "scheduled"} | ({"scheduled-code-scanning"} if runner == "github" else set())
    assert set(l1) - set(l0) == added and set(l2) - set(l1) == {"deploy"}
    for name, job in l0.items():
        raw = copy.deepcopy(job.raw)
        if runner == "gitlab":
            raw["rules"] = [SCHEDULE_NEVER, *raw["rules"]]
        assert l1[name].raw == raw, name
    for name, job in l1.items():
        if name == "decide":
            assert _without_signing(runner, l2[name].raw) == job.raw
        else:
            assert l2[name].raw == job.raw, name


def test_gitlab_key_signing_replaces_sigstore(tmp_path: Path) -> None:
    """pipeline.signing: key (level 2, GitLab): decide signs with MLGATE_SIGNING_KEY on the
    default branch only and asks for no OIDC token; deploy verifies with MLGATE_PUBLIC_KEY;
    nothing Sigstore is left. The default (sigstore) is the other way round."""
    root = tmp_path / "repo"
    SHAPES["requirements"](root)
    git_init(root)
    _init(root, 2)
    default = _gitlab_jobs(root)
    assert "id_tokens" in default["decide"].raw and "--sign-key" not in default["decide"].text
    assert "--bundle" in default["deploy"].text and "--public-key" not in default["deploy"].text
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace('signing: "sigstore"', 'signing: "key"'))
    assert run_main(["generate", str(root), "--ci", "gitlab"]) == 0
    keyed = _gitlab_jobs(root)
    decide, deploy = keyed["decide"], keyed["deploy"]
    assert "id_tokens" not in decide.raw and "sigstore" not in decide.text
    assert 'if [ "$CI_COMMIT_BRANCH" = main ]; then' in decide.text
    assert '--sign-key "${MLGATE_SIGNING_KEY:?' in decide.text
    assert '"${sign[@]}"' in decide.text
    assert '--public-key "${MLGATE_PUBLIC_KEY:?' in deploy.text and "--bundle" not in deploy.text
    # every other job is the same as with the default
    assert {n: j.raw for n, j in keyed.items() if n not in ("decide", "deploy")} == {
        n: j.raw for n, j in default.items() if n not in ("decide", "deploy")
    }
    # valid under check-jsonschema's GitLab CI schema, like every generated pipeline
    assert _schema_errors("vendor.gitlab-ci", [root / ".gitlab-ci.yml"]) == []
    # re-init keeps the setting
    _init(root, 2)
    assert 'signing: "key"' in config.read_text()


def test_the_matrix_runner_runs_the_cells_this_module_makes_sufficient() -> None:
    """`python -m tests.generate.matrix` (no --level) runs push at level 2 only, train and
    scheduled at level 1 only: the reduction the level test above justifies. Every cell of
    it, for every shape and runner; the execution tests' cells are among them (but the
    level-0 own-CI run, which is beside the reduction)."""
    chosen = {(c.runner, c.shape, c.level, c.pipeline) for c in cells()}
    expected = {
        (r, s, 2 if p == "push" else 1, p)
        for r in RUNNERS
        for s in SHAPES
        for p in ("push", "train", "scheduled")
    }
    assert chosen == expected and len(chosen) == 48
    assert IN_CI - chosen == {("gitlab", "own-gitlab-ci", 0, "push")}
    split = {(c.runner, c.shape, c.level, c.pipeline) for c in cells(not_in_ci=True)}
    assert split | {(c.runner, c.shape, c.level, c.pipeline) for c in cells(in_ci=True)} == chosen
    assert {c.pipeline for c in cells(level=0)} == {"push"}
