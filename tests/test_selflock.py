"""Hash-pinned installs of mlgate in the generated pipelines (`mlgate tools lock --mlgate`).

The resolver is replaced by a fake (no network): what is checked is what mlgate writes and
how `generate` installs from it. The pipeline execution tests (test_pipeline_runs.py) run
the real lock and the real `pip install --require-hashes` in the jobs.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from mlgate.errors import ConfigError
from mlgate.generate.selflock import (
    dependency_lines,
    extras_sets,
    install_command,
    lock_path,
    lock_text,
)
from mlgate.toollock import ToolError

from .conftest import git_init, run_cli, write

HASH = "sha256:" + "a" * 64


def fake_compile(
    requirements: str, python: str, platform: str
) -> list[tuple[str, tuple[str, ...]]]:
    """Pins every requirement line at 1.0 with one hash; `mlgate==X` is not on the index."""
    if requirements.startswith("mlgate=="):
        raise ToolError("No solution found: mlgate was not found in the package registry")
    names = [line.split("[")[0].split(">")[0].split("=")[0] for line in requirements.splitlines()]
    return [(f"{name.lower()}==1.0", (HASH,)) for name in names if name]


def test_dependency_lines_follow_extras_and_markers() -> None:
    requires = [
        "click>=8.1",
        "tomli>=2; python_version < '3.11'",
        "pandas>=2.1; extra == 'data'",
        "sigstore>=3.6; extra == 'provenance'",
        "mlgate[provenance]; extra == 'dev'",
    ]
    assert dependency_lines(requires, "3.12", "") == ["click>=8.1"]
    assert dependency_lines(requires, "3.10", "") == ["click>=8.1", "tomli>=2"]
    assert dependency_lines(requires, "3.12", "data") == ["click>=8.1", "pandas>=2.1"]
    assert "data" in extras_sets() and extras_sets()[0] == ""


def test_lock_of_a_wheel_hashes_it_and_generate_installs_with_require_hashes(
    wheel: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(wheel, root / wheel.name)
    text = lock_text(root, wheel.name, "3.12", "data", fake_compile, "0.1.0")
    lines = text.splitlines()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert lines[-1] == f"{wheel.name} --hash=sha256:{digest}"
    assert f"pandas==1.0 --hash={HASH}" in lines and f"click==1.0 --hash={HASH}" in lines
    assert "# mlgate-lock source=" + wheel.name + " python=3.12" in text
    (root / lock_path("data")).parent.mkdir()
    (root / lock_path("data")).write_text(text)
    assert install_command(root, wheel.name, "3.12", "data") == (
        "python -m pip install --require-hashes --no-deps -r .mlgate/mlgate-install-data.txt"
    )
    # no file for these extras: the plain install, not hash-checked
    assert install_command(root, wheel.name, "3.12", "") == f"python -m pip install {wheel.name}"
    with pytest.raises(ConfigError, match=r"locked for source=.* python=3\.12.*not .*python=3\.11"):
        install_command(root, wheel.name, "3.11", "data")


def test_a_release_not_on_the_index_cannot_be_hashed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mlgate==0\.1\.0 is not on the package index"):
        lock_text(tmp_path, "mlgate==0.1.0", "3.12", "", fake_compile, "0.1.0")
    with pytest.raises(ConfigError, match=r"this is mlgate 0\.1\.0"):
        lock_text(tmp_path, "mlgate==0.0.9", "3.12", "", fake_compile, "0.1.0")
    with pytest.raises(ConfigError, match="no such wheel file"):
        lock_text(tmp_path, "dist/mlgate-0.1.0-py3-none-any.whl", "3.12", "", fake_compile, "0.1.0")


def test_a_commit_hashes_the_dependencies_and_installs_mlgate_without_deps(
    tmp_path: Path,
) -> None:
    source = "git+https://example.org/mlgate.git@" + "b" * 40
    text = lock_text(tmp_path, source, "3.12", "", fake_compile, "0.1.0")
    assert "mlgate" not in "".join(line for line in text.splitlines() if not line.startswith("#"))
    (tmp_path / lock_path("")).parent.mkdir()
    (tmp_path / lock_path("")).write_text(text)
    assert install_command(tmp_path, source, "3.12", "") == (
        "python -m pip install --require-hashes --no-deps -r .mlgate/mlgate-install.txt"
        f" && python -m pip install --no-deps 'mlgate @ {source}'"
    )


def test_generated_jobs_install_from_the_lock(tmp_path: Path, wheel: Path) -> None:
    root = tmp_path / "repo"
    write(root, "app.py", "print('hi')\n")
    write(root, ".mlgate.yml", f'python: "3.12"\npipeline:\n  mlgate_install: "{wheel.name}"\n')
    shutil.copy(wheel, root / wheel.name)
    git_init(root)
    for extras in extras_sets():
        text = lock_text(root, wheel.name, "3.12", extras, fake_compile, "0.1.0")
        (root / lock_path(extras)).parent.mkdir(exist_ok=True)
        (root / lock_path(extras)).write_text(text)
    done = run_cli(["generate", str(root), "--ci", "github", "--stdout"])
    assert done.returncode == 0, done.stderr
    flow = yaml.safe_load(done.stdout)
    installs = {
        s["run"]
        for job in flow["jobs"].values()
        for s in job.get("steps", [])
        if "Install mlgate" in s.get("name", "")
    }
    assert installs == {
        "python -m pip install --require-hashes --no-deps -r .mlgate/mlgate-install.txt"
    }
    (root / lock_path("")).write_text(
        (root / lock_path("")).read_text().replace("python=3.12", "python=3.13")
    )
    stale = run_cli(["generate", str(root), "--ci", "gitlab", "--stdout"])
    assert stale.returncode == 2 and "mlgate-install.txt: locked for" in stale.stderr
