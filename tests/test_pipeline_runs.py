"""The generated pipelines, executed (issues 11 and 18).

GitHub: every job of `.github/workflows/mlgate.yml` runs with the step runner in
`tests/ghrunner.py` (its docstring says exactly what it emulates). GitLab: `.gitlab-ci.yml` runs
with `gitlab-ci-local` (its shell executor; `scripts/test.sh` installs it into `.ci-tools/`).
mlgate comes from a wheel built from this checkout, named in `.mlgate.yml`
`pipeline.mlgate_install`; the deps gate uses the vendored OSV subset (tests/data/advisory-db)
through `MLGATE_ADVISORY_DB`.

Which runs, and why these (CI time: each run costs 1-4 minutes on 2 shared cores):

| run | runner | level | shape |
|---|---|---|---|
| gh_churn / gl_churn | both | 0 | examples/churn-model (requirements, data and model gates): passes |
| gh_insecure / gl_insecure | both | 0 | examples/insecure-ml: stops at decide |
| forger, missing shard | both | 0 | a `model` test forging a report; a removed shard: both block |
| gl_own_ci | GitLab | 0 | notebooks only, with a `.gitlab-ci.yml` of its own + the include init printed |
| gl_dvc_train | GitLab | 1 | DVC with a local remote: the training job (pull, repro, push, keep) |
| gh_uv_deploy | GitHub | 2 | pyproject + uv.lock, a `model` test: deploy verifies the receipt |
| gh_mlflow_train | GitHub | 1 | MLflow project (MLproject + conda.yaml): the training workflow |

Each shape runs once and each level on each runner at least once (GitLab level 2 is not run:
its decide signs with Sigstore through a GitLab OIDC token, which gitlab-ci-local cannot give;
its deploy job shares the `mlgate verify` line GitHub's runs). The rest is the same code path
rendered from the same spec: the install recipe (pip, uv, ...) is one macro per CI system used
by every job that installs the project, the gate, decide and train jobs are one template each
for any shape, and `tests/test_generate.py` validates every shape x level with
check-jsonschema, actionlint and zizmor. The training runs exercise only the training job
(level 1's gates are level 0's). `test_placeholder_deploy_fails_saying_what_to_set` runs the
placeholder deploy step with bash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import ghrunner
from .conftest import ADVISORY_DB, EXAMPLES, REPO_ROOT, fixture_path, git_init, run_cli, write

pytestmark = pytest.mark.slow

GCL_VERSION = "4.72.0"
GCL = REPO_ROOT / ".ci-tools" / "node_modules" / ".bin" / "gitlab-ci-local"
GATES_L0 = {"sast", "secrets", "deps", "models"}


@dataclass(frozen=True)
class Prepared:
    root: Path
    workflow: Path


@pytest.fixture(scope="session")
def job_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Variables every job gets: the vendored advisory database, cold caches of its own."""
    cache = tmp_path_factory.mktemp("job-cache")
    return {
        "MLGATE_ADVISORY_DB": str(fixture_path(ADVISORY_DB / "vulns").parent),
        "XDG_CACHE_HOME": str(cache),
        "MLGATE_CACHE_DIR": str(cache / "mlgate"),
        # the project installs (numpy, pandas, ...) reuse the machine's pip cache
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # a job that would install into an interpreter outside a virtual environment fails
        "PIP_REQUIRE_VIRTUALENV": "1",
        "NO_COLOR": "1",
    }


@pytest.fixture(scope="session")
def runner_env(
    tmp_path_factory: pytest.TempPathFactory, job_env: dict[str, str]
) -> ghrunner.Environment:
    return ghrunner.prepare_environment(tmp_path_factory.mktemp("runner"), job_env)


PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="session")
def mlgate_lock(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> dict[str, str]:
    """`mlgate tools lock --mlgate` (real uv, real index) once for the wheel and this Python,
    resolved within the versions this test environment holds (uv's own UV_CONSTRAINT), so a
    job's `pip install --require-hashes --no-deps -r` hash-checks the wheel and finds the
    dependencies installed (the jobs see them, see ghrunner)."""
    root = tmp_path_factory.mktemp("mlgate-lock") / "repo"
    write(root, "app.py", "x = 1\n")
    config = f'python: "{PYTHON}"\npipeline:\n  mlgate_install: {json.dumps(str(wheel))}\n'
    write(root, ".mlgate.yml", config)
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    constraints = root.parent / "constraints.txt"
    constraints.write_text("".join(f"{line}\n" for line in frozen.splitlines() if "==" in line))
    done = run_cli(
        ["tools", "lock", "--mlgate", "--path", str(root)],
        env={"UV_CONSTRAINT": str(constraints)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in (root / ".mlgate").glob("mlgate-install*.txt")
    }


def _prepare(
    base: Path,
    source: Callable[[Path], None],
    wheel: Path,
    extra: str = "",
    level: int = 0,
    after_init: Callable[[Path, str], None] | None = None,
    locked: dict[str, str] | None = None,
) -> Path:
    """Build the repository, `mlgate init` it at `level`, point mlgate_install at the wheel,
    append `extra` to .mlgate.yml, regenerate and commit. `after_init(root, init output)`
    runs before the regeneration (what a user does after init). With `locked` (the
    `mlgate_lock` files): for this Python, mlgate installed hash-checked."""
    root = base / "repo"
    source(root)
    git_init(root)
    done = run_cli(["init", str(root), "--ci", "both", "--level", str(level), "--force"])
    assert done.returncode == 0, done.stderr
    if after_init is not None:
        after_init(root, done.stdout)
    config = root / ".mlgate.yml"
    text = config.read_text().replace(
        'mlgate_install: "mlgate==0.1.0"', f"mlgate_install: {json.dumps(str(wheel))}"
    )
    if locked:
        text = re.sub(r"(?m)^python: .*$", f'python: "{PYTHON}"', text)
        for rel, lock in locked.items():
            write(root, rel, lock)
    config.write_text(text + extra)
    for ci in ("github", "gitlab"):
        done = run_cli(["generate", str(root), "--ci", ci])
        assert done.returncode == 0, done.stderr
    workflow = (root / ".github/workflows/mlgate.yml").read_text()
    assert ("--require-hashes" in workflow) if locked else (str(wheel) in workflow)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "mlgate init"], cwd=root, check=True)
    return root


def _example(name: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        shutil.copytree(EXAMPLES / name, root)

    return build


FORGER_TEST = '''\
import json
from pathlib import Path

import pytest


@pytest.mark.model
def test_forges_the_deps_report():
    """Code from a pull request, run by the model gate: it writes a passing deps report."""
    for folder in ("mlgate-reports/deps", "../mlgate-reports/deps"):
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        (target / "mlgate.json").write_text(json.dumps({"forged": True}))
'''


def _forger(root: Path) -> None:
    """A small repo: vulnerable pins the deps gate finds, and a `model` test that forges."""
    write(root, "app.py", "def add(a, b):\n    return a + b\n")
    write(root, "docs/requirements.txt", "PyYAML==5.3.1\nrequests==2.25.0\n")
    write(root, "tests/test_forge.py", FORGER_TEST)
    write(root, "pytest.ini", "[pytest]\nmarkers =\n    model: model checks\n")


def _sharded(root: Path) -> None:
    shutil.copytree(EXAMPLES / "insecure-ml", root)


# --- GitHub -----------------------------------------------------------------------------------


def _github(
    tmp: Path, root: Path, env: ghrunner.Environment, hooks: dict[str, Any] | None = None
) -> ghrunner.Run:
    runner = ghrunner.Runner(root, tmp / "gh", env)
    run = runner.run(root / ".github/workflows/mlgate.yml", hooks)
    print(f"\nGitHub run of {root}:\n{run.table()}")
    return run


def _decision(run: ghrunner.Run) -> Path:
    return run.artifacts / "mlgate-decision"


@pytest.fixture(scope="session")
def gh_churn(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    mlgate_lock: dict[str, str],
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-churn")
    root = _prepare(tmp, _example("churn-model"), wheel, locked=mlgate_lock)
    return _github(tmp, root, runner_env)


@pytest.fixture(scope="session")
def gh_insecure(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-insecure")
    return _github(tmp, _prepare(tmp, _example("insecure-ml"), wheel), runner_env)


def _logs(run: ghrunner.Run) -> str:
    return "\n\n".join(f"=== {n} ({r.status})\n{r.log}" for n, r in run.jobs.items())


def test_github_clean_repo_passes_end_to_end(
    gh_churn: ghrunner.Run, job_env: dict[str, str]
) -> None:
    run = gh_churn
    assert {n: r.status for n, r in run.jobs.items()} == {
        **{g: "success" for g in (*GATES_L0, "data", "model")},
        "decide": "success",
        "code-scanning": "success",
    }, _logs(run)
    receipt = json.loads((_decision(run) / "receipt.json").read_text())
    assert receipt["decision"] == "pass"
    assert set(receipt["gates"]) >= GATES_L0 | {"data", "model"}
    # every gate job uploaded its own report alone, and printed its sha256
    for gate in (*GATES_L0, "data", "model"):
        assert sorted(p.name for p in (run.artifacts / f"mlgate-report-{gate}").iterdir()) == [
            "mlgate.json"
        ]
        digest = run.jobs[gate].outputs["digest"]
        assert f"sha256:{digest}" in run.jobs[gate].log
    model = json.loads((run.artifacts / "mlgate-report-model/mlgate.json").read_text())
    assert model["gates"][0]["status"] == "pass"  # the project's tests ran in its own env
    assert len(run.sarif) == 1
    # mlgate hash-checked from .mlgate/mlgate-install*.txt; the scanners only where a
    # gate runs them, from their cached environments (never the default tools dir)
    for gate in (*GATES_L0, "data", "model"):
        assert "Successfully installed mlgate-" in run.jobs[gate].log, gate
        installed = "--- step: Install the pinned scanners" in run.jobs[gate].log
        assert installed == (gate in ("sast", "secrets", "deps")), gate
    for gate, tools in {"sast": "bandit semgrep", "deps": "pip-audit"}.items():
        log = run.jobs[gate].log
        assert "Cache restored from key: mlgate-tools-" in log or "Cache saved with key" in log
        for tool in tools.split():
            assert re.search(rf"{tool} +[0-9.]+ +pinned +(intact|installed)", log), log
    sast = json.loads((run.artifacts / "mlgate-report-sast/mlgate.json").read_text())
    assert sast["tools"]["semgrep"]["source"] == "pinned"
    assert not (Path(job_env["XDG_CACHE_HOME"]) / "mlgate" / "tools").exists()


def test_github_insecure_repo_stops_at_decide(gh_insecure: ghrunner.Run) -> None:
    run = gh_insecure
    status = {n: r.status for n, r in run.jobs.items()}
    assert status["decide"] == "failure", _logs(run)
    assert {status[g] for g in ("sast", "deps", "models")} == {"failure"}
    assert not (_decision(run) / "receipt.json").exists()
    merged = json.loads((_decision(run) / "mlgate.json").read_text())
    assert merged["decision"]["passed"] is False
    blocked = {g["name"] for g in merged["gates"] if g["status"] == "fail"}
    assert {"sast", "deps", "models"} <= blocked
    sarif = json.loads((_decision(run) / "mlgate.sarif").read_text())
    rules = {r["ruleId"] for run_ in sarif["runs"] for r in run_["results"]}
    assert any("pickle" in rule for rule in rules), rules
    assert (_decision(run) / "junit.xml").read_text().count("<failure") >= 3
    gl = json.loads((_decision(run) / "gl-dependency-scanning-report.json").read_text())
    assert gl["vulnerabilities"]
    assert status["code-scanning"] == "success" and run.sarif


def test_github_forged_report_from_a_model_test_blocks(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> None:
    tmp = tmp_path_factory.mktemp("gh-forge")
    run = _github(tmp, _prepare(tmp, _forger, wheel), runner_env)
    assert run.status("model") == "success", _logs(run)
    workdir = run.jobs["model"].workdir
    assert workdir is not None
    forged = workdir / "mlgate-reports/deps/mlgate.json"
    assert json.loads(forged.read_text()) == {"forged": True}  # the test did write it
    assert sorted(p.name for p in (run.artifacts / "mlgate-report-model").iterdir()) == [
        "mlgate.json"
    ]
    assert run.status("decide") == "failure"
    merged = json.loads((_decision(run) / "mlgate.json").read_text())
    deps = next(g for g in merged["gates"] if g["name"] == "deps")
    assert deps["status"] == "fail" and merged["decision"]["passed"] is False


def test_github_missing_shard_blocks(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> None:
    tmp = tmp_path_factory.mktemp("gh-shard")
    root = _prepare(tmp, _sharded, wheel)
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace("shards: 1", "shards: 2", 1))
    assert run_cli(["generate", str(root), "--ci", "github"]).returncode == 0
    subprocess.run(["git", "commit", "-qam", "two shards"], cwd=root, check=True)
    runner = ghrunner.Runner(root, tmp / "gh", runner_env)

    def drop_shard(workdir: Path) -> None:
        shutil.rmtree(runner.artifacts / "mlgate-report-sast-2-of-2")

    run = runner.run(root / ".github/workflows/mlgate.yml", {"decide": drop_shard})
    assert run.status("sast-2-of-2") in ("success", "failure")
    assert run.status("decide") == "failure"
    assert "Artifact not found for name: mlgate-report-sast-2-of-2" in run.jobs["decide"].log
    assert not (run.artifacts / "mlgate-decision" / "receipt.json").exists()


# --- GitLab -----------------------------------------------------------------------------------

PYTHON_SHIM = """#!/bin/bash
# A fresh interpreter per job, as each job of a real runner gets its own image: a virtual
# environment per job name that sees the test environment's packages except mlgate.
set -e
v="$GCL_VENVS/${CI_JOB_NAME:?}"
if [ ! -x "$v/bin/python" ]; then
  "$GCL_BASE_PYTHON" -m venv --without-pip "$v"
  for site in "$v"/lib/python3*/site-packages; do echo "$GCL_DEPS_SITE" > "$site/_deps.pth"; done
fi
exec "$v/bin/python" "$@"
"""
MLGATE_SHIM = """#!/bin/bash
exec "$GCL_VENVS/${CI_JOB_NAME:?}/bin/mlgate" "$@"
"""


@dataclass(frozen=True)
class GitLabRun:
    root: Path
    output: str
    status: dict[str, str]

    def job_log(self, job: str) -> str:
        return (self.root / ".gitlab-ci-local" / "output" / f"{job}.log").read_text()


@pytest.fixture(scope="session")
def gcl() -> Path:
    """gitlab-ci-local, installed by scripts/test.sh (npm, pinned); missing: the test fails."""
    return fixture_path(GCL)


def _gitlab(
    tmp: Path,
    root: Path,
    gcl: Path,
    env: ghrunner.Environment,
    *args: str,
) -> GitLabRun:
    shims = tmp / "shims"
    if not shims.is_dir():
        shims.mkdir()
        for name, text in (("python", PYTHON_SHIM), ("mlgate", MLGATE_SHIM)):
            (shims / name).write_text(text)
            (shims / name).chmod(0o755)
    variables = {
        **env.env,
        "GCL_VENVS": str(tmp / "job-pythons"),
        "GCL_BASE_PYTHON": sys.executable,
        "GCL_DEPS_SITE": str(env.deps_site),
        "TMPDIR": str(tmp / "job-tmp"),
        # over the job's own (a project variable wins): the session's pinned tools, so each
        # job's `mlgate tools install` verifies them instead of downloading ~400 MB again
        "MLGATE_TOOLS_DIR": str(env.tools_dir),
    }
    (tmp / "job-tmp").mkdir(exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    # gitlab-ci-local reads the file relative to the repository (an absolute path is ignored),
    # and turns a value that names an existing file into a file variable unless typed.
    varfile = root / ".gitlab-ci-local-variables.yml"
    typed = {k: {"type": "variable", "values": {"*": v}} for k, v in variables.items()}
    varfile.write_text(yaml.safe_dump(typed))
    here = str(Path(sys.executable).parent)
    path = [str(shims)]
    path += [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != here]
    done = subprocess.run(
        [
            str(gcl),
            "--force-shell-executor",
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--no-color",
            "--variables-file",
            varfile.name,
            *args,
        ],
        cwd=root,
        # an empty home: the job shells read no profile that would put another Python first
        env={"PATH": os.pathsep.join(path), "HOME": str(home), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    status = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("PASS", "FAIL", "WARN"):
            status[parts[1]] = parts[0]
    (tmp / "gitlab-ci-local.log").write_text(done.stdout + done.stderr)
    print(f"\nGitLab run of {root}: {status} (log: {tmp / 'gitlab-ci-local.log'})")
    return GitLabRun(root, done.stdout + done.stderr, status)


def _gl_artifact(run: GitLabRun, job: str, rel: str) -> Path:
    return run.root / ".gitlab-ci-local" / "artifacts" / job / rel


@pytest.fixture(scope="session")
def gl_insecure(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-insecure")
    return _gitlab(tmp, _prepare(tmp, _example("insecure-ml"), wheel), gcl, runner_env)


@pytest.fixture(scope="session")
def gl_churn(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
    mlgate_lock: dict[str, str],
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-churn")
    root = _prepare(tmp, _example("churn-model"), wheel, locked=mlgate_lock)
    return _gitlab(tmp, root, gcl, runner_env)


def test_gitlab_clean_repo_passes_end_to_end(gl_churn: GitLabRun) -> None:
    run = gl_churn
    jobs = [f"mlgate-{g}" for g in (*GATES_L0, "data", "model")]
    assert run.status == {**{j: "PASS" for j in jobs}, "mlgate-decide": "PASS"}, run.output
    receipt = _gl_artifact(run, "mlgate-decide", "mlgate-out/receipt.json")
    assert json.loads(receipt.read_text())["decision"] == "pass"
    for job in jobs:
        assert "mlgate report mlgate-reports/" in run.job_log(job)


def test_gitlab_insecure_repo_stops_at_decide(gl_insecure: GitLabRun) -> None:
    run = gl_insecure
    assert run.status["mlgate-decide"] == "FAIL", run.output
    assert {run.status[f"mlgate-{g}"] for g in ("sast", "deps", "models")} == {"FAIL"}
    out = "mlgate-out"
    assert not _gl_artifact(run, "mlgate-decide", f"{out}/receipt.json").exists()
    sast = json.loads(_gl_artifact(run, "mlgate-decide", f"{out}/gl-sast-report.json").read_text())
    assert any("pickle" in json.dumps(v).lower() for v in sast["vulnerabilities"])
    deps = _gl_artifact(run, "mlgate-decide", f"{out}/gl-dependency-scanning-report.json")
    assert json.loads(deps.read_text())["vulnerabilities"]
    junit = _gl_artifact(run, "mlgate-decide", f"{out}/junit.xml").read_text()
    assert junit.count("<failure") >= 3
    # each gate job shipped its own report alone
    sast_files = sorted(
        p.relative_to(_gl_artifact(run, "mlgate-sast", ""))
        for p in _gl_artifact(run, "mlgate-sast", "").rglob("*")
        if p.is_file() and ".gitlab-ci-reports" not in p.parts
    )
    assert sast_files == [Path("mlgate-reports/sast/mlgate.json")]


def test_gitlab_forged_report_from_a_model_test_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> None:
    tmp = tmp_path_factory.mktemp("gl-forge")
    run = _gitlab(tmp, _prepare(tmp, _forger, wheel), gcl, runner_env)
    assert run.status["mlgate-model"] == "PASS", run.output
    build = run.root / ".gitlab-ci-local" / "builds" / "mlgate-model"
    assert json.loads((build / "mlgate-reports/deps/mlgate.json").read_text()) == {"forged": True}
    assert run.status["mlgate-decide"] == "FAIL"
    merged = json.loads(_gl_artifact(run, "mlgate-decide", "mlgate-out/mlgate.json").read_text())
    deps = next(g for g in merged["gates"] if g["name"] == "deps")
    assert deps["status"] == "fail" and merged["decision"]["passed"] is False


def test_gitlab_missing_shard_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> None:
    tmp = tmp_path_factory.mktemp("gl-shard")
    root = _prepare(tmp, _sharded, wheel)
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace("shards: 1", "shards: 2", 1))
    assert run_cli(["generate", str(root), "--ci", "gitlab"]).returncode == 0
    subprocess.run(["git", "commit", "-qam", "two shards"], cwd=root, check=True)
    gates = _gitlab(tmp, root, gcl, runner_env, "--stage", "gates")
    assert "mlgate-sast-2-of-2" in gates.status, gates.output
    shutil.rmtree(_gl_artifact(gates, "mlgate-sast-2-of-2", "mlgate-reports"))
    run = _gitlab(tmp, root, gcl, runner_env, "mlgate-decide")
    assert run.status["mlgate-decide"] == "FAIL", run.output
    assert "mlgate-reports/sast-2-of-2/mlgate.json: no such report" in run.job_log("mlgate-decide")


# --- repository shapes and levels -------------------------------------------------------------
# One run per shape, each level on each runner once (see the module docstring).

SHAPES = REPO_ROOT / "tests" / "data" / "shapes"
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Explore"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["3\n"]}],
            "source": ["values = [1, 2, 3]\n", "print(max(values))"],
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
OWN_PIPELINE = """\
# The project's own pipeline, written before mlgate.
stages: [build, test]

own-check:
  stage: build
  script:
    - echo "own job ran for $CI_COMMIT_SHORT_SHA"
"""


def _notebooks_with_own_ci(root: Path) -> None:
    """Notebooks only (no .py, no dependency file), and a .gitlab-ci.yml of its own."""
    write(root, "notebooks/explore.ipynb", json.dumps(NOTEBOOK, indent=1))
    write(root, ".gitlab-ci.yml", OWN_PIPELINE)


def _add_include(root: Path, init_output: str) -> None:
    """What the user does after init: add the include: lines init printed."""
    assert (root / ".gitlab-ci.yml").read_text() == OWN_PIPELINE  # init left it alone
    lines = init_output.split("add these lines to .gitlab-ci.yml:\n", 1)[1].splitlines()[:2]
    assert lines == ["include:", "  - local: .gitlab/mlgate.yml"], init_output
    with (root / ".gitlab-ci.yml").open("a") as host:
        host.write("\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def gl_own_ci(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-own-ci")
    root = _prepare(tmp, _notebooks_with_own_ci, wheel, after_init=_add_include)
    return _gitlab(tmp, root, gcl, runner_env)


def test_gitlab_beside_the_repositorys_own_pipeline(gl_own_ci: GitLabRun) -> None:
    """Level 0, notebooks only, GitLab: the repo's own job still runs, mlgate's jobs run from
    the included .gitlab/mlgate.yml in the repo's stages, and the decision passes."""
    run = gl_own_ci
    jobs = [f"mlgate-{g}" for g in ("sast", "secrets", "deps", "models")]
    assert run.status == {
        "own-check": "PASS",
        **dict.fromkeys(jobs, "PASS"),
        "mlgate-decide": "PASS",
    }, run.output
    assert "own job ran for" in run.job_log("own-check")
    receipt = json.loads(_gl_artifact(run, "mlgate-decide", "mlgate-out/receipt.json").read_text())
    assert receipt["decision"] == "pass"
    sast = json.loads(
        _gl_artifact(run, "mlgate-sast", "mlgate-reports/sast/mlgate.json").read_text()
    )
    gate = sast["gates"][0]
    assert gate["status"] == "pass" and gate["files_scanned"] == 1  # the notebook
    assert gate["properties"]["notebooks"] == 1
    # data and model have nothing to check: no job installs the project, decide runs them
    merged = json.loads(_gl_artifact(run, "mlgate-decide", "mlgate-out/mlgate.json").read_text())
    status = {g["name"]: g["status"] for g in merged["gates"]}
    assert status["data"] == status["model"] == "skipped" and status["sast"] == "pass"


# DVC with a local remote: the raw data is in the remote only (its .dvc file is committed).
RAW = "feature,label\n1,0\n2,1\n3,1\n"
DVC_TRAIN = """\
import json
import os
import pickle

rows = [line.split(",") for line in open("data/raw.csv").read().splitlines()[1:]]
mean = sum(float(r[0]) for r in rows) / len(rows)
os.makedirs("models", exist_ok=True)
with open("models/model.pkl", "wb") as out:
    pickle.dump({"threshold": mean}, out)
with open("metrics.json", "w") as out:
    json.dump({"rows": len(rows)}, out)
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [data/raw.csv, train.py]
    outs: [models/model.pkl]
    metrics:
      - metrics.json:
          cache: false
"""


def _dvc_repo(remote: Path) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        digest = hashlib.md5(RAW.encode(), usedforsecurity=False).hexdigest()  # DVC's address
        stored = remote / "files" / "md5" / digest[:2] / digest[2:]
        stored.parent.mkdir(parents=True)
        stored.write_text(RAW)
        write(root, "train.py", DVC_TRAIN)
        write(root, "dvc.yaml", DVC_YAML)
        write(root, "data/.gitignore", "/raw.csv\n")
        write(
            root,
            "data/raw.csv.dvc",
            f"outs:\n- md5: {digest}\n  size: {len(RAW)}\n  hash: md5\n  path: raw.csv\n",
        )
        write(root, ".dvc/.gitignore", "/config.local\n/tmp\n/cache\n")
        write(
            root,
            ".dvc/config",
            f"[core]\n    remote = store\n    analytics = false\n"
            f"['remote \"store\"']\n    url = {remote}\n",
        )

    return build


@pytest.fixture(scope="session")
def gl_dvc_train(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> tuple[GitLabRun, Path]:
    tmp = tmp_path_factory.mktemp("gl-dvc")
    remote = tmp / "dvc-remote"
    root = _prepare(tmp, _dvc_repo(remote), wheel, level=1)
    # gitlab-ci-local evaluates the job's `changes:` against origin/<default branch>
    subprocess.run(["git", "remote", "add", "origin", str(root)], cwd=root, check=True)
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=root, check=True)
    # the training pipeline: the job run by name (as "Run pipeline" or a schedule would)
    return _gitlab(tmp, root, gcl, runner_env, "mlgate-train"), remote


def test_gitlab_dvc_training_pulls_trains_pushes_and_keeps_the_model(
    gl_dvc_train: tuple[GitLabRun, Path],
) -> None:
    """Level 1, DVC with a local remote, GitLab: dvc pull, dvc repro, dvc push; the model is
    kept as the job's artifact and the models gate that follows scanned it."""
    run, remote = gl_dvc_train
    assert run.status == {"mlgate-train": "PASS"}, run.output
    log = run.job_log("mlgate-train")
    assert "Running stage 'train'" in log  # dvc repro ran the stage (the data was pulled)
    model = _gl_artifact(run, "mlgate-train", "models/model.pkl")
    assert json.loads(_gl_artifact(run, "mlgate-train", "metrics.json").read_text()) == {"rows": 3}
    digest = hashlib.md5(model.read_bytes(), usedforsecurity=False).hexdigest()
    assert (remote / "files" / "md5" / digest[:2] / digest[2:]).is_file()  # dvc push
    report = json.loads(
        _gl_artifact(run, "mlgate-train", "mlgate-reports/train/mlgate.json").read_text()
    )
    models = next(g for g in report["gates"] if g["name"] == "models")
    assert models["status"] == "pass"
    scanned = [f["path"] for f in report["findings"] if f["gate"] == "models"]
    assert "models/model.pkl" in scanned, report["findings"]


# --- GitHub: pyproject + uv.lock at level 2; an MLflow project at level 1 ---------------------

UV_MODEL_TEST = """\
import pytest
import six


@pytest.mark.model
def test_runs_in_the_locked_environment():
    assert six.__version__ == "1.17.0"
"""


def _uv_repo(root: Path) -> None:
    shutil.copytree(fixture_path(SHAPES / "uv-lock"), root)
    write(root, "tests/test_model.py", UV_MODEL_TEST)
    write(root, "serve.py", "def predict(x):\n    return x\n")


DEPLOY = 'deploy_command: |\n  echo "deployed $GITHUB_SHA" > "$RUNNER_TEMP/deployed"\n'


@pytest.fixture(scope="session")
def gh_uv_deploy(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-uv")

    def set_deploy(root: Path, _: str) -> None:
        config = root / ".mlgate.yml"
        text = config.read_text()
        start = text.index("deploy_command: |")
        end = text.index("\n\n", start)
        config.write_text(text[:start] + DEPLOY.rstrip("\n") + text[end:])

    return _github(tmp, _prepare(tmp, _uv_repo, wheel, level=2, after_init=set_deploy), runner_env)


def test_github_uv_lock_level_2_deploys_with_a_verified_receipt(
    gh_uv_deploy: ghrunner.Run, runner_env: ghrunner.Environment
) -> None:
    """Level 2, pyproject + uv.lock, GitHub: the model gate's job installs the project from
    the lock (uv export, hash-pinned) into its own environment; decide attests the receipt;
    deploy verifies the attestations and the receipt for this commit, then deploys."""
    run = gh_uv_deploy
    assert {n: r.status for n, r in run.jobs.items()} == {
        **{g: "success" for g in (*GATES_L0, "model")},
        "decide": "success",
        "code-scanning": "success",
        "deploy": "success",
    }, _logs(run)
    workflow = _workdir(run, "model") / ".github/workflows/mlgate.yml"
    assert "uv export --frozen" in workflow.read_text()
    assert "1 passed" in run.jobs["model"].log  # the marked test ran with six from the lock
    deploy = _workdir(run, "deploy")
    assert "attested by example/repo/.github/workflows/mlgate.yml" in run.jobs["deploy"].log
    # $RUNNER_TEMP is one path for every job (ghrunner), emptied when the next job starts:
    # deploy ran last
    assert (runner_env.runner_temp / "deployed").read_text().strip() == (
        f"deployed {_head(deploy)}"
    )
    # the receipt deploy verified is for this commit only
    receipt = _decision(run) / "receipt.json"
    other = run_cli(["verify", str(receipt), "--commit", "0" * 40, "--env", "production"])
    assert other.returncode != 0 and "commit" in (other.stdout + other.stderr)


def _workdir(run: ghrunner.Run, job: str) -> Path:
    workdir = run.jobs[job].workdir
    assert workdir is not None, f"{job} did not run"
    return workdir


def _head(checkout: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()


MLPROJECT = """\
name: churn
conda_env: conda.yaml
entry_points:
  main:
    parameters:
      rows: {type: float, default: 3}
    command: "python train.py --rows {rows}"
"""
CONDA_YAML = """\
name: churn
channels: [conda-forge]
dependencies:
  - python=3.11
  - pip
  - tomli=2.0.1
  - pip:
      - six==1.17.0
"""
MLFLOW_TRAIN = """\
import json
import os
import pickle
import sys

import six  # from conda.yaml's pip list
import tomli  # from conda.yaml's conda list

rows = int(float(sys.argv[sys.argv.index("--rows") + 1]))
os.makedirs("models", exist_ok=True)
with open("models/model.pkl", "wb") as out:
    pickle.dump({"rows": rows, "six": six.__version__, "tomli": tomli.__name__}, out)
"""


def _mlflow_repo(root: Path) -> None:
    write(root, "MLproject", MLPROJECT)
    write(root, "conda.yaml", CONDA_YAML)
    write(root, "train.py", MLFLOW_TRAIN)


@pytest.fixture(scope="session")
def gh_mlflow_train(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-mlflow")
    root = _prepare(tmp, _mlflow_repo, wheel, level=1)
    runner = ghrunner.Runner(root, tmp / "gh", runner_env)
    run = runner.run(root / ".github/workflows/mlgate-train.yml")
    print(f"\nGitHub training run of {root}:\n{run.table()}")
    return run


def test_github_mlflow_training_keeps_the_model(gh_mlflow_train: ghrunner.Run) -> None:
    """Level 1, MLflow project, GitHub: conda.yaml's requirements go into the project's
    environment (no conda), the main entry point trains with its parameter defaults, the
    models gate scans the new model, and the model is kept as the `mlgate-train` artifact."""
    run = gh_mlflow_train
    assert run.status("train") == "success", _logs(run)
    kept = run.artifacts / "mlgate-train"
    model = kept / "models" / "model.pkl"
    assert model.is_file() and b"1.17.0" in model.read_bytes()
    report = json.loads((kept / "mlgate-reports/train/mlgate.json").read_text())
    models = next(g for g in report["gates"] if g["name"] == "models")
    assert models["status"] == "pass"
    scanned = [f["path"] for f in report["findings"] if f["gate"] == "models"]
    assert "models/model.pkl" in scanned, report["findings"]
    train = _workdir(run, "train") / ".github/workflows/mlgate-train.yml"
    assert "python train.py --rows 3" in train.read_text()  # MLproject's main, defaults


def test_placeholder_deploy_fails_saying_what_to_set(tmp_path: Path) -> None:
    """The deploy step init writes, run with bash as the runner would: it fails, naming the
    setting (a green deploy that deployed nothing is what the placeholder prevents)."""
    write(tmp_path, "app.py", "x = 1\n")
    git_init(tmp_path)
    assert run_cli(["init", str(tmp_path), "--ci", "github", "--level", "2"]).returncode == 0
    flow = yaml.safe_load((tmp_path / ".github/workflows/mlgate.yml").read_text())
    step = flow["jobs"]["deploy"]["steps"][-1]
    assert step["name"].startswith("Deploy")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "set deploy_command in .mlgate.yml" in done.stderr
