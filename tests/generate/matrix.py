"""Execute issue 11's whole matrix of generated pipelines, outside the default CI.

    python -m tests.generate.matrix [--runner github|gitlab] [--shape S] [--level N]
        [--pipeline push|train|scheduled] [--not-in-ci | --in-ci] [--jobs-out FILE] [--work DIR]

For each (runner, shape, level, pipeline kind) it builds the shape
(tests/generate/pipeline_shapes.py), runs `mlgate init --level N --ci both`, points
`pipeline.mlgate_install` at a wheel built from this checkout, and runs the pipeline with the
machinery of the execution tests (tests/generate/pipeline_exec.py: the GitHub step runner
tests/generate/ghrunner.py, gitlab-ci-local's shell executor), then checks each job as the
execution tests do. It prints one markdown row per cell: runner | shape | level | pipeline |
jobs run | outcome | seconds; `--jobs-out` writes one row per job. Exit 0 when every cell
had the expected outcome, 1 otherwise.

**Which cells run** (the reduction; without `--level`): of the 8 repositories x levels 0-2 x
2 runners x 3 pipeline kinds, only the cells no other cell implies:

- **push at level 2**: tests/generate/test_pipeline_matrix.py asserts
  (`test_each_level_is_the_previous_one_plus_the_jobs_that_differ`) that level 1's jobs are
  level 0's plus `train` and `scheduled`, and level 2's are level 1's plus `deploy`, every
  shared job byte-for-byte the same definition except two documented differences (GitLab's
  level >= 1 jobs add one `when: never` rule for scheduled pipelines; level 2's decide also
  signs). A push pipeline never runs `train` or `scheduled`, so a level-2 push run executes
  every push job of levels 0 and 1 of the same shape and runner.
- **train and scheduled at level 1**: they do not exist at level 0, and the same test asserts
  level 2 keeps them unchanged.

`--level N` runs that level itself instead (push at N; train and scheduled at N >= 1).

**Expected outcomes** (the checks): a clean repository's push pipeline passes end to end
(decide writes a passing receipt for this commit; at level 2 deploy verifies it and deploys
this commit); `examples/insecure-ml`'s stops at decide with the findings in the merged SARIF,
GitLab reports and JUnit at the paths `upload-sarif` and `artifacts:reports` read. Training
produces and keeps the model (DVC: pulled, reproduced, pushed to the local remote) and the
models gate after it scanned it; where nothing is detected to train (no DVC, MLflow project or
root train.py), the generated placeholder fails, saying to set `train_command`. The scheduled
pipeline runs the full scan only: it passes on a clean repository and fails with the findings
in its reports on the insecure one.

GitLab level 2 signs with a key (`pipeline.signing: key`, the pair given as file variables):
keyless Sigstore needs an OIDC token gitlab-ci-local cannot issue.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..conftest import build_wheel
from . import ghrunner
from .pipeline_exec import (
    GCL,
    GitLabRun,
    decision_dir,
    git_head,
    gl_artifact,
    gl_reports,
    job_variables,
    job_workdir,
    level_2,
    make_signing_keys,
    prepare,
    run_github,
    run_gitlab,
)
from .pipeline_shapes import SHAPES, add_include, dvc_remote

RUNNERS = ("github", "gitlab")
PIPELINES = ("push", "train", "scheduled")
# What tests/generate/test_pipeline_runs.py executes on every commit (runner, shape, level,
# pipeline). Its requirements runs (level 0) add a forging `model` test and a vulnerable docs/
# requirements file: they block by design, so they do not stand for the plain shape's cell.
IN_CI = frozenset(
    {
        *((r, s, 2, "push") for r in RUNNERS for s in ("churn-model", "insecure-ml", "uv-lock")),
        ("github", "notebooks", 2, "push"),
        ("gitlab", "own-gitlab-ci", 0, "push"),
        ("gitlab", "dvc", 1, "train"),
        ("gitlab", "dvc", 1, "scheduled"),
        ("github", "mlflow", 1, "train"),
        ("github", "mlflow", 1, "scheduled"),
    }
)
# What a user writes into .mlgate.yml after init, for training the churn example (init finds
# no DVC, MLflow project or root train.py there, so it writes the failing placeholder).
CHURN_TRAINING = """\
train_command: |
  PYTHONPATH=src python -m churn.train data/churn.csv model/model.json
  PYTHONPATH=src python -m churn.evaluate model/model.json data/churn.csv metrics.json
"""
# Shapes whose training runs (init's default train_command or the user's): what it keeps.
TRAINED = {
    "dvc": "models/model.pkl",
    "mlflow": "models/model.pkl",
    "churn-model": "model/model.json",
}
# Cells that are not run, and why.
NOT_RUN = {
    ("insecure-ml", "train"): "not run: init's train_command is `python train.py`, which the "
    "example says never to run, after installing its requirements (torch 2.3.1, transformers: "
    "gigabytes)",
}


@dataclass(frozen=True)
class Cell:
    runner: str
    shape: str
    level: int
    pipeline: str


@dataclass
class Result:
    cell: Cell
    jobs: list[tuple[str, str, float | None]]  # name, status, seconds
    ok: bool
    outcome: str
    seconds: float


def cells(
    runner: str | None = None,
    shape: str | None = None,
    level: int | None = None,
    pipeline: str | None = None,
    not_in_ci: bool = False,
    in_ci: bool = False,
) -> list[Cell]:
    """The cells to run: the reduction of the module docstring, or one level with `level`."""
    chosen = []
    for r in RUNNERS if runner is None else (runner,):
        for s in SHAPES if shape is None else (shape,):
            for p in PIPELINES if pipeline is None else (pipeline,):
                lvl = level if level is not None else (2 if p == "push" else 1)
                if p != "push" and lvl == 0:
                    continue
                cell = Cell(r, s, lvl, p)
                ci = (r, s, lvl, p) in IN_CI
                if not (not_in_ci and ci) and not (in_ci and not ci):
                    chosen.append(cell)
    return chosen


@dataclass(frozen=True)
class Session:
    """What every run shares: the wheel, the runner environment, the signing key pair."""

    work: Path
    wheel: Path
    env: ghrunner.Environment
    keys: dict[str, str]


def _session(work: Path) -> Session:
    wheel = build_wheel(_fresh(work / "wheel"))
    env = ghrunner.prepare_environment(
        _fresh(work / "runner"), job_variables(_fresh(work / "job-cache"))
    )
    return Session(work, wheel, env, make_signing_keys(_fresh(work / "keys")))


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def _after_init(cell: Cell) -> Callable[[Path, str], None]:
    """What the user does after init for this cell: the include: lines (own GitLab CI),
    deploy_command and key signing (level 2), the churn example's training command."""

    def after(root: Path, output: str) -> None:
        if cell.shape == "own-gitlab-ci":
            add_include(root, output)
        if cell.level >= 2:
            level_2(root, output)
        if cell.shape == "churn-model" and cell.pipeline == "train":
            config = root / ".mlgate.yml"
            text = re.sub(r"(?m)^train_command: \|\n(?:  .*\n)+", "", config.read_text())
            config.write_text(text + CHURN_TRAINING)

    return after


def run_cell(session: Session, cell: Cell) -> Result:
    """Build, init and run one cell, then check it; every job's log is kept in the cell's
    folder (`job-logs.txt`), and a failed cell's outcome quotes the last `mlgate:` or error
    line of a failed job."""
    started = time.monotonic()
    tmp = _fresh(session.work / "cells" / "-".join(map(str, vars(cell).values())))
    jobs: list[tuple[str, str, float | None]] = []
    logs: dict[str, str] = {}
    try:
        root = prepare(
            tmp, SHAPES[cell.shape], session.wheel, level=cell.level, after_init=_after_init(cell)
        )
        if cell.runner == "github":
            run = _github(tmp, root, session, cell)
            jobs = [(n, r.status, r.seconds) for n, r in run.jobs.items()]
            logs = {n: r.log for n, r in run.jobs.items() if r.status == "failure"}
            outcome = GITHUB_CHECKS[cell.pipeline](cell, run, session)
        else:
            gl = _gitlab(tmp, root, session, cell)
            jobs = [(n, s, _gl_seconds(gl.output, n)) for n, s in gl.status.items()]
            logs = {n: gl.job_log(n) for n, s in gl.status.items() if s == "FAIL"}
            outcome = GITLAB_CHECKS[cell.pipeline](cell, gl, session)
        ok = True
    except Exception as failed:
        first = (str(failed).splitlines() or [""])[0][:200]
        ok, outcome = False, f"FAILED: {type(failed).__name__}: {first}{_why(logs)}"
    (tmp / "job-logs.txt").write_text("".join(f"=== {n}\n{log}\n" for n, log in logs.items()))
    return Result(cell, jobs, ok, outcome, time.monotonic() - started)


def _why(logs: dict[str, str]) -> str:
    """The last line of a failed job's log that says why: mlgate's own, or an error."""
    for name, log in logs.items():
        lines = [
            line.strip()
            for line in log.splitlines()
            if line.startswith("mlgate: ") or re.search(r"\b(error|Error|ERROR)\b", line)
        ]
        if lines:
            return f" ({name}: {lines[-1][:200]})"
    return ""


WORKFLOWS = {
    "push": ("mlgate.yml", "push"),
    "train": ("mlgate-train.yml", "workflow_dispatch"),
    "scheduled": ("mlgate-scheduled.yml", "schedule"),
}


def _github(tmp: Path, root: Path, session: Session, cell: Cell) -> ghrunner.Run:
    if cell.pipeline == "push":
        return run_github(tmp, root, session.env)
    file, event = WORKFLOWS[cell.pipeline]
    runner = ghrunner.Runner(root, tmp / "gh", session.env, event=event)
    return runner.run(root / ".github" / "workflows" / file)


def _gitlab(tmp: Path, root: Path, session: Session, cell: Cell) -> GitLabRun:
    args = {
        "push": (),
        "train": (
            "--variable",
            "CI_PIPELINE_SOURCE=schedule",
            "--variable",
            "MLGATE_SCHEDULE=train",
        ),
        "scheduled": ("--variable", "CI_PIPELINE_SOURCE=schedule"),
    }[cell.pipeline]
    files = session.keys if cell.level >= 2 else None
    return run_gitlab(tmp, root, GCL, session.env, *args, files=files)


def _gl_seconds(output: str, job: str) -> float | None:
    found = re.search(rf"(?m)^{re.escape(job)} +finished in ([0-9.]+) (ms|s|min)", output)
    if found is None:
        return None
    return float(found[1]) * {"ms": 0.001, "s": 1, "min": 60}[found[2]]


# --- the checks: each returns the outcome, or raises AssertionError ---------------------------


def _clean(cell: Cell) -> bool:
    return cell.shape != "insecure-ml"


def _gh_push(cell: Cell, run: ghrunner.Run, session: Session) -> str:
    status = {n: r.status for n, r in run.jobs.items()}
    decided = decision_dir(run)
    if _clean(cell):
        assert set(status.values()) == {"success"}, f"jobs not all green: {status}"
        receipt = json.loads((decided / "receipt.json").read_text())
        head = git_head(job_workdir(run, "decide"))
        assert receipt["decision"] == "pass" and receipt["commit"] == head, receipt
        assert len(run.sarif) == 1, run.sarif
        if cell.level < 2:
            return "every job passed; decide wrote a passing receipt for this commit"
        log = run.jobs["deploy"].log
        assert f"receipt verified: commit {head}, env production" in log, log[-2000:]
        deployed = (session.env.runner_temp / "deployed").read_text().strip()
        assert deployed == f"deployed {head}", deployed
        return "every job passed; deploy verified the attestations and the receipt, deployed"
    assert status["decide"] == "failure", f"decide did not block: {status}"
    assert status.get("deploy", "skipped") == "skipped", status
    assert not (decided / "receipt.json").exists(), "a receipt was written"
    _blocked_reports(decided, GL_REPORTS)
    assert [p.name for p in run.sarif] == ["mlgate.sarif"], run.sarif
    return "stopped at decide: findings in the SARIF, GitLab reports and JUnit; no deploy"


# The GitLab reports decide writes on both runners (GitHub keeps them in mlgate-decision).
GL_REPORTS = {
    "sast": "gl-sast-report.json",
    "dependency_scanning": "gl-dependency-scanning-report.json",
    "junit": "junit.xml",
}


def _blocked_reports(folder: Path, gitlab: dict[str, str] | None) -> None:
    """The insecure example's findings in the merged reports of `folder` (decide's, or the
    scheduled job's): the sast, deps and models gates failed; pickle in the SARIF (when
    written: GitHub) and in GitLab's SAST report, vulnerabilities in its dependency scanning
    report and JUnit failures (when `gitlab` names them: their paths)."""
    merged = json.loads((folder / "mlgate.json").read_text())
    blocked = {g["name"] for g in merged["gates"] if g["status"] == "fail"}
    assert {"sast", "deps", "models"} <= blocked, blocked
    if (folder / "mlgate.sarif").is_file():
        sarif = json.loads((folder / "mlgate.sarif").read_text())
        rules = {r["ruleId"] for run_ in sarif["runs"] for r in run_["results"]}
        assert any("pickle" in rule for rule in rules), rules
    if gitlab is None:
        return
    sast = json.loads((folder / Path(gitlab["sast"]).name).read_text())
    assert any("pickle" in json.dumps(v).lower() for v in sast["vulnerabilities"])
    deps = json.loads((folder / Path(gitlab["dependency_scanning"]).name).read_text())
    assert deps["vulnerabilities"], "no vulnerability in the dependency scanning report"
    assert (folder / Path(gitlab["junit"]).name).read_text().count("<failure") >= 3


def _trained(report: dict[str, Any], model: str) -> None:
    models = next(g for g in report["gates"] if g["name"] == "models")
    assert models["status"] == "pass", models
    scanned = [f["path"] for f in report["findings"] if f["gate"] == "models"]
    if model.endswith(".pkl"):  # a pickle is listed (what it imports); JSON weights are not
        assert model in scanned, scanned
    failed = [g["name"] for g in report["gates"] if g["status"] not in ("pass", "skipped")]
    assert not failed, f"gates after training: {failed}"


def _placeholder(log: str) -> str:
    assert "set train_command in .mlgate.yml" in log, log[-2000:]
    return "train_command placeholder failed, saying to set it (nothing detected to train)"


def _gh_train(cell: Cell, run: ghrunner.Run, session: Session) -> str:
    model = TRAINED.get(cell.shape)
    if model is None:
        assert run.status("train") == "failure", run.jobs["train"].log[-2000:]
        return _placeholder(run.jobs["train"].log)
    assert run.status("train") == "success", run.jobs["train"].log[-3000:]
    kept = run.artifacts / "mlgate-train"
    assert (kept / model).is_file(), sorted(str(p) for p in kept.rglob("*"))
    _trained(json.loads((kept / "mlgate-reports/train/mlgate.json").read_text()), model)
    if cell.shape == "dvc":
        _pushed(run.jobs["train"].workdir, kept / model)
    return f"trained; {model} kept (mlgate-train artifact) and scanned"


def _pushed(checkout: Path | None, model: Path) -> None:
    """dvc push: the model's content is in the local remote, at DVC's md5 address."""
    assert checkout is not None
    digest = hashlib.md5(model.read_bytes(), usedforsecurity=False).hexdigest()
    remote = dvc_remote(_repo_of(checkout))
    assert (remote / "files" / "md5" / digest[:2] / digest[2:]).is_file(), "not pushed"


def _repo_of(checkout: Path) -> Path:
    """The fixture repository a job's checkout was cloned from (its `origin`)."""
    url = (checkout / ".git" / "config").read_text()
    found = re.search(r"(?m)^\s*url = (.+)$", url)
    assert found is not None
    return Path(found[1].strip())


def _gh_scheduled(cell: Cell, run: ghrunner.Run, session: Session) -> str:
    status = {n: r.status for n, r in run.jobs.items()}
    log = run.jobs["scan"].log
    for tool in ("bandit", "semgrep", "detect-secrets", "pip-audit"):
        assert re.search(rf"{tool} +[0-9.]+ +pinned +(intact|installed)", log), tool
    kept = run.artifacts / "mlgate-scheduled"
    assert [p.name for p in run.sarif] == ["mlgate.sarif"], run.sarif
    if not _clean(cell):
        assert status == {"scan": "failure", "code-scanning": "success"}, status
        _blocked_reports(kept, None)
        return "the full scan failed with the findings in its SARIF and reports"
    assert status == {"scan": "success", "code-scanning": "success"}, status
    merged = json.loads((kept / "mlgate.json").read_text())
    ran = {g["name"]: g["status"] for g in merged["gates"]}
    assert set(ran) == {"sast", "secrets", "deps", "models"} and ran["sast"] == "pass", ran
    assert set(ran.values()) <= {"pass", "skipped"}, ran
    return "the full scan (4 pinned scanners) passed; SARIF uploaded"


def _gl_push(cell: Cell, run: GitLabRun, session: Session) -> str:
    expected = {j for j in _gl_jobs(run.root) if not j.endswith(("-train", "-scheduled"))}
    if cell.shape == "own-gitlab-ci":
        expected.add("own-check")
    if not _clean(cell):
        assert run.status.get("mlgate-decide") == "FAIL", run.status
        assert "mlgate-deploy" not in run.status, run.status
        assert not gl_artifact(run, "mlgate-decide", "mlgate-out/receipt.json").exists()
        reports = gl_reports(run.root, "mlgate-decide")
        _blocked_reports(gl_artifact(run, "mlgate-decide", "mlgate-out"), reports)
        return "stopped at decide: findings in the reports artifacts:reports names; no deploy"
    if cell.level < 2:
        expected.discard("mlgate-deploy")
    assert run.status == dict.fromkeys(expected, "PASS"), run.status
    receipt = json.loads(gl_artifact(run, "mlgate-decide", "mlgate-out/receipt.json").read_text())
    head = git_head(run.root)
    assert receipt["decision"] == "pass" and receipt["commit"] == head, receipt
    if cell.level < 2:
        return "every job passed; decide wrote a passing receipt for this commit"
    deploy = run.job_log("mlgate-deploy")
    assert f"receipt verified: commit {head}, env production, decision pass" in deploy, deploy
    assert "(signature verified)" in deploy, deploy
    deployed = (run.root.parent / "job-tmp" / "deployed").read_text().strip()
    assert deployed == f"deployed {head}", deployed
    return "every job passed; deploy verified the signed receipt, deployed"


def _gl_jobs(root: Path) -> set[str]:
    path = root / ".gitlab" / "mlgate.yml"
    pipeline = yaml.safe_load((path if path.is_file() else root / ".gitlab-ci.yml").read_text())
    return {n for n in pipeline if n.startswith("mlgate-")}


def _gl_status(cell: Cell, run: GitLabRun) -> dict[str, str]:
    """mlgate's jobs' statuses. The own-gitlab-ci shape's own job (no `rules:`, so in every
    pipeline, schedules too: the repository's business, init leaves it alone) must pass."""
    status = dict(run.status)
    if cell.shape == "own-gitlab-ci":
        assert status.pop("own-check", None) == "PASS", run.status
    return status


def _gl_train(cell: Cell, run: GitLabRun, session: Session) -> str:
    model = TRAINED.get(cell.shape)
    if model is None:
        assert _gl_status(cell, run) == {"mlgate-train": "FAIL"}, run.status
        return _placeholder(run.job_log("mlgate-train"))
    assert _gl_status(cell, run) == {"mlgate-train": "PASS"}, run.status
    kept = gl_artifact(run, "mlgate-train", model)
    assert kept.is_file(), f"{model} not kept"
    report = gl_artifact(run, "mlgate-train", "mlgate-reports/train/mlgate.json")
    _trained(json.loads(report.read_text()), model)
    if cell.shape == "dvc":
        _pushed(run.root, kept)
    return f"trained; {model} kept (job artifact) and scanned"


def _gl_scheduled(cell: Cell, run: GitLabRun, session: Session) -> str:
    log = run.job_log("mlgate-scheduled")
    for tool in ("bandit", "semgrep", "detect-secrets", "pip-audit"):
        assert re.search(rf"{tool} +[0-9.]+ +pinned +(intact|installed)", log), tool
    reports = gl_reports(run.root, "mlgate-scheduled")
    folder = gl_artifact(run, "mlgate-scheduled", "mlgate-out")
    if not _clean(cell):
        assert _gl_status(cell, run) == {"mlgate-scheduled": "FAIL"}, run.status
        _blocked_reports(folder, reports)
        return "the full scan failed with the findings in the reports artifacts:reports names"
    assert _gl_status(cell, run) == {"mlgate-scheduled": "PASS"}, run.status
    for rel in reports.values():
        assert gl_artifact(run, "mlgate-scheduled", rel).is_file(), rel
    junit = gl_artifact(run, "mlgate-scheduled", reports["junit"]).read_text()
    assert "<failure" not in junit, junit
    return "the full scan (4 pinned scanners) passed; reports at artifacts:reports paths"


GITHUB_CHECKS: dict[str, Callable[[Cell, Any, Session], str]] = {
    "push": _gh_push,
    "train": _gh_train,
    "scheduled": _gh_scheduled,
}
GITLAB_CHECKS: dict[str, Callable[[Cell, Any, Session], str]] = {
    "push": _gl_push,
    "train": _gl_train,
    "scheduled": _gl_scheduled,
}


# --- the table -------------------------------------------------------------------------------

MARK = {"success": "✓", "PASS": "✓", "failure": "✗", "FAIL": "✗", "WARN": "!", "skipped": "skipped"}


def _jobs_cell(result: Result) -> str:
    return " ".join(f"{n.removeprefix('mlgate-')} {MARK.get(s, s)}" for n, s, _ in result.jobs)


def row(result: Result) -> str:
    c = result.cell
    outcome = result.outcome if result.ok else f"**{result.outcome}**"
    return (
        f"| {c.runner} | {c.shape} | {c.level} | {c.pipeline} | {_jobs_cell(result)} | "
        f"{outcome} | {result.seconds:.0f} |"
    )


HEADER = (
    "| runner | shape | level | pipeline | jobs run | outcome | seconds |\n"
    "|---|---|---|---|---|---|---|"
)


def _skipped_row(cell: Cell, reason: str) -> str:
    return (
        f"| {cell.runner} | {cell.shape} | {cell.level} | {cell.pipeline} | (none) | {reason} | |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.generate.matrix", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runner", choices=RUNNERS)
    parser.add_argument("--shape", choices=sorted(SHAPES))
    parser.add_argument("--level", type=int, choices=(0, 1, 2))
    parser.add_argument("--pipeline", choices=PIPELINES)
    ci = parser.add_mutually_exclusive_group()
    ci.add_argument("--not-in-ci", action="store_true", help="leave out what CI runs")
    ci.add_argument("--in-ci", action="store_true", help="only what CI runs")
    parser.add_argument("--jobs-out", type=Path, help="also write one row per job here")
    parser.add_argument("--work", type=Path, help="keep the runs here (default: a temp dir)")
    args = parser.parse_args(argv)
    if not GCL.is_file() and args.runner != "github":
        print(f"gitlab-ci-local missing: {GCL} (bash scripts/test.sh installs it)", file=sys.stderr)
        return 2
    chosen = cells(args.runner, args.shape, args.level, args.pipeline, args.not_in_ci, args.in_ci)
    work = args.work or Path(tempfile.mkdtemp(prefix="mlgate-matrix-"))
    print(f"{len(chosen)} cell(s); work: {work}", file=sys.stderr, flush=True)
    try:
        return _run(args, chosen, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, chosen: list[Cell], work: Path) -> int:
    session = _session(work)
    rows, job_rows, failed = [HEADER], [], 0
    for cell in chosen:
        reason = NOT_RUN.get((cell.shape, cell.pipeline))
        if reason is not None:
            rows.append(_skipped_row(cell, reason))
            print(rows[-1], file=sys.stderr, flush=True)
            continue
        with redirect_stdout(sys.stderr):  # the runners' own progress lines
            result = run_cell(session, cell)
        failed += not result.ok
        rows.append(row(result))
        print(rows[-1], file=sys.stderr, flush=True)
        prefix = f"| {cell.runner} | {cell.shape} | {cell.level} | {cell.pipeline}"
        job_rows += [
            f"{prefix} | {n} | {s} | {'' if t is None else f'{t:.0f}'} |" for n, s, t in result.jobs
        ]
    print("\n".join(rows))
    if args.jobs_out:
        head = "| runner | shape | level | pipeline | job | status | seconds |\n|---|---|---|---|---|---|---|"
        args.jobs_out.write_text("\n".join([head, *job_rows]) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
