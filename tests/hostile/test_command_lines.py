"""The exact command line of every tool mlgate starts, recorded as it starts them.

The fakes of this suite (`faketools.py`) stand in for the tools, so each gate runs in a
second; `tools.watching_commands` records every argv. A flag that matters (semgrep's
`--metrics=off` and `--disable-version-check`, bandit's `-f json`, detect-secrets'
`--all-files`, pip-audit's `--require-hashes`/`--no-deps`...) dropped from the code fails
here. The real tools run with these same command lines in the gates' own tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlgate import tools
from mlgate.config import load_config
from mlgate.gates.sast import (
    BANDIT_NO_EXCLUDE,
    SEMGREP_RULE_TIMEOUT,
    _superseded_tests,
)
from mlgate.policy import load_policy
from mlgate.repo import open_repo
from mlgate.resources import rule_pack_dir
from mlgate.runner import RunRequest, run_gates
from tests.conftest import choose_semgrep_cli, write
from tests.hostile.conftest import Hostile

Argv = list[str]


@contextmanager
def recorded() -> Iterator[list[Argv]]:
    seen: list[Argv] = []
    with tools.watching_commands(lambda argv: seen.append(list(argv))):
        yield seen


def _run(root: Path, gate: str, overrides: dict[str, dict[str, object]] | None = None) -> None:
    request = RunRequest((gate,), jobs=1, overrides=overrides or {}, cache=None)
    run_gates(open_repo(root), load_policy(root / "policy.yml"), load_config(root), request)


def _named(seen: Sequence[Argv], tool: str, fakes: Path) -> list[Argv]:
    """The command lines of `tool` (its executable shown by name), but its version probe
    (`TOOL --version`, cached per process: whether it shows depends on the tests before)."""
    found = [[tool, *argv[1:]] for argv in seen if argv[0] == str(fakes / tool)]
    return [argv for argv in found if argv != [tool, "--version"]]


def _repo(root: Path) -> Path:
    write(root, "policy.yml", "extends: default\n")
    # a call a rule-pack rule may match: else the literal prefilter rightly starts no semgrep
    write(root, "app.py", "import os\nos.system(cmd)\n")
    write(root, "requirements.txt", "pyyaml==5.3.1\n")
    return root


SEMGREP_FLAGS = [
    "--json",
    "--metrics=off",
    "--disable-version-check",
    "--quiet",
    "--jobs",
    str(max(1, (os.cpu_count() or 1) // 2)),
    "--timeout",
    str(SEMGREP_RULE_TIMEOUT),
]


def _semgrep_expected(*cli: str) -> Argv:
    return ["semgrep", *cli, *SEMGREP_FLAGS, "--config", str(rule_pack_dir()), "--", "app.py"]


@pytest.mark.parametrize(
    ("cli", "expected"),
    [("native", ["scan", "--experimental"]), ("classic", ["scan"])],
)
def test_sast_runs_bandit_and_semgrep_with_exact_flags(
    hostile: Hostile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: str,
    expected: list[str],
) -> None:
    choose_semgrep_cli(cli)
    root = _repo(tmp_path / "repo")
    with recorded() as seen:
        _run(root, "sast")
    superseded = sorted(set(_superseded_tests([rule_pack_dir()])) - {"B101"})
    skip = ",".join(["B101", *superseded])
    assert _named(seen, "bandit", hostile.fakes) == [
        ["bandit", "-f", "json", "-q", "-x", BANDIT_NO_EXCLUDE, "-s", skip, "--", "app.py"],
    ]
    assert _named(seen, "semgrep", hostile.fakes) == [_semgrep_expected(*expected)]


def test_secrets_runs_detect_secrets_over_all_files(hostile: Hostile, tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo")
    with recorded() as seen:
        _run(root, "secrets")
    assert _named(seen, "detect-secrets", hostile.fakes) == [
        ["detect-secrets", "scan", "--all-files", "--", "app.py", "policy.yml", "requirements.txt"]
    ]


def test_deps_runs_pip_audit_without_resolving_or_installing(
    hostile: Hostile, tmp_path: Path
) -> None:
    root = _repo(tmp_path / "repo")
    with recorded() as seen:
        _run(root, "deps", {"deps": {"vulnerability_service": "pypi"}})
    [argv] = _named(seen, "pip-audit", hostile.fakes)
    requirement = Path(argv[2])
    assert requirement.name == "requirements.txt" and requirement.parent.name.startswith(
        "mlgate-deps-"
    )  # a copy in mlgate's temp dir: the repository's file is never handed over as is
    assert argv[:2] + argv[3:] == [
        "pip-audit",
        "-r",
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "-s",
        "pypi",
    ]


def test_model_runs_the_marked_tests_with_the_repositorys_python(
    hostile: Hostile, tmp_path: Path
) -> None:
    root = _repo(tmp_path / "repo")
    write(
        root, "tests/test_m.py", "import pytest\n\n\n@pytest.mark.model\ndef test_m():\n    pass\n"
    )
    with recorded() as seen:
        _run(root, "model")
    [argv] = [a for a in seen if a[1:3] == ["-m", "pytest"]]
    junit = Path(argv[-1].removeprefix("--junitxml="))
    assert argv[-1].startswith("--junitxml=") and junit.parent.name.startswith("mlgate-pytest-")
    assert argv[1:-1] == [
        "-m",
        "pytest",
        "-m",
        "model",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "junit_family=xunit1",
    ]
    assert Path(argv[0]).name.startswith("python")
