"""The generated pipelines, executed (issues 11 and 18).

GitHub: every job of `.github/workflows/mlgate.yml` runs with the step runner in
`tests/ghrunner.py` (its docstring says exactly what it emulates). GitLab: `.gitlab-ci.yml` runs
with `gitlab-ci-local` (its shell executor; `scripts/test.sh` installs it into `.ci-tools/`).
mlgate comes from a wheel built from this checkout, named in `.mlgate.yml`
`pipeline.mlgate_install`; the deps gate uses the vendored OSV subset (tests/data/advisory-db)
through `MLGATE_ADVISORY_DB`.

Covered: examples/churn-model (clean) and examples/insecure-ml (blocked) at level 0 on both
systems; a repository whose `model`-marked test forges another gate's report; a sharded run
with one shard's report removed. Not covered here (yet): levels 1 and 2, DVC, MLflow, uv.lock
and notebook-only shapes (those are checked by the validators in test_generate.py only).
"""

from __future__ import annotations

import json
import os
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
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout: what `pipeline.mlgate_install` points the jobs at."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(out),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return next(out.glob("mlgate-*.whl"))


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


def _prepare(base: Path, source: Callable[[Path], None], wheel: Path, extra: str = "") -> Path:
    root = base / "repo"
    source(root)
    git_init(root)
    done = run_cli(["init", str(root), "--ci", "both", "--level", "0", "--force"])
    assert done.returncode == 0, done.stderr
    config = root / ".mlgate.yml"
    text = config.read_text().replace(
        'mlgate_install: "mlgate==0.1.0"', f"mlgate_install: {json.dumps(str(wheel))}"
    )
    config.write_text(text + extra)
    for ci in ("github", "gitlab"):
        done = run_cli(["generate", str(root), "--ci", ci])
        assert done.returncode == 0, done.stderr
    assert str(wheel) in (root / ".github/workflows/mlgate.yml").read_text()
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
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-churn")
    return _github(tmp, _prepare(tmp, _example("churn-model"), wheel), runner_env)


@pytest.fixture(scope="session")
def gh_insecure(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-insecure")
    return _github(tmp, _prepare(tmp, _example("insecure-ml"), wheel), runner_env)


def _logs(run: ghrunner.Run) -> str:
    return "\n\n".join(f"=== {n} ({r.status})\n{r.log}" for n, r in run.jobs.items())


def test_github_clean_repo_passes_end_to_end(gh_churn: ghrunner.Run) -> None:
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
    path = [str(shims), str(env.tools_bin)]
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
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-churn")
    return _gitlab(tmp, _prepare(tmp, _example("churn-model"), wheel), gcl, runner_env)


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
