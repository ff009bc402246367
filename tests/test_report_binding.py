"""`mlgate merge --bound --commit --digest`: each report is the one its CI job made, and every
shard of a sharded gate is there (issue 18). Real `mlgate run`s of the models gate (no external
tool) over a small git repository, laid out as a generated pipeline's decide job sees them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import git_init, run_cli, write


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reports/<job>/mlgate.json for the jobs models-1-of-2, models-2-of-2 and secrets-less
    sast stand-in `models` (whole tree), each with its sha256 in <job>.sha256."""
    base = tmp_path_factory.mktemp("binding")
    repo = base / "repo"
    for i in range(4):
        write(repo, f"pkg/m{i}.py", f"X = {i}\n")
    off = ", ".join(
        f"{g}: {{enabled: false}}" for g in ("sast", "secrets", "deps", "data", "model")
    )
    write(repo, ".mlgate/policy.yml", f"extends: default\ngates: {{{off}}}\n")
    git_init(repo)
    for job, extra in (
        ("models", []),
        ("models-1-of-2", ["--shard", "1/2"]),
        ("models-2-of-2", ["--shard", "2/2"]),
    ):
        out = base / "reports" / job
        done = run_cli(
            [
                "run",
                ".",
                "models",
                *extra,
                "--no-receipt",
                "--format",
                "json",
                "--output",
                str(out),
            ],
            cwd=repo,
        )
        assert done.returncode == 0, done.stderr
        assert not (out / "receipt.json").exists()  # only decide writes a receipt
        digest = hashlib.sha256((out / "mlgate.json").read_bytes()).hexdigest()
        (base / "reports" / f"{job}.sha256").write_text(digest)
    return base


def _commit(jobs: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=jobs / "repo", capture_output=True, text=True, check=True
    ).stdout.strip()


def _merge(reports: Path, names: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["merge", *(str(reports / n / "mlgate.json") for n in names), "--bound"]
    for name in names:
        digest = (reports / f"{name}.sha256").read_text()
        args += ["--digest", f"{reports / name / 'mlgate.json'}={digest}"]
    out = str(reports.parent / "out")
    return run_cli(
        [*args, *extra, "--format", "json", "--output", out], cwd=reports.parent / "repo"
    )


def _copy(jobs: Path, dest: str) -> Path:
    target = jobs / dest
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(jobs / "reports", target)
    return target


def test_bound_reports_merge(jobs: Path) -> None:
    reports = _copy(jobs, "ok")
    done = _merge(reports, ["models-1-of-2", "models-2-of-2"], "--commit", _commit(jobs))
    assert done.returncode == 0, done.stderr
    assert (jobs / "out" / "receipt.json").is_file()


def test_a_missing_shard_is_named(jobs: Path) -> None:
    reports = _copy(jobs, "missing")
    done = _merge(reports, ["models-1-of-2"])
    assert done.returncode == 2
    assert "gate models: shard 2/2 missing" in done.stderr


def test_a_changed_report_is_refused(jobs: Path) -> None:
    reports = _copy(jobs, "changed")
    path = reports / "models" / "mlgate.json"
    data = json.loads(path.read_text())
    data["gates"][0]["status"] = "pass"  # any edit at all
    path.write_text(json.dumps(data))
    done = _merge(reports, ["models"])
    assert done.returncode == 2
    assert "is not the" in done.stderr and "its job printed" in done.stderr


def test_a_report_without_its_digest_is_refused(jobs: Path) -> None:
    reports = _copy(jobs, "nodigest")
    (reports / "models.sha256").write_text("")
    done = _merge(reports, ["models"])
    assert done.returncode == 2 and "no sha256 from the job that made it" in done.stderr


def test_a_report_in_another_gates_folder_is_refused(jobs: Path) -> None:
    """A job that forges a report where another gate's lives (its own digest and all)."""
    reports = _copy(jobs, "forged")
    shutil.move(reports / "models", reports / "deps")
    (reports / "deps.sha256").write_text((reports / "models.sha256").read_text())
    done = _merge(reports, ["deps"])
    assert done.returncode == 2
    assert "holds gate(s) models, but its folder 'deps' is the deps job's" in done.stderr


def test_a_shard_in_the_wrong_folder_is_refused(jobs: Path) -> None:
    reports = _copy(jobs, "swapped")
    shutil.rmtree(reports / "models")
    shutil.copytree(reports / "models-1-of-2", reports / "models")
    (reports / "models.sha256").write_text((reports / "models-1-of-2.sha256").read_text())
    done = _merge(reports, ["models", "models-2-of-2"])
    assert done.returncode == 2 and "report is for shard 1/2" in done.stderr


def test_a_report_of_another_commit_is_refused(jobs: Path) -> None:
    reports = _copy(jobs, "commit")
    done = _merge(reports, ["models"], "--commit", "0" * 40)
    assert done.returncode == 2 and f"not {'0' * 40}" in done.stderr
