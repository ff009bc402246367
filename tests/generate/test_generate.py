"""`mlgate init` / `mlgate generate`: pipelines for a matrix of repo shapes, checked by the real
validators (check-jsonschema's SchemaStore schemas, actionlint with shellcheck, zizmor offline
in its default and pedantic personas), plus hardening invariants, determinism and drift.

Every shape is generated first; each validator then runs once over all the files (a
session fixture), and the tests assert per file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate import __version__
from mlgate.cli import run_main
from mlgate.config import INSTALL_TOOLS, PYTHON_VERSIONS, load_config
from mlgate.generate import TARGETS
from mlgate.generate.github import load_pins
from mlgate.generate.gitlab import load_images
from mlgate.generate.install import RECIPES
from mlgate.generate.render import templates_dir
from mlgate.toollock import PACKAGE_LOCK

from ..conftest import EXAMPLES, git_init, run_cli, write

GITHUB = ".github/workflows/mlgate.yml"
GITHUB_TRAIN = ".github/workflows/mlgate-train.yml"
GITHUB_SCHEDULED = ".github/workflows/mlgate-scheduled.yml"
GITLAB = ".gitlab-ci.yml"
BIN = Path(sys.executable).parent


def mlgate(*args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in-process (the same entry point as the console script)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


# --- repo shapes ----------------------------------------------------------------------------

PYPROJECT = (
    '[project]\nname = "shape"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
    '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
)
MARKED_TESTS = (
    "import pytest\n\n@pytest.mark.data\ndef test_rows(): ...\n\n"
    "@pytest.mark.model\ndef test_accuracy(): ...\n"
)


def _requirements(root: Path) -> None:
    write(root, "requirements.txt", "scikit-learn==1.5.2\n")
    write(root, "train.py", "print('train')\n")


def _uv(root: Path) -> None:
    write(root, "pyproject.toml", PYPROJECT)
    write(root, "uv.lock", "version = 1\n")
    write(root, "src/shape/__init__.py", "")


def _poetry(root: Path) -> None:
    write(
        root,
        "pyproject.toml",
        '[tool.poetry]\nname = "shape"\nversion = "0.1.0"\n'
        '[tool.poetry.dependencies]\npython = "~3.11"\n'
        '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n',
    )
    write(root, "poetry.lock", "# lock\n")
    write(root, "shape/__init__.py", "")


def _dvc_notebooks(root: Path) -> None:
    write(root, "requirements.txt", "dvc==3.55.2\npandas==2.2.3\n")
    write(root, "dvc.yaml", "stages:\n  train:\n    cmd: python train.py\n")
    write(root, "data/raw.csv.dvc", "outs:\n- path: raw.csv\n")
    write(root, "notebooks/explore.ipynb", json.dumps({"cells": [], "nbformat": 4}))
    write(root, "train.py", "print('train')\n")


def _marked_tests(root: Path) -> None:
    write(root, "requirements.txt", "pandas==2.2.3\n")
    write(root, "tests/test_quality.py", MARKED_TESTS)
    write(root, "data/train.csv", "a,b\n1,2\n")
    write(root, "models/model.onnx", "onnx")


def _pdm(root: Path) -> None:
    write(root, "pyproject.toml", PYPROJECT + "[tool.pdm]\n")
    write(root, "pdm.lock", "# lock\n")


def _conda(root: Path) -> None:
    write(root, "environment.yml", "name: shape\ndependencies: [python=3.11, numpy]\n")
    write(root, "analysis.py", "print(1)\n")


def _no_python(root: Path) -> None:
    write(root, "README.md", "# documentation only\n")


GITLAB_INCLUDED = ".gitlab/mlgate.yml"
OWN_GITLAB = """\
# The project's own pipeline.
stages: [build, test, deploy]

variables:
  FOO: bar

build-docs:
  stage: build
  script:
    - echo "docs $FOO"
"""
OWN_GITLAB_NO_STAGES = """\
cml-report:
  script: |
    echo "own job"
"""
OWN_WORKFLOW = "name: ci\non: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps: []\n"


def _own_ci(text: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        _requirements(root)
        write(root, GITLAB, text)
        write(root, ".github/workflows/ci.yml", OWN_WORKFLOW)

    return build


def _example(name: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        shutil.copytree(EXAMPLES / name, root, dirs_exist_ok=True)

    return build


@dataclass(frozen=True)
class Shape:
    build: Callable[[Path], None]
    level: int
    init_args: tuple[str, ...] = ()


SHAPES: dict[str, Shape] = {
    "requirements-level0": Shape(_requirements, 0),
    "requirements-level1": Shape(_requirements, 1),
    "requirements-level2": Shape(_requirements, 2),
    "uv-lock": Shape(_uv, 1),
    "poetry": Shape(_poetry, 2),
    "pdm": Shape(_pdm, 0),
    "dvc-notebooks": Shape(_dvc_notebooks, 1),
    "data-model-tests": Shape(_marked_tests, 2),
    "conda": Shape(_conda, 1),
    "no-python": Shape(_no_python, 0),
    # the examples carry a .mlgate.yml and a policy of their own: init replaces them
    "example-churn-model": Shape(_example("churn-model"), 2, ("--force",)),
    "example-insecure-ml": Shape(_example("insecure-ml"), 1),
    # a repository with its own CI: mlgate's GitLab jobs beside it (included, or merged)
    "own-gitlab-include": Shape(_own_ci(OWN_GITLAB), 2),
    "own-gitlab-merge": Shape(_own_ci(OWN_GITLAB_NO_STAGES), 1, ("--merge",)),
}
SHARDED = "requirements-level2-sharded"


@dataclass(frozen=True)
class Generated:
    root: Path
    init_output: str
    files: dict[str, Path]  # repo-relative path -> file

    def text(self, rel: str) -> str:
        return self.files[rel].read_text(encoding="utf-8")

    def load(self, rel: str) -> Any:
        return yaml.safe_load(self.text(rel))


@dataclass(frozen=True)
class Validation:
    schema_github: list[dict[str, Any]]
    schema_gitlab: list[dict[str, Any]]
    actionlint: list[dict[str, Any]]
    zizmor: dict[str, list[dict[str, Any]]]  # persona -> findings

    def about(self, findings: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
        return [f for f in findings if str(path) in json.dumps(f)]


def _generate_shape(base: Path, name: str, shape: Shape) -> Generated:
    root = base / name
    root.mkdir()
    shape.build(root)
    git_init(root)
    code, out, err = mlgate(
        "init", root, "--ci", "both", "--level", str(shape.level), *shape.init_args
    )
    assert code == 0, err
    files = {
        rel: root / rel
        for rel in (
            GITHUB,
            GITHUB_TRAIN,
            GITHUB_SCHEDULED,
            GITLAB,
            GITLAB_INCLUDED,
            ".mlgate.yml",
            ".mlgate/policy.yml",
        )
    }
    return Generated(root, out + err, {rel: p for rel, p in files.items() if p.is_file()})


def _generate_sharded(base: Path) -> Generated:
    root = base / SHARDED
    root.mkdir()
    _requirements(root)
    git_init(root)
    assert mlgate("init", root, "--ci", "both", "--level", "2")[0] == 0
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace("shards: 1", "shards: 3", 1))
    for ci in TARGETS:
        code, _, err = mlgate("generate", root, "--ci", ci)
        assert code == 0, err
    files = {rel: root / rel for rel in (GITHUB, GITHUB_TRAIN, GITHUB_SCHEDULED, GITLAB)}
    return Generated(root, "", files)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    base = tmp_path_factory.mktemp("shapes")
    shapes = {name: _generate_shape(base, name, shape) for name, shape in SHAPES.items()}
    shapes[SHARDED] = _generate_sharded(base)
    return shapes


def _tool(name: str) -> str:
    found = BIN / name
    if found.is_file():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return on_path


def _run(argv: list[str], ok: tuple[int, ...]) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, timeout=600)
    assert done.returncode in ok, f"{argv[0]} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def _schema_errors(schema: str, files: list[Path]) -> list[dict[str, Any]]:
    out = _run(
        [_tool("check-jsonschema"), "-o", "json", "--builtin-schema", schema, *map(str, files)],
        (0, 1),
    )
    report = json.loads(out)
    return [*report["errors"], *report.get("parse_errors", [])]


def _zizmor(persona: str, files: list[Path]) -> list[dict[str, Any]]:
    # exit 0: no findings; 10-14: findings (by highest severity)
    argv = [_tool("zizmor"), "--offline", "--no-config", "--no-ignores", "--persona", persona]
    out = _run([*argv, "--format", "json", *map(str, files)], (0, 10, 11, 12, 13, 14))
    return list(json.loads(out or "[]"))


@pytest.fixture(scope="session")
def validation(generated: dict[str, Generated]) -> Validation:
    github = [
        g.files[rel]
        for g in generated.values()
        for rel in (GITHUB, GITHUB_TRAIN, GITHUB_SCHEDULED)
        if rel in g.files
    ]
    gitlab = [
        g.files[rel]
        for g in generated.values()
        for rel in (GITLAB, GITLAB_INCLUDED)
        if rel in g.files
    ]
    _tool("shellcheck")  # actionlint checks run: scripts with it when it is on PATH
    lint = _run([_tool("actionlint"), "-format", "{{json .}}", *map(str, github)], (0, 1))
    return Validation(
        schema_github=_schema_errors("vendor.github-workflows", github),
        schema_gitlab=_schema_errors("vendor.gitlab-ci", gitlab),
        actionlint=json.loads(lint or "[]"),
        zizmor={persona: _zizmor(persona, github) for persona in ("regular", "pedantic")},
    )


ALL_SHAPES = [*SHAPES, SHARDED]


# --- the four validators, per shape ---------------------------------------------------------


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_github_workflows_pass_every_validator(
    shape: str, generated: dict[str, Generated], validation: Validation
) -> None:
    for rel in (GITHUB, GITHUB_TRAIN, GITHUB_SCHEDULED):
        if rel not in generated[shape].files:
            continue
        path = generated[shape].files[rel]
        assert validation.about(validation.schema_github, path) == []
        assert validation.about(validation.actionlint, path) == []
        for persona, findings in validation.zizmor.items():
            assert validation.about(findings, path) == [], persona


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_gitlab_pipeline_is_valid(
    shape: str, generated: dict[str, Generated], validation: Validation
) -> None:
    paths = [
        generated[shape].files[r] for r in (GITLAB, GITLAB_INCLUDED) if r in generated[shape].files
    ]
    assert paths
    for path in paths:
        assert validation.about(validation.schema_gitlab, path) == []


def test_validators_really_find_problems(tmp_path: Path) -> None:
    """The same invocations report a known-bad workflow (so zero findings means something)."""
    bad = write(
        tmp_path,
        "bad.yml",
        "on: pull_request_target\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }} $X\n",
    )
    assert json.loads(_run([_tool("actionlint"), "-format", "{{json .}}", str(bad)], (0, 1)))
    assert _zizmor("regular", [bad])
    assert _schema_errors("vendor.gitlab-ci", [bad])


# --- hardening invariants -------------------------------------------------------------------

USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_id, step


def _uses_lines(text: str) -> list[str]:
    return [line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line]


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_github_hardening(shape: str, generated: dict[str, Generated]) -> None:
    for rel in (GITHUB, GITHUB_TRAIN, GITHUB_SCHEDULED):
        if rel not in generated[shape].files:
            continue
        text, flow = generated[shape].text(rel), generated[shape].load(rel)
        assert flow["permissions"] == {}
        triggers = flow[True]  # YAML 1.1 reads the key `on` as True
        assert "pull_request_target" not in triggers
        assert set(flow["concurrency"]) == {"group", "cancel-in-progress"}
        assert all(USES.match(u) for u in _uses_lines(text)), _uses_lines(text)
        for job_id, job in flow["jobs"].items():
            assert isinstance(job["timeout-minutes"], int), job_id
            writes = {k for k, v in job["permissions"].items() if v == "write"}
            allowed = {
                "code-scanning": {"security-events"},
                "decide": {"id-token", "attestations"},  # level 2: attests the receipt
            }
            assert writes <= allowed.get(job_id, set()), (job_id, writes)
        for job_id, step in _steps(flow):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, job_id
            assert "${{" not in step.get("run", ""), (job_id, step["run"])
    main = generated[shape].load(GITHUB)
    assert main[True]["pull_request"] is None
    assert main["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    assert main["jobs"]["code-scanning"]["permissions"]["security-events"] == "write"


IMAGE = re.compile(
    r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$|^[\w./-]+@sha256:[0-9a-f]{64}$"
)


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_gitlab_hardening(shape: str, generated: dict[str, Generated]) -> None:
    rel = GITLAB_INCLUDED if GITLAB_INCLUDED in generated[shape].files else GITLAB
    pipeline = generated[shape].load(rel)
    text = generated[shape].text(rel)
    assert not re.search(r"^\s*(only|except):", text, re.MULTILINE)
    image = (pipeline.get("default") or pipeline[".mlgate-cache"])["image"]
    assert IMAGE.match(image)
    jobs = {k: v for k, v in pipeline.items() if k.startswith("mlgate-")}
    assert "mlgate-decide" in jobs
    for name, job in jobs.items():
        assert job["rules"] and isinstance(job["interruptible"], bool), name
        assert re.fullmatch(r"\d+m", job["timeout"]), name
        assert job["interruptible"] is (name != "mlgate-deploy")
        if "artifacts" in job:
            assert job["artifacts"]["expire_in"], name
    reports = jobs["mlgate-decide"]["artifacts"]["reports"]
    assert set(reports) == {"sast", "dependency_scanning", "junit"}


# --- what the pipeline does -----------------------------------------------------------------


def _gate_job_ids(flow: dict[str, Any]) -> list[str]:
    return [j for j in flow["jobs"] if j not in {"decide", "code-scanning", "deploy"}]


def test_gate_jobs_decide_and_upload(generated: dict[str, Generated]) -> None:
    flow = generated["requirements-level0"].load(GITHUB)
    gates = _gate_job_ids(flow)
    assert {"sast", "deps"} <= set(gates)
    assert flow["jobs"]["decide"]["needs"] == gates
    steps = flow["jobs"]["sast"]["steps"]
    sast_run = next(s["run"] for s in steps if s["name"] == "Run the sast gate")
    assert (
        '"$mlgate" run . sast --env production --no-receipt --format json'
        " --output mlgate-reports/sast || status=$?\n" in sast_run
    )
    assert steps[-1]["run"] == 'exit "$(cat "$RUNNER_TEMP/mlgate-exit-code")"\n'.rstrip("\n")
    merge = flow["jobs"]["decide"]["steps"][-2]["run"]
    assert "mlgate merge \\\n  mlgate-reports/sast/mlgate.json" in merge
    assert '--bound --commit "$SHA"' in merge
    for fmt in ("sarif", "gitlab", "junit", "markdown", "json"):
        assert f"--format {fmt}" in merge
    assert "--output mlgate-out" in merge and "--env production" in merge
    upload = flow["jobs"]["code-scanning"]["steps"][-1]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "mlgate-out/mlgate.sarif"
    assert "deploy" not in flow["jobs"]
    assert GITHUB_TRAIN not in generated["requirements-level0"].files


def test_level_1_adds_continuous_training(generated: dict[str, Generated]) -> None:
    train = generated["requirements-level1"].load(GITHUB_TRAIN)
    assert train[True]["schedule"] and "workflow_dispatch" in train[True]
    assert train[True]["push"]["paths"] == ["data/**", "**.dvc", "dvc.lock"]
    steps = train["jobs"]["train"]["steps"]
    runs = [s.get("run", "") for s in steps]
    # a root train.py is the default train_command; it runs in the project's environment
    assert '. "$RUNNER_TEMP/mlgate-project/bin/activate"\npython train.py\n' in runs
    # no data contract, metrics or marked tests: only the models gate checks what it trained
    checks = [r for r in runs if "mlgate run" in r or '"$mlgate" run' in r]
    assert len(checks) == 1 and '"$mlgate" run . models --env production' in checks[0]
    # what it trained must exist (default: models/), and is kept
    assert any("for out in models/; do" in r and "git add --force -- models/" in r for r in runs)
    keep = next(s for s in steps if s.get("with", {}).get("name") == "mlgate-train")
    assert keep["with"]["path"] == "models/\nmlgate-reports/train/\n"
    assert keep["with"]["if-no-files-found"] == "error"
    assert "deploy" not in generated["requirements-level1"].load(GITHUB)["jobs"]
    gitlab = generated["requirements-level1"].load(GITLAB)
    rules = gitlab["mlgate-train"]["rules"]
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule" && $MLGATE_SCHEDULE == "train"'} in rules
    assert rules[-1]["changes"] == ["data/**/*", "**/*.dvc", "dvc.lock"]
    assert "mlgate-deploy" not in gitlab


def test_level_2_deploys_after_a_verified_decision(generated: dict[str, Generated]) -> None:
    flow = generated["requirements-level2"].load(GITHUB)
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == ["decide"] and deploy["environment"] == "production"
    assert deploy["if"] == "${{ github.event_name == 'push' && github.ref == 'refs/heads/main' }}"
    verify = next(s for s in deploy["steps"] if "mlgate verify" in s.get("run", ""))
    assert verify["run"] == (
        'mlgate verify mlgate-out/receipt.json --commit "$SHA" --env production'
        " --bom mlgate-out/mlgate.cdx.json"
    )
    assert verify["env"] == {"SHA": "${{ github.sha }}"}
    assert "set deploy_command" in deploy["steps"][-1]["run"]
    assert deploy["steps"][-1]["run"].rstrip().endswith("exit 1")  # a placeholder fails
    gitlab = generated["requirements-level2"].load(GITLAB)
    job = gitlab["mlgate-deploy"]
    assert job["environment"] == {"name": "production"}
    assert job["needs"] == [{"job": "mlgate-decide", "artifacts": True}]
    assert 'mlgate verify mlgate-out/receipt.json --commit "$CI_COMMIT_SHA"' in " ".join(
        job["script"]
    )
    assert job["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE == "push"'}]


def test_level_2_attests_and_signs_the_receipt(generated: dict[str, Generated]) -> None:
    """GitHub: decide attests the receipt and ML-BOM (OIDC and attestation rights on that job
    alone), deploy verifies the attestations before `mlgate verify`. GitLab: decide signs
    the receipt with Sigstore through its id_token, deploy checks the bundle's identity."""
    flow = generated["requirements-level2"].load(GITHUB)
    decide = flow["jobs"]["decide"]
    assert decide["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "attestations": "write",
    }
    others = [j for name, j in flow["jobs"].items() if name != "decide"]
    assert all("id-token" not in (j.get("permissions") or {}) for j in others)
    assert "id-token" not in (flow.get("permissions") or {})
    attest = next(s for s in decide["steps"] if "attest-build-provenance" in s.get("uses", ""))
    assert re.fullmatch(r"actions/attest-build-provenance@[0-9a-f]{40}", attest["uses"])
    assert attest["with"]["subject-path"].split() == [
        "mlgate-out/receipt.json",
        "mlgate-out/mlgate.cdx.json",
    ]
    assert "refs/heads/main" in attest["if"]
    steps = flow["jobs"]["deploy"]["steps"]
    runs = [s.get("run", "") for s in steps]
    gh = next(i for i, r in enumerate(runs) if "gh attestation verify" in r)
    assert gh < next(i for i, r in enumerate(runs) if "mlgate verify" in r)
    assert '--repo "$REPO"' in runs[gh] and "--signer-workflow" in runs[gh]
    assert flow["jobs"]["deploy"]["permissions"]["attestations"] == "read"
    gitlab = generated["requirements-level2"].load(GITLAB)
    decide_gl = gitlab["mlgate-decide"]
    assert decide_gl["id_tokens"] == {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
    script = "\n".join(decide_gl["script"])
    assert (
        "python -m sigstore sign" in script
        and 'SIGSTORE_IDENTITY_TOKEN="$SIGSTORE_ID_TOKEN"' in script
    )
    assert "mlgate[provenance]" in script
    deploy_gl = " ".join(gitlab["mlgate-deploy"]["script"])
    assert "--bundle mlgate-out/receipt.json.sigstore.json" in deploy_gl
    assert '--identity "$CI_PROJECT_URL//.gitlab-ci.yml@refs/heads/$CI_COMMIT_BRANCH"' in deploy_gl
    assert '--issuer "$CI_SERVER_URL"' in deploy_gl
    level1 = generated["requirements-level1"].load(GITLAB)
    assert "id_tokens" not in level1["mlgate-decide"]


def test_sast_shards(generated: dict[str, Generated]) -> None:
    flow = generated[SHARDED].load(GITHUB)
    shards = [j for j in flow["jobs"] if j.startswith("sast-")]
    assert shards == ["sast-1-of-3", "sast-2-of-3", "sast-3-of-3"]
    run = next(
        s["run"] for s in flow["jobs"]["sast-2-of-3"]["steps"] if s["name"] == "Run the sast gate"
    )
    assert (
        '"$mlgate" run . sast --shard 2/3 --env production --no-receipt --format json'
        " --output mlgate-reports/sast-2-of-3 || status=$?" in run
    )
    assert "mlgate-sast-3-of-3" in generated[SHARDED].load(GITLAB)
    config = load_config(generated[SHARDED].root)
    assert config.pipeline.shards == {"sast": 3, "secrets": 1}
    assert "shards" not in config.options_for("sast")  # never passed to the gate itself


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("uv-lock", "uv export --frozen"),
        ("poetry", "poetry export --all-groups"),
        ("pdm", "pdm export --group :all"),
        ("requirements-level1", "python -m pip install -r requirements.txt"),
        ("conda", "set install.command in .mlgate.yml"),
    ],
)
def test_install_recipes(shape: str, expected: str, generated: dict[str, Generated]) -> None:
    assert expected in generated[shape].text(".mlgate.yml")
    if GITHUB_TRAIN in generated[shape].files:
        assert expected in generated[shape].text(GITHUB_TRAIN)


def test_dvc_trains_with_dvc_repro(generated: dict[str, Generated]) -> None:
    steps = generated["dvc-notebooks"].load(GITHUB_TRAIN)["jobs"]["train"]["steps"]
    runs = [s.get("run", "") for s in steps]
    # requirements.txt pins dvc: the project's install brings it, nothing else installs it
    assert not any("pip install dvc" in r for r in runs)
    assert any(r.endswith("dvc repro\n") for r in runs)
    assert "train_command: |\n  dvc repro\n" in generated["dvc-notebooks"].text(".mlgate.yml")


def test_python_version_reaches_both_targets(generated: dict[str, Generated]) -> None:
    poetry = generated["poetry"]
    assert '"3.11"' in poetry.text(GITHUB) and "python:3.11." in poetry.text(GITLAB)


def test_no_python_still_generates_the_code_gates(generated: dict[str, Generated]) -> None:
    shape = generated["no-python"]
    assert "no Python found" in shape.init_output
    assert {"sast", "secrets"} <= set(_gate_job_ids(shape.load(GITHUB)))


def test_headers_name_the_version_and_the_command(generated: dict[str, Generated]) -> None:
    for shape in generated.values():
        ours = (GITHUB, "github"), (GITHUB_TRAIN, "github"), (GITLAB, "gitlab")
        for rel, ci in (*ours, (GITLAB_INCLUDED, "gitlab")):
            if rel in shape.files and not shape.root.name.startswith("own-gitlab"):
                head = shape.text(rel).splitlines()[:4]
                assert head[0].startswith(f"# Generated by mlgate {__version__}")
                assert f"#   mlgate generate --ci {ci}" in head


# --- determinism, drift, overwrite ----------------------------------------------------------


def test_output_is_byte_identical(generated: dict[str, Generated], tmp_path: Path) -> None:
    root = generated["data-model-tests"].root
    for ci in TARGETS:
        first = mlgate("generate", root, "--ci", ci, "--stdout")
        assert first == mlgate("generate", root, "--ci", ci, "--stdout")
        assert first[0] == 0
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    for rel in (
        GITHUB,
        GITHUB_TRAIN,
        GITHUB_SCHEDULED,
        GITLAB,
        ".mlgate.yml",
        ".mlgate/policy.yml",
    ):
        (copy / rel).unlink()
    assert mlgate("init", copy, "--ci", "both", "--level", "2")[0] == 0
    for rel in (GITHUB, GITHUB_TRAIN, GITHUB_SCHEDULED, GITLAB, ".mlgate.yml"):
        assert (copy / rel).read_bytes() == (root / rel).read_bytes(), rel


def test_check_catches_an_edited_pipeline(generated: dict[str, Generated], tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(generated["requirements-level1"].root, root)
    assert mlgate("generate", root, "--ci", "github", "--check")[0] == 0
    workflow = root / GITHUB
    workflow.write_text(workflow.read_text().replace("timeout-minutes: 15", "timeout-minutes: 99"))
    code, out, err = mlgate("generate", root, "--ci", "github", "--check")
    assert code == 1
    assert out.startswith(f"--- {GITHUB} (committed)\n+++ {GITHUB} (generated)\n@@ ")
    assert "-    timeout-minutes: 99\n+    timeout-minutes: 15\n" in out
    assert "mlgate generate --ci github" in err
    assert mlgate("generate", root, "--ci", "github")[0] == 0
    assert mlgate("generate", root, "--ci", "github", "--check")[0] == 0


def test_lowering_the_level_removes_the_training_workflow(
    generated: dict[str, Generated], tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(generated["requirements-level1"].root, root)
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace("level: 1", "level: 0"))
    code, out, _ = mlgate("generate", root, "--ci", "github", "--check")
    assert code == 1 and f"--- {GITHUB_TRAIN} (committed)\n+++ /dev/null" in out
    code, out, _ = mlgate("generate", root, "--ci", "github")
    assert code == 0 and f"removed {GITHUB_TRAIN}" in out
    assert not (root / GITHUB_TRAIN).exists()


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    _requirements(tmp_path)
    write(tmp_path, GITHUB, "name: mine\n")
    code, out, err = mlgate("init", tmp_path, "--ci", "both")
    assert code == 2 and f"{GITHUB}: already exists; nothing was written" in err
    assert (tmp_path / GITHUB).read_text() == "name: mine\n"
    assert not (tmp_path / ".mlgate.yml").exists() and not (tmp_path / GITLAB).exists()
    code, out, _ = mlgate("init", tmp_path, "--ci", "both", "--force")
    assert code == 0 and f"wrote .mlgate.yml, .mlgate/policy.yml, {GITHUB}, {GITLAB}" in out
    assert (tmp_path / GITHUB).read_text().startswith("# Generated by mlgate")


# --- a repository with its own CI: init adds, never replaces -------------------------------


def test_init_beside_an_existing_gitlab_pipeline(generated: dict[str, Generated]) -> None:
    """A hand-written .gitlab-ci.yml stays byte for byte; mlgate's jobs go into
    .gitlab/mlgate.yml, in the host's stages, and init prints the include: line."""
    shape = generated["own-gitlab-include"]
    assert shape.text(GITLAB) == OWN_GITLAB
    assert (shape.root / ".github/workflows/ci.yml").read_text() == OWN_WORKFLOW
    assert f"include:\n  - local: {GITLAB_INCLUDED}" in shape.init_output
    assert load_config(shape.root).pipeline.gitlab == "include"
    jobs = shape.load(GITLAB_INCLUDED)
    assert not {"workflow", "stages", "default", "variables"} & set(jobs)
    assert {j["stage"] for n, j in jobs.items() if not n.startswith(".")} == {"test", "deploy"}
    assert jobs["mlgate-deploy"]["stage"] == "deploy" and jobs["mlgate-sast"]["needs"] == []
    assert jobs[".mlgate-cache"]["cache"]["key"]["files"] == [GITLAB_INCLUDED]
    assert mlgate("generate", shape.root, "--ci", "gitlab", "--check")[0] == 0
    # once the host includes it, init says so instead of asking again
    root = shape.root
    write(root, GITLAB, OWN_GITLAB + f"include:\n  - local: {GITLAB_INCLUDED}\n")
    code, out, _ = mlgate("init", root, "--ci", "gitlab", "--force", "--level", "2")
    assert code == 0 and f"(already included by {GITLAB})" in out
    assert (root / GITLAB).read_text().endswith(f"- local: {GITLAB_INCLUDED}\n")


def test_init_merge_appends_without_changing_anything(
    generated: dict[str, Generated], tmp_path: Path
) -> None:
    shape = generated["own-gitlab-merge"]
    merged = shape.text(GITLAB)
    assert merged.startswith(OWN_GITLAB_NO_STAGES + "\n# >>> mlgate: generated jobs")
    assert merged.endswith("# <<< mlgate: end of the generated jobs\n")
    assert not (shape.root / GITLAB_INCLUDED).exists()
    data = shape.load(GITLAB)
    assert data["cml-report"] == yaml.safe_load(OWN_GITLAB_NO_STAGES)["cml-report"]
    # no stages in the host: GitLab's defaults, mlgate's jobs in `test`
    assert data["mlgate-decide"]["stage"] == "test" and "stages" not in data
    assert load_config(shape.root).pipeline.gitlab == "merge"
    # regenerating rewrites the block in place and keeps the user's later edits
    root = tmp_path / "repo"
    shutil.copytree(shape.root, root)
    edited = merged.replace('echo "own job"', 'echo "own job, edited"')
    (root / GITLAB).write_text(edited + "after:\n  script: [echo after]\n")
    config = root / ".mlgate.yml"
    config.write_text(config.read_text().replace("level: 1", "level: 0"))
    code, _, err = mlgate("generate", root, "--ci", "gitlab")
    assert code == 0, err
    text = (root / GITLAB).read_text()
    assert text.startswith(OWN_GITLAB_NO_STAGES.replace("own job", "own job, edited"))
    assert text.endswith(
        "# <<< mlgate: end of the generated jobs\nafter:\n  script: [echo after]\n"
    )
    assert "mlgate-train" not in yaml.safe_load(text) and "after" in yaml.safe_load(text)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("mlgate-sast:\n  script: [echo mine]\n", "defines mlgate-sast, which .gitlab-ci.yml"),
        # a kept block scalar would swallow the blank line mlgate appends
        ("job:\n  script: |+\n    echo hi\n", "would change how GitLab reads"),
        ("job:\n  script: [a]\n---\nother: 1\n", "2 YAML documents"),
        ("stages: build\njob:\n  script: [a]\n", "stages: not a list"),
    ],
)
def test_merge_refuses_what_would_change_the_host(tmp_path: Path, host: str, message: str) -> None:
    _requirements(tmp_path)
    write(tmp_path, GITLAB, host)
    code, _, err = mlgate("init", tmp_path, "--ci", "gitlab", "--merge")
    assert code == 2 and message in err, err
    assert (tmp_path / GITLAB).read_text() == host
    assert sorted(p.name for p in tmp_path.iterdir()) == [GITLAB, "requirements.txt", "train.py"]


def test_merge_needs_a_pipeline_of_your_own(tmp_path: Path) -> None:
    _requirements(tmp_path)
    code, _, err = mlgate("init", tmp_path, "--ci", "gitlab", "--merge")
    assert code == 2 and "--merge adds mlgate's jobs to a .gitlab-ci.yml you wrote" in err
    assert not (tmp_path / ".mlgate.yml").exists()


def test_init_force_never_replaces_your_gitlab_pipeline(tmp_path: Path) -> None:
    _requirements(tmp_path)
    write(tmp_path, GITLAB, OWN_GITLAB)
    for _ in range(2):  # the second time .mlgate.yml exists: --force
        code, out, err = mlgate("init", tmp_path, "--ci", "gitlab", "--force")
        assert code == 0, err
        assert (tmp_path / GITLAB).read_text() == OWN_GITLAB
    assert f"wrote .mlgate.yml, {GITLAB_INCLUDED}" in out
    # standalone generation over it is refused, naming the layouts that keep it
    config = tmp_path / ".mlgate.yml"
    config.write_text(config.read_text().replace('gitlab: "include"', 'gitlab: "standalone"'))
    code, _, err = mlgate("generate", tmp_path, "--ci", "gitlab")
    assert code == 2 and "pipeline.gitlab: include" in err
    assert (tmp_path / GITLAB).read_text() == OWN_GITLAB


def test_init_force_keeps_what_the_user_wrote(generated: dict[str, Generated]) -> None:
    churn = generated["example-churn-model"]
    assert "kept .mlgate/policy.yml" in churn.init_output
    assert (
        churn.text(".mlgate/policy.yml")
        == (EXAMPLES / "churn-model/.mlgate/policy.yml").read_text()
    )
    config = load_config(churn.root)
    assert config.options_for("data") == load_config(EXAMPLES / "churn-model").options_for("data")
    assert config.pipeline.shards == {"sast": 1, "secrets": 1} and config.pipeline.level == 2


def test_init_force_keeps_commands_and_settings(tmp_path: Path) -> None:
    _requirements(tmp_path)
    write(
        tmp_path,
        ".mlgate.yml",
        "train_command: make train\nenvironment: staging\nexclude: [vendor/*]\n"
        "sast:\n  shards: 2\n  bandit_skip: [B101]\n",
    )
    code, out, _ = mlgate("init", tmp_path, "--level", "1", "--force")
    assert code == 0 and "wrote .mlgate.yml, .mlgate/policy.yml" in out
    config = load_config(tmp_path)
    assert config.pipeline.train_command == "make train\n"
    assert config.pipeline.environment == "staging"
    assert config.exclude == (".cache/*", "vendor/*")
    assert config.pipeline.shards == {"sast": 2, "secrets": 1}
    assert config.options_for("sast") == {"bandit_skip": ["B101"]}
    assert "make train" in (tmp_path / GITHUB_TRAIN).read_text()


def test_generate_never_overwrites_a_hand_written_pipeline(tmp_path: Path) -> None:
    _requirements(tmp_path)
    write(tmp_path, GITLAB, "test:\n  script: [make test]\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "gitlab")
    assert code == 2 and "was not generated by mlgate" in err
    assert (tmp_path / GITLAB).read_text() == "test:\n  script: [make test]\n"


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    _requirements(tmp_path)
    code, out, _ = mlgate("init", tmp_path, "--ci", "gitlab", "--level", "1", "--dry-run")
    assert code == 0
    assert "installer       pip from requirements.txt" in out
    assert f"would write:\n  .mlgate.yml\n  .mlgate/policy.yml\n  {GITLAB}\n" in out
    assert "level: 1" in out and out.rstrip().endswith("nothing written (--dry-run)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt", "train.py"]


def test_generate_without_mlgate_yml_uses_detection(tmp_path: Path) -> None:
    _requirements(tmp_path)
    code, out, _ = mlgate("generate", tmp_path, "--ci", "github", "--stdout")
    assert code == 0 and out.startswith("# Generated by mlgate") and "deploy:" not in out
    assert not (tmp_path / GITHUB).exists()


# --- bad input ------------------------------------------------------------------------------


def test_bad_paths_and_options(tmp_path: Path) -> None:
    afile = write(tmp_path, "file.txt", "")
    for args in (
        ("init", tmp_path / "missing"),
        ("init", afile),
        ("generate", afile, "--ci", "github"),
        ("init", tmp_path, "--ci", "jenkins"),
        ("generate", tmp_path, "--ci", "both"),
        ("init", tmp_path, "--level", "3"),
        ("generate", tmp_path, "--ci", "github", "--stdout", "--check"),
    ):
        code, _, err = mlgate(*args)
        assert code == 2, (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_invalid_mlgate_yml_names_file_line_and_key(tmp_path: Path) -> None:
    _requirements(tmp_path)
    write(tmp_path, ".mlgate.yml", "python: '3.12'\nlevel: 2\nsast:\n  shards: 0\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "github")
    assert code == 2 and ".mlgate.yml:4: config: sast.shards:" in err
    write(tmp_path, ".mlgate.yml", "pythn: '3.12'\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "gitlab")
    assert code == 2 and ".mlgate.yml:1: config: (top level): unknown key 'pythn'" in err
    assert "did you mean 'python'?" in err
    write(tmp_path, ".mlgate.yml", "python: '3.8'\n")
    assert mlgate("generate", tmp_path, "--ci", "github")[0] == 2
    write(tmp_path, ".mlgate.yml", "deploy_command: echo ${{ github.event.issue.title }}\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "github")
    assert (
        code == 2 and ".mlgate.yml:1: config: deploy_command: contains a GitHub expression" in err
    )
    assert not (tmp_path / GITHUB).exists() and not (tmp_path / GITLAB).exists()


def test_a_policy_without_gates_or_the_environment_is_refused(tmp_path: Path) -> None:
    _requirements(tmp_path)
    gates = ", ".join(
        f"{g}: {{enabled: false}}" for g in ("sast", "secrets", "deps", "models", "data", "model")
    )
    write(tmp_path, ".mlgate/policy.yml", f"extends: default\ngates: {{{gates}}}\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "github")
    assert code == 2 and "enables no gate" in err
    write(tmp_path, ".mlgate/policy.yml", "extends: default\n")
    write(tmp_path, ".mlgate.yml", "environment: prod\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "github")
    assert code == 2 and "unknown environment 'prod'" in err


def test_console_script_on_an_example(tmp_path: Path) -> None:
    """One real run of the installed entry point, as a user types it."""
    root = tmp_path / "insecure-ml"
    shutil.copytree(EXAMPLES / "insecure-ml", root)
    done = run_cli(["init", str(root), "--ci", "github"])
    assert done.returncode == 0, done.stderr
    assert f"wrote .mlgate.yml, .mlgate/policy.yml, {GITHUB}" in done.stdout
    again = run_cli(["init", str(root)])
    assert again.returncode == 2 and "already exist" in again.stderr


# --- data files -----------------------------------------------------------------------------


def test_every_action_pin_is_a_full_sha() -> None:
    raw = yaml.safe_load((templates_dir("github") / "pins.yml").read_text())
    assert set(raw) >= {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "actions/download-artifact",
        "github/codeql-action/upload-sarif",
    }
    for action, pin in raw.items():
        assert re.fullmatch(r"[0-9a-f]{40}", pin["sha"]), action
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pin["version"]), action
    assert load_pins(templates_dir("github") / "pins.yml")["actions/checkout"].uses.startswith(
        "actions/checkout@"
    )


def test_every_python_version_has_a_pinned_gitlab_image() -> None:
    images = load_images(templates_dir("gitlab") / "pins.yml")
    assert set(images) == set(PYTHON_VERSIONS)
    for version, image in images.items():
        assert IMAGE.match(image) and f":{version}." in image, image


def test_registries_cover_their_names() -> None:
    assert set(RECIPES) == set(INSTALL_TOOLS)
    assert set(TARGETS) == {"github", "gitlab"}
    for target in TARGETS.values():
        assert (templates_dir(target.name)).is_dir()


def test_data_and_model_jobs_only_when_they_would_check_something(
    generated: dict[str, Generated],
) -> None:
    plain = _gate_job_ids(generated["requirements-level2"].load(GITHUB))
    assert "data" not in plain and "model" not in plain
    assert "mlgate-data" not in generated["requirements-level2"].load(GITLAB)
    # decide runs them itself (they say "skipped" without the project), so merge has them
    decide = generated["requirements-level2"].load(GITHUB)["jobs"]["decide"]["steps"]
    runs = "".join(s.get("run", "") for s in decide)
    assert (
        'mlgate run . data --env production --no-receipt --format json --output "$RUNNER_TEMP'
        in runs
    )
    assert '"$RUNNER_TEMP/mlgate-reports/model/mlgate.json" \\\n' in runs
    marked = generated["data-model-tests"].load(GITHUB)
    assert {"data", "model"} <= set(_gate_job_ids(marked))
    churn = generated["example-churn-model"].load(GITHUB)
    assert {"data", "model"} <= set(_gate_job_ids(churn))
    train = generated["data-model-tests"].load(GITHUB_TRAIN)["jobs"]["train"]["steps"]
    assert any('"$mlgate" run . models data model' in s.get("run", "") for s in train)


def test_jobs_install_mlgate_alone_and_the_project_apart(generated: dict[str, Generated]) -> None:
    flow = generated["example-churn-model"].load(GITHUB)
    installs = {
        job: [s["run"] for s in flow["jobs"][job]["steps"] if "Install mlgate" in s.get("name", "")]
        for job in ("sast", "secrets", "models", "data", "model", "decide", "deploy")
    }
    assert installs["sast"] == ["python -m pip install mlgate==0.1.0"]
    assert installs["models"] == ["python -m pip install mlgate==0.1.0"]
    assert installs["data"] == ["python -m pip install 'mlgate[data]==0.1.0'"]
    assert installs["decide"] == installs["deploy"] == ["python -m pip install mlgate==0.1.0"]
    project = next(s["run"] for s in flow["jobs"]["data"]["steps"] if "project" in s["name"])
    assert project.startswith('python -m venv "$RUNNER_TEMP/mlgate-project"\n')
    assert "python -m pip install -r requirements.txt" in project
    gate = next(s["run"] for s in flow["jobs"]["data"]["steps"] if "Run the data" in s["name"])
    assert gate.splitlines()[0] == 'mlgate="$(command -v mlgate)"'
    for job in ("sast", "secrets", "models"):
        assert not any("project" in s.get("name", "") for s in flow["jobs"][job]["steps"])


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("mlgate==0.1.0", "python -m pip install mlgate==0.1.0"),
        (
            "git+https://example.org/mlgate.git@" + "a" * 40,
            "python -m pip install 'mlgate @ git+https://example.org/mlgate.git@" + "a" * 40 + "'",
        ),
        (
            "dist/mlgate-0.1.0-py3-none-any.whl",
            "python -m pip install dist/mlgate-0.1.0-py3-none-any.whl",
        ),
    ],
)
def test_pipeline_mlgate_install(tmp_path: Path, source: str, line: str) -> None:
    _requirements(tmp_path)
    (tmp_path / ".mlgate.yml").write_text(f"pipeline:\n  mlgate_install: {source}\n")
    code, out, err = mlgate("generate", tmp_path, "--ci", "github", "--stdout")
    assert code == 0, err
    flow = yaml.safe_load(out)
    runs = [s.get("run") for s in flow["jobs"]["sast"]["steps"]]
    assert line in runs


@pytest.mark.parametrize(
    "source", ["mlgate", "git+https://example.org/mlgate.git@main", "x.whl; rm -rf /", "pip"]
)
def test_pipeline_mlgate_install_refuses_unpinned_or_unsafe(tmp_path: Path, source: str) -> None:
    (tmp_path / ".mlgate.yml").write_text(f"pipeline:\n  mlgate_install: {json.dumps(source)}\n")
    code, _, err = mlgate("generate", tmp_path, "--ci", "github", "--stdout")
    assert code == 2 and "mlgate_install" in err


def test_report_binding_in_both_pipelines(generated: dict[str, Generated]) -> None:
    flow = generated[SHARDED].load(GITHUB)
    assert "merge_group" in flow[True]
    job = flow["jobs"]["sast-2-of-3"]
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "mlgate-report-sast-2-of-3"
    assert upload["with"]["path"] == "mlgate-reports/sast-2-of-3/mlgate.json"
    assert job["outputs"] == {"digest": "${{ steps.digest.outputs.digest }}"}
    decide = flow["jobs"]["decide"]
    downloads = [s["with"] for s in decide["steps"] if "download-artifact" in s.get("uses", "")]
    assert {"name": "mlgate-report-sast-2-of-3", "path": "mlgate-reports/sast-2-of-3"} in downloads
    assert not any("merge-multiple" in d or "pattern" in d for d in downloads)
    merge = next(s for s in decide["steps"] if "mlgate merge" in s.get("run", ""))
    assert merge["env"]["MLGATE_DIGEST_SAST_2_OF_3"] == "${{ needs.sast-2-of-3.outputs.digest }}"
    assert (
        '--digest "mlgate-reports/sast-2-of-3/mlgate.json=$MLGATE_DIGEST_SAST_2_OF_3"'
        in merge["run"]
    )
    gitlab = generated[SHARDED].load(GITLAB)
    shard = gitlab["mlgate-sast-2-of-3"]
    assert shard["artifacts"]["paths"] == ["mlgate-reports/sast-2-of-3/mlgate.json"]
    assert shard["artifacts"]["reports"] == {"dotenv": "mlgate-reports/sast-2-of-3.env"}
    assert "MLGATE_DIGEST_SAST_2_OF_3=$digest" in shard["script"][-1]
    assert '--bound --commit "$CI_COMMIT_SHA"' in "\n".join(gitlab["mlgate-decide"]["script"])


def test_scheduled_code_gates_at_levels_1_and_2(generated: dict[str, Generated]) -> None:
    assert GITHUB_SCHEDULED not in generated["requirements-level0"].files
    flow = generated["requirements-level2"].load(GITHUB_SCHEDULED)
    assert flow[True]["schedule"] == [{"cron": "17 3 * * *"}]
    run = next(s["run"] for s in flow["jobs"]["scan"]["steps"] if "mlgate run" in s.get("run", ""))
    # the registry's order (sast, secrets, deps, models): the gates declare `scheduled`
    assert run.startswith("mlgate run . sast secrets deps models --env production")
    gitlab = generated["requirements-level2"].load(GITLAB)
    assert gitlab["mlgate-scheduled"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule" && $MLGATE_SCHEDULE != "train"'}
    ]
    assert "mlgate-scheduled" not in generated["requirements-level0"].load(GITLAB)


def test_init_sizes_sast_and_secrets_shards_and_says_so(tmp_path: Path) -> None:
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
    for i in range(160):  # 160 notebooks weigh 1,600 units: two shards
        (tmp_path / f"n{i}.ipynb").write_text(notebook)
    code, out, err = mlgate("init", tmp_path, "--ci", "github")
    assert code == 0, err
    assert "pipeline: sast in 2 job(s), secrets in 2 job(s) for 0 Python file(s) and 160" in out
    config = load_config(tmp_path)
    assert config.pipeline.shards == {"sast": 2, "secrets": 2}
    flow = yaml.safe_load((tmp_path / GITHUB).read_text())
    assert {"sast-1-of-2", "sast-2-of-2", "secrets-1-of-2", "secrets-2-of-2"} <= set(flow["jobs"])


def test_init_raises_gate_timeouts_when_shards_are_capped_and_says_so(tmp_path: Path) -> None:
    """1,500 notebooks weigh 15,000 units: 8 shards (the cap) of 1,875, more than the default
    600 s covers (1,500): init writes 780 s (750, in whole minutes) into the policy it
    creates, and the jobs follow."""
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
    for i in range(1500):
        (tmp_path / f"n{i}.ipynb").write_text(notebook)
    code, out, err = mlgate("init", tmp_path, "--ci", "both")
    assert code == 0, err
    assert "sast in 8 job(s), secrets in 8 job(s)" in out
    assert "gate timeouts sast 780 s (job 23 min), secrets 780 s (job 23 min)" in out
    policy = yaml.safe_load((tmp_path / ".mlgate/policy.yml").read_text())
    assert policy["gates"] == {"sast": {"timeout": 780}, "secrets": {"timeout": 780}}
    flow = yaml.safe_load((tmp_path / GITHUB).read_text())
    assert flow["jobs"]["sast-8-of-8"]["timeout-minutes"] == 23
    assert (
        yaml.safe_load((tmp_path / GITLAB).read_text())["mlgate-secrets-1-of-8"]["timeout"] == "23m"
    )
    # a policy of the repository's own is kept; init says its timeouts look short
    (tmp_path / ".mlgate/policy.yml").write_text("extends: default\n")
    code, out, err = mlgate("init", tmp_path, "--ci", "github", "--force")
    assert code == 0, err
    assert "gate timeouts sast 600 s (job 20 min)" in out
    assert "your policy's timeouts look short for this size: sast needs about 780 s" in out


def test_training_keeps_the_folders_of_the_named_model_files(tmp_path: Path) -> None:
    """JSON weights no model suffix finds, named in .mlgate.yml (models.model_files, as in
    examples/churn-model): training keeps their folder, not the `models/` default a training
    run would fail on (found by running the churn example's training pipeline)."""
    write(tmp_path, "src/train.py", "print(1)\n")
    write(tmp_path, "weights/model.json", "{}\n")
    write(tmp_path, ".mlgate.yml", "models:\n  model_files: [weights/model.json]\n")
    git_init(tmp_path)
    code, out, err = mlgate("init", tmp_path, "--level", "1", "--force")
    assert code == 0, err
    assert load_config(tmp_path).pipeline.train_outputs == ("weights",)
    assert "(committed, or models.model_files)" in (tmp_path / ".mlgate.yml").read_text()
    assert "wrote .mlgate.yml" in out
    (tmp_path / ".mlgate.yml").unlink()  # not named: the default folder
    assert mlgate("init", tmp_path, "--level", "1", "--force")[0] == 0
    assert load_config(tmp_path).pipeline.train_outputs == ("models/",)


def test_training_from_dvc_remote_and_mlflow_env(tmp_path: Path) -> None:
    """DVC with an s3 remote: pull before repro, push after, `dvc[s3]` installed; an MLflow
    project: its conda.yaml's requirements installed (conda entries as pins), its main
    entry point with parameter defaults as the train command."""
    dvc = tmp_path / "dvc"
    write(dvc, "dvc.yaml", "stages:\n  t:\n    cmd: python t.py\n    outs: [model.pkl]\n")
    write(dvc, ".dvc/config", "['remote \"s\"']\n    url = s3://bucket/x\n")
    write(dvc, "t.py", "print(1)\n")
    git_init(dvc)
    assert mlgate("init", dvc, "--level", "1")[0] == 0
    config = load_config(dvc)
    assert config.pipeline.train_command == "dvc pull --allow-missing\ndvc repro\ndvc push\n"
    assert config.pipeline.train_outputs == ("model.pkl",)
    steps = yaml.safe_load((dvc / GITHUB_TRAIN).read_text())["jobs"]["train"]["steps"]
    assert any("python -m pip install 'dvc[s3]==3.67.1'" in s.get("run", "") for s in steps)
    mlflow = tmp_path / "mlflow"
    write(
        mlflow,
        "MLproject",
        "name: m\nconda_env: env/conda.yaml\nentry_points:\n  main:\n"
        "    parameters: {alpha: {type: float, default: 0.5}}\n"
        "    command: python train.py --alpha {alpha}\n",
    )
    write(
        mlflow,
        "env/conda.yaml",
        "dependencies:\n  - python=3.11\n  - numpy=1.26.4=h1\n  - pip:\n    - six==1.17.0\n",
    )
    write(mlflow, "train.py", "print(1)\n")
    git_init(mlflow)
    code, out, _ = mlgate("init", mlflow, "--level", "1")
    assert code == 0 and "MLflow          MLproject (environment env/conda.yaml)" in out
    assert load_config(mlflow).pipeline.train_command == "python train.py --alpha 0.5\n"
    text = (mlflow / GITHUB_TRAIN).read_text()
    assert "python -m pip install numpy==1.26.4 six==1.17.0" in text


SCANNER_JOBS = {"sast": ["bandit", "semgrep"], "secrets": ["detect-secrets"], "deps": ["pip-audit"]}


def _lock_digest() -> str:
    return hashlib.sha256(PACKAGE_LOCK.read_bytes()).hexdigest()[:16]


def test_github_scanner_jobs_cache_and_install_the_pinned_tools(
    generated: dict[str, Generated],
) -> None:
    gen = generated["example-churn-model"]
    flow = gen.load(GITHUB)
    for job_id, job in flow["jobs"].items():
        steps = job.get("steps", [])
        names = [s.get("uses", s.get("run", "")).split("@")[0] for s in steps]
        installs = [s["run"] for s in steps if "tools install" in s.get("run", "")]
        if job_id not in SCANNER_JOBS:  # data, model, models, decide, code-scanning, deploy
            assert not installs and "actions/cache/restore" not in names, job_id
            continue
        tools = SCANNER_JOBS[job_id]
        restore = names.index("actions/cache/restore")
        install = names.index(f"mlgate tools install {' '.join(tools)}")
        save = names.index("actions/cache/save")
        gate = next(i for i, s in enumerate(steps) if s.get("name", "").startswith("Run the"))
        assert names.index("python -m pip install mlgate==0.1.0") < restore < install < save < gate
        key = steps[restore]["with"]["key"]
        assert key == (
            f"mlgate-tools-{_lock_digest()}-{'-'.join(tools)}"
            "-py${{ steps.python.outputs.python-version }}-${{ runner.os }}-${{ runner.arch }}"
        )
        tools_dir = "${{ runner.temp }}/mlgate-tools"
        assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == tools_dir
        assert steps[install]["env"] == steps[gate]["env"] == {"MLGATE_TOOLS_DIR": tools_dir}
        assert steps[save]["if"] == "${{ steps.tools-cache.outputs.cache-hit != 'true' }}"
        assert steps[restore]["id"] == "tools-cache"
    scheduled = generated["requirements-level2"].load(GITHUB_SCHEDULED)["jobs"]["scan"]["steps"]
    assert any(
        s.get("run") == "mlgate tools install bandit semgrep detect-secrets pip-audit"
        for s in scheduled
    )
    for name in (GITHUB_TRAIN,):
        assert "tools install" not in generated["requirements-level2"].text(name)


def test_gitlab_scanner_jobs_cache_and_install_the_pinned_tools(
    generated: dict[str, Generated],
) -> None:
    flow = generated["example-churn-model"].load(GITLAB)
    for job_id, job in flow.items():
        if not job_id.startswith("mlgate-"):
            continue
        script = "\n".join(job.get("script", []))
        gate = job_id.removeprefix("mlgate-")
        if gate == "scheduled":
            assert job["cache"][1]["key"].startswith(f"mlgate-tools-{_lock_digest()}-bandit-")
            continue
        if gate not in SCANNER_JOBS:
            assert "tools install" not in script and "MLGATE_TOOLS_DIR" not in json.dumps(job)
            continue
        tools = SCANNER_JOBS[gate]
        assert job["variables"] == {"MLGATE_TOOLS_DIR": "$CI_PROJECT_DIR/.cache/mlgate-tools"}
        pip, scanners = job["cache"]
        assert pip["paths"] == [".cache/pip/"]
        assert scanners == {
            "key": f"mlgate-tools-{_lock_digest()}-{'-'.join(tools)}-python-3.12.12-bookworm",
            "paths": [".cache/mlgate-tools/"],
            "when": "always",
        }
        lines = job["script"]
        install = lines.index(f"mlgate tools install {' '.join(tools)}")
        assert lines.index("python -m pip install mlgate==0.1.0") < install
        assert install < next(i for i, line in enumerate(lines) if "mlgate run" in line)
        assert 'echo ".cache/" >> .git/info/exclude' in script  # the tools dir is not scanned


def test_check_flags_a_new_tool_lock(
    generated: dict[str, Generated], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading mlgate (a new tools.lock) changes the cache keys: `--check` says so."""
    root = tmp_path / "repo"
    shutil.copytree(generated["requirements-level1"].root, root)
    for ci in TARGETS:
        assert mlgate("generate", root, "--ci", ci, "--check")[0] == 0
    newer = tmp_path / "tools.lock"
    newer.write_bytes(PACKAGE_LOCK.read_bytes().replace(b'"1.9.4"', b'"1.9.5"', 1))
    monkeypatch.setattr("mlgate.generate.spec.PACKAGE_LOCK", newer)
    digest = hashlib.sha256(newer.read_bytes()).hexdigest()[:16]
    for ci in TARGETS:
        code, out, _ = mlgate("generate", root, "--ci", ci, "--check")
        assert code == 1 and f"mlgate-tools-{digest}-bandit-semgrep" in out, out
