from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlgate import __version__
from mlgate.tools import run_tool

from ..conftest import git_init, run_cli, write


def test_version() -> None:
    done = run_cli(["--version"])
    assert done.returncode == 0 and __version__ in done.stdout


def test_help_documents_exit_codes() -> None:
    done = run_cli(["run", "--help"])
    assert done.returncode == 0
    for code in ("0  every gate", "1  the policy blocked", "2  usage", "3  a gate could not run"):
        assert code in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "/nonexistent/repo"], "/nonexistent/repo: no such directory"),
        (["run", ".", "nosuchgate"], "unknown gate 'nosuchgate'"),
        (["run", ".", "--env", "prod"], "unknown environment 'prod'"),
        (["run", ".", "--format", "xml"], "Invalid value for '--format'"),
        (["run", ".", "--jobs", "0"], "Invalid value for '--jobs'"),
        (["run", ".", "--format", "json", "--format", "text"], "need --output"),
        (["policy", "check", "--policy", "/nonexistent.yml"], "file not found"),
    ],
)
def test_usage_errors_exit_2_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_cli(args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_empty_directory_is_not_a_pass_by_accident(tmp_path: Path) -> None:
    done = run_cli(["run", str(tmp_path), "--format", "json"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {g["status"] for g in report["gates"]} == {"skipped"}
    assert any("not a git repository" in n for n in report["notes"])
    assert report["git"] is False and report["commit"] is None


def test_config_file_errors_name_file_line_key(tmp_path: Path) -> None:
    write(tmp_path, ".mlgate.yml", "exclude: [a]\nsast:\n  bandit_skp: [B101]\n")
    done = run_cli(["run", str(tmp_path)])
    assert done.returncode == 2
    assert ".mlgate.yml:3" in done.stderr and "did you mean 'bandit_skip'" in done.stderr


def test_config_exclude_and_git_ignore(tmp_path: Path) -> None:
    write(tmp_path, "keep.py", "import pickle\npickle.loads(data)\n")
    write(tmp_path, "vendor/skip.py", "import pickle\npickle.loads(data)\n")
    write(tmp_path, "ignored.py", "import pickle\npickle.loads(data)\n")
    write(tmp_path, ".gitignore", "ignored.py\n")
    write(tmp_path, ".mlgate.yml", "exclude: ['vendor/*']\n")
    git_init(tmp_path)
    done = run_cli(["run", str(tmp_path), "sast", "--format", "json"])
    report = json.loads(done.stdout)
    paths = {f["path"] for f in report["findings"]}
    assert paths == {"keep.py"}
    assert report["commit"] and len(report["commit"]) == 40
    assert done.returncode == 1


def test_symlink_loop_and_bad_files_do_not_crash(tmp_path: Path) -> None:
    write(tmp_path, "ok.py", "x = 1\n")
    write(tmp_path, "broken.py", "def f(:\n    pass\n")
    (tmp_path / "latin1.py").write_bytes(b"name = '\xe9t\xe9'\nimport pickle\npickle.loads(name)\n")
    os.symlink("loop_b", tmp_path / "loop_a")
    os.symlink("loop_a", tmp_path / "loop_b")
    os.symlink(str(tmp_path), tmp_path / "self_dir")
    done = run_cli(["run", str(tmp_path), "sast", "--format", "json"])
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    rules = {(f["path"], f["rule_id"]) for f in report["findings"]}
    assert ("broken.py", "parse-error") in rules
    assert any(p == "latin1.py" for p, _ in rules)
    assert any("loop_a" in n for n in report["notes"])
    assert report["gates"][0]["status"] in {"pass", "fail"}


def test_missing_rule_file_is_a_configuration_error(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    write(
        tmp_path,
        "policy.yml",
        "extends: default\ngates:\n  sast:\n    options:\n      semgrep_rules: [missing.yml]\n",
    )
    done = run_cli(["run", str(tmp_path), "sast", "--policy", str(tmp_path / "policy.yml")])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "missing.yml" in done.stderr


def test_gate_that_cannot_run_is_an_error_never_a_pass(tmp_path: Path) -> None:
    """A rule file that is valid YAML but whose pattern semgrep cannot parse: semgrep
    fails, so the gate is an error (exit 3), and `dev` turns that into a warning."""
    write(tmp_path, "a.py", "x = 1\n")
    write(
        tmp_path,
        "rules/broken.yml",
        "rules:\n  - id: broken\n    pattern: 'def ((('\n    message: m\n"
        "    languages: [python]\n    severity: ERROR\n",
    )
    write(
        tmp_path,
        "policy.yml",
        "extends: default\ngates:\n  sast:\n    options:\n      semgrep_rules: [rules/broken.yml]\n",
    )
    done = run_cli(
        ["run", str(tmp_path), "sast", "--policy", str(tmp_path / "policy.yml"), "--format", "json"]
    )
    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["gates"][0]["status"] == "error"
    assert report["gates"][0]["errors"], report["gates"][0]
    dev = run_cli(
        ["run", str(tmp_path), "sast", "--policy", str(tmp_path / "policy.yml"), "--env", "dev"]
    )
    assert dev.returncode == 0 and "could not run" in dev.stdout


def test_timeout_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    write(tmp_path, "policy.yml", "gates:\n  sast:\n    timeout: 0.01\n")
    done = run_cli(
        ["run", str(tmp_path), "sast", "--policy", str(tmp_path / "policy.yml"), "--format", "json"]
    )
    report = json.loads(done.stdout)
    assert done.returncode == 3
    assert "timed out" in " ".join(report["gates"][0]["errors"])


def test_run_tool_reports_missing_binary() -> None:
    done = run_tool(["definitely-not-a-tool-xyz", "--version"], timeout=5)
    assert not done.ok and "command not found" in (done.problem or "")
    assert done.returncode is None


def test_doctor_lists_tools() -> None:
    done = run_cli(["doctor"])
    assert "bandit" in done.stdout and "semgrep" in done.stdout and "pip-audit" in done.stdout
    assert "network" in done.stdout
    assert done.returncode in (0, 3)


def test_output_dir_writes_fixed_names_and_text_to_stdout(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x = 1\n")
    out = tmp_path / "reports"
    done = run_cli(["run", str(tmp_path), "sast", "--format", "json", "--output", str(out)])
    assert done.returncode == 0, done.stderr
    assert "Decision: PASS" in done.stdout
    report = json.loads((out / "mlgate.json").read_text())
    assert report["decision"]["passed"] is True


def test_readme_exit_codes_match_help() -> None:
    """README's exit-code table and `--help` say the same thing (they must not drift)."""
    from mlgate.cli import EXIT_CODES_HELP

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code, phrase in (
        ("0", "every gate the policy requires passed"),
        ("1", "the policy blocked: at least one violation"),
        ("2", "usage or configuration error"),
        ("3", "a gate could not run"),
    ):
        assert f"| {code} | {phrase}" in readme
        assert f"{code}  {phrase}" in EXIT_CODES_HELP
