"""A step runner for the GitHub Actions workflows mlgate generates (no container engine here,
so `act` cannot run them). It executes a workflow's jobs for real, on this machine.

What it does, and exactly what it emulates:

- **Jobs** run one at a time in `needs` order (a topological order of the graph). A job's `if:`
  is evaluated by a small evaluator of the expressions the generated workflows use (`!`, `&&`,
  `||`, `==`, `!=`, parentheses, strings, `cancelled()`, `success()`, `failure()`,
  `always()`, and the contexts `github.*`, `needs.*`, `steps.*`, `runner.*`); without a status
  function `success()` is implied (all needed jobs succeeded), as on GitHub. A job not run is
  `skipped`, and so are the jobs that need it (unless their `if:` says otherwise).
- **Each job starts from a fresh copy of the repository**: `actions/checkout` is a `git clone`
  of the fixture repository at its HEAD into a new directory (`persist-credentials` and
  `fetch-depth` have no effect: the clone is complete). `$RUNNER_TEMP` is a new empty
  directory per job, outside the checkout.
- **`run:` steps** run with `bash --noprofile --norc -eo pipefail FILE` (GitHub's default
  shell for `run:` on Linux), in the checkout, with the job's `env:` and the step's `env:`
  (expressions in them resolved), `GITHUB_SHA`, `GITHUB_REF`, `GITHUB_EVENT_NAME`,
  `GITHUB_WORKSPACE`, `GITHUB_OUTPUT` (a new file per step, read back into
  `steps.<id>.outputs`), `GITHUB_STEP_SUMMARY`, `RUNNER_TEMP` and `CI=true`. A step's `if:` is
  evaluated like a job's (`success()`: no earlier step failed). Job `outputs:` are resolved
  from the step outputs at the end of the job, failed or not.
- **`actions/setup-python`** gives the job a fresh interpreter: a new virtual environment of
  the Python running the tests (not `python-version`; `cache:` is ignored), first on `PATH`;
  its output `python-version` is that interpreter's exact version. To avoid downloading
  mlgate's dependencies in every job, the environment sees the test environment's installed
  packages *except mlgate itself* through a `.pth` file (pip itself comes the same way):
  `pip install <mlgate wheel>[...]` in a job then installs the wheel for real and finds its
  dependencies satisfied. (So these runs prove what the jobs do, not that each install line
  pulls every dependency it needs.) No scanner is on `PATH` and `MLGATE_TOOLS` is not set:
  the jobs get the pinned scanners the way the generated steps say (`mlgate tools install`,
  with uv from this machine's `PATH` when it has one, else pip).
- **Network**: the test machine's CA bundle, proxy and package-index variables
  (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `PIP_CERT`, `HTTPS_PROXY`, ...) pass through to the
  steps, as a hosted runner's own network settings would.
- **`$RUNNER_TEMP`** is one path for every job of every run in the session (as on a hosted
  runner, where it is `/home/runner/work/_temp`), emptied when a job starts; `runner.os` is
  `Linux`, `runner.arch` `X64`.
- **`actions/cache/restore`** and **`actions/cache/save`**: a cache store shared by every run
  in the test session (GitHub keeps a cache across runs). `save` copies `path` (a folder)
  under `key` unless that key exists (GitHub refuses to overwrite a key too; a warning, not a
  failure), or does nothing when `path` does not exist; `restore` copies an exact `key`
  match back to `path` and outputs `cache-hit` (`'true'` or `'false'`),
  `cache-primary-key` and `cache-matched-key`. Copies are hard links (a saved entry
  shares its files with what the job restored: the jobs only read them). `restore-keys`
  (prefix matches) is not emulated: the step fails if it appears.
- **`actions/upload-artifact`**: copies `path` (a file or a folder) into the run's artifact
  store under `name`; several paths (one per line) are copied under their path relative to
  the checkout (the action roots them at their least common ancestor: the same for the
  generated workflows, whose paths share no folder); a name uploaded twice, or
  `if-no-files-found: error` with any path missing, fails the step. **`actions/download-artifact`** with `name:` copies that artifact into
  `path` (a missing artifact fails the step); `pattern:`/`merge-multiple:` are not supported
  (the generated workflows no longer use them: the runner fails the step if they appear).
- **`github/codeql-action/upload-sarif`**: checks `sarif_file` exists and is SARIF 2.1.0 JSON
  and records it (`Run.sarif`); nothing is uploaded.
- **`actions/attest-build-provenance`**: records the sha256 of each `subject-path` file with
  the repository (`example/repo`) and the workflow (`GITHUB_WORKFLOW_REF` without `@ref`) in
  the run's attestation store; nothing is signed. **`gh attestation verify FILE --repo R
  --signer-workflow W`** (a `gh` script first on `PATH`, the only `gh` command emulated)
  succeeds only when FILE's sha256 was recorded for R and W.
- Anything else in `uses:` fails the step (so a new action in a template is noticed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlgate.toolenv import tools_dir

STEP_TIMEOUT = 900
REPOSITORY = "example/repo"
GH_SHIM = """#!/bin/bash
# ghrunner: `gh attestation verify FILE --repo R --signer-workflow W`, nothing else.
set -eu
if [ "${1:-} ${2:-}" != "attestation verify" ]; then
  echo "gh (ghrunner): only 'gh attestation verify' is emulated" >&2; exit 2
fi
file=$3; shift 3; repo=""; workflow=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo=$2; shift 2 ;;
    --signer-workflow) workflow=$2; shift 2 ;;
    *) echo "gh (ghrunner): unsupported option $1" >&2; exit 2 ;;
  esac
done
digest=$(sha256sum "$file" | cut -d ' ' -f 1)
if ! grep -qxF "$digest $repo $workflow" "$GHRUNNER_ATTESTATIONS"; then
  echo "gh (ghrunner): no attestation of $file ($digest) by $workflow in $repo" >&2; exit 1
fi
echo "gh (ghrunner): $file: attested by $workflow"
"""


@dataclass
class JobResult:
    name: str
    status: str  # success, failure, skipped
    log: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    seconds: float = 0.0


@dataclass
class Run:
    jobs: dict[str, JobResult]
    artifacts: Path
    sarif: list[Path]

    def status(self, job: str) -> str:
        return self.jobs[job].status

    def table(self) -> str:
        """One line per job: name, status, seconds (the README's job table)."""
        return "\n".join(f"| {n} | {r.status} | {r.seconds:.0f} s |" for n, r in self.jobs.items())


@dataclass(frozen=True)
class Environment:
    """What the runner's jobs get: a site dir with the test environment's packages minus
    mlgate, extra variables for every step, the one `$RUNNER_TEMP` and the cache store.
    `tools_dir` is where the test session's pinned scanners are installed (the GitLab runs
    point `MLGATE_TOOLS_DIR` at it)."""

    deps_site: Path
    tools_dir: Path
    env: Mapping[str, str]
    runner_temp: Path
    cache_store: Path


def prepare_environment(base: Path, extra_env: Mapping[str, str]) -> Environment:
    """Link every installed package except mlgate into one folder; install the pinned tools."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    deps = base / "deps-site"
    deps.mkdir(parents=True)
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("mlgate", "__editable__", "_mlgate")) or name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "tools", "install"],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mlgate tools install: {done.stdout}{done.stderr}")
    (base / "cache-store").mkdir()
    return Environment(
        deps, tools_dir(), dict(extra_env), base / "runner-temp", base / "cache-store"
    )


class _Expr:
    """The GitHub expression subset the generated workflows use, as Python."""

    _TOKEN = re.compile(
        r"\s*(?:(?P<str>'[^']*')|(?P<op>&&|\|\||==|!=|!|\(|\))|(?P<fn>[a-z]+)\(\)"
        r"|(?P<ctx>[A-Za-z_][A-Za-z0-9_.-]*))"
    )

    def __init__(self, context: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.context = context
        self.status = status

    def lookup(self, dotted: str) -> Any:
        node: Any = self.context
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        return "" if node is None else node

    def evaluate(self, text: str) -> Any:
        text = text.strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2]
        python: list[str] = []
        pos = 0
        values: dict[str, Any] = {}
        while pos < len(text.rstrip()):
            match = self._TOKEN.match(text, pos)
            if match is None:
                raise ValueError(f"unsupported expression: {text!r} at {pos}")
            pos = match.end()
            if match["str"] is not None:
                python.append(repr(match["str"][1:-1]))
            elif match["op"] is not None:
                python.append(
                    {"&&": " and ", "||": " or ", "!": " not "}.get(match["op"], match["op"])
                )
            elif match["fn"] is not None:
                python.append(repr(self.status[match["fn"]]))
            else:
                key = f"v{len(values)}"
                values[key] = self.lookup(match["ctx"])
                python.append(key)
        return eval("".join(python), {"__builtins__": {}}, values)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return bool(self.status["success"])
        implied = not re.search(r"\b(success|failure|always|cancelled)\(\)", str(text))
        result = bool(self.evaluate(str(text)))
        return result and (bool(self.status["success"]) if implied else True)

    def substitute(self, value: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.evaluate(m.group(1))), value)


class Runner:
    def __init__(
        self,
        repo: Path,
        workspace: Path,
        environment: Environment,
        event: str = "push",
        ref: str = "refs/heads/main",
    ) -> None:
        self.repo = repo
        self.workspace = workspace
        self.environment = environment
        self.event = event
        self.ref = ref
        self.sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.artifacts = workspace / "artifacts"
        self.artifacts.mkdir(parents=True)
        self.sarif: list[Path] = []
        self.attestations = workspace / "attestations.txt"
        self.attestations.write_text("")
        self.bin = workspace / "bin"
        self.bin.mkdir()
        (self.bin / "gh").write_text(GH_SHIM)
        (self.bin / "gh").chmod(0o755)
        self.workflow_ref = ""

    # --- the workflow ---------------------------------------------------------------------

    def run(self, workflow: Path, hooks: Mapping[str, Any] | None = None) -> Run:
        """Run every job; `hooks[job](workdir)` runs after that job's checkout (test setup)."""
        flow = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        rel = workflow.resolve().relative_to(self.repo.resolve()).as_posix()
        self.workflow_ref = f"{REPOSITORY}/{rel}@{self.ref}"
        jobs: dict[str, dict[str, Any]] = flow["jobs"]
        results: dict[str, JobResult] = {}
        for name in _order(jobs):
            results[name] = self._job(name, jobs[name], results, (hooks or {}).get(name))
        return Run(results, self.artifacts, self.sarif)

    def _context(self, results: Mapping[str, JobResult]) -> dict[str, Any]:
        return {
            "github": {
                "sha": self.sha,
                "ref": self.ref,
                "event_name": self.event,
                "workflow": "mlgate",
                "repository": REPOSITORY,
                "event": {},
            },
            "needs": {n: {"result": r.status, "outputs": r.outputs} for n, r in results.items()},
        }

    def _job(
        self, name: str, job: Mapping[str, Any], results: Mapping[str, JobResult], hook: Any
    ) -> JobResult:
        needs = job.get("needs") or []
        needs = [needs] if isinstance(needs, str) else list(needs)
        context = {
            **self._context(results),
            "needs": {
                n: {"result": results[n].status, "outputs": results[n].outputs} for n in needs
            },
        }
        ok = all(results[n].status == "success" for n in needs)
        status = {"success": ok, "failure": not ok, "always": True, "cancelled": False}
        if not _Expr(context, status).condition(job.get("if")):
            return JobResult(name, "skipped")
        started = time.monotonic()
        result = _JobRun(self, name, job, context, hook).execute()
        result.seconds = round(time.monotonic() - started, 1)
        return result


class _JobRun:
    def __init__(
        self, runner: Runner, name: str, job: Mapping[str, Any], context: dict[str, Any], hook: Any
    ) -> None:
        self.runner = runner
        self.name = name
        self.job = job
        self.context = {**context, "steps": {}, "runner": {}}
        self.root = runner.workspace / "jobs" / name
        self.workdir = self.root / "checkout"
        self.temp = runner.environment.runner_temp
        shutil.rmtree(self.temp, ignore_errors=True)
        self.temp.mkdir(parents=True)
        self.root.mkdir(parents=True)
        self.context["runner"] = {"temp": str(self.temp), "os": "Linux", "arch": "X64"}
        self.path: list[str] = []
        self.log: list[str] = []
        self.failed = False
        self.hook = hook

    def execute(self) -> JobResult:
        for index, step in enumerate(self.job.get("steps") or []):
            status = {
                "success": not self.failed,
                "failure": self.failed,
                "always": True,
                "cancelled": False,
            }
            expr = _Expr(self.context, status)
            if not expr.condition(step.get("if")):
                self.log.append(f"--- skipped: {step.get('name')}")
                continue
            self.log.append(f"--- step: {step.get('name')}")
            try:
                outputs = self._step(step, expr, index)
            except StepFailed as exc:
                self.log.append(f"step failed: {exc}")
                self.failed = True
                outputs = exc.outputs
            if step.get("id"):
                self.context["steps"][step["id"]] = {"outputs": outputs}
        final = _Expr(
            self.context, {"success": True, "failure": False, "always": True, "cancelled": False}
        )
        job_outputs = {
            k: final.substitute(str(v)) for k, v in (self.job.get("outputs") or {}).items()
        }
        return JobResult(
            self.name,
            "failure" if self.failed else "success",
            "\n".join(self.log),
            job_outputs,
            self.workdir,
        )

    def _step(self, step: Mapping[str, Any], expr: _Expr, index: int) -> dict[str, str]:
        if "run" in step:
            return self._run(step, expr, index)
        uses = str(step["uses"]).split("@")[0]
        inputs = {k: expr.substitute(str(v)) for k, v in (step.get("with") or {}).items()}
        action = {
            "actions/checkout": self._checkout,
            "actions/setup-python": self._setup_python,
            "actions/upload-artifact": self._upload,
            "actions/download-artifact": self._download,
            "github/codeql-action/upload-sarif": self._upload_sarif,
            "actions/attest-build-provenance": self._attest,
            "actions/cache/restore": self._cache_restore,
            "actions/cache/save": self._cache_save,
        }.get(uses)
        if action is None:
            raise StepFailed(f"the runner does not emulate {uses}")
        return action(inputs) or {}

    # --- run: ------------------------------------------------------------------------------

    def _env(
        self, step: Mapping[str, Any], expr: _Expr, output: Path, summary: Path
    ) -> dict[str, str]:
        base = os.environ.get("PATH", "").split(os.pathsep)
        here = str(Path(sys.executable).parent)
        path = [
            *self.path,
            str(self.runner.bin),
            *(p for p in base if p != here),
        ]
        env = {
            "PATH": os.pathsep.join(path),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": self.runner.sha,
            "GITHUB_REF": self.runner.ref,
            "GITHUB_EVENT_NAME": self.runner.event,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_WORKFLOW_REF": self.runner.workflow_ref,
            "GHRUNNER_ATTESTATIONS": str(self.runner.attestations),
            "GITHUB_WORKSPACE": str(self.workdir),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(self.temp),
            **_network_env(),
            **self.runner.environment.env,
        }
        for scope in (self.job.get("env") or {}, step.get("env") or {}):
            env.update({k: expr.substitute(str(v)) for k, v in scope.items()})
        return env

    def _run(self, step: Mapping[str, Any], expr: _Expr, index: int) -> dict[str, str]:
        script = self.root / f"step-{index}.sh"
        script.write_text(str(step["run"]), encoding="utf-8")
        output = self.root / f"step-{index}.output"
        output.write_text("")
        summary = self.root / "summary.md"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workdir,
            env=self._env(step, expr, output, summary),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        self.log.append(done.stdout + done.stderr)
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        if done.returncode != 0:
            raise StepFailed(f"exit {done.returncode}", outputs)
        return outputs

    # --- actions ---------------------------------------------------------------------------

    def _checkout(self, inputs: Mapping[str, str]) -> None:
        subprocess.run(
            ["git", "clone", "-q", str(self.runner.repo), str(self.workdir)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["git", "checkout", "-q", "--detach", self.runner.sha],
            cwd=self.workdir,
            check=True,
            capture_output=True,
        )
        if self.hook is not None:
            self.hook(self.workdir)

    def _setup_python(self, inputs: Mapping[str, str]) -> dict[str, str]:
        venv = self.root / "python"
        # no ensurepip (slow): pip comes from the test environment through the .pth file
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)],
            check=True,
            capture_output=True,
        )
        site = next((venv / "lib").glob("python3*/site-packages"))
        (site / "_test_deps.pth").write_text(f"{self.runner.environment.deps_site}\n")
        self.path.insert(0, str(venv / "bin"))
        return {"python-version": ".".join(str(n) for n in sys.version_info[:3])}

    def _cache_path(self, inputs: Mapping[str, str]) -> tuple[Path, Path]:
        if "restore-keys" in inputs or "\n" in inputs["path"].strip():
            raise StepFailed("actions/cache: only one path and an exact key are emulated")
        key = inputs["key"]
        if not key or "/" in key or key.startswith("."):
            raise StepFailed(f"actions/cache: bad key {key!r}")
        path = Path(inputs["path"]).expanduser()
        return self.runner.environment.cache_store / key, self.workdir / path

    def _cache_restore(self, inputs: Mapping[str, str]) -> dict[str, str]:
        stored, path = self._cache_path(inputs)
        hit = stored.is_dir()
        if hit:
            _link_tree(stored, path)
            self.log.append(f"Cache restored from key: {inputs['key']}")
        else:
            self.log.append(f"Cache not found for input keys: {inputs['key']}")
        return {
            "cache-hit": "true" if hit else "false",
            "cache-primary-key": inputs["key"],
            "cache-matched-key": inputs["key"] if hit else "",
        }

    def _cache_save(self, inputs: Mapping[str, str]) -> None:
        stored, path = self._cache_path(inputs)
        if stored.exists():
            self.log.append(f"Warning: cache entry {inputs['key']} exists; not saved")
        elif not path.is_dir():
            self.log.append(f"Warning: {path} does not exist; no cache is saved")
        else:
            _link_tree(path, stored)
            self.log.append(f"Cache saved with key: {inputs['key']}")

    def _upload(self, inputs: Mapping[str, str]) -> None:
        name = inputs["name"]
        target = self.runner.artifacts / name
        if target.exists():
            raise StepFailed(f"artifact {name} already exists")
        paths = [p.strip() for p in inputs["path"].splitlines() if p.strip()]
        missing = [p for p in paths if not (self.workdir / p).exists()]
        if missing:
            if inputs.get("if-no-files-found", "warn") == "error":
                raise StepFailed(f"no files at {', '.join(missing)}")
            paths = [p for p in paths if p not in missing]
            if not paths:
                return
        if len(paths) == 1:
            source = self.workdir / paths[0]
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                target.mkdir()
                shutil.copy2(source, target / source.name)
            return
        for rel in paths:
            source, dest = self.workdir / rel, target / rel.rstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, dest)
            else:
                shutil.copy2(source, dest)

    def _attest(self, inputs: Mapping[str, str]) -> None:
        workflow = self.runner.workflow_ref.split("@", 1)[0]
        with self.runner.attestations.open("a") as store:
            for rel in (p.strip() for p in inputs["subject-path"].splitlines() if p.strip()):
                path = self.workdir / rel
                if not path.is_file():
                    raise StepFailed(f"attest-build-provenance: no file {rel}")
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                store.write(f"{digest} {REPOSITORY} {workflow}\n")

    def _download(self, inputs: Mapping[str, str]) -> None:
        if "name" not in inputs or "pattern" in inputs or "merge-multiple" in inputs:
            raise StepFailed("download-artifact: only `name:` downloads are emulated")
        source = self.runner.artifacts / inputs["name"]
        if not source.is_dir():
            raise StepFailed(f"Artifact not found for name: {inputs['name']}")
        shutil.copytree(source, self.workdir / inputs.get("path", "."), dirs_exist_ok=True)

    def _upload_sarif(self, inputs: Mapping[str, str]) -> None:
        path = self.workdir / inputs["sarif_file"]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StepFailed(f"upload-sarif: {exc}") from None
        if data.get("version") != "2.1.0":
            raise StepFailed("upload-sarif: not SARIF 2.1.0")
        self.runner.sarif.append(path)


class StepFailed(Exception):
    def __init__(self, message: str, outputs: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs or {}


_NETWORK_VARS = frozenset(
    {
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PIP_CERT",
        "PIP_INDEX_URL",
        "UV_INDEX_URL",
        "UV_NATIVE_TLS",
    }
)


def _network_env() -> dict[str, str]:
    """This machine's way out (CA bundle, proxy, package index), as a hosted runner has one."""
    return {
        k: v
        for k, v in os.environ.items()
        if k in _NETWORK_VARS or k.upper() in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
    }


def _link_tree(source: Path, target: Path) -> None:
    """Copy a folder as hard links (symbolic links stay links)."""
    shutil.copytree(source, target, symlinks=True, copy_function=os.link, dirs_exist_ok=True)


def _order(jobs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    done: list[str] = []
    pending = list(jobs)
    while pending:
        for name in pending:
            needs = jobs[name].get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            if all(n in done for n in needs):
                done.append(name)
                pending.remove(name)
                break
        else:
            raise ValueError(f"cycle or unknown job in needs: {pending}")
    return done


def workspace(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
