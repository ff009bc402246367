"""The generated pipelines, executed (issues 11 and 18).

GitHub: every job of `.github/workflows/mlgate.yml` runs with the step runner in
`tests/generate/ghrunner.py` (its docstring says exactly what it emulates). GitLab: `.gitlab-ci.yml` runs
with `gitlab-ci-local` (its shell executor; `scripts/test.sh` installs it into `.ci-tools/`).
mlgate comes from a wheel built from this checkout, named in `.mlgate.yml`
`pipeline.mlgate_install`; the deps gate uses the vendored OSV subset (tests/data/advisory-db)
through `MLGATE_ADVISORY_DB`.

What runs (CI time: a run costs 1-4 minutes on 2 shared cores, most of it installing the
projects' own dependencies, so not every cell of the matrix gets a run of its own):

| fixture | runner | level | shape | pipeline run |
|---|---|---|---|---|
| gh_churn / gl_churn | both | 2 | examples/churn-model | push on main: 6 gates, decide, deploy: all pass |
| gh_insecure / gl_insecure | both | 2 | examples/insecure-ml | push on main: stops at decide |
| forger | both | 0 | requirements (+ a test forging a report) | push: blocks at decide |
| missing shard | both | 0 | examples/insecure-ml, 2 sast shards, one removed | blocks |
| gl_own_ci | GitLab | 0 | own-gitlab-ci (notebooks, its own CI + include) | push: passes |
| gl_dvc_train | GitLab | 1 | dvc (local remote) | schedule, MLGATE_SCHEDULE=train: train only |
| gl_scheduled | GitLab | 1 | dvc | schedule: `mlgate-scheduled` only (full scan) |
| gh_uv_deploy / gl_uv_deploy | both | 2 | uv-lock | push on main: 5 gates, decide, deploy: all pass |
| gh_notebooks_deploy | GitHub | 2 | notebooks | push on main: 4 gates, decide, deploy: all pass |
| gh_mlflow_train | GitHub | 1 | mlflow | the training workflow |
| gh_scheduled | GitHub | 1 | mlflow | the scheduled workflow (full scan) |

GitLab's level 2 runs with `pipeline.signing: key` (decide signs the receipt with the Ed25519
key of the file variable MLGATE_SIGNING_KEY, deploy verifies it with MLGATE_PUBLIC_KEY; the
test passes both through gitlab-ci-local's variable file): the default, keyless Sigstore,
needs a GitLab OIDC token gitlab-ci-local cannot issue, so its two sign/verify lines are
generated and checked only.

The 48 cells (8 repositories x levels 0-2 x 2 runners): tests/generate/test_pipeline_matrix.py
generates every cell and asserts its jobs, needs and install lines, and that level N is level
N-1 plus the jobs that differ, every shared job identical (GitLab's level >= 1 jobs add one
`when: never` rule for scheduled pipelines; level 2's decide adds the signing). So a level-2
push run executes every push job of levels 0 and 1 of its shape and runner, and level 1's
train and scheduled pipelines are level 2's. `python -m tests.generate.matrix` (outside CI)
executes all those cells with this module's machinery (tests/generate/pipeline_exec.py); the
README's "What the pipeline does when it runs" has its last run's table.
`test_placeholder_deploy_fails_saying_what_to_set` runs the placeholder deploy step with bash.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ..conftest import fixture_path, git_init, run_cli, write
from . import ghrunner
from .pipeline_exec import (
    GATES_L0,
    GCL,
    GitLabRun,
    decision_dir,
    git_head,
    gl_artifact,
    gl_reports,
    job_logs,
    job_variables,
    job_workdir,
    level_2,
    lock_mlgate,
    make_signing_keys,
    prepare,
    run_github,
    run_gitlab,
)
from .pipeline_shapes import (
    add_include,
    dvc_remote,
    dvc_repo,
    example,
    mlflow_repo,
    notebooks,
    notebooks_with_own_ci,
    requirements,
    uv_repo,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def job_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return job_variables(tmp_path_factory.mktemp("job-cache"))


@pytest.fixture(scope="session")
def runner_env(
    tmp_path_factory: pytest.TempPathFactory, job_env: dict[str, str]
) -> ghrunner.Environment:
    return ghrunner.prepare_environment(tmp_path_factory.mktemp("runner"), job_env)


@pytest.fixture(scope="session")
def mlgate_lock(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> dict[str, str]:
    return lock_mlgate(tmp_path_factory.mktemp("mlgate-lock"), wheel)


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_signing_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def gcl() -> Path:
    """gitlab-ci-local, installed by scripts/test.sh (npm, pinned); missing: the test fails."""
    return fixture_path(GCL)


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
    """The requirements shape, plus vulnerable pins the deps gate finds (docs/) and a second
    `model` test that forges."""
    requirements(root)
    write(root, "docs/requirements.txt", "PyYAML==5.3.1\nrequests==2.25.0\n")
    write(root, "tests/test_forge.py", FORGER_TEST)


_sharded = example("insecure-ml")


# --- GitHub -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gh_churn(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    mlgate_lock: dict[str, str],
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-churn")
    root = prepare(
        tmp, example("churn-model"), wheel, level=2, after_init=level_2, locked=mlgate_lock
    )
    return run_github(tmp, root, runner_env)


@pytest.fixture(scope="session")
def gh_insecure(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-insecure")
    root = prepare(tmp, example("insecure-ml"), wheel, level=2, after_init=level_2)
    return run_github(tmp, root, runner_env)


def test_github_clean_repo_passes_end_to_end(
    gh_churn: ghrunner.Run, job_env: dict[str, str], runner_env: ghrunner.Environment
) -> None:
    """Level 2, examples/churn-model, GitHub: every job passes; decide attests the receipt,
    deploy verifies the attestations and the receipt for this commit, then deploys."""
    run = gh_churn
    assert {n: r.status for n, r in run.jobs.items()} == {
        **{g: "success" for g in (*GATES_L0, "data", "model")},
        "decide": "success",
        "code-scanning": "success",
        "deploy": "success",
    }, job_logs(run)
    receipt = json.loads((decision_dir(run) / "receipt.json").read_text())
    assert receipt["decision"] == "pass"
    head = git_head(job_workdir(run, "deploy"))
    assert receipt["commit"] == head
    assert f"receipt verified: commit {head}, env production" in run.jobs["deploy"].log
    assert (runner_env.runner_temp / "deployed").read_text().strip() == f"deployed {head}"
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
    """Level 2, examples/insecure-ml, GitHub: the gates block, decide fails with the findings
    in the SARIF upload-sarif reads, the GitLab reports and JUnit; deploy is skipped."""
    run = gh_insecure
    status = {n: r.status for n, r in run.jobs.items()}
    assert status["decide"] == "failure", job_logs(run)
    assert status["deploy"] == "skipped"
    flow = yaml.safe_load((job_workdir(run, "decide") / ".github/workflows/mlgate.yml").read_text())
    upload = next(s for s in flow["jobs"]["code-scanning"]["steps"] if "upload-sarif" in str(s))
    assert upload["with"]["sarif_file"] == "mlgate-out/mlgate.sarif"
    assert [p.name for p in run.sarif] == ["mlgate.sarif"]
    assert {status[g] for g in ("sast", "deps", "models")} == {"failure"}
    assert not (decision_dir(run) / "receipt.json").exists()
    merged = json.loads((decision_dir(run) / "mlgate.json").read_text())
    assert merged["decision"]["passed"] is False
    blocked = {g["name"] for g in merged["gates"] if g["status"] == "fail"}
    assert {"sast", "deps", "models"} <= blocked
    sarif = json.loads((decision_dir(run) / "mlgate.sarif").read_text())
    rules = {r["ruleId"] for run_ in sarif["runs"] for r in run_["results"]}
    assert any("pickle" in rule for rule in rules), rules
    assert (decision_dir(run) / "junit.xml").read_text().count("<failure") >= 3
    gl = json.loads((decision_dir(run) / "gl-dependency-scanning-report.json").read_text())
    assert gl["vulnerabilities"]
    assert status["code-scanning"] == "success" and run.sarif


def test_github_forged_report_from_a_model_test_blocks(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> None:
    tmp = tmp_path_factory.mktemp("gh-forge")
    run = run_github(tmp, prepare(tmp, _forger, wheel), runner_env)
    assert run.status("model") == "success", job_logs(run)
    workdir = run.jobs["model"].workdir
    assert workdir is not None
    forged = workdir / "mlgate-reports/deps/mlgate.json"
    assert json.loads(forged.read_text()) == {"forged": True}  # the test did write it
    assert sorted(p.name for p in (run.artifacts / "mlgate-report-model").iterdir()) == [
        "mlgate.json"
    ]
    assert run.status("decide") == "failure"
    merged = json.loads((decision_dir(run) / "mlgate.json").read_text())
    deps = next(g for g in merged["gates"] if g["name"] == "deps")
    assert deps["status"] == "fail" and merged["decision"]["passed"] is False


def test_github_missing_shard_blocks(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> None:
    tmp = tmp_path_factory.mktemp("gh-shard")
    root = prepare(tmp, _sharded, wheel)
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


@pytest.fixture(scope="session")
def gl_insecure(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
    signing_keys: dict[str, str],
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-insecure")
    root = prepare(tmp, example("insecure-ml"), wheel, level=2, after_init=level_2)
    return run_gitlab(tmp, root, gcl, runner_env, files=signing_keys)


@pytest.fixture(scope="session")
def gl_churn(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
    mlgate_lock: dict[str, str],
    signing_keys: dict[str, str],
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-churn")
    root = prepare(
        tmp, example("churn-model"), wheel, level=2, after_init=level_2, locked=mlgate_lock
    )
    return run_gitlab(tmp, root, gcl, runner_env, files=signing_keys)


def test_gitlab_clean_repo_passes_end_to_end(
    gl_churn: GitLabRun, signing_keys: dict[str, str], tmp_path: Path
) -> None:
    """Level 2, examples/churn-model, GitLab: every gate job passes, decide signs the receipt
    with the key (pipeline.signing: key), deploy verifies it for this commit and deploys."""
    run = gl_churn
    jobs = [f"mlgate-{g}" for g in (*GATES_L0, "data", "model")]
    assert run.status == {
        **{j: "PASS" for j in jobs},
        "mlgate-decide": "PASS",
        "mlgate-deploy": "PASS",
    }, run.output
    for job in jobs:
        assert "mlgate report mlgate-reports/" in run.job_log(job)
    receipt = gl_artifact(run, "mlgate-decide", "mlgate-out/receipt.json")
    data = json.loads(receipt.read_text())
    assert data["decision"] == "pass" and data["signature"]["alg"] == "ed25519"
    head = git_head(run.root)
    assert data["commit"] == head
    deploy = run.job_log("mlgate-deploy")
    assert f"receipt verified: commit {head}, env production, decision pass" in deploy
    assert "(signature verified)" in deploy
    deployed = run.root.parent / "job-tmp" / "deployed"
    assert deployed.read_text().strip() == f"deployed {head}"
    # the same receipt: refused for another commit, and under another key
    public = tmp_path / "key.pub"
    public.write_text(signing_keys["MLGATE_PUBLIC_KEY"])
    ok = ["verify", str(receipt), "--env", "production", "--public-key", str(public)]
    done = run_cli([*ok, "--commit", head], cwd=run.root)  # the repository's policy
    assert done.returncode == 0, done.stderr
    assert run_cli([*ok, "--commit", "0" * 40], cwd=run.root).returncode == 1
    other = tmp_path / "other"
    other.mkdir()
    assert run_cli(["keygen", str(other / "k.pem"), str(other / "k.pub")]).returncode == 0
    refused = run_cli([*ok[:-1], str(other / "k.pub"), "--commit", head], cwd=run.root)
    assert refused.returncode == 1 and "which is none of the 1 given" in refused.stderr


def test_gitlab_insecure_repo_stops_at_decide(gl_insecure: GitLabRun) -> None:
    """Level 2, examples/insecure-ml, GitLab: the gates block, decide fails with the findings
    in the reports `artifacts:reports` names, no receipt, deploy never runs."""
    run = gl_insecure
    assert run.status["mlgate-decide"] == "FAIL", run.output
    assert "mlgate-deploy" not in run.status and not (run.root.parent / "job-tmp/deployed").exists()
    assert {run.status[f"mlgate-{g}"] for g in ("sast", "deps", "models")} == {"FAIL"}
    out = "mlgate-out"
    assert not gl_artifact(run, "mlgate-decide", f"{out}/receipt.json").exists()
    reports = gl_reports(run.root, "mlgate-decide")
    assert reports == {
        "sast": f"{out}/gl-sast-report.json",
        "dependency_scanning": f"{out}/gl-dependency-scanning-report.json",
        "junit": f"{out}/junit.xml",
    }
    sast = json.loads(gl_artifact(run, "mlgate-decide", reports["sast"]).read_text())
    assert any("pickle" in json.dumps(v).lower() for v in sast["vulnerabilities"])
    deps = gl_artifact(run, "mlgate-decide", reports["dependency_scanning"])
    assert json.loads(deps.read_text())["vulnerabilities"]
    junit = gl_artifact(run, "mlgate-decide", reports["junit"]).read_text()
    assert junit.count("<failure") >= 3
    # each gate job shipped its own report alone
    sast_files = sorted(
        p.relative_to(gl_artifact(run, "mlgate-sast", ""))
        for p in gl_artifact(run, "mlgate-sast", "").rglob("*")
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
    run = run_gitlab(tmp, prepare(tmp, _forger, wheel), gcl, runner_env)
    assert run.status["mlgate-model"] == "PASS", run.output
    build = run.root / ".gitlab-ci-local" / "builds" / "mlgate-model"
    assert json.loads((build / "mlgate-reports/deps/mlgate.json").read_text()) == {"forged": True}
    assert run.status["mlgate-decide"] == "FAIL"
    merged = json.loads(gl_artifact(run, "mlgate-decide", "mlgate-out/mlgate.json").read_text())
    deps = next(g for g in merged["gates"] if g["name"] == "deps")
    assert deps["status"] == "fail" and merged["decision"]["passed"] is False


def test_gitlab_missing_shard_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> None:
    tmp = tmp_path_factory.mktemp("gl-shard")
    root = prepare(tmp, _sharded, wheel)
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace("shards: 1", "shards: 2", 1))
    assert run_cli(["generate", str(root), "--ci", "gitlab"]).returncode == 0
    subprocess.run(["git", "commit", "-qam", "two shards"], cwd=root, check=True)
    gates = run_gitlab(tmp, root, gcl, runner_env, "--stage", "gates")
    assert "mlgate-sast-2-of-2" in gates.status, gates.output
    shutil.rmtree(gl_artifact(gates, "mlgate-sast-2-of-2", "mlgate-reports"))
    run = run_gitlab(tmp, root, gcl, runner_env, "mlgate-decide")
    assert run.status["mlgate-decide"] == "FAIL", run.output
    assert "mlgate-reports/sast-2-of-2/mlgate.json: no such report" in run.job_log("mlgate-decide")


# --- repository shapes and levels -------------------------------------------------------------
# One run per shape, each level on each runner once (see the module docstring).


@pytest.fixture(scope="session")
def gl_own_ci(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-own-ci")
    root = prepare(tmp, notebooks_with_own_ci, wheel, after_init=add_include)
    return run_gitlab(tmp, root, gcl, runner_env)


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
    receipt = json.loads(gl_artifact(run, "mlgate-decide", "mlgate-out/receipt.json").read_text())
    assert receipt["decision"] == "pass"
    sast = json.loads(
        gl_artifact(run, "mlgate-sast", "mlgate-reports/sast/mlgate.json").read_text()
    )
    gate = sast["gates"][0]
    assert gate["status"] == "pass" and gate["files_scanned"] == 1  # the notebook
    assert gate["properties"]["notebooks"] == 1
    # data and model have nothing to check: no job installs the project, decide runs them
    merged = json.loads(gl_artifact(run, "mlgate-decide", "mlgate-out/mlgate.json").read_text())
    status = {g["name"]: g["status"] for g in merged["gates"]}
    assert status["data"] == status["model"] == "skipped" and status["sast"] == "pass"


@pytest.fixture(scope="session")
def gl_dvc_train(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> tuple[GitLabRun, Path]:
    tmp = tmp_path_factory.mktemp("gl-dvc")
    root = prepare(tmp, dvc_repo, wheel, level=1)
    remote = dvc_remote(root)
    # the training pipeline: a scheduled pipeline whose MLGATE_SCHEDULE is "train"
    schedule = ("--variable", "CI_PIPELINE_SOURCE=schedule")
    return run_gitlab(
        tmp, root, gcl, runner_env, *schedule, "--variable", "MLGATE_SCHEDULE=train"
    ), remote


@pytest.fixture(scope="session")
def gl_scheduled(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
) -> GitLabRun:
    """The daily scheduled pipeline (no MLGATE_SCHEDULE) of the DVC repository, level 1 (a
    repository of its own: xdist may run this test and the training one on two workers)."""
    tmp = tmp_path_factory.mktemp("gl-scheduled")
    root = prepare(tmp, dvc_repo, wheel, level=1)
    return run_gitlab(tmp, root, gcl, runner_env, "--variable", "CI_PIPELINE_SOURCE=schedule")


def test_gitlab_scheduled_pipeline_runs_the_full_scan(gl_scheduled: GitLabRun) -> None:
    """Level 1, GitLab, a scheduled pipeline: only `mlgate-scheduled` runs (no gate job, no
    decide, no training); it runs sast, secrets, models and deps on the whole checkout and
    keeps the reports at the paths its `artifacts:reports` names."""
    run = gl_scheduled
    assert run.status == {"mlgate-scheduled": "PASS"}, run.output
    log = run.job_log("mlgate-scheduled")
    for tool in ("bandit", "semgrep", "detect-secrets", "pip-audit"):
        assert re.search(rf"{tool} +[0-9.]+ +pinned +(intact|installed)", log), log
    reports = gl_reports(run.root, "mlgate-scheduled")
    assert set(reports) == {"sast", "dependency_scanning", "junit"}
    for rel in reports.values():
        assert gl_artifact(run, "mlgate-scheduled", rel).is_file(), rel
    merged = json.loads(gl_artifact(run, "mlgate-scheduled", "mlgate-out/mlgate.json").read_text())
    ran = {g["name"]: g["status"] for g in merged["gates"]}
    # no dependency file; the model is DVC's (git-ignored, in the remote only): nothing to
    # check for deps and models in the checkout
    assert ran == {"sast": "pass", "secrets": "pass", "deps": "skipped", "models": "skipped"}
    junit = gl_artifact(run, "mlgate-scheduled", reports["junit"]).read_text()
    assert junit.count("<testcase") >= 4 and "<failure" not in junit


def test_gitlab_dvc_training_pulls_trains_pushes_and_keeps_the_model(
    gl_dvc_train: tuple[GitLabRun, Path],
) -> None:
    """Level 1, DVC with a local remote, GitLab, a scheduled pipeline with MLGATE_SCHEDULE=train:
    only the training job runs: dvc pull, dvc repro, dvc push; the model is kept as the job's
    artifact and the models gate that follows scanned it."""
    run, remote = gl_dvc_train
    assert run.status == {"mlgate-train": "PASS"}, run.output
    log = run.job_log("mlgate-train")
    assert "Running stage 'train'" in log  # dvc repro ran the stage (the data was pulled)
    model = gl_artifact(run, "mlgate-train", "models/model.pkl")
    assert json.loads(gl_artifact(run, "mlgate-train", "metrics.json").read_text()) == {"rows": 3}
    digest = hashlib.md5(model.read_bytes(), usedforsecurity=False).hexdigest()
    assert (remote / "files" / "md5" / digest[:2] / digest[2:]).is_file()  # dvc push
    report = json.loads(
        gl_artifact(run, "mlgate-train", "mlgate-reports/train/mlgate.json").read_text()
    )
    models = next(g for g in report["gates"] if g["name"] == "models")
    assert models["status"] == "pass"
    scanned = [f["path"] for f in report["findings"] if f["gate"] == "models"]
    assert "models/model.pkl" in scanned, report["findings"]


# --- GitHub: pyproject + uv.lock at level 2; an MLflow project at level 1 ---------------------


@pytest.fixture(scope="session")
def gh_uv_deploy(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-uv")
    return run_github(tmp, prepare(tmp, uv_repo, wheel, level=2, after_init=level_2), runner_env)


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
    }, job_logs(run)
    workflow = job_workdir(run, "model") / ".github/workflows/mlgate.yml"
    assert "uv export --frozen" in workflow.read_text()
    assert "1 passed" in run.jobs["model"].log  # the marked test ran with six from the lock
    deploy = job_workdir(run, "deploy")
    assert "attested by example/repo/.github/workflows/mlgate.yml" in run.jobs["deploy"].log
    # $RUNNER_TEMP is one path for every job (ghrunner), emptied when the next job starts:
    # deploy ran last
    assert (runner_env.runner_temp / "deployed").read_text().strip() == (
        f"deployed {git_head(deploy)}"
    )
    # the receipt deploy verified is for this commit only
    receipt = decision_dir(run) / "receipt.json"
    other = run_cli(["verify", str(receipt), "--commit", "0" * 40, "--env", "production"])
    assert other.returncode != 0 and "commit" in (other.stdout + other.stderr)


@pytest.fixture(scope="session")
def gl_uv_deploy(
    tmp_path_factory: pytest.TempPathFactory,
    wheel: Path,
    runner_env: ghrunner.Environment,
    gcl: Path,
    signing_keys: dict[str, str],
) -> GitLabRun:
    tmp = tmp_path_factory.mktemp("gl-uv")
    root = prepare(tmp, uv_repo, wheel, level=2, after_init=level_2)
    return run_gitlab(tmp, root, gcl, runner_env, files=signing_keys)


def test_gitlab_uv_lock_level_2_deploys_with_a_verified_receipt(gl_uv_deploy: GitLabRun) -> None:
    """Level 2, pyproject + uv.lock, GitLab: the same lock recipe in GitLab's model job;
    decide signs with the key; deploy verifies the signature for this commit and deploys."""
    run = gl_uv_deploy
    jobs = [f"mlgate-{g}" for g in (*GATES_L0, "model")]
    assert run.status == {
        **dict.fromkeys(jobs, "PASS"),
        "mlgate-decide": "PASS",
        "mlgate-deploy": "PASS",
    }, run.output
    model = run.job_log("mlgate-model")
    assert "uv export --frozen" in model and "1 passed" in model
    head = git_head(run.root)
    deploy = run.job_log("mlgate-deploy")
    assert f"receipt verified: commit {head}, env production, decision pass" in deploy
    assert "(signature verified)" in deploy
    assert (run.root.parent / "job-tmp/deployed").read_text().strip() == f"deployed {head}"


@pytest.fixture(scope="session")
def gh_notebooks_deploy(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-notebooks")
    root = prepare(tmp, notebooks, wheel, level=2, after_init=level_2)
    return run_github(tmp, root, runner_env)


def test_github_notebooks_level_2_deploys(
    gh_notebooks_deploy: ghrunner.Run, runner_env: ghrunner.Environment
) -> None:
    """Level 2, notebooks only, GitHub: no job installs the project (data and model have
    nothing to check and run in decide); sast scans the notebook; deploy verifies and
    deploys this commit."""
    run = gh_notebooks_deploy
    assert {n: r.status for n, r in run.jobs.items()} == {
        **dict.fromkeys(GATES_L0, "success"),
        "decide": "success",
        "code-scanning": "success",
        "deploy": "success",
    }, job_logs(run)
    sast = json.loads((run.artifacts / "mlgate-report-sast/mlgate.json").read_text())
    gate = sast["gates"][0]
    assert gate["status"] == "pass" and gate["properties"]["notebooks"] == 1
    merged = json.loads((decision_dir(run) / "mlgate.json").read_text())
    status = {g["name"]: g["status"] for g in merged["gates"]}
    assert status["data"] == status["model"] == "skipped"
    head = git_head(job_workdir(run, "deploy"))
    assert f"receipt verified: commit {head}, env production" in run.jobs["deploy"].log
    assert (runner_env.runner_temp / "deployed").read_text().strip() == f"deployed {head}"


@pytest.fixture(scope="session")
def gh_mlflow_train(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    tmp = tmp_path_factory.mktemp("gh-mlflow")
    root = prepare(tmp, mlflow_repo, wheel, level=1)
    runner = ghrunner.Runner(root, tmp / "gh", runner_env, event="workflow_dispatch")
    run = runner.run(root / ".github/workflows/mlgate-train.yml")
    print(f"\nGitHub training run of {root}:\n{run.table()}")
    return run


@pytest.fixture(scope="session")
def gh_scheduled(
    tmp_path_factory: pytest.TempPathFactory, wheel: Path, runner_env: ghrunner.Environment
) -> ghrunner.Run:
    """The daily scheduled workflow of the MLflow repository, level 1 (a repository of its
    own: xdist may run this test and the training one on two workers)."""
    tmp = tmp_path_factory.mktemp("gh-scheduled")
    root = prepare(tmp, mlflow_repo, wheel, level=1)
    runner = ghrunner.Runner(root, tmp / "gh", runner_env, event="schedule")
    run = runner.run(root / ".github/workflows/mlgate-scheduled.yml")
    print(f"\nGitHub scheduled run of {root}:\n{run.table()}")
    return run


def test_github_scheduled_workflow_runs_the_full_scan(gh_scheduled: ghrunner.Run) -> None:
    """Level 1, GitHub, the scheduled workflow: `scan` installs the four pinned scanners and
    runs sast, secrets, models and deps; `code-scanning` uploads its SARIF."""
    run = gh_scheduled
    assert {n: r.status for n, r in run.jobs.items()} == {
        "scan": "success",
        "code-scanning": "success",
    }, job_logs(run)
    for tool in ("bandit", "semgrep", "detect-secrets", "pip-audit"):
        assert re.search(rf"{tool} +[0-9.]+ +pinned +(intact|installed)", run.jobs["scan"].log)
    kept = run.artifacts / "mlgate-scheduled"
    merged = json.loads((kept / "mlgate.json").read_text())
    ran = {g["name"]: g["status"] for g in merged["gates"]}
    # deps audits conda.yaml's pins; no model file is committed (training makes it)
    assert ran == {"sast": "pass", "secrets": "pass", "deps": "pass", "models": "skipped"}
    assert [p.name for p in run.sarif] == ["mlgate.sarif"]


def test_github_mlflow_training_keeps_the_model(gh_mlflow_train: ghrunner.Run) -> None:
    """Level 1, MLflow project, GitHub: conda.yaml's requirements go into the project's
    environment (no conda), the main entry point trains with its parameter defaults, the
    models gate scans the new model, and the model is kept as the `mlgate-train` artifact."""
    run = gh_mlflow_train
    assert run.status("train") == "success", job_logs(run)
    kept = run.artifacts / "mlgate-train"
    model = kept / "models" / "model.pkl"
    assert model.is_file() and b"1.17.0" in model.read_bytes()
    report = json.loads((kept / "mlgate-reports/train/mlgate.json").read_text())
    models = next(g for g in report["gates"] if g["name"] == "models")
    assert models["status"] == "pass"
    scanned = [f["path"] for f in report["findings"] if f["gate"] == "models"]
    assert "models/model.pkl" in scanned, report["findings"]
    train = job_workdir(run, "train") / ".github/workflows/mlgate-train.yml"
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
