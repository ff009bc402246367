"""Pinned scanner environments: install, verify, repair, refuse; faults with a fake index.

Most tests install a fake `bandit` wheel (built here, a few hundred bytes) from a local
directory under a lock written for it (MLGATE_TOOLS_LOCK), so they need no network. The
tests marked slow use the real lock and the real tools.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import select
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mlgate.toollock import PACKAGE_LOCK, current_target, load_lock, parse_compiled

from .conftest import EXAMPLES, run_cli, write

FAKE_VERSION = "9.9.9"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def fake_wheel(folder: Path, version: str = FAKE_VERSION, broken: bool = False) -> Path:
    """A minimal `bandit` wheel whose console script prints `bandit VERSION`."""
    info = f"bandit-{version}.dist-info"
    body = "" if broken else f"def main():\n    print('bandit {version}')\n"
    files = {
        "fakebandit/__init__.py": body.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: bandit\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\nbandit = fakebandit:main\n",
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bandit-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def fake_lock(path: Path, wheel: Path, sha256: str | None = None) -> Path:
    digest = sha256 or hashlib.sha256(wheel.read_bytes()).hexdigest()
    pin = f"bandit=={FAKE_VERSION}"
    target = current_target()
    assert target is not None, "these tests need a platform the lock supports"
    document = {
        "lock_version": 1,
        "tools": {
            "bandit": {
                "version": FAKE_VERSION,
                "packages": {pin: [f"sha256:{digest}"]},
                "targets": {target: [pin]},
            }
        },
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def fake_index(tmp_path: Path) -> dict[str, str]:
    """Environment for a fake `bandit` from a local wheel directory, in a fresh tools dir."""
    wheels = tmp_path / "wheels"
    wheel = fake_wheel(wheels)
    lock = fake_lock(tmp_path / "tools.lock", wheel)
    return {
        "MLGATE_TOOLS_DIR": str(tmp_path / "tools"),
        "MLGATE_TOOLS_LOCK": str(lock),
        "MLGATE_TOOLS_FIND_LINKS": str(wheels),
    }


def _env_dirs(tools: Path) -> list[Path]:
    return sorted(tools.glob("bandit-*"))


def test_install_creates_a_verified_env_and_path_prints_it(fake_index: dict[str, str]) -> None:
    done = run_cli(["tools", "install", "bandit"], env=fake_index)
    assert done.returncode == 0, done.stderr
    assert "installing bandit 9.9.9" in done.stderr and "installed" in done.stdout
    (env,) = _env_dirs(Path(fake_index["MLGATE_TOOLS_DIR"]))
    assert env.name.startswith(f"bandit-9.9.9-py{sys.version_info.major}.{sys.version_info.minor}-")
    marker = json.loads((env / "mlgate-env.json").read_text())
    assert marker["version"] == FAKE_VERSION and marker["lock_hash"]
    path = run_cli(["tools", "path", "bandit"], env=fake_index)
    assert path.returncode == 0 and path.stdout.strip() == str(env / "bin" / "bandit")
    ran = subprocess.run([path.stdout.strip()], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "bandit 9.9.9"  # the script runs after the rename
    again = run_cli(["tools", "install", "bandit"], env=fake_index)  # idempotent
    assert again.returncode == 0 and "installing" not in again.stderr and "intact" in again.stdout
    assert not [p for p in env.parent.iterdir() if p.name.startswith((".build-", ".trash-"))]


def test_pip_fallback_without_uv(fake_index: dict[str, str]) -> None:
    env = {**fake_index, "MLGATE_TOOLS_INSTALLER": "pip"}
    done = run_cli(["tools", "install", "bandit"], env=env)
    assert done.returncode == 0, done.stderr
    (folder,) = _env_dirs(Path(fake_index["MLGATE_TOOLS_DIR"]))
    assert json.loads((folder / "mlgate-env.json").read_text())["installer"] == "pip"
    assert "intact" in run_cli(["tools", "install", "--check", "bandit"], env=env).stdout


def test_env_restored_at_another_path_is_repaired_in_place(fake_index: dict[str, str]) -> None:
    """A CI cache restores the tools dir where the project is now (GitLab: another build
    dir): the scripts still name the old path, which is gone. `tools install` repoints them
    without downloading (offline works), and leaves other hard-linked copies alone."""
    assert run_cli(["tools", "install", "bandit"], env=fake_index).returncode == 0
    old = Path(fake_index["MLGATE_TOOLS_DIR"])
    (built,) = _env_dirs(old)
    saved = old.parent / "cache-entry"  # what a cache keeps: hard links of the files
    subprocess.run(["cp", "-al", str(old), str(saved)], check=True)
    new = old.parent / "elsewhere" / "tools"
    new.parent.mkdir()
    old.rename(new)
    env = {**fake_index, "MLGATE_TOOLS_DIR": str(new), "MLGATE_OFFLINE": "1"}
    check = run_cli(["tools", "install", "--check", "bandit"], env=env)
    assert check.returncode == 3 and f"moved: its scripts name {built}" in check.stdout
    repair = run_cli(["tools", "install", "bandit"], env=env)
    assert repair.returncode == 0, repair.stderr
    assert "repaired in place" in repair.stderr and "installing" not in repair.stderr
    (moved,) = _env_dirs(new)
    ran = subprocess.run(
        [str(moved / "bin" / "bandit")], capture_output=True, text=True, check=False
    )
    assert ran.stdout.strip() == "bandit 9.9.9", ran.stderr
    assert json.loads((moved / "mlgate-env.json").read_text())["path"] == str(moved)
    kept = (saved / built.name / "bin" / "bandit").read_bytes()
    assert str(built).encode() in kept and str(moved).encode() not in kept
    again = run_cli(["tools", "install", "--check", "bandit"], env=env)
    assert again.returncode == 0 and "intact" in again.stdout


@pytest.mark.parametrize("damage", ["marker", "module", "script"])
def test_corrupted_env_is_detected_and_repaired(fake_index: dict[str, str], damage: str) -> None:
    assert run_cli(["tools", "install", "bandit"], env=fake_index).returncode == 0
    (env,) = _env_dirs(Path(fake_index["MLGATE_TOOLS_DIR"]))
    if damage == "marker":
        (env / "mlgate-env.json").write_text("{}")
    elif damage == "module":
        (module,) = env.glob("lib/python*/site-packages/fakebandit/__init__.py")
        module.write_text("raise SystemExit(7)\n")
    else:
        (env / "bin" / "bandit").unlink()
    check = run_cli(["tools", "install", "--check", "bandit"], env=fake_index)
    assert check.returncode == 3 and "corrupted" in check.stdout, check.stdout
    doctor = run_cli(["doctor"], env=fake_index)
    assert "CORRUPTED" in doctor.stdout and doctor.returncode == 3
    repair = run_cli(["tools", "install", "bandit"], env=fake_index)
    assert repair.returncode == 0, repair.stderr
    assert "installed" in repair.stdout
    after = run_cli(["tools", "install", "--check", "bandit"], env=fake_index)
    assert after.returncode == 0 and "intact" in after.stdout


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_hash_mismatch_is_refused_and_named(tmp_path: Path, installer: str) -> None:
    wheels = tmp_path / "wheels"
    wheel = fake_wheel(wheels)
    env = {
        "MLGATE_TOOLS_DIR": str(tmp_path / "tools"),
        "MLGATE_TOOLS_LOCK": str(fake_lock(tmp_path / "tools.lock", wheel, sha256="0" * 64)),
        "MLGATE_TOOLS_FIND_LINKS": str(wheels),
        "MLGATE_TOOLS_INSTALLER": installer,
    }
    done = run_cli(["tools", "install", "bandit"], env=env)
    assert done.returncode == 3
    assert "bandit 9.9.9 could not be installed: hash mismatch" in done.stderr, done.stderr
    assert not _env_dirs(tmp_path / "tools")  # nothing half-built is left


def test_a_second_install_waits_for_the_first(fake_index: dict[str, str]) -> None:
    """Hold the environment's install lock: a second mlgate waits, then finds or builds it."""
    tools = Path(fake_index["MLGATE_TOOLS_DIR"])
    probe = run_cli(["tools", "install", "--check", "bandit"], env=fake_index)
    env_name = probe.stdout.split()[-1].split("/")[-3]  # .../<env>/bin/bandit
    (tools / ".locks").mkdir(parents=True)
    with (tools / ".locks" / f"{env_name}.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = subprocess.Popen(
            [sys.executable, "-m", "mlgate", "tools", "install", "bandit"],
            env={**os.environ, **fake_index},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stderr is not None
        ready, _, _ = select.select([waiting.stderr], [], [], 120)
        first = waiting.stderr.readline() if ready else ""
        assert "waiting for another mlgate that is installing bandit" in first
        time.sleep(1)
        assert waiting.poll() is None  # still waiting for the lock
        assert not _env_dirs(tools)
        fcntl.flock(held, fcntl.LOCK_UN)
    _, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "mlgate: installing bandit" in err  # it built the environment after the wait
    assert [p.name for p in _env_dirs(tools)] == [env_name]


def test_two_concurrent_first_runs_build_one_env(fake_index: dict[str, str]) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlgate", "tools", "install", "bandit"],
            env={**os.environ, **fake_index},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    installs = sum(err.count("mlgate: installing bandit") for _, err in results)
    assert installs == 1, results  # the other one waited and found it built
    tools = Path(fake_index["MLGATE_TOOLS_DIR"])
    assert len(_env_dirs(tools)) == 1
    assert not [p for p in tools.iterdir() if p.name.startswith((".build-", ".trash-"))]


def test_unwritable_tools_dir_is_a_clear_error(tmp_path: Path, fake_index: dict[str, str]) -> None:
    if os.geteuid() == 0:  # root writes anywhere: a path below a regular file cannot be made
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("")
        tools = blocker / "tools"
    else:
        readonly = tmp_path / "ro"
        readonly.mkdir()
        readonly.chmod(0o555)
        tools = readonly / "tools"
    env = {**fake_index, "MLGATE_TOOLS_DIR": str(tools)}
    done = run_cli(["tools", "install", "bandit"], env=env)
    assert done.returncode == 3
    assert f"cannot write the tool directory {tools}" in done.stderr
    assert "MLGATE_TOOLS_DIR" in done.stderr


def test_unwritable_result_cache_is_named_and_the_run_still_decides(tmp_path: Path) -> None:
    """The result cache (MLGATE_CACHE_DIR) only makes runs faster: one that cannot be
    written is a warning naming the directory and the variable, not an error."""
    blocker = tmp_path / "not-a-dir"  # root writes anywhere: a path below a regular file
    blocker.write_text("")
    repo = tmp_path / "repo"
    write(repo, "app.py", "def add(a, b):\n    return a + b\n")
    done = run_cli(["run", str(repo), "secrets"], env={"MLGATE_CACHE_DIR": str(blocker / "cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"cannot write the result cache {blocker / 'cache'}" in done.stderr
    assert "MLGATE_CACHE_DIR" in done.stderr and done.stderr.count("result cache") == 1


def test_offline_missing_tool_is_a_gate_error(tmp_path: Path, fake_index: dict[str, str]) -> None:
    write(tmp_path, "repo/a.py", "import pickle\n")
    env = {**fake_index, "MLGATE_OFFLINE": "1"}
    done = run_cli(
        ["run", str(tmp_path / "repo"), "sast", "--env", "production", "--format", "json"], env=env
    )
    assert done.returncode == 3, done.stderr
    errors = " ".join(json.loads(done.stdout)["gates"][0]["errors"])
    assert "bandit 9.9.9 is not installed" in errors and "--offline" in errors
    assert not _env_dirs(Path(fake_index["MLGATE_TOOLS_DIR"]))


def test_unreachable_index_with_nothing_cached_is_a_gate_error(tmp_path: Path) -> None:
    """The real lock, an empty tools dir and an index that refuses connections."""
    # a call a rule-pack rule may match: else the literal prefilter rightly starts no semgrep
    write(tmp_path, "repo/a.py", "import pickle\npickle.loads(b)\n")
    env = {
        "MLGATE_TOOLS_DIR": str(tmp_path / "tools"),
        "MLGATE_TOOLS_INDEX_URL": "http://127.0.0.1:9/simple",
        "UV_HTTP_RETRIES": "0",
        "PIP_RETRIES": "0",
    }
    done = run_cli(
        ["run", str(tmp_path / "repo"), "sast", "--env", "production", "--format", "json"], env=env
    )
    assert done.returncode == 3, done.stderr
    errors = " ".join(json.loads(done.stdout)["gates"][0]["errors"])
    for tool in ("bandit", "semgrep"):
        assert f"{tool} " in errors and "could not be installed" in errors, errors
    assert "the package index is unreachable" in errors, errors
    assert "installing bandit" in done.stderr  # the progress line on stderr


def test_system_mode_uses_path_and_records_unpinned(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bandit"
    fake.write_text("#!/bin/sh\necho 'bandit 0.0.1'\nexit 0\n")
    fake.chmod(0o755)
    write(tmp_path, "repo/.mlgate.yml", "tools: {bandit: system}\n")
    write(tmp_path, "repo/a.py", "x = 1\n")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "MLGATE_TOOLS_DIR": str(tmp_path / "tools"),
        "MLGATE_OFFLINE": "1",
    }
    done = run_cli(["run", str(tmp_path / "repo"), "sast", "--format", "json"], env=env)
    report = json.loads(done.stdout)
    assert report["tools"]["bandit"] == {"version": "0.0.1", "source": "system", "unpinned": True}
    assert report["tools"]["semgrep"]["source"] == "pinned"  # only bandit was made `system`
    operator = run_cli(
        ["run", str(tmp_path / "repo"), "sast", "--format", "json"],
        env={**env, "MLGATE_TOOLS": "system"},
    )
    assert json.loads(operator.stdout)["tools"]["semgrep"]["source"] == "system"


def test_repo_pin_without_hashes_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path, ".mlgate.yml", 'tools:\n  semgrep: "1.180.0"\n')
    write(tmp_path, "a.py", "x = 1\n")
    done = run_cli(["run", str(tmp_path), "sast"])
    assert done.returncode == 2
    assert "tools: semgrep: pinned to 1.180.0" in done.stderr and "mlgate tools lock" in done.stderr
    write(tmp_path, ".mlgate.yml", "tools:\n  semgrep: latest\n")
    bad = run_cli(["run", str(tmp_path), "sast"])
    assert bad.returncode == 2 and ".mlgate.yml:2" in bad.stderr and "tools.semgrep" in bad.stderr


def test_repo_pin_uses_the_repo_lock(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheel = fake_wheel(wheels)
    repo = tmp_path / "repo"
    write(repo, ".mlgate.yml", f'tools:\n  bandit: "{FAKE_VERSION}"\n')
    (repo / ".mlgate").mkdir()
    fake_lock(repo / ".mlgate" / "tools.lock", wheel)
    env = {"MLGATE_TOOLS_DIR": str(tmp_path / "tools"), "MLGATE_TOOLS_FIND_LINKS": str(wheels)}
    done = run_cli(["tools", "install", "bandit", "--path", str(repo)], env=env)
    assert done.returncode == 0, done.stderr
    assert "repo-pinned" in done.stdout and "9.9.9" in done.stdout
    operator = run_cli(
        ["tools", "install", "--check", "bandit", "--path", str(repo)],
        env={**env, "MLGATE_TOOLS": "pinned"},
    )
    assert "repo-pinned" not in operator.stdout  # the operator's MLGATE_TOOLS wins


def test_lock_parsing_rejects_missing_hashes(tmp_path: Path) -> None:
    from mlgate.errors import ConfigError

    bad = tmp_path / "tools.lock"
    bad.write_text(
        json.dumps(
            {
                "lock_version": 1,
                "tools": {
                    "bandit": {
                        "version": "1.0",
                        "packages": {"bandit==1.0": []},
                        "targets": {"x/3.12": ["bandit==1.0"]},
                    }
                },
            }
        )
    )
    with pytest.raises(ConfigError, match="needs a sha256 hash"):
        load_lock(bad)


def test_parse_compiled_reads_uv_output() -> None:
    text = (
        "click==8.3.1 \\\n    --hash=sha256:"
        + "a" * 64
        + " \\\n    --hash=sha256:"
        + "b" * 64
        + "\n"
        "Wcmatch==10.0 \\\n    --hash=sha256:" + "c" * 64 + "\n"
    )
    assert parse_compiled(text) == [
        ("click==8.3.1", ("sha256:" + "a" * 64, "sha256:" + "b" * 64)),
        ("wcmatch==10.0", ("sha256:" + "c" * 64,)),
    ]


def test_shipped_lock_pins_every_tool_with_hashes_for_this_platform() -> None:
    lock = load_lock(PACKAGE_LOCK)
    assert set(lock.tools) == {"bandit", "semgrep", "pip-audit", "detect-secrets"}
    target = current_target()
    for tool in lock.tools.values():
        lines = tool.requirements(target or "")
        assert lines, f"{tool.name}: no requirements for {target}"
        assert all("--hash=sha256:" in line for line in lines)
        for platform in ("x86_64-manylinux_2_34", "aarch64-apple-darwin"):
            assert any(t.startswith(platform) for t in tool.targets), (tool.name, platform)


# --- the real tools ---------------------------------------------------------------------------


def _pinned_versions() -> dict[str, str]:
    return {name: tool.version for name, tool in load_lock(PACKAGE_LOCK).tools.items()}


@pytest.mark.slow
def test_the_suite_runs_the_pinned_versions(insecure_run: tuple[int, dict[str, Any], str]) -> None:
    """The versions the suite's real runs used are the ones tools.lock pins, from their envs."""
    _, report, _ = insecure_run
    pinned = _pinned_versions()
    used = {t: v for g in report["gates"] for t, v in g["tools"].items() if t in pinned}
    assert used == {t: pinned[t] for t in ("bandit", "semgrep", "detect-secrets")}
    for tool in used:
        assert report["tools"][tool] == {
            "version": pinned[tool],
            "source": "pinned",
            "lock_hash": report["tools"][tool]["lock_hash"],
        }
    tools_dir = Path(os.environ["MLGATE_TOOLS_DIR"])
    for tool in used:
        exe = Path(run_cli(["tools", "path", tool]).stdout.strip())
        assert exe.is_relative_to(tools_dir), exe
        python = exe.parent / "python"
        probe = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
        installed = subprocess.run(
            [str(python), "-c", probe, tool], capture_output=True, text=True, check=True
        )
        assert installed.stdout.strip() == pinned[tool]


@pytest.mark.slow
def test_verbose_run_executes_the_pinned_semgrep(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "import pickle\npickle.loads(b'')\n")
    done = run_cli(["run", str(tmp_path), "sast", "--verbose", "--format", "json"])
    pinned = _pinned_versions()["semgrep"]
    tools_dir = os.environ["MLGATE_TOOLS_DIR"]
    assert f"$ {tools_dir}/semgrep-{pinned}-py" in done.stderr, done.stderr
    assert json.loads(done.stdout)["gates"][0]["status"] == "fail"


@pytest.mark.slow
def test_insecure_example_blocks_with_pinned_tools() -> None:
    done = run_cli(["run", str(EXAMPLES / "insecure-ml"), "sast", "secrets"])
    assert done.returncode == 1, done.stderr


def test_merge_refuses_reports_of_different_tool_versions(tmp_path: Path) -> None:
    write(tmp_path, "repo/a.py", "x = 1\n")
    out = tmp_path / "out"
    done = run_cli(
        ["run", str(tmp_path / "repo"), "secrets", "--format", "json", "--output", str(out)]
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "mlgate.json").read_text())
    assert report["tools"]["detect-secrets"]["source"] == "pinned"
    same = tmp_path / "same.json"
    same.write_text(json.dumps(report))
    accepted = run_cli(["merge", str(out / "mlgate.json"), str(same)])
    assert accepted.returncode == 3 and "refused" not in accepted.stderr  # merged, then decided
    assert "secrets" in accepted.stdout and "different" not in accepted.stderr
    report["tools"]["detect-secrets"]["version"] = "1.4.0"
    report["gates"][0]["tools"]["detect-secrets"] = "1.4.0"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(report))
    refused = run_cli(["merge", str(out / "mlgate.json"), str(other)])
    assert refused.returncode == 2
    assert "different detect-secrets version" in refused.stderr, refused.stderr
    report["tools"]["detect-secrets"] = {"version": "1.5.0", "source": "system", "unpinned": True}
    report["gates"][0]["tools"]["detect-secrets"] = "1.5.0"
    other.write_text(json.dumps(report))
    refused = run_cli(["merge", str(out / "mlgate.json"), str(other)])
    assert refused.returncode == 2 and "different detect-secrets source" in refused.stderr


def test_version_of_a_system_tool_never_phones_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`semgrep --version` checks for a newer release unless told not to (~95 s offline)."""
    from mlgate.tools import cli_version

    fake = tmp_path / "fake-semgrep"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$SEMGREP_ENABLE_VERSION_CHECK" = 0 ] || { echo "checking for updates"; exit 0; }\n'
        "echo 1.185.0\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.delenv("SEMGREP_ENABLE_VERSION_CHECK", raising=False)
    assert cli_version(str(fake)) == "1.185.0"
