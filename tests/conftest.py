"""Shared fixtures: real tool runs happen once per fixture repo (session scope)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from mlgate import toolenv

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
TEST_DATA = Path(__file__).resolve().parent / "data"
# A small attributed subset of the PyPA advisory database (scripts/vendor_advisories.py).
ADVISORY_DB = TEST_DATA / "advisory-db"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def fixture_path(path: Path) -> Path:
    """A fixture file of the repository; its absence fails the test, it never skips it."""
    if not path.exists():
        pytest.fail(f"required test fixture is missing: {path}", pytrace=False)
    return path


def run_cli(
    args: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m mlgate ARGS` as a user would, capturing everything."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    full_env.pop("MLGATE_ADVISORY_DB", None)
    if env and "MLGATE_ADVISORY_DB" in env:
        full_env["MLGATE_ADVISORY_DB"] = env["MLGATE_ADVISORY_DB"]
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


@pytest.fixture(scope="session", autouse=True)
def isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's result cache or cached advisory database, and every
    session starts cold (tests that need a cache set MLGATE_CACHE_DIR themselves)."""
    root = tmp_path_factory.mktemp("user-cache")
    # The pinned scanner environments are shared by the whole session (and across sessions):
    # scripts/test.sh points MLGATE_TOOLS_DIR at .venv/mlgate-tools; otherwise the real user
    # cache, fixed here before XDG_CACHE_HOME moves.
    os.environ.setdefault("MLGATE_TOOLS_DIR", str(platformdirs.user_cache_path("mlgate") / "tools"))
    os.environ["XDG_CACHE_HOME"] = str(root)
    os.environ["MLGATE_CACHE_DIR"] = str(root / "mlgate-results")


@pytest.fixture(autouse=True)
def fresh_tool_plans() -> Iterator[None]:
    """Where each scanner comes from is decided once per process and remembered
    (`toolenv.plan`); a test that runs gates in-process under `MLGATE_TOOLS=system` (the
    hostile cases' fake tools) must not leave its plans to the next test, whatever order
    the tests run in (pytest-xdist gives each worker its own order)."""
    yield
    toolenv.configure(toolenv.Settings())


@pytest.fixture(scope="session")
def advisory_db() -> Path:
    return fixture_path(ADVISORY_DB / "vulns").parent


def _json_run(path: Path, db: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(["run", str(path), "--advisory-db", str(db), "--format", "json", *extra])
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="session")
def insecure_run(advisory_db: Path) -> tuple[int, dict[str, Any], str]:
    """The whole default run (real bandit, semgrep, offline deps) over examples/insecure-ml."""
    # --no-cache: a cold run whatever ran before in the session (a per-file cache hit keeps
    # findings but not per-run properties such as bandit_tests_left_to_rule_pack).
    return _json_run(EXAMPLES / "insecure-ml", advisory_db, "--no-cache")


@pytest.fixture(scope="session")
def churn_run(advisory_db: Path) -> tuple[int, dict[str, Any], str]:
    return _json_run(EXAMPLES / "churn-model", advisory_db)


def keygen(folder: Path) -> tuple[Path, Path]:
    """An Ed25519 key pair written by `mlgate keygen`: (private PEM, public PEM)."""
    private, public = folder / "signing.pem", folder / "signing.pub"
    done = run_cli(["keygen", str(private), str(public)])
    assert done.returncode == 0, done.stderr
    return private, public


@pytest.fixture(scope="session")
def receipt_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keygen(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def churn_production(
    tmp_path_factory: pytest.TempPathFactory, advisory_db: Path, receipt_keys: tuple[Path, Path]
) -> Path:
    """examples/churn-model run for production with --output and --sign-key env:VAR:
    reports, ML-BOM, signed receipt."""
    out = tmp_path_factory.mktemp("churn-production")
    done = run_cli(
        [
            *("run", str(EXAMPLES / "churn-model"), "--env", "production"),
            *("--advisory-db", str(advisory_db), "--format", "json", "--output", str(out)),
            *("--sign-key", "env:MLGATE_TEST_SIGN_KEY"),
        ],
        env={"MLGATE_TEST_SIGN_KEY": receipt_keys[0].read_text()},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def git_init(root: Path) -> None:
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "t@example.com"],
        ["git", "config", "user.name", "t"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "init", "--allow-empty"],
    ):
        subprocess.run(argv, cwd=root, check=True, capture_output=True)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this checkout (once per session): what users and pipelines install."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (found,) = out.glob("mlgate-*.whl")
    return found
