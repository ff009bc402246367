"""The machinery that executes generated pipelines (issue 11), shared by the execution tests
(tests/generate/test_pipeline_runs.py, pytest) and the whole-matrix runner
(tests/generate/matrix.py, `python -m tests.generate.matrix`): build and `mlgate init` a
repository, run its GitHub workflows with the step runner (tests/generate/ghrunner.py) and
its GitLab pipeline with gitlab-ci-local (shell executor), and read what they left."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..conftest import ADVISORY_DB, REPO_ROOT, fixture_path, git_init, run_cli, write
from . import ghrunner

GCL_VERSION = "4.72.0"
GCL = REPO_ROOT / ".ci-tools" / "node_modules" / ".bin" / "gitlab-ci-local"
GATES_L0 = {"sast", "secrets", "deps", "models"}


def job_variables(cache: Path) -> dict[str, str]:
    """Variables every job gets: the vendored advisory database, cold caches of its own (in
    `cache`, an empty folder)."""
    return {
        "MLGATE_ADVISORY_DB": str(fixture_path(ADVISORY_DB / "vulns").parent),
        "XDG_CACHE_HOME": str(cache),
        "MLGATE_CACHE_DIR": str(cache / "mlgate"),
        # the project installs (numpy, pandas, ...) reuse the machine's pip cache
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # no .pyc compilation of the project's packages at install time (numpy, pandas, ...:
        # the largest CPU cost of a run; Python compiles what it imports anyway)
        "PIP_NO_COMPILE": "1",
        # a job that would install into an interpreter outside a virtual environment fails
        "PIP_REQUIRE_VIRTUALENV": "1",
        "NO_COLOR": "1",
    }


PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def lock_mlgate(base: Path, wheel: Path) -> dict[str, str]:
    """`mlgate tools lock --mlgate` (real uv, real index) once for the wheel and this Python,
    resolved within the versions this test environment holds (uv's own UV_CONSTRAINT), so a
    job's `pip install --require-hashes --no-deps -r` hash-checks the wheel and finds the
    dependencies installed (the jobs see them, see ghrunner)."""
    root = base / "repo"
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


def prepare(
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
    # gitlab-ci-local evaluates `rules: changes:` (the training job's) against
    # origin/<default branch>: the repository as its own remote, at this commit
    subprocess.run(["git", "remote", "add", "origin", str(root)], cwd=root, check=True)
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=root, check=True)
    return root


# deploy_command at level 2: record which commit was deployed (GitHub: $RUNNER_TEMP; GitLab:
# the job's $TMPDIR, the test's own folder).


DEPLOY = (
    "deploy_command: |\n"
    '  echo "deployed ${GITHUB_SHA:-$CI_COMMIT_SHA}" > "${RUNNER_TEMP:-$TMPDIR}/deployed"\n'
)


def level_2(root: Path, init_output: str) -> None:
    """What a user does after `init --level 2`: set deploy_command (the placeholder fails)
    and, for GitLab, sign with a key (pipeline.signing: key; gitlab-ci-local has no OIDC
    token for Sigstore): the test gives the key pair as file variables."""
    config = root / ".mlgate.yml"
    text = config.read_text()
    start = text.index("deploy_command: |")
    end = text.index("\n\n", start)
    text = text[:start] + DEPLOY.rstrip("\n") + text[end:]
    assert '  signing: "sigstore"\n' in text  # the default init writes
    config.write_text(text.replace('  signing: "sigstore"\n', '  signing: "key"\n'))


def run_github(
    tmp: Path, root: Path, env: ghrunner.Environment, hooks: dict[str, Any] | None = None
) -> ghrunner.Run:
    runner = ghrunner.Runner(root, tmp / "gh", env)
    run = runner.run(root / ".github/workflows/mlgate.yml", hooks)
    print(f"\nGitHub run of {root}:\n{run.table()}")
    return run


def decision_dir(run: ghrunner.Run) -> Path:
    return run.artifacts / "mlgate-decision"


def job_logs(run: ghrunner.Run) -> str:
    return "\n\n".join(f"=== {n} ({r.status})\n{r.log}" for n, r in run.jobs.items())


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


def run_gitlab(
    tmp: Path,
    root: Path,
    gcl: Path,
    env: ghrunner.Environment,
    *args: str,
    files: dict[str, str] | None = None,
) -> GitLabRun:
    """Run gitlab-ci-local in `root` with `args`; `files`: file variables (name -> content),
    as a project's CI/CD settings would give them (the job sees a path to the content)."""
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
    # gitlab-ci-local writes each job's dotenv report under .gitlab-ci-reports/ in its build
    # directory (GitLab passes it as variables, no file): git-ignored for the jobs through a
    # global excludes file, so `git status` sees the checkout a GitLab runner would have
    excludes = tmp / "gcl-excludes"
    excludes.write_text("/.gitlab-ci-reports/\n")
    (tmp / "gcl-gitconfig").write_text(f"[core]\n\texcludesFile = {excludes}\n")
    variables["GIT_CONFIG_GLOBAL"] = str(tmp / "gcl-gitconfig")
    (tmp / "job-tmp").mkdir(exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    # gitlab-ci-local reads the file relative to the repository (an absolute path is ignored),
    # and turns a value that names an existing file into a file variable unless typed.
    varfile = root / ".gitlab-ci-local-variables.yml"
    typed = {k: {"type": "variable", "values": {"*": v}} for k, v in variables.items()}
    typed.update({k: {"type": "file", "values": {"*": v}} for k, v in (files or {}).items()})
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


def gl_artifact(run: GitLabRun, job: str, rel: str) -> Path:
    return run.root / ".gitlab-ci-local" / "artifacts" / job / rel


def make_signing_keys(folder: Path) -> dict[str, str]:
    """An Ed25519 key pair from `mlgate keygen`, as GitLab file variables (pipeline.signing:
    key): the private key for decide, the public key for deploy."""
    private, public = folder / "signing.pem", folder / "signing.pub"
    done = run_cli(["keygen", str(private), str(public)])
    assert done.returncode == 0, done.stderr
    return {"MLGATE_SIGNING_KEY": private.read_text(), "MLGATE_PUBLIC_KEY": public.read_text()}


def gl_reports(root: Path, job: str) -> dict[str, str]:
    """The `artifacts:reports` paths of a job in the generated .gitlab-ci.yml."""
    included = root / ".gitlab" / "mlgate.yml"  # beside the repository's own .gitlab-ci.yml
    path = included if included.is_file() else root / ".gitlab-ci.yml"
    pipeline = yaml.safe_load(path.read_text())
    return {k: str(v) for k, v in pipeline[job]["artifacts"]["reports"].items()}


def job_workdir(run: ghrunner.Run, job: str) -> Path:
    workdir = run.jobs[job].workdir
    assert workdir is not None, f"{job} did not run"
    return workdir


def git_head(checkout: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout.strip()
